"""The large export files written piece by piece (`export.table_writers`): the same bytes as
the whole-file forms (`documents_csv`, `documents_parquet`, `papers_bibtex`, `papers_ris`)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from taxonomy import export
from taxonomy.export.bib import papers_bibtex, papers_ris
from taxonomy.export.tables import documents_csv, documents_frame, documents_parquet
from taxonomy.models import Corpus, Paper, TaxonomyNode


def _corpus() -> tuple[Corpus, list[TaxonomyNode], np.ndarray]:
    papers = [
        Paper(
            abstract=f'=Abstract {i} with {{braces}} & ü, "quotes"\nand lines' * (1 + i % 3),
            source="in.jsonl",
            title=None if i % 4 == 0 else f"-Title {i}",
            arxiv_id=f"2303.{10000 + i}" if i % 2 else None,
            year_month="2023-03" if i % 2 else None,
        )
        for i in range(11)
    ]
    topic_a = TaxonomyNode("topic-1", "Alpha", [], [0, 3, 5], [])
    topic_b = TaxonomyNode("topic-2", 'Beta, "b"', [], [1, 7, 8, 9], [])
    themes = [TaxonomyNode("theme-1", "Theme", [], [0, 1, 3, 5, 7, 8, 9], [], [topic_a, topic_b])]
    layout = np.random.default_rng(0).normal(size=(len(papers), 2)).round(5)
    return Corpus(papers, len(papers)), themes, layout


def _written(body) -> bytes:
    buffer = io.BytesIO()
    body(buffer)
    return buffer.getvalue()


def test_tables_written_in_pieces_equal_the_whole(monkeypatch):
    corpus, themes, layout = _corpus()
    frame = documents_frame(corpus, themes, layout)
    monkeypatch.setattr(export, "TABLE_ROWS", 3)  # four pieces
    monkeypatch.setattr(export, "TEXT_BATCH", 50)  # many writes
    writers = export.table_writers(corpus, themes, layout)
    assert _written(writers["documents.csv"]) == documents_csv(frame).encode("utf-8")
    assert _written(writers["papers.bib"]) == papers_bibtex(corpus, themes).encode("utf-8")
    assert _written(writers["papers.ris"]) == papers_ris(corpus, themes).encode("utf-8")
    pieces = pd.read_parquet(io.BytesIO(_written(writers["documents.parquet"])))
    whole = pd.read_parquet(io.BytesIO(documents_parquet(frame)))
    pd.testing.assert_frame_equal(pieces, whole)
    assert list(whole["topic_id"]) == [frame["topic_id"][i] for i in range(len(corpus))]


def test_an_empty_corpus_still_gets_the_table_headers():
    corpus = Corpus([], 0)
    writers = export.table_writers(corpus, [], np.zeros((0, 2)))
    header = _written(writers["documents.csv"]).decode("utf-8")
    assert header.startswith("id,title,abstract,")
    assert pd.read_parquet(io.BytesIO(_written(writers["documents.parquet"]))).empty
