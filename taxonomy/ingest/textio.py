"""Turning a file's bytes into text, with one clear error for every way that can fail.

Encoding policy (the same for every text format and the config file):
1. a byte-order mark decides: UTF-32, UTF-16 (either byte order) or UTF-8;
2. UTF-16 without a BOM is recognised by its zero bytes (ASCII-range text in UTF-16 has a
   zero in every other byte; UTF-8 text has none);
3. otherwise bytes that are valid UTF-8 are UTF-8;
4. otherwise the file is (at least in part) an 8-bit export: each line that is not UTF-8 is
   Windows-1252 (a superset of latin-1 for printable text: smart quotes, dashes), or latin-1
   for the few bytes cp1252 leaves undefined.
Text that still holds NUL bytes or is mostly control characters is a binary file: an error
naming the file and line, never a garbled abstract.
"""

from __future__ import annotations

import bisect
import codecs
import gzip
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taxonomy.errors import TaxonomyError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: FF FE 00 00 also starts with FF FE
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0/C1 control characters other than tab, newline, carriage return and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# More than this share of control characters means a binary file, not text.
MAX_CONTROL_SHARE = 0.02


GiB = 1024**3
MiB = 1024**2
_CHUNK = 4 * MiB
# Below this decompressed size the ratio check does not apply (small repetitive files are fine).
RATIO_FLOOR = 16 * MiB


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on one input file, checked while it is read (input.max_bytes etc. in the config).

    `max_bytes`: size after decompression; `max_lines`: newlines (CR or LF); `max_ratio`:
    decompressed / compressed size of a `.gz` file once past RATIO_FLOOR (text compresses about
    3-10x; a file of one repeated byte about 1000x). The defaults pass any real corpus file
    and stop a decompression bomb within the first RATIO_FLOOR bytes.
    """

    max_bytes: int = 2 * GiB
    max_lines: int = 20_000_000
    max_ratio: float = 100.0

    @classmethod
    def from_config(cls, section: object) -> ReadLimits:
        """From a config's `input` section (anything with max_bytes, max_lines, max_ratio)."""
        return cls(
            max_bytes=int(getattr(section, "max_bytes", cls.max_bytes)),
            max_lines=int(getattr(section, "max_lines", cls.max_lines)),
            max_ratio=float(getattr(section, "max_ratio", cls.max_ratio)),
        )


DEFAULT_LIMITS = ReadLimits()


def _newlines(data: bytes) -> int:
    return max(data.count(b"\n"), data.count(b"\r"))


def _too_big(path: Path, size: int, limits: ReadLimits, decompressed: bool) -> None:
    if size > limits.max_bytes:
        raise TaxonomyError(
            f"larger than {limits.max_bytes:,} bytes{' decompressed' if decompressed else ''} "
            "(raise input.max_bytes to read it)",
            path=path,
        )


def _gunzip(path: Path, compressed: int, limits: ReadLimits) -> bytes:
    """Decompress in chunks, stopping as soon as a limit is passed (never inflating it all)."""
    ceiling = max(RATIO_FLOOR, limits.max_ratio * max(compressed, 1))
    chunks: list[bytes] = []
    size = lines = 0
    with gzip.open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            lines += _newlines(chunk)
            _too_big(path, size, limits, decompressed=True)
            if size > ceiling:
                raise TaxonomyError(
                    f"decompresses to more than {limits.max_ratio:g} times its size "
                    f"({compressed:,} bytes compressed): a decompression bomb? "
                    "(raise input.max_ratio to read it)",
                    path=path,
                )
            if lines > limits.max_lines:
                _too_many_lines(path, limits)
            chunks.append(chunk)
    return b"".join(chunks)


def _too_many_lines(path: Path, limits: ReadLimits) -> None:
    raise TaxonomyError(
        f"more than {limits.max_lines:,} lines (raise input.max_lines to read it)", path=path
    )


def read_bytes(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes, transparently gunzipped for `*.gz` names, within `limits`."""
    try:
        size = path.stat().st_size
        if path.suffix.lower() == ".gz":
            try:
                data = _gunzip(path, size, limits)
            except (EOFError, zlib.error, gzip.BadGzipFile) as err:
                raise TaxonomyError(f"not a valid gzip file: {err}", path=path) from err
        else:
            _too_big(path, size, limits, decompressed=False)
            data = path.read_bytes()
            if _newlines(data) > limits.max_lines:
                _too_many_lines(path, limits)
    except OSError as err:
        raise TaxonomyError(f"cannot read file: {err.strerror or err}", path=path) from err
    return data


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when every other byte is mostly zero, else None."""
    if len(data) < 4 or len(data) % 2:
        return None
    half = len(data) // 2
    for encoding, zeros in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        if zeros.count(0) >= 0.6 * half:
            return encoding
    return None


def detect_encoding(data: bytes) -> str:
    """The encoding `decode_text` uses for `data` (see the module policy)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if wide := _utf16_without_bom(data):  # before UTF-8: ASCII with NULs is valid UTF-8
        return wide
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _decode_8bit(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def decode_text(data: bytes, path: Path | str) -> str:
    """Decode per the module policy; newlines are normalised to '\\n'.

    Files that are not UTF-8 throughout are decoded line by line: a dump concatenated from a
    UTF-8 export and a cp1252 one keeps both halves right.
    """
    encoding = detect_encoding(data)
    try:
        if encoding in ("cp1252", "latin-1"):
            text = "\n".join(_decode_8bit(line) for line in data.split(b"\n"))
        else:
            text = data.decode(encoding)
    except UnicodeDecodeError as err:  # only a damaged UTF-16/32 file gets here
        line = data[: err.start].count(b"\n") + 1
        name = encoding.removesuffix("-sig").upper()
        raise TaxonomyError(
            f"not valid {name} (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "re-save the file as UTF-8",
            path=path,
            line=line,
        ) from err
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise TaxonomyError("contains NUL bytes (a binary file?)", path=path, line=line)
    controls = _CONTROL.findall(text)
    if text and len(controls) > MAX_CONTROL_SHARE * len(text):
        first = _CONTROL.search(text)
        line = text.count("\n", 0, first.start()) + 1 if first else None
        raise TaxonomyError(
            f"mostly control characters ({len(controls)} of {len(text)}): a binary file?",
            path=path,
            line=line,
        )
    return text


def read_text(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    return decode_text(read_bytes(path, limits), path)


def line_finder(text: str) -> Callable[[int], int]:
    """A function from a character offset in `text` to its 1-based line number.

    Counting newlines before each record from the start of the text is quadratic in the
    number of records; this bisects a list of newline offsets instead.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]
    return lambda pos: bisect.bisect_left(newlines, pos) + 1
