"""The evals of a run right after training (``gansuite run --eval ...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gansuite._host.manager import get_catalog
from gansuite.evaluation.evaluate import EvalSession, evaluate_session

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel
    from gansuite.engine.runfolder import RunFolder
    from gansuite.runs.plan import RunPlan

__all__ = ["run_evals"]


def run_evals(plan: RunPlan, folder: RunFolder, model: GANModel, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluate ``model`` with every eval of ``plan``; rows are appended to ``results.json``."""
    session = EvalSession(
        catalog=get_catalog(), folder=folder, model=model, model_spec=plan.model,
        model_config=plan.model_config, config=config, data_root=plan.data_root,
        allow_unverified=plan.request.allow_unverified, seed=plan.request.setting("seed"),
        progress=plan.request.progress, dataset_configs={plan.dataset.name: plan.dataset_config},
    )
    return evaluate_session(session, plan.evals, plan.probes, plan.probe_configs)
