"""The whole pipeline on a GPU machine: 75k arXiv texts, embedded there (accelerator: cuda).

    python bench/gpu_end_to_end.py TEXTS0.xz [TEXTS1.xz ...] --out SUMMARY.json

The texts are the ones bench/gpu_embed.py embeds (one `paper_text` per line); they are written
as a JSONL of abstracts, which the pipeline embeds to the same vectors (a paper without a title
is embedded from its abstract text alone). Runs the pipeline twice: cold (embeds every paper
on the GPU) and again from the embedding cache; writes per-stage seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import lzma
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("texts", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--work", default="/tmp/taxonomy-gpu")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "arxiv.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for path in args.texts:
            for line in lzma.decompress(Path(path).read_bytes()).decode("utf-8").split("\n"):
                handle.write(json.dumps({"abstract": line}) + "\n")
    import torch

    from taxonomy.pipeline import run

    summary = {"gpu": torch.cuda.get_device_name(0), "runs": []}
    for name in ("cold (embeds on the GPU)", "from cached embeddings"):
        start = time.perf_counter()
        result = run(
            None,
            out=work / "out",
            **{
                "input.paths": [str(corpus)],
                "cache_dir": str(work / "cache"),
                "compute.accelerator": "cuda",
            },
        )
        summary["runs"].append(
            {
                "run": name,
                "papers": len(result.corpus),
                "topics": len(result.topics),
                "newly_embedded": result.newly_embedded,
                "timings": {k: round(v, 2) for k, v in result.timings.items()},
                "wall_s": round(time.perf_counter() - start, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "html_mb": round((work / "out/map.html").stat().st_size / 2**20, 1),
            }
        )
        print(json.dumps(summary["runs"][-1]), flush=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
