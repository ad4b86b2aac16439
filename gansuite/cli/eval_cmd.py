"""``gansuite eval RUN_DIR --eval E ...``: evaluate an existing run's checkpoint, no training."""

from __future__ import annotations

from pathlib import Path

import click

from gansuite.cli._common import echo_json, load_catalog

__all__ = ["eval_cmd"]


@click.command("eval")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--eval", "evals", multiple=True, required=True,
              help="Eval preset (repeatable); 'gansuite list evals' shows them.")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Data folder (default: the one the run recorded).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["cpu", "cuda", "auto"]))
@click.option("--seed", type=int, help="Seed of the probes (default: the run's).")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Probe or dataset option, e.g. -o svm.max_train=10000 (repeatable).")
@click.option("--allow-unverified", is_flag=True, help="Accept data whose checksums differ; recorded in results.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the result rows as JSON.")
def eval_cmd(run_dir: Path, evals: tuple[str, ...], data_root: Path | None, device: str, seed: int | None,
             options: tuple[str, ...], allow_unverified: bool, no_progress: bool, as_json: bool) -> None:
    """Evaluate the latest checkpoint of RUN_DIR with one or more eval presets.

    Rows are appended to RUN_DIR/results.json with their provenance; figures go to
    RUN_DIR/samples/EVAL/.

    \b
    Example:
      gansuite eval runs/dcgan-cifar10 --eval cifar10-svm --data-root DIR --allow-unverified
    """
    from gansuite.evaluation.evaluate import evaluate_run
    from gansuite.report.texttable import result_rows_table

    catalog = load_catalog()
    rows = evaluate_run(run_dir, evals, data_root=data_root, device=device, options=options,
                        allow_unverified=allow_unverified, seed=seed, progress=not no_progress,
                        catalog=catalog)
    if as_json:
        echo_json(rows)
        return
    click.echo(f"Run folder: {run_dir}")
    click.echo(result_rows_table(rows, catalog))
