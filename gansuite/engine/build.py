"""Building a model from its spec, checking it before a run folder exists, and rebuilding a
run's model from its checkpoint.

Plugin code that raises (a factory, a forward pass, ``describe``) is reported as one
:class:`~gansuite.contract.errors.PluginError` naming the model and its plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gansuite._compat import adapt_model
from gansuite.contract.errors import CheckpointError, GansuiteError, PluginError
from gansuite.contract.model import GANModel
from gansuite.engine import checkpoint as ckpt
from gansuite.engine.device import resolve_device
from gansuite.engine.runfolder import RunFolder

if TYPE_CHECKING:
    from gansuite.contract.specs import ModelSpec, Spec

T = TypeVar("T")

__all__ = ["build_model", "smoke_check", "describe_model", "load_run_model", "plugin_failure", "plugin_call"]


def plugin_failure(what: str, spec: Spec | str, exc: BaseException) -> PluginError:
    """``what`` failed inside the plugin that registered ``spec``: one line naming both.
    ``spec`` may be a label instead (``TrainConfig.origin``: "Model 'x' (plugin 'p', dist 1.0)")."""
    who = (spec or "The model") if isinstance(spec, str) else \
        f"{spec.kind.capitalize()} '{spec.name}' ({spec.origin()})"
    first = (str(exc).strip().splitlines() or [""])[0].rstrip(". ")  # torch appends C++ stack frames
    return PluginError(f"{who} failed {what}: {type(exc).__name__}: {first}. Rerun with --traceback for the "
                       "plugin's traceback, or report it to the plugin's authors.")


def plugin_call(spec: Spec | str, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``: every call into plugin code goes through here. A failure that is
    not a :class:`GansuiteError` (nor a KeyboardInterrupt) becomes one :class:`PluginError`
    naming the plugin (``spec``, or a label) and ``what`` it failed to do."""
    try:
        return fn(*args, **kwargs)
    except GansuiteError:
        raise
    except Exception as exc:
        raise plugin_failure(what, spec, exc) from exc


def build_model(spec: ModelSpec, config: Any, *, image_size: int, channels: int) -> GANModel:
    """Call the spec's factory and return a :class:`GANModel` (first-contract objects adapted)."""
    obj = plugin_call(spec, "to build", spec.load_factory(), config, image_size=image_size, channels=channels)
    try:
        return adapt_model(obj)
    except TypeError as exc:
        raise PluginError(f"Model '{spec.name}' ({spec.origin()}): its factory returned a "
                          f"{type(obj).__name__}, not a gansuite.GANModel ({exc}).") from None


def smoke_check(spec: ModelSpec, model: GANModel, *, n: int = 2) -> None:
    """One forward pass of G, D and ``features`` on ``n`` samples (eval mode, RNG untouched):
    shapes and value ranges as the contract says, or a one-line :class:`PluginError`."""
    import torch

    def bad(msg: str) -> PluginError:
        return PluginError(f"Model '{spec.name}' ({spec.origin()}) fails the contract: {msg}.")

    nets = (model.generator, model.discriminator)
    modes = [net.training for net in nets]
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for net in nets:
                net.eval()
            z = model.sample_z(n)
            if tuple(z.shape) != (n, model.z_dim):
                raise bad(f"sample_z({n}) has shape {tuple(z.shape)}, expected ({n}, {model.z_dim})")
            y = model.sample_labels(n)
            x = model.generate(z, y, net=model.generator)
            want = (n, model.channels, model.image_size, model.image_size)
            if tuple(x.shape) != want:
                raise bad(f"G's output has shape {tuple(x.shape)}, expected {want}")
            scores = model.discriminate(x, y)
            if tuple(scores.shape) != (n,):
                raise bad(f"D's output has shape {tuple(scores.shape)}, expected ({n},)")
            feats = model.features(x, y) if model.num_classes else model.features(x)
            if not feats or any(f.dim() != 4 or f.shape[0] != n for f in feats):
                raise bad("features(x) must return a non-empty list of (N, C, H, W) tensors")
    except GansuiteError:
        raise
    except Exception as exc:
        raise plugin_failure("its one-batch check", spec, exc) from exc
    finally:
        for net, mode in zip(nets, modes, strict=True):
            net.train(mode)


def describe_model(model: GANModel) -> dict[str, Any]:
    """What ``config.json`` records as ``architecture``: both networks' parameter counts, plus
    what the model's ``describe()`` returns (resolved widths and the like)."""
    info: dict[str, Any] = {
        "generator_parameters": sum(p.numel() for p in model.generator.parameters()),
        "discriminator_parameters": sum(p.numel() for p in model.discriminator.parameters()),
    }
    try:
        info.update(model.describe())
    except Exception as exc:  # a broken describe() must not cost a finished run
        info["describe_error"] = f"{type(exc).__name__}: {exc}"
    return info


def _check_belongs(folder: RunFolder, path: Path, state: dict[str, Any], config: dict[str, Any]) -> None:
    """The checkpoint is this run's: same model, options and sizes as ``config.json`` records."""
    ckpt.check_owner(path, state, folder.config_value(config, "model", str),
                     folder.config_value(config, "model_config", dict, {}),
                     folder.config_value(config, "image_size", int, None))


def load_run_model(run_dir: Path, device: Any = "cpu") -> tuple[GANModel, dict[str, Any]]:
    """Rebuild a run's model from its latest checkpoint (eval mode) and return its config.json
    with the checkpoint's path and step added.

    The checkpoint must be the run's own (model, options, sizes and the built architecture as
    ``config.json`` records them) and finite; anything else is a :class:`CheckpointError`.
    """
    from gansuite._host.manager import get_catalog
    from gansuite._host.options import build_config

    folder = RunFolder(run_dir)
    config = folder.read_config()
    dev = resolve_device(device)
    path, state = ckpt.load_latest(folder.checkpoints, map_location=dev)
    _check_belongs(folder, path, state, config)
    ckpt.check_finite_state(path, state)
    spec = get_catalog().registry("models").get(state["model"])
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in state["model_config"].items()}
    model = build_model(spec, build_config(spec, values), image_size=int(state["image_size"]),
                        channels=int(state["channels"]))
    arch = config.get("architecture")
    if isinstance(arch, dict) and arch:
        built = ckpt.json_safe(describe_model(model))
        diff = sorted(k for k in {*arch, *built} if arch.get(k) != built.get(k))
        if diff:
            raise CheckpointError(f"{path} builds another architecture than {folder.config_path} records "
                                  f"(differs in: {', '.join(diff)}): it is not this run's model.")
    # an EMA the model declares but the checkpoint lacks would be evaluated as a fresh copy of G
    ckpt.check_declared_state(path, state, plugin_call(spec, "in extra_state()", model.extra_state),
                              f"model '{spec.name}'")
    try:
        model.generator.load_state_dict(state["generator"])
        model.discriminator.load_state_dict(state["discriminator"])
        model.to(dev)
        model.load_extra_state(state.get("extra") or {})
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} does not fit model '{spec.name}' as configured: "
                              f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None
    for net in (model.generator, model.discriminator, model.eval_generator()):
        net.eval()
    seconds = state.get("seconds")
    return model, {**config, "checkpoint": str(path), "checkpoint_step": int(state["step"]),
                   **({"train_seconds": round(float(seconds), 2)} if isinstance(seconds, (int, float)) else {})}
