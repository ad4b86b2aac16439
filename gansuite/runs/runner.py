"""Executing a :class:`~gansuite.runs.plan.RunPlan`: preflight, run folder, training, evals.

No click and no printing here (progress bars aside).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from gansuite._host.options import config_dict
from gansuite.contract.errors import CheckpointError, InterruptedRunError, OptionError
from gansuite.engine.lock import RunLock
from gansuite.engine.runfolder import RunFolder
from gansuite.runs.plan import RunPlan, RunRequest, check_new_out, is_main_process, plan_run
from gansuite.runs.preflight import Prepared, preflight

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel

__all__ = ["RunRequest", "RunPlan", "plan_run", "execute", "train_config"]


def train_config(plan: RunPlan, prepared: Prepared) -> Any:
    """The engine's config for ``plan`` (the one place the request maps onto the engine)."""
    from gansuite.engine.config import DEFAULT_MAX_LOSS, TrainConfig

    req = plan.request
    return TrainConfig(
        model_name=plan.model.name, model_config=config_dict(plan.model_config),
        origin=f"Model '{plan.model.name}' ({plan.model.origin()})",
        title=f"{plan.model.name} on {plan.dataset.name}", seed=req.setting("seed"), device=req.device,
        batch_size=prepared.batch_size, max_steps=plan.max_steps, epochs=plan.epochs,
        time_budget=plan.time_budget, checkpoint_every=req.setting("checkpoint_every"),
        sample_every=req.setting("sample_every"), log_every=req.setting("log_every"), compile=req.compile,
        progress=req.progress, precision=req.precision, resuming=plan.resuming,  # type: ignore[arg-type]
        max_loss=DEFAULT_MAX_LOSS if req.max_loss is None else float(req.max_loss),
    )


def _claim_folder(plan: RunPlan, folder: RunFolder) -> None:
    """With the lock held: re-check what planning checked (another writer may have been quick),
    then clear what a killed or restarted attempt left behind."""
    if plan.resuming:
        folder.clean_temp_files()
        return
    if plan.restarting:
        if folder.has_checkpoint():
            raise OptionError(f"{folder.path} already has checkpoints; --restart is for a run that stopped "
                              f"before its first one. Continue it with: gansuite run --resume {folder.path}")
        folder.metrics_path.unlink(missing_ok=True)
        folder.results_path.unlink(missing_ok=True)
        shutil.rmtree(folder.samples, ignore_errors=True)
    else:
        check_new_out(folder.path, lock_checked=True)
    folder.clean_temp_files()


def _check_architecture(folder: RunFolder, previous: dict[str, Any], model: GANModel) -> dict[str, Any]:
    """The built model's architecture record; resuming, it must be the one the run recorded."""
    from gansuite.engine import build
    from gansuite.engine.checkpoint import json_safe

    arch = json_safe(build.describe_model(model))
    recorded = previous.get("architecture")
    if isinstance(recorded, dict) and recorded and recorded != arch:
        diff = sorted(k for k in {*recorded, *arch} if recorded.get(k) != arch.get(k))
        raise CheckpointError(f"{folder.config_path} records another architecture than these settings build "
                              f"(differs in: {', '.join(diff)}); this run cannot be continued with this "
                              "version of the model's plugin.")
    return arch


def execute(plan: RunPlan) -> dict[str, Any]:
    """Run ``plan``: check everything, then create the run folder, train and evaluate.

    Nothing is written before :func:`preflight` has built the data, the model (one-batch check)
    and the probes, so a plugin that fails leaves no folder behind. The run folder's lock is
    held from then on (rank 0 under torchrun), so no second writer can mix into it.
    """
    folder, lock = RunFolder(plan.out), RunLock(plan.out)
    main = is_main_process()
    try:
        if main and folder.path.is_dir():  # an existing folder: refuse a second writer before the work
            lock.acquire()
        prepared = preflight(plan)
        if main:
            folder.path.mkdir(parents=True, exist_ok=True)
            lock.acquire()
            _claim_folder(plan, folder)
        return _execute(plan, prepared, folder.create() if main else folder)  # only rank 0 writes
    finally:
        lock.release()


def _execute(plan: RunPlan, prepared: Prepared, folder: RunFolder) -> dict[str, Any]:
    from gansuite.engine import build, train
    from gansuite.runs.evals import run_evals

    config = plan.config_json(image_size=prepared.model.image_size, batch_size=prepared.batch_size)
    previous = folder.read_config() if plan.resuming or plan.restarting else {}
    if plan.resuming:  # refuse a checkpoint that cannot be continued before config.json is touched
        from gansuite.engine.checkpoint import load_resumable

        load_resumable(folder.checkpoints, plan.model.name, config_dict(plan.model_config),
                       int(prepared.model.image_size), int(prepared.data.data.images.shape[1]),
                       model=prepared.model)
        config = {**previous, **config}
        config["created"] = previous.get("created", config["created"])
        resumed = previous.get("resumed", 0)
        config["resumed"] = (resumed if isinstance(resumed, int) else 0) + 1
    config["architecture"] = _check_architecture(folder, previous if plan.resuming else {}, prepared.model)
    config.update(prepared.data.provenance())
    if is_main_process():
        folder.write_config(config)
    outcome = train.train(prepared.model, train_config(plan, prepared), folder, prepared.data)
    if is_main_process():
        config.update(device_resolved=outcome.device, world_size=outcome.world_size,
                      precision_used=outcome.precision, architecture=build.describe_model(outcome.model),
                      train_seconds=round(outcome.seconds, 2))
        folder.write_config(config)
    if outcome.stopped_because == "interrupted":
        raise InterruptedRunError(
            f"Interrupted at step {outcome.steps}; checkpoint {outcome.last_checkpoint} holds it. "
            f"Continue with: gansuite run --resume {folder.path}"
        )
    if not is_main_process():  # under torchrun, rank 0 alone evaluates and reports
        return {"run": str(folder.path), "train": {}, "results": [], "main": False}
    rows = run_evals(plan, folder, outcome.model, config) if plan.evals else []
    return {"run": str(folder.path), "train": outcome.summary(), "results": rows, "main": True}
