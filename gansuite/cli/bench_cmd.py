"""``gansuite bench [--quick] [--save] [--compare] [PATTERN]``, ``gansuite bench history`` and
``gansuite bench report``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["bench_cmd", "history_cmd", "report_cmd"]


class BenchGroup(click.Group):
    """A group whose first positional argument is a PATTERN unless it names a subcommand.

    ``gansuite bench dcgan --quick`` runs the benchmarks matching ``dcgan``;
    ``gansuite bench history`` runs the ``history`` subcommand.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {
            o for p in self.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts
        }
        rest: list[str] = []
        pattern: str | None = None
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in takes_value:
                rest += args[i : i + 2]
                i += 2
            elif arg.startswith("-"):
                rest.append(arg)
                i += 1
            elif arg in self.commands and pattern is None:
                rest += args[i:]
                break
            elif pattern is None:
                pattern = arg
                i += 1
            else:
                raise click.UsageError(
                    f"gansuite bench takes one PATTERN, got {pattern!r} and {arg!r} (combine them: 'a or b')."
                )
        ctx.meta["bench.pattern"] = pattern
        return super().parse_args(ctx, rest)


def _history_root(value: Path | None) -> Path:
    from gansuite.report import bench

    return value if value is not None else bench.benchmarks_dir() / "history"


_HISTORY_DIR = click.option(
    "--history-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The storage root: <hardware id>/<quick|full>/ folders [benchmarks/history].",
)


@click.group(
    "bench", cls=BenchGroup, invoke_without_command=True,
    subcommand_metavar="[PATTERN] | history [OPTIONS] | report [OPTIONS]",
)
@click.option("--quick", is_flag=True, help="The short pass (small batches, few rounds), as CI runs it.")
@click.option("--save", is_flag=True, help="Store the run (pytest-benchmark --benchmark-autosave).")
@click.option("--compare", is_flag=True,
              help="Fail (exit 1) when a benchmark regressed against the last stored run of this hardware "
                   "and mode (pytest-benchmark --benchmark-compare with --benchmark-compare-fail).")
@click.option("--compare-fail", "compare_fail", default=None, metavar="EXPR",
              help="pytest-benchmark's regression rule for --compare, e.g. median:15% or min:5% [median:10%].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the pytest-benchmark JSON report [benchmarks/reports/latest.json].")
@_HISTORY_DIR
@click.pass_context
def bench_cmd(ctx: click.Context, quick: bool, save: bool, compare: bool, compare_fail: str | None,
              json_path: Path | None, history_dir: Path | None) -> None:
    """Run the throughput benchmarks (pytest-benchmark); store and compare them per hardware.

    PATTERN selects benchmarks by name, as a pytest -k expression: 'dcgan', 'train_step and
    cpu', 'not cuda'. Every model, dedup strategy and probe solver in the registry is
    benchmarked, a third party's included. Runs are stored, and compared, by pytest-benchmark
    under benchmarks/history/<hardware id>/<quick|full>/.

    \b
    Examples:
      gansuite bench --quick --save
      gansuite bench --quick --compare --compare-fail median:15%
      gansuite bench 'dcgan and train_step'
      gansuite bench history
      gansuite bench report
    """
    if ctx.invoked_subcommand is not None:
        return
    from gansuite.contract.errors import RunError
    from gansuite.report import bench
    from gansuite.report.bench_runs import load_runs

    root, machine = _history_root(history_dir), bench.machine_id()
    storage = bench.storage_dir(root, machine, quick)
    stored = load_runs(root, machine, bench.mode_name(quick)) if compare else []  # checks every stored file
    # the latest run not flagged as starved; when every stored run is flagged, the latest one (said so)
    compare_to = next((r for r in reversed(stored) if not r.flagged), stored[-1] if stored else None)
    if compare and compare_to is None:
        click.echo(f"No stored {bench.mode_name(quick)} run for {machine} under {storage}: nothing to "
                   "compare with (store one with --save).", err=True)
        compare = False
    elif compare_to is not None:
        skipped = sum(r.flagged for r in stored if r.when > compare_to.when)
        note = (" (flagged as starved, like every stored run: read a regression with care)" if compare_to.flagged
                else f" ({skipped} later run(s) flagged as starved left out)" if skipped else "")
        click.echo(f"Comparing with {compare_to.path.name}{note}.", err=True)
    json_path = json_path or bench.benchmarks_dir() / "reports" / "latest.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    args = bench.pytest_args(ctx.meta.get("bench.pattern"), storage=storage, json_path=json_path, save=save,
                             compare_fail=(compare_fail or bench.DEFAULT_COMPARE_FAIL) if compare else None,
                             compare_to=compare_to.path if compare_to is not None else None)
    code = bench.run_benchmarks(args, quick=quick)
    if code == 1:
        click.echo("Error: a benchmark failed" + (" or regressed against the stored run" if compare else "")
                   + " (pytest exit status 1; see above).", err=True)
        ctx.exit(1)
    if code:
        raise RunError(f"The benchmark run stopped with pytest exit status {code} (see above).")


_INCLUDE_FLAGGED = click.option(
    "--include-flagged", is_flag=True,
    help="Keep runs flagged as taken on a starved machine in the trends (lines, spreads).")


@bench_cmd.command("history")
@click.option("--machine", default="all", show_default=True,
              help="A hardware id, 'this' (this machine's), or 'all' (fractions of the ceiling line up across ids).")
@click.option("--last", default=6, show_default=True, type=click.IntRange(min=1),
              help="How many stored runs the table shows (the figures show all).")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML page to write; one PNG per benchmark family goes beside it, named after it "
                   "[benchmarks/reports/history-<machine>.html].")
@click.option("--value", type=click.Choice(["throughput", "fraction", "achieved"]), default="throughput",
              show_default=True, help="What the table shows: throughput, fraction of the ceiling, or the "
                                      "achieved GFLOP/s or GB/s.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True,
              help="table: the value per benchmark and run, then the runs; csv: every stored result, one per row.")
@_INCLUDE_FLAGGED
@_HISTORY_DIR
def history_cmd(machine: str | None, last: int, plot: Path | None, value: str, fmt: str, include_flagged: bool,
                history_dir: Path | None) -> None:
    """Stored benchmark runs: a table per benchmark and run, each run's ceilings, load and flags,
    and one figure per benchmark family (throughput and fraction of the ceiling over commits)."""
    from gansuite.contract.errors import OptionError
    from gansuite.report import bench, bench_figures, bench_history
    from gansuite.report.texttable import frame_table

    root = _history_root(history_dir)
    wanted = None if machine == "all" else (bench.machine_id() if machine == "this" else machine)
    frame = bench_history.history_table(root, wanted)
    if frame.empty:
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        hint = f" Stored machines: {', '.join(known)} (pass --machine ID or --machine all)." if known else ""
        raise OptionError(f"No stored benchmark runs for {wanted or 'any machine'} under {root}; "
                          f"run 'gansuite bench --quick --save' first.{hint}")
    runs = bench_history.runs_table(frame)
    if fmt == "csv":
        click.echo(frame.to_csv(index=False).rstrip("\n"))
    else:
        click.echo(frame_table(bench_history.history_pivot(frame, last, value), float_format=".4g"))
        click.echo("")
        click.echo(frame_table(runs, float_format=".3g"))
    flagged = runs[runs["flags"] != "-"]
    if len(flagged):
        click.echo(f"{len(flagged)} of {len(runs)} stored runs flagged as taken on a starved machine"
                   f"{'' if include_flagged else ' (left out of the trends; --include-flagged keeps them)'}.",
                   err=True)
    page = plot or bench.benchmarks_dir() / "reports" / f"history-{wanted or 'all'}.html"
    page = page.with_suffix(".html")
    pngs = bench_figures.plot_families(frame, page.with_suffix(""), include_flagged=include_flagged)
    bench_figures.write_html(page, pngs, runs, source=f"{root} ({wanted or 'all machines'})")
    click.echo(f"Wrote {page} and {len(pngs)} figures beside it ({', '.join(p.name for p in pngs)})", err=True)


@bench_cmd.command("report")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the page [docs/benchmarks.md].")
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The recorded runs [benchmarks/results].")
@_INCLUDE_FLAGGED
@_HISTORY_DIR
def report_cmd(out: Path | None, results_dir: Path | None, include_flagged: bool, history_dir: Path | None) -> None:
    """Regenerate docs/benchmarks.md from the stored runs and the recorded results."""
    from gansuite.report import bench, benchdoc

    root = bench.benchmarks_dir()
    page = benchdoc.write(out or root.parent / "docs" / "benchmarks.md", _history_root(history_dir),
                          results_dir or root / "results", include_flagged=include_flagged)
    click.echo(f"Wrote {page}", err=True)
