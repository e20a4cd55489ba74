"""Damaged caches are detected and rebuilt, never trusted.

The embedding cache (.cache/embeddings/<model>-<tokens>.npz) and the stage cache
(.cache/stages/<stage>-<key>.npz) are corrupted in every way we could think of -- truncated,
random bytes flipped, written by another model / dimension / max_tokens, keys duplicated,
non-finite or non-unit vectors, another entry copied over -- and the result must always equal
what an empty cache gives. The fuzz tests run 40 + 40 cases (settings below).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomy.embed import MODEL_DIM, _cache_file, embed_texts, load_cache, save_cache
from taxonomy.models import text_key
from taxonomy.stage_cache import cached_arrays

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

    def __init__(self, max_tokens: int = 256) -> None:
        self.calls = 0
        self.max_tokens = max_tokens

    def chunk(self, n_missing: int) -> int:
        return 32

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        rng = [np.random.default_rng(int(text_key(t)[:8], 16)) for t in texts]
        vectors = np.stack([r.standard_normal(DIM) for r in rng]).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def embed(cache_dir: Path, texts=TEXTS, max_tokens: int = 256):
    encoder = Encoder(max_tokens)
    vectors, newly = embed_texts(texts, encoder, cache_dir=cache_dir)
    assert newly == encoder.calls
    return vectors, newly


@pytest.fixture
def warm(tmp_path):
    """A cache dir holding the embeddings of TEXTS, and the true vectors."""
    vectors, newly = embed(tmp_path)
    assert newly == len(TEXTS)
    return tmp_path, vectors, _cache_file(tmp_path, MODEL, 256)


def test_a_good_cache_is_used(warm):
    cache_dir, truth, _ = warm
    vectors, newly = embed(cache_dir)
    assert newly == 0 and np.array_equal(vectors, truth)


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
def test_corrupted_embedding_cache_is_rebuilt(warm, how):
    cache_dir, truth, path = warm
    CORRUPTIONS[how](path)
    vectors, newly = embed(cache_dir)
    assert newly == len(TEXTS), "a damaged cache must not be used"
    assert np.array_equal(vectors, truth)
    # ... and the rebuilt file is good again.
    assert len(load_cache(path, MODEL, DIM, 256)) == len(TEXTS)
    assert embed(cache_dir)[1] == 0


def test_cache_from_before_max_tokens_was_recorded_is_still_used(warm):
    cache_dir, truth, path = warm
    rewrite(path, meta=np.array(json.dumps({"model": MODEL})))
    vectors, newly = embed(cache_dir)
    assert newly == 0 and np.array_equal(vectors, truth)


def test_cache_of_other_max_tokens_is_a_separate_file(warm):
    cache_dir, _, _ = warm
    assert embed(cache_dir, max_tokens=128)[1] == len(TEXTS)
    save_cache(_cache_file(cache_dir, MODEL, 64), MODEL, {}, 64)  # empty: nothing to trust
    assert load_cache(_cache_file(cache_dir, MODEL, 64), MODEL, DIM, 64) == {}


@FUZZ
@given(data=st.data())
def test_randomly_damaged_embedding_cache_never_changes_results(warm, data):
    cache_dir, truth, path = warm
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
