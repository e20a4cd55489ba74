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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from taxonomy.errors import TaxonomyError

MANIFEST = "manifest.json"
_STAGING_PREFIX = ".staging-"
_TEMP_FILE = re.compile(r"^\..+\.[^.]+\.tmp$")  # mkstemp names from write_atomic
FILE_MODE = 0o644  # outputs are meant to be shared (mkstemp would make them private)


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


def _fsync_dir(folder: Path) -> None:
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


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, FILE_MODE)


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


def publish(out_dir: Path, contents: Mapping[str, bytes]) -> dict[str, Path]:
    """Replace the files `contents` names in `out_dir` as one set (see the module docstring).

    Returns {name: path}. Files in `out_dir` that `contents` does not name are left alone and
    keep their manifest entries (`taxonomy assign` rewrites only documents.csv and map.html).
    """
    targets = {name: output_path(out_dir, name) for name in contents}
    if MANIFEST in targets:
        raise TaxonomyError(f"{MANIFEST} is written by publish itself", path=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=out_dir))
    try:
        for name in sorted(contents):
            _write_file(staging / name, contents[name])
        _fsync_dir(staging)
        files = {
            name: entry
            for name, entry in _manifest_files(out_dir).items()
            if name not in contents and (out_dir / name).is_file()
        }
        files |= {
            name: {"sha256": _digest(data), "bytes": len(data)} for name, data in contents.items()
        }
        manifest = {"files": dict(sorted(files.items()))}
        (out_dir / MANIFEST).unlink(missing_ok=True)
        for name in sorted(contents):
            _rename(staging / name, targets[name])
        _fsync_dir(out_dir)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        write_atomic(out_dir / MANIFEST, lambda handle: handle.write(text.encode("utf-8")))
        os.chmod(out_dir / MANIFEST, FILE_MODE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets


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
