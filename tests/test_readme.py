"""The README's install and test commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands_after(text: str, marker: str) -> str:
    match = re.search(rf"# {marker}.*\n(.+)\n", text)
    assert match, f"no '# {marker}' command found"
    return match.group(1).strip()


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    install = _commands_after(block, "1. install")
    test = _commands_after(block, "3. the tests")
    assert install.startswith("pip install") and install in ci
    assert test == "python -m pytest" and f"\n{test}\n" in ci


def test_main_job_names_registered_things():
    from gansuite._host.manager import build_catalog

    readme = (REPO / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    run = _commands_after(block, "2. the main job")
    catalog = build_catalog()
    model = re.search(r"--model (\S+)", run).group(1)
    evaluation = re.search(r"--eval (\S+)", run).group(1)
    assert model in catalog.registry("models")
    assert evaluation in catalog.registry("evals")
