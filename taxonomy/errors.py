"""The one error type the CLI turns into a clear message and exit code 2.

Every problem caused by the user's input (a file, a config key, an edit) is raised as
`TaxonomyError` with a message that names the file, and the line or field where it applies.
Anything else is a bug and is allowed to surface as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml


class TaxonomyError(Exception):
    """A problem with the user's input; `str(err)` is the one line shown to the user."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        # One line, whatever the message quotes (a multi-line library error, a file name).
        super().__init__(" ".join(f"{where}{message}".split()))


@contextmanager
def yaml_errors(source: Path | str, text: str | None = None) -> Iterator[None]:
    """Turn a YAML parse failure inside the block into one TaxonomyError with file and line.

    With `text`, the offending line is quoted as the entry. Safe loaders refuse object tags
    (`!!python/object`) with a "constructor" error; the message says why.
    """
    try:
        yield
    except RecursionError:
        raise TaxonomyError("invalid YAML: nested too deeply", path=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "constructor for the tag" in problem:
            problem += " (only plain YAML is read: tags that build objects are refused)"
        entry = ""
        if text is not None and mark is not None:
            lines = text.splitlines()
            shown = lines[mark.line].strip() if mark.line < len(lines) else ""
            entry = f" (entry: {shown})" if shown else ""
        line = mark.line + 1 if mark is not None else None
        raise TaxonomyError(f"invalid YAML: {problem}{entry}", path=source, line=line) from None
