"""``gansuite results`` and ``gansuite compare`` over run folders built by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from gansuite.cli import main
from gansuite.engine.runfolder import RunFolder
from gansuite.report import results


def make_run(
    root: Path,
    name: str,
    *,
    model: str,
    seed: int,
    acc: float,
    extra_rows=(),
    verified: bool | None = True,
    speeds=(100.0, 120.0, 110.0),
) -> Path:
    """A run folder following the contract: config.json, metrics.jsonl, results.json."""
    folder = RunFolder(root / name).create()
    folder.write_config(
        {
            "model": model,
            "dataset": "digits",
            "dedup": None,
            "seed": seed,
            "device": "cpu",
            "created": f"2024-01-0{seed + 1}T10:00:00+0000",
            "batch_size": 64,
            "versions": {"python": "3.11", "torch": "2.4.0", "gansuite": "0.1.0"},
            "plugins": {"dcgan": "gansuite 0.1.0"},
            "data_verified": verified,
            "model_config": {"ngf": 64},
        }
    )
    folder.append_metrics(
        {"step": 10 * (i + 1), "loss_d": 1.0 - 0.1 * i, "loss_g": 2.0 + 0.1 * i, "images_per_s": s}
        for i, s in enumerate(speeds)
    )
    # provenance the host adds to every row; constant within a run, different between runs
    prov = {
        "probe": "svm",
        "eval_seconds": 1.5 + seed,
        "step": 100 * (seed + 1),
        "train_data_verified": verified,
        "unverified_files": [],
        "probe_config": {"c": 0.1},
        "run": str(folder.path),
    }
    folder.add_results(
        [
            {"eval": "digits-svm", "metric": "accuracy", "value": acc, "discriminator": "trained", **prov},
            {"eval": "digits-svm", "metric": "accuracy", "value": acc / 2, "discriminator": "random", **prov},
            {"eval": "digits-svm", "metric": "feature_dim", "value": 7168, **prov},
            *extra_rows,
        ]
    )
    return folder.path


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    make_run(root, "dcgan-a", model="dcgan", seed=0, acc=0.80)
    make_run(root, "dcgan-b", model="dcgan", seed=1, acc=0.84, speeds=(90.0, 95.0, 130.0))
    make_run(
        root,
        "nested/other-c",
        model="other-gan",
        seed=2,
        acc=0.60,
        verified=False,
        extra_rows=[{"eval": "digits-fid", "metric": "fid", "value": 55.5, "n_samples": 2048}],
    )
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_table_over_three_runs(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "results", str(runs))
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header == [*results.COLUMNS, "discriminator"]  # provenance columns left to csv/json
    code, out, _ = cli(capsys, "results", str(runs), "--all-columns")
    assert code == 0 and {"eval_seconds", "probe", "n_samples"} <= set(out.splitlines()[0].split())
    for name in ("dcgan-a", "dcgan-b", "other-c", "digits-svm", "digits-fid", "images_per_s"):
        assert name in out
    frame = results.results_table([runs])
    assert frame["run"].nunique() == 3
    # 3 svm rows per run + 4 training rows per run + one fid row
    assert len(frame) == 3 * 3 + 3 * 4 + 1
    fid = frame[frame["metric"] == "fid"].iloc[0]
    assert fid["value"] == 55.5 and fid["n_samples"] == 2048 and fid["data_verified"] == False  # noqa: E712
    trained = frame[(frame["run"] == "dcgan-b") & (frame["discriminator"] == "trained")]
    assert trained["value"].tolist() == [0.84]
    assert trained["versions"].iloc[0] == "python=3.11 torch=2.4.0 gansuite=0.1.0"
    speed = frame[(frame["run"] == "dcgan-b") & (frame["metric"] == "images_per_s")]["value"]
    assert speed.tolist() == [95.0]  # the median of the logged speeds
    assert "model_config" not in frame.columns and "plugins" not in frame.columns


def test_csv_round_trips_in_pandas(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "results", str(runs), "--format", "csv")
    assert code == 0, err
    back = pd.read_csv(io.StringIO(out))
    expected = results.results_table([runs])
    assert list(back.columns) == list(expected.columns)
    assert len(back) == len(expected)
    assert back["value"].tolist() == pytest.approx(expected["value"].tolist())
    assert back["run"].tolist() == expected["run"].tolist()
    assert back["seed"].tolist() == expected["seed"].tolist()


def test_json_and_markdown(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "results", str(runs / "dcgan-a"), "--format", "json", "--no-train")
    assert code == 0
    rows = json.loads(out)
    assert {r["metric"] for r in rows} == {"accuracy", "feature_dim"}
    assert all(r["run"] == "dcgan-a" and r["model"] == "dcgan" for r in rows)
    code, out, _ = cli(capsys, "results", str(runs / "dcgan-a"), "--format", "markdown")
    lines = out.splitlines()
    assert lines[0].startswith("| run | model |") and lines[1].startswith("|---|")
    assert len(lines) == 2 + 3 + 4


def test_filter(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = results.results_table([runs])
    only = results.filter_table(frame, [("model", "dcgan*"), ("metric", "accuracy")])
    assert set(only["run"]) == {"dcgan-a", "dcgan-b"} and len(only) == 4
    either = results.filter_table(frame, [("seed", "0"), ("seed", "2")])
    assert set(either["run"]) == {"dcgan-a", "other-c"}
    unverified = results.filter_table(frame, [("data_verified", "false")])
    assert set(unverified["run"]) == {"other-c"}
    code, _, err = cli(capsys, "results", str(runs), "--filter", "colour=red")
    assert code == 2 and "Unknown filter column 'colour'" in err and "Traceback" not in err
    code, _, err = cli(capsys, "results", str(runs), "--filter", "model")
    assert code == 2 and "Malformed filter 'model': use --filter key=value" in err


def test_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "results", str(tmp_path / "nope"))
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "results", str(tmp_path / "empty"))
    assert code == 2 and "No run folders" in err


def test_results_plot(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "plots" / "results.png"
    code, _, err = cli(capsys, "results", str(runs), "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = cli(capsys, "results", str(runs / "dcgan-a"), "--plot", str(tmp_path / "one.png"))
    assert code == 2 and "at least two run" in err
    assert not (tmp_path / "one.png").exists()


def test_compare(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, c = runs / "dcgan-a", runs / "nested" / "other-c"
    frame = results.compare_runs(a, c)
    trained = frame[(frame["metric"] == "accuracy") & (frame["discriminator"] == "trained")].iloc[0]
    assert trained["value_a"] == 0.80 and trained["value_b"] == 0.60
    assert trained["diff"] == pytest.approx(-0.20) and trained["rel_diff"] == pytest.approx(-0.25)
    fid = frame[frame["metric"] == "fid"].iloc[0]
    assert pd.isna(fid["value_a"]) and fid["value_b"] == 55.5
    assert len(frame) == 4 + 3 + 1  # rows matched despite provenance that differs between runs
    assert {"eval_seconds", "step", "train_data_verified", "probe"}.isdisjoint(frame.columns)
    code, out, err = cli(capsys, "compare", str(a), str(c))
    assert code == 0, err
    assert "Settings that differ:" in out and "model" in out and "other-gan" in out
    assert "value_a" in out and "rel_diff" in out
    code, _, err = cli(capsys, "compare", str(a), str(runs))
    assert code == 2 and "not a run folder" in err


def test_results_table_shows_probe_notes(tmp_path: Path) -> None:
    rows = [{"eval": "digits-svm", "metric": "gain_over_random", "value": 0.001, "variant": "trained-random",
             "note": "not distinguishable from 0"}]
    make_run(tmp_path, "a", model="dcgan", seed=0, acc=0.5, extra_rows=rows)
    frame = results.results_table([tmp_path])
    shown = frame[results.display_columns(frame)]
    assert "note" in shown.columns
    assert "not distinguishable from 0" in results.format_table(shown, "table")
    plain = frame.drop(columns=["note"])
    assert "note" not in results.display_columns(plain)
