"""Discovery through real entry points: reference plugins, the example package, broken ones."""

from __future__ import annotations

import json
import textwrap
from types import ModuleType

import pytest

from gansuite._host.manager import HOOKS, build_catalog
from gansuite.contract.hookspecs import hookimpl
from gansuite.contract.specs import DatasetSpec, ModelSpec

REFERENCE = {"dcgan", "datasets", "dedup", "probes"}


def test_reference_plugins_come_through_the_entry_point_group():
    catalog = build_catalog()
    by_name = {r.info.name: r for r in catalog.plugins}
    assert REFERENCE <= set(by_name)
    for name in REFERENCE:
        assert by_name[name].info.distribution == "gansuite"
        assert by_name[name].errors == []


def test_disable_plugins(monkeypatch):
    monkeypatch.setenv("GANSUITE_DISABLE_PLUGINS", "probes, dedup")
    catalog = build_catalog()
    names = {r.info.name for r in catalog.plugins}
    assert "probes" not in names and "dedup" not in names and "dcgan" in names
    assert "digits-svm" not in catalog.registry("evals") and len(catalog.registry("dedup")) == 0


def test_trace_plugins(monkeypatch, capsys):
    monkeypatch.setenv("GANSUITE_TRACE_PLUGINS", "1")
    build_catalog()
    err = capsys.readouterr().err
    assert "gansuite[trace]: dcgan: loaded gansuite_dcgan from gansuite 0.1.0" in err
    assert "registered model 'dcgan'" in err


def _plugin(**hooks):
    module = ModuleType("test_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def test_duplicate_name_across_plugins_names_both_and_keeps_others():
    def models(register):
        register(ModelSpec(name="dcgan", summary="again", factory="x:y"))

    catalog = build_catalog(extra_plugins={"copycat": _plugin(register_models=models)})
    (error,) = [e for e in catalog.errors() if "copycat" in e]
    assert "Model 'dcgan' is registered by both" in error and "gansuite" in error
    assert catalog.registry("models").get("dcgan").summary != "again"


def test_invalid_registration_is_reported_and_others_keep_working():
    def models(register):
        register(ModelSpec(name="Bad_Name", summary="", factory="x:y"))

    def datasets(register):
        register(ModelSpec(name="not-a-dataset", summary="", factory="x:y"))

    catalog = build_catalog(extra_plugins={"broken": _plugin(register_models=models, register_datasets=datasets)})
    errors = "\n".join(catalog.errors())
    assert "Plugin 'broken'" in errors and "kebab-case" in errors
    assert "register_datasets must register DatasetSpec objects, got ModelSpec" in errors
    assert "dcgan" in catalog.registry("models")


def test_misspelled_hook_is_reported_not_fatal():
    catalog = build_catalog(extra_plugins={"typo": _plugin(register_modles=lambda register: None)})
    (error,) = [e for e in catalog.errors() if "typo" in e]
    assert "Plugin 'typo'" in error and "unknown hook" in error
    assert "'register_modles' (did you mean 'register_models'?)" in error
    assert ".py:" not in error and "manager" not in error  # no internal file:line
    assert "dcgan" in catalog.registry("models")


def test_misspelled_hook_of_an_installed_plugin_says_what_to_write(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    _write_dist(site, "typo-dist", "typo_plugin", """
        from gansuite import hookimpl

        @hookimpl
        def register_dataset(register):
            pass
    """)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", "gansuite,typo-dist")
    (error,) = [e for e in build_catalog().errors() if "typo" in e]
    assert error.startswith("Plugin 'typo_plugin' from distribution 'typo-dist' implements an unknown hook"), error
    assert "'register_dataset' (did you mean 'register_datasets'?)" in error and ".py:" not in error


def _write_dist(site, dist, module, source):
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(f"[gansuite]\n{module} = {module}\n")


GOOD_PLUGIN = """
    from gansuite import DatasetSpec, hookimpl

    @hookimpl
    def register_datasets(register):
        register(DatasetSpec(name="good-data", summary="from an installed package", factory="x:y"))
"""


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Two distributions on sys.path with entry points in the group: one broken, one good."""
    _write_dist(tmp_path, "gansuite-broken", "broken_plug", "raise ImportError('needs libfoo')\n")
    _write_dist(tmp_path, "gansuite-good", "good_plug", GOOD_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_broken_installed_plugin_is_named_by_distribution(installed, cli):
    res = cli("list", "datasets", "--json", env={"GANSUITE_LOAD_PLUGINS": "gansuite,gansuite-broken,good_plug"})
    assert res.returncode == 0, res.stderr
    assert "gansuite-broken" in res.stderr and "needs libfoo" in res.stderr
    assert "Traceback" not in res.stderr
    assert "good-data" in [d["name"] for d in json.loads(res.stdout)]


def test_load_plugins_keeps_every_other_installed_plugin_out(installed, monkeypatch, capsys):
    """The allow-list (what the test suite itself runs under): only the named ones load."""
    catalog = build_catalog()  # GANSUITE_LOAD_PLUGINS=gansuite, from conftest
    assert catalog.errors() == [] and "good-data" not in catalog.registry("datasets")
    assert {r.info.distribution for r in catalog.plugins} == {"gansuite"}
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", "good_plug")  # by entry-point name
    monkeypatch.setenv("GANSUITE_TRACE_PLUGINS", "1")
    catalog = build_catalog()
    assert [r.info.name for r in catalog.plugins] == ["good_plug"]
    assert "dcgan: left out by GANSUITE_LOAD_PLUGINS" in capsys.readouterr().err
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", "")  # set but empty: none
    assert build_catalog().plugins == []
    monkeypatch.delenv("GANSUITE_LOAD_PLUGINS")  # unset: every installed plugin
    assert {"gansuite", "gansuite-broken", "gansuite-good"} <= {r.info.distribution for r in build_catalog().plugins}


def test_every_hook_is_documented_and_tested():
    """A hook added to hookspecs.py must appear in docs/plugins.md and in a test."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    docs = (repo / "docs" / "plugins.md").read_text()
    tests = "\n".join(p.read_text() for p in (repo / "tests").glob("test_*.py") if p.name != "test_plugins.py")
    import gansuite.contract.hookspecs as hs

    declared = {n for n in dir(hs) if n.startswith("register_")}
    assert declared == set(HOOKS.values())
    for hook in declared:
        assert f"`{hook}`" in docs, f"{hook} is not documented in docs/plugins.md"
        assert hook in tests, f"{hook} has no test outside test_plugins.py"


def test_hooks_register_the_matching_spec_type():
    def datasets(register):
        register(DatasetSpec(name="local-data", summary="", factory="x:y"))

    catalog = build_catalog(extra_plugins={"local": _plugin(register_datasets=datasets)})
    assert catalog.registry("datasets").get("local-data").plugin.distribution == "<local>"
