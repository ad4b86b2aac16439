"""Executors on tiny commands (``gansuite --version`` and a bad command): every kind runs the
ordinary command line, appends to the log and reports the exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from gansuite.contract.errors import OptionError
from gansuite.study.executors import LocalExecutor, SubmititExecutor, Task, default_jobs, make_executor


def tasks(tmp_path: Path) -> list[Task]:
    return [Task(cell_id="ok", action="run", argv=("--version",), log=str(tmp_path / "logs" / "ok.log"),
                 cwd=str(tmp_path)),
            Task(cell_id="bad", action="run", argv=("no-such-command",), log=str(tmp_path / "logs" / "bad.log"),
                 cwd=str(tmp_path))]


def run_all(executor, tmp_path: Path) -> dict[str, dict]:
    seen: dict[str, dict] = {}
    executor.run(tasks(tmp_path), lambda task, outcome: seen.__setitem__(task.cell_id, outcome))
    return seen


def check(seen: dict[str, dict], tmp_path: Path) -> None:
    assert seen["ok"]["rc"] == 0 and seen["bad"]["rc"] == 2
    ok = (tmp_path / "logs" / "ok.log").read_text()
    assert "-m gansuite --version" in ok and "gansuite, version" in ok and "=== exit 0 after" in ok
    assert "Unknown command 'no-such-command'" in (tmp_path / "logs" / "bad.log").read_text()


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_executor(tmp_path: Path, jobs: int) -> None:
    executor = LocalExecutor(jobs=jobs, device="cpu")
    check(run_all(executor, tmp_path), tmp_path)
    assert not executor.interrupted


# submitit's debug executor leaves its job's log files open (its ResourceWarning, not ours)
_DEBUG_LEAK = [pytest.mark.filterwarnings("ignore::ResourceWarning"),
               pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


@pytest.mark.parametrize("kind", [pytest.param("submitit-debug", marks=_DEBUG_LEAK), "submitit-local"])
def test_submitit_executors(tmp_path: Path, kind: str) -> None:
    seen = run_all(SubmititExecutor(kind, tmp_path / "submitit", {"timeout_min": 5}), tmp_path)
    check(seen, tmp_path)
    assert all(outcome["job_id"] for outcome in seen.values())


def test_bad_submitit_parameter_is_an_option_error(tmp_path: Path) -> None:
    executor = make_executor("submitit-local", jobs=None, device="cpu", folder=tmp_path,
                             params={"no_such_parameter": 1})
    with pytest.raises(OptionError, match="executor.submitit"):
        run_all(executor, tmp_path)


def test_cpu_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_jobs("cpu") == (4, [])
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_jobs("cpu") == (1, [])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert default_jobs("cuda") == (2, ["3", "5"])
    executor = LocalExecutor(device="cuda")
    assert executor.jobs == 2 and executor._env(1) == {"CUDA_VISIBLE_DEVICES": "5"}
