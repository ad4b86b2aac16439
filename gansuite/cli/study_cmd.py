"""``gansuite study SPEC``: run a benchmark study (models x datasets x seeds) and aggregate it."""

from __future__ import annotations

from pathlib import Path

import click

from gansuite.cli._common import load_catalog
from gansuite.study.spec import EXECUTOR_KINDS

__all__ = ["study_cmd"]


@click.command("study")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Study folder (default: the spec's 'out', else studies/NAME).")
@click.option("--executor", type=click.Choice(EXECUTOR_KINDS),
              help="Where cells run (default: the spec's [executor] kind, else local).")
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Cells at a time (local default: one per GPU, else one per 4 CPU cores).")
@click.option("--report", is_flag=True, help="Also write STUDY/report.html (self-contained).")
@click.option("--dry-run", is_flag=True, help="Validate the spec and show what each cell needs; run nothing.")
def study_cmd(spec: Path, out: Path | None, executor: str | None, jobs: int | None, report: bool,
              dry_run: bool) -> None:
    """Run every cell of the study SPEC (TOML) as an ordinary run folder, then aggregate.

    Each cell (model x dataset x seed) runs 'python -m gansuite run ... --out STUDY/runs/CELL'.
    Rerunning the same command skips finished cells, resumes interrupted ones and restarts
    those that stopped before their first checkpoint. The aggregate (mean, std, 95% interval
    over seeds, controls beside each metric, pairwise tests) is printed and written to
    STUDY/aggregate.csv, STUDY/pairwise.csv and STUDY/aggregate.png.

    \b
    gansuite study examples/studies/digits.toml
    gansuite study examples/studies/digits.toml --jobs 2 --report
    gansuite study spec.toml --executor slurm
    gansuite results studies/digits
    """
    from gansuite.study.driver import StudyRequest, run_study

    request = StudyRequest(spec=spec, out=out, executor=executor, jobs=jobs, dry_run=dry_run, report=report)
    run_study(request, echo=click.echo, catalog=load_catalog())
