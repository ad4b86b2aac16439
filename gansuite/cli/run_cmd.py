"""``gansuite run``: validate everything first (no torch), then train and evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gansuite.cli._common import FINITE, FINITE_OR_INF, load_catalog
from gansuite.contract.errors import OptionError
from gansuite.runs.runner import RunRequest, execute, plan_run

__all__ = ["run_cmd", "print_results"]


def print_results(rows: list[dict]) -> None:
    """The results rows as the same table ``gansuite eval`` prints (probes' detail columns included)."""
    if not rows:
        return
    from gansuite._host.manager import get_catalog
    from gansuite.report.texttable import result_rows_table

    click.echo(result_rows_table(rows, get_catalog()))


@click.command("run")
@click.option("--model", "-m", help="Model name (gansuite list models).")
@click.option("--dataset", "-d", help="Dataset name; implied by --eval when omitted.")
@click.option("--eval", "evals", multiple=True, help="Eval preset to run after training (repeatable).")
@click.option("--dedup", help="Dedup strategy applied to the training split.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Data folder (default: $GANSUITE_DATA or the user cache).")
@click.option("--out", help="Run folder, new or empty (default: runs/MODEL-DATASET-TIME).")
@click.option("--seed", type=int, help="Seed of everything random (default: 0).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["cpu", "cuda", "auto"]))
@click.option("--batch-size", type=int, help="Default: the model's recipe (128 for dcgan).")
@click.option("--max-steps", type=int, help="Stop after this many steps.")
@click.option("--epochs", type=FINITE, help="Stop after this many passes over the data.")
@click.option("--time-budget", type=FINITE, help="Stop after this many seconds of training.")
@click.option("--max-loss", type=FINITE_OR_INF,
              help="Divergence bound: stop when a logged loss exceeds it in magnitude (default: 1e6; inf: none).")
@click.option("--resume", help="Continue the run in this folder (its recorded settings).")
@click.option("--restart", help="Start the run in this folder again from step 0 (only before its first checkpoint).")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Typed option of the model/dataset/probe/dedup in use (e.g. -o ngf=64, -o svm.c_grid=0.01,0.1).")
@click.option("--allow-unverified", is_flag=True, help="Accept data whose checksums differ; recorded in results.")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints (default: 500).")
@click.option("--sample-every", type=int, help="Steps between sample grids (default: 500).")
@click.option("--log-every", type=int, help="Steps between metrics.jsonl rows (default: 10).")
@click.option("--image-size", type=int, help="Training resolution (default: the model's, else the dataset's).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]),
              help="auto (default): bf16 autocast on CUDA, fp32 on CPU; fp32: never autocast.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run_cmd(**kw: Any) -> None:
    """Train a model into a run folder, then run the requested evals.

    \b
    gansuite run --model dcgan --dataset digits --max-steps 200
    gansuite run --model dcgan --eval cifar10-svm --data-root DIR --allow-unverified
    gansuite run --resume runs/dcgan-digits-20260101-120000
    gansuite run --restart runs/dcgan-digits-20260101-120000
    """
    paths = {}
    for flag in ("out", "resume", "restart"):
        raw = kw[flag]
        if raw is not None and not raw.strip():
            raise OptionError(f"--{flag} is empty; name a run folder.")
        paths[flag] = Path(raw) if raw is not None else None
    if kw["precision"] is not None and (paths["resume"] or paths["restart"]):
        flag = "--resume" if paths["resume"] else "--restart"
        raise OptionError(f"{flag} uses the run's recorded settings; drop --precision, which would be ignored.")
    catalog = load_catalog()
    request = RunRequest(
        model=kw["model"], dataset=kw["dataset"], evals=tuple(kw["evals"]), dedup=kw["dedup"],
        data_root=kw["data_root"], out=paths["out"], seed=kw["seed"], device=kw["device"],
        batch_size=kw["batch_size"], max_steps=kw["max_steps"], epochs=kw["epochs"],
        time_budget=kw["time_budget"], resume=paths["resume"], options=tuple(kw["options"]),
        allow_unverified=kw["allow_unverified"], checkpoint_every=kw["checkpoint_every"],
        sample_every=kw["sample_every"], log_every=kw["log_every"], image_size=kw["image_size"],
        compile=kw["compile_"], progress=not kw["no_progress"], restart=paths["restart"],
        max_loss=kw["max_loss"], precision=kw["precision"] or "auto",
    )
    plan = plan_run(request, catalog)
    summary = execute(plan)
    if not summary.get("main", True):
        return
    train = summary.get("train", {})
    click.echo(f"Run folder: {summary['run']}")
    if train:
        click.echo("Training: " + ", ".join(f"{k}={v}" for k, v in train.items()))
    print_results(summary.get("results", []))
