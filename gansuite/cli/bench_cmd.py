"""``gansuite bench [--quick] [--save] [--compare] [PATTERN]`` and ``gansuite bench history``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["bench_cmd", "history_cmd"]


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


def _threshold(value: Any) -> float:
    text = str(value).strip()
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number (use 0.1 or 10%).") from None
    return number / 100 if text.endswith("%") or number >= 1 else number


def _history_root(value: Path | None) -> Path:
    from gansuite.report import bench

    return value if value is not None else bench.benchmarks_dir() / "history"


@click.group(
    "bench", cls=BenchGroup, invoke_without_command=True, subcommand_metavar="[PATTERN] | history [OPTIONS]"
)
@click.option("--quick", is_flag=True, help="The short pass (small batches, few rounds), as CI runs it.")
@click.option("--save", is_flag=True, help="Store the report under benchmarks/history/<machine>/.")
@click.option(
    "--compare",
    "compare",
    is_flag=True,
    help="Fail (exit 1) when a benchmark is slower than the last saved run of this machine.",
)
@click.option(
    "--threshold",
    default="10%",
    show_default=True,
    metavar="FRACTION",
    help="How much slower counts as slower for --compare (0.1 or 10%).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the pytest-benchmark JSON report [benchmarks/reports/latest.json].",
)
@click.option(
    "--history-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The history folder [benchmarks/history].",
)
@click.pass_context
def bench_cmd(
    ctx: click.Context,
    quick: bool,
    save: bool,
    compare: bool,
    threshold: str,
    json_path: Path | None,
    history_dir: Path | None,
) -> None:
    """Run the throughput benchmarks (pytest-benchmark); track them over time.

    PATTERN selects benchmarks by name, as a pytest -k expression: 'dcgan', 'train_step and
    cpu', 'not cuda'. Every model, dedup strategy and probe solver in the registry is
    benchmarked, a third party's included.

    \b
    Examples:
      gansuite bench --quick --save
      gansuite bench --quick --compare --threshold 15%
      gansuite bench 'dcgan and train_step'
      gansuite bench history
    """
    if ctx.invoked_subcommand is not None:
        return
    from gansuite.report import bench

    limit = _threshold(threshold)
    pattern = ctx.meta.get("bench.pattern")
    json_path = json_path or bench.benchmarks_dir() / "reports" / "latest.json"
    report = bench.run_benchmarks(pattern, quick=quick, json_path=json_path)
    root = _history_root(history_dir)
    machine = bench.report_machine(report)
    previous = bench.last_saved(root, machine, quick) if compare else None
    _print_summary(report, machine, json_path)
    if save:
        click.echo(f"Saved {bench.save_report(report, root)}")
    if compare:
        _compare(report, previous, limit, machine, quick)


def _print_summary(report: dict[str, Any], machine: str, json_path: Path) -> None:
    import pandas as pd

    from gansuite.report import bench

    frame = pd.DataFrame(bench.benchmark_rows(report))
    click.echo(f"\nThroughput on {machine} (report: {json_path}):")
    if frame.empty:
        click.echo("(no benchmarks ran)")
        return
    shown = frame[["benchmark", "throughput", "unit", "median_s", "rounds", "device", "dtype", "batch_size"]]
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _compare(report: dict[str, Any], previous: Any, limit: float, machine: str, quick: bool) -> None:
    import pandas as pd

    from gansuite.report import bench

    mode = "quick" if quick else "full"
    if previous is None:
        click.echo(f"No saved {mode} run for {machine}: nothing to compare (save one with --save).")
        return
    path, old = previous
    result = bench.compare_reports(report, old, limit)
    click.echo(f"\nCompared with {path.name} ({mode}, threshold {limit:.0%}):")
    frame = pd.DataFrame(result.rows)
    frame["change"] = frame["change"].map(lambda v: "" if pd.isna(v) else f"{v:+.1%}")
    click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if result.slower:
        click.echo(f"Slower than {path.name} by more than {limit:.0%}: {', '.join(result.slower)}", err=True)
        sys.exit(1)  # 1, not 2: the run worked, the numbers are worse


@bench_cmd.command("history")
@click.option("--machine", default=None, help="A machine id, or 'all' [this machine].")
@click.option(
    "--last",
    default=6,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many saved runs the table shows (the PNG shows all).",
)
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the PNG [benchmarks/reports/history-<machine>.png].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help="table: throughput per benchmark and run; csv: every saved result, one per row.",
)
@click.option(
    "--history-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The history folder [benchmarks/history].",
)
def history_cmd(
    machine: str | None, last: int, plot: Path | None, fmt: str, history_dir: Path | None
) -> None:
    """Saved benchmark runs as a table, and a PNG of throughput over commits per benchmark."""
    from gansuite.plugin.errors import OptionError
    from gansuite.report import bench, bench_history

    root = _history_root(history_dir)
    wanted = None if machine == "all" else (machine or bench.machine_id())
    frame = bench_history.history_table(root, wanted)
    if frame.empty:
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        hint = f" Saved machines: {', '.join(known)} (pass --machine ID or --machine all)." if known else ""
        raise OptionError(
            f"No saved benchmark runs for {wanted or 'any machine'} under {root}; "
            f"run 'gansuite bench --quick --save' first.{hint}"
        )
    if fmt == "csv":
        click.echo(frame.to_csv(index=False).rstrip("\n"))
    else:
        wide = bench_history.history_pivot(frame, last)
        click.echo(wide.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    png = plot or bench.benchmarks_dir() / "reports" / f"history-{wanted or 'all'}.png"
    click.echo(f"Wrote {bench_history.plot_history(frame, png)}", err=True)
