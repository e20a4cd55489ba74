"""The one error type the CLI turns into a clear message and exit code 2.

Every problem caused by the user's input (a file, a config key, an edit) is raised as
`TaxonomyError` with a message that names the file, and the line or field where it applies.
Anything else is a bug and is allowed to surface as a traceback.
"""

from __future__ import annotations

from pathlib import Path


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
