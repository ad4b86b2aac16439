"""Executors: where the cells of a study run.

Every cell is the ordinary command line, ``python -m gansuite ARGS`` in a subprocess, its
output appended to the cell's log, so a cell is exactly what a user gets by hand.

- :class:`LocalExecutor` runs ``jobs`` cells at a time on this machine (default: one per visible
  GPU, else one per four CPU cores, each child then limited to its share of threads).
- :class:`SubmititExecutor` hands each cell to ``submitit``: Slurm (``slurm``), submitit's local
  executor (``submitit-local``, the same code path without a cluster) or its in-process debug
  executor (``submitit-debug``). ``jobs`` caps the jobs in flight (default: all of them on
  Slurm, one otherwise).

Ctrl-C reaches the local cells too (they share the terminal's process group): each writes a
checkpoint and stops, and rerunning the study resumes them. SIGTERM to the study alone is passed
on to the cells; a second Ctrl-C passes SIGTERM on as well.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gansuite.contract.errors import OptionError

__all__ = ["Task", "run_task", "LocalExecutor", "SubmititExecutor", "make_executor", "default_jobs"]

OnDone = Callable[["Task", dict[str, Any]], None]
_CLUSTERS = {"slurm": "slurm", "submitit-local": "local", "submitit-debug": "debug"}


@dataclass(frozen=True)
class Task:
    """One command of one cell: ``python -m gansuite *argv`` with output appended to ``log``."""

    cell_id: str
    action: str
    argv: tuple[str, ...]
    log: str
    cwd: str
    env: tuple[tuple[str, str], ...] = field(default=())


def _open_log(task: Task) -> tuple[IO[str], list[str]]:
    command = [sys.executable, "-m", "gansuite", *task.argv]
    Path(task.log).parent.mkdir(parents=True, exist_ok=True)
    fh = open(task.log, "a")  # noqa: SIM115 - closed by the caller once the process ends
    fh.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {task.action} {task.cell_id}\n"
             f"$ {' '.join(command)}\n")
    fh.flush()
    return fh, command


def _start(task: Task, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], IO[str], float]:
    fh, command = _open_log(task)
    env = {**os.environ, **dict(task.env), **extra_env, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=task.cwd, env=env)
    return proc, fh, time.monotonic()


def _outcome(task: Task, rc: int, seconds: float, fh: IO[str]) -> dict[str, Any]:
    fh.write(f"=== exit {rc} after {seconds:.1f} s\n")
    fh.close()
    return {"rc": rc, "seconds": round(seconds, 3), "log": task.log}


def run_task(task: Task) -> dict[str, Any]:
    """Run one task to its end and return ``{rc, seconds, log}`` (never raises for a failed cell).

    A module-level function, so submitit can pickle it and run it on a cluster node.
    """
    try:
        proc, fh, start = _start(task, {})
        rc = proc.wait()
    except OSError as exc:
        return {"rc": 127, "seconds": 0.0, "log": task.log, "error": str(exc)}
    return _outcome(task, rc, time.monotonic() - start, fh)


def default_jobs(device: str) -> tuple[int, list[str]]:
    """Cells at a time, and the GPU ids to pin them to (empty on CPU)."""
    if device != "cpu":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            gpus = [g.strip() for g in visible.split(",") if g.strip()]
        else:
            import torch

            gpus = [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
        if gpus:
            return len(gpus), gpus
    return max(1, (os.cpu_count() or 1) // 4), []


class LocalExecutor:
    """``jobs`` subprocesses at a time on this machine; cells on GPUs get one GPU each."""

    def check(self) -> None:
        """Nothing to check: this machine runs the cells."""

    def __init__(self, jobs: int | None = None, device: str = "auto") -> None:
        auto_jobs, self.gpus = default_jobs(device)
        self.jobs = jobs or auto_jobs
        self.stopping = 0  # 1: launch nothing more; 2: SIGTERM sent to the running cells
        self.interrupted = False

    def _env(self, slot: int) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)]
        elif self.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.jobs))
        return env

    def run(self, tasks: Sequence[Task], on_done: OnDone) -> None:
        pending = list(tasks)
        running: dict[int, tuple[Task, subprocess.Popen[bytes], IO[str], float]] = {}

        def handler(signum: int, frame: Any) -> None:
            self.interrupted = True
            forward = signum == signal.SIGTERM or self.stopping >= 1
            self.stopping = max(self.stopping, 2 if forward else 1)
            if forward:
                for _task, proc, _fh, _t0 in running.values():
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while pending or running:
                free = [s for s in range(self.jobs) if s not in running]
                while free and pending and not self.stopping:
                    slot, task = free.pop(0), pending.pop(0)
                    running[slot] = (task, *_start(task, self._env(slot)))
                for slot, (task, proc, fh, start) in list(running.items()):
                    rc = proc.poll()
                    if rc is not None:
                        del running[slot]
                        on_done(task, _outcome(task, rc, time.monotonic() - start, fh))
                if not self.stopping or running:
                    time.sleep(0.2)
                if self.stopping and not running:
                    break
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


class SubmititExecutor:
    """Each cell as one submitit job; the study waits for them and records each as it ends."""

    def __init__(self, kind: str, folder: Path, params: dict[str, Any] | None = None,
                 jobs: int | None = None) -> None:
        if kind not in _CLUSTERS:
            raise OptionError(f"Unknown submitit executor '{kind}'; choose one of {', '.join(_CLUSTERS)}.")
        self.kind, self.folder, self.params, self.jobs = kind, Path(folder), dict(params or {}), jobs
        self.interrupted = False

    def check(self) -> None:
        """Refuse, before the study writes anything, an executor this machine cannot use."""
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise OptionError("The cluster executors need submitit: pip install 'gansuite[cluster]'.") from None
        if self.kind == "slurm" and shutil.which("srun") is None:
            raise OptionError("The slurm executor needs Slurm, but 'srun' is not on PATH here; run the study "
                              "on a Slurm login node, or choose --executor local (or submitit-local).")

    def _executor(self) -> Any:
        self.check()
        import submitit

        executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=_CLUSTERS[self.kind])
        params = {"timeout_min": 24 * 60, "name": "gansuite-study", **self.params}
        try:
            executor.update_parameters(**params)
        except (NameError, AssertionError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OptionError(f"executor.submitit: {first}") from None
        return executor

    def run(self, tasks: Sequence[Task], on_done: OnDone) -> None:
        if not tasks:
            return
        executor = self._executor()
        pending: list[Task] = list(tasks)
        jobs: list[tuple[Task, Any]] = []
        limit = self.jobs or (len(pending) if self.kind == "slurm" else 1)
        always_ready = self.kind == "submitit-debug"  # debug jobs run when their result is asked for
        try:
            while pending or jobs:
                while pending and len(jobs) < limit:
                    task = pending.pop(0)
                    jobs.append((task, executor.submit(run_task, task)))
                for item in list(jobs):
                    task, job = item
                    if always_ready or job.done():
                        jobs.remove(item)
                        on_done(task, _job_outcome(task, job))
                if jobs and not always_ready:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            self.interrupted = True
            for _task, job in jobs:
                job.cancel(check=False)


def _job_outcome(task: Task, job: Any) -> dict[str, Any]:
    try:
        outcome = dict(job.result())
    except Exception as exc:  # the job itself failed (timeout, node failure): the cell failed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"rc": -1, "seconds": 0.0, "log": task.log, "error": first,
                "job_log": str(getattr(getattr(job, "paths", None), "stderr", "") or "")}
    outcome["job_id"] = str(job.job_id)
    return outcome


def make_executor(kind: str, *, jobs: int | None, device: str, folder: Path,
                  params: dict[str, Any] | None = None) -> LocalExecutor | SubmititExecutor:
    if kind == "local":
        return LocalExecutor(jobs, device)
    return SubmititExecutor(kind, folder, params, jobs)
