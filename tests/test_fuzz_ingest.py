"""Fuzzing the ingest readers with hypothesis (the config, curation and labels loaders: see
test_fuzz_loaders.py).

The contract under test: whatever bytes a file holds, reading it ends in a corpus of sane papers
or in one `TaxonomyError` whose single line names the file -- never any other exception. Text in
latin-1, cp1252 or UTF-16 (with or without a BOM) is read, not rejected.

Cases run per test are fixed with `fuzz(max_examples)` (derandomised: every run checks the same
inputs): 300 + 300 + 150 + 150 + 60 + 60 = 1,020 generated inputs, plus the fixed cases below
(1 MB single lines, empty files, empty folders, 0/1/2 papers, encodings).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxonomy.errors import TaxonomyError
from taxonomy.ingest import read_corpus
from taxonomy.models import Corpus
from tests.helpers.fuzzing import ENCODINGS, FRAGMENTS, MB, fuzz, scratch, write

NAMES = ["x.txt", "x", "x.csv", "x.tsv", "x.jsonl", "x.json", "x.bib", "x.csv.gz", "x.parquet"]
TEXT_NAMES = [n for n in NAMES if n not in ("x.parquet", "x.csv.gz")]


def check_paper_text(text: str) -> None:
    assert text and text == " ".join(text.split())
    text.encode("utf-8")  # no lone surrogates: every writer downstream must accept it
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in text)


def outcome(paths: list[Path], named: Path | None = None) -> Corpus | TaxonomyError:
    """read_corpus(paths); any exception other than a one-line, file-naming TaxonomyError fails."""
    try:
        corpus = read_corpus(paths)
    except TaxonomyError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message
        assert str(named or paths[0]) in message, message
        return err
    assert len(corpus) >= 1 and corpus.n_records >= len(corpus)
    assert len({p.id for p in corpus.papers}) == len(corpus)
    for paper in corpus.papers:
        check_paper_text(paper.abstract)
        if paper.title is not None:
            check_paper_text(paper.title)
    return corpus


fragment_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=40).map(
    "".join
)


@fuzz(300)
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=3000))
def test_random_bytes_in_every_format(name, data):
    with scratch() as folder:
        outcome([write(folder, name, data)])


@fuzz(300)
@given(
    name=st.sampled_from(TEXT_NAMES + ["x.csv.gz"]),
    text=fragment_text,
    encoding=st.sampled_from(ENCODINGS),
)
def test_format_shaped_text_in_any_encoding(name, text, encoding):
    with scratch() as folder:
        outcome([write(folder, name, text.encode(encoding, errors="replace"))])


# Valid files of every format; truncating them anywhere must still end cleanly.
ABSTRACT = "We compress the KV cache of transformers, which speeds up decoding by half. " * 3
SAMPLES: dict[str, bytes] = {
    "lines.txt": f"Title: KV cache\nAbstract: {ABSTRACT}\nAbstract: Second {ABSTRACT}\n".encode(),
    "table.txt": (
        f"stringlengths 9 1.2k\n| abstract\n2303.11366v1 | {ABSTRACT} | 2303.07295v1 | "
        f"Other {ABSTRACT}\ncontinued |\n"
    ).encode(),
    "listing.txt": f"Subscribe\nA title\n{ABSTRACT}\nMar 3, 2024\nB title\nB {ABSTRACT}\n".encode(),
    "a.csv": f'title,abstract,arxiv_id\nT,"{ABSTRACT}",2303.11366\nU,"U {ABSTRACT}",\n'.encode(),
    "a.tsv": f"title\tabstract\nT\t{ABSTRACT}\n".encode(),
    "a.jsonl": (json.dumps({"title": "T", "abstract": ABSTRACT}) + "\n").encode() * 2,
    "a.json": json.dumps([{"abstract": ABSTRACT}, {"abstract": "B " + ABSTRACT}]).encode(),
    "a.bib": f"@article{{k, title={{T}}, abstract={{{ABSTRACT}}}, eprint={{2303.11366}}}}\n"
    f'@misc{{m, abstract = "B {ABSTRACT}" # " end"}}\n'.encode(),
}


def _parquet_sample() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"title": ["T", "U"], "abstract": [ABSTRACT, "B " + ABSTRACT]}).to_parquet(buffer)
    return buffer.getvalue()


@fuzz(150)
@given(name=st.sampled_from([*SAMPLES, "a.csv.gz", "a.parquet"]), cut=st.integers(0, 10**6))
def test_truncated_files(name, cut):
    if name == "a.parquet":
        data = _parquet_sample()
    elif name == "a.csv.gz":
        data = gzip.compress(SAMPLES["a.csv"], mtime=0)
    else:
        data = SAMPLES[name]
    with scratch() as folder:
        path = folder / name
        path.write_bytes(data[: cut % (len(data) + 1)])
        outcome([path])


def test_untruncated_samples_are_read():
    with scratch() as folder:
        for name, data in SAMPLES.items():
            corpus = outcome([write(folder, name, data)])
            assert isinstance(corpus, Corpus) and len(corpus) >= 1, name


# --- encodings: read, not rejected ---------------------------------------------------------

# Letters from U+00C0..U+00FF: in latin-1 each is one byte >= 0xC0 that can never be followed
# by a UTF-8 continuation byte, so the bytes are certainly not mistaken for UTF-8.
LATIN = st.sampled_from("àáâäçèéêëìíîïñòóôöùúûüýÿÀÉÖÜßøåæ")
WORD = st.text(alphabet=LATIN | st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1)
ENCODED_AS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8 with BOM": lambda t: t.encode("utf-8-sig"),
    "UTF-16 with BOM": lambda t: t.encode("utf-16"),
    "UTF-16-LE with BOM": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "UTF-16-BE with BOM": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "UTF-16-LE without BOM": lambda t: t.encode("utf-16-le"),
    "UTF-32 with BOM": lambda t: t.encode("utf-32"),
    "latin-1": lambda t: t.encode("latin-1"),
    "cp1252": lambda t: t.encode("cp1252"),
}


@fuzz(150)
@given(
    words=st.lists(WORD, min_size=3, max_size=40),
    encoding=st.sampled_from(sorted(ENCODED_AS)),
    name=st.sampled_from(["x.csv", "x.jsonl", "x.txt", "x.bib", "x.csv.gz"]),
)
def test_non_utf8_text_is_read_correctly(words, encoding, name):
    abstract = " ".join(words) + " sparse attention."
    text = {
        "x.csv": f'abstract\n"{abstract}"\n',
        "x.csv.gz": f'abstract\n"{abstract}"\n',
        "x.jsonl": json.dumps({"abstract": abstract}, ensure_ascii=False) + "\n",
        "x.txt": f"Abstract: {abstract}\n",
        "x.bib": f"@article{{k, abstract={{{abstract}}}}}\n",
    }[name]
    with scratch() as folder:
        corpus = outcome([write(folder, name, ENCODED_AS[encoding](text))])
        assert isinstance(corpus, Corpus), corpus
        assert [p.abstract for p in corpus.papers] == [abstract]


def test_cp1252_punctuation_is_read():
    with scratch() as folder:
        path = write(folder, "x.txt", "Abstract: “Quoted” – 5 € costs.\n".encode("cp1252"))
        assert read_corpus([path]).papers[0].abstract == "“Quoted” – 5 € costs."


@fuzz(60)
@given(data=st.binary(min_size=1, max_size=400))
def test_binary_files_are_an_error_not_an_abstract(data):
    # Mostly control bytes (what binary formats are made of): never read as text.
    binary = bytes(b % 32 for b in data if b % 32 not in (9, 10, 12, 13)) or b"\x01"
    with scratch() as folder:
        path = write(folder, "x.txt", b"Abstract: " + binary * 3)
        err = outcome([path])
        assert isinstance(err, TaxonomyError), err


# --- sizes: 1 MB on one line, empty files, empty folders, tiny corpora -----------------------

ONE_MB_LINES = {
    # Long but well-formed: must be read.
    "abstract.txt": b"Abstract: " + b"word " * (MB // 5),
    "listing.txt": b"A title\n" + b"word " * (MB // 5),
    "cell.csv": b"abstract\n" + b"word " * (MB // 5),
    "value.jsonl": json.dumps({"abstract": "word " * (MB // 5)}).encode(),
    "field.bib": b"@a{k, abstract={" + b"word " * (MB // 5) + b"}}",
    # Adversarial single lines: many tiny records, deep nesting, unclosed structures.
    "rows.txt": b"2303.11366 | " + b"abstract text | 2303.11367 | " * (MB // 30),
    "entries.bib": b"@a{}" * (MB // 4),
    "unclosed.bib": b"@a{k, abstract={" + b"{" * MB,
    "nested.jsonl": b"[" * MB,
    "nested.json": b"[" + b"[" * MB,
    "objects.json": b"[" + b'{"abstract":"a b"},' * (MB // 20) + b'{"abstract":"c"}]',
    "quotes.csv": b'abstract\n"' + b'""' * (MB // 2),
    "pipes.txt": b"|" * MB,
    "id.csv": b"abstract,arxiv_id\ntext," + b"a-" * (MB // 2),
    "binary.txt": bytes(range(256)) * (MB // 256),
}


@pytest.mark.parametrize("name", sorted(ONE_MB_LINES))
def test_one_megabyte_single_line(tmp_path, name):
    result = outcome([write(tmp_path, name, ONE_MB_LINES[name])])
    if name in ("abstract.txt", "listing.txt", "cell.csv", "value.jsonl", "field.bib"):
        assert isinstance(result, Corpus) and len(result.papers[0].abstract) >= MB - 20


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("content", [b"", b" \n\t\n", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_files_are_an_error_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    assert isinstance(outcome([path]), TaxonomyError)


def test_folder_without_readable_files(tmp_path):
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    (tmp_path / ".hidden.csv").write_text("abstract\nhidden\n")
    (tmp_path / "sub").mkdir()
    err = outcome([tmp_path])
    assert isinstance(err, TaxonomyError) and "no abstracts found" in str(err)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert isinstance(outcome([empty]), TaxonomyError)


def test_zero_papers_is_an_error(tmp_path):
    # A header and rows without abstract text: the file names itself in the error.
    path = write(tmp_path, "a.csv", b'title,abstract\nT,\nU,"  "\n')
    err = outcome([path])
    assert isinstance(err, TaxonomyError) and "no abstracts found" in str(err)


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_papers(tmp_path, n):
    rows = "".join(f'"Paper {i} is about topic number {i}."\n' for i in range(n))
    corpus = outcome([write(tmp_path, "a.csv", f"abstract\n{rows}".encode())])
    assert isinstance(corpus, Corpus) and len(corpus) == n


@fuzz(60)
@given(copies=st.integers(2, 30), words=st.lists(WORD, min_size=1, max_size=30))
def test_all_duplicate_corpus_is_one_paper(copies, words):
    abstract = " ".join(words)
    with scratch() as folder:
        write(folder, "a.csv", ("abstract\n" + f'"{abstract}"\n' * copies).encode())
        write(folder, "b.jsonl", (json.dumps({"abstract": f"  {abstract} "}) + "\n").encode())
        corpus = outcome([folder])
        assert isinstance(corpus, Corpus)
        assert len(corpus) == 1 and corpus.n_records == copies + 1


def test_file_mixing_utf8_and_latin1_lines_keeps_both(tmp_path):
    data = "abstract\ncafé au lait\n".encode() + "naïve “bayes”\n".encode("cp1252")
    corpus = read_corpus([write(tmp_path, "mixed.csv", data)])
    assert [p.abstract for p in corpus.papers] == ["café au lait", "naïve “bayes”"]
