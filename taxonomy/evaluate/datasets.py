"""Labelled corpora for `make eval` and bench/quality.py, prepared from `../shared` at run time.

    python -m taxonomy.evaluate.datasets 20ng --shared ../shared --out .cache/eval
    python -m taxonomy.evaluate.datasets arxiv --sample 20000 --shared ../shared --out .cache/eval

Each writes a corpus (JSONL with `abstract`, and `title`/`arxiv_id` where known) that
`taxonomy run` reads, and a labels file (JSONL keyed like the corpus) that `taxonomy eval`
reads. Files already written are kept, so a second call costs nothing.
- 20ng: the 20 Newsgroups test split (7,532 posts) with headers, quoted replies and signature
  footers stripped exactly as scikit-learn's `remove=("headers", "footers", "quotes")` does;
  posts left with fewer than 3 words carry no topic and are dropped; label = newsgroup.
- arxiv: a seeded random sample of the arXiv CS abstracts; label = primary category.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from taxonomy.atomic import write_text_atomic

NEWSGROUPS_FILE = "data/20newsgroups/20newsgroups_bydate.csv.gz"
ARXIV_FILE = "data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"
MIN_WORDS = 3


def strip_newsgroup_post(text: str) -> str:
    """Remove the header block, quoted lines and the signature, as scikit-learn does."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )

    return strip_newsgroup_footer(strip_newsgroup_quoting(strip_newsgroup_header(text)))


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def newsgroups_rows(frame: pd.DataFrame, split: str = "test") -> list[tuple[str, str]]:
    """(stripped post, newsgroup) for the posts of `split` that keep at least MIN_WORDS words."""
    frame = frame[frame["split"] == split]
    rows = []
    for raw, label in zip(frame["text"], frame["label_name"], strict=True):
        body = strip_newsgroup_post(str(raw))
        if len(body.split()) >= MIN_WORDS:
            rows.append((body, str(label)))
    return rows


def write_20newsgroups(shared: Path, out_dir: Path, split: str = "test") -> tuple[Path, Path]:
    """Write `20ng_<split>.jsonl` and `20ng_<split>_labels.jsonl` (labels keyed by text)."""
    corpus, labels = out_dir / f"20ng_{split}.jsonl", out_dir / f"20ng_{split}_labels.jsonl"
    if corpus.is_file() and labels.is_file():
        return corpus, labels
    rows = newsgroups_rows(pd.read_csv(shared / NEWSGROUPS_FILE), split)
    _write_jsonl(corpus, [{"abstract": body} for body, _ in rows])
    _write_jsonl(labels, [{"abstract": body, "label": label} for body, label in rows])
    return corpus, labels


def write_arxiv_sample(shared: Path, out_dir: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Write a seeded sample of `n` arXiv abstracts and their primary categories."""
    corpus, labels = out_dir / f"arxiv_{n}.jsonl", out_dir / f"arxiv_{n}_labels.jsonl"
    if corpus.is_file() and labels.is_file():
        return corpus, labels
    frame = pd.read_json(shared / ARXIV_FILE, lines=True)
    n = min(n, len(frame))
    rows = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))]
    _write_jsonl(
        corpus,
        [
            {"arxiv_id": r.id, "title": r.title, "abstract": r.abstract}
            for r in rows.itertuples(index=False)
        ],
    )
    _write_jsonl(
        labels,
        [{"arxiv_id": r.id, "label": r.primary_category} for r in rows.itertuples(index=False)],
    )
    return corpus, labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["20ng", "arxiv"])
    parser.add_argument("--shared", default="../shared", type=Path)
    parser.add_argument("--out", default=".cache/eval", type=Path)
    parser.add_argument("--sample", default=20000, type=int, help="arxiv: papers to sample")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dataset == "20ng":
        paths = write_20newsgroups(args.shared, args.out)
    else:
        paths = write_arxiv_sample(args.shared, args.out, args.sample)
    print(*paths)


if __name__ == "__main__":
    main()
