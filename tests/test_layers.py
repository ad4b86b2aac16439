"""The layering rule of docs/plugins.md, checked by import-linter (contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([*LINT, "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layers_hold() -> None:
    res = _lint(REPO, REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 kept, 0 broken" in res.stdout


def test_a_forbidden_import_breaks_the_check(tmp_path: Path) -> None:
    shutil.copytree(REPO / "gansuite", tmp_path / "gansuite", ignore=shutil.ignore_patterns("__pycache__"))
    specs = tmp_path / "gansuite" / "contract" / "specs.py"
    specs.write_text(specs.read_text() + "\nfrom gansuite.engine import train  # noqa\n")  # contract -> engine
    res = _lint(tmp_path, tmp_path)
    assert res.returncode != 0 and "BROKEN" in res.stdout, res.stdout + res.stderr
    assert "gansuite.contract.specs -> gansuite.engine.train" in res.stdout


def test_a_plugin_importing_past_the_facade_breaks_the_check(tmp_path: Path) -> None:
    shutil.copytree(REPO / "gansuite", tmp_path / "gansuite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "plugins" / "gansuite_dedup", tmp_path / "gansuite_dedup",
                    ignore=shutil.ignore_patterns("__pycache__"))
    simple = tmp_path / "gansuite_dedup" / "simple.py"
    simple.write_text(simple.read_text() + "\nfrom gansuite.engine import data  # noqa\n")
    res = _lint(tmp_path, tmp_path)
    assert res.returncode != 0 and "Plugins import only the facade BROKEN" in res.stdout, res.stdout + res.stderr
    assert "gansuite_dedup.simple -> gansuite.engine.data" in res.stdout


def test_the_plugin_rule_forbids_every_submodule_but_the_facade() -> None:
    """A new subpackage of gansuite is closed to plugins until someone decides otherwise."""
    import pkgutil

    import gansuite

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    rule = next(c for c in config["contracts"] if c["name"] == "Plugins import only the facade")
    children = {f"gansuite.{m.name}" for m in pkgutil.iter_modules(gansuite.__path__)}
    assert set(rule["forbidden_modules"]) == children
    plugins = {p.name for p in (REPO / "plugins").iterdir() if (p / "__init__.py").exists()}
    assert set(rule["source_modules"]) == plugins | {"gansuite_example"}


def test_no_import_cycles_type_level_ones_included() -> None:
    import grimp

    graph = grimp.build_graph("gansuite")  # TYPE_CHECKING imports count too
    cycles = [(a, b) for a in sorted(graph.modules) for b in sorted(graph.find_modules_directly_imported_by(a))
              if graph.chain_exists(importer=b, imported=a)]
    assert not cycles, f"import cycles: {cycles}"


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in fixtures (conftest.py) or tests/helpers.py, never in a test module."""
    import ast

    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "examples").rglob("tests/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO)} imports {n}" for n in names
                          if n.rpartition(".")[2].startswith(("test_", "conftest"))]
    assert not offenders, offenders
