"""``gansuite study SPEC``: validate every cell, run what is left, record it, aggregate.

No click here: messages go through the ``echo`` callable the command line passes in.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gansuite._host.manager import Catalog, get_catalog
from gansuite.contract.errors import GansuiteError, OptionError, RunError
from gansuite.engine.lock import RunLock
from gansuite.engine.runfolder import RunFolder
from gansuite.study.executors import Task, make_executor
from gansuite.study.folder import STUDY_ENTRIES, StudyFolder, is_study
from gansuite.study.plan import Action, Cell, eval_options, next_action, plan_cells
from gansuite.study.spec import StudySpec, load_spec

__all__ = ["StudyRequest", "StudyPlan", "prepare_study", "run_study", "StudyInterrupted"]

Echo = Callable[[str], None]


class StudyInterrupted(GansuiteError):
    """Ctrl-C or SIGTERM stopped the study; the cells keep what they wrote."""


@dataclass(frozen=True)
class StudyRequest:
    """What the command line asked for."""

    spec: Path
    out: Path | None = None
    executor: str | None = None
    jobs: int | None = None
    dry_run: bool = False
    report: bool = False


@dataclass
class StudyPlan:
    spec: StudySpec
    folder: StudyFolder
    cells: list[Cell]
    actions: dict[str, Action]
    executor: str
    jobs: int | None
    failed: list[str] = field(default_factory=list)


def study_dir(spec: StudySpec, out: Path | None) -> Path:
    return Path(out or spec.out or Path("studies") / spec.name).expanduser().resolve()


def prepare_study(req: StudyRequest, catalog: Catalog | None = None) -> StudyPlan:
    """Read the spec and validate every cell; nothing runs and nothing is written."""
    spec = load_spec(req.spec)
    catalog = catalog or get_catalog()
    folder = StudyFolder(study_dir(spec, req.out))
    check_study_dir(folder.path)
    cells = plan_cells(spec, folder, catalog)
    shared = eval_options(spec, catalog)
    actions = {c.id: next_action(c, folder, shared) for c in cells}
    if req.executor is not None and req.executor != spec.executor.kind:
        spec_jobs = None
    else:
        spec_jobs = spec.executor.jobs
    return StudyPlan(spec=spec, folder=folder, cells=cells, actions=actions,
                     executor=req.executor or spec.executor.kind, jobs=req.jobs or spec_jobs)


def check_study_dir(path: Path) -> None:
    """Refuse a study folder that is a file, lies inside a run folder, or already holds
    something other than a study (a study never writes into someone else's files)."""
    if path.exists() and not path.is_dir():
        raise OptionError(f"{path} is a file; choose another --out for the study folder.")
    for parent in (path, *path.parents):
        if RunFolder(parent).exists():
            raise OptionError(f"{path} is inside the run folder {parent}; choose a study folder outside "
                              "any run (--out).")
    foreign = sorted(p.name for p in path.iterdir() if p.name not in STUDY_ENTRIES) if path.is_dir() else []
    if foreign and not is_study(path):
        raise OptionError(f"{path} already exists and is not a study folder (no study.json; it holds "
                          f"{foreign[0]}); choose a new or empty --out for the study.")


def _study_json(plan: StudyPlan) -> dict[str, Any]:
    spec = plan.spec
    previous = plan.folder.read_study() if plan.folder.study_path.is_file() else {}
    return {
        "name": spec.name, "spec": str(Path(spec.source).resolve()),
        "created": previous.get("created", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seeds": list(spec.seeds), "datasets": list(spec.datasets), "evals": list(spec.evals),
        "models": [asdict(m) for m in spec.models], "budget": asdict(spec.budget), "run": asdict(spec.run),
        "cells": [c.info.as_dict() for c in plan.cells],
    }


def summary_line(plan: StudyPlan) -> str:
    counts: dict[str, int] = {}
    for action in plan.actions.values():
        counts[action.kind] = counts.get(action.kind, 0) + 1
    words = {"done": "finished", "run": "to run", "restart": "to restart", "resume": "to resume",
             "evaluate": "to evaluate"}
    parts = ", ".join(f"{n} {words[k]}" for k, n in counts.items())
    n = len(plan.cells)
    return f"Study '{plan.spec.name}' in {plan.folder.path}: {n} cell{'' if n == 1 else 's'} ({parts})."


def _tasks(plan: StudyPlan) -> list[Task]:
    tasks = []
    for cell in plan.cells:
        action = plan.actions[cell.id]
        if action.kind == "done":
            continue
        tasks.append(Task(cell_id=cell.id, action=action.kind, argv=action.argv,
                          log=str(plan.folder.log_path(cell.id)), cwd=os.getcwd()))
    return tasks


def _clear(plan: StudyPlan, cell_id: str) -> None:
    """Remove a run folder that holds a config but no checkpoint (``restart``)."""
    run_dir = plan.folder.run_dir(cell_id)
    if run_dir.resolve().parent == (plan.folder.path / "runs").resolve() and run_dir.is_dir():
        shutil.rmtree(run_dir)


def _last_error(log: str) -> str:
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("Error:")]
    return errors[-1] if errors else ""


def run_study(req: StudyRequest, echo: Echo = lambda _line: None, catalog: Catalog | None = None) -> StudyPlan:
    """Run what the study still needs; raises after aggregating when a cell failed."""
    plan = prepare_study(req, catalog)
    echo(summary_line(plan))
    tasks = _tasks(plan)
    if req.dry_run:
        for cell in plan.cells:
            action = plan.actions[cell.id]
            echo(f"  {cell.id}: {action.kind}" + (f": gansuite {' '.join(action.argv)}" if action.argv else ""))
        return plan
    executor = make_executor(plan.executor, jobs=plan.jobs, device=plan.spec.run.device,
                             folder=plan.folder.path / "submitit", params=dict(plan.spec.executor.submitit))
    if tasks:
        executor.check()  # before anything is written
    plan.folder.path.mkdir(parents=True, exist_ok=True)
    with RunLock(plan.folder.path, what="study folder"):  # one study at a time on a folder
        _run_locked(plan, req, tasks, executor, echo)
    return plan


def _run_locked(plan: StudyPlan, req: StudyRequest, tasks: list[Task], executor: Any, echo: Echo) -> None:
    plan.folder.write_study(_study_json(plan), Path(plan.spec.source).read_text(encoding="utf-8"))
    for task in tasks:
        if task.action == "restart":
            _clear(plan, task.cell_id)
    if tasks:
        jobs = getattr(executor, "jobs", None)
        echo(f"Running {len(tasks)} cells with the {plan.executor} executor"
             + (f", {jobs} at a time." if jobs else "."))
    done = [0]

    def on_done(task: Task, outcome: dict[str, Any]) -> None:
        done[0] += 1
        rc = int(outcome.get("rc", -1))
        status = "finished" if rc == 0 else "interrupted" if executor.interrupted else "failed"
        plan.folder.add_attempt(task.cell_id, {"action": task.action, "status": status,
                                               "argv": list(task.argv), **outcome,
                                               "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        head = f"[{done[0]}/{len(tasks)}] {task.cell_id}: {task.action} {status} after {outcome.get('seconds', 0):.1f} s"
        if status == "failed":
            plan.failed.append(task.cell_id)
            why = outcome.get("error") or _last_error(task.log) or f"exit status {rc}"
            head += f"; {why}; run folder {plan.folder.run_dir(task.cell_id)}, log {task.log}"
        echo(head)

    executor.run(tasks, on_done)
    if executor.interrupted:
        raise StudyInterrupted(f"Interrupted: the cells keep their checkpoints. Continue with the same "
                               f"command: gansuite study {req.spec}" + (f" --out {req.out}" if req.out else "") + ".")
    _finish(plan, req, echo)


def _finish(plan: StudyPlan, req: StudyRequest, echo: Echo) -> None:
    from gansuite.study.tables import StudyTables, format_tables, write_outputs

    tables = StudyTables(plan.folder)
    write_outputs(tables)
    echo(format_tables(tables))
    if req.report:
        from gansuite.study.html import write_report

        echo(f"Report: {write_report(tables)}")
    if plan.failed:
        lines = [f"{len(plan.failed)} of {len(plan.cells)} cells failed; rerun the same command to retry them:"]
        lines += [f"{cid}: run folder {plan.folder.run_dir(cid)}, log {plan.folder.log_path(cid)}"
                  for cid in plan.failed]
        raise RunError("\n".join(lines))
