"""``gansuite eval``: evaluate a run's checkpoint, or a model trained elsewhere, no training.

``gansuite eval RUN_DIR --eval E ...`` evaluates a run's latest checkpoint; ``--images PATH``
(samples) or ``--generator G [--discriminator D] [--model NAME]`` (networks from files) with
``--out DIR`` evaluate a model gansuite did not train into a new run folder.
"""

from __future__ import annotations

from pathlib import Path

import click

from gansuite.cli._common import echo_json, load_catalog

__all__ = ["eval_cmd"]

_PATH = click.Path(path_type=Path)


@click.command("eval")
@click.argument("run_dir", type=_PATH, required=False)
@click.option("--eval", "evals", multiple=True, required=True,
              help="Eval preset (repeatable); 'gansuite list evals' shows them.")
@click.option("--images", type=_PATH, help="Generated images to score: a folder (PNG/JPEG, any depth) or an "
              ".npz/.npy of uint8 images. Needs --out.")
@click.option("--generator", type=_PATH, help="A generator file: TorchScript, torch.export, or a state dict with "
              "--model. Needs --out.")
@click.option("--discriminator", type=_PATH, help="Its discriminator (same format), for the probes that read D.")
@click.option("--model", "model", help="Registered architecture of state-dict files, e.g. dcgan-pytorch-examples.")
@click.option("--out", type=_PATH, help="Run folder for a model trained elsewhere (new, or one it wrote before).")
@click.option("--z-dim", type=int, help="Latent size of a generator file without a z_dim attribute.")
@click.option("--image-size", type=int, help="Image size: a generator file's output size, or resize --images "
              "(shorter side, centre crop) instead of refusing mixed sizes.")
@click.option("--z-prior", type=click.Choice(["normal", "uniform"]),
              help="Prior of a generator file's z (default: its z_prior attribute, else normal).")
@click.option("--data-root", type=_PATH, help="Data folder (default: the one the run recorded).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["cpu", "cuda", "auto"]))
@click.option("--seed", type=int, help="Seed of the probes (default: the run's; 0 for --images/--generator).")
@click.option("-o", "options", multiple=True, metavar="KEY=VALUE",
              help="Probe, dataset or model option, e.g. -o svm.max_train=10000 (repeatable).")
@click.option("--allow-unverified", is_flag=True, help="Accept data whose checksums differ; recorded in results.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the result rows as JSON.")
def eval_cmd(run_dir: Path | None, evals: tuple[str, ...], images: Path | None, generator: Path | None,
             discriminator: Path | None, model: str | None, out: Path | None, z_dim: int | None,
             image_size: int | None, z_prior: str | None, data_root: Path | None, device: str, seed: int | None,
             options: tuple[str, ...], allow_unverified: bool, no_progress: bool, as_json: bool) -> None:
    """Evaluate the latest checkpoint of RUN_DIR, or a model trained elsewhere, with eval presets.

    Rows are appended to the run folder's results.json with their provenance; figures go to
    samples/EVAL/. A model trained elsewhere gets a new run folder (--out), which 'gansuite
    results' and 'gansuite compare' read like any run.

    \b
    Examples:
      gansuite eval runs/dcgan-cifar10 --eval cifar10-svm --data-root DIR --allow-unverified
      gansuite eval --images samples/ --eval cifar10-kid --out runs/theirs --data-root DIR
      gansuite eval --generator G.pt --eval cifar10-latent-walk --out runs/theirs-g --data-root DIR
      gansuite eval --generator netG_epoch_24.pth --discriminator netD_epoch_24.pth \\
        --model dcgan-pytorch-examples --eval cifar10-svm --out runs/pe --data-root DIR
    """
    from gansuite.contract.errors import OptionError
    from gansuite.report.texttable import result_rows_table

    catalog = load_catalog()
    foreign = images is not None or generator is not None
    if run_dir is not None and (foreign or out is not None):
        raise OptionError("Evaluate either a run folder (RUN_DIR) or --images/--generator with --out, not both.")
    if foreign or out is not None or discriminator is not None or model is not None:
        if out is None:
            raise OptionError("--images and --generator write a new run folder: pass --out DIR.")
        from gansuite.runs.foreign import ForeignRequest, evaluate_foreign

        req = ForeignRequest(out=out, evals=evals, images=images, generator=generator, discriminator=discriminator,
                             model=model, z_dim=z_dim, image_size=image_size, z_prior=z_prior, data_root=data_root,
                             device=device, options=options, allow_unverified=allow_unverified,
                             seed=0 if seed is None else seed, progress=not no_progress)
        rows = evaluate_foreign(req, catalog)
        folder = out
    else:
        if run_dir is None:
            raise OptionError("Name what to evaluate: a run folder (RUN_DIR), --images PATH or --generator FILE.")
        if z_dim is not None or image_size is not None or z_prior is not None:
            raise OptionError("--z-dim, --image-size and --z-prior describe a generator file; a run folder "
                              "records its own.")
        from gansuite.evaluation.evaluate import evaluate_run

        rows = evaluate_run(run_dir, evals, data_root=data_root, device=device, options=options,
                            allow_unverified=allow_unverified, seed=seed, progress=not no_progress,
                            catalog=catalog)
        folder = run_dir
    if as_json:
        echo_json(rows)
        return
    click.echo(f"Run folder: {folder}")
    click.echo(result_rows_table(rows, catalog))
