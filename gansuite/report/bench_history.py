"""The stored benchmark runs as a table (pandas), with their ceilings, load, fractions of the
ceiling and flags: what ``gansuite bench history`` shows (figures: :mod:`.bench_figures`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.report.bench_runs import StoredRun, load_runs

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "history_table", "runs_table", "history_pivot", "FLAG_MARK"]

FLAG_MARK = " [flagged]"
COLUMNS = ["machine", "mode", "date", "commit", "file", "family", "benchmark", "throughput", "unit", "achieved",
           "achieved_unit", "ceiling", "fraction", "bound", "median_s", "rounds", "device", "gemm_fp32_gflops",
           "memory_gb_s", "load_max", "ncpu", "steal_max", "flagged", "flags"]


def _frame(runs: Sequence[StoredRun], history_root: Path) -> pd.DataFrame:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run in runs:
        base = {
            "machine": run.machine, "mode": run.mode, "date": run.when.strftime("%Y-%m-%d %H:%M"),
            "commit": run.commit, "file": run.path.relative_to(history_root).as_posix(),
            **(run.ceilings or {}), **(run.load or {}), "flagged": run.flagged, "flags": "; ".join(run.flags),
        }
        rows.extend({**row, **base} for row in run.rows)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("throughput", "achieved", "ceiling", "fraction", "median_s", "gemm_fp32_gflops", "memory_gb_s",
                "load_max", "ncpu", "steal_max"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["flagged"] = frame["flagged"].astype(bool)
    return frame.reset_index(drop=True)


def history_table(history_root: Path, machine: str | None = None) -> pd.DataFrame:
    """Every stored benchmark result as a long table, oldest run first (:data:`COLUMNS`)."""
    return _frame(load_runs(history_root, machine), Path(history_root))


def runs_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per stored run: date, commit, ceilings, load and why it is flagged."""
    cols = ["machine", "mode", "date", "commit", "gemm_fp32_gflops", "memory_gb_s", "load_max", "ncpu",
            "steal_max", "flags"]
    runs = frame.drop_duplicates("file")[cols].copy()
    runs = runs.rename(columns={"gemm_fp32_gflops": "GEMM GFLOP/s", "memory_gb_s": "copy GB/s",
                                "load_max": "load", "ncpu": "cores", "steal_max": "steal"})
    runs["flags"] = runs["flags"].replace("", "-")
    return runs.reset_index(drop=True)


def history_pivot(frame: pd.DataFrame, last: int = 6, value: str = "throughput") -> pd.DataFrame:
    """``value`` per benchmark (rows) and stored run (columns, the ``last`` most recent); a
    flagged run's column ends in :data:`FLAG_MARK`."""
    if frame.empty:
        return frame
    runs = list(dict.fromkeys(frame["file"]))[-last:]
    part = frame[frame["file"].isin(runs)]
    label: dict[str, str] = {}
    for f, d, c, flagged in zip(part["file"], part["date"], part["commit"], part["flagged"], strict=True):
        if f not in label:
            text = f"{d} {c}"
            text = text if text not in label.values() else f"{text} #{len(label)}"
            label[f] = text + (FLAG_MARK if flagged else "")
    index = ["machine", "mode", "benchmark"] + (["unit"] if value == "throughput" else [])
    wide = part.pivot_table(index=index, columns="file", values=value, aggfunc="first", dropna=False)
    wide = wide.dropna(how="all")
    wide = wide[[r for r in runs if r in wide.columns]].rename(columns=label)
    wide.columns.name = None
    return wide.reset_index()
