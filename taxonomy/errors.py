"""The one error type the CLI turns into a clear message and exit code 2.

Every problem caused by the user's input (a file, a config key, an edit) is raised as
`TaxonomyError` with a message that names the file, and the line or field where it applies.
Anything else is a bug and is allowed to surface as a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

# Characters a terminal may act on rather than show: C0/C1 controls (ESC starts colour, title
# and hyperlink sequences; NUL, BEL, backspace), DEL, and the bidirectional overrides that
# reorder what is shown. Messages show them as `\x1b` / `\u202e` escapes.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe to print to a terminal."""
    return _UNPRINTABLE.sub(_escape_char, text)


class TaxonomyError(Exception):
    """A problem with the user's input; `str(err)` is the one line shown to the user."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        # One line, whatever the message quotes (a multi-line library error, a file name), and
        # no raw control characters: an ESC in a file name must not drive the terminal.
        super().__init__(printable(" ".join(f"{where}{message}".split())))


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


def yaml_line(text: str | None, where: list[str | int]) -> int | None:
    """1-based line of a field (mapping keys and list positions) in the YAML text, for error
    messages; None when the text does not parse or has no such field."""
    if not text:
        return None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in where:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
