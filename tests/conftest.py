"""Shared fixtures: a hermetic plugin set, a fresh plugin catalog per test, and the CLI in-process.

``GANSUITE_LOAD_PLUGINS`` is set for the whole test process (and the processes it starts) to the
plugins the gansuite distribution itself declares, so no test depends on what else is installed.
A test that exercises the example third-party package opts in with the ``example_plugin`` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gansuite._host.manager import reset_catalog

REPO = Path(__file__).resolve().parents[1]
HERMETIC_PLUGINS = "gansuite"  # a distribution name: every reference plugin under plugins/
WITH_EXAMPLE = f"{HERMETIC_PLUGINS},gansuite-example"
_SWITCHES = ("GANSUITE_DEBUG", "GANSUITE_DISABLE_PLUGINS", "GANSUITE_TRACE_PLUGINS")

os.environ["GANSUITE_LOAD_PLUGINS"] = HERMETIC_PLUGINS


@pytest.fixture(autouse=True)
def _fresh_catalog(monkeypatch: pytest.MonkeyPatch):
    """Every test starts from an unbuilt catalog, the hermetic plugin set and no other switch."""
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", HERMETIC_PLUGINS)
    for key in _SWITCHES:  # setenv first, so whatever the test sets is undone after it
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    reset_catalog()
    yield
    reset_catalog()


@pytest.fixture(scope="session")
def tiny_extractor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TorchScript stand-in for the Inception network (12 seeded features from 32x32 images),
    passed to the Inception probes with ``-o weights=...``."""
    import warnings

    import torch

    class TinyExtractor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 12, 5, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.conv(x)).mean((2, 3))

    path = tmp_path_factory.mktemp("extractor") / "tiny.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.trace(TinyExtractor(), torch.zeros(1, 3, 32, 32)), str(path))
    return path


@pytest.fixture
def example_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the example third-party plugin too (``pip install -e examples/gansuite-example``)."""
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", WITH_EXAMPLE)
    reset_catalog()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def __iter__(self):  # code, out, err = cli(...)
        return iter((self.returncode, self.stdout, self.stderr))


def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run ``gansuite ARGS`` in this process through its error boundary (click's CliRunner)."""
    from gansuite.cli import cli

    if env:
        reset_catalog()
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    if env:
        reset_catalog()
    return CliResult(result.exit_code, result.stdout, result.stderr)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gansuite ARGS`` in a subprocess: for tests where the process is the point
    (signals, imports at start-up, torchrun)."""
    full_env = {**os.environ, **(env or {})}
    for key in _SWITCHES:
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "gansuite", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """``cli(*args, env=None, cwd=None)`` -> result with ``returncode``, ``stdout``, ``stderr``."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return invoke(*args, env=env)

    return run
