"""The families comparison end to end on digits (the CI-sized preset of
benchmarks/compare_families.py): every model, two seeds, each eval with its controls, and the
generated table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_script

REPO = Path(__file__).resolve().parents[1]


def _module(name: str):
    return load_script(name)


@pytest.mark.slow
def test_digits_comparison_runs_every_model_and_writes_the_table(tmp_path: Path, tiny_extractor: Path) -> None:
    extractor = tiny_extractor
    driver, table = _module("compare_families"), _module("comparison_table")
    out = tmp_path / "cmp"
    driver.main(["run", "--preset", "digits", "--out", str(out), "--in-process", "--max-steps", "3",
                 "-o", f"kid.weights={extractor}", "-o", "kid.input_size=32"])
    record = json.loads((out / "driver.json").read_text())
    assert record["steps"] == dict.fromkeys(driver.MODELS, 3)

    data = table.collect(out)
    assert sorted(data["runs"]) == sorted(driver.MODELS)
    for model, recs in data["runs"].items():
        assert sorted(r["seed"] for r in recs) == [0, 1] and all(r["steps"] == 3 for r in recs)
        evals = {row["eval"] for r in recs for row in r["rows"]}
        assert evals == {"digits-svm", "digits-kid"} | ({"digits-gan-test"} if model == "sngan-projection" else set())
    text = table.render(data)
    for model in driver.MODELS:
        assert f"| {model} | 2 |" in text  # the training table: two seeds each
    assert "GAN-test, random G" in text and "KID, random G" in text and "The papers' own numbers" in text
    # digits-svm is few-label: the columns say error, and the paired gain has its own column
    assert "SVM error, trained D" in text and "SVM gain over random D (paired)" in text
    # every run's paired lead over each control, with its interval and a verdict per model
    paired = [line for line in text.splitlines() if line.startswith("| ") and "over the random G |" in line]
    assert len(paired) == len(driver.MODELS) and all(line.rstrip().endswith("of 2 |") for line in paired)
    assert "Paired KID lead over the random G: its interval lies above 0 in" in text
    kid = [row for recs in data["runs"].values() for r in recs for row in r["rows"] if row["eval"] == "digits-kid"]
    variants = {row["variant"] for row in kid}  # every KID beside its controls
    assert variants >= {"trained", "random", "real", "gaussian-fit"} and variants <= {*variants, "early"}
    # a second invocation finds every run finished and redoes nothing
    again = driver.main(["run", "--preset", "digits", "--out", str(out), "--in-process", "--max-steps", "3",
                         "-o", f"kid.weights={extractor}", "-o", "kid.input_size=32"])
    assert again is None
    assert all(r.get("skipped") for r in json.loads((out / "driver.json").read_text())["runs"])
