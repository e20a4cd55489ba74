"""Ingest: the seed dump formats, tabular and BibTeX input, dedup, and input errors."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from taxonomy.errors import TaxonomyError
from taxonomy.ingest import deduplicate, read_corpus
from taxonomy.models import Paper, normalize_text, strip_arxiv_version

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "data" / "seeds"
LABELS = ROOT.parent / "shared" / "eval" / "seeds_dev_labels.jsonl"
DATA = Path(__file__).parent / "data" / "ingest"
CHROME = ("Get trending papers", "Subscribe", "byAK and the research community")

# Abstracts in the listing format must be long lines; these helpers build realistic ones.
ABS_A = "We study alpha models. " * 12
ABS_B = "Beta networks are trained on gamma data with a new objective. " * 5
ABS_C = "A third abstract about delta retrieval and epsilon reranking in practice. " * 4


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, **kwargs) -> list[Paper]:
    return read_corpus([path], **kwargs).papers


# --- the bundled seeds -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds():
    return read_corpus([SEEDS])


def test_seed_counts(seeds):
    # 466 records: 7 + 10 'Abstract:' lines, 303 + 51 listing entries, 95 table rows.
    assert seeds.n_records == 466
    # Exact duplicates (by text_key): one abstract in both 000_ and 002_, two papers in
    # both listings, and 2201.12288 / 2201.12288v2 twice in the table; plus the UL2R pair
    # below, a near-duplicate (same paper, different rendering).
    assert len(seeds) == 461
    assert Counter(p.source[:3] for p in seeds.papers) == {
        "000": 7,
        "001": 303,
        "002": 9,
        "003": 49,
        "004": 93,
    }


def test_near_duplicate_renderings_merge_into_one_paper(seeds):
    # UL2R is in the listing (with title) and in the table (with arXiv id); the two texts
    # differ in quotes, dashes, spacing and a stray "sim" token, yet are one paper.
    ul2r = [p for p in seeds.papers if p.abstract.startswith("Scaling language models improves")]
    assert len(ul2r) == 1
    assert ul2r[0].title == "Transcending Scaling Laws with 0.1% Extra Compute"
    assert ul2r[0].arxiv_id == "2210.11399" and ul2r[0].year_month == "2022-10"


def test_similar_abstracts_with_different_arxiv_ids_stay_apart():
    text = "We study a method for compressing the key-value cache of transformers. " * 6
    a = Paper(abstract=text, source="a", arxiv_id="2401.00001")
    b = Paper(abstract=text.replace("study", "analyse", 1), source="a", arxiv_id="2401.00002")
    c = Paper(abstract=text.replace("study", "analyse", 1), source="b")
    assert len(deduplicate([a, b])) == 2
    # Without a conflicting id, a near-identical text is the same paper.
    assert len(deduplicate([a, c])) == 1


def test_seed_abstracts_are_clean(seeds):
    for paper in seeds.papers:
        assert not any(chrome in paper.abstract for chrome in CHROME), paper
        assert "|" not in paper.abstract, paper
        assert paper.abstract == normalize_text(paper.abstract)
        assert len(paper.abstract) > 200
    ids = [p.id for p in seeds.papers]
    assert len(ids) == len(set(ids))


def test_seed_listing_records_have_titles(seeds):
    listing = [p for p in seeds.papers if p.source.startswith(("001", "003"))]
    assert len(listing) == 352
    for paper in listing:
        assert paper.title and 5 < len(paper.title) < 200, paper
        assert not paper.title.startswith(CHROME), paper.title
    first = next(p for p in listing if p.line == 3)
    assert first.title.startswith("Bridging the Language Gaps")  # 'Subscribe' was glued on


def test_seed_table_rows_have_arxiv_ids(seeds):
    table = [p for p in seeds.papers if p.source.startswith("004")]
    assert all(p.arxiv_id and p.year_month for p in table)
    reflexion = next(p for p in table if p.arxiv_id == "2303.11366")  # was 2303.11366v1
    assert reflexion.year_month == "2023-03" and reflexion.line == 14
    assert reflexion.abstract.startswith("Large language models (LLMs) have been increa")
    assert reflexion.abstract.endswith("We release all code, demos, and datasets at")


@pytest.mark.skipif(not LABELS.exists(), reason="shared evaluation labels not available")
def test_seed_parse_matches_every_hand_labelled_abstract(seeds):
    parsed = {normalize_text(p.abstract): p for p in seeds.papers}
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    assert len(labels) == 231
    missing = [r["abstract"][:80] for r in labels if normalize_text(r["abstract"]) not in parsed]
    assert missing == []
    for record in labels:
        paper = parsed[normalize_text(record["abstract"])]
        if record["title"]:
            assert paper.title == normalize_text(record["title"])
        if record["arxiv_id"]:
            assert paper.arxiv_id == strip_arxiv_version(record["arxiv_id"])


# --- text formats, recognised by content ---------------------------------------------------


def test_abstract_lines_with_wrapped_line(tmp_path):
    path = write(tmp_path, "a.txt", f"Abstract:{ABS_A}\nstill the first one.\nAbstract: {ABS_B}")
    papers = read(path)
    assert [p.line for p in papers] == [1, 3]
    assert papers[0].abstract == normalize_text(ABS_A + " still the first one.")
    assert papers[1].title is None and papers[1].source == "a.txt"


def test_abstract_lines_with_titles_and_stray_text(tmp_path):
    path = write(tmp_path, "t.txt", f"Title: Alpha\nAbstract: {ABS_A}\nAbstract: {ABS_B}\n")
    assert [p.title for p in read(path)] == ["Alpha", None]
    bad = write(tmp_path, "b.txt", f"Title: Alpha\nby someone\nAbstract: {ABS_A}\n")
    with pytest.raises(TaxonomyError, match=r"b\.txt:2: expected an 'Abstract:' line"):
        read(bad)


def test_table_dump_rows_spanning_and_sharing_lines(tmp_path):
    text = (
        "stringlengths 9\n| abstract\nstringlengths 431\n"
        "2303.11366v1 | First abstract starts here\nand continues on a second line. |\n"
        "2303.07295v2 | Second abstract, short. | 2101.00190 | Third abstract\non two lines. |\n"
        "1911.02150 | Fourth abstract. |"
    )
    papers = read(write(tmp_path, "dump.txt", text))
    assert [(p.arxiv_id, p.line) for p in papers] == [
        ("2303.11366", 4),
        ("2303.07295", 6),
        ("2101.00190", 6),
        ("1911.02150", 8),
    ]
    assert papers[0].abstract == "First abstract starts here and continues on a second line."
    assert papers[1].abstract == "Second abstract, short."
    assert papers[2].abstract == "Third abstract on two lines."
    assert papers[3].abstract == "Fourth abstract."
    assert [p.year_month for p in papers] == ["2023-03", "2023-03", "2021-01", "2019-11"]


def test_listing_page_drops_chrome_and_keeps_titles(tmp_path):
    text = (
        "new\n\nGet trending papers in your email inbox once a day!\n"
        "Get trending papers in your email inbox!\n\n"
        f"SubscribeAlpha Models Revisited\n{ABS_A}\n\t\t\t \n"
        f"byAK and the research community\nMar 14\n\nBeta Networks\n{ABS_B}\n"
        "Subscribe\n\n\t \n"
    )
    papers = read(write(tmp_path, "page.txt", text))
    assert [(p.title, p.line) for p in papers] == [
        ("Alpha Models Revisited", 6),
        ("Beta Networks", 12),
    ]
    assert papers[1].abstract == normalize_text(ABS_B)


def test_unrecognised_text_is_an_error(tmp_path):
    path = write(tmp_path, "notes.txt", "just a few\nshort lines\n")
    with pytest.raises(TaxonomyError, match=r"notes\.txt: unrecognised text format"):
        read(path)


def test_extensionless_file_is_read_by_content(tmp_path):
    assert len(read(write(tmp_path, "ABSTRACTS", f"Abstract: {ABS_C}\n"))) == 1


# --- tabular ---------------------------------------------------------------------------------


def test_csv_columns_lines_dates_and_ids(tmp_path):
    text = (
        "Paper Title,summary,arxiv_id,date\n"
        'One,"first abstract\nover two lines",arXiv:2303.11366v2,\n'
        "Two,,2303.00001,2023-03-01\n"  # empty abstract: skipped
        "Three,third abstract,not-an-id,2025-03-18\n"
    )
    path = write(tmp_path, "p.csv", text)
    papers = read(path, title_column="paper title", abstract_column="summary")
    assert [(p.title, p.abstract, p.arxiv_id, p.year_month, p.line) for p in papers] == [
        ("One", "first abstract over two lines", "2303.11366", "2023-03", 2),
        ("Three", "third abstract", None, "2025-03", 5),
    ]


def test_missing_abstract_column_names_file_and_columns(tmp_path):
    path = write(tmp_path, "p.csv", "title,text\nA,b\n")
    with pytest.raises(
        TaxonomyError, match=r"p\.csv: no 'abstract' column; columns are: title, text"
    ):
        read(path)


def test_csv_row_with_extra_fields_is_an_error(tmp_path):
    path = write(tmp_path, "p.csv", "title,abstract\nA,b\nC,d,e\n")
    with pytest.raises(TaxonomyError, match=r"p\.csv:3: row has 3 fields"):
        read(path)


def test_tsv_and_gzipped_csv(tmp_path):
    tsv = write(tmp_path, "p.tsv", "abstract\ttitle\nan abstract, with a comma\tT\n")
    assert read(tsv)[0].abstract == "an abstract, with a comma"
    gz = write(tmp_path, "p.csv.gz", gzip.compress(b"abstract\nzipped abstract\n"))
    assert read(gz)[0].abstract == "zipped abstract"


def test_jsonl_line_numbers_and_errors(tmp_path):
    rows = [{"abstract": "one", "id": "2401.00001"}, {"title": "no abstract"}]
    text = "\n".join(json.dumps(r) for r in rows) + '\n\n{"abstract": "three", "year_month": 5}\n'
    papers = read(write(tmp_path, "p.jsonl", text))
    assert [(p.abstract, p.arxiv_id, p.line) for p in papers] == [
        ("one", "2401.00001", 1),  # 'id' is the fallback id column
        ("three", None, 4),
    ]
    bad = write(tmp_path, "bad.jsonl", '{"abstract": "x"}\n{"abstract": \n')
    with pytest.raises(TaxonomyError, match=r"bad\.jsonl:2: malformed JSON line"):
        read(bad)


def test_json_list_with_line_numbers(tmp_path):
    text = '[\n  {"abstract": "one", "title": "T"},\n  {"abstract": "two"}\n]\n'
    assert [p.line for p in read(write(tmp_path, "p.json", text))] == [2, 3]
    with pytest.raises(TaxonomyError, match=r"o\.json:1: expected a JSON list"):
        read(write(tmp_path, "o.json", '{"abstract": "x"}'))
    with pytest.raises(TaxonomyError, match=r"t\.json:2: malformed JSON"):
        read(write(tmp_path, "t.json", '[{"abstract": "x"},\n {"abstract": ]'))


def test_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "p.parquet"
    frame = pd.DataFrame(
        {"abstract": ["one", None, "three"], "arxiv_id": ["2303.11366", "x", None]}
    )
    frame.to_parquet(path)
    papers = read(path)
    assert [(p.abstract, p.arxiv_id, p.line) for p in papers] == [
        ("one", "2303.11366", None),
        ("three", None, None),
    ]
    with pytest.raises(TaxonomyError, match=r"bad\.parquet: cannot read Parquet"):
        read(write(tmp_path, "bad.parquet", b"not parquet"))


# --- BibTeX ----------------------------------------------------------------------------------


def test_bibtex_fixture():
    papers = read(DATA / "ingest_sample.bib")
    assert [(p.title, p.arxiv_id, p.year_month, p.line) for p in papers] == [
        (
            "Reflexion: Language Agents with Verbal Reinforcement Learning",
            "2303.11366",
            "2023-03",
            5,
        ),
        ("BERT: Pre-training of Deep Bidirectional Transformers", "1810.04805", "2018-10", 14),
        ("Prefix-Tuning & friends", "2101.00190", "2021-01", 21),
        ("Quoted {title}", None, "2020-06", 27),
    ]
    assert papers[1].abstract == "We introduce a new language representation model called BERT."
    assert papers[3].abstract == "A quoted abstract, joined from two pieces."


def test_bibtex_unterminated_entry_is_an_error(tmp_path):
    path = write(tmp_path, "b.bib", "@article{a,\n title={x},\n abstract={never closed\n")
    with pytest.raises(TaxonomyError, match=r"b\.bib:1: malformed BibTeX @article entry"):
        read(path)


# --- encodings ---------------------------------------------------------------------------------


def test_encodings(tmp_path):
    text = "abstract\ncafé abstract\n"
    assert read(write(tmp_path, "bom.csv", "\ufeff" + text))[0].abstract == "café abstract"
    assert read(write(tmp_path, "u16.csv", text.encode("utf-16")))[0].abstract == "café abstract"
    # 8-bit exports and UTF-16 without a BOM are read, not rejected (tests/test_fuzz_ingest.py).
    assert read(write(tmp_path, "l1.csv", text.encode("latin-1")))[0].abstract == "café abstract"
    assert (
        read(write(tmp_path, "u16le.txt", "Abstract: x y".encode("utf-16-le")))[0].abstract == "x y"
    )
    with pytest.raises(TaxonomyError, match=r"nul\.txt:2: contains NUL bytes"):
        read(write(tmp_path, "nul.txt", b"Abstract: x\nnext\x00line"))


# --- files and folders -------------------------------------------------------------------------


def test_folder_order_hidden_unsupported_and_exclusions(tmp_path):
    write(tmp_path, "b.csv", "abstract\nfrom b\n")
    write(tmp_path, "a/z.jsonl", '{"abstract": "from a/z"}\n')
    write(tmp_path, ".hidden.csv", "abstract\nhidden\n")
    write(tmp_path, ".git/x.csv", "abstract\nhidden dir\n")
    write(tmp_path, "README.md", "# not data\n")
    write(tmp_path, "old.csv", "abstract\nexcluded\n")
    corpus = read_corpus([tmp_path], exclude_sources=("old.csv",))
    assert [p.abstract for p in corpus.papers] == ["from a/z", "from b"]
    assert [p.source for p in corpus.papers] == ["z.jsonl", "b.csv"]


def test_path_errors(tmp_path):
    with pytest.raises(TaxonomyError, match="no such file or folder"):
        read_corpus([tmp_path / "missing.csv"])
    with pytest.raises(TaxonomyError, match=r"notes\.md: unsupported file type '\.md'"):
        read_corpus([write(tmp_path, "notes.md", "x")])
    with pytest.raises(TaxonomyError, match=r"empty\.csv: no abstracts found in this file"):
        read_corpus([write(tmp_path, "empty.csv", "abstract,title\n,T\n")])
    with pytest.raises(TaxonomyError, match=r"blank\.txt: file is empty"):
        read_corpus([write(tmp_path, "blank.txt", "\n\n")])
    (tmp_path / "nothing").mkdir()
    with pytest.raises(TaxonomyError, match="no abstracts found in"):
        read_corpus([tmp_path / "nothing"])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("x.csv", b'abstract\n"unterminated'),
        ("x.jsonl", b"[1, 2]\n"),
        ("x.json", b"[1, 2]"),
        ("x.json", b"[{}] trailing"),
        ("x.bib", b"@article{a, title = }"),
        ("x.txt", b"\xff\xfe\x00"),
        ("x.csv.gz", b"not gzip"),
        ("x.tsv", b"title\tabstract\n"),
        ("x", b"\x89PNG\r\n\x1a\n\x00\x00"),
    ],
)
def test_bad_input_raises_only_taxonomy_error(tmp_path, name, content):
    with pytest.raises(TaxonomyError):
        read_corpus([write(tmp_path, name, content)])


# --- deduplication -------------------------------------------------------------------------


def test_dedup_first_wins_and_later_copies_fill_gaps(tmp_path):
    write(tmp_path, "1.csv", "abstract,title,arxiv_id\nshared  text,,\nother,,2303.11366\n")
    write(
        tmp_path, "2.jsonl", '{"abstract": "shared text", "title": "T", "arxiv_id": "2401.00001"}\n'
    )
    corpus = read_corpus([tmp_path])
    assert corpus.n_records == 3 and len(corpus) == 2
    shared = corpus.papers[0]
    assert (shared.source, shared.line, shared.title) == ("1.csv", 2, "T")
    assert (shared.arxiv_id, shared.year_month) == ("2401.00001", "2024-01")


def test_dedup_keeps_paper_ids_unique():
    papers = [
        Paper(abstract="first", source="a", arxiv_id="2303.11366", year_month="2023-03"),
        Paper(abstract="second", source="a", arxiv_id="2303.11366", year_month="2023-03"),
        Paper(abstract="third", source="a"),
        Paper(abstract="third", source="b", arxiv_id="2303.11366"),  # id already taken
    ]
    unique = deduplicate(papers)
    assert [p.arxiv_id for p in unique] == ["2303.11366", None, None]
    assert len({p.id for p in unique}) == 3


def test_templated_openings_are_compared_through_the_cheap_bounds_first(monkeypatch):
    """Abstracts sharing a long opening are near-duplicate candidates of each other; their
    different bodies are told apart by the length/letter-count bounds, without the quadratic
    SequenceMatcher.ratio(), and a real near-duplicate still merges."""
    import difflib
    import random

    calls = []
    real_ratio = difflib.SequenceMatcher.ratio
    monkeypatch.setattr(
        difflib.SequenceMatcher, "ratio", lambda self: calls.append(1) or real_ratio(self)
    )
    rng = random.Random(0)
    opening = "In this work we present a study of the following question in detail: "
    words = ["graph", "kernel", "quantum", "robot", "speech", "vision", "protein", "market"]
    bodies = [" ".join(rng.choice(words) for _ in range(rng.randint(20, 60))) for _ in range(150)]
    papers = [Paper(abstract=opening * 2 + body, source="t") for body in bodies]
    papers.append(
        Paper(abstract=(opening * 2 + bodies[0]).replace("graph", "graph,", 1), source="t")
    )
    kept = deduplicate(papers)
    assert len(kept) == len(set(bodies))
    assert len(calls) < len(papers)  # a pair count would be ~11,000


def test_normalize_text_collapses_every_unicode_whitespace_like_the_regex():
    import re
    import sys

    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    text = f"{spaces}a{spaces}b\u00a0\u2003c{spaces}"
    assert normalize_text(text) == re.sub(r"\s+", " ", text).strip() == "a b c"


def test_a_paper_hashes_its_abstract_once_and_dedup_keeps_it():
    paper = Paper("One  abstract.", "a.csv", "A title", "2303.11366", "2023-03")
    assert paper.key is paper.key and paper.id == "2303.11366"
    copy = Paper(abstract="One abstract.", source="b.csv", arxiv_id="2303.11366")
    (kept,) = deduplicate([paper, copy])
    assert kept is paper  # unchanged: the same object, its key already computed
    taken = Paper(abstract="Another abstract.", source="b.csv", arxiv_id="2303.11366")
    assert [p.arxiv_id for p in deduplicate([paper, taken])] == ["2303.11366", None]
