"""docs/plugins.md against the code (datasette-style): every hook's exact signature, and every
public member of the model contract documented under its own heading with its real arguments."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import gansuite
from gansuite.contract import hookspecs
from gansuite.contract.model import Batch, GANModel, TrainContext, TrainingRecipe
from gansuite.contract.specs import DatasetSpec, Spec

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def _section(title: str) -> str:
    start = DOCS.index(f"### {title}\n")
    rest = DOCS[start + len(title) + 5:]
    end = re.search(r"^#{2,3} ", rest, re.M)
    return rest[: end.start()] if end else rest


def _headings(section: str) -> dict[str, list[str] | None]:
    """``#### `name(a, *, b=None)` `` -> {"name": ["a", "b"]}; attributes map to None."""
    out: dict[str, list[str] | None] = {}
    for m in re.finditer(r"^#### `([a-z_]+)(?:\((.*)\))?`$", section, re.M):
        args = m.group(2)
        out[m.group(1)] = None if args is None else [
            a.split("=")[0].strip() for a in args.split(",") if a.strip() and a.strip() != "*"]
    return out


def _public(cls: type) -> dict[str, list[str] | None]:
    """Public members: methods with their parameter names (no self), attributes as None."""
    names = {n for n in vars(cls) if not n.startswith("_")} | set(getattr(cls, "__annotations__", {}))
    out: dict[str, list[str] | None] = {}
    for name in sorted(names):
        member = inspect.getattr_static(cls, name, None)
        if callable(member) and not isinstance(member, type):
            out[name] = [p for p in inspect.signature(member).parameters if p != "self"]
        else:
            out[name] = None
    return out


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_signature_is_documented_exactly(hook: str) -> None:
    sig = inspect.signature(getattr(hookspecs, hook))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    line = f"def {hook}({params}) -> {sig.return_annotation}"
    assert line in DOCS, f"docs/plugins.md should show: {line}"
    assert f"| `{hook}` |" in DOCS


REQUIRED = {"generator", "discriminator", "z_dim", "image_size", "channels"}


def test_every_gan_model_member_is_documented_with_its_arguments() -> None:
    section = _section("`GANModel` reference")
    documented = _headings(section)
    for name, args in _public(GANModel).items():
        if name in REQUIRED:
            assert f"`{name}`" in section.split("####")[0], f"{name} must be named in the intro"
            continue
        assert name in documented, f"GANModel.{name} has no '#### `{name}`' heading in docs/plugins.md"
        assert documented[name] == args, f"GANModel.{name}: docs say {documented[name]}, code has {args}"
    assert set(documented) <= set(_public(GANModel)), "the docs describe members the code lacks"


def test_every_train_context_member_is_documented() -> None:
    documented = _headings(_section("`TrainContext` reference"))
    code = _public(TrainContext)
    assert documented == code, f"docs: {documented}\ncode: {code}"


def test_batch_recipe_and_dataset_spec_fields_are_documented() -> None:
    for field in dataclasses.fields(Batch):
        assert f"`{field.name}`" in DOCS
    recipe = _section("`GANModel` reference").split("#### `num_classes`")[0]
    for field in dataclasses.fields(TrainingRecipe):
        assert f"`{field.name}`" in recipe, f"TrainingRecipe.{field.name} is not listed under recipe"
    base = {f.name for f in dataclasses.fields(Spec)} - {"plugin"}
    for field in dataclasses.fields(DatasetSpec):
        if field.name in base:
            assert f"`{field.name}`" in _section_text("5. Datasets"), field.name
        elif field.name != "plugin":
            assert f"| `{field.name}` |" in DOCS, f"DatasetSpec.{field.name} has no row in the fields table"


def _section_text(title: str) -> str:
    start = DOCS.index(f"## {title}\n")
    end = DOCS.find("\n## ", start + 1)
    return DOCS[start:end]


def test_the_public_names_in_the_import_block_exist() -> None:
    block = DOCS.split("from gansuite import (", 1)[1].split(")", 1)[0]
    names = [n.strip() for n in block.replace("\n", " ").split(",") if n.strip()]
    assert names and all(hasattr(gansuite, n) for n in names), [n for n in names if not hasattr(gansuite, n)]
    assert f'`"{gansuite.API_VERSION}"`' in DOCS


def test_readme_main_job_is_fixed_feature_prdc_and_kid_with_their_controls() -> None:
    """The README's main job runs precision/density/coverage and KID in the fixed feature space
    (seconds on a CPU, no download), whose presets score the early checkpoint and the Gaussian fit
    beside the random G."""
    from gansuite._host.manager import get_catalog

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    text = " ".join(readme.split())
    job = re.search(r"gansuite run --model dcgan --eval digits-prdc-fixed --eval digits-kid-fixed "
                    r"--max-steps (\d+) -o ngf=32 -o ndf=32", readme)
    assert job and int(job.group(1)) >= 20  # long enough to keep an early checkpoint
    for name in ("digits-prdc-fixed", "digits-kid-fixed"):
        params = get_catalog().registry("evals").get(name).params
        assert params["features"] == "fixed" and params.get("intermediate_controls", True), name
    svm = get_catalog().registry("evals").get("digits-svm").params
    assert f"cross-fitted over all 1,797 digits ({svm['cross_fit']} folds x {svm['n_draws']} draws)" in text


# -- the docs name only public names --------------------------------------------------------------
def _public_part() -> str:
    """docs/plugins.md without the compatibility table (it names deprecated paths on purpose) and
    the contributors' section on the layers (it names the core's folders)."""
    compat = _section("Compatibility")
    return DOCS.split("## 12. The layers")[0].replace(compat, "")


def test_the_docs_name_only_facade_names() -> None:
    import gansuite.testing

    text = _public_part()
    dotted = set(re.findall(r"\bgansuite\.([A-Za-z_]\w*)", text))
    allowed = set(gansuite.__all__) | {"testing"}
    assert dotted - allowed == set(), f"docs/plugins.md names non-public gansuite.{sorted(dotted - allowed)}"
    for names in re.findall(r"from gansuite import (?:\(([^)]*)\)|([\w ,]+))", text):
        names = "".join(names)
        imported = {n.strip() for n in names.replace("\n", " ").split(",") if n.strip()}
        assert imported <= set(gansuite.__all__), f"not in gansuite.__all__: {sorted(imported - set(gansuite.__all__))}"
    for names in re.findall(r"from gansuite\.testing import ([\w ,]+)", text):
        imported = {n.strip() for n in names.split(",") if n.strip()}
        assert imported <= set(gansuite.testing.__all__), sorted(imported - set(gansuite.testing.__all__))
    assert not re.findall(r"from gansuite\.(?!testing\b)\w+", text)
    internals = re.findall(r"\bgansuite_(?:dcgan|gans|datasets|dedup|probes)\.\w+", text)
    assert not internals, f"docs/plugins.md sends authors into a reference plugin's modules: {internals}"


def test_the_docs_name_check_catches_an_internal_name() -> None:
    """The check above can fail: the old §7 advice is caught."""
    bad = "call `gansuite_probes.common.generate(model, z)` or `gansuite._host.manager.reset_catalog`"
    assert re.findall(r"\bgansuite_(?:dcgan|gans|datasets|dedup|probes)\.\w+", bad)
    assert set(re.findall(r"\bgansuite\.([A-Za-z_]\w*)", bad)) - set(gansuite.__all__) == {"_host"}


def test_the_compatibility_table_matches_the_compat_module() -> None:
    from gansuite import _compat

    table = _section("Compatibility")
    for entry in _compat.DEPRECATED:
        label = entry.name if not entry.target else (
            "gansuite.plugin" if entry.name.startswith("gansuite.plugin") else entry.name)
        row = next((line for line in table.replace("`", "").splitlines() if line.startswith("|") and label in line),
                   None)
        assert row is not None, f"the Compatibility table has no row for {entry.name}"
        assert f"| {entry.since} | {entry.removal} |" in row, f"{entry.name}: {row}"
