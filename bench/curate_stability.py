"""Stable ids and `taxonomy assign` on the seeds: hold out every 10th paper, fit on the rest,
then (a) refit with all papers in the same output folder and (b) assign the held-out papers.

Reports how many topics keep their id, how often `assign` puts a held-out paper in the topic
the refit puts it in, and, as the ceiling set by the refit itself, how often the first-run
papers keep their topic id in the refit.

    PYTHONPATH=. .venv/bin/python bench/curate_stability.py [--work /tmp/curate-bench]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml
from sklearn.metrics import adjusted_rand_score

from taxonomy.assign import assign as assign_files
from taxonomy.curate.ids import read_state
from taxonomy.ingest import read_corpus
from taxonomy.pipeline import run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-bench"))
    parser.add_argument("--cache", type=Path, default=Path(".cache"))
    parser.add_argument("--every", type=int, default=10, help="hold out every n-th paper")
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = [
        {"title": p.title or "", "abstract": p.abstract, "arxiv_id": p.arxiv_id or ""}
        for p in read_corpus([Path("data/seeds")]).papers
    ]
    parts = {
        "base": [r for i, r in enumerate(rows) if i % args.every != 3],
        "held": [r for i, r in enumerate(rows) if i % args.every == 3],
    }
    for name, part in parts.items():
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))

    def config(inputs: list[str]) -> Path:
        path = work / f"config-{len(inputs)}.yaml"
        data = {"cache_dir": str(args.cache), "curation": None}
        data["input"] = {"paths": [str(work / f"{i}.jsonl") for i in inputs]}
        path.write_text(yaml.safe_dump(data))
        return path

    run(config(["base"]), out=work / "base")
    shutil.copytree(work / "base", work / "refit")
    shutil.copytree(work / "base", work / "assigned")
    run(config(["base", "held"]), out=work / "refit")
    columns = {"title_column": "title", "abstract_column": "abstract", "id_column": "arxiv_id"}
    placed = assign_files(
        [work / "held.jsonl"],
        work / "assigned",
        cache_dir=args.cache,
        columns=columns,
        map_html=False,
    )

    before, after = read_state(work / "base"), read_state(work / "refit")
    old_papers = {p for node in before.topics for p in node.members}
    barely, kept = 0, 0
    for node in before.topics:
        old = set(node.members)

        def share(n, old=old):
            return len(old & set(n.members)) / len(old | (set(n.members) & old_papers))

        best = max(after.topics, key=share)
        if share(best) >= 0.7:
            barely += 1
            kept += best.id == node.id
    same_ids = len({n.id for n in before.topics} & {n.id for n in after.topics})

    def table(name: str) -> pd.DataFrame:
        frame = pd.read_csv(work / name / "documents.csv", dtype=str, keep_default_na=False)
        return frame.set_index("id")

    base, refit = table("base"), table("refit")
    held_ids = [p.id for p in placed.papers]
    assigned = pd.Series(placed.topic_ids, index=held_ids)
    refit_held = refit.loc[held_ids, "topic_id"]
    ok = (assigned != "") & (refit_held != "")
    agree = float((assigned[ok] == refit_held[ok]).mean())
    ari = adjusted_rand_score(refit_held[ok], assigned[ok])
    both = base.index[(base["topic_id"] != "") & (refit.loc[base.index, "topic_id"] != "")]
    ceiling = float((base.loc[both, "topic_id"] == refit.loc[both, "topic_id"]).mean())
    print(f"papers: {len(base)} fitted, {len(held_ids)} held out")
    print(f"topics: {len(before.topics)} first run, {len(after.topics)} refit")
    print(f"barely-changed topics (Jaccard >= 0.7) keeping their id: {kept}/{barely}")
    print(f"first-run topic ids still in use after the refit: {same_ids}/{len(before.topics)}")
    print(f"assign floor: {placed.threshold:.3f}; unassigned: {placed.unassigned}/{len(held_ids)}")
    print(f"assign vs refit, same topic id: {agree:.3f} of {int(ok.sum())} placed; ARI {ari:.3f}")
    print(f"refit vs first run on the first-run papers, same topic id: {ceiling:.3f}")


if __name__ == "__main__":
    main()
