"""The sharded embedding store (taxonomy/store.py): append-only shards, memory-mapped reads,
checkpoints that survive a killed writer, concurrent writers, damaged shards, compaction and
migration from the old single-.npz cache."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from taxonomy.errors import TaxonomyError
from taxonomy.store import EmbeddingStore, safe_identity

ROOT = Path(__file__).resolve().parents[1]
DIM = 8
IDENTITY = "all-MiniLM-L6-v2-256"


def make_keys(n: int, tag: str = "a") -> list[str]:
    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(n)]


def unit(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def shard_stems(store: EmbeddingStore) -> list[str]:
    return sorted(p.name[: -len(".keys.npy")] for p in store.path.glob("shard-*.keys.npy"))


def run_python(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env)


CHILD_HELPERS = """
import hashlib, os, signal, sys, time
from pathlib import Path
import numpy as np
from taxonomy.store import EmbeddingStore

def make_keys(n, tag="a"):
    return [hashlib.sha256(f"{tag}-{i}".encode()).hexdigest() for i in range(n)]

def unit(n, dim=8, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
"""


def test_round_trip(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(50), unit(50)
    assert store.add(keys, vectors) == 50
    assert store.path == tmp_path / IDENTITY
    out, found = EmbeddingStore(tmp_path, IDENTITY, DIM).lookup(keys)  # a fresh reader
    assert found.all() and out.dtype == np.float32 and out.shape == (50, DIM)
    np.testing.assert_array_equal(out, vectors)
    # any order, repeats
    order = [7, 3, 3, 49, 0]
    out, found = store.lookup([keys[i] for i in order])
    assert found.all()
    np.testing.assert_array_equal(out, vectors[order])


def test_lookup_missing_keys(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    out, found = store.lookup(make_keys(3))
    assert out.shape == (3, DIM) and not found.any() and not out.any()
    out, found = store.lookup([])
    assert out.shape == (0, DIM) and found.shape == (0,)
    keys, vectors = make_keys(10), unit(10)
    store.add(keys[::2], vectors[::2])
    out, found = store.lookup(keys)
    assert found.tolist() == [True, False] * 5
    np.testing.assert_array_equal(out[::2], vectors[::2])
    assert not out[1::2].any()


def test_keys_sharing_a_prefix(tmp_path):
    # The index sorts 16-hex-digit prefixes; keys sharing one are told apart by the full key.
    base = make_keys(1)[0]
    keys = [base[:16] + "0" * 48, base[:16] + "f" * 48, base[:16] + "1" * 48]
    vectors = unit(3)
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    store.add(keys[:1], vectors[:1])
    store.add(keys[1:2], vectors[1:2])
    out, found = store.lookup(list(reversed(keys)))
    assert found.tolist() == [False, True, True]
    np.testing.assert_array_equal(out[1:], vectors[[1, 0]])


@pytest.mark.parametrize(
    ("keys", "vectors"),
    [
        (make_keys(2), unit(3)),  # lengths differ
        (make_keys(2), unit(2, dim=DIM + 1)),  # width
        (make_keys(2), unit(2) * 2),  # not unit length
        (make_keys(2), np.full((2, DIM), np.nan, np.float32)),
        (["not-a-hash", make_keys(1)[0]], unit(2)),
        ([make_keys(1)[0].upper(), make_keys(2)[1]], unit(2)),
        (make_keys(2), unit(2).astype(np.int64)),
    ],
)
def test_add_refuses_bad_input(tmp_path, keys, vectors):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    with pytest.raises(ValueError):
        store.add(keys, vectors)
    assert shard_stems(store) == []


def test_add_keeps_a_repeated_key_once(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(3), unit(3)
    store.add(keys + keys[:1], np.concatenate([vectors, vectors[:1]]))
    assert len(store) == 3
    np.testing.assert_array_equal(store.lookup(keys)[0], vectors)


def test_width_and_identity_are_kept_apart(tmp_path):
    EmbeddingStore(tmp_path, IDENTITY, DIM).add(make_keys(2), unit(2))
    with pytest.raises(TaxonomyError, match="width 8"):
        EmbeddingStore(tmp_path, IDENTITY, 16)
    other = EmbeddingStore(tmp_path, "all-MiniLM-L6-v2-128", DIM)
    assert not other.lookup(make_keys(2))[1].any()
    odd = EmbeddingStore(tmp_path, "../model/with spaces", DIM)
    assert odd.path.parent == tmp_path and odd.path.name.startswith("_model_with_spaces-")
    assert safe_identity("a/b") != safe_identity("a_b")


def test_writer_checkpoints(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(35), unit(35)
    with store.writer(checkpoint_rows=10) as writer:
        for start in range(0, 35, 5):
            writer.add(keys[start : start + 5], vectors[start : start + 5])
            # every completed checkpoint is on disk already
            assert store.lookup(keys)[1].sum() == (start + 5) // 10 * 10
    assert writer.written == 35 and len(shard_stems(store)) == 4
    np.testing.assert_array_equal(store.lookup(keys)[0], vectors)


def test_writer_keeps_rows_when_the_block_fails(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(6), unit(6)
    with pytest.raises(RuntimeError), store.writer(checkpoint_rows=100) as writer:
        writer.add(keys, vectors)
        raise RuntimeError("the model crashed")
    assert store.lookup(keys)[1].all()


def test_killed_writer_keeps_completed_checkpoints(tmp_path):
    # The child embeds 500 rows in chunks of 10 with a checkpoint every 50 and is SIGKILLed
    # after 230 rows: the 200 rows of its four completed checkpoints survive, the rest is gone.
    code = CHILD_HELPERS + textwrap.dedent(
        """
    store = EmbeddingStore(Path(sys.argv[1]), "m", 8)
    keys, vectors = make_keys(500), unit(500)
    with store.writer(checkpoint_rows=50) as writer:
        for start in range(0, 500, 10):
            writer.add(keys[start:start + 10], vectors[start:start + 10])
            if start + 10 == 230:
                os.kill(os.getpid(), signal.SIGKILL)
    """
    )
    child = run_python(code, str(tmp_path))
    assert child.wait(timeout=60) == -9
    store = EmbeddingStore(tmp_path, "m", DIM)
    keys, vectors = make_keys(500), unit(500)
    out, found = store.lookup(keys)
    assert found[:200].all() and not found[200:].any()
    np.testing.assert_array_equal(out[:200], vectors[:200])
    # resume: only what is missing is written
    with store.writer(checkpoint_rows=1000) as writer:
        writer.add([k for k, f in zip(keys, found, strict=True) if not f], vectors[~found])
    assert writer.written == 300 and store.lookup(keys)[1].all() and len(store) == 500


def test_leftovers_of_a_killed_writer_are_ignored_then_removed(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(4), unit(4)
    store.add(keys[:2], vectors[:2])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    stem = f"shard-{time.time_ns():020d}-{pid}-000001-deadbeef"
    # killed between its two renames (vectors without keys), and while writing (a temp file)
    np.save(store.path / f"{stem}.vecs.npy", vectors[2:])
    (store.path / f".{stem}.keys.npy.tmp").write_bytes(b"\x93NUMPY partial")
    store.add(keys[2:3], vectors[2:3])
    out, found = EmbeddingStore(tmp_path, IDENTITY, DIM).lookup(keys)
    assert found.tolist() == [True, True, True, False]
    old = time.time() - 2 * 3600
    for path in store.path.glob(f"*{stem}*"):
        os.utime(path, (old, old))
    store.compact()
    assert not list(store.path.glob(f"*{stem}*"))
    assert store.lookup(keys)[1].tolist() == [True, True, True, False]


def test_concurrent_writers_keep_all_vectors(tmp_path):
    # Two processes add 2,000 distinct keys each in 100-row checkpoints (compacting whenever
    # more than 8 shards exist) while this process keeps looking up: nothing is lost, no key
    # that was found ever goes missing again, and every vector read is the right one.
    code = CHILD_HELPERS + textwrap.dedent(
        """
    tag, seed = sys.argv[2], int(sys.argv[3])
    store = EmbeddingStore(Path(sys.argv[1]), "m", 8, max_shards=8)
    keys, vectors = make_keys(2000, tag), unit(2000, seed=seed)
    while not (Path(sys.argv[1]) / "go").exists():
        time.sleep(0.01)
    with store.writer(checkpoint_rows=100) as writer:
        for start in range(0, 2000, 25):
            writer.add(keys[start:start + 25], vectors[start:start + 25])
    """
    )
    children = [
        run_python(code, str(tmp_path), tag, str(seed)) for tag, seed in (("x", 1), ("y", 2))
    ]
    keys = make_keys(2000, "x") + make_keys(2000, "y")
    vectors = np.concatenate([unit(2000, seed=1), unit(2000, seed=2)])
    reader = EmbeddingStore(tmp_path, "m", DIM)
    time.sleep(0.5)
    (tmp_path / "go").touch()
    seen = np.zeros(len(keys), bool)
    while any(child.poll() is None for child in children):
        out, found = reader.lookup(keys)
        assert found[seen].all()
        np.testing.assert_array_equal(out[found], vectors[found])
        seen |= found
    assert [child.returncode for child in children] == [0, 0]
    for store in (reader, EmbeddingStore(tmp_path, "m", DIM)):
        out, found = store.lookup(keys)
        assert found.all()
        np.testing.assert_array_equal(out, vectors)
    assert len(shard_stems(reader)) < 20  # 40 checkpoints were written: some were merged


def _damage_truncate_vectors(keys_path: Path, vecs_path: Path) -> None:
    vecs_path.write_bytes(vecs_path.read_bytes()[:-20])


def _damage_truncate_keys(keys_path: Path, vecs_path: Path) -> None:
    keys_path.write_bytes(keys_path.read_bytes()[:100])


def _damage_wrong_dtype(keys_path: Path, vecs_path: Path) -> None:
    np.save(vecs_path, np.load(vecs_path).astype(np.float64))


def _damage_wrong_length(keys_path: Path, vecs_path: Path) -> None:
    np.save(vecs_path, np.load(vecs_path)[:-1])


def _damage_not_finite(keys_path: Path, vecs_path: Path) -> None:
    vectors = np.load(vecs_path)
    vectors[3, 2] = np.inf
    np.save(vecs_path, vectors)


def _damage_not_unit(keys_path: Path, vecs_path: Path) -> None:
    np.save(vecs_path, np.load(vecs_path) * 1.5)


def _damage_garbage(keys_path: Path, vecs_path: Path) -> None:
    vecs_path.write_bytes(os.urandom(500))


def _damage_bad_keys(keys_path: Path, vecs_path: Path) -> None:
    keys = np.load(keys_path)
    keys[0] = b"z" * 64
    np.save(keys_path, keys)


def _damage_missing_vectors(keys_path: Path, vecs_path: Path) -> None:
    vecs_path.unlink()


def _damage_pickled(keys_path: Path, vecs_path: Path) -> None:
    np.save(vecs_path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    "damage",
    [
        _damage_truncate_vectors,
        _damage_truncate_keys,
        _damage_wrong_dtype,
        _damage_wrong_length,
        _damage_not_finite,
        _damage_not_unit,
        _damage_garbage,
        _damage_bad_keys,
        _damage_missing_vectors,
        _damage_pickled,
    ],
)
def test_damaged_shard_is_dropped_alone(tmp_path, caplog, damage):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(30), unit(30)
    for start in range(0, 30, 10):
        store.add(keys[start : start + 10], vectors[start : start + 10])
    victim = shard_stems(store)[1]
    damage(store.path / f"{victim}.keys.npy", store.path / f"{victim}.vecs.npy")
    with caplog.at_level(logging.WARNING, logger="taxonomy.store"):
        out, found = EmbeddingStore(tmp_path, IDENTITY, DIM).lookup(keys)
    assert any(victim in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert found.tolist() == [True] * 10 + [False] * 10 + [True] * 10
    np.testing.assert_array_equal(out[found], vectors[found])
    assert not out[~found].any()
    assert victim not in shard_stems(store)
    assert (store.path / "damaged" / f"{victim}.keys.npy").exists()
    # rebuilt alone: re-embedding the missing keys makes the store whole again
    store.add(keys[10:20], vectors[10:20])
    out, found = store.lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(out, vectors)


def test_damage_found_by_a_reader_that_indexed_the_shard_before(tmp_path, caplog):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(20), unit(20)
    store.add(keys[:10], vectors[:10])
    assert store.lookup(keys[:1])[1].all()  # indexed, rows not yet read
    store.add(keys[10:], vectors[10:])
    victim = shard_stems(store)[0]
    array = np.load(store.path / f"{victim}.vecs.npy", mmap_mode="r+")
    array[5] = 0.0  # in place, under the reader's mapping
    array.flush()
    with caplog.at_level(logging.WARNING, logger="taxonomy.store"):
        out, found = store.lookup(keys)
    assert "damaged" in caplog.text
    assert found.tolist() == [False] * 10 + [True] * 10
    np.testing.assert_array_equal(out[10:], vectors[10:])


def test_verify_checks_every_vector(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(20), unit(20)
    store.add(keys[:10], vectors[:10])
    store.add(keys[10:], vectors[10:])
    victim = shard_stems(store)[1]
    _damage_not_finite(store.path / f"{victim}.keys.npy", store.path / f"{victim}.vecs.npy")
    assert store.verify() == [victim]
    assert store.verify() == []
    assert store.lookup(keys)[1].tolist() == [True] * 10 + [False] * 10


def test_compaction_keeps_every_vector(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM, max_shards=1000)
    keys, vectors = make_keys(200), unit(200)
    for start in range(0, 200, 20):
        store.add(keys[start : start + 20], vectors[start : start + 20])
    store.add(keys[:30], vectors[:30])  # duplicates: the same key in two shards
    store.add(keys[:10], vectors[:10])  # and in three
    assert len(store) == 240
    reader = EmbeddingStore(tmp_path, IDENTITY, DIM)
    assert reader.lookup(keys)[1].all()  # indexed before compaction
    assert store.compact() == 12
    assert len(shard_stems(store)) == 1 and len(store) == 200
    for instance in (store, reader, EmbeddingStore(tmp_path, IDENTITY, DIM)):
        out, found = instance.lookup(keys[::-1] + make_keys(5, "none"))
        assert found.tolist() == [True] * 200 + [False] * 5
        np.testing.assert_array_equal(out[:200], vectors[::-1])
    assert store.compact() == 0  # one shard: nothing to do


def test_compaction_drops_a_damaged_shard(tmp_path, caplog):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    keys, vectors = make_keys(30), unit(30)
    for start in range(0, 30, 10):
        store.add(keys[start : start + 10], vectors[start : start + 10])
    victim = shard_stems(store)[0]
    _damage_not_unit(store.path / f"{victim}.keys.npy", store.path / f"{victim}.vecs.npy")
    with caplog.at_level(logging.WARNING, logger="taxonomy.store"):
        assert store.compact() == 2
    assert victim in caplog.text
    out, found = store.lookup(keys)
    assert found.tolist() == [False] * 10 + [True] * 20
    np.testing.assert_array_equal(out[10:], vectors[10:])


def test_automatic_compaction_merges_small_shards_only(tmp_path):
    store = EmbeddingStore(tmp_path, IDENTITY, DIM, max_shards=4, merge_below=50)
    keys, vectors = make_keys(400), unit(400)
    store.add(keys[:300], vectors[:300])  # big: never merged automatically
    big = shard_stems(store)
    for start in range(300, 400, 10):
        store.add(keys[start : start + 10], vectors[start : start + 10])
        assert len(shard_stems(store)) <= 4
    assert big[0] in shard_stems(store)
    out, found = store.lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(out, vectors)


def test_compaction_waits_for_the_lock_or_skips(tmp_path):
    import fcntl

    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    for start in range(0, 20, 10):
        store.add(make_keys(20)[start : start + 10], unit(20)[start : start + 10])
    fd = os.open(store.path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert store.compact(block=False) == 0
        assert len(shard_stems(store)) == 2
    finally:
        os.close(fd)
    assert store.compact(block=False) == 2


def _old_cache(path: Path, model: str, cache: dict[str, np.ndarray], max_tokens: int) -> None:
    """An embedding cache in the old single-file format (as `embed.save_cache` writes it)."""
    keys = sorted(cache)
    vectors = np.stack([cache[k] for k in keys]).astype(np.float32)
    buffer = io.BytesIO()
    meta = {"model": model, "max_tokens": max_tokens}
    np.savez(buffer, meta=json.dumps(meta), keys=np.array(keys), vectors=vectors)
    path.write_bytes(buffer.getvalue())


def test_import_old_npz_cache(tmp_path, caplog):
    keys, vectors = make_keys(40), unit(40)
    old = tmp_path / f"{IDENTITY}.npz"
    _old_cache(old, "all-MiniLM-L6-v2", dict(zip(keys, vectors, strict=True)), 256)
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    store.add(keys[:5], vectors[:5])
    assert store.import_npz(old, model="all-MiniLM-L6-v2", max_tokens=256) == 35
    assert store.import_npz(old) == 0  # once
    out, found = EmbeddingStore(tmp_path, IDENTITY, DIM).lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(out, vectors)
    assert store.import_npz(tmp_path / "absent.npz") == 0


def test_import_npz_refuses_what_load_cache_refuses(tmp_path, caplog):
    keys, vectors = make_keys(10), unit(10)
    cache = dict(zip(keys, vectors, strict=True))
    store = EmbeddingStore(tmp_path, IDENTITY, DIM)
    good = tmp_path / "good.npz"
    _old_cache(good, "all-MiniLM-L6-v2", cache, 256)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:-50])
    not_unit = tmp_path / "not_unit.npz"
    _old_cache(not_unit, "all-MiniLM-L6-v2", {k: v * 3 for k, v in cache.items()}, 256)
    wide = tmp_path / "wide.npz"
    _old_cache(wide, "all-MiniLM-L6-v2", dict(zip(keys, unit(10, dim=16), strict=True)), 256)
    with caplog.at_level(logging.WARNING, logger="taxonomy.store"):
        assert store.import_npz(good, model="other-model") == 0
        assert store.import_npz(good, max_tokens=128) == 0
        for path in (truncated, not_unit, wide):
            assert store.import_npz(path) == 0
    assert caplog.text.count("not imported") == 5
    assert shard_stems(store) == [] and not store.lookup(keys)[1].any()


def test_large_store_is_memory_mapped(tmp_path):
    # 200k x 384 float32 (293 MiB): lookups read rows from the mapped files, nothing is copied.
    n, dim, block_rows = 200_000, 384, 50_000
    keys = make_keys(n)
    picks = np.random.default_rng(1).choice(n, 1000, replace=False)
    expected = np.zeros((len(picks), dim), np.float32)
    rng = np.random.default_rng(7)
    store = EmbeddingStore(tmp_path, "big", dim)
    with store.writer(checkpoint_rows=100_000) as writer:
        for start in range(0, n, block_rows):
            block = rng.standard_normal((block_rows, dim), dtype=np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            inside = (picks >= start) & (picks < start + block_rows)
            expected[inside] = block[picks[inside] - start]
            writer.add(keys[start : start + block_rows], block)
    del block
    reader = EmbeddingStore(tmp_path, "big", dim)
    out, found = reader.lookup([keys[i] for i in picks])
    assert found.all()
    np.testing.assert_array_equal(out, expected)
    arrays = reader.shard_arrays()
    assert [len(k) for k, _ in arrays] == [100_000, 100_000]
    assert all(isinstance(k, np.memmap) and isinstance(v, np.memmap) for k, v in arrays)
    assert all(v.dtype == np.float32 and v.shape[1] == dim for _, v in arrays)
