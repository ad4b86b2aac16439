"""The study folder: ordinary run folders plus what the study itself records.

```
STUDY_DIR/
  study.json        the parsed spec and its cells (what `gansuite results STUDY_DIR` reads)
  spec.toml         the spec file as it was last run
  runs/CELL/        one ordinary run folder per cell (model x dataset x seed)
  logs/CELL.log     each attempt's command line and output, appended
  cells/CELL.json   each attempt's action, exit status and wall time
  aggregate.csv     mean, std and 95% interval per model x dataset x metric (and variant)
  pairwise.csv      Welch and permutation tests between models
  aggregate.png     the aggregate with error bars
  report.html       the self-contained report (--report)
```
Every file is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.contract.files import atomic_write, atomic_write_json
from gansuite.engine.runfolder import RunFolder

__all__ = ["StudyFolder", "CellInfo", "is_study", "STUDY_ENTRIES"]

STUDY_FILE = "study.json"
STUDY_ENTRIES = frozenset({STUDY_FILE, "spec.toml", "runs", "logs", "cells", "aggregate.csv", "pairwise.csv",
                           "aggregate.png", "report.html", "submitit", ".lock"})
"""What a study folder may hold (a study never writes into a folder holding anything else)."""


@dataclass(frozen=True)
class CellInfo:
    """One cell as ``study.json`` records it."""

    id: str
    label: str
    model: str
    dataset: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "model": self.model, "dataset": self.dataset,
                "seed": self.seed, "run": f"runs/{self.id}"}


def is_study(path: Path | str) -> bool:
    return (Path(path) / STUDY_FILE).is_file()


class StudyFolder:
    """Paths and records of one study."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def study_path(self) -> Path:
        return self.path / STUDY_FILE

    def run_dir(self, cell_id: str) -> Path:
        return self.path / "runs" / cell_id

    def log_path(self, cell_id: str) -> Path:
        return self.path / "logs" / f"{cell_id}.log"

    def record_path(self, cell_id: str) -> Path:
        return self.path / "cells" / f"{cell_id}.json"

    def write_study(self, study: dict[str, Any], spec_text: str | None = None) -> None:
        for sub in ("runs", "logs", "cells"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.study_path, study)
        if spec_text is not None:
            atomic_write(self.path / "spec.toml", lambda fh: fh.write(spec_text))

    def read_study(self) -> dict[str, Any]:
        if not self.study_path.is_file():
            raise OptionError(f"{self.path} is not a study folder (no {STUDY_FILE}); "
                              "create one with 'gansuite study SPEC'.")
        try:
            study = json.loads(self.study_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OptionError(f"Cannot read {self.study_path}: {exc}.") from None
        if not isinstance(study, dict) or not isinstance(study.get("cells"), list):
            raise OptionError(f"{self.study_path} holds no cell list; rerun 'gansuite study SPEC'.")
        return study

    def cells(self) -> list[CellInfo]:
        keys = ("id", "label", "model", "dataset", "seed")
        return [CellInfo(**{k: c[k] for k in keys}) for c in self.read_study()["cells"]]

    def read_record(self, cell_id: str) -> dict[str, Any]:
        """The cell's attempts so far (``{}`` when none was recorded)."""
        try:
            record = json.loads(self.record_path(cell_id).read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return record if isinstance(record, dict) else {}

    def add_attempt(self, cell_id: str, attempt: dict[str, Any]) -> dict[str, Any]:
        """Append one attempt; ``wall_s`` sums the attempts, ``status`` is the last one's."""
        record = self.read_record(cell_id)
        attempts = [*record.get("attempts", []), attempt]
        record = {"id": cell_id, "status": attempt["status"], "attempts": attempts,
                  "wall_s": round(sum(float(a.get("seconds") or 0) for a in attempts), 3)}
        atomic_write_json(self.record_path(cell_id), record)
        return record

    def evals_with_rows(self, cell_id: str) -> set[str]:
        """The evals that have rows in the cell's ``results.json``."""
        try:
            rows = RunFolder(self.run_dir(cell_id)).read_results()
        except CheckpointError:
            return set()
        return {str(r.get("eval")) for r in rows if isinstance(r, dict)}

    def finished(self, cell_id: str, evals: tuple[str, ...] | list[str]) -> bool:
        """Rows for every eval; without evals, a finished attempt on record."""
        if not RunFolder(self.run_dir(cell_id)).exists():
            return False
        if evals:
            return set(evals) <= self.evals_with_rows(cell_id)
        return self.read_record(cell_id).get("status") == "finished"
