"""Two writers, one run folder: the second is refused (naming the first), nothing is mixed."""

from __future__ import annotations

import json
import os
import signal
import socket

from .helpers import TINY, finish, gs, lock_held, one_line, spawn, wait_for

LONG = (*TINY, "-o", "n=256", "--max-steps", "100000", "--checkpoint-every", "1000", "--log-every", "1")


def _steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def _start_long_run(out):
    proc = spawn("run", *LONG, "--out", out)
    metrics = out / "metrics.jsonl"
    wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 2, what="the first run to train")
    return proc


def _stop(proc) -> None:
    proc.send_signal(signal.SIGINT)
    res = finish(proc)
    assert res.code == 2 and "Interrupted at step" in res.err, res.err


def test_second_writer_is_refused_nothing_mixed(tmp_path):
    out = tmp_path / "r"
    first = _start_long_run(out)
    config = (out / "config.json").read_bytes()
    try:
        holder = json.loads((out / ".lock").read_text())
        assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
        same_out = gs("run", *TINY, "--max-steps", "3", "--seed", "9", "--out", out)
        line = one_line(same_out)
        assert f"pid {first.pid}" in line and "gansuite run" in line, line
        one_line(gs("run", "--resume", out, "--max-steps", "5"), f"pid {first.pid}")
        one_line(gs("eval", out, "--eval", "fake-pixel-stats", "--device", "cpu", "--no-progress"),
                 f"pid {first.pid}")
        one_line(gs("run", "--restart", out, "--max-steps", "5"), f"pid {first.pid}")
        assert (out / "config.json").read_bytes() == config
    finally:
        _stop(first)
    steps = _steps(out)
    assert steps == list(range(1, len(steps) + 1)), "metrics rows of two writers were interleaved"
    assert not (out / "results.json").exists()
    assert not lock_held(out)


def test_two_new_runs_started_together(tmp_path):
    out = tmp_path / "r"
    procs = [spawn("run", *TINY, "--max-steps", "3", "--log-every", "1", "--seed", str(seed), "--out", out)
             for seed in (1, 2)]
    results = [finish(p) for p in procs]
    codes = sorted(r.code for r in results)
    assert codes == [0, 2], [r.err for r in results]
    loser = next(r for r in results if r.code == 2)
    one_line(loser)
    winner_seed = (1, 2)[[r.code for r in results].index(0)]
    assert json.loads((out / "config.json").read_text())["seed"] == winner_seed
    assert _steps(out) == [1, 2, 3]


def test_stale_lock_of_a_killed_process_is_taken_over(trained):
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    (trained / ".lock").write_text(json.dumps({"pid": dead, "host": socket.gethostname(),
                                               "command": "gansuite run (killed)", "since": "earlier"}))
    res = gs("run", "--resume", trained, "--max-steps", "5")
    assert res.code == 0, res.err
    assert not lock_held(trained)


def test_sigkilled_writer_leaves_a_lock_the_next_one_takes(tmp_path):
    out = tmp_path / "r"
    first = _start_long_run(out)
    first.send_signal(signal.SIGKILL)
    finish(first)
    assert lock_held(out)  # the record stays, the kernel's lock does not
    res = gs("run", "--restart", out, "--max-steps", "2")  # killed before its first checkpoint
    assert res.code == 0, res.err
    assert _steps(out) == [1, 2]
