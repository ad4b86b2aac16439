"""``gansuite results`` (run folders into one table) and ``gansuite compare`` (two runs)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["results_cmd", "compare_cmd"]

FORMATS = ["table", "csv", "markdown", "json"]


def _warn(line: str) -> None:
    click.echo(f"Warning: {line}", err=True)


@click.command("results")
@click.argument("runs_dir", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keep rows whose column matches (fnmatch glob); repeat to combine.",
)
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG of each metric per model and eval (needs two runs or more).",
)
@click.option(
    "--train/--no-train",
    default=True,
    show_default=True,
    help="Include the training summary rows (eval 'train': steps, losses, images/s).",
)
@click.option(
    "--all-columns",
    is_flag=True,
    help="table/markdown: also show provenance columns (probe, step, timings...); csv/json always do.",
)
def results_cmd(
    runs_dir: tuple[Path, ...],
    fmt: str,
    filters: tuple[str, ...],
    plot: Path | None,
    train: bool,
    all_columns: bool,
) -> None:
    """Aggregate run folders into one tidy table.

    RUNS_DIR is a run folder or a folder of run folders (default: ./runs). One row per run,
    eval and metric, with the model, dataset, dedup strategy, seed, device, versions, data
    verification and creation time.

    Given a study folder ('gansuite study'), it prints the study's aggregate instead: mean,
    std and 95% interval over seeds per model, dataset and metric, with the pairwise tests
    (--plot writes the error-bar figure).

    \b
    Examples:
      gansuite results runs/
      gansuite results runs/ --filter model=dcgan --filter eval='*-svm' --format markdown
      gansuite results runs/ --format csv > results.csv
      gansuite results runs/ --plot results.png
      gansuite results studies/digits
    """
    from gansuite.report import results
    from gansuite.study.folder import is_study

    if len(runs_dir) == 1 and is_study(runs_dir[0]):
        _study_results(runs_dir[0], fmt, filters, plot)
        return

    frame = results.results_table(runs_dir or (Path("runs"),), train=train, warn=_warn)
    frame = results.filter_table(frame, _filters(filters))
    shown = frame if all_columns or fmt in {"csv", "json"} else frame[results.display_columns(frame)]
    click.echo(results.format_table(shown, fmt))
    if plot is not None:
        out = results.plot_results(frame, plot)
        click.echo(f"Wrote {out}", err=True)


def _filters(filters: tuple[str, ...]) -> list[tuple[str, str]]:
    from gansuite._host.options import parse_pairs

    return parse_pairs(filters, flag="--filter", what="filter", example="model=dcgan")


def _study_results(path: Path, fmt: str, filters: tuple[str, ...], plot: Path | None) -> None:
    from gansuite.report import results
    from gansuite.study.aggregate import study_rows
    from gansuite.study.folder import StudyFolder
    from gansuite.study.tables import StudyTables, format_tables, plot_aggregate

    study = StudyFolder(path)
    rows = study_rows(study)
    if filters and not rows.empty:
        rows = results.filter_table(rows, _filters(filters))
    tables = StudyTables(study, rows)
    click.echo(format_tables(tables, fmt))
    if plot is not None:
        plot_aggregate(tables, plot)
        click.echo(f"Wrote {plot}", err=True)


@click.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format of the metrics.",
)
@click.option(
    "--train/--no-train", default=True, show_default=True, help="Include the training summary rows."
)
def compare_cmd(run_a: Path, run_b: Path, fmt: str, train: bool) -> None:
    """Compare two runs: settings that differ, then every metric side by side.

    diff is RUN_B minus RUN_A; rel_diff divides it by |RUN_A|. A metric only one run has
    shows an empty value for the other.
    """
    from gansuite.report import results

    frame = results.compare_runs(run_a, run_b, warn=_warn)
    if not train:
        frame = frame[frame["eval"] != "train"].reset_index(drop=True)
    if fmt == "table":
        diffs = results.config_differences(run_a, run_b)
        click.echo(f"A: {run_a}\nB: {run_b}")
        if diffs:
            click.echo("Settings that differ:")
            width = max(len(k) for k, _, _ in diffs)
            for key, va, vb in diffs:
                click.echo(f"  {key:<{width}}  A={va}  B={vb}")
        else:
            click.echo("Same settings.")
        click.echo("")
    click.echo(results.format_table(frame, fmt))
