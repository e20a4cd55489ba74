"""Turning a file's bytes into text, with one clear error for every way that can fail.

Encoding policy (the same for every text format): a UTF-16 BOM means UTF-16; otherwise the
bytes must be UTF-8 (a UTF-8 BOM is dropped). Anything else -- typically latin-1 / cp1252
exports -- is rejected with the line of the first bad byte rather than guessed at, because a
wrong guess silently garbles abstracts and changes their dedup hashes.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path

from taxonomy.errors import TaxonomyError


def read_bytes(path: Path) -> bytes:
    """The file's bytes, transparently gunzipped for `*.gz` names."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TaxonomyError(f"cannot read file: {err.strerror or err}", path=path) from err
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise TaxonomyError(f"not a valid gzip file: {err}", path=path) from err
    return data


def decode_text(data: bytes, path: Path) -> str:
    """Decode per the module policy; newlines are normalised to '\\n'."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # the codec reads the BOM to pick the byte order
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise TaxonomyError(
            f"not valid {encoding.removesuffix('-sig').upper()} "
            f"(byte 0x{data[err.start]:02x}); re-save the file as UTF-8",
            path=path,
            line=line,
        ) from err
    if "\x00" in text:
        # NUL decodes fine as UTF-8, so UTF-16 without a BOM or a binary file lands here.
        line = text[: text.index("\x00")].count("\n") + 1
        raise TaxonomyError(
            "contains NUL bytes (binary file, or UTF-16 without a BOM?)", path=path, line=line
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path) -> str:
    return decode_text(read_bytes(path), path)
