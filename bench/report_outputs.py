"""Render report.html, trends.csv and map.png/.svg for a real run and time them.

    python bench/report_outputs.py [OUT_DIR] [--screenshots docs/img]

Runs the pipeline on the default config (the bundled seeds) into OUT_DIR (default
/tmp/report-seeds), then renders the report (with topic vectors = mean embedding of each topic's
papers, from the embedding cache) and the static map figure next to the run's outputs, printing
sizes and render times. With --screenshots, also saves PNG screenshots of the report (headless
Chromium via playwright, offline) into the given folder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="/tmp/report-seeds")
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    out = Path(args.out)

    from taxonomy import embed
    from taxonomy.export.figure import map_figure
    from taxonomy.export.report import report_html, trends_csv, trends_frame
    from taxonomy.pipeline import run

    start = time.perf_counter()
    result = run(None, out=out)
    print(f"pipeline: {time.perf_counter() - start:.1f} s, {len(result.corpus)} papers")
    cfg = result.config
    vectors, _ = embed.embed_texts(
        result.corpus.texts,
        model_name=cfg.embed.model,
        max_tokens=cfg.embed.max_tokens,
        cache_dir=Path(cfg.cache_dir),
    )
    topic_vectors = {
        topic.id: vectors[topic.members].mean(axis=0)
        for theme in result.themes
        for topic in theme.children
    }

    start = time.perf_counter()
    frame = trends_frame(result.corpus, result.themes)
    (out / "trends.csv").write_text(trends_csv(frame))
    page = report_html(
        result.corpus,
        result.themes,
        title="Seeds: topic report",
        topic_vectors=topic_vectors,
        trends=frame,
    )
    (out / "report.html").write_text(page)
    report_s = time.perf_counter() - start
    start = time.perf_counter()
    png, svg = map_figure(np.asarray(result.layout), result.themes, title="Seeds: topic map")
    (out / "map.png").write_bytes(png)
    (out / "map.svg").write_text(svg)
    figure_s = time.perf_counter() - start
    print(f"report.html: {len(page.encode()) / 1e6:.2f} MB in {report_s:.2f} s (with trends.csv)")
    print(f"map.png: {len(png) / 1e3:.0f} kB, map.svg: {len(svg) / 1e3:.0f} kB in {figure_s:.2f} s")
    print(f"timings of the run: {result.timings}")
    if args.screenshots:
        screenshots(out / "report.html", args.screenshots)


def screenshots(report: Path, folder: Path) -> None:
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    args += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url[:7] == "file://" else r.abort())
        page.goto(report.as_uri())
        page.wait_for_selector("#fig-hierarchy .main-svg", state="attached")
        page.wait_for_timeout(1000)
        for section in ("sizes", "months", "changes", "terms", "similarity", "hierarchy"):
            if page.locator(f"#{section}").count():
                path = folder / f"report-{section}.png"
                page.locator(f"#{section}").screenshot(path=str(path))
                print(f"screenshot: {path}")
        browser.close()


if __name__ == "__main__":
    main()
