"""Helpers of the bad-input suite: the command line in-process or as a process, and the contract.

Every case ends in exit status 2, exactly one line on stderr (``Error: ...``), no traceback, and
nothing lost. Commands run in-process through the real entry point (:func:`gansuite.cli.main`,
output captured by click's ``CliRunner``) unless signals or concurrency need a real process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from gansuite.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ("--model", "dcgan", "--dataset", "fake", "-o", "ngf=4", "-o", "ndf=4", "-o", "n=64", "-o", "n_test=16",
        "--batch-size", "8", "--device", "cpu", "--no-progress")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def gs(*args: str | Path) -> Result:
    """``gansuite ARGS`` in this process; a traceback (an uncaught exception) is exit status 1."""
    runner = CliRunner()
    code = 0
    with runner.isolation() as (out, err, _):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # noqa: BLE001 - report it as the console would
            import traceback

            sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_exception(exc)))
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        text_out, text_err = out.getvalue().decode(), err.getvalue().decode()
    return Result(code, text_out, text_err)


def one_line(res: Result, *fragments: str) -> str:
    """The contract: exit 2, one ``Error:`` line, no traceback, mentioning ``fragments``."""
    assert "Traceback" not in res.err, res.err
    assert res.code == 2, (res.code, res.err, res.out)
    assert len(res.lines) == 1 and res.lines[0].startswith("Error: "), res.err
    for fragment in fragments:
        assert fragment in res.lines[0], (fragment, res.lines[0])
    return res.lines[0]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (to show nothing was lost or changed)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# -- real processes (signals, concurrency) ----------------------------------------------------
def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
    for key in ("GANSUITE_DEBUG", "GANSUITE_DISABLE_PLUGINS", "GANSUITE_TRACE_PLUGINS"):
        out.pop(key, None)
    return out


def spawn(*args: str | Path, extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gansuite", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**(extra_env or {})), cwd=cwd or REPO)


def wait_for(check, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def finish(proc: subprocess.Popen, timeout: float = 120) -> Result:
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out, err)


def lock_held(run: Path) -> bool:
    lock = run / ".lock"
    return lock.is_file() and lock.stat().st_size > 0


# -- data files -------------------------------------------------------------------------------
BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]


def write_cifar(root: Path, per_batch: int = 8) -> Path:
    """A tiny CIFAR-10 folder in the official python-pickle layout."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k, name in enumerate(BATCHES):
        batch = {"batch_label": name, "labels": [(k + i) % 10 for i in range(per_batch)],
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                            "truck"], "num_vis": 3072, "num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder
