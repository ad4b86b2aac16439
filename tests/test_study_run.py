"""``gansuite study`` end to end on digits with a tiny budget: local processes, a kill and a rerun,
a failing cell, and the same study through submitit's local executor."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gansuite.engine.checkpoint import list_checkpoints
from gansuite.engine.runfolder import RunFolder
from gansuite.study.folder import StudyFolder

REPO = Path(__file__).resolve().parents[1]

SPEC = """
seeds = [0, 1]
datasets = ["digits"]
evals = ["digits-svm"]
[budget]
max_steps = {steps}
[run]
device = "cpu"
batch_size = 16
checkpoint_every = 2
sample_every = 10
options = ["svm.max_train=300", "svm.val_size=100", "svm.max_test=100", "svm.search_iter=5", "svm.max_iter=10",
           "svm.n_draws=3", "svm.labels_per_class=5"]
[[models]]
name = "tiny-gan"
[[models]]
name = "dcgan"
options = {{ ngf = 8, ndf = 8 }}
"""
CELLS = ["tiny-gan-digits-seed0", "tiny-gan-digits-seed1", "dcgan-digits-seed0", "dcgan-digits-seed1"]

pytestmark = pytest.mark.slow


def study_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "gansuite", "study", *args]


def env() -> dict[str, str]:
    out = {**os.environ, "OMP_NUM_THREADS": "1", "GANSUITE_LOAD_PLUGINS": "gansuite,gansuite-example"}  # tiny-gan
    out.pop("GANSUITE_DEBUG", None)
    return out


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(study_cmd(*args), capture_output=True, text=True, env=env(), timeout=timeout)


def snapshot(path: Path) -> dict[str, tuple[float, str]]:
    return {str(p.relative_to(path)): (p.stat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(path.rglob("*")) if p.is_file()}


def wait_for(condition, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the study ended before the moment to kill it"
        assert time.monotonic() < deadline, "timed out waiting for the study"
        time.sleep(0.05)


def test_local_study_killed_midway_resumes_only_what_was_left(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC.format(steps=24))
    study = StudyFolder(tmp_path / "st")
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(study_cmd(str(spec), "--out", str(study.path), "--jobs", "1"), stdout=log,
                            stderr=subprocess.STDOUT, env=env(), start_new_session=True)
    try:
        first, second = study.run_dir(CELLS[0]), study.run_dir(CELLS[1])
        wait_for(lambda: study.read_record(CELLS[0]).get("status") == "finished"
                 and len(list((second / "checkpoints").glob("step-*.pt"))) >= 1, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # the study and its running cell, like a crash
        proc.wait(timeout=30)
    finally:
        log.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = snapshot(first)
    record_before = study.record_path(CELLS[0]).read_bytes()
    assert not RunFolder(second).results_path.exists()

    res = run(str(spec), "--out", str(study.path), "--jobs", "1", "--report")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 cells (1 finished, 1 to resume, 2 to run)" in res.stdout
    assert CELLS[0] not in "".join(ln for ln in res.stdout.splitlines() if ln.startswith("["))
    assert f"{CELLS[1]}: resume finished" in res.stdout
    assert "95% t-interval" in res.stdout and "Pairwise tests" in res.stdout
    assert snapshot(first) == before
    assert study.record_path(CELLS[0]).read_bytes() == record_before
    resumed = RunFolder(second).read_config()
    assert resumed["resumed"] == 1
    assert list_checkpoints(RunFolder(second).checkpoints)[-1][0] == 24
    for cell in CELLS:
        assert {r["eval"] for r in RunFolder(study.run_dir(cell)).read_results()} == {"digits-svm"}
        assert study.read_record(cell)["status"] == "finished"
    aggregate = (study.path / "aggregate.csv").read_text()
    assert re.search(r"^tiny-gan,digits,digits-svm,error,trained,[^,]*,2,", aggregate, re.M), aggregate
    html = (study.path / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2 * len(CELLS) + 1

    again = run(str(spec), "--out", str(study.path))
    assert again.returncode == 0 and "4 cells (4 finished)" in again.stdout
    assert snapshot(first) == before


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    spec = tmp_path / "fail.toml"
    text = SPEC.format(steps=2).replace("seeds = [0, 1]", "seeds = [0]")
    text = text.replace('name = "dcgan"\noptions = { ngf = 8, ndf = 8 }',
                        'name = "tiny-gan"\nlabel = "diverges"\noptions = { lr = 1e30 }')
    spec.write_text(text)
    study = StudyFolder(tmp_path / "st")
    res = run(str(spec), "--out", str(study.path))
    assert res.returncode == 2
    assert "diverges-digits-seed0: run failed" in res.stdout and "diverged" in res.stdout
    assert "Error: 1 of 2 cells failed" in res.stderr
    assert f"run folder {study.run_dir('diverges-digits-seed0')}, log {study.log_path('diverges-digits-seed0')}" \
        in res.stderr
    assert "Training diverged" in study.log_path("diverges-digits-seed0").read_text()
    assert study.read_record("tiny-gan-digits-seed0")["status"] == "finished"
    assert "tiny-gan  digits   digits-svm" in res.stdout  # the finished cell is aggregated


def test_the_same_study_through_submitit_local_executor(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC.format(steps=4))
    study = StudyFolder(tmp_path / "st")
    res = run(str(spec), "--out", str(study.path), "--executor", "submitit-local", "--jobs", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Running 4 cells with the submitit-local executor" in res.stdout
    for cell in CELLS:
        record = study.read_record(cell)
        assert record["status"] == "finished"
        assert record["attempts"][-1]["job_id"]
        assert "Run folder:" in study.log_path(cell).read_text()
    assert any((study.path / "submitit").rglob("*_result.pkl"))
    rows = json.loads(subprocess.run([sys.executable, "-m", "gansuite", "results", str(study.path), "--format",
                                      "json"], capture_output=True, text=True, env=env(), check=True).stdout)
    trained = [r for r in rows if r["eval"] == "digits-svm" and r["variant"] == "trained"]
    assert sorted(r["model"] for r in trained) == ["dcgan", "tiny-gan"]
    assert all(r["n"] == 2 and r["ci_low"] <= r["mean"] <= r["ci_high"] for r in trained)


def test_ctrl_c_stops_the_study_and_its_cell_at_a_checkpoint(tmp_path: Path) -> None:
    spec = tmp_path / "one.toml"
    text = SPEC.format(steps=2000).replace("seeds = [0, 1]", "seeds = [0]")
    spec.write_text(text.split("[[models]]\nname = \"dcgan\"")[0])
    study = StudyFolder(tmp_path / "st")
    proc = subprocess.Popen(study_cmd(str(spec), "--out", str(study.path)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env(), start_new_session=True)
    try:
        cell = study.run_dir(CELLS[0])
        wait_for(lambda: len(list((cell / "checkpoints").glob("step-*.pt"))) >= 1, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the study and its cell
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, out
    assert "Error: Interrupted: the cells keep their checkpoints" in out
    assert study.read_record(CELLS[0])["status"] == "interrupted"
    assert "Continue with: gansuite run --resume" in study.log_path(CELLS[0]).read_text()
    steps = [s for s, _ in list_checkpoints(RunFolder(cell).checkpoints)]
    assert steps and steps[-1] < 2000
    plan = run(str(spec), "--out", str(study.path), "--dry-run")
    assert "1 cell (1 to resume)" in plan.stdout
