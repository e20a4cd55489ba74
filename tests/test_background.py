"""The background process (taxonomy.background) and fits that use it."""

from __future__ import annotations

import math
import operator
import os
import time
from pathlib import Path

import numpy as np
import pytest

from taxonomy import background, keyphrases, label
from taxonomy.background import Background


def test_calls_run_in_the_helper_in_order_and_return_their_results():
    with Background() as helper:
        pid = helper.submit(os.getpid)
        product = helper.submit(operator.mul, 6, 7)
        assert product() == 42
        assert pid() != os.getpid()  # it ran in the other process


def test_large_calls_and_replies_in_flight_together_do_not_block():
    # a 32 MB reply being sent while a 32 MB call is sent: both pipes full at once
    big = np.arange(8_000_000, dtype=np.float32)
    with Background() as helper:
        first = helper.submit(np.negative, big)
        second = helper.submit(np.add, big, 1.0)
        third = helper.submit(np.multiply, big, 2.0)
        assert np.array_equal(first(), -big)
        assert np.array_equal(second(), big + 1.0)
        assert np.array_equal(third(), big * 2.0)


def test_submitting_a_large_call_does_not_wait_for_a_busy_helper():
    big = np.arange(8_000_000, dtype=np.float32)  # 32 MB: far more than a pipe holds
    with Background() as helper:
        busy = helper.submit(time.sleep, 3)
        started = time.monotonic()
        negated = helper.submit(np.negative, big)
        assert time.monotonic() - started < 2  # sent by the helper's sender thread
        busy()
        assert np.array_equal(negated(), -big)


def test_an_error_in_the_helper_is_raised_in_the_caller():
    with Background() as helper:
        failed = helper.submit(math.sqrt, -1.0)
        after = helper.submit(math.sqrt, 4.0)
        with pytest.raises(ValueError, match="math domain error"):
            failed()
        assert after() == 2.0  # the helper carries on


def test_a_call_that_cannot_be_sent_raises_and_the_next_ones_run():
    with Background() as helper:
        unsendable = helper.submit(lambda: 1)
        after = helper.submit(operator.add, 1, 2)
        with pytest.raises(Exception, match="lambda|pickle"):
            unsendable()
        assert after() == 3


def test_calls_of_a_dead_helper_are_computed_here():
    with Background() as helper:
        assert helper.submit(os.getpid)() != os.getpid()
        helper._process.kill()
        helper._process.wait()
        assert helper.submit(os.getpid)() == os.getpid()


def test_close_cuts_a_running_call():
    helper = Background()
    helper.submit(time.sleep, 60)
    started = time.monotonic()
    helper.close()
    assert time.monotonic() - started < 10
    assert helper._process.poll() is not None


def _fit(texts: list[str], vectors: np.ndarray, cache: Path, **settings):
    from taxonomy.fitting import fit

    # each its own cache
    return fit(texts, embeddings=vectors, seed=3, cache_dir=str(cache), **settings)


def _corpus() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    rows = np.repeat(np.arange(4), 30)
    vectors = centres[rows] + 0.3 * rng.normal(size=(len(rows), 16))
    words = ["cache", "retrieval", "speech", "diffusion"]
    texts = [f"paper {i} on {words[r]} methods and {words[r]} data" for i, r in enumerate(rows)]
    return texts, vectors


def test_a_fit_with_work_in_the_background_equals_one_without(monkeypatch, tmp_path):
    texts, vectors = _corpus()
    alone = _fit(texts, vectors, tmp_path / "alone")
    started: list[Background] = []
    monkeypatch.setattr(background, "MIN_PAPERS", 10)
    monkeypatch.setattr(Background, "__enter__", lambda self: started.append(self) or self)
    counted_here: list[int] = []

    def count_phrases(texts: list[str], max_ngram: int):  # in this process only
        counted_here.append(len(texts))
        return keyphrases.count_phrases(texts, max_ngram)

    monkeypatch.setattr(label, "count_phrases", count_phrases)
    beside = _fit(texts, vectors, tmp_path / "beside")
    assert started, "the fit did not use the background process"
    assert counted_here == [], "the label phrases were not counted in the background"
    assert np.array_equal(alone.layout, beside.layout)
    assert np.array_equal(alone.topic_of, beside.topic_of)
    assert alone.taxonomy.labels == beside.taxonomy.labels


def test_the_papers_outside_the_fit_sample_are_projected_in_the_background(monkeypatch, tmp_path):
    from taxonomy import lexical

    texts, vectors = _corpus()
    sampled = {"compute.fit_sample": 100}  # 20 papers outside the fitted sample
    alone = _fit(texts, vectors, tmp_path / "alone", **sampled)
    monkeypatch.setattr(background, "MIN_PAPERS", 10)
    projected_here: list[int] = []
    project = lexical.Projection.__call__

    def counted(self: lexical.Projection, texts: list[str]) -> np.ndarray:
        projected_here.append(len(texts))  # in this process only
        return project(self, texts)

    monkeypatch.setattr(lexical.Projection, "__call__", counted)
    beside = _fit(texts, vectors, tmp_path / "beside", **sampled)
    assert projected_here == [], "the rest was projected in this process"
    assert np.array_equal(_lexical_entry(tmp_path / "alone"), _lexical_entry(tmp_path / "beside"))
    assert np.array_equal(alone.topic_of, beside.topic_of)
    assert np.array_equal(alone.layout, beside.layout)
    assert alone.taxonomy.labels == beside.taxonomy.labels
    again = _fit(texts, vectors, tmp_path / "beside", **sampled)  # from the stage cache
    assert projected_here == []
    assert np.array_equal(again.topic_of, beside.topic_of)


def _lexical_entry(cache: Path) -> np.ndarray:
    (entry,) = (cache / "stages").glob("lexical-*.npz")
    with np.load(entry) as arrays:
        tfidf = arrays["tfidf"]
    assert (np.abs(tfidf).sum(axis=1) > 0).all()  # every paper's row filled
    return tfidf


@pytest.mark.slow
def test_the_model_in_the_background_gives_the_same_vectors():
    from taxonomy.embed import SentenceEmbedder

    texts = ["KV cache compression", "retrieval-augmented generation", "speech"]
    here = SentenceEmbedder().encode(texts)
    embedder = SentenceEmbedder()
    with Background() as helper:
        embedder.load_beside(helper)
        there = embedder.encode(texts)
        embedder.load_beside(None)
    assert np.array_equal(here, there)


def test_texts_embedded_ahead_are_cached_when_next_asked_for(tmp_path):
    from taxonomy.fitting import _Embedding
    from taxonomy.progress import Announced
    from tests.helpers.fake_embed import FakeEmbedder

    sent: list[list[str]] = []

    class Ahead(FakeEmbedder):
        def encode_later(self, texts: list[str]):
            sent.append(list(texts))
            vectors = self.encode(texts)
            return lambda: vectors

    embedder = Ahead()
    embedding = _Embedding(Announced(embedder, print, "embed"), tmp_path, usable=True)
    embedding.ahead(["kv cache", "lora", "lora"])
    embedding.ahead(["lora", "speech"])  # lora is on its way already
    assert sorted(map(sorted, sent)) == [["kv cache", "lora"], ["speech"]]
    texts = ["speech", "kv cache", "lora", "diffusion"]
    vectors, newly = embedding(texts)
    assert newly == 1  # only the text not sent ahead
    assert embedder.calls == 4  # each text encoded once
    assert np.array_equal(vectors, FakeEmbedder().encode(texts))
    again = _Embedding(Announced(Ahead(), print, "embed"), tmp_path, usable=True)
    assert again(texts)[1] == 0  # the ones sent ahead were stored in the cache


def test_a_run_with_a_background_process_writes_the_same_files(monkeypatch, tmp_path):
    from taxonomy import engines, export
    from taxonomy.pipeline import run
    from tests.helpers.fake_embed import FakeEmbedder
    from tests.helpers.small_run import small_config

    engines.use_embedder(FakeEmbedder())
    try:
        alone = tmp_path / "alone"
        run(small_config(alone, tmp_path / "cache-alone", n=120), out=alone / "out")
        monkeypatch.setattr(background, "MIN_PAPERS", 10)
        helpers: list[object] = []
        made = export.tables_and_map

        def tables_and_map(*args, **kwargs):
            helpers.append(kwargs["helper"])
            return made(*args, **kwargs)

        monkeypatch.setattr(export, "tables_and_map", tables_and_map)
        beside = tmp_path / "beside"
        run(small_config(beside, tmp_path / "cache-beside", n=120), out=beside / "out")
    finally:
        engines.use_embedder(None)
    assert helpers and isinstance(helpers[0], Background)
    for name in ("map.html", "map.png", "map.svg", "documents.csv", "taxonomy.yaml"):
        assert (alone / "out" / name).read_bytes() == (beside / "out" / name).read_bytes(), name


def test_thin_topics_are_counted_ahead_and_labelled_as_without_the_background(
    monkeypatch, tmp_path
):
    import random

    from taxonomy import engines, fitting
    from tests.helpers.fake_embed import FakeEmbedder

    pools = [
        "kv cache memory eviction decoding tokens compression attention keys values",
        "retrieval passages dense retriever reranking grounding search index documents",
        "code program synthesis python unit tests compiler functions repository bugs",
        "speech audio recognition acoustic spoken waveform transcription speaker voice asr",
    ]
    rng = random.Random(0)
    texts = [f"{' '.join(rng.choices(pools[i % 4].split(), k=18))} study {i}" for i in range(160)]
    monkeypatch.setattr(label, "LABEL_SAMPLE", 40)  # a paper in four: most topics thin
    counted_by_label_stage: list[int] = []

    def count_phrases(texts: list[str], max_ngram: int):
        counted_by_label_stage.append(len(texts))
        return keyphrases.count_phrases(texts, max_ngram)

    monkeypatch.setattr(label, "count_phrases", count_phrases)
    engines.use_embedder(FakeEmbedder())
    try:
        alone = fitting.fit(texts, seed=3, cache_dir=str(tmp_path / "alone"))
        assert len(counted_by_label_stage) == 1
        assert counted_by_label_stage[0] > 40  # the sample and the thin topics' papers
        monkeypatch.setattr(background, "MIN_PAPERS", 10)
        beside = fitting.fit(texts, seed=3, cache_dir=str(tmp_path / "beside"))
    finally:
        engines.use_embedder(None)
    assert len(counted_by_label_stage) == 1  # recounted once, ahead, not by the label stage
    assert np.array_equal(alone.topic_of, beside.topic_of)
    assert alone.taxonomy.labels == beside.taxonomy.labels
    assert alone.taxonomy.named_by == beside.taxonomy.named_by
