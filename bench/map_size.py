"""Size and time-to-interactive of the HTML map for a large corpus (75,000 papers).

    python bench/map_size.py [--papers 75000] [--map-points 100000 | --uncapped] [--real]
                             [--out outputs/bench-map.html]

Builds a map of 30 themes and 300 topics with synthetic positions, writes it with
`write_map_html`, prints the file size, and, when playwright and /usr/bin/chromium are available,
the time until `window.taxonomyMap.ready` (first frame drawn) in headless Chromium. With `--real`
the titles, abstracts, ids and months are those of the shared arXiv corpus (real text is what
decides the file size; past its 74,728 papers they repeat, with a version suffix on the id);
otherwise they are synthetic ~1,200-character abstracts (20,000 distinct ones, reused: far
apart in the page, so deflate cannot exploit the repeats). Maps over `--map-points` papers draw
a sample over a density layer (`output.map_points`); `--uncapped` draws every paper, as before.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from taxonomy.export.html_map import (  # noqa: E402
    MAP_POINTS,
    MapLabel,
    MapPoint,
    write_map_html,
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
VOCAB = (
    "we propose a novel method for learning representations from large scale data that "
    "improves robustness generalization and efficiency of neural networks across benchmarks "
    "our approach combines attention sparse latent variable models with contrastive objectives "
    "experiments show state of the art results on language vision graph and control tasks "
    "while reducing training cost theoretical analysis establishes convergence guarantees"
).split()


ARXIV = ROOT.parent / "shared/data/arxiv_cs_daily_2025_2026/arxiv_cs_2025_2026.jsonl.gz"


def real_papers(n: int) -> list[dict]:
    """The first `n` papers of the shared arXiv corpus (id, title, abstract, year-month)."""
    import gzip
    import json

    rows = []
    with gzip.open(ARXIV, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows.append(row)
            if len(rows) == n:
                break
    return rows


def synthetic_texts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """`n` distinct (title, abstract) pairs of random words."""
    out = []
    for _ in range(n):
        abstract = " ".join(rng.choices(VOCAB, k=180))[: rng.randint(900, 1500)]
        title = " ".join(rng.choices(VOCAB, k=rng.randint(6, 14))).capitalize()
        out.append((title, abstract))
    return out


def synthetic(n: int, n_themes: int = 30, per_theme: int = 10, seed: int = 0, real=None):
    rng = random.Random(seed)
    themes, topics, centres = [], [], []
    for t in range(n_themes):
        tx, ty = rng.uniform(-40, 40), rng.uniform(-30, 30)
        themes.append(MapLabel(f"Theme {t}: {' '.join(rng.sample(VOCAB, 2))}", tx, ty, 0, -1))
        for _ in range(per_theme):
            cx, cy = rng.gauss(tx, 4), rng.gauss(ty, 4)
            centres.append((cx, cy))
            topics.append(MapLabel(" ".join(rng.sample(VOCAB, 3)), cx, cy, 0, t))
    texts = synthetic_texts(rng, min(n, 20_000)) if real is None else []
    points = []
    for i in range(n):
        k = rng.randrange(len(topics)) if i % 20 else -1
        cx, cy = centres[k] if k >= 0 else (rng.uniform(-45, 45), rng.uniform(-35, 35))
        x, y = rng.gauss(cx, 1.2), rng.gauss(cy, 1.2)
        theme = topics[k].parent if k >= 0 else -1
        if real is not None:
            row, repeat = real[i % len(real)], i // len(real)
            aid, month = row["id"] + (f"v{repeat + 1}" if repeat else ""), row["date"][:7]
            points.append(MapPoint(aid, row["title"], row["abstract"], x, y, theme, k, month, aid))
            continue
        title, abstract = texts[rng.randrange(len(texts))]
        yy, mm = rng.randint(15, 25), rng.randint(1, 12)
        aid = f"{yy:02d}{mm:02d}.{i % 100000:05d}" + (f"v{i // 100000 + 1}" if i >= 100000 else "")
        points.append(MapPoint(aid, title, abstract, x, y, theme, k, f"20{yy}-{mm:02d}", aid))
    topic_sizes, theme_sizes = Counter(p.topic for p in points), Counter(p.theme for p in points)
    for j, lab in enumerate(topics):
        lab.size = topic_sizes[j]
    for j, lab in enumerate(themes):
        lab.size = theme_sizes[j]
    return points, themes, topics


def time_to_ready(path: Path) -> tuple[float, float] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        start = time.perf_counter()
        page.goto(path.as_uri(), timeout=120_000)
        page.wait_for_function(
            "() => window.taxonomyMap && window.taxonomyMap.ready", polling=50, timeout=300_000
        )
        wall = time.perf_counter() - start
        in_page = page.evaluate("window.taxonomyMap.readyMs") / 1000
        search_ms = page.evaluate(
            """() => { const t = performance.now();
                      window.taxonomyMap.search('contrastive robustness');
                      return performance.now() - t; }"""
        )
        print(f"first search (all):     {search_ms:.0f} ms")
        redraw_ms = page.evaluate(
            """() => { const m = window.taxonomyMap; m.zoom(1.5); const t = performance.now();
                      for (let k = 0; k < 10; k++) m.redraw();
                      return (performance.now() - t) / 10; }"""
        )
        print(f"full redraw (mean):     {redraw_ms:.0f} ms")
        if errors:
            print("page errors:", errors)
        page.screenshot(path=str(path.with_suffix(".png")))
        browser.close()
    return wall, in_page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=75_000)
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench-map.html")
    ap.add_argument("--real", action="store_true", help="use real arXiv text from ../shared")
    ap.add_argument("--map-points", type=int, default=MAP_POINTS, help="output.map_points")
    ap.add_argument("--uncapped", action="store_true", help="draw every paper (no sample)")
    args = ap.parse_args()
    map_points = max(args.papers, 1000) if args.uncapped else args.map_points
    real = real_papers(args.papers) if args.real else None
    points, themes, topics = synthetic(args.papers, real=real)
    mean = sum(len(p.abstract) for p in points) / len(points)
    print(f"papers: {len(points):,}  themes: {len(themes)}  topics: {len(topics)}")
    print(f"mean abstract length: {mean:.0f} chars")
    t0 = time.perf_counter()
    write_map_html(args.out, points, themes, topics, title="Benchmark map", map_points=map_points)
    print(f"render + write:         {time.perf_counter() - t0:.1f} s")
    size = args.out.stat().st_size
    print(f"HTML size:              {size / 1e6:.2f} MB ({size / 2**20:.2f} MiB)  -> {args.out}")
    page = args.out.read_text(encoding="utf-8")
    dens = re.search(r'"dens":(\{"w":\d+,"h":\d+)', page)
    if dens:
        grid = json.loads(dens.group(1) + "}")
        drawn = len(json.loads(re.search(r'"id":(\[.*?\])', page).group(1)))
        print(f"points drawn:           {drawn:,} of {len(points):,} (map_points {map_points:,})")
        print(f"density grid:           {grid['w']} x {grid['h']} cells")
    else:
        print(f"points drawn:           all {len(points):,}")
    cap = re.search(r'"cap":(null|\d+)', page).group(1)
    if cap == "null":
        print("abstracts:              all whole")
    elif dens:
        print(f"abstracts:              shortened to {cap} chars in the page (size budget)")
    else:
        cut = sum(len(p.abstract) > int(cap) for p in points)
        print(f"abstracts:              {cut:,} shortened to {cap} chars in the page (size budget)")
    timing = time_to_ready(args.out)
    if timing is None:
        print("time to ready: skipped (needs playwright and /usr/bin/chromium)")
    else:
        print(f"time to ready:          {timing[0]:.2f} s (navigation start -> ready)")
        print(f"  of which in page:     {timing[1]:.2f} s (performance.now() at ready)")


if __name__ == "__main__":
    main()
