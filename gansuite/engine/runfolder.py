"""The run folder: the contract every part of a run writes into.

```
RUN_DIR/
  config.json      resolved options, seed, device, versions, plugins used, git commit,
                   and after training the built architecture (parameter counts, widths)
  metrics.jsonl    one JSON object per logged training step
  results.json     a list of {eval, metric, value, ...} rows with provenance
  checkpoints/     resumable training state
  samples/         PNGs (sample grids, loss curve, probe figures)
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

from gansuite.plugin.errors import CheckpointError
from gansuite.plugin.files import atomic_write, atomic_write_bytes, atomic_write_json

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "RunFolder"]


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
            return json.loads(self.config_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"Cannot read {self.config_path}: {exc}.") from None

    # metrics.jsonl ---------------------------------------------------------------------
    def append_metrics(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows (one JSON object per line) and flush them to disk."""
        with open(self.metrics_path, "a") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=float) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line torn by a kill: ignore it
                continue
        return rows

    def truncate_metrics(self, last_step: int) -> None:
        """Keep only rows with ``step <= last_step`` (used when resuming from a checkpoint)."""
        rows = [r for r in self.read_metrics() if int(r.get("step", 0)) <= last_step]
        atomic_write(self.metrics_path, lambda fh: fh.writelines(json.dumps(r) + "\n" for r in rows))

    # results.json ----------------------------------------------------------------------
    def read_results(self) -> list[dict[str, Any]]:
        if not self.results_path.is_file():
            return []
        try:
            return list(json.loads(self.results_path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"Cannot read {self.results_path}: {exc}.") from None

    def add_results(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows to results.json (rewritten atomically)."""
        atomic_write_json(self.results_path, self.read_results() + list(rows))
