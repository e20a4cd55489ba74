"""Seed themes on the bundled seeds, scored against the hand labels (dev half).

For five seeds, the F1 of the seed topic for its hand-labelled theme, next to the best F1 any
topic of an unseeded run reaches for that theme. Reporting only: nothing is tuned on it.

    PYTHONPATH=. .venv/bin/python bench/curate_seeds.py [--labels FILE.jsonl]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml

from taxonomy.models import normalize_text
from taxonomy.pipeline import run

SEEDS = [
    ({"name": "Knowledge distillation", "keywords": ["distillation", "distill"]}, "distillation"),
    (
        {
            "name": "KV cache",
            "description": "compressing and evicting the key-value cache to speed up inference",
            "keywords": ["KV cache", "key-value cache"],
        },
        "kv-cache-inference",
    ),
    ({"name": "Retrieval-augmented generation", "keywords": ["RAG", "retrieval-augmented"]}, "rag"),
    (
        {
            "name": "Multilingual",
            "keywords": ["multilingual", "cross-lingual", "low-resource languages"],
        },
        "multilingual",
    ),
    (
        {
            "name": "Parameter-efficient fine-tuning",
            "keywords": ["LoRA", "adapters", "PEFT", "parameter-efficient"],
        },
        "peft",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--labels", type=Path, default=Path("../shared/eval/seeds_dev_labels.jsonl")
    )
    args = parser.parse_args()
    gold: dict[str, set[str]] = {}
    for line in args.labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold[normalize_text(row["abstract"])] = {row["theme"], *(row.get("also_acceptable") or [])}
    work = Path(tempfile.mkdtemp(prefix="curate-seeds-"))
    curation = work / "taxonomy.yaml"
    curation.write_text(yaml.safe_dump({"seeds": [seed for seed, _ in SEEDS]}))
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({"curation": str(curation)}))
    seeded = run(config, out=work / "seeded")
    plain = run(None, out=work / "plain", curation=None)
    labelled = {
        i: gold[normalize_text(p.abstract)]
        for i, p in enumerate(seeded.corpus.papers)
        if normalize_text(p.abstract) in gold
    }

    def f1(members: list[int], theme: str) -> float:
        hits = sum(theme in labelled[i] for i in members if i in labelled)
        scored = sum(1 for i in members if i in labelled)
        total = sum(theme in themes for themes in labelled.values())
        if hits == 0:
            return 0.0
        precision, recall = hits / scored, hits / total
        return 2 * precision * recall / (precision + recall)

    by_label = {t.label: t for t in seeded.topics}
    for seed, theme in SEEDS:
        topic = by_label.get(seed["name"])
        best = max(plain.topics, key=lambda t: f1(t.members, theme))
        mine = f"{f1(topic.members, theme):.2f} ({topic.size} papers)" if topic else "not created"
        print(
            f"{seed['name']}: seed topic F1 {mine}; "
            f"best unseeded topic F1 {f1(best.members, theme):.2f} ({best.label}, {best.size})"
        )


if __name__ == "__main__":
    main()
