"""SIGTERM and SIGHUP are Ctrl-C: at start-up, in training and in an eval; one line, nothing lost."""

from __future__ import annotations

import signal

import pytest

from gansuite.engine import checkpoint as ckpt

from .badplug_source import install_badplug
from .helpers import TINY, finish, lock_held, one_line, spawn, wait_for


@pytest.fixture
def plug(tmp_path):
    folder = install_badplug(tmp_path / "site")
    markers = tmp_path / "markers"
    markers.mkdir()
    return {"PYTHONPATH": str(folder), "BADPLUG_MARKERS": str(markers)}, markers


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_start_up(tmp_path, plug, sig):
    extra, markers = plug
    out = tmp_path / "r"
    out.mkdir()
    proc = spawn("run", "--model", "tiny-gan", "--dataset", "slow-data", "--max-steps", "2", "--device", "cpu",
                 "--no-progress", "--out", out, extra_env=extra)
    wait_for(lambda: (markers / "loading").exists(), what="the data to start loading")
    proc.send_signal(sig)
    res = finish(proc)
    one_line(res, "Interrupted", sig.name)
    assert not lock_held(out) and not (out / "config.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_eval(_trained, tmp_path, plug, sig):
    import shutil

    extra, markers = plug
    run = tmp_path / "run"
    shutil.copytree(_trained, run)
    before = (run / "checkpoints").iterdir()
    before = sorted(p.name for p in before)
    proc = spawn("eval", run, "--eval", "slow-eval", "--device", "cpu", "--no-progress", extra_env=extra)
    wait_for(lambda: (markers / "probing").exists(), what="the probe to start")
    proc.send_signal(sig)
    res = finish(proc)
    one_line(res, "Interrupted", sig.name)
    assert not lock_held(run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


def test_sighup_during_training_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "r"
    proc = spawn("run", *TINY, "-o", "n=256", "--max-steps", "100000", "--checkpoint-every", "1000",
                 "--log-every", "1", "--out", out)
    metrics = out / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 3, what="three steps")
    proc.send_signal(signal.SIGHUP)
    res = finish(proc)
    line = one_line(res, "Interrupted at step ", f"gansuite run --resume {out}")
    step = int(line.split("step ")[1].split(";")[0])
    assert step >= 3
    assert ckpt.list_checkpoints(out / "checkpoints")[-1][0] == step, "steps since the last checkpoint were lost"
    assert not lock_held(out)
