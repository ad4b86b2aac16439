"""What the host checks of a plugin's outputs, in one place: the host applies these checks where
it calls the plugin, and the conformance kit (``gansuite.testing``) applies the same ones, so
a plugin that passes the kit passes the host.

Each check raises a one-line :class:`~gansuite.contract.errors.PluginError` naming the spec and
its plugin (the model's one-batch check is :func:`gansuite.engine.build.smoke_check`).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import PluginError
from gansuite.contract.protocols import ImageData, ModelCheck
from gansuite.engine.build import plugin_call

if TYPE_CHECKING:
    from gansuite.contract.model import GANModel
    from gansuite.contract.specs import DatasetSpec, DedupSpec, ProbeSpec, Spec

__all__ = ["check_step_stats", "check_rows", "check_probe_model", "check_split", "check_groups"]


def _who(spec: Spec) -> str:
    return f"{spec.kind.capitalize()} '{spec.name}' ({spec.origin()})"


def check_step_stats(origin: str, stats: Any) -> dict[str, Any]:
    """What ``train_step`` returned, as a dict: a non-empty mapping of scalars. ``origin`` names
    the model and its plugin (the run's ``TrainConfig.origin``)."""
    if not isinstance(stats, Mapping) or not stats:
        raise PluginError(f"{origin or 'The model'}: train_step must return a non-empty "
                          f"mapping of scalars, got {type(stats).__name__}.")
    return dict(stats)


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
            raise PluginError(f"{_who(spec)} returned a row whose value is not a number: {row!r}.")
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
