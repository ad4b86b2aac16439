"""What the host checks of a plugin's outputs, in one place: the host applies these checks where
it calls the plugin, and the conformance kit (``gansuite.testing``) applies the same ones, so
a plugin that passes the kit passes the host.

Each check raises a one-line :class:`~gansuite.contract.errors.PluginError` naming the spec and
its plugin (the model's one-batch check is :func:`gansuite.engine.build.smoke_check`). Step
stats are checked at the step that returned them (not when the log is flushed): string keys,
each value a Python number or a 0-d real tensor; tensors' finiteness is left to the engine's
divergence check (one device sync per flush), a non-finite Python number is divergence at once.
Result rows may not carry :data:`RESERVED_ROW_KEYS`. ``extra_state()`` must hold what a
weights-only checkpoint can store (a checkpoint must also hold what it declares:
:func:`gansuite.engine.checkpoint.check_declared_state`). A split's labels are class indices from 0 (below the number of
class names when the dataset names them); labels out of range are a
:class:`~gansuite.contract.errors.DataError` (the files, not necessarily the plugin, are wrong).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import DataError, DivergenceError, PluginError
from gansuite.contract.protocols import ImageData, ModelCheck
from gansuite.engine.build import plugin_call

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel
    from gansuite.contract.specs import DatasetSpec, DedupSpec, ProbeSpec, Spec

__all__ = ["check_step_stats", "check_rows", "check_probe_model", "check_split", "check_groups",
           "check_extra_state"]

RESERVED_ROW_KEYS = ("eval", "eval_seconds", "run", "model", "dataset", "probe", "seed", "device", "precision",
                     "versions", "plugins", "data_verified", "unverified_files", "train_dataset",
                     "train_data_verified", "step", "train_seconds", "probe_config", "created")
"""Keys the host sets on every result row (the eval and its time, then the provenance); a
probe's row may not carry them (docs/plugins.md lists them)."""


def _who(spec: Spec) -> str:
    return f"{spec.kind.capitalize()} '{spec.name}' ({spec.origin()})"


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim") and hasattr(value, "dtype")


def _describe(value: Any) -> str:
    if _is_tensor(value):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def check_step_stats(origin: str, stats: Any, step: int | None = None, kept: str = "") -> dict[str, Any]:
    """What ``train_step`` returned, as a dict: a non-empty mapping of string keys to Python
    numbers or 0-d real tensors. ``origin`` names the model and its plugin (the run's
    ``TrainConfig.origin``); ``step`` is the 1-based step; every message ends with ``kept``
    (what the run keeps). A non-finite Python number is a :class:`DivergenceError`."""
    origin = origin or "The model"
    at = f" at step {step}" if step is not None else ""
    tail = f"; {kept}" if kept else ""
    if not isinstance(stats, Mapping) or not stats:
        raise PluginError(f"{origin}: train_step must return a non-empty mapping of scalars, got "
                          f"{type(stats).__name__}{at}{tail}.")
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if not isinstance(key, str) or not key:
            raise PluginError(f"{origin}: train_step returned a stat named {key!r}{at}; name every stat "
                              f"with a non-empty string{tail}.")
        if _is_tensor(value):
            if value.dim() != 0 or value.is_complex():
                raise PluginError(f"{origin}: train_step returned '{key}' as {_describe(value)}{at}; return "
                                  f"one number per key (a 0-d tensor, e.g. loss.detach()){tail}.")
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise DivergenceError(f"Training diverged{at}: {origin} returned '{key}' = {value}{tail}. "
                                      "Start a new run with a lower learning rate (-o lr=...) or another --seed.")
            value = float(value)
        else:
            raise PluginError(f"{origin}: train_step returned '{key}' as {_describe(value)}{at}; return a "
                              f"Python number or a 0-d tensor per key{tail}.")
        out[key] = value
    return out


def check_rows(spec: ProbeSpec, rows: Any) -> list[dict[str, Any]]:
    """A probe's result rows: a non-empty list of dicts, each with a string ``metric`` and a
    number (int or float, NaN allowed) as ``value``."""
    if not isinstance(rows, list) or not rows:
        raise PluginError(f"{_who(spec)}: run() must return a non-empty list of rows, got "
                          f"{type(rows).__name__}.")
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("metric"), str) or not row["metric"]:
            raise PluginError(f"{_who(spec)} returned a row without a metric name: {row!r}.")
        value = row.get("value")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise PluginError(f"{_who(spec)} returned a row whose value is not a number ({_describe(value)}): "
                              f"{row!r}.")
        clash = [k for k in RESERVED_ROW_KEYS if k in row]
        if clash:
            raise PluginError(f"{_who(spec)} returned metric '{row['metric']}' with keys the host sets "
                              f"({', '.join(clash)}); rename them (reserved: {', '.join(RESERVED_ROW_KEYS)}).")
    return rows


def check_probe_model(spec: ProbeSpec, probe: Any, model: GANModel) -> None:
    """The probe's optional :meth:`~gansuite.contract.protocols.ModelCheck.check_model`: it
    raises (an ``OptionError``) when the probe cannot evaluate ``model``."""
    if isinstance(probe, ModelCheck):
        plugin_call(spec, "to check the model", probe.check_model, model)


def check_split(spec: DatasetSpec, split: str, data: Any, *, image_size: int | None = None) -> ImageData:
    """One loaded split: an :class:`ImageData` of uint8 ``(N, C, H, W)`` images, N > 0, resized
    to ``image_size`` when one was asked for, and int64 labels of length N (or None)."""
    import torch

    where = f"{_who(spec)}, split '{split}'"
    if not isinstance(data, ImageData):
        raise PluginError(f"{where}: load() must return a gansuite.ImageData, got {type(data).__name__}.")
    x = data.images
    if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.dim() != 4 or len(x) == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        dtype = x.dtype if isinstance(x, torch.Tensor) else ""
        raise PluginError(f"{where}: images must be a non-empty uint8 (N, C, H, W) tensor, got {dtype} {shape}.")
    if image_size is not None and tuple(x.shape[2:]) != (image_size, image_size):
        raise PluginError(f"{where}: asked for {image_size}x{image_size} images, got "
                          f"{x.shape[2]}x{x.shape[3]}.")
    labels = data.labels
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64
                               or tuple(labels.shape) != (len(x),)):
        raise PluginError(f"{where}: labels must be int64 of shape ({len(x)},), got "
                          f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}.")
    if labels is not None and len(labels):
        low, high, named = int(labels.min()), int(labels.max()), len(data.classes or ())
        if low < 0:
            raise DataError(f"Dataset '{spec.name}' split '{split}' has negative labels (down to {low}); labels "
                            "are class indices from 0. The files are damaged or not this dataset's: restore them "
                            "(or fix its plugin).")
        if named and high >= named:
            raise DataError(f"Dataset '{spec.name}' split '{split}' has label {high}, but it names {named} classes "
                            f"(labels 0..{named - 1}). The files are damaged or not this dataset's: restore them "
                            "(or fix its plugin).")
    return data


def check_groups(spec: DedupSpec, groups: Any, n: int) -> list[list[int]]:
    """A dedup strategy's groups: lists of at least two sorted, distinct indices in ``[0, n)``."""
    if not isinstance(groups, Sequence):
        raise PluginError(f"{_who(spec)}: find_groups() must return a list of index lists, got "
                          f"{type(groups).__name__}.")
    out = []
    for group in groups:
        g = [int(i) for i in group]
        if len(g) < 2 or g != sorted(set(g)) or g[0] < 0 or g[-1] >= n:
            raise PluginError(f"{_who(spec)}: a group must hold two or more sorted, distinct indices "
                              f"in [0, {n}), got {list(group)!r}.")
        out.append(g)
    return out


def _json_like(value: Any, where: str) -> str:
    """Where ``value`` holds something a weights-only checkpoint cannot store ('' if nowhere)."""
    if value is None or isinstance(value, (bool, int, float, str)) or _is_tensor(value):
        return ""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                return f"{where} (key {k!r})"
            if bad := _json_like(v, f"{where}.{k}"):
                return bad
        return ""
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if bad := _json_like(v, f"{where}[{i}]"):
                return bad
        return ""
    return f"{where} ({type(value).__name__})"


def check_extra_state(origin: str, state: Any) -> dict[str, Any]:
    """What ``extra_state()`` returned: a mapping of string keys to tensors and JSON-like values
    (what a weights-only checkpoint can store)."""
    origin = origin or "The model"
    if not isinstance(state, Mapping):
        raise PluginError(f"{origin}: extra_state() must return a dict, got {_describe(state)}.")
    for key in state:
        if not isinstance(key, str):
            raise PluginError(f"{origin}: extra_state() returned a key {key!r}; use string keys.")
    bad = _json_like(dict(state), "extra_state")
    if bad:
        raise PluginError(f"{origin}: extra_state() holds {bad}, which a checkpoint cannot store; "
                          "return tensors, numbers, strings, lists and dicts only.")
    return dict(state)
