"""Run configuration: pydantic models mirroring configs/default.yaml, validated strictly.

Unknown keys and bad values are reported as `section.key: message` with the config file name,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from taxonomy.errors import TaxonomyError, yaml_errors, yaml_line

DEFAULT_CONFIG = Path("configs/default.yaml")
DEFAULT_CURATION = "configs/taxonomy.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputConfig(_Section):
    paths: list[str] = Field(default_factory=lambda: ["data/seeds"], min_length=1)
    title_column: str = "title"
    abstract_column: str = "abstract"
    id_column: str | None = "arxiv_id"
    exclude_sources: list[str] = Field(default_factory=list)
    # Per input file, checked while reading (taxonomy.ingest.textio.ReadLimits): size after
    # decompression, lines (Parquet: rows), and a .gz file's decompressed/compressed ratio
    # (checked past 16 MiB); a file past one is an error naming it, never a long stall.
    max_bytes: Annotated[int, Field(ge=1)] = 2 * 1024**3
    max_lines: Annotated[int, Field(ge=1)] = 20_000_000
    max_ratio: Annotated[float, Field(ge=1.0)] = 100.0
    # Your own vectors instead of the sentence model (README "Your own embeddings"): a .npy
    # with one row per record read (in input order), or a .parquet with an `id` column (the
    # papers' ids: arXiv id, or the `h…` id of documents.csv) and a vector column.
    embeddings: str | None = None
    # The column holding the vectors: in the input files themselves (Parquet/JSONL/JSON, a
    # list of numbers per row) or, with `embeddings: x.parquet`, in that file.
    vector_column: str | None = None


class EmbedConfig(_Section):
    # The bundled all-MiniLM-L6-v2, or a folder holding a sentence-transformers model saved on
    # disk (SPECTER2, bge, e5, a fine-tune…); loaded offline, never from a hub.
    model: str = "all-MiniLM-L6-v2"
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 32
    max_tokens: Annotated[int, Field(ge=16, le=512)] = 256
    # Mixing in TF-IDF/SVD vectors of the same text sharpens field-specific vocabulary
    # (e.g. "LoRA", "KV cache") that a general-purpose sentence model blurs.
    tfidf_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    tfidf_dims: Annotated[int, Field(ge=2, le=1024)] = 128

    @field_validator("model")
    @classmethod
    def _model_exists(cls, value: str) -> str:
        from taxonomy.embed import model_folder_problem

        problem = model_folder_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ReduceConfig(_Section):
    n_neighbors: Annotated[int, Field(ge=2, le=200)] = 15
    n_components: Annotated[int, Field(ge=2, le=100)] = 10
    min_dist: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    map_min_dist: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1


class ClusterConfig(_Section):
    min_size: Annotated[int, Field(ge=2)] | Literal["auto"] = "auto"
    selection: Literal["leaf", "eom"] = "leaf"
    max_unassigned: Annotated[float, Field(ge=0.0, le=1.0)] = 0.02
    runs: Annotated[int, Field(ge=1, le=20)] | Literal["auto"] = "auto"


class LabelConfig(_Section):
    n_keywords: Annotated[int, Field(ge=1, le=50)] = 10
    n_representatives: Annotated[int, Field(ge=1, le=100)] = 8
    max_ngram: Annotated[int, Field(ge=1, le=4)] = 3


class HierarchyConfig(_Section):
    n_themes: Annotated[int, Field(ge=1)] | Literal["auto"] = "auto"
    # Reference scheme of named areas for theme names (taxonomy/vocabulary.py): auto (a
    # bundled scheme where it fits the corpus), none, a bundled name, or a scheme YAML file.
    vocabulary: str = "auto"

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary_usable(cls, value: str) -> str:
        from taxonomy.vocabulary import check_setting

        return check_setting(value)


class OutputConfig(_Section):
    dir: str = "outputs"
    map: bool = True
    # Title of map.html, report.html and map.png; None: from the first input's name.
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    report: bool = True  # report.html (plotly, offline) and trends.csv
    figure: bool = True  # map.png (300 dpi) and map.svg
    # islands: UMAP with the fitted topics as a partial target (topics as islands, themes as
    # regions); umap: the plain 2-D UMAP of the paper vectors.
    layout: Literal["islands", "umap"] = "islands"
    # map.html draws at most this many papers: a larger corpus shows a sample stratified by
    # topic over a density layer of all papers (the page stays within ~20 MB and 5 s to draw).
    map_points: Annotated[int, Field(ge=1000)] = 100_000


class ComputeConfig(_Section):
    # Where embedding runs: cpu, or cuda (fp16, large batches; cuML UMAP/HDBSCAN if installed).
    accelerator: Literal["cpu", "cuda"] = "cpu"
    # local: this process; ray: embedding and assignment on a Ray cluster (`pip install .[ray]`).
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None  # None starts a local Ray instance; "auto" or "ray://host:10001"
    ray_cpus: Annotated[int, Field(ge=1)] = 2  # CPUs of the local Ray instance
    # Above this many papers UMAP/HDBSCAN are fitted on a seeded sample of this size and the
    # other papers are assigned to the fitted topics; null fits on every paper. 10,000 halves
    # the fit of 20,000 papers (docs/BENCHMARKS.md: 20k stand-in papers, arXiv-category NMI
    # topic 0.239 -> 0.236, theme 0.274 -> 0.258, mean of 2 seeds).
    fit_sample: Annotated[int, Field(ge=100)] | None = 10_000


class Config(_Section):
    # numpy/UMAP/scikit-learn take 32-bit unsigned seeds; a float like 1e23 is refused.
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 42
    cache_dir: str = ".cache"
    # The user's edits (rename/merge/split/move/delete/pin/seeds/exclude); null: none.
    # A missing file at the default path means no edits; any other missing path is an error.
    curation: str | None = DEFAULT_CURATION
    input: InputConfig = Field(default_factory=InputConfig)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    reduce: ReduceConfig = Field(default_factory=ReduceConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    hierarchy: HierarchyConfig = Field(default_factory=HierarchyConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)


_TYPE_PARTS = {"int", "float", "str", "bool", "list", "dict"}


def _field_path(loc: tuple[Any, ...]) -> str:
    """'cluster.min_size' from pydantic's loc, minus the union-branch names it inserts."""
    parts = [str(p) for p in loc]
    return ".".join(p for p in parts if p not in _TYPE_PARTS and "-" not in p and "[" not in p)


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The settings allowed in the section holding the unknown key at `loc`."""
    model: Any = Config
    for part in loc[:-1]:
        info = model.model_fields.get(part)
        if info is None or not isinstance(info.annotation, type):
            return []
        if not issubclass(info.annotation, BaseModel):
            return []
        model = info.annotation
    return list(model.model_fields)


def _format_error(err: dict[str, Any]) -> str:
    where = _field_path(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), _known_keys(err["loc"]), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{where}: unknown setting{hint}"
    signs = {
        "greater_than_equal": "≥",
        "less_than_equal": "≤",
        "greater_than": ">",
        "less_than": "<",
    }
    if kind in signs:
        return f"{where}: must be {signs[kind]} {next(iter(ctx.values()))}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message[:1].lower()}{message[1:]}"


def config_from_dict(
    data: dict[str, Any], *, source: str = "<config>", text: str | None = None
) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        # Report each setting once (a union like `int | "auto"` yields one error per branch).
        messages: dict[str, str] = {}
        for err in exc.errors():
            messages.setdefault(_field_path(err["loc"]), _format_error(err))
        first = next(iter(messages))
        raise TaxonomyError(
            "; ".join(messages.values()), path=source, line=yaml_line(text, first.split("."))
        ) from None
    paths = {"cache_dir": config.cache_dir, "output.dir": config.output.dir}
    paths |= {f"input.paths.{i}": p for i, p in enumerate(config.input.paths)}
    for where, value in paths.items():
        if "\x00" in value or not value.strip():
            raise TaxonomyError(f"{where}: not a usable path: {value!r}", path=source)
    return config


def setting_name(key: str) -> str:
    """'cluster__min_size' (a Python keyword argument) -> 'cluster.min_size'."""
    return key.replace("__", ".")


def _apply(data: dict[str, Any], overrides: dict[str, Any], source: str) -> None:
    """Set dotted (or `section__key`) settings, or whole sections given as dicts, in `data`."""
    for key, value in overrides.items():
        section = data
        *parents, leaf = setting_name(key).split(".")
        for part in parents:
            section = section.setdefault(part, {})
            if not isinstance(section, dict):
                raise TaxonomyError(f"{part}: must be a mapping of settings", path=source)
        if isinstance(value, dict) and isinstance(section.get(leaf), dict):
            _apply(section[leaf], value, source)
        else:
            section[leaf] = value


def resolve_config(
    config: Config | dict[str, Any] | Path | str | None, overrides: dict[str, Any] | None = None
) -> Config:
    """A Config from a Config, a dict of settings, a YAML path or None (configs/default.yaml),
    with `overrides` applied: dotted names (`"cluster.min_size": 8`), keyword style
    (`cluster__min_size=8`) or sections as dicts (`cluster={"min_size": 8}`)."""
    if isinstance(config, Config):
        if not overrides:
            return config
        data = config.model_dump()
        _apply(data, overrides, "<settings>")
        return config_from_dict(data, source="<settings>")
    if isinstance(config, dict):
        data: dict[str, Any] = {}
        _apply(data, copy.deepcopy(config), "<settings>")
        _apply(data, overrides or {}, "<settings>")
        return config_from_dict(data, source="<settings>")
    return load_config(config, overrides)


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a YAML config (safe loader only); a missing default file means all defaults.

    `overrides`: settings applied on top, as in `resolve_config`."""
    data: dict[str, Any] = {}
    text: str | None = None
    source = str(path or DEFAULT_CONFIG)
    config_path = Path(source)
    if path is not None and not config_path.is_file():
        raise TaxonomyError("config file not found", path=source)
    if config_path.is_file():
        from taxonomy.ingest.textio import read_text  # same encoding policy as the input

        text = read_text(config_path)
        with yaml_errors(source):
            loaded = yaml.safe_load(text)  # safe: a `!!python/...` tag is a YAMLError
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise TaxonomyError("config must be a mapping of sections", path=source)
        data = loaded
    _apply(data, overrides or {}, source)
    return config_from_dict(data, source=source, text=text)
