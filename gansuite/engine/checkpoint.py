"""Checkpoints: atomic, safe to load, and complete enough for an exact resume.

A checkpoint is ``checkpoints/step-NNNNNNNNN.pt`` holding only tensors and JSON-like primitives
(G, D, both optimisers, the step, the data position, every RNG state and the run's config), so it
is read with ``torch.load(..., weights_only=True)``: loading a checkpoint cannot execute code.
Each file is written to a temporary name and renamed into place, and the previous checkpoint is
kept, so a kill at any moment leaves a readable latest checkpoint.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

from gansuite.contract.errors import CheckpointError
from gansuite.engine.runfolder import atomic_write

__all__ = [
    "FORMAT",
    "checkpoint_path",
    "list_checkpoints",
    "save_checkpoint",
    "load_checkpoint",
    "load_latest",
    "capture_rng",
    "restore_rng",
    "json_safe",
    "nonfinite_tensors",
    "check_finite_state",
    "check_owner",
    "load_resumable",
    "check_declared_state",
    "missing_extra_state",
]

FORMAT = 1
_NAME = re.compile(r"^step-(\d{9})\.pt$")
# what every reader of a checkpoint relies on, and its type
_FIELDS = {"step": int, "model": str, "model_config": dict, "image_size": int, "channels": int,
           "generator": dict, "discriminator": dict}


def checkpoint_path(directory: Path, step: int) -> Path:
    return Path(directory) / f"step-{step:09d}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every finished checkpoint, oldest first (temporary files ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def json_safe(obj: Any) -> Any:
    """``obj`` reduced to JSON primitives (what a weights-only load accepts)."""
    return json.loads(json.dumps(obj, default=str))


def save_checkpoint(directory: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` atomically as the checkpoint of ``step``; keep the ``keep`` newest."""
    import torch

    path = checkpoint_path(directory, step)
    try:
        atomic_write(path, lambda fh: torch.save(state, fh), mode="wb")
    except (RuntimeError, OSError) as exc:  # torch reports a failed write as a RuntimeError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        kept = list_checkpoints(directory)
        raise CheckpointError(f"Cannot write checkpoint {path}: {first}. "
                              + (f"{kept[-1][1]} is kept; free some space, then continue with "
                                 f"'gansuite run --resume {Path(directory).parent}'." if kept else
                                 "Free some space and start the run again.")) from None
    for _old_step, old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read one checkpoint (weights only); :class:`CheckpointError` when it cannot be read."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torn, truncated, not a zip, or a pickle a weights-only load refuses
        raise CheckpointError(f"Cannot read checkpoint {path}: {_first_sentence(exc)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gansuite checkpoint (format {FORMAT}).")
    _check_fields(path, state, ("step",))
    return state


def _check_fields(path: Path, state: dict[str, Any], keys: Any = None) -> None:
    for key in keys or _FIELDS:
        kind = _FIELDS[key]
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise CheckpointError(f"{path} is damaged: '{key}' should be {kind.__name__}, got "
                                  f"{type(state.get(key)).__name__}")


def nonfinite_tensors(named: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a (nested) mapping that hold NaN or Inf."""
    import torch

    bad: list[str] = []
    if isinstance(named, torch.Tensor):
        if named.is_floating_point() and not bool(torch.isfinite(named).all()):
            bad.append(prefix or "tensor")
    elif isinstance(named, dict):
        for key, value in named.items():
            bad += nonfinite_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(named, (list, tuple)):
        for i, value in enumerate(named):
            bad += nonfinite_tensors(value, f"{prefix}[{i}]")
    return bad


def check_finite_state(path: Path, state: dict[str, Any]) -> None:
    """Refuse a checkpoint whose weights, buffers or extra state hold NaN or Inf."""
    bad = nonfinite_tensors({k: state.get(k) for k in ("generator", "discriminator", "extra")})
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise CheckpointError(f"{path} holds NaN or Inf values ({bad[0]}{more}): the run had diverged "
                              "when it was written; it cannot be evaluated or continued. Start a new run "
                              "with a lower learning rate (-o lr=...) or another --seed.")


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "GLOBAL" in text or "Unsupported global" in text:
        return ("it asks to load objects a checkpoint never holds (it may have been crafted to run "
                "code), so it was not read")
    if "Weights only load failed" in text:
        return "not a checkpoint, or torn"
    return text.split(". ")[0].rstrip(".") if text else type(exc).__name__


def check_owner(path: Path, state: dict[str, Any], model_name: str, model_config: Any,
                image_size: int | None = None, channels: int | None = None) -> None:
    """Refuse a checkpoint that is not of this run's model, options and sizes."""
    _check_fields(path, state)
    if state["model"] != model_name:
        raise CheckpointError(f"{path} holds model '{state['model']}', but this run trains "
                              f"'{model_name}': it is not this run's checkpoint.")
    if json_safe(state["model_config"]) != json_safe(model_config):
        mine = json_safe(model_config) if isinstance(model_config, dict) else {}
        diff = sorted(k for k in {*mine, *state["model_config"]}
                      if json_safe(mine.get(k)) != json_safe(state["model_config"].get(k)))
        raise CheckpointError(f"{path} was written with other options of model '{model_name}' than this run "
                              f"records ({', '.join(diff) or 'model_config'}): it is not this run's checkpoint.")
    if image_size is not None and state["image_size"] != image_size:
        raise CheckpointError(f"{path} holds a {state['image_size']}px model, but this run trains at "
                              f"{image_size}px: it is not this run's checkpoint.")
    if channels is not None and state["channels"] != channels:
        raise CheckpointError(f"{path} holds a {state['channels']}-channel model, but this run trains "
                              f"{channels}-channel images: it is not this run's checkpoint.")


def load_resumable(directory: Path, model_name: str, model_config: Any, image_size: int | None = None,
                   channels: int | None = None, map_location: Any = "cpu",
                   model: Any = None) -> tuple[Path, dict[str, Any]]:
    """The newest readable checkpoint, checked to be this run's and finite (and, given ``model``,
    loaded into its networks)."""
    path, state = load_latest(directory, map_location=map_location)
    check_owner(path, state, model_name, model_config, image_size, channels)
    check_finite_state(path, state)
    if model is not None:
        try:
            model.generator.load_state_dict(state["generator"])
            model.discriminator.load_state_dict(state["discriminator"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"{path} does not fit this run's model ({first}); it is damaged or not "
                                  "this run's checkpoint.") from None
        check_declared_state(path, state, model.extra_state(), f"model '{model_name}'")
    return path, state


def check_declared_state(path: Path, state: dict[str, Any], declared: Any, who: str) -> None:
    """Refuse a checkpoint lacking state the model declares in ``extra_state()`` (an EMA, a
    schedule): resuming or evaluating it would silently use a fresh one."""
    missing = missing_extra_state(declared, state.get("extra"))
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        run = Path(path).parent.parent
        raise CheckpointError(f"{path} lacks {missing[0]}{more}, which {who} keeps: resuming or evaluating "
                              "it would silently use a fresh one. Use a checkpoint written with these options, "
                              f"or start again from step 0 with 'gansuite run --restart {run}'.")


def load_latest(directory: Path, map_location: Any = "cpu") -> tuple[Path, dict[str, Any]]:
    """The newest readable checkpoint; an unreadable newest one falls back to the one before
    (with one warning line naming what was skipped)."""
    found = list_checkpoints(directory)
    if not found:
        run = Path(directory).parent
        raise CheckpointError(f"No checkpoint in {directory}: the run stopped before its first one. "
                              f"Start it again from step 0 with: gansuite run --restart {run}")
    skipped: list[str] = []
    for _step, path in reversed(found):
        try:
            state = load_checkpoint(path, map_location)
        except CheckpointError as exc:
            skipped.append(str(exc))
            continue
        if skipped:
            print(f"Warning: {skipped[0]}; trying the previous checkpoint: using {path.name}.",
                  file=sys.stderr)
        return path, state
    raise CheckpointError(f"No readable checkpoint in {directory} ({skipped[0]}).")


def capture_rng() -> dict[str, Any]:
    """Every global RNG state (torch CPU and CUDA, numpy, Python) as tensors and primitives."""
    import numpy as np
    import torch

    version, mt, gauss = random.getstate()
    np_state: Any = np.random.get_state(legacy=True)
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np_state
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached": float(np_cached)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return out


def restore_rng(state: dict[str, Any]) -> None:
    """Undo :func:`capture_rng`."""
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"].cpu())
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    np.random.set_state((nps["name"], nps["keys"].numpy().astype(np.uint32), nps["pos"],
                         nps["has_gauss"], nps["cached"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def missing_extra_state(declared: Any, stored: Any, where: str = "extra") -> list[str]:
    """The entries of ``declared`` (what the model's ``extra_state()`` returns now) that
    ``stored`` (a checkpoint's copy) lacks or holds as a tensor of another shape."""
    import torch

    if not isinstance(stored, dict):
        return [where] if declared else []
    missing: list[str] = []
    for key, value in dict(declared).items():
        name = f"{where}.{key}"
        if key not in stored:
            missing.append(name)
        elif isinstance(value, dict):
            missing += missing_extra_state(value, stored[key], name)
        elif isinstance(value, torch.Tensor) and (not isinstance(stored[key], torch.Tensor)
                                                  or stored[key].shape != value.shape):
            missing.append(name)
    return missing
