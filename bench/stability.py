"""Does the taxonomy hold still? Measures on the seeds (issue: the taxonomy holds still).

    PYTHONPATH=. .venv/bin/python bench/stability.py [--excludes 20] [--out docs/stability.json]

1. Exclusions: fit the seeds, then for N different papers run again with only that paper
   excluded (curation file); count the topics whose members changed beyond losing it, and the
   other papers that kept topic, theme and map position exactly.
2. Hold-out: fit on 90 % of the seeds (every 10th paper held out), then run with all: the share
   of each earlier topic's members it keeps, and how well the held-out papers' topics agree
   (ARI) with a full refit's topics for them, beside `taxonomy assign` doing the same.
3. A new subject: add 30 arXiv papers of a category the seeds lack; does a proposed new topic
   hold >= 80 % of them, and does changes.md report it?
Every run is a real `taxonomy run` (update mode) on the cached MiniLM embeddings of the seeds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import adjusted_rand_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from taxonomy.assign import assign  # noqa: E402
from taxonomy.pipeline import run  # noqa: E402

SHARED = REPO.parent / "shared"
ARXIV = SHARED / "data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"


def config(folder: Path, paths: list[Path], curation: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cur = folder / "curation.yaml"
    cur.write_text(yaml.safe_dump(curation or {}))
    cfg = {"input": {"paths": [str(p) for p in paths]}, "cache_dir": str(REPO / ".cache")}
    cfg["curation"] = str(cur)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def docs(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False).set_index("id")


def exclusions(work: Path, n: int) -> dict:
    base = work / "base"
    run(config(work / "cfg0", [REPO / "data/seeds"]), out=base)
    before = docs(base)
    ids = [i for i in before.index if before.loc[i, "topic_id"]][:: max(1, len(before) // n)][:n]
    rows = []
    for pid in ids:
        out = work / "ex"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(base, out)
        start = time.perf_counter()
        run(config(work / "cfg1", [REPO / "data/seeds"], {"exclude": {"papers": [pid]}}), out=out)
        seconds = time.perf_counter() - start
        after = docs(out)
        others = before.drop(index=pid)
        same = (
            (
                after.loc[others.index, ["topic_id", "theme_id", "x", "y"]]
                == others[["topic_id", "theme_id", "x", "y"]]
            )
            .all(axis=1)
            .sum()
        )
        holder = before.loc[pid, "topic_id"]
        changed = {
            t
            for t in set(others["topic_id"]) | set(after["topic_id"])
            if t
            and t != holder
            and set(others.index[others["topic_id"] == t])
            != set(after.index[after["topic_id"] == t])
        }
        rows.append(
            {
                "paper": pid,
                "kept": int(same),
                "of": len(others),
                "other_topics_changed": len(changed),
                "s": round(seconds, 1),
            }
        )
        print(rows[-1], flush=True)
    return {
        "runs": len(rows),
        "papers_kept_exactly": f"{sum(r['kept'] for r in rows)} / {sum(r['of'] for r in rows)}",
        "runs_with_other_topics_changed": sum(1 for r in rows if r["other_topics_changed"]),
        "seconds_per_update": round(float(np.mean([r["s"] for r in rows])), 1),
    }


def seed_rows() -> pd.DataFrame:
    from taxonomy.ingest import read_corpus

    corpus = read_corpus([REPO / "data/seeds"])
    return pd.DataFrame(
        {
            "title": [p.title or "" for p in corpus.papers],
            "abstract": [p.abstract for p in corpus.papers],
            "arxiv_id": [p.arxiv_id or "" for p in corpus.papers],
        }
    )


def holdout(work: Path) -> dict:
    frame = seed_rows()
    held = frame.index % 10 == 9
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame[~held].to_csv(data / "fit.csv", index=False)
    frame[held].to_csv(data / "held.csv", index=False)
    part, full, refit = work / "part", work / "full", work / "refit"
    run(config(work / "c90", [data / "fit.csv"]), out=part)
    shutil.copytree(part, full)
    shutil.copytree(part, work / "assigned")
    run(config(work / "c100", [data / "fit.csv", data / "held.csv"]), out=full)
    shutil.copytree(part, refit)  # --refit over the 90 % run: its ids are matched to that run's
    run(config(work / "c100", [data / "fit.csv", data / "held.csv"]), out=refit, refit=True)
    cols = {"title_column": "title", "abstract_column": "abstract", "id_column": "arxiv_id"}
    assign(
        [data / "held.csv"],
        work / "assigned",
        cache_dir=REPO / ".cache",
        columns=cols,
        map_html=False,
    )
    before, after, fresh = docs(part), docs(full), docs(refit)
    assigned = docs(work / "assigned")
    kept = []
    for topic in sorted(set(before["topic_id"]) - {""}):
        members = before.index[before["topic_id"] == topic]
        kept.append(float((after.loc[members, "topic_id"] == topic).mean()))
    new_ids = [i for i in after.index if i not in before.index]
    truth = fresh.loc[new_ids, "topic_id"]
    old_ids = list(before.index)
    return {
        "topics": len(kept),
        "min_share_of_members_kept": round(min(kept), 3),
        "topics_keeping_95pct": sum(k >= 0.95 for k in kept),
        "held_out": len(new_ids),
        "held_out_ari_update_vs_refit": round(
            adjusted_rand_score(truth, after.loc[new_ids, "topic_id"]), 3
        ),
        "held_out_ari_assign_vs_refit": round(
            adjusted_rand_score(truth, assigned.loc[new_ids, "topic_id"]), 3
        ),
        "held_out_same_id_update": same_id(after, fresh, new_ids),
        "held_out_same_id_assign": same_id(assigned, fresh, new_ids),
        "held_out_agreement_update": matched_agreement(after, fresh, old_ids, new_ids),
        "held_out_agreement_assign": matched_agreement(assigned, fresh, old_ids, new_ids),
    }


def same_id(placed: pd.DataFrame, refit: pd.DataFrame, new: list) -> str:
    """Held-out papers given a topic that have the same topic id as in the refit (whose ids
    were matched to the 90 % run): docs/CURATION.md's 'assign vs refit: same topic id'."""
    topics = placed.loc[new, "topic_id"]
    given = [i for i in new if topics[i] and topics[i] != "unassigned"]
    hits = sum(placed.loc[i, "topic_id"] == refit.loc[i, "topic_id"] for i in given)
    return f"{hits / max(len(given), 1):.3f} ({hits} of {len(given)})"


def matched_agreement(placed: pd.DataFrame, refit: pd.DataFrame, old: list, new: list) -> float:
    """Share of the new papers put in the topic that corresponds to their refit topic: each
    topic of `placed` corresponds to the refit topic sharing most of its earlier papers."""
    shared = pd.crosstab(placed.loc[old, "topic_id"], refit.loc[old, "topic_id"])
    match = shared.idxmax(axis=1).to_dict()
    hits = [match.get(placed.loc[i, "topic_id"]) == refit.loc[i, "topic_id"] for i in new]
    return round(float(np.mean(hits)), 3)


def new_subject(work: Path, category: str, n: int = 30) -> dict:
    rows = []
    with gzip.open(ARXIV, "rt") as handle:
        for line in handle:
            rec = json.loads(line)
            if rec.get("primary_category") == category:
                rows.append(
                    {"arxiv_id": rec["id"], "title": rec["title"], "abstract": rec["abstract"]}
                )
                if len(rows) == n:
                    break
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(data / "new.csv", index=False)
    out = work / "subject"
    run(config(work / "s0", [REPO / "data/seeds"]), out=out)
    result = run(config(work / "s1", [REPO / "data/seeds", data / "new.csv"]), out=out)
    after = docs(out)
    ids = [r["arxiv_id"] for r in rows]
    counts = after.loc[ids, "topic_id"].value_counts()
    top = counts.index[0]
    emerging = result.changes["run"].get("emerging", [])
    md = (out / "changes.md").read_text()
    return {
        "category": category,
        "added": n,
        "largest_share_in_one_topic": round(float(counts.iloc[0] / n), 3),
        "that_topic_is_new": top not in set(docs(work / "base")["topic_id"])
        if (work / "base").exists()
        else None,
        "topic_papers": int((after["topic_id"] == top).sum()),
        "emerging_topics": emerging,
        "reported_in_changes_md": "new topic proposed" in md,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--excludes", type=int, default=20)
    parser.add_argument("--category", default="cs.RO")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = {
            "exclusions": exclusions(work, args.excludes),
            "holdout": holdout(work),
            "new_subject": new_subject(work, args.category),
        }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
