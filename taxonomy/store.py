"""Embedding store: append-only shards of (text hash -> unit vector), memory-mapped on read.

Layout: `folder/<safe identity>/`, one folder per model and settings (`identity`, e.g.
"all-MiniLM-L6-v2-256"), holding

- `store.json`: the identity and the vector width, written once; a store opened with another
  width is refused instead of having every shard taken for damaged;
- shards, each a pair `shard-<time>-<pid>-<counter>-<random>.keys.npy` (the text hashes,
  fixed-width 64-byte ASCII, `S64`) and `....vecs.npy` (float32 `[n, dim]`). The vectors are
  written first, the keys last, each to a temp file, fsynced and renamed in, so a listed keys
  file always has its complete vectors beside it. Names carry pid, a counter and random bytes:
  concurrent writers never collide and need no lock (per-writer shards: nobody's additions are
  lost);
- `.lock`: taken (fcntl.flock, exclusive) by compaction only;
- `damaged/`: shards found damaged are moved here, alone; their keys become missing and are
  embedded again by whoever needs them.

Reading builds one in-memory index per process (sorted 64-bit hash prefixes -> shard, row; 16
bytes a vector) from the keys files and keeps the shards memory-mapped, so looking up a few rows
of a 1M x 384 store touches only those rows' pages. Every lookup lists the folder and indexes
shards that appeared since (a full rebuild when some disappeared: compaction or quarantine).

Checks: opening a shard checks both headers (dtype, shape, vector width, equal lengths, files
complete) and that every key is 64 lowercase hex digits; the vectors a lookup returns are
checked to be finite and unit length (a full scan of every shard on each open would read the
whole store); `compact()` and `verify()` check every vector of the shards they read. A shard
failing a check is logged, moved to `damaged/` and skipped; the others stay valid.

Compaction merges small shards into one (automatically when more than `max_shards` exist): it
writes the merged shard first, then removes the merged ones, so a concurrent reader sees either
the old shards, or both (duplicates: same key, same vector), or the merged one; a reader that
finds a listed shard gone lists again.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import json
import logging
import mmap
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from taxonomy.atomic import fsync_dir as _fsync_dir
from taxonomy.errors import TaxonomyError

log = logging.getLogger(__name__)

KEY_LEN = 64
KEY_DTYPE = np.dtype(f"S{KEY_LEN}")
VEC_DTYPE = np.dtype("<f4")
NORM_TOL = 1e-2  # as the old .npz cache (load_cache): fp16 GPU vectors are unit length to ~1e-3
KEYS_SUFFIX = ".keys.npy"
VECS_SUFFIX = ".vecs.npy"
DAMAGED = "damaged"
META = "store.json"
LOCK = ".lock"
_SHARD = re.compile(r"^shard-\d+-(?P<pid>\d+)-\d+-[0-9a-f]+$")
_TEMP = re.compile(r"^\.(?P<stem>shard-\d+-(?P<pid>\d+)-\d+-[0-9a-f]+)\.(keys|vecs)\.npy\.tmp$")
_STALE_S = 3600.0  # leftovers (temp files, vectors without keys) of a dead writer, this old
_CHUNK = 65536  # rows per step when scanning or copying a shard
_COUNTER = itertools.count()
_DENSE = 16  # a lookup wanting one row in this many of a shard reads it with readahead

# hex digit byte -> nibble; 255 for anything else
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)  # 16 nibbles -> one uint64


class DamagedShard(Exception):
    """A shard whose files are complete but whose content cannot be trusted."""


class _Vanished(Exception):
    """A listed shard was removed (by compaction or quarantine) before it could be opened."""


def safe_identity(identity: str) -> str:
    """A folder name for `identity`: itself when it is a plain name, else a cleaned name plus a
    hash of the original (two identities never share a folder)."""
    if not identity:
        raise ValueError("identity must be a non-empty string")
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", identity).lstrip(".")[:80]
    if clean == identity:
        return clean
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    return f"{clean or 'store'}-{digest}"


def _prefixes(keys: np.ndarray) -> np.ndarray:
    """uint64 of the first 16 hex digits of each `S64` key; ValueError if any key is not
    64 lowercase hex digits. Works in chunks (a 1M-key memmap is not copied whole)."""
    out = np.empty(len(keys), dtype=np.uint64)
    for start in range(0, len(keys), _CHUNK):
        raw = np.asarray(keys[start : start + _CHUNK])
        nibbles = _NIBBLE[raw.view(np.uint8).reshape(len(raw), KEY_LEN)]
        if (nibbles == 255).any():
            raise ValueError("keys are not 64 lowercase hex digits")
        out[start : start + len(raw)] = (nibbles[:, :16].astype(np.uint64) << _SHIFTS).sum(
            axis=1, dtype=np.uint64
        )
    return out


def encode_keys(keys: Sequence[str] | np.ndarray) -> np.ndarray:
    """Text hashes (`str`, 64 lowercase hex digits, as `models.text_key`) as an `S64` array."""
    if isinstance(keys, np.ndarray) and keys.dtype == KEY_DTYPE:
        encoded = keys
    else:
        keys = list(keys)
        if any(not isinstance(k, str) or len(k) != KEY_LEN for k in keys):
            raise ValueError("keys must be 64-character hex strings")
        try:
            encoded = np.array(keys, dtype=KEY_DTYPE) if keys else np.zeros(0, KEY_DTYPE)
        except UnicodeEncodeError as exc:
            raise ValueError("keys must be 64-character hex strings") from exc
    if len(encoded) and (np.char.str_len(encoded) != KEY_LEN).any():
        raise ValueError("keys must be 64-character hex strings")
    _prefixes(encoded)  # validates
    return encoded


def _bad_rows(vectors: np.ndarray) -> bool:
    """Whether any row is non-finite or not unit length."""
    if not len(vectors):
        return False
    if not np.isfinite(vectors).all():
        return True
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
    return bool((np.abs(norms - 1.0) > NORM_TOL).any())


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _advise(array: np.ndarray, name: str) -> None:
    """madvise the mapping under `array`: MADV_RANDOM for lookups, which read scattered rows
    (no readahead around each one: 20k lookups in a cold 1M-row store would read most of it),
    MADV_SEQUENTIAL for scans (compaction, verify)."""
    handle = getattr(array, "_mmap", None)
    advice = getattr(mmap, name, None)
    if handle is not None and advice is not None:
        try:
            handle.madvise(advice)
        except (OSError, ValueError):
            pass


def _write_npy(path: Path, dtype: np.dtype, shape: tuple[int, ...], chunks: Iterable) -> None:
    """Write an .npy file from row chunks: temp file beside `path`, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    written = 0
    try:
        with open(tmp, "xb") as handle:
            header = {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": False,
                "shape": shape,
            }
            np.lib.format.write_array_header_1_0(handle, header)
            for chunk in chunks:
                data = np.ascontiguousarray(chunk, dtype=dtype)
                handle.write(data.data)
                written += data.nbytes
            if written != expected:
                raise RuntimeError(f"wrote {written} bytes of {expected} into {path.name}")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass
class _Shard:
    stem: str
    keys: np.ndarray  # memmap S64 [n]
    vectors: np.ndarray  # memmap float32 [n, dim]


class EmbeddingStore:
    """Vectors of one model + settings (`identity`), keyed by text hash, in `folder/<identity>/`.

    One instance per process (it is thread-safe); any number of processes may add, look up and
    compact the same folder at once.
    """

    def __init__(
        self,
        folder: Path,
        identity: str,
        dim: int,
        *,
        max_shards: int = 64,
        merge_below: int = 131072,
    ) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.identity = identity
        self.dim = int(dim)
        self.path = Path(folder) / safe_identity(identity)
        self.max_shards = max_shards
        self.merge_below = merge_below  # automatic compaction merges only shards smaller than this
        self.path.mkdir(parents=True, exist_ok=True)
        self._check_meta()
        self._mutex = threading.RLock()
        self._shards: dict[str, _Shard] = {}
        self._order: list[str] = []  # stems, index into it is the shard number of the index
        self._prefix = np.zeros(0, np.uint64)  # sorted
        self._loc_shard = np.zeros(0, np.int32)
        self._loc_row = np.zeros(0, np.int64)

    # ---------------------------------------------------------------- layout

    def _check_meta(self) -> None:
        path = self.path / META
        meta = {"identity": self.identity, "dim": self.dim}
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(found, dict):
                raise ValueError("not a mapping")
        except FileNotFoundError:
            tmp = self.path / f".{META}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            tmp.write_text(json.dumps(meta) + "\n", encoding="utf-8")
            os.replace(tmp, path)  # two first openers write the same content
            return
        except (OSError, ValueError) as exc:
            log.warning("embedding store %s: %s unreadable (%s); rewriting", self.path, META, exc)
            path.unlink(missing_ok=True)
            return self._check_meta()
        if found.get("dim") != self.dim:
            raise TaxonomyError(
                f"embedding store holds vectors of width {found.get('dim')}, not {self.dim} "
                f"(identity {found.get('identity')!r})",
                path=self.path,
            )

    def _stems(self) -> list[str]:
        """Shards on disk (keys file present), in name order."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        stems = [n[: -len(KEYS_SUFFIX)] for n in names if n.endswith(KEYS_SUFFIX)]
        return sorted(s for s in stems if _SHARD.match(s))

    def _new_stem(self) -> str:
        return (
            f"shard-{time.time_ns():020d}-{os.getpid()}-{next(_COUNTER):06d}-{secrets.token_hex(4)}"
        )

    def _files(self, stem: str) -> tuple[Path, Path]:
        return self.path / f"{stem}{KEYS_SUFFIX}", self.path / f"{stem}{VECS_SUFFIX}"

    # ---------------------------------------------------------------- reading

    def _open(self, stem: str, scattered: bool = True) -> _Shard:
        """Memory-map one shard and check its structure and keys.

        Raises DamagedShard, _Vanished, or OSError (unreadable for a reason that may pass).
        """
        keys_path, vecs_path = self._files(stem)
        try:
            keys = np.load(keys_path, mmap_mode="r", allow_pickle=False)
            try:
                vectors = np.load(vecs_path, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                if keys_path.exists():
                    raise DamagedShard("vectors file missing") from None
                raise
        except FileNotFoundError as exc:
            raise _Vanished(stem) from exc
        except (ValueError, EOFError) as exc:  # bad header, truncated file, pickled object
            raise DamagedShard(f"unreadable ({exc})") from exc
        if keys.dtype != KEY_DTYPE or keys.ndim != 1:
            raise DamagedShard(f"keys of dtype {keys.dtype} and shape {keys.shape}")
        if vectors.dtype != VEC_DTYPE or vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise DamagedShard(
                f"vectors of dtype {vectors.dtype} and shape {vectors.shape}, "
                f"expected float32 (n, {self.dim})"
            )
        if len(keys) != len(vectors):
            raise DamagedShard(f"{len(keys)} keys for {len(vectors)} vectors")
        if scattered:  # for lookups; compaction reads whole shards
            _advise(vectors, "MADV_RANDOM")
        return _Shard(stem, keys, vectors)

    def _quarantine(self, stem: str, problem: object) -> None:
        log.warning("embedding store %s: shard %s damaged (%s); skipped", self.path, stem, problem)
        target = self.path / DAMAGED
        target.mkdir(exist_ok=True)
        for source in self._files(stem):  # keys first: the shard stops being listed at once
            try:
                os.replace(source, target / source.name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("embedding store: cannot move %s aside (%s)", source, exc)

    def _open_all(
        self, stems: Sequence[str], scattered: bool = True
    ) -> tuple[dict[str, _Shard], bool]:
        """Open `stems`; damaged ones are quarantined. Returns (opened, whether any vanished)."""
        opened: dict[str, _Shard] = {}
        vanished = False
        for stem in stems:
            try:
                opened[stem] = self._open(stem, scattered)
            except _Vanished:
                vanished = True
            except DamagedShard as exc:
                self._quarantine(stem, exc)
            except OSError as exc:  # e.g. too many open files: skip now, keep the files
                log.warning("embedding store %s: shard %s unreadable (%s)", self.path, stem, exc)
        return opened, vanished

    def refresh(self) -> None:
        """Bring the index up to date with the shards on disk (done by every lookup)."""
        with self._mutex:
            for _ in range(100):
                stems = self._stems()
                known = set(self._shards)
                if set(stems) == known:
                    return
                if not known <= set(stems):  # some were compacted or moved aside: rebuild
                    self._reset()
                    known = set()
                new = [s for s in stems if s not in known]
                opened, vanished = self._open_all(new)
                if not self._add_to_index([opened[s] for s in new if s in opened]):
                    continue  # a shard had bad keys and was moved aside
                if not vanished:
                    return
            raise RuntimeError(f"embedding store {self.path}: shard list keeps changing")

    def _reset(self) -> None:
        self._shards = {}
        self._order = []
        self._prefix = np.zeros(0, np.uint64)
        self._loc_shard = np.zeros(0, np.int32)
        self._loc_row = np.zeros(0, np.int64)

    def _add_to_index(self, shards: list[_Shard]) -> bool:
        """Index `shards`; False if one had bad keys (it is moved aside, the rest indexed)."""
        prefixes, owners, rows = [self._prefix], [self._loc_shard], [self._loc_row]
        all_good = True
        for shard in shards:
            try:
                prefix = _prefixes(shard.keys)
            except ValueError as exc:
                self._quarantine(shard.stem, exc)
                all_good = False
                continue
            prefixes.append(prefix)
            owners.append(np.full(len(prefix), len(self._order), np.int32))
            rows.append(np.arange(len(prefix), dtype=np.int64))
            self._shards[shard.stem] = shard
            self._order.append(shard.stem)
        if len(prefixes) > 1:
            prefix = np.concatenate(prefixes)
            order = np.argsort(prefix, kind="stable")  # one long sorted run + the new rows
            self._prefix = prefix[order]
            self._loc_shard = np.concatenate(owners)[order]
            self._loc_row = np.concatenate(rows)[order]
        return all_good

    def _locate(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found mask, shard number, row) of each `S64` query key in the index."""
        n = len(query)
        found = np.zeros(n, bool)
        owner = np.full(n, -1, np.int32)
        row = np.full(n, -1, np.int64)
        if not n or not len(self._prefix):
            return found, owner, row
        qp = _prefixes(query)
        pos = np.searchsorted(self._prefix, qp, side="left")
        inside = pos < len(self._prefix)
        hit = np.zeros(n, bool)
        hit[inside] = self._prefix[pos[inside]] == qp[inside]
        idx = np.flatnonzero(hit)
        owner[idx] = self._loc_shard[pos[idx]]
        row[idx] = self._loc_row[pos[idx]]
        # the full key must match too (two keys can share a 16-digit prefix)
        for number in np.unique(owner[idx]):
            members = idx[owner[idx] == number]
            keys = self._shards[self._order[number]].keys
            same = np.asarray(keys[row[members]]) == query[members]
            found[members[same]] = True
            for i in members[~same]:  # rare: scan the run of equal prefixes
                j = int(pos[i]) + 1
                while j < len(self._prefix) and self._prefix[j] == qp[i]:
                    o, r = int(self._loc_shard[j]), int(self._loc_row[j])
                    if self._shards[self._order[o]].keys[r] == query[i]:
                        found[i], owner[i], row[i] = True, o, r
                        break
                    j += 1
        owner[~found] = -1
        row[~found] = -1
        return found, owner, row

    def lookup(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(vectors [n, dim] float32, zeros where missing; boolean mask of the keys found)."""
        query = encode_keys(keys)
        with self._mutex:
            for _ in range(100):
                self.refresh()
                found, owner, row = self._locate(query)
                out = np.zeros((len(query), self.dim), np.float32)
                damaged = []
                for number in np.unique(owner[found]):
                    members = np.flatnonzero(owner == number)
                    rows = row[members]
                    order = np.argsort(rows, kind="stable")
                    shard = self._shards[self._order[number]]
                    dense = len(rows) * _DENSE >= len(shard.vectors)
                    if dense:  # most pages are needed: let the kernel read ahead
                        _advise(shard.vectors, "MADV_SEQUENTIAL")
                    try:
                        problem = self._gather(shard, rows[order], members[order], out)
                    finally:
                        if dense:
                            _advise(shard.vectors, "MADV_RANDOM")
                    if problem:
                        damaged.append((shard.stem, problem))
                if not damaged:
                    return out, found
                for stem, problem in damaged:
                    self._quarantine(stem, problem)
            raise RuntimeError(f"embedding store {self.path}: shards keep turning out damaged")

    @staticmethod
    def _gather(shard: _Shard, rows: np.ndarray, targets: np.ndarray, out: np.ndarray) -> str:
        """Copy `shard` rows (sorted) into `out[targets]` in chunks (no second full-size copy);
        returns why the shard is damaged, or ''."""
        for start in range(0, len(rows), _CHUNK):
            try:
                block = np.asarray(shard.vectors[rows[start : start + _CHUNK]], dtype=np.float32)
            except OSError as exc:  # an I/O error under the mapping
                return f"unreadable ({exc})"
            if _bad_rows(block):
                return "vectors not finite unit vectors"
            out[targets[start : start + _CHUNK]] = block
        return ""

    def __len__(self) -> int:
        """Rows indexed (a key held by two shards counts twice until compaction)."""
        with self._mutex:
            self.refresh()
            return len(self._prefix)

    def shard_arrays(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(keys S64 [n], vectors float32 [n, dim]) of every indexed shard, memory-mapped."""
        with self._mutex:
            self.refresh()
            return [(self._shards[s].keys, self._shards[s].vectors) for s in self._order]

    # ---------------------------------------------------------------- writing

    def _validate(self, keys: Sequence[str], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        encoded = encode_keys(keys)
        array = np.asarray(vectors)
        if array.ndim != 2 or array.shape[1] != self.dim or array.dtype.kind != "f":
            raise ValueError(
                f"vectors of shape {array.shape}, expected float ({len(encoded)}, {self.dim})"
            )
        if len(array) != len(encoded):
            raise ValueError(f"{len(encoded)} keys for {len(array)} vectors")
        array = np.ascontiguousarray(array, dtype=VEC_DTYPE)
        if _bad_rows(array):
            raise ValueError("vectors must be finite and unit length")
        return encoded, array

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> int:
        """Write `vectors` (unit length, [n, dim]) under `keys` as one new shard.

        A key repeated within the call is kept once. Returns the rows written.
        """
        encoded, array = self._validate(keys, vectors)
        written = self._write_shard(encoded, array)
        self._maybe_compact()
        return written

    def _write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> int:
        if not len(keys):
            return 0
        _, first = np.unique(keys, return_index=True)
        if len(first) != len(keys):
            first.sort()
            keys, vectors = keys[first], vectors[first]
        stem = self._new_stem()
        keys_path, vecs_path = self._files(stem)
        _write_npy(vecs_path, VEC_DTYPE, vectors.shape, [vectors])
        try:
            _write_npy(keys_path, KEY_DTYPE, keys.shape, [keys])
        except BaseException:
            vecs_path.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path)
        return len(keys)

    @contextmanager
    def writer(self, checkpoint_rows: int = 2048) -> Iterator[ShardWriter]:
        """A `ShardWriter` that writes a shard every `checkpoint_rows` rows added, and the rest
        on leaving the block (also when it is left by an exception: those vectors are good)."""
        shard_writer = ShardWriter(self, checkpoint_rows)
        try:
            yield shard_writer
        finally:
            shard_writer.flush()

    # ---------------------------------------------------------------- compaction

    @contextmanager
    def _locked(self, block: bool) -> Iterator[bool]:
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    yield False
                    return
                raise
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _maybe_compact(self) -> None:
        if len(self._stems()) > self.max_shards:
            self.compact(block=False, only_below=self.merge_below)

    def compact(self, *, block: bool = True, only_below: int | None = None) -> int:
        """Merge shards into one, keeping each key once; returns the shards merged (0 if none).

        `only_below`: merge only shards of fewer rows (automatic compaction). With `block=False`
        it returns 0 at once when another process is compacting. Damaged shards found on the
        way (every vector is checked) are moved aside, not merged.
        """
        with self._locked(block) as locked:
            if not locked:
                return 0
            self._remove_leftovers()
            opened, _ = self._open_all(self._stems(), scattered=False)
            chosen = [s for s in opened.values() if only_below is None or len(s.keys) < only_below]
            good = []
            for shard in chosen:
                problem = self._scan(shard)
                if problem:
                    self._quarantine(shard.stem, problem)
                else:
                    good.append(shard)
            if len(good) < 2:
                return 0
            keep = self._first_rows(good)
            total = int(sum(len(k) for k in keep))
            stem = self._new_stem()
            keys_path, vecs_path = self._files(stem)
            _write_npy(
                vecs_path,
                VEC_DTYPE,
                (total, self.dim),
                self._chunks([s.vectors for s in good], keep),
            )
            try:
                _write_npy(
                    keys_path, KEY_DTYPE, (total,), self._chunks([s.keys for s in good], keep)
                )
            except BaseException:
                vecs_path.unlink(missing_ok=True)
                raise
            _fsync_dir(self.path)
            for shard in good:  # keys first: a shard is never listed without its vectors
                for path in self._files(shard.stem):
                    path.unlink(missing_ok=True)
            _fsync_dir(self.path)
            log.info("embedding store %s: merged %d shards (%d rows)", self.path, len(good), total)
            return len(good)

    def _scan(self, shard: _Shard) -> str | None:
        """Why `shard` cannot be trusted (keys or any vector), or None."""
        try:
            _prefixes(shard.keys)
            for start in range(0, len(shard.vectors), _CHUNK):
                if _bad_rows(np.asarray(shard.vectors[start : start + _CHUNK])):
                    return "vectors not finite unit vectors"
        except ValueError as exc:
            return str(exc)
        except OSError as exc:
            return f"unreadable ({exc})"
        return None

    @staticmethod
    def _first_rows(shards: Sequence[_Shard]) -> list[np.ndarray]:
        """Per shard, the sorted rows to keep: each key's first occurrence over all shards."""
        prefix = np.concatenate([_prefixes(s.keys) for s in shards])
        owner = np.concatenate([np.full(len(s.keys), i, np.int32) for i, s in enumerate(shards)])
        row = np.concatenate([np.arange(len(s.keys), dtype=np.int64) for s in shards])
        order = np.argsort(prefix, kind="stable")
        sp, so, sr = prefix[order], owner[order], row[order]
        drop = np.zeros(len(order), bool)
        same = np.flatnonzero(sp[1:] == sp[:-1]) + 1  # candidates; the full keys decide
        if len(same):

            def gather(owners: np.ndarray, rows: np.ndarray) -> np.ndarray:
                out = np.empty(len(owners), KEY_DTYPE)
                for number in np.unique(owners):
                    members = np.flatnonzero(owners == number)
                    out[members] = shards[number].keys[rows[members]]
                return out

            later = gather(so[same], sr[same])
            drop[same] = later == gather(so[same - 1], sr[same - 1])
        kept_owner, kept_row = so[~drop], sr[~drop]
        return [np.sort(kept_row[kept_owner == i]) for i in range(len(shards))]

    @staticmethod
    def _chunks(arrays: Sequence[np.ndarray], keep: Sequence[np.ndarray]) -> Iterator[np.ndarray]:
        for array, rows in zip(arrays, keep, strict=True):
            if len(rows) == len(array):
                for start in range(0, len(array), _CHUNK):
                    yield np.asarray(array[start : start + _CHUNK])
            else:
                for start in range(0, len(rows), _CHUNK):
                    yield np.asarray(array[rows[start : start + _CHUNK]])

    def _remove_leftovers(self) -> None:
        """Temp files and vectors without keys left by dead writers (under the lock)."""
        now = time.time()
        stems = set(self._stems())
        for name in os.listdir(self.path):
            temp = _TEMP.match(name)
            orphan = name.endswith(VECS_SUFFIX) and name[: -len(VECS_SUFFIX)] not in stems
            if not temp and not orphan:
                continue
            path = self.path / name
            match = temp or _SHARD.match(name[: -len(VECS_SUFFIX)])
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            pid = int(match["pid"]) if match else -1
            if age > _STALE_S and (pid < 0 or not _pid_running(pid)):
                path.unlink(missing_ok=True)

    def verify(self) -> list[str]:
        """Check every vector of every shard; damaged shards are moved aside. Returns their
        names (for tests and `doctor`-style commands; lookups check only the rows they return)."""
        with self._mutex:
            self.refresh()
            bad = []
            for stem in list(self._order):
                shard = self._shards[stem]
                _advise(shard.vectors, "MADV_SEQUENTIAL")
                problem = self._scan(shard)
                _advise(shard.vectors, "MADV_RANDOM")
                if problem:
                    self._quarantine(stem, problem)
                    bad.append(stem)
            if bad:
                self.refresh()
            return bad

    # ---------------------------------------------------------------- migration

    def import_npz(
        self, path: Path, *, model: str | None = None, max_tokens: int | None = None
    ) -> int:
        """Copy the vectors of an old-format cache (`embed.save_cache`) not yet stored into one
        shard; returns the rows written. A file failing the old checks (`embed.load_cache`:
        readable, this model and max_tokens when given, [n, dim] finite unit vectors, unique
        64-hex keys) is skipped with a warning. Importing the same file again writes nothing.
        """
        path = Path(path)
        if not path.is_file():
            return 0
        read = read_old_cache(path, model, self.dim, max_tokens)
        if not isinstance(read, str):
            try:
                encoded, array = self._validate(read[0].tolist(), read[1])
            except ValueError as exc:
                read = str(exc)
        if isinstance(read, str):
            log.warning("embedding cache %s: %s; not imported", path, read)
            return 0
        _, found = self.lookup(encoded)
        written = self._write_shard(encoded[~found], array[~found])
        self._maybe_compact()
        return written


def read_old_cache(
    path: Path, model: str | None, dim: int, max_tokens: int | None
) -> tuple[np.ndarray, np.ndarray] | str:
    """(keys, vectors) of a cache in the old single-file format (`embed.save_cache`), or why
    it cannot be trusted: unreadable (zip CRCs included), written for another model (when
    `model` is given) or max_tokens (files from before it was recorded carry none and are
    accepted), not [n, dim] finite unit vectors, keys not n unique 64-digit text hashes."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            keys = data["keys"]
            vectors = data["vectors"]
        if not isinstance(meta, dict):
            raise ValueError("meta is not a mapping")
    except Exception as exc:  # a truncated or foreign file
        return f"unreadable ({exc})"
    tokens = max_tokens if max_tokens is not None else meta.get("max_tokens")
    if model is not None and meta.get("model") != model:
        return f"written by model {meta.get('model')!r}"
    if meta.get("max_tokens", tokens) != tokens:
        return f"written with max_tokens={meta.get('max_tokens')}"
    if vectors.ndim != 2 or vectors.dtype.kind != "f" or vectors.shape[1:] != (dim,):
        return f"vectors of shape {vectors.shape}, expected (n, {dim})"
    if keys.ndim != 1 or len(keys) != len(vectors) or keys.dtype.kind != "U":
        return "keys do not match the vectors"
    if len(set(keys.tolist())) != len(keys) or not all(len(k) == 64 for k in keys.tolist()):
        return "keys are not unique text hashes"
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
    if not np.isfinite(vectors).all() or not np.allclose(norms, 1.0, atol=NORM_TOL):
        return "vectors are not finite unit vectors"
    return keys, vectors


class ShardWriter:
    """Adds vectors in checkpoints: every `checkpoint_rows` rows become one shard on disk, so a
    run killed while embedding keeps all the checkpoints it completed."""

    def __init__(self, store: EmbeddingStore, checkpoint_rows: int) -> None:
        if checkpoint_rows <= 0:
            raise ValueError("checkpoint_rows must be positive")
        self.store = store
        self.checkpoint_rows = checkpoint_rows
        self._keys: list[np.ndarray] = []
        self._vectors: list[np.ndarray] = []
        self._pending = 0
        self.written = 0

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Buffer rows (validated now); writes a shard once `checkpoint_rows` are buffered."""
        encoded, array = self.store._validate(keys, vectors)
        self._keys.append(encoded)
        self._vectors.append(array)
        self._pending += len(encoded)
        if self._pending >= self.checkpoint_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one shard now."""
        if not self._pending:
            return
        keys = np.concatenate(self._keys)
        vectors = np.concatenate(self._vectors)
        self._keys, self._vectors, self._pending = [], [], 0
        self.written += self.store._write_shard(keys, vectors)
        self.store._maybe_compact()
