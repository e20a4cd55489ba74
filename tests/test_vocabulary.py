"""Reference schemes (taxonomy/vocabulary.py): the bundled ones load, a user's scheme is
checked with file:line messages, and a theme takes an area's name only on a clear match."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from taxonomy.cli import app
from taxonomy.config import load_config
from taxonomy.errors import TaxonomyError
from taxonomy.export.tables import node_to_dict
from taxonomy.label import label_taxonomy
from taxonomy.models import Corpus, Paper
from taxonomy.naming import is_generic, repeats_word
from taxonomy.tree import THEME, TOPIC, Taxonomy
from taxonomy.vocabulary import area_names, assign_areas, bundled, fit_share, load_scheme


def test_bundled_schemes_load_with_usable_names():
    assert {"arxiv-cs", "ml-areas"} <= set(bundled())
    for spec in bundled():
        scheme = load_scheme(spec)
        assert scheme.name == spec and len(scheme.areas) >= 30
        names = [a.name for a in scheme.areas]
        assert len({n.lower() for n in names}) == len(names)
        assert all(a.description and not repeats_word(a.name) for a in scheme.areas)
        # a generic name ("Machine learning") can never name a theme: keep them few
        assert sum(is_generic(n) for n in names) <= 1, [n for n in names if is_generic(n)]


BAD_SCHEMES = {
    "not a mapping": ("- a\n", ":", "must be a mapping"),
    "no areas": ("name: x\n", ":", "areas: must be a non-empty list"),
    "unknown field": ("name: x\nareas: []\ncolour: red\n", ":3:", "colour: unknown field"),
    "no description": ("name: x\nareas:\n  - name: A\n", ":3:", "areas.0.description"),
    "twice": (
        "name: x\nareas:\n  - {name: A, description: a}\n  - {name: a, description: b}\n",
        ":4:",
        "areas.1.name: 'a' is listed twice",
    ),
    "aliases": ("name: x\nareas:\n  - name: A\n    description: a\n    aliases: b\n", ":5:", ""),
    "bad yaml": ("name: [x\n", ":", "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCHEMES))
def test_a_bad_scheme_is_reported_with_file_line_and_field(tmp_path, case):
    text, where, needle = BAD_SCHEMES[case]
    path = tmp_path / "areas.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(TaxonomyError) as err:
        load_config(None, {"hierarchy.vocabulary": str(path)})
    assert f"{path}{where}" in str(err.value) and needle in str(err.value), str(err.value)


def test_cli_exits_2_on_an_unknown_vocabulary(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("hierarchy:\n  vocabulary: no-such-scheme\n", "utf-8")
    result = CliRunner().invoke(app, ["run", "-c", str(cfg), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "hierarchy.vocabulary: not auto, none, a bundled scheme" in result.output
    assert str(cfg) in result.output


def test_a_user_scheme_file_is_accepted(tmp_path):
    path = tmp_path / "areas.yaml"
    path.write_text("name: mine\nareas:\n  - {name: Qubits, description: quantum bits}\n")
    assert load_config(None, {"hierarchy.vocabulary": str(path)}).hierarchy.vocabulary == str(path)
    assert load_config(None).hierarchy.vocabulary == "auto"


def test_clear_matches_only_and_each_area_once():
    scheme = SimpleNamespace(
        areas=[SimpleNamespace(name=n, aliases=a) for n, a in (("A", ("cs.XX", "a2")), ("B", ()))]
    )
    similarity = np.array(
        [
            [0.20, 0.05],  # clear A
            [0.19, 0.04],  # clear A too, less similar: A is taken, so no area name
            [0.10, 0.09],  # no margin
            [0.02, 0.01],  # too weak
        ]
    )
    assert assign_areas(similarity, scheme, lambda n: True) == ["A", None, None, None]
    # A refused (a topic holds the name): its alias that is a name, never the arXiv code
    assert assign_areas(similarity, scheme, lambda n: n != "A")[0] == "A2"
    assert fit_share(similarity) == 0.0  # A is the best area of two themes
    assert fit_share(np.array([[0.2, 0.05], [0.05, 0.2]])) == 1.0
    assert fit_share(np.array([[0.2, 0.05], [0.05, 0.06]])) == 0.5


def _embedder(areas: dict[str, np.ndarray]):
    """Phrase embedder giving each area text (by its name) a fixed vector, and every other
    text a vector along the last axis, where no paper lies."""
    rng = np.random.default_rng(0)

    def embed(items: list[str]) -> np.ndarray:
        rows = []
        for text in items:
            name = next((n for n in areas if text.startswith(n)), None)
            other = np.array([0, 0, 0, 1.0]) + rng.normal(size=4) * 0.001
            rows.append(areas[name] if name else other)
        return np.array(rows, dtype=np.float32)

    return embed


def test_area_names_auto_none_and_without_embedder():
    embeddings = np.array([[1, 0, 0.1, 0], [1, 0.1, 0, 0], [0, 1, 0.1, 0], [0.1, 1, 0, 0]])
    theme_of = np.array([0, 0, 1, 1])
    areas = {
        "Speech processing": np.array([1.0, 0, 0, 0]),
        "Diffusion models": np.array([0, 1.0, 0, 0]),
    }
    ml = area_names(embeddings, theme_of, "ml-areas", _embedder(areas))
    assert ml.scheme == "ml-areas" and ml.names == ["Speech processing", "Diffusion models"]
    assert area_names(embeddings, theme_of, "none", _embedder(areas)).names == [None, None]
    assert area_names(embeddings, theme_of, "auto", None).scheme is None
    # auto: ml-areas fits (both themes match distinct areas), arxiv-cs does not (noise)
    auto = area_names(embeddings, theme_of, "auto", _embedder(areas))
    assert auto.scheme == "ml-areas" and auto.names == ml.names


def test_label_taxonomy_records_who_named_each_theme():
    speech = [f"Speech recognition of spoken audio number {i}." for i in range(6)]
    images = [f"Diffusion of image pixels, sample {i}." for i in range(6)]
    texts = speech + images
    embeddings = np.array(
        [[1, 0, 0.01 * i, 0] for i in range(6)] + [[0, 1, 0.01 * i, 0] for i in range(6)],
        dtype=np.float32,
    )
    taxonomy = Taxonomy.numbered(np.repeat([0, 1, 2, 3], 3), np.array([0, 0, 1, 1]))
    areas = {"Speech processing": np.eye(4)[0], "Diffusion models": np.eye(4)[1]}
    settings = SimpleNamespace(n_keywords=3, n_representatives=2, max_ngram=2)
    out, auto = label_taxonomy(
        taxonomy,
        texts,
        embeddings,
        embeddings,
        settings,
        preset={"theme-2": "My images"},
        fixed={"theme-2": "My images"},
        embed_phrases=_embedder(areas),
        vocabulary="ml-areas",
    )
    assert out.labels["theme-1"] == "Speech processing"
    assert out.named_by == {"theme-1": "ml-areas", "theme-2": "user"}
    assert auto["theme-2"] == "Diffusion models" and out.labels["theme-2"] == "My images"
    corpus = Corpus([Paper(abstract=t, source="x") for t in texts], len(texts))
    themes = out.tree()
    exported = {node_to_dict(t, corpus)["label"]: node_to_dict(t, corpus) for t in themes}
    assert exported["Speech processing"]["named_by"] == "ml-areas"
    assert "named_by" not in exported["Speech processing"]["children"][0]
    assert [out.labels[i] for i in out.ids[TOPIC]] and out.n_nodes(THEME) == 2
