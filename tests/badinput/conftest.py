"""Fixtures of the bad-input suite (helpers: :mod:`.helpers`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from .badplug_source import install_badplug
from .helpers import TINY, gs


@pytest.fixture(autouse=True)
def _example(example_plugin: None) -> None:
    """The bad-input cases use the example plugin's tiny-gan and fake-pixel-stats."""


@pytest.fixture(scope="session")
def _trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained run (4 steps, checkpoints at 2 and 4), made once per session."""
    from gansuite._host.manager import reset_catalog

    out = tmp_path_factory.mktemp("trained") / "run"
    reset_catalog()
    res = gs("run", *TINY, "--max-steps", "4", "--checkpoint-every", "2", "--log-every", "1", "--out", out)
    reset_catalog()
    assert res.code == 0, res.err
    return out


@pytest.fixture
def trained(_trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run, free to damage."""
    dest = tmp_path / "run"
    shutil.copytree(_trained, dest)
    return dest


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def badplug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The deliberately misbehaving plugin package installed for one test, beside the example."""
    folder = install_badplug(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", "gansuite,gansuite-example,badplug")
    yield folder
    sys.modules.pop("badplug", None)
