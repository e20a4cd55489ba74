"""taxonomy: topic maps and editable taxonomies from research abstracts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from taxonomy.pipeline import RunResult


def run(config: Any = None, out: Any = None, **overrides: Any) -> RunResult:
    """Run the whole pipeline; see `taxonomy.pipeline.run`. Imported lazily to keep import fast."""
    from taxonomy.pipeline import run as _run

    return _run(config, out=out, **overrides)


def fit(papers: Any, embeddings: Any = None, config: Any = None, **settings: Any) -> RunResult:
    """Fit a taxonomy in memory (nothing written); see `taxonomy.fitting.fit`.

    `papers`: abstract texts, a pandas DataFrame (columns input.title_column/abstract_column/
    id_column, vectors in input.vector_column) or a Corpus; `embeddings`: your own [n, d]
    vectors; `config`: a YAML path, a dict of settings or a Config; `settings`: overrides such
    as `cluster__min_size=8` (double underscore for the dot) or `cluster={"min_size": 8}`.
    """
    from taxonomy.pipeline import fit as _fit

    return _fit(papers, embeddings, config, **settings)


__all__ = ["fit", "run", "__version__"]
