"""Deterministic synthetic maps shared by the map tests (fast and browser)."""

from __future__ import annotations

import math
import random
import re

from taxonomy.export.html_map import MapLabel, MapPoint

XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
THEMES = {
    "Language models": ["Instruction tuning", "Retrieval augmentation", "Reasoning benchmarks"],
    "Computer vision": ["Diffusion image synthesis", "Object detection", "Video understanding"],
    "Reinforcement learning": ["Offline RL", "Reward modeling", "Multi-agent coordination"],
    "Graph learning": ["Molecular property prediction", "Knowledge graphs", "Graph transformers"],
    "Robotics": ["Manipulation policies", "Legged locomotion", "Sim-to-real transfer"],
}
WORDS = (
    "model data learning neural training efficient robust scalable benchmark method approach "
    "representation optimization evaluation generalization sparse attention latent adaptive"
).split()


def synthetic_map(n: int = 300, seed: int = 7, abstract_words: int = 60):
    """`n` papers in 5 themes x 3 topics (a few unassigned), deterministic."""
    rng = random.Random(seed)
    themes, topics, centres = [], [], []
    for t, (theme, names) in enumerate(THEMES.items()):
        ang = 2 * 3.14159 * t / len(THEMES)
        tx, ty = 6 * math.cos(ang), 6 * math.sin(ang)
        themes.append(MapLabel(theme, tx, ty, 0, -1))
        for k, name in enumerate(names):
            a2 = ang + (k - 1) * 0.55
            centres.append((tx + 1.9 * math.cos(a2), ty + 1.9 * math.sin(a2)))
            topics.append(MapLabel(name, *centres[-1], 0, t))
    points = []
    for i in range(n):
        k = rng.randrange(len(topics)) if i % 25 else -1
        if k >= 0:
            cx, cy = centres[k]
            x, y, t = rng.gauss(cx, 0.5), rng.gauss(cy, 0.5), topics[k].parent
        else:
            x, y, t = rng.uniform(-8, 8), rng.uniform(-8, 8), -1
        yy, mm = rng.randint(19, 24), rng.randint(1, 12)
        arxiv = f"{yy:02d}{mm:02d}.{10000 + i:05d}"
        topic_words = topics[k].name.lower() if k >= 0 else "misc"
        w1, w2, w3 = (rng.choice(WORDS) for _ in range(3))
        title = f"{w1.title()} {topic_words} with {w2} {w3}"
        abstract = " ".join(rng.choice(WORDS) for _ in range(abstract_words)) + f" paper{i}."
        points.append(MapPoint(arxiv, title, abstract, x, y, t, k, f"20{yy:02d}-{mm:02d}", arxiv))
    for lab_list, attr in ((themes, "theme"), (topics, "topic")):
        for j, lab in enumerate(lab_list):
            members = [p for p in points if getattr(p, attr) == j]
            lab.size = len(members)
            if members:
                lab.x = sum(p.x for p in members) / len(members)
                lab.y = sum(p.y for p in members) / len(members)
    return points, themes, topics


def data_blob(page: str) -> str:
    m = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert m, "data blob missing"
    return m.group(1)
