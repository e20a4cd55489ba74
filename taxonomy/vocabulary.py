"""Reference schemes of named research areas (`hierarchy.vocabulary`) and theme names from them.

As BERTopic's zero-shot topic list: a scheme is a YAML file with a `name` and `areas`, each a
`name`, a `description` and optional `aliases`. Areas are embedded (name, description and
aliases) with the run's phrase embedder and matched to the themes by cosine with the theme's
centroid of paper embeddings, less the area's cosine with the corpus's mean direction: what
every paper of the corpus shares ("language models" in an NLP corpus) would otherwise pull
every theme to the same area. A theme takes an area's name only when the match is clear (the
best area beats the second by MARGIN) and no other theme took that area; the other themes keep
their names from the corpus. With `auto`, the bundled scheme with the most themes matching a
distinct area clearly is used, and only if that is at least FIT_SHARE of the themes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.preprocessing import normalize

from taxonomy.errors import TaxonomyError, yaml_errors, yaml_line
from taxonomy.tree import group_centroids

BUNDLED_DIR = Path(__file__).resolve().parent / "vocabularies"
# A theme matches an area clearly when its centred cosine with the best area is at least
# MIN_SIMILARITY and exceeds the second best by MARGIN. Centred MiniLM cosines between a theme
# centroid and an area text lie within about -0.1..0.3 (raw ones 0.3-0.7).
MARGIN = 0.03
MIN_SIMILARITY = 0.05
FIT_SHARE = 0.4  # `auto`: share of the themes that must match distinct areas clearly
MAX_NAME_CHARS = 80
_CODE = re.compile(r"^[a-z-]+\.[A-Z]{2}$")  # arXiv class codes ("cs.CL"): not embedded


@dataclass(frozen=True)
class Area:
    name: str
    description: str
    aliases: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """What is embedded: the name, its description and the aliases that are words."""
        words = [a for a in self.aliases if not _CODE.match(a)]
        also = f" ({', '.join(words)})" if words else ""
        return f"{self.name}{also}: {self.description}"


@dataclass(frozen=True)
class Scheme:
    name: str
    areas: tuple[Area, ...]


@dataclass(frozen=True)
class AreaNames:
    """The outcome of matching: the scheme used (None: none fits) and an area name or None
    per theme."""

    scheme: str | None
    names: list[str | None]


def bundled() -> list[str]:
    """Names of the schemes shipped in taxonomy/vocabularies ("arxiv-cs", "ml-areas")."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))


def check_setting(value: str) -> str:
    """Validate `hierarchy.vocabulary`: auto, none, a bundled scheme, or a readable scheme file
    (read and checked now, so a mistake stops the run before any work)."""
    if value in ("auto", "none") or value in bundled():
        return value
    if not Path(value).is_file():
        raise ValueError(
            f"not auto, none, a bundled scheme ({', '.join(bundled())}) or a file: {value!r}"
        )
    load_scheme(value)
    return value


def load_scheme(spec: str) -> Scheme:
    """A bundled scheme by name, or a scheme YAML file; errors name the file, line and field."""
    from taxonomy.ingest.textio import read_text

    path = BUNDLED_DIR / f"{spec}.yaml" if spec in bundled() else Path(spec)
    if not path.is_file():
        raise TaxonomyError("vocabulary file not found", path=path)
    text = read_text(path)
    with yaml_errors(path, text):
        data = yaml.safe_load(text)
    return parse_scheme(data, source=str(path), text=text)


def _fail(message: str, source: str, text: str | None, where: list[str | int]) -> TaxonomyError:
    field = ".".join(str(w) for w in where)
    return TaxonomyError(f"{field}: {message}", path=source, line=yaml_line(text, where))


def _text_field(
    item: dict[str, Any], key: str, where: list[str | int], source: str, text: str | None
) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail("must be a non-empty text", source, text, [*where, key])
    return " ".join(value.split())


def parse_scheme(data: Any, *, source: str, text: str | None = None) -> Scheme:
    """Check a loaded scheme: `name`, and `areas` as a list of {name, description, aliases?}."""
    if not isinstance(data, dict):
        raise TaxonomyError("a vocabulary must be a mapping with name and areas", path=source)
    for key in data:
        if key not in ("name", "areas"):
            raise _fail("unknown field (expected name, areas)", source, text, [str(key)])
    name = _text_field(data, "name", [], source, text)
    items = data.get("areas")
    if not isinstance(items, list) or not items:
        raise _fail("must be a non-empty list of areas", source, text, ["areas"])
    areas: list[Area] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where: list[str | int] = ["areas", i]
        if not isinstance(item, dict):
            raise _fail("must be a mapping with name and description", source, text, where)
        unknown = sorted(str(k) for k in item if k not in ("name", "description", "aliases"))
        if unknown:
            raise _fail(f"unknown field {unknown[0]!r}", source, text, [*where, unknown[0]])
        area_name = _text_field(item, "name", where, source, text)
        if len(area_name) > MAX_NAME_CHARS:
            raise _fail(f"longer than {MAX_NAME_CHARS} characters", source, text, [*where, "name"])
        if area_name.lower() in seen:
            raise _fail(f"{area_name!r} is listed twice", source, text, [*where, "name"])
        seen.add(area_name.lower())
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list) or not all(
            isinstance(a, str) and a.strip() for a in aliases
        ):
            raise _fail("must be a list of texts", source, text, [*where, "aliases"])
        description = _text_field(item, "description", where, source, text)
        areas.append(Area(area_name, description, tuple(" ".join(a.split()) for a in aliases)))
    return Scheme(name, tuple(areas))


def _clear(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best area per theme, whether that match is clear: MIN_SIMILARITY and MARGIN)."""
    best = np.argmax(similarity, axis=1)
    top = np.sort(similarity, axis=1)[:, ::-1]
    second = top[:, 1] if similarity.shape[1] > 1 else np.zeros(len(top))
    return best, (top[:, 0] >= MIN_SIMILARITY) & (top[:, 0] - second >= MARGIN)


def fit_share(similarity: np.ndarray) -> float:
    """Share of the themes whose clear best area is the best area of no other theme."""
    if not similarity.size:
        return 0.0
    best, clear = _clear(similarity)
    counts = np.bincount(best, minlength=similarity.shape[1])
    return float((clear & (counts[best] == 1)).mean())


def assign_areas(
    similarity: np.ndarray, scheme: Scheme, usable: Callable[[str], bool]
) -> list[str | None]:
    """An area name per theme (or None): clear matches, most similar first, each area once;
    `usable(name)` may refuse a name (taken by a topic, generic), and then an alias is tried."""
    best, clear = _clear(similarity)
    names: list[str | None] = [None] * len(similarity)
    used: set[int] = set()
    for j in sorted(range(len(similarity)), key=lambda j: (-similarity[j, best[j]], j)):
        area = int(best[j])
        if not clear[j] or area in used:
            continue
        # The area's name, else an alias that is a name (a topic may already hold the name).
        choices = [scheme.areas[area].name, *scheme.areas[area].aliases]
        name = next((c for c in choices if not _CODE.match(c) and usable(c)), None)
        if name is not None:
            names[j] = name[:1].upper() + name[1:]
            used.add(area)
    return names


def _schemes(setting: str) -> list[Scheme]:
    """The schemes `hierarchy.vocabulary` considers."""
    if setting == "none":
        return []
    return [load_scheme(spec) for spec in (bundled() if setting == "auto" else [setting])]


def area_texts(setting: str) -> list[str]:
    """The texts `area_names` embeds for this setting (a caller can embed them ahead)."""
    return [area.text for scheme in _schemes(setting) for area in scheme.areas]


def area_names(
    embeddings: np.ndarray,
    theme_of: np.ndarray,
    setting: str,
    embed_phrases: Callable[[list[str]], np.ndarray] | None,
    usable: Callable[[str], bool] = lambda name: True,
) -> AreaNames:
    """Theme names from the reference scheme `setting` (auto, none, a bundled name or a path),
    for papers with `embeddings` in themes `theme_of` (-1: none). Without a phrase embedder
    (precomputed vectors only) no scheme is used."""
    n_themes = int(theme_of.max()) + 1 if len(theme_of) else 0
    none = AreaNames(None, [None] * n_themes)
    if setting == "none" or embed_phrases is None or not n_themes:
        return none
    unit = normalize(embeddings)
    centroids = group_centroids(unit, theme_of, n_themes)
    mean = normalize(unit.mean(axis=0)[None])[0]
    best: tuple[float, Scheme, np.ndarray] | None = None
    for scheme in _schemes(setting):
        vectors = normalize(np.asarray(embed_phrases([a.text for a in scheme.areas])))
        similarity = centroids @ vectors.T - mean @ vectors.T
        share = fit_share(similarity)
        if best is None or share > best[0]:
            best = (share, scheme, similarity)
    assert best is not None
    share, scheme, similarity = best
    if setting == "auto" and share < FIT_SHARE:
        return none
    return AreaNames(scheme.name, assign_areas(similarity, scheme, usable))
