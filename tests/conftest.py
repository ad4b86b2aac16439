"""Shared fixtures: a fresh plugin catalog per test, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gansuite.plugin.manager import reset_catalog

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_catalog(monkeypatch: pytest.MonkeyPatch):
    """Every test starts from an unbuilt catalog and no plugin switches."""
    monkeypatch.delenv("GANSUITE_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("GANSUITE_TRACE_PLUGINS", raising=False)
    monkeypatch.delenv("GANSUITE_DEBUG", raising=False)
    reset_catalog()
    yield
    reset_catalog()


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m gansuite ARGS`` in a subprocess (the real entry point, real discovery)."""
    full_env = {**os.environ, **(env or {})}
    for key in ("GANSUITE_DEBUG", "GANSUITE_DISABLE_PLUGINS", "GANSUITE_TRACE_PLUGINS"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "gansuite", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
