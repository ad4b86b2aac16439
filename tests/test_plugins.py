"""Discovery through real entry points: reference plugins, the example package, broken ones."""

from __future__ import annotations

import json
import textwrap
from types import ModuleType

from gansuite.plugin.hookspecs import hookimpl
from gansuite.plugin.manager import HOOKS, build_catalog
from gansuite.plugin.specs import DatasetSpec, ModelSpec

REFERENCE = {"dcgan", "datasets", "dedup", "probes"}


def test_reference_plugins_come_through_the_entry_point_group():
    catalog = build_catalog()
    by_name = {r.info.name: r for r in catalog.plugins}
    assert REFERENCE <= set(by_name)
    for name in REFERENCE:
        assert by_name[name].info.distribution == "gansuite"
        assert by_name[name].errors == []


def test_example_plugin_is_installed_and_discovered():
    catalog = build_catalog()
    by_name = {r.info.name: r for r in catalog.plugins}
    assert "example" in by_name, "install it: pip install -e examples/gansuite-example"
    record = by_name["example"]
    assert record.info.distribution == "gansuite-example"
    assert record.registered == {"models": ["tiny-gan", "example-wgan-gp"], "datasets": ["npz-images"],
                                 "probes": ["pixel-stats"], "evals": ["fake-pixel-stats"]}
    spec = catalog.registry("models").get("tiny-gan")
    assert spec.plugin is not None and spec.plugin.version == "0.1.0"


def test_disable_plugins(monkeypatch):
    monkeypatch.setenv("GANSUITE_DISABLE_PLUGINS", "example, dedup")
    catalog = build_catalog()
    names = {r.info.name for r in catalog.plugins}
    assert "example" not in names and "dedup" not in names
    assert "tiny-gan" not in catalog.registry("models")


def test_trace_plugins(monkeypatch, capsys):
    monkeypatch.setenv("GANSUITE_TRACE_PLUGINS", "1")
    build_catalog()
    err = capsys.readouterr().err
    assert "gansuite[trace]: example: loaded gansuite_example from gansuite-example 0.1.0" in err
    assert "registered model 'tiny-gan'" in err


def _plugin(**hooks):
    module = ModuleType("test_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def test_duplicate_name_across_plugins_names_both_and_keeps_others():
    def models(register):
        register(ModelSpec(name="tiny-gan", summary="again", factory="x:y"))

    catalog = build_catalog(extra_plugins={"copycat": _plugin(register_models=models)})
    errors = catalog.errors()
    assert len(errors) == 1
    assert "copycat" in errors[0] and "example" in errors[0] and "gansuite-example" in errors[0]
    assert catalog.registry("models").get("tiny-gan").summary.startswith("A two-conv")


def test_invalid_registration_is_reported_and_others_keep_working():
    def models(register):
        register(ModelSpec(name="Bad_Name", summary="", factory="x:y"))

    def datasets(register):
        register(ModelSpec(name="not-a-dataset", summary="", factory="x:y"))

    catalog = build_catalog(extra_plugins={"broken": _plugin(register_models=models, register_datasets=datasets)})
    errors = "\n".join(catalog.errors())
    assert "Plugin 'broken'" in errors and "kebab-case" in errors
    assert "register_datasets must register DatasetSpec objects, got ModelSpec" in errors
    assert "tiny-gan" in catalog.registry("models")


def test_misspelled_hook_is_reported_not_fatal():
    catalog = build_catalog(extra_plugins={"typo": _plugin(register_modles=lambda register: None)})
    (error,) = catalog.errors()
    assert "Plugin 'typo'" in error and "unknown hook" in error and "register_modles" in error
    assert "tiny-gan" in catalog.registry("models")


def _write_dist(site, dist, module, source):
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(f"[gansuite]\n{module} = {module}\n")


def test_broken_installed_plugin_is_named_by_distribution(tmp_path, cli):
    _write_dist(tmp_path, "gansuite-broken", "broken_plug", "raise ImportError('needs libfoo')\n")
    _write_dist(tmp_path, "gansuite-good", "good_plug", """
        from gansuite.plugin.hookspecs import hookimpl
        from gansuite.plugin.specs import DatasetSpec

        @hookimpl
        def register_datasets(register):
            register(DatasetSpec(name="good-data", summary="from an installed package", factory="x:y"))
    """)
    res = cli("list", "datasets", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    assert "gansuite-broken" in res.stderr and "needs libfoo" in res.stderr
    assert "Traceback" not in res.stderr
    assert "good-data" in [d["name"] for d in json.loads(res.stdout)]


def test_every_hook_is_documented_and_tested():
    """A hook added to hookspecs.py must appear in docs/plugins.md and in a test."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    docs = (repo / "docs" / "plugins.md").read_text()
    tests = "\n".join(p.read_text() for p in (repo / "tests").glob("test_*.py") if p.name != "test_plugins.py")
    import gansuite.plugin.hookspecs as hs

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
