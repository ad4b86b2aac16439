"""``gansuite results`` (run folders into one table) and ``gansuite compare`` (two runs)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["results_cmd", "compare_cmd"]

FORMATS = ["table", "csv", "markdown", "json"]


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

    \b
    Examples:
      gansuite results runs/
      gansuite results runs/ --filter model=dcgan --filter eval='*-svm' --format markdown
      gansuite results runs/ --format csv > results.csv
      gansuite results runs/ --plot results.png
    """
    from gansuite.report import results

    frame = results.results_table(runs_dir or (Path("runs"),), train=train)
    frame = results.filter_table(frame, results.parse_filters(filters))
    shown = frame if all_columns or fmt in {"csv", "json"} else frame[results.display_columns(frame)]
    click.echo(results.format_table(shown, fmt))
    if plot is not None:
        out = results.plot_results(frame, plot)
        click.echo(f"Wrote {out}", err=True)


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

    frame = results.compare_runs(run_a, run_b)
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
