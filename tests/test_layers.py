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
    assert "2 kept, 0 broken" in res.stdout


def test_a_forbidden_import_breaks_the_check(tmp_path: Path) -> None:
    shutil.copytree(REPO / "gansuite", tmp_path / "gansuite", ignore=shutil.ignore_patterns("__pycache__"))
    specs = tmp_path / "gansuite" / "plugin" / "specs.py"
    specs.write_text(specs.read_text() + "\nfrom gansuite.engine import train  # noqa\n")  # contract -> engine
    res = _lint(tmp_path, tmp_path)
    assert res.returncode != 0 and "BROKEN" in res.stdout, res.stdout + res.stderr
    assert "gansuite.plugin.specs -> gansuite.engine.train" in res.stdout


def test_no_import_cycles_type_level_ones_included() -> None:
    import grimp

    graph = grimp.build_graph("gansuite")  # TYPE_CHECKING imports count too
    cycles = [(a, b) for a in sorted(graph.modules) for b in sorted(graph.find_modules_directly_imported_by(a))
              if graph.chain_exists(importer=b, imported=a)]
    assert not cycles, f"import cycles: {cycles}"
