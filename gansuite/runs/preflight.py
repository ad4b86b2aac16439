"""Everything ``gansuite run`` checks before it creates a run folder.

The data are loaded (verified, deduplicated), the model is built under the run's seed and
passes a one-batch check, and every eval's probe is built: a plugin that raises or breaks the
contract ends in one line naming it, and no folder is left behind. Batch size and image size
come from documented places: ``--batch-size`` else the model's ``recipe.batch_size``; the data
are loaded at the built model's ``image_size`` (the factory receives ``--image-size`` or the
dataset spec's ``image_size`` and may choose another, e.g. from its own options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import OptionError

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel
    from gansuite.engine.data import TrainingData
    from gansuite.runs.plan import RunPlan

__all__ = ["Prepared", "preflight", "build_probes", "check_probes"]


@dataclass
class Prepared:
    """What preflight built: the training data, the model (untrained) and the batch size."""

    data: TrainingData
    model: GANModel
    batch_size: int


def _build(plan: RunPlan, image_size: int, channels: int) -> GANModel:
    import torch

    from gansuite.engine.build import build_model

    torch.manual_seed(plan.request.setting("seed"))
    return build_model(plan.model, plan.model_config, image_size=image_size, channels=channels)


def build_probes(plan: RunPlan) -> dict[str, Any]:
    """Every eval's probe object (built now so a broken probe factory fails before training)."""
    from gansuite.engine.build import plugin_call

    probes = {}
    for spec in plan.evals:
        probe_spec = plan.probes[spec.probe]
        probes[spec.name] = plugin_call(probe_spec, "to build", probe_spec.load_factory(),
                                        plan.probe_configs[spec.name])
    return probes


def _check_batch_size(plan: RunPlan, model: GANModel, batch_size: int, n_images: int) -> None:
    import os

    from torch.nn.modules.batchnorm import _BatchNorm

    world = max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))
    per_rank = batch_size // world
    has_bn = any(isinstance(m, _BatchNorm) for net in (model.generator, model.discriminator) for m in net.modules())
    if has_bn and per_rank < 2:
        raise OptionError(f"--batch-size {batch_size} gives {per_rank} image(s) per process, but model "
                          f"'{plan.model.name}' uses BatchNorm, which needs at least 2; use --batch-size 2 or more.")
    if batch_size > n_images:
        raise OptionError(f"--batch-size {batch_size} exceeds the {n_images} training images of dataset "
                          f"'{plan.dataset.name}'; use a smaller --batch-size.")


def preflight(plan: RunPlan) -> Prepared:
    """Load the data, build and check the model and the probes; raises before anything is written."""
    from gansuite.engine.build import smoke_check
    from gansuite.engine.data import prepare_training_data
    from gansuite.engine.device import resolve_device

    req = plan.request
    resolve_device(req.device)  # --device cuda without CUDA: say so before loading anything
    requested = req.image_size or plan.dataset.image_size
    if requested <= 0:
        raise OptionError(f"--image-size must be a positive integer, got {requested}.")
    model = _build(plan, requested, plan.dataset.channels)
    data = prepare_training_data(plan.dataset, plan.dataset_config, root=plan.data_root,
                                 image_size=model.image_size, allow_unverified=req.allow_unverified,
                                 dedup=plan.dedup, dedup_config=plan.dedup_config)
    if req.image_size and model.image_size != req.image_size:
        raise OptionError(f"--image-size {req.image_size} conflicts with model '{plan.model.name}', "
                          f"which builds at {model.image_size}x{model.image_size}; drop one of them.")
    channels = int(data.data.images.shape[1])
    if channels != model.channels:  # the dataset's files disagree with its spec: follow the files
        model = _build(plan, model.image_size, channels)
    smoke_check(plan.model, model)
    _check_labels(plan, model, data)
    batch_size = int(req.batch_size or model.recipe.batch_size)
    _check_batch_size(plan, model, batch_size, len(data.data))
    check_probes(plan, build_probes(plan), model)
    return Prepared(data=data, model=model, batch_size=batch_size)


def _check_labels(plan: RunPlan, model: GANModel, data: TrainingData) -> None:
    """A class-conditional model needs labels, all of them below its ``num_classes``."""
    labels = data.data.labels
    if not model.num_classes:
        return
    if labels is None:
        raise OptionError(f"Model '{plan.model.name}' is class-conditional but dataset "
                          f"'{plan.dataset.name}' has no labels; choose a labelled dataset.")
    low, high = (int(labels.min()), int(labels.max())) if labels.numel() else (0, 0)
    if low < 0:
        raise OptionError(f"Dataset '{plan.dataset.name}' has negative labels (down to {low}); labels are class "
                          "indices from 0, so its files are damaged or not this dataset's: restore them.")
    if high >= model.num_classes:
        raise OptionError(f"Dataset '{plan.dataset.name}' has labels {low}..{high}, but model "
                          f"'{plan.model.name}' conditions on {model.num_classes} classes; pass "
                          f"-o {plan.model.name}.num_classes={high + 1} (or the option that sets its "
                          f"class count).")


def check_probes(plan: RunPlan, probes: dict[str, Any], model: GANModel) -> None:
    """Each probe's optional ``check_model(model)``: it raises (an :class:`OptionError`) when the
    probe cannot evaluate this model, so the run stops before training, not after."""
    from gansuite.engine.checks import check_probe_model

    for spec in plan.evals:
        check_probe_model(plan.probes[spec.probe], probes[spec.name], model)
