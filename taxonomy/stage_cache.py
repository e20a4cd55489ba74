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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from taxonomy.atomic import write_atomic

log = logging.getLogger(__name__)

KEY_FIELD = "__key__"


def cache_key(key_parts: list[Any]) -> str:
    digest = hashlib.sha256()
    for part in key_parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True).encode())
    return digest.hexdigest()


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
    path = cache_dir / "stages" / f"{stage}-{key[:24]}.npz"
    if path.is_file():
        arrays = _load(path, key)
        if arrays is not None:
            return arrays
        path.unlink(missing_ok=True)
    result = compute()
    if KEY_FIELD in result:
        raise ValueError(f"{KEY_FIELD} is reserved")
    write_atomic(path, lambda handle: np.savez(handle, **result, **{KEY_FIELD: np.array(key)}))
    return result
