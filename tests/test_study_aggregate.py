"""A study's aggregate, pairwise tests, figure and HTML report, over run folders laid out by hand."""

from __future__ import annotations

import base64
import io
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from gansuite.cli import main
from gansuite.engine.runfolder import RunFolder
from gansuite.study.aggregate import aggregate, pairwise, study_rows, t_interval
from gansuite.study.folder import CellInfo, StudyFolder
from gansuite.study.html import write_report
from gansuite.study.tables import StudyTables, format_tables, write_outputs

# accuracy per model and seed: trained, then the random-network control of the same seed
VALUES = {
    "good": {0: (0.90, 0.70), 1: (0.92, 0.71), 2: (0.91, 0.69)},
    "bad": {0: (0.60, 0.70), 1: (0.62, 0.72), 2: (0.61, 0.68)},
}


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_study(root: Path, *, unfinished: str | None = None) -> StudyFolder:
    study = StudyFolder(root)
    cells = []
    for label, seeds in VALUES.items():
        for seed, (trained, random) in seeds.items():
            info = CellInfo(id=f"{label}-digits-seed{seed}", label=label, model="dcgan", dataset="digits", seed=seed)
            cells.append(info.as_dict())
            folder = RunFolder(study.run_dir(info.id)).create()
            folder.write_config({"model": "dcgan", "dataset": "digits", "seed": seed, "device": "cpu"})
            folder.append_metrics([{"step": s, "loss_d": 1.0, "loss_g": 2.0, "images_per_s": 100.0 + seed}
                                   for s in (10, 20)])
            (folder.samples / "step-000000010.png").write_bytes(png((255, 0, 0)))
            (folder.samples / "step-000000020.png").write_bytes(png((0, 0, 255)))
            (folder.samples / "loss-curve.png").write_bytes(png((0, 255, 0)))
            if info.id != unfinished:
                folder.add_results([{"eval": "digits-svm", "metric": "accuracy", "value": trained, "variant": "trained"},
                                    {"eval": "digits-svm", "metric": "accuracy", "value": random, "variant": "random"}])
            study.add_attempt(info.id, {"action": "run", "status": "finished", "rc": 0, "seconds": 10.0 + seed})
    study.write_study({"name": "t", "evals": ["digits-svm"], "datasets": ["digits"], "seeds": [0, 1, 2],
                       "models": [{"name": "dcgan", "label": k, "options": []} for k in VALUES],
                       "budget": {"max_steps": 20}, "cells": cells})
    return study


def row(table, **where):
    mask = np.ones(len(table), dtype=bool)
    for key, value in where.items():
        mask &= (table[key] == value).to_numpy()
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


def test_t_interval_matches_scipy() -> None:
    x = [0.90, 0.92, 0.91]
    mean, std, half, n = t_interval(x)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(x), scale=stats.sem(x))
    assert n == 3 and mean == pytest.approx(0.91) and std == pytest.approx(0.01)
    assert (mean - half, mean + half) == pytest.approx((low, high))
    assert math.isnan(t_interval([1.0])[2])


def test_aggregate_has_intervals_controls_and_training_speed(tmp_path: Path) -> None:
    table = aggregate(study_rows(make_study(tmp_path)))
    good = row(table, model="good", eval="digits-svm", variant="trained")
    assert good["n"] == 3 and good["mean"] == pytest.approx(0.91)
    assert good["ci_low"] < 0.91 < good["ci_high"]
    assert good["control"] == "random" and good["control_mean"] == pytest.approx(0.70)
    # paired over seeds: 0.20, 0.21, 0.22
    assert good["vs_control"] == pytest.approx(0.21)
    assert good["vs_control_ci95"] == pytest.approx(t_interval([0.20, 0.21, 0.22])[2])
    control = row(table, model="good", eval="digits-svm", variant="random")
    assert control["mean"] == pytest.approx(0.70) and not isinstance(control["control"], str)
    speed = row(table, model="bad", eval="train", metric="images_per_s")
    assert speed["mean"] == pytest.approx(101.0)
    wall = row(table, model="good", eval="train", metric="wall_s")
    assert wall["mean"] == pytest.approx(11.0)
    assert list(table["model"].iloc[:2]) == ["good", "good"]  # the spec's order, not alphabetical


def test_pairwise_tests_tell_models_apart_only_beyond_seed_noise(tmp_path: Path) -> None:
    frame = study_rows(make_study(tmp_path))
    pw = pairwise(frame)
    assert len(pw) == 1  # controls and training rows are not compared
    r = pw.iloc[0]
    a, b = [0.90, 0.92, 0.91], [0.60, 0.62, 0.61]
    assert (r["model_a"], r["model_b"]) == ("good", "bad")
    assert r["welch_p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert r["perm_p"] == pytest.approx(0.1)  # exact: 2 of the 20 splits are as extreme
    assert r["verdict"].startswith("differ")
    frame.loc[(frame["model"] == "bad") & (frame["variant"] == "trained"), "value"] = [0.89, 0.93, 0.90]
    assert pairwise(frame).iloc[0]["verdict"] == "within seed noise"


def test_unfinished_cells_are_left_out(tmp_path: Path) -> None:
    table = aggregate(study_rows(make_study(tmp_path, unfinished="bad-digits-seed2")))
    assert row(table, model="bad", eval="digits-svm", variant="trained")["n"] == 2
    assert row(table, model="good", eval="digits-svm", variant="trained")["n"] == 3


def test_results_command_prints_the_study_aggregate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = make_study(tmp_path / "st")
    main(["results", str(study.path), "--plot", str(tmp_path / "a.png")])
    out = capsys.readouterr().out
    assert "95% t-interval" in out and "Pairwise tests" in out
    assert "0.9100 +- " in out and "differ (Welch p < 0.05)" in out
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    main(["results", str(study.path), "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} == {"good", "bad"}


def test_outputs_are_written_beside_the_runs(tmp_path: Path) -> None:
    tables = StudyTables(make_study(tmp_path))
    written = write_outputs(tables)
    assert {p.name for p in written} == {"aggregate.csv", "pairwise.csv", "aggregate.png"}
    assert "vs_control" in (tmp_path / "aggregate.csv").read_text().splitlines()[0]
    assert "within seed noise" not in format_tables(tables)


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, bytes]] = []
        self.links: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            head, _, data = (a.get("src") or "").partition(",")
            assert head == "data:image/png;base64"
            self.images.append((a.get("alt") or "", base64.b64decode(data)))
        for key in ("href", "src"):
            if tag != "img" and a.get(key):
                self.links.append(a[key] or "")
        self._in_td = tag == "td"

    def handle_data(self, data: str) -> None:
        if self._in_td:
            self.cells.append(data)


def test_report_is_one_file_with_every_run_and_the_aggregate(tmp_path: Path) -> None:
    tables = StudyTables(make_study(tmp_path))
    report = write_report(tables)
    parser = Images()
    parser.feed(report.read_text())
    assert parser.links == []  # nothing outside the file
    alts = [alt for alt, _ in parser.images]
    for cell in tables.study.cells():
        samples = [data for alt, data in parser.images if alt.startswith(f"{cell.id} samples")]
        assert len(samples) == 1 and samples[0] == png((0, 0, 255))  # the newest grid
        assert f"{cell.id} loss curve" in alts
    assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for _, data in parser.images)
    assert "aggregate with 95% intervals" in alts
    text = " ".join(parser.cells)
    assert "0.9100 +- " in text and "random" in text
