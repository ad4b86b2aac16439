"""Data-parallel training: two CPU processes with gloo, launched by torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from gansuite.engine import checkpoint as ckpt
from gansuite.engine.runfolder import RunFolder

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # torchrun starts three processes per test


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSUITE_") or k == "GANSUITE_LOAD_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)


def test_two_gloo_processes_train_in_sync(tmp_path):
    out = tmp_path / "ddp"
    res = _torchrun("-m", "gansuite", "run", "--model", "dcgan", "--dataset", "fake", "-o", "ngf=8",
                    "-o", "ndf=8", "-o", "n=128", "--batch-size", "32", "--max-steps", "6",
                    "--checkpoint-every", "3", "--log-every", "2", "--device", "cpu", "--no-progress",
                    "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    # Both ranks finished (the end-of-run check raises if their weights differ); rank 0 alone reports.
    assert res.stdout.count("world_size=2") == 1, res.stdout
    assert res.stdout.count("stopped_because=max_steps") == 1
    folder = RunFolder(out)
    assert [r["step"] for r in folder.read_metrics()] == [2, 4, 6]
    assert [s for s, _ in ckpt.list_checkpoints(folder.checkpoints)] == [3, 6]
    state = ckpt.load_checkpoint(ckpt.checkpoint_path(folder.checkpoints, 6))
    assert state["world_size"] == 2 and state["images_seen"] == 6 * 32
    assert state["sampler"]["epoch"] == 1 and state["sampler"]["batch"] == 2  # 4 global batches an epoch
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())
    # Only rank 0 wrote files: no stray temporary files from a second writer.
    assert not list(folder.checkpoints.glob("*.tmp"))


def test_out_of_sync_ranks_are_detected(tmp_path):
    script = tmp_path / "desync.py"
    script.write_text(textwrap.dedent("""
        import sys
        from pathlib import Path

        import torch
        from gansuite.engine import distributed
        from gansuite.contract.errors import RunError

        ctx = distributed.init("cpu")
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 2)
        torch.nn.init.zeros_(net.weight)
        ctx.check_in_sync([net], torch.device("cpu"))  # equal: passes
        if ctx.rank == 1:
            with torch.no_grad():
                net.weight[0, 0] = 1e-3
        try:
            ctx.check_in_sync([net], torch.device("cpu"))
            verdict = "not detected"
        except RunError:
            verdict = "detected"
        Path(sys.argv[1], f"rank{ctx.rank}.txt").write_text(verdict)
        distributed.shutdown(ctx)
    """))
    res = _torchrun(str(script), str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    verdicts = [(tmp_path / f"rank{r}.txt").read_text() for r in range(2)]
    assert verdicts == ["detected", "detected"]
