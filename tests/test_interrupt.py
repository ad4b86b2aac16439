"""Ctrl-C / SIGTERM during training: one line, exit 2, a checkpoint of the last step, exact resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gansuite.engine import checkpoint as ckpt

ARGS = ["--model", "dcgan", "--dataset", "fake", "-o", "ngf=8", "-o", "ndf=8", "-o", "n=128",
        "--batch-size", "16", "--checkpoint-every", "1000", "--log-every", "1", "--device", "cpu",
        "--no-progress", "--seed", "3"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_resumes(tmp_path, sig):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANSUITE_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "gansuite", "run", *ARGS, "--max-steps", "100000",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 3):
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Interrupted at step "), err
    assert f"gansuite run --resume {out}" in lines[0]
    step = int(lines[0].split("step ")[1].split(";")[0])
    assert step >= 3
    assert [s for s, _ in ckpt.list_checkpoints(out / "checkpoints")][-1] == step

    res = subprocess.run([sys.executable, "-m", "gansuite", "run", "--resume", str(out),
                          "--max-steps", str(step + 2), "--no-progress"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"steps={step + 2}" in res.stdout
