"""On-disk memo of deterministic stage results (dicts of arrays), validated before use.

An entry is `stages/<stage>-<key>.npz`, where the key hashes everything the result depends on.
Besides the arrays it stores that full key, so an entry is used only if it is readable, its
zip CRCs check out, it holds the key it is filed under (not a copied or renamed file) and its
float arrays are finite; anything else is deleted and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.atomic import write_atomic

log = logging.getLogger(__name__)

KEY_FIELD = "__key__"
KEEP = 16  # entries kept per stage


def cache_key(key_parts: list[Any]) -> str:
    digest = hashlib.sha256()
    for part in key_parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            digest.update(_bytes_of(part))
        else:
            digest.update(json.dumps(part, sort_keys=True).encode())
    return digest.hexdigest()


def _bytes_of(array: np.ndarray) -> memoryview | bytes:
    """The array's bytes, read in place: a copy (`tobytes`) of a 1M-paper run's vectors was
    2 GB at the label stage's key, the run's peak."""
    contiguous = np.ascontiguousarray(array)
    if contiguous.dtype.hasobject:
        return contiguous.tobytes()
    return memoryview(contiguous.reshape(-1)).cast("B")


def _load(path: Path, key: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}  # reading checks the CRCs
    except Exception as exc:
        log.warning("stage cache %s unreadable (%s); recomputing", path, exc)
        return None
    stored = arrays.pop(KEY_FIELD, None)
    if stored is None or str(stored) != key:
        log.warning("stage cache %s was not written for this input; recomputing", path)
        return None
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            log.warning("stage cache %s: %s is not finite; recomputing", path, name)
            return None
    return arrays


def cached_arrays(
    cache_dir: Path,
    stage: str,
    key_parts: list[Any],
    compute: Callable[[], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """compute() (a dict of arrays), memoised on disk under a hash of `key_parts`."""
    key = cache_key(key_parts)
    arrays = load_arrays(cache_dir, stage, key)
    if arrays is None:
        arrays = compute()
        store_arrays(cache_dir, stage, key, arrays)
    return arrays


def load_arrays(cache_dir: Path, stage: str, key: str) -> dict[str, np.ndarray] | None:
    """The arrays `store_arrays` filed under `key` (a `cache_key`), or None (a damaged or
    misfiled entry is deleted)."""
    path = _entry(cache_dir, stage, key)
    if not path.is_file():
        return None
    arrays = _load(path, key)
    if arrays is None:
        path.unlink(missing_ok=True)
    return arrays


def store_arrays(cache_dir: Path, stage: str, key: str, arrays: dict[str, np.ndarray]) -> None:
    if KEY_FIELD in arrays:
        raise ValueError(f"{KEY_FIELD} is reserved")
    path = _entry(cache_dir, stage, key)
    write_atomic(path, lambda handle: np.savez(handle, **arrays, **{KEY_FIELD: np.array(key)}))
    _evict(path.parent, stage)


def _entry(cache_dir: Path, stage: str, key: str) -> Path:
    return cache_dir / "stages" / f"{stage}-{key[:24]}.npz"


def _evict(folder: Path, stage: str) -> None:
    """Keep the newest KEEP entries of a stage: the cache serves re-runs of recent inputs and
    must not grow with every corpus and setting ever run (a 1M-paper lexical entry is 0.5 GB)."""
    entries = []
    for entry in folder.glob(f"{stage}-*.npz"):
        try:
            entries.append((entry.stat().st_mtime_ns, entry.name, entry))
        except OSError:  # removed by a concurrent run
            continue
    for *_, entry in sorted(entries, reverse=True)[KEEP:]:
        entry.unlink(missing_ok=True)


def cached_json(
    cache_dir: Path, stage: str, key_parts: list[Any], compute: Callable[[], Any]
) -> Any:
    """compute() (a JSON value), memoised like `cached_arrays`: the value is returned as read
    back from JSON (tuples come back as lists), computed or not, so both paths agree."""
    arrays = cached_arrays(
        cache_dir, stage, key_parts, lambda: {"json": np.array(json.dumps(compute()))}
    )
    return json.loads(str(arrays["json"]))


def texts_digest(texts: Sequence[str]) -> str:
    """One hash of a list of texts (order and boundaries included), for cache keys."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


@cache
def code_digest() -> str:
    """Hash of the package's source and data files (bundled vocabularies): a cached result
    computed by other code (another version, or a change during development) is never
    reused."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
