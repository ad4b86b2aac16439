"""What a plugin hands back to the host, checked where it enters, in one place.

The engine, the eval runner and the conformance kit (:mod:`gansuite.testing`) call these same
functions, so a plugin that passes the kit is accepted by the host and the other way round:

- :func:`check_step_stats`: what ``GANModel.train_step`` returns, checked at the step (not when
  the log is flushed): a non-empty mapping of string keys to Python numbers or 0-d real tensors.
  Finiteness of tensors is left to the engine's divergence check (one device sync per flush);
  a non-finite Python number is reported as divergence here.
- :func:`check_result_rows`: what ``Probe.run`` returns: dicts with a string ``metric``, a
  numeric ``value`` and no key of :data:`RESERVED_ROW_KEYS` (the host's provenance).
- :func:`check_labels`: the labels of a dataset's split (``ImageData.labels``): int64, one per
  image, class indices from 0 (below the number of class names when the dataset names them).
- :func:`check_extra_state`: what ``GANModel.extra_state`` returns (tensors and JSON-like
  values, string keys); :func:`missing_extra_state` compares a stored copy with what the model
  declares, so a resume never silently starts a fresh EMA.

Each raises :class:`~gansuite.plugin.errors.PluginError` (or, for a stored state,
:class:`~gansuite.plugin.errors.CheckpointError` from the caller) with one line naming the
plugin and the offending key. Importing this module does not import torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from gansuite.plugin.errors import DivergenceError, PluginError

__all__ = ["RESERVED_ROW_KEYS", "check_step_stats", "check_result_rows", "check_extra_state",
           "missing_extra_state", "check_labels"]

RESERVED_ROW_KEYS = ("eval", "eval_seconds", "run", "model", "dataset", "probe", "seed", "device", "precision",
                     "versions", "plugins", "data_verified", "unverified_files", "train_dataset",
                     "train_data_verified", "step", "probe_config", "created")
"""Keys the host sets on every result row (the eval and its time, then the provenance); a
probe's row may not carry them (docs/plugins.md lists them)."""


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "dim") and hasattr(value, "dtype")


def _describe(value: Any) -> str:
    if _is_tensor(value):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def _real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_step_stats(stats: Any, origin: str, step: int, kept: str = "") -> dict[str, Any]:
    """``train_step``'s return value as a dict of str -> number or 0-d real tensor, or raise.

    ``origin`` names the model and its plugin; ``step`` is the 1-based step it came from; a
    non-finite Python number is a :class:`DivergenceError`; every message ends with ``kept``
    (what the run keeps)."""
    tail = f"; {kept}" if kept else ""
    if not isinstance(stats, Mapping) or not stats:
        raise PluginError(f"{origin}: train_step must return a non-empty mapping of scalars, got "
                          f"{_describe(stats)} at step {step}{tail}.")
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if not isinstance(key, str) or not key:
            raise PluginError(f"{origin}: train_step returned a stat named {key!r} at step {step}; "
                              f"name every stat with a non-empty string{tail}.")
        if _is_tensor(value):
            if value.dim() != 0 or value.is_complex():
                raise PluginError(f"{origin}: train_step returned '{key}' as {_describe(value)} at step "
                                  f"{step}; return one number per key (a 0-d tensor, e.g. loss.detach()){tail}.")
        elif _real_number(value):
            if not math.isfinite(float(value)):
                raise DivergenceError(f"Training diverged at step {step}: {origin} returned '{key}' = {value}"
                                      f"{'; ' + kept if kept else ''}. Start a new run with a lower learning "
                                      "rate (-o lr=...) or another --seed.")
            value = float(value)
        else:
            raise PluginError(f"{origin}: train_step returned '{key}' as {_describe(value)} at step {step}; "
                              f"return a Python number or a 0-d tensor per key{tail}.")
        out[key] = value
    return out


def check_result_rows(rows: Any, origin: str) -> list[dict[str, Any]]:
    """A probe's rows: a non-empty list of dicts with a str ``metric``, a real ``value`` and no
    reserved key; numbers are returned as Python ``int``/``float``."""
    if not isinstance(rows, list) or not rows:
        raise PluginError(f"{origin}: run() must return a non-empty list of rows, got {_describe(rows)}.")
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("metric"), str) or "value" not in row:
            raise PluginError(f"{origin} returned a row without a string 'metric' and a 'value': "
                              f"{_describe(row)}.")
        value = row["value"]
        if not _real_number(value):
            raise PluginError(f"{origin} returned metric '{row['metric']}' with a non-numeric value "
                              f"({_describe(value)}); 'value' must be a number.")
        clash = [k for k in RESERVED_ROW_KEYS if k in row]
        if clash:
            raise PluginError(f"{origin} returned metric '{row['metric']}' with keys the host sets "
                              f"({', '.join(clash)}); rename them (reserved: {', '.join(RESERVED_ROW_KEYS)}).")
        out.append({**row, "value": value if isinstance(value, int) else float(value)})
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


def check_extra_state(state: Any, origin: str) -> dict[str, Any]:
    """``extra_state()``'s return value: a mapping of str keys to tensors and JSON-like values."""
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


def missing_extra_state(declared: Mapping[str, Any], stored: Any, where: str = "extra") -> list[str]:
    """The entries of ``declared`` (what the model's ``extra_state()`` returns now) that
    ``stored`` (a checkpoint's copy) lacks or holds in another shape."""
    if not isinstance(stored, Mapping):
        return [where] if declared else []
    missing: list[str] = []
    for key, value in declared.items():
        name = f"{where}.{key}"
        if key not in stored:
            missing.append(name)
        elif isinstance(value, Mapping):
            missing += missing_extra_state(value, stored[key], name)
        elif _is_tensor(value) and (not _is_tensor(stored[key]) or stored[key].shape != value.shape):
            missing.append(name)
    return missing


def check_labels(data: Any, origin: str) -> None:
    """Labels of a loaded split (``data``: an ``ImageData``): None, or an int64 tensor of shape
    ``(N,)`` holding class indices ``>= 0`` and, when the split names its classes, below their
    count. Raises :class:`~gansuite.plugin.errors.DataError` naming ``origin`` (dataset, split)."""
    from gansuite.plugin.errors import DataError

    labels = data.labels
    if labels is None:
        return
    n = int(data.images.shape[0])
    if not _is_tensor(labels) or labels.dtype.is_floating_point or labels.is_complex() or tuple(labels.shape) != (n,):
        raise DataError(f"{origin}: labels must be an int64 tensor of shape ({n},), got {_describe(labels)}; "
                        "the dataset's files or its plugin are broken.")
    if not n:
        return
    low, high = int(labels.min()), int(labels.max())
    named = len(data.classes or ())
    if low < 0:
        raise DataError(f"{origin} has negative labels (down to {low}); labels are class indices from 0. "
                        "The files are damaged or not this dataset's: restore them (or fix its plugin).")
    if named and high >= named:
        raise DataError(f"{origin} has label {high}, but it names {named} classes (labels 0..{named - 1}). "
                        "The files are damaged or not this dataset's: restore them (or fix its plugin).")
