"""Atomic file writes: a reader sees the old file or the new one, never half of one.

`write_atomic` replaces one file. `publish` replaces a run's set of output files so that,
whenever the process dies (SIGKILL, power loss), the folder holds complete files only, and
`manifest.json` -- removed before the swap, written after it -- is present exactly when the
files form one consistent run:

1. every new file is written and fsynced in a hidden staging folder inside the output folder;
2. the old manifest is removed; 3. each staged file is renamed over its old version (a rename
within one folder is atomic); 4. the new manifest, with each file's SHA-256, is written last.

Leftovers of a killed run (the staging folder, `.*.tmp` files) are hidden, never listed as
outputs, and removed by the next `publish` into the same folder.

One run at a time: `publish` holds an exclusive lock (`fcntl.flock` on `.taxonomy.lock` in the
output folder) while it swaps, and a run can hold it from start to end with `locked(out_dir)`;
a second process finds it taken and stops with "output folder is in use by another run (pid N)".
If a rename fails halfway (a folder in the way, a full disk), the files already swapped are
put back from hard links kept in the staging folder and the old manifest is restored: the
folder is exactly the previous set again, and the error is one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows; the lock is then advisory only
    fcntl = None  # type: ignore[assignment]

from taxonomy.errors import TaxonomyError

MANIFEST = "manifest.json"
_STAGING_PREFIX = ".staging-"
_TEMP_FILE = re.compile(r"^\..+\.[^.]+\.tmp$")  # mkstemp names from write_atomic
FILE_MODE = 0o644  # outputs are meant to be shared (mkstemp would make them private)
LOCK_FILE = ".taxonomy.lock"
PUBLISH_WAIT = 10.0  # seconds publish waits for another process's swap before giving up

# A published file's content: its bytes, or a function that writes them into a binary file
# (large tables are streamed into the staging folder in chunks instead of held whole).
Body = bytes | Callable[[IO[bytes]], None]


def write_atomic(path: Path, write: Callable[[IO[bytes]], None], mode: int | None = None) -> None:
    """Write through `write(fileobj)` to a temp file beside `path`, fsync, then rename.

    The file is private (mkstemp's 0600) unless `mode` is given (FILE_MODE for shared outputs).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def output_path(out_dir: Path, name: str) -> Path:
    """`out_dir / name` for a plain file name; anything that could leave the folder is refused."""
    candidate = Path(name)
    if (
        not name
        or "\x00" in name
        or candidate.is_absolute()
        or len(candidate.parts) != 1
        or name in (".", "..")
        or name.startswith(".")
        or "\\" in name
    ):
        raise TaxonomyError(f"output name {name!r} must be a plain file name", path=out_dir)
    return out_dir / name


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform; the renames are atomic regardless
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Digesting:
    """A binary file that keeps the SHA-256 and length of what is written through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._handle.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._handle.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def entry(self) -> dict:
        return {"sha256": self._sha.hexdigest(), "bytes": self.size}


def _write_file(path: Path, body: Body) -> dict:
    """Write `body` (bytes, or a function writing into the file) to `path`, fsynced; returns
    its manifest entry (SHA-256 and length)."""
    with open(path, "wb") as handle:
        out = _Digesting(handle)
        if isinstance(body, bytes):
            out.write(body)
        else:
            body(out)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, FILE_MODE)
    return out.entry()


def _rename(source: Path, target: Path) -> None:
    os.replace(source, target)


def _running(staging_name: str) -> bool:
    """Whether the process that made this staging folder (`.staging-<pid>-...`) still runs."""
    pid = staging_name.removeprefix(_STAGING_PREFIX).split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Delete staging folders and temp files that a killed run left in `out_dir`.

    A staging folder of a process that is still running (a second run into the same folder)
    is left alone.
    """
    removed = []
    if not out_dir.is_dir():
        return removed
    for entry in sorted(out_dir.iterdir()):
        if entry.name.startswith(_STAGING_PREFIX) and entry.is_dir():
            if _running(entry.name):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        elif _TEMP_FILE.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_files(out_dir: Path) -> dict[str, dict]:
    try:
        files = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


# Output folders this process holds the lock of: {resolved folder: (lock file handle, depth)}.
_held: dict[Path, tuple[IO[str], int]] = {}
_held_guard = threading.Lock()


def _lock_holder(handle: IO[str]) -> str:
    handle.seek(0)
    pid = handle.read(32).strip()
    return f" (pid {pid})" if pid.isdigit() else ""


@contextmanager
def locked(out_dir: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the output folder's lock for the block (a whole run); re-entrant in one process.

    Another process holding it: wait up to `wait` seconds, then TaxonomyError "output folder is
    in use by another run (pid N)". The folder is created if needed, and removed again if the
    block leaves it empty (a run that failed before writing anything leaves no trace). The lock
    file is removed on release; the kernel releases the lock if the process dies.
    """
    key = Path(os.path.abspath(out_dir))
    with _held_guard:
        if key in _held:
            handle, depth = _held[key]
            _held[key] = (handle, depth + 1)
            outer = False
        else:
            outer = True
    created = False
    if outer:
        created = not out_dir.exists()
        handle = _acquire(out_dir, wait)
        with _held_guard:
            _held[key] = (handle, 1)
    try:
        yield
    finally:
        with _held_guard:
            handle, depth = _held[key]
            if depth > 1:
                _held[key] = (handle, depth - 1)
            else:
                del _held[key]
                _release(out_dir, handle, remove_folder=created)


def _release(out_dir: Path, handle: IO[str], *, remove_folder: bool) -> None:
    """Remove the lock file (and the folder, if this run made it and it is empty), unlock.

    Removing is safe while the lock is held: a process that opened the old file re-checks,
    after locking, that it locked the file now at the path (`_same_file`).
    """
    try:
        if _same_file(handle, out_dir / LOCK_FILE):
            (out_dir / LOCK_FILE).unlink()
        if remove_folder:
            out_dir.rmdir()  # fails, as it should, unless empty
    except OSError:
        pass
    finally:
        handle.close()  # closing the file releases the flock


def _acquire(out_dir: Path, wait: float) -> IO[str]:
    deadline = time.monotonic() + wait
    while True:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            handle = open(out_dir / LOCK_FILE, "a+", encoding="utf-8")
        except OSError as err:
            raise TaxonomyError(
                f"cannot use the output folder: {err.strerror or err}", path=out_dir
            ) from None
        if fcntl is None:  # pragma: no cover
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _lock_holder(handle)
                handle.close()
                raise TaxonomyError(
                    f"output folder is in use by another run{holder}; wait for it to finish "
                    "or choose another output folder",
                    path=out_dir,
                ) from None
            handle.close()
            time.sleep(0.05)
            continue
        except OSError:  # a file system without flock (some network mounts): go on unlocked
            return handle
        if _same_file(handle, out_dir / LOCK_FILE):
            break
        handle.close()  # the holder removed the folder meanwhile: lock the new file instead
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def check_writable(folder: Path, setting: str, *, source: str | None = None) -> None:
    """TaxonomyError now, before any work, if `folder` cannot be created or written to.

    `setting` names where the folder comes from (`output.dir`, `cache_dir`, `--out`) and
    `source` the config file, for the message. A file in the way (at the folder or a parent),
    or a folder without write permission, is reported; nothing is created.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
        probe = probe.parent
    where = "" if probe == folder else f" (a parent of {folder})"
    if not probe.is_dir():
        raise TaxonomyError(f"{setting}: {probe}{where} is a file, not a folder", path=source)
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        raise TaxonomyError(
            f"{setting}: cannot write in {probe}{where}: {err.strerror or err}", path=source
        ) from None


def _keep_old(target: Path, backup: Path) -> bool:
    """Keep the current `target` as `backup` (a hard link, else a copy); False if none."""
    if not target.is_file() or target.is_symlink():
        return False
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return True


def _roll_back(out_dir: Path, done: list[str], kept: dict[str, Path], targets: dict[str, Path]):
    """Undo the renames in `done`: old files back from `kept`, new ones removed."""
    for name in reversed(done):
        if name in kept:
            os.replace(kept[name], targets[name])
        else:
            targets[name].unlink(missing_ok=True)
    if MANIFEST in kept:
        os.replace(kept[MANIFEST], out_dir / MANIFEST)
    fsync_dir(out_dir)


def publish(
    out_dir: Path, contents: Mapping[str, Body], last: Sequence[str] = ()
) -> dict[str, Path]:
    """Replace the files `contents` names in `out_dir` as one set (see the module docstring).

    Each file is given as bytes or as a function writing it into a binary file (`Body`).
    Files are written in the order of their names, those named in `last` after the others (a
    body still being computed elsewhere, so the others are written meanwhile).

    Returns {name: path}. Files in `out_dir` that `contents` does not name are left alone and
    keep their manifest entries (`taxonomy assign` rewrites only documents.csv and map.html).
    """
    targets = {name: output_path(out_dir, name) for name in contents}
    if MANIFEST in targets:
        raise TaxonomyError(f"{MANIFEST} is written by publish itself", path=out_dir)
    for name, target in targets.items():
        if target.is_dir() and not target.is_symlink():
            raise TaxonomyError(
                f"{name}: a folder is in the way of this output file; move it away", path=out_dir
            )
    order = sorted(contents, key=lambda name: (name in last, name))
    with locked(out_dir, wait=PUBLISH_WAIT):
        _publish_locked(out_dir, {name: contents[name] for name in order}, targets)
    return targets


def _publish_locked(out_dir: Path, contents: Mapping[str, Body], targets: dict[str, Path]) -> None:
    remove_leftovers(out_dir)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=out_dir))
    except OSError as err:
        raise TaxonomyError(f"cannot write the outputs: {_reason(err)}", path=out_dir) from None
    try:
        manifest, kept = _stage(out_dir, staging, contents, targets)
        _swap(out_dir, staging, contents, targets, manifest, kept)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(
    out_dir: Path, staging: Path, contents: Mapping[str, Body], targets: dict[str, Path]
) -> tuple[dict, dict[str, Path]]:
    """Write the new files and keep links to the old ones; the folder itself is unchanged."""
    step = "the outputs"
    try:
        written = {}
        for name in contents:  # in publish's order
            step = name
            written[name] = _write_file(staging / name, contents[name])
        fsync_dir(staging)
        files = {
            name: entry
            for name, entry in _manifest_files(out_dir).items()
            if name not in contents and (out_dir / name).is_file()
        }
        files |= written
        old = staging / ".old"
        old.mkdir()
        step = "the backup of the previous outputs"
        kept = {
            name: old / name
            for name, target in [*targets.items(), (MANIFEST, out_dir / MANIFEST)]
            if _keep_old(target, old / name)
        }
    except OSError as err:
        raise TaxonomyError(f"cannot write {step}: {_reason(err)}", path=out_dir) from None
    return {"files": dict(sorted(files.items()))}, kept


def _swap(
    out_dir: Path,
    staging: Path,
    contents: Mapping[str, Body],
    targets: dict[str, Path],
    manifest: dict,
    kept: dict[str, Path],
) -> None:
    """Manifest out, files in, manifest in; on any failure the previous set is put back."""
    done: list[str] = []
    step = MANIFEST
    try:
        (out_dir / MANIFEST).unlink(missing_ok=True)
        for name in contents:  # in publish's order
            step = name
            _rename(staging / name, targets[name])
            done.append(name)
        fsync_dir(out_dir)
        step = MANIFEST
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        write_atomic(out_dir / MANIFEST, lambda handle: handle.write(text.encode("utf-8")))
        os.chmod(out_dir / MANIFEST, FILE_MODE)
    except BaseException as err:  # an OSError, or an interrupt: put the previous set back
        try:
            _roll_back(out_dir, done, kept, targets)
        except OSError as again:
            raise TaxonomyError(
                f"cannot write {step} ({_reason(err)}), and putting the previous files back "
                f"failed too ({_reason(again)}): the folder may mix two runs (it has no "
                f"{MANIFEST})",
                path=out_dir,
            ) from None
        if not isinstance(err, OSError):
            raise
        raise TaxonomyError(
            f"cannot write {step} ({_reason(err)}); the previous outputs are restored unchanged",
            path=out_dir,
        ) from None


def _reason(err: BaseException) -> str:
    return str(getattr(err, "strerror", None) or err or type(err).__name__)


def verify_outputs(out_dir: Path) -> list[str]:
    """Problems with the output set in `out_dir` (empty list: one complete, consistent run).

    Without a manifest the last run was interrupted while swapping files in: each file is
    complete, but they may come from two different runs.
    """
    path = out_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        return [
            f"{path}: missing (written by an older version, or the last run was interrupted "
            "while swapping in its outputs): the files may come from different runs"
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"{path}: unreadable ({err})"]
    problems = []
    for name, entry in sorted(files.items()):
        try:
            data = output_path(out_dir, name).read_bytes()
        except (OSError, TaxonomyError) as err:
            problems.append(f"{out_dir / name}: {err}")
            continue
        if _digest(data) != entry.get("sha256"):
            problems.append(f"{out_dir / name}: does not match {MANIFEST} (from another run)")
    return problems
