"""Command line: `taxonomy run`, `taxonomy assign`, `taxonomy eval`.

User errors (TaxonomyError) become one line on stderr and exit code 2; the heavy modules are
imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from taxonomy.errors import TaxonomyError, printable

app = typer.Typer(
    help="Topic maps and editable taxonomies from research abstracts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
console = Console()


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn TaxonomyError into `error: <message>` and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TaxonomyError as exc:
            # The message quotes file names and file text: never read it as rich markup.
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; previous outputs are untouched")
            raise typer.Exit(130) from None

    return wrapper


def warn_if_mixed(run_dir: Path) -> None:
    """Warn when a run folder's files do not match its manifest (an interrupted run)."""
    from taxonomy.atomic import verify_outputs

    if run_dir.is_dir():
        for problem in verify_outputs(run_dir):
            err_console.print(
                f"warning: {escape(printable(problem))}", highlight=False, soft_wrap=True
            )


def check_folders(cfg: Any, config: Path | None, out_dir: Path, out_setting: str) -> None:
    """Output and cache folders blocked or read-only: one error now, not after embedding."""
    from taxonomy.atomic import check_writable
    from taxonomy.config import DEFAULT_CONFIG

    source = str(config or DEFAULT_CONFIG)
    check_writable(out_dir, out_setting, source=source)
    cache = Path(cfg.cache_dir)
    for folder in (cache, cache / "embeddings", cache / "stages"):
        check_writable(folder, "cache_dir", source=source)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML config (default: the one the run in --run used, else configs/default.yaml).",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress on stderr, only the summary.")
]
VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Also log each stage's start and the details."),
]


def run_option(default: str) -> Any:
    """The one name of the run folder option on every command (`--out` is an alias)."""
    return typer.Option("--run", "--out", "-o", help=f"The run's folder (default: {default}).")


def run_settings(config: Path | None, run_dir: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """(config file, overrides) for a command on the run in `run_dir`: without --config, the
    config and cache folder the run recorded in its state.json (when they still exist)."""
    if config is not None or run_dir is None:
        return config, {}
    from taxonomy.curate.ids import read_state

    state = read_state(run_dir) if run_dir.is_dir() else None
    if state is None:
        return None, {}
    found = Path(state.config) if state.config and Path(state.config).is_file() else None
    overrides = {"cache_dir": state.cache_dir} if state.cache_dir else {}
    if found is not None or overrides:
        where = found or "the default config"
        err_console.print(
            escape(printable(f"using {where} and the cache {state.cache_dir} of {run_dir}")),
            highlight=False,
            soft_wrap=True,
        )
    return found, overrides


def set_logging(verbose: bool) -> None:
    """--verbose: the modules' informational log lines too (warnings always show)."""
    if verbose:
        import logging

        logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
        logging.getLogger("taxonomy").setLevel(logging.INFO)


@app.command()
@user_errors
def run(
    config: ConfigOption = None,
    run_dir: Annotated[Path | None, run_option("output.dir")] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit afresh instead of updating the last run.")
    ] = False,
) -> None:
    """Build the taxonomy and the map from the configured abstracts (or update the last run)."""
    from taxonomy.atomic import locked
    from taxonomy.config import load_config
    from taxonomy.pipeline import run as run_pipeline

    set_logging(verbose)
    config, overrides = run_settings(config, run_dir)
    cfg = load_config(config, overrides)
    out_dir = run_dir or Path(cfg.output.dir)
    check_folders(cfg, config, out_dir, "--run" if run_dir else "output.dir")
    with locked(out_dir):  # one run per output folder, from start to end
        result = run_pipeline(
            config, out=out_dir, refit=refit, progress=not quiet, verbose=verbose, **overrides
        )
    table = Table(title="taxonomy run", show_header=False)
    n = len(result.corpus)
    table.add_row("papers", f"{n} unique ({result.corpus.n_records} records)")
    embedded = "own vectors" if result.state.vectors == "given" else str(result.newly_embedded)
    table.add_row("newly embedded", embedded)
    table.add_row("themes", str(len(result.themes)))
    table.add_row("topics", str(len(result.topics)))
    table.add_row(
        "unassigned", f"{result.unassigned} ({100 * result.unassigned / max(n, 1):.1f} %)"
    )
    if result.changes:
        from taxonomy.curate.changes import run_line, summary_line

        table.add_row("changes", summary_line(result.changes))
        table.add_row("this run", run_line(result.changes))
    for name, seconds in result.timings.items():
        table.add_row(f"{name} (s)", f"{seconds:.1f}")
    table.add_row("total (s)", f"{sum(result.timings.values()):.1f}")
    console.print(table)
    for kind, path in result.files.items():
        console.print(f"{kind:>10}: {path}")


@app.command()
@user_errors
def assign(
    files: Annotated[list[Path], typer.Argument(help="Files or folders of new abstracts.")],
    config: ConfigOption = None,
    run_dir: Annotated[Path | None, run_option("output.dir")] = None,
    embeddings: Annotated[
        Path | None,
        typer.Option(
            "--embeddings",
            help="The new papers' own vectors (.npy in input order, or .parquet by id), for a "
            "run fitted on your own vectors (default: input.embeddings).",
        ),
    ] = None,
    vector_column: Annotated[
        str | None,
        typer.Option("--vector-column", help="Column of the new files holding their vectors."),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Place new abstracts into the last run's topics without refitting."""
    from taxonomy.assign import NEW_THEME_LABEL
    from taxonomy.assign import assign as assign_files
    from taxonomy.atomic import locked
    from taxonomy.config import load_config
    from taxonomy.ingest import ReadLimits

    set_logging(verbose)
    folder_given = run_dir
    if run_dir is None:
        run_dir = Path(load_config(config).output.dir)
    config, overrides = run_settings(config, run_dir)
    cfg = load_config(config, overrides)
    folder = run_dir
    check_folders(cfg, config, folder, "--run" if folder_given else "output.dir")
    warn_if_mixed(folder)
    with locked(folder):
        placed = assign_files(
            files,
            folder,
            cache_dir=Path(cfg.cache_dir),
            columns={  # keyword arguments of ingest.read_corpus
                "title_column": cfg.input.title_column,
                "abstract_column": cfg.input.abstract_column,
                "id_column": cfg.input.id_column,
                "limits": ReadLimits.from_config(cfg.input),
            },
            map_html=cfg.output.map,
            embeddings=embeddings or (None if vector_column else cfg.input.embeddings),
            vector_column=vector_column or cfg.input.vector_column,
            progress=not quiet,
            verbose=verbose,
        )
    table = Table(title="taxonomy assign", show_header=False)
    table.add_row("new papers", str(len(placed.papers)))
    table.add_row("already in the run", str(placed.skipped))
    table.add_row("placed in a topic", str(len(placed.papers) - placed.unassigned))
    table.add_row(NEW_THEME_LABEL.lower(), str(placed.unassigned))
    table.add_row("similarity floor", f"{placed.threshold:.3f}")
    console.print(table)
    for kind, path in placed.files.items():
        console.print(f"{kind:>10}: {path}")


@app.command("eval")
@user_errors
def evaluate(
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", "-l", help="JSONL/CSV of labels keyed by id, arXiv id or abstract."
        ),
    ] = None,
    run_dir: Annotated[Path | None, run_option("output.dir of configs/default.yaml")] = None,
    label_field: Annotated[
        str | None, typer.Option(help="Field holding the label (default: theme, then label).")
    ] = None,
    ignore_label: Annotated[
        list[str] | None,
        typer.Option("--ignore-label", help="Label value to leave out of scoring (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score a run against labels (NMI, ARI, purity, coverage), or its topics' coherence."""
    import json

    from taxonomy.evaluate import (
        coherence_report,
        evaluate_run,
        format_label_check,
        format_report,
        load_labels,
        read_documents,
        read_topic_keywords,
    )

    if run_dir is None:
        from taxonomy.config import load_config

        run_dir = Path(load_config().output.dir)
    warn_if_mixed(run_dir)
    docs = read_documents(run_dir / "documents.csv")
    if labels is not None:
        ignore = tuple(ignore_label) if ignore_label else ("other",)
        result = evaluate_run(docs, load_labels(labels, label_field), ignore_labels=ignore)
        unmatched = result["labels"]["n_unmatched"]
        if unmatched and not as_json:
            err_console.print(f"warning: {unmatched} labels matched no paper of the run")
    else:
        result = coherence_report(docs, read_topic_keywords(run_dir / "taxonomy.yaml"))
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        console.print(format_report(result))
        if (check := format_label_check(result)) is not None:
            console.print(check)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
