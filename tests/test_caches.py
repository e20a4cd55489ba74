"""Damaged caches are detected and rebuilt, never trusted.

The embedding cache is the sharded store (.cache/embeddings/<model>-<tokens>/, taxonomy.store);
an old single-file cache (.cache/embeddings/<model>-<tokens>.npz) found there is imported once
and renamed. Old files corrupted in every way we could think of -- truncated, random bytes
flipped, written by another model / dimension / max_tokens, keys duplicated, non-finite or
non-unit vectors -- are not imported, and the result must equal what an empty cache gives. A
damaged store shard is moved aside alone, its texts embedded again. The stage cache
(.cache/stages/<stage>-<key>.npz) gets the same treatment. A run killed while embedding resumes
from its last checkpoint; two runs embedding into one cache at once keep all vectors. The
fuzz tests run 40 + 40 cases (settings below).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomy import embed as embed_module
from taxonomy.embed import (
    CHECKPOINT_ROWS,
    IMPORTED_SUFFIX,
    MODEL_DIM,
    _cache_file,
    embed_texts,
    load_cache,
    open_store,
    save_cache,
)
from taxonomy.models import text_key
from taxonomy.stage_cache import cached_arrays

REPO = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"
DIM = MODEL_DIM[MODEL]
TEXTS = [f"abstract number {i} about topic {i % 3}" for i in range(12)]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


class Encoder:
    """A stand-in model (an `Embedder`): deterministic unit vectors, counting the texts it
    embeds; cached under the real model's name, as a GPU or Ray copy of it would be."""

    model_name = MODEL
    dim = DIM

    def __init__(self, max_tokens: int = 256, chunk: int = 32, delay: float = 0.0) -> None:
        self.calls = 0
        self.max_tokens = max_tokens
        self._chunk, self.delay = chunk, delay

    def chunk(self, n_missing: int) -> int:
        return self._chunk

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        time.sleep(self.delay)
        rng = [np.random.default_rng(int(text_key(t)[:8], 16)) for t in texts]
        vectors = np.stack([r.standard_normal(DIM) for r in rng]).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def embed(cache_dir: Path, texts=TEXTS, max_tokens: int = 256):
    encoder = Encoder(max_tokens)
    vectors, newly = embed_texts(texts, encoder, cache_dir=cache_dir)
    assert newly == encoder.calls
    return vectors, newly


def stored(cache_dir: Path, max_tokens: int = 256) -> int:
    """Distinct texts held by the store."""
    store = open_store(cache_dir, MODEL, max_tokens, DIM)
    return len({k for keys, _ in store.shard_arrays() for k in keys.tolist()})


@pytest.fixture
def old(tmp_path):
    """A cache dir holding the embeddings of TEXTS in the old single-file format, and the
    true vectors."""
    truth = Encoder().encode(TEXTS)
    path = _cache_file(tmp_path, MODEL, 256)
    save_cache(path, MODEL, {text_key(t): v for t, v in zip(TEXTS, truth, strict=True)}, 256)
    return tmp_path, truth, path


def test_a_good_cache_is_used(tmp_path):
    truth, newly = embed(tmp_path)
    assert newly == len(TEXTS)
    vectors, newly = embed(tmp_path)
    assert newly == 0 and np.array_equal(vectors, truth)
    assert embed(tmp_path, TEXTS + ["one more"])[1] == 1


def test_old_cache_is_imported_once(old):
    cache_dir, truth, path = old
    vectors, newly = embed(cache_dir)
    assert newly == 0 and np.array_equal(vectors, truth)
    assert not path.exists() and path.with_name(path.name + IMPORTED_SUFFIX).is_file()
    assert embed(cache_dir)[1] == 0 and stored(cache_dir) == len(TEXTS)


def rewrite(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def meta(**fields) -> np.ndarray:
    return np.array(json.dumps({"model": MODEL, "max_tokens": 256} | fields))


CORRUPTIONS = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "empty file": lambda p: p.write_bytes(b""),
    "not a zip": lambda p: p.write_bytes(b"hello" * 100),
    "other model": lambda p: rewrite(p, meta=meta(model="all-mpnet-base-v2")),
    "other max_tokens": lambda p: rewrite(p, meta=meta(max_tokens=128)),
    "meta not json": lambda p: rewrite(p, meta=np.array("{")),
    "wrong dimension": lambda p: rewrite(p, vectors=np.ones((12, 64), np.float32) / 8),
    "one-dimensional": lambda p: rewrite(p, vectors=np.ones(12 * DIM, np.float32)),
    "fewer keys": lambda p: rewrite(p, keys=np.array([text_key(t) for t in TEXTS[:5]])),
    "duplicate keys": lambda p: rewrite(p, keys=np.array([text_key(TEXTS[0])] * 12)),
    "keys not hashes": lambda p: rewrite(p, keys=np.array([f"k{i}" for i in range(12)])),
    "nan vectors": lambda p: rewrite(p, vectors=np.full((12, DIM), np.nan, np.float32)),
    "zero vectors": lambda p: rewrite(p, vectors=np.zeros((12, DIM), np.float32)),
    "integer vectors": lambda p: rewrite(p, vectors=np.ones((12, DIM), np.int64)),
    "pickled keys": lambda p: rewrite(p, keys=np.array([{"a": 1}] * 12, dtype=object)),
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupted_old_cache_is_not_imported(old, how):
    cache_dir, truth, path = old
    CORRUPTIONS[how](path)
    vectors, newly = embed(cache_dir)
    assert newly == len(TEXTS), "a damaged cache must not be used"
    assert np.array_equal(vectors, truth)
    # ... it is not read again, and the store holds the vectors embedded afresh.
    assert not path.exists()
    assert stored(cache_dir) == len(TEXTS) and embed(cache_dir)[1] == 0


def test_cache_from_before_max_tokens_was_recorded_is_still_used(old):
    cache_dir, truth, path = old
    rewrite(path, meta=np.array(json.dumps({"model": MODEL})))
    vectors, newly = embed(cache_dir)
    assert newly == 0 and np.array_equal(vectors, truth)


def test_cache_of_other_max_tokens_is_separate(tmp_path):
    embed(tmp_path)
    assert embed(tmp_path, max_tokens=128)[1] == len(TEXTS)
    save_cache(_cache_file(tmp_path, MODEL, 64), MODEL, {}, 64)  # empty: nothing to trust
    assert load_cache(_cache_file(tmp_path, MODEL, 64), MODEL, DIM, 64) == {}
    assert embed(tmp_path, max_tokens=64)[1] == len(TEXTS)


@FUZZ
@given(data=st.data())
def test_randomly_damaged_old_cache_never_changes_results(old, data):
    cache_dir, truth, path = old
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        raw = bytearray(copy.read_bytes())
        if data.draw(st.booleans(), label="truncate"):
            raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")]
        else:
            for _ in range(data.draw(st.integers(1, 4), label="flips")):
                at = data.draw(st.integers(0, len(raw) - 1), label="at")
                raw[at] ^= data.draw(st.integers(1, 255), label="xor")
        copy.write_bytes(bytes(raw))
        vectors, _ = embed(Path(tmp))
        assert np.array_equal(vectors, truth)


def _shards(cache_dir: Path, max_tokens: int = 256) -> list[Path]:
    return sorted((cache_dir / f"{MODEL}-{max_tokens}").glob("shard-*.vecs.npy"))


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_damaged_shard_is_rebuilt_alone(tmp_path, how):
    texts = [f"paper {i} on subject {i % 7}" for i in range(90)]
    truth = np.vstack([embed(tmp_path, texts[i : i + 30])[0] for i in range(0, 90, 30)])
    (first, *rest) = _shards(tmp_path)
    assert len(rest) == 2
    raw = bytearray(first.read_bytes())
    if how == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw[-DIM * 4 * 3 + 3] ^= 0x40  # the exponent of a float of the third row from the end
    first.write_bytes(bytes(raw))
    # As the next run would: a fresh process maps the shards anew (this process's mapping of
    # a file truncated in place would fault on the lost pages).
    embed_module._STORES.clear()
    encoder = Encoder()
    vectors, newly = embed_texts(texts, encoder, cache_dir=tmp_path)
    assert newly == 30 and encoder.calls == 30, "only the damaged shard's texts are embedded"
    assert np.array_equal(vectors, truth)
    assert embed(tmp_path, texts)[1] == 0
    assert (tmp_path / f"{MODEL}-256" / "damaged").is_dir()


def test_concurrent_runs_keep_all_vectors(tmp_path):
    """Two processes embed overlapping texts into one cache at once; nothing is lost."""
    code = (
        "import sys; from pathlib import Path; from tests.test_caches import Encoder;"
        "from taxonomy.embed import embed_texts;"
        "lo, hi = int(sys.argv[2]), int(sys.argv[3]);"
        "texts = [f'text {i} of the concurrency test' for i in range(lo, hi)];"
        "embed_texts(texts, Encoder(chunk=50, delay=0.02), cache_dir=Path(sys.argv[1]))"
    )
    ranges = [(0, 3000), (1500, 4500)]
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(a), str(b)], cwd=REPO)
        for a, b in ranges
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    texts = [f"text {i} of the concurrency test" for i in range(4500)]
    encoder = Encoder()
    vectors, newly = embed_texts(texts, encoder, cache_dir=tmp_path)
    assert newly == 0 and np.array_equal(vectors, Encoder().encode(texts))
    assert stored(tmp_path) == 4500


def test_killed_run_resumes_without_re_embedding(tmp_path):
    """A run SIGKILLed while embedding keeps its checkpoints; the next run embeds the rest."""
    n = 3 * CHECKPOINT_ROWS + 500
    texts = [f"resumable text {i}" for i in range(n)]
    code = (
        "import sys; from pathlib import Path; from tests.test_caches import Encoder;"
        "from taxonomy.embed import embed_texts;"
        f"texts = [f'resumable text {{i}}' for i in range({n})];"
        "embed_texts(texts, Encoder(chunk=256, delay=0.05), cache_dir=Path(sys.argv[1]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO)
    deadline = time.monotonic() + 120
    # 2 checkpoints written: a shard is listed once its keys file is (the vectors go first)
    folder = tmp_path / f"{MODEL}-256"
    while len(list(folder.glob("shard-*.keys.npy"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = stored(tmp_path)
    assert 2 * CHECKPOINT_ROWS <= done < n
    encoder = Encoder()
    vectors, newly = embed_texts(texts, encoder, cache_dir=tmp_path)
    assert newly == n - done and encoder.calls == n - done
    assert np.array_equal(vectors, Encoder().encode(texts))


# --- the stage cache ---------------------------------------------------------------------------


class Stage:
    def __init__(self, seed: int = 0) -> None:
        self.seed, self.calls = seed, 0

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        rng = np.random.default_rng(self.seed)
        return {"space": rng.standard_normal((20, 5)), "labels": np.arange(20)}


def run_stage(cache_dir: Path, key: list, seed: int = 0) -> tuple[dict, int]:
    stage = Stage(seed)
    return cached_arrays(cache_dir, "reduce", key, stage), stage.calls


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def entry(cache_dir: Path) -> Path:
    (path,) = (cache_dir / "stages").glob("reduce-*.npz")
    return path


def test_stage_cache_is_used_and_keyed_by_input(tmp_path):
    first, calls = run_stage(tmp_path, [np.ones(3), {"k": 1}])
    assert calls == 1
    again, calls = run_stage(tmp_path, [np.ones(3), {"k": 1}])
    assert calls == 0 and same(first, again)
    # Same bytes, other dtype or shape: another key.
    assert run_stage(tmp_path, [np.ones(3, np.float32), {"k": 1}])[1] == 1
    assert run_stage(tmp_path, [np.ones((3, 1)), {"k": 1}])[1] == 1


STAGE_CORRUPTIONS = {
    "truncated": lambda p, d: p.write_bytes(p.read_bytes()[:100]),
    "empty file": lambda p, d: p.write_bytes(b""),
    "not a zip": lambda p, d: p.write_bytes(b"\x00" * 300),
    # Another input's entry copied over this one (same arrays, other key).
    "other entry": lambda p, d: shutil.copy(other_entry(d), p),
    "no key": lambda p, d: np.savez(open(p, "wb"), **Stage(5)()),
    "nan": lambda p, d: rewrite(p, space=np.full((20, 5), np.nan)),
    "pickled": lambda p, d: rewrite(p, labels=np.array([None] * 20, dtype=object)),
}


def other_entry(cache_dir: Path) -> Path:
    other = cache_dir / "other"
    run_stage(other, ["another input"], seed=7)
    return entry(other)


@pytest.mark.parametrize("how", sorted(STAGE_CORRUPTIONS))
def test_corrupted_stage_cache_is_recomputed(tmp_path, how):
    key = [np.arange(4.0), "cfg"]
    truth, _ = run_stage(tmp_path, key)
    STAGE_CORRUPTIONS[how](entry(tmp_path), tmp_path)
    result, calls = run_stage(tmp_path, key)
    assert calls == 1 and same(result, truth)
    assert run_stage(tmp_path, key)[1] == 0  # rewritten, trusted again


@FUZZ
@given(data=st.data())
def test_randomly_damaged_stage_cache_never_changes_results(tmp_path, data):
    key = [np.arange(4.0), "cfg"]
    truth, _ = run_stage(tmp_path, key)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "stages" / entry(tmp_path).name
        copy.parent.mkdir()
        raw = bytearray(entry(tmp_path).read_bytes())
        at = data.draw(st.integers(0, len(raw) - 1), label="at")
        raw[at] ^= data.draw(st.integers(1, 255), label="xor")
        copy.write_bytes(bytes(raw[: data.draw(st.integers(1, len(raw)), label="keep")]))
        result, _ = run_stage(Path(tmp), key)
        assert same(result, truth)


def test_stage_cache_keeps_the_newest_entries_per_stage(tmp_path):
    from taxonomy import stage_cache

    calls = []
    for i in range(stage_cache.KEEP + 3):
        stage_cache.cached_arrays(
            tmp_path, "demo", [i], lambda i=i: calls.append(i) or {"x": np.arange(i)}
        )
    stage_cache.cached_arrays(tmp_path, "other", [0], lambda: {"x": np.zeros(1)})
    assert len(list((tmp_path / "stages").glob("demo-*.npz"))) == stage_cache.KEEP
    assert len(list((tmp_path / "stages").glob("other-*.npz"))) == 1
    # the newest entry is still served from disk; the oldest was evicted and is recomputed
    last = stage_cache.KEEP + 2
    stage_cache.cached_arrays(tmp_path, "demo", [last], lambda: calls.append("again") or {})
    stage_cache.cached_arrays(
        tmp_path, "demo", [0], lambda: calls.append("first") or {"x": np.arange(0)}
    )
    assert calls[-1] == "first" and "again" not in calls


def test_cached_json_returns_what_was_stored_both_times(tmp_path):
    from taxonomy.stage_cache import cached_json

    value = {"labels": {"topic-1": "KV cache"}, "rows": (1, 2)}
    first = cached_json(tmp_path, "j", ["k"], lambda: value)
    second = cached_json(tmp_path, "j", ["k"], lambda: {"not": "used"})
    assert first == second == {"labels": {"topic-1": "KV cache"}, "rows": [1, 2]}


def test_texts_digest_separates_boundaries():
    from taxonomy.stage_cache import texts_digest

    assert texts_digest(["ab", "c"]) != texts_digest(["a", "bc"])
    assert texts_digest(["ab", "c"]) == texts_digest(["ab", "c"])
