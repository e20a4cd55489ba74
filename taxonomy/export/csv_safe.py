"""A documented escape that keeps spreadsheets from running text in documents.csv as formulas.

Spreadsheet programs treat a cell that starts with `=`, `+`, `-` or `@` (and, in some, a tab
or carriage return) as a formula: a title like `=HYPERLINK("http://evil", "click")` or
`+cmd|' /C calc'!A0` would run when the file is opened. So every text cell of documents.csv
that starts with one of those characters, or with a single quote, gets one more single quote
in front (`'=HYPERLINK(...)`); spreadsheets show a leading quote as "this is text" and hide
it. The numeric columns (`x`, `y`) are left as they are: `-0.5` is a number.

`unescape_cell`/`unescape_frame` undo it exactly (the quote is added to text starting with a
quote too, so the escape is reversible); every reader of documents.csv in this program calls
`unescape_frame` right after reading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# First characters that start a formula (OWASP "CSV injection"), plus the quote itself.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
NUMERIC_COLUMNS = frozenset({"x", "y"})


def escape_cell(text: str) -> str:
    """`'` + text when text starts like a formula or with `'`; otherwise text unchanged."""
    if text.startswith(FORMULA_START) or text.startswith(QUOTE):
        return QUOTE + text
    return text


def unescape_cell(text: str) -> str:
    """Undo `escape_cell`."""
    return text[1:] if text.startswith(QUOTE) else text


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding text (pandas 3 `str` dtype or object), other than x and y."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    return [
        c
        for c in frame.columns
        if c not in NUMERIC_COLUMNS
        and (is_string_dtype(frame[c].dtype) or is_object_dtype(frame[c].dtype))
    ]


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell passed through `escape_cell`."""
    from pandas.api.types import is_object_dtype

    out = frame.copy()
    for column in _text_columns(out):
        values = out[column]
        if is_object_dtype(values.dtype):  # mixed cells: one by one
            out[column] = [escape_cell(v) if isinstance(v, str) else v for v in values]
            continue
        # a string column: only the few cells starting like a formula are rewritten
        starts = values.str.startswith((*FORMULA_START, QUOTE)).fillna(False).astype(bool)
        if starts.any():
            out.loc[starts, column] = QUOTE + values[starts]
    return out


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` read from documents.csv (all columns as str) with the escape undone."""
    out = frame.copy()
    for column in _text_columns(out):
        out[column] = [unescape_cell(v) if isinstance(v, str) else v for v in out[column]]
    return out
