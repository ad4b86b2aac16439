"""The run folder: the contract every part of a run writes into.

```
RUN_DIR/
  config.json      resolved options, seed, device, versions, plugins used, git commit,
                   and after training the built architecture (parameter counts, widths)
  metrics.jsonl    one JSON object per logged training step
  results.json     a list of {eval, metric, value, ...} rows with provenance
  checkpoints/     resumable training state
  samples/         PNGs (sample grids, loss curve, probe figures)
  .lock            the writer's lock (see gansuite.engine.lock)
```
Whole files are written atomically (temporary file in the same folder, fsync, rename), so a
kill at any moment leaves either the old or the new file, never a torn one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gansuite.contract.errors import CheckpointError
from gansuite.contract.files import atomic_write, atomic_write_bytes, atomic_write_json

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "RunFolder", "TEMP_GLOB"]

TEMP_GLOB = ".*.tmp"  # what atomic_write leaves behind when it is killed mid-write
_MISSING = object()


class RunFolder:
    """Paths and atomic writers for one run."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def create(self) -> RunFolder:
        for p in (self.path, self.checkpoints, self.samples):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def exists(self) -> bool:
        return self.config_path.is_file()

    def has_checkpoint(self) -> bool:
        """True when ``checkpoints/`` holds a finished checkpoint file."""
        return self.checkpoints.is_dir() and any(
            p.name.startswith("step-") and p.name.endswith(".pt") for p in self.checkpoints.iterdir())

    def foreign_entries(self) -> list[str]:
        """Names in the folder other than the lock: what a new run must not mix with."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.name != ".lock")

    def clean_temp_files(self) -> list[Path]:
        """Remove the temporary files of writes a kill interrupted (call with the lock held)."""
        removed = []
        for folder, deep in ((self.path, False), (self.checkpoints, False), (self.samples, True)):
            if folder.is_dir():
                for tmp in (folder.rglob if deep else folder.glob)(TEMP_GLOB):
                    if tmp.is_file():
                        tmp.unlink(missing_ok=True)
                        removed.append(tmp)
        return removed

    # config.json -----------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_path, config)

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise CheckpointError(
                f"{self.path} is not a run folder (no config.json). Pass the folder that "
                "'gansuite run' created."
            )
        try:
            config = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"Cannot read {self.config_path}: {exc}.") from None
        if not isinstance(config, dict):
            raise CheckpointError(f"{self.config_path} holds a JSON {type(config).__name__}, not the "
                                  "object 'gansuite run' writes; the file is damaged.")
        return config

    def config_value(self, config: dict[str, Any], key: str, kind: type | tuple[type, ...],
                     default: Any = _MISSING) -> Any:
        """``config[key]`` checked to be of ``kind`` (a damaged config.json ends in one line)."""
        value = config.get(key, default)
        if value is _MISSING:
            raise CheckpointError(f"{self.config_path} lacks '{key}'; the file is damaged.")
        if value is None and default is None:
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise CheckpointError(f"{self.config_path}: '{key}' should be {names}, got {value!r}; "
                                  "the file is damaged.")
        return value

    # metrics.jsonl ---------------------------------------------------------------------
    def append_metrics(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows (one JSON object per line) and flush them to disk."""
        with open(self.metrics_path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=float) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self, strict: bool = False) -> list[dict[str, Any]]:
        """The rows of ``metrics.jsonl``. A last line torn by a kill is ignored. Other lines
        gansuite did not write (not JSON, not an object, a ``step`` that is not an integer) are
        ignored too, or with ``strict`` refused: :class:`CheckpointError` names the line."""
        if not self.metrics_path.is_file():
            return []
        rows = []
        lines = self.metrics_path.read_text(errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except ValueError:  # a line torn by a kill: ignore it
                if strict and number < len(lines) and line.strip():
                    self._bad_metrics_line(number, "not JSON")
                continue
            step = row.get("step") if isinstance(row, dict) else None
            if isinstance(row, dict) and ("step" not in row or (isinstance(step, int) and not isinstance(step, bool))):
                rows.append(row)
            elif strict:  # anything else is not a row gansuite wrote
                what = f"a JSON {type(row).__name__}, not an object" if not isinstance(row, dict) else \
                    f"a row with step {step!r}, not an integer"
                self._bad_metrics_line(number, what)
        return rows

    def _bad_metrics_line(self, number: int, what: str) -> None:
        raise CheckpointError(f"{self.metrics_path} line {number} is {what}: gansuite did not write it "
                              "(fix or delete that line, then rerun).")

    def truncate_metrics(self, last_step: int) -> None:
        """Keep only rows with ``step <= last_step`` (used when resuming from a checkpoint)."""
        rows = [r for r in self.read_metrics() if int(r.get("step", 0)) <= last_step]
        atomic_write(self.metrics_path, lambda fh: fh.writelines(json.dumps(r) + "\n" for r in rows))

    # results.json ----------------------------------------------------------------------
    def read_results(self) -> list[dict[str, Any]]:
        if not self.results_path.is_file():
            return []
        try:
            rows = json.loads(self.results_path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"Cannot read {self.results_path}: {exc}.") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CheckpointError(f"{self.results_path} is not a list of result rows; the file is "
                                  "damaged (move it away and rerun the evals).")
        return rows

    def add_results(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows to results.json (rewritten atomically)."""
        atomic_write_json(self.results_path, self.read_results() + list(rows))
