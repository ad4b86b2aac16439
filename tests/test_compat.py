"""The deprecated names of gansuite._compat: each still works, warns, and has a removal version."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import gansuite
from gansuite import _compat

OLD_PATHS = [d for d in _compat.DEPRECATED if d.target]


def _forget(name: str) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def _major(version: str) -> int:
    return int(version.split(".")[0])


@pytest.mark.parametrize("entry", _compat.DEPRECATED, ids=lambda d: d.name)
def test_every_row_names_a_later_removal_and_what_to_use(entry):
    assert _major(entry.since) <= _major(gansuite.API_VERSION) < _major(entry.removal)
    assert entry.use and entry.since and entry.removal


@pytest.mark.parametrize("entry", OLD_PATHS, ids=lambda d: d.name)
def test_an_old_module_path_imports_its_new_module_and_warns(entry, monkeypatch):
    monkeypatch.setattr(sys, "modules", dict(sys.modules))  # the alias does not outlive the test
    _forget(entry.name)
    parent = entry.name.rpartition(".")[0]
    if parent != "gansuite":  # the old package warns once, on its own
        with pytest.warns(DeprecationWarning, match=parent):
            importlib.import_module(parent)
    with pytest.warns(DeprecationWarning, match=rf"{entry.name} is deprecated since gansuite API "
                                                 rf"{entry.since} and removed in {entry.removal}") as record:
        old = importlib.import_module(entry.name)
    assert record[0].filename == __file__ or record[0].filename.endswith("importlib/__init__.py")
    new = importlib.import_module(entry.target)
    for name in getattr(new, "__all__", ()):
        assert getattr(old, name) is getattr(new, name), name
    assert list(old.__all__) == list(getattr(new, "__all__", ()))


def test_the_warning_points_at_the_importing_line():
    code = ("import warnings, gansuite; warnings.simplefilter('always')\n"
            "import gansuite.plugin.errors\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "<string>:2: DeprecationWarning: gansuite.plugin.errors is deprecated" in res.stderr, res.stderr


def test_an_old_from_import_keeps_class_identity(monkeypatch):
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    _forget("gansuite.plugin")
    with pytest.warns(DeprecationWarning):
        from gansuite.plugin.errors import OptionError  # type: ignore[import-not-found]
        from gansuite.plugin.manager import reset_catalog  # type: ignore[import-not-found]
    assert OptionError is gansuite.OptionError and reset_catalog is gansuite.reset_catalog


def test_a_name_that_was_never_there_is_still_an_import_error(monkeypatch):
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("gansuite.plugin_manager")
    with pytest.warns(DeprecationWarning), pytest.raises(ModuleNotFoundError):
        importlib.import_module("gansuite.plugin.nothing")


def test_no_old_path_exists_as_a_file():
    """The table is the only place the old paths live; no file shadows them."""
    from pathlib import Path

    root = Path(gansuite.__file__).parent
    for entry in OLD_PATHS:
        rel = Path(*entry.name.split(".")[1:])
        assert not (root / rel).with_suffix(".py").exists() and not (root / rel).is_dir(), entry.name


def test_a_first_contract_model_is_wrapped_with_a_warning():
    torch = pytest.importorskip("torch")
    from gansuite.testing import tiny_model

    base = tiny_model()

    class Old:
        generator, discriminator = base.generator, base.discriminator
        z_dim, image_size, channels, recipe = 8, 16, 3, base.recipe

        def sample_z(self, n, *, generator=None, device=None):
            return torch.zeros(n, self.z_dim)

        def features(self, x):
            return ["own features"]

        def d_loss(self, real, fake):
            return "own d_loss"

        def g_loss(self, fake):
            return "own g_loss"

        def optimizers(self):
            return ("own", "optimizers")

    with pytest.warns(DeprecationWarning, match="without the GANModel base class"):
        model = _compat.adapt_model(Old())
    assert isinstance(model, gansuite.GANModel)
    assert model.sample_z(3).abs().sum() == 0 and model.features(None) == ["own features"]
    assert model.d_loss(1, 2) == "own d_loss" and model.g_loss(1) == "own g_loss"
    assert model.optimizers() == ("own", "optimizers") and model.describe() == {}
    assert model.eval_generator() is base.generator and model.extra_state() == {}
    assert _compat.adapt_model(model) is model  # already a GANModel: as it is, no second warning


def test_an_object_that_is_no_model_is_refused():
    with pytest.raises(TypeError, match="missing: generator"):
        _compat.adapt_model(object())
