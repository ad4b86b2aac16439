"""State dicts saved by other code, loaded into a registered model (``--model NAME``).

Two ways in, tried in order:

1. The files already use the model's own key names (a gansuite model saved with
   ``torch.save(model.generator.state_dict())``): built with ``-o`` options at ``--image-size``.
2. The model's spec names an :attr:`~gansuite.contract.specs.ModelSpec.importer`: it maps the
   original code's key names to the model's and reads the options off the shapes
   (``dcgan-pytorch-examples`` imports pytorch/examples' ``netG_epoch_N.pth``/``netD_epoch_N.pth``).

Either way the host builds the model, compares every tensor's shape with the built network's and
loads strictly; a key or shape that does not fit ends in one line naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gansuite._host.options import build_config
from gansuite.contract.errors import CheckpointError, GansuiteError, OptionError
from gansuite.contract.model import GANModel
from gansuite.contract.specs import ImportedWeights, ModelSpec
from gansuite.engine.build import build_model, plugin_call

__all__ = ["ImportedModel", "import_state_dicts", "strip_prefixes"]

_PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DDP and torch.compile wrappers


@dataclass
class ImportedModel:
    """The built model, the config it was built with, and how its weights were read."""

    model: GANModel
    config: Any
    source: str


def strip_prefixes(state: Mapping[str, Any]) -> dict[str, Any]:
    """Keys without the prefixes wrappers add (``module.``, ``_orig_mod.``)."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _build(spec: ModelSpec, values: Mapping[str, Any], image_size: int, channels: int) -> tuple[GANModel, Any]:
    config = build_config(spec, dict(values))
    return build_model(spec, config, image_size=image_size, channels=channels), config


def _load(net: Any, state: Mapping[str, Any], role: str, path: str, spec: ModelSpec) -> None:
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            parts.append(f"has unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
        raise CheckpointError(f"{path} does not fit model '{spec.name}' as its {role}: it {' and '.join(parts)}; "
                              "name the architecture that saved it with --model.")
    for key, tensor in own.items():
        got = tuple(state[key].shape)
        if got != tuple(tensor.shape):
            raise CheckpointError(f"{path} does not fit model '{spec.name}' as its {role}: {key} has shape {got}, "
                                  f"the model's {tuple(tensor.shape)}; set the model's options (-o) to the ones it "
                                  "was trained with.")
    try:
        net.load_state_dict(dict(state), strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} does not load into model '{spec.name}' as its {role}: "
                              f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None


def _own_keys(spec: ModelSpec, g_state: Mapping[str, Any], options: Mapping[str, Any],
              image_size: int | None, channels: int | None) -> tuple[GANModel, Any] | None:
    """The model built from ``options`` when the generator state uses its own key names."""
    size = image_size or options.get("image_size") or getattr(spec.default_config(), "image_size", None)
    if not isinstance(size, int):
        return None
    try:
        model, config = _build(spec, options, size, channels or 3)
    except GansuiteError:
        return None
    if set(model.generator.state_dict()) != set(g_state):
        return None
    return model, config


def import_state_dicts(spec: ModelSpec, g_state: Mapping[str, Any], d_state: Mapping[str, Any] | None, *,
                       paths: tuple[str, str | None], options: Mapping[str, Any],
                       image_size: int | None = None, channels: int | None = None) -> ImportedModel:
    """Build ``spec``'s model and load the state dicts into it (see the module docstring)."""
    g_state, d_state = strip_prefixes(g_state), (strip_prefixes(d_state) if d_state is not None else None)
    g_mapped: Mapping[str, Any]
    d_mapped: Mapping[str, Any] | None
    found = _own_keys(spec, g_state, options, image_size, channels)
    source = "the model's own key names"
    if found is not None:
        model, config = found
        g_mapped, d_mapped = g_state, d_state
    elif spec.importer is not None:
        from gansuite.contract.specs import resolve_object

        importer = plugin_call(spec, "to load its importer", resolve_object, spec.importer)
        weights = plugin_call(spec, f"to import {paths[0]}", importer, g_state, d_state)
        if not isinstance(weights, ImportedWeights):
            raise CheckpointError(f"Model '{spec.name}' ({spec.origin()}): its importer returned a "
                                  f"{type(weights).__name__}, not gansuite ImportedWeights.")
        if image_size is not None and image_size != weights.image_size:
            raise OptionError(f"{paths[0]} holds a {weights.image_size}x{weights.image_size} model; "
                              f"--image-size {image_size} does not fit it (drop --image-size).")
        model, config = _build(spec, {**weights.options, **options}, weights.image_size, weights.channels)
        g_mapped, d_mapped, source = weights.generator, weights.discriminator, weights.source
    else:
        keys = ", ".join(list(g_state)[:3])
        raise CheckpointError(f"{paths[0]} does not use model '{spec.name}''s key names (it has {keys}, ...) and "
                              f"'{spec.name}' declares no importer for other code's files; name the model that "
                              "saved it with --model ('gansuite list models').")
    _load(model.generator, g_mapped, "generator", paths[0], spec)
    if d_mapped is not None and paths[1] is not None:
        _load(model.discriminator, d_mapped, "discriminator", paths[1], spec)
    for net in (model.generator, model.discriminator, model.eval_generator()):
        net.eval()
    return ImportedModel(model, config, source)
