"""Each hook, exercised through a local plugin: the registration lands in its registry,
attributed to the plugin, and the spec's lazy factory resolves."""

from __future__ import annotations

from types import ModuleType

import pytest

from gansuite._host.manager import build_catalog
from gansuite.contract.hookspecs import hookimpl
from gansuite.contract.specs import DatasetSpec, DedupSpec, EvalSpec, ModelSpec, ProbeSpec

CASES = [
    ("register_models", "models", ModelSpec(name="hook-model", summary="", factory="os.path:join")),
    ("register_datasets", "datasets", DatasetSpec(name="hook-data", summary="", factory="os.path:join")),
    ("register_dedup", "dedup", DedupSpec(name="hook-dedup", summary="", factory="os.path:join")),
    ("register_probes", "probes", ProbeSpec(name="hook-probe", summary="", factory="os.path:join")),
    ("register_evals", "evals", EvalSpec(name="hook-eval", summary="", dataset="fake", probe="svm")),
]


@pytest.mark.parametrize(("hook", "kind", "spec"), CASES, ids=[c[0] for c in CASES])
def test_hook_registers_into_its_registry(hook, kind, spec):
    module = ModuleType("hook_plugin")
    setattr(module, hook, hookimpl(lambda register: register(spec)))
    catalog = build_catalog(extra_plugins={"hook-plugin": module})
    got = catalog.registry(kind).get(spec.name)
    assert got.plugin is not None and got.plugin.name == "hook-plugin"
    record = next(r for r in catalog.plugins if r.info.name == "hook-plugin")
    assert record.registered == {kind: [spec.name]}
    if spec.factory is not None:
        import os.path

        assert got.load_factory() is os.path.join


def test_hook_implementation_may_take_no_arguments():
    module = ModuleType("quiet")
    module.register_models = hookimpl(lambda: None)
    catalog = build_catalog(extra_plugins={"quiet": module})
    assert catalog.errors() == []
