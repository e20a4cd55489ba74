"""Command line: `taxonomy run`, `taxonomy assign`, `taxonomy eval`.

User errors (TaxonomyError) become one line on stderr and exit code 2; the heavy modules are
imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

import sys
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
    typer.Option("--config", "-c", help="YAML config (default: configs/default.yaml)."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder (default: output.dir).")
]


@app.command()
@user_errors
def run(
    config: ConfigOption = None,
    out: OutOption = None,
    quiet: bool = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit afresh instead of updating the last run.")
    ] = False,
) -> None:
    """Build the taxonomy and the map from the configured abstracts (or update the last run)."""
    from taxonomy.atomic import locked
    from taxonomy.config import load_config
    from taxonomy.pipeline import run as run_pipeline

    cfg = load_config(config)
    out_dir = out or Path(cfg.output.dir)
    check_folders(cfg, config, out_dir, "--out" if out else "output.dir")
    with locked(out_dir):  # one run per output folder, from start to end
        result = run_pipeline(
            cfg, out=out_dir, refit=refit, progress=not quiet and sys.stderr.isatty()
        )
    table = Table(title="taxonomy run", show_header=False)
    n = len(result.corpus)
    table.add_row("papers", f"{n} unique ({result.corpus.n_records} records)")
    table.add_row("newly embedded", str(result.newly_embedded))
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
    run_dir: Annotated[
        Path | None,
        typer.Option("--run", "--out", "-o", help="Finished run's folder (default: output.dir)."),
    ] = None,
) -> None:
    """Place new abstracts into the last run's topics without refitting."""
    from taxonomy.atomic import locked
    from taxonomy.config import load_config
    from taxonomy.ingest import ReadLimits
    from taxonomy.pipeline import NEW_THEME_LABEL
    from taxonomy.pipeline import assign as assign_files

    cfg = load_config(config)
    folder = run_dir or Path(cfg.output.dir)
    check_folders(cfg, config, folder, "--run" if run_dir else "output.dir")
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
    run_dir: Annotated[Path, typer.Option("--run", help="Folder of a finished run.")] = Path(
        "outputs"
    ),
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
