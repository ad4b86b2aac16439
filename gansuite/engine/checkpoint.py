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

from gansuite.engine.runfolder import atomic_write
from gansuite.plugin.errors import CheckpointError

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
]

FORMAT = 1
_NAME = re.compile(r"^step-(\d{9})\.pt$")


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
    atomic_write(path, lambda fh: torch.save(state, fh), mode="wb")
    for _old_step, old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read one checkpoint (weights only); :class:`CheckpointError` when it cannot be read."""
    import pickle

    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"Cannot read checkpoint {path}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gansuite checkpoint (format {FORMAT}).")
    return state


def load_latest(directory: Path, map_location: Any = "cpu") -> tuple[Path, dict[str, Any]]:
    """The newest readable checkpoint; an unreadable newest one falls back to the one before."""
    found = list_checkpoints(directory)
    if not found:
        raise CheckpointError(f"No checkpoint in {directory}: the run stopped before its first "
                              "one; start it again without --resume.")
    errors = []
    for _step, path in reversed(found):
        try:
            return path, load_checkpoint(path, map_location)
        except CheckpointError as exc:
            errors.append(str(exc))
            print(f"Warning: {exc}; trying the previous checkpoint.", file=sys.stderr)
    raise CheckpointError(f"No readable checkpoint in {directory}: {errors[0]}")


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
