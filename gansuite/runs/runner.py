"""Executing a :class:`~gansuite.runs.plan.RunPlan`: preflight, run folder, training, evals.

No click and no printing here (progress bars aside).
"""

from __future__ import annotations

from typing import Any

from gansuite.engine.runfolder import RunFolder
from gansuite.plugin.errors import InterruptedRunError
from gansuite.plugin.options import config_dict
from gansuite.runs.plan import RunPlan, RunRequest, is_main_process, plan_run
from gansuite.runs.preflight import Prepared, preflight

__all__ = ["RunRequest", "RunPlan", "plan_run", "execute", "train_config"]


def train_config(plan: RunPlan, prepared: Prepared) -> Any:
    """The engine's config for ``plan`` (the one place the request maps onto the engine)."""
    from gansuite.engine.config import TrainConfig

    req = plan.request
    return TrainConfig(
        model_name=plan.model.name, model_config=config_dict(plan.model_config),
        origin=f"Model '{plan.model.name}' ({plan.model.origin()})",
        title=f"{plan.model.name} on {plan.dataset.name}", seed=req.seed, device=req.device,
        batch_size=prepared.batch_size, max_steps=plan.max_steps, epochs=plan.epochs,
        time_budget=plan.time_budget, checkpoint_every=req.checkpoint_every,
        sample_every=req.sample_every, log_every=req.log_every, compile=req.compile,
        progress=req.progress, precision=req.precision, resuming=plan.resuming,  # type: ignore[arg-type]
    )


def execute(plan: RunPlan) -> dict[str, Any]:
    """Run ``plan``: check everything, then create the run folder, train and evaluate.

    Nothing is written before :func:`preflight` has built the data, the model (one-batch check)
    and the probes, so a plugin that fails leaves no folder behind.
    """
    from gansuite.engine import build, train
    from gansuite.runs.evals import run_evals

    prepared = preflight(plan)
    folder = RunFolder(plan.out).create()
    config = plan.config_json(image_size=prepared.model.image_size, batch_size=prepared.batch_size)
    if plan.resuming:
        previous = folder.read_config()
        config["created"] = previous.get("created", config["created"])
        config["resumed"] = previous.get("resumed", 0) + 1
    config.update(prepared.data.provenance())
    if is_main_process():
        folder.write_config(config)
    outcome = train.train(prepared.model, train_config(plan, prepared), folder, prepared.data)
    if is_main_process():
        config.update(device_resolved=outcome.device, world_size=outcome.world_size,
                      precision_used=outcome.precision, architecture=build.describe_model(outcome.model))
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
