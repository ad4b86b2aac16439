"""``gansuite bench`` on pytest-benchmark's storage and comparison: hardware ids, the storage
layout, the command line, history and docs/benchmarks.md; and two real runs (slow): a
deliberately slowed model that ``--compare`` rejects, and a deliberately slowed engine that the
throughput gate rejects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers import BENCH_MACHINE as MACHINE
from helpers import make_report
from helpers import store_report as store

from gansuite.contract.errors import OptionError
from gansuite.report import bench, bench_figures, bench_history, benchdoc

REPO = Path(__file__).resolve().parents[1]


def test_machine_id_is_sanitized_and_hostname_free() -> None:
    details = {"system": "linux", "arch": "x86_64", "cpu_model": "AMD EPYC 7B13 64-Core Processor", "ncpu": 2,
               "cuda_device": None}
    assert bench.machine_id(details) == "linux-x86_64-amd-epyc-7b13-64-core-2cpu"
    details["cuda_device"] = "NVIDIA H200"
    assert bench.machine_id(details) == "linux-x86_64-amd-epyc-7b13-64-core-2cpu-nvidia-h200"
    details["cpu_model"] = "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert bench.machine_id(details).startswith("linux-x86_64-intel-xeon-2cpu")
    ours = bench.machine_id()
    assert ours == ours.lower() and " " not in ours and "/" not in ours


def test_rows_carry_throughput_and_extra_info() -> None:
    report = make_report({"test_plain": 10.0, "test_img": 32.0}, extra={"ratio_paired": 1.2})
    del report["benchmarks"][0]["extra_info"]["items_per_s"]
    plain, img = bench.benchmark_rows(report)
    assert plain["unit"] == "calls/s" and plain["throughput"] == pytest.approx(10.0 / 16)
    assert img["unit"] == "images/s" and img["throughput"] == 32.0 and img["ratio_paired"] == 1.2


def test_storage_is_one_folder_per_hardware_and_mode(tmp_path: Path) -> None:
    first = store(tmp_path, 1, make_report({"t": 1.0}))
    second = store(tmp_path, 2, make_report({"t": 2.0}))
    full = store(tmp_path, 1, make_report({"t": 3.0}), quick=False)
    other = store(tmp_path, 1, make_report({"t": 4.0}), machine="m2")
    assert first.parts[-4:-1] == (MACHINE, "quick", "Linux-CPython-3.11-64bit")
    assert bench.saved_reports(tmp_path, MACHINE, "quick") == [first, second]
    assert bench.saved_reports(tmp_path, MACHINE, "full") == [full]
    assert bench.saved_reports(tmp_path) == [full, first, second, other]
    assert bench.saved_reports(tmp_path, "m3") == []


def test_history_table_and_plot(tmp_path: Path) -> None:
    for day, ips in ((1, 100.0), (2, 90.0), (3, 120.0)):
        report = make_report({"test_generator_forward[cpu-dcgan]": ips, "test_discriminator_forward[cpu-dcgan]": 2 * ips},
                             when=f"2024-05-0{day}T10:00:00+00:00", commit=str(day) * 40)
        store(tmp_path, day, report)
    frame = bench_history.history_table(tmp_path, MACHINE)
    assert len(frame) == 6 and list(dict.fromkeys(frame["commit"])) == ["11111111", "22222222", "33333333"]
    assert set(frame["mode"]) == {"quick"}
    wide = bench_history.history_pivot(frame, last=2)
    assert list(wide.columns[-2:]) == ["2024-05-02 10:00 22222222", "2024-05-03 10:00 33333333"]
    row = wide[wide["benchmark"] == "test_generator_forward[cpu-dcgan]"].iloc[0]
    assert row.iloc[-1] == pytest.approx(120.0) and row.iloc[-2] == pytest.approx(90.0)
    pngs = bench_figures.plot_families(frame, tmp_path / "h")
    assert [p.name for p in pngs] == ["h-generation.png", "h-features.png"]  # test_g / test_d: by name
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_cli_drives_pytest_benchmark_storage_and_compare(tmp_path: Path, cli: Any, monkeypatch) -> None:
    calls: list[list[str]] = []
    codes = iter([0, 0, 1, 5])

    def fake(args: list[str], *, quick: bool, bench_dir: Path | None = None) -> int:
        calls.append(list(args))
        code = next(codes)
        if code == 5:
            raise OptionError("No benchmark matches that PATTERN")
        return code

    monkeypatch.setattr(bench, "machine_id", lambda details=None: MACHINE)
    monkeypatch.setattr(bench, "run_benchmarks", fake)
    hist, report = tmp_path / "history", str(tmp_path / "latest.json")
    storage = f"--benchmark-storage=file://{bench.storage_dir(hist, MACHINE, True).resolve()}"

    res = cli("bench", "--quick", "--save", "--history-dir", str(hist), "--json", report, "slow")
    assert res.returncode == 0, res.stderr
    assert storage in calls[0] and "--benchmark-autosave" in calls[0] and calls[0][-2:] == ["-k", "slow"]
    assert not any(a.startswith("--benchmark-compare") for a in calls[0])

    res = cli("bench", "--quick", "--compare", "--history-dir", str(hist), "--json", report)
    assert res.returncode == 0 and "nothing to compare with" in res.stderr  # nothing stored yet
    assert not any(a.startswith("--benchmark-compare") for a in calls[1])

    stored = store(hist, 1, make_report({"t": 1.0}))
    res = cli("bench", "--quick", "--compare", "--compare-fail", "min:5%", "--history-dir", str(hist),
              "--json", report)
    assert res.returncode == 1 and "regressed against the stored run" in res.stderr
    assert calls[2][-2:] == [f"--benchmark-compare={stored.resolve()}", "--benchmark-compare-fail=min:5%"]

    res = cli("bench", "--history-dir", str(hist), "--json", report, "nothing-matches")
    assert res.returncode == 2 and "No benchmark matches" in res.stderr
    res = cli("bench", "a", "b")
    assert res.returncode == 2 and "one PATTERN" in res.stderr


def test_cli_history(tmp_path: Path, cli: Any) -> None:
    hist = tmp_path / "history"
    store(hist, 1, make_report({"test_g[cpu-slow]": 100.0}, commit="1" * 40))
    store(hist, 2, make_report({"test_g[cpu-slow]": 60.0}, when="2024-05-02T10:00:00+00:00", commit="2" * 40))
    res = cli("bench", "history", "--machine", MACHINE, "--history-dir", str(hist), "--plot", str(tmp_path / "h.html"))
    assert res.returncode == 0, res.stderr
    line = next(line for line in res.stdout.splitlines() if "test_g[cpu-slow]" in line)
    assert line.split()[-2:] == ["100", "60"]
    assert (tmp_path / "h-other.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "h.html").read_text()
    assert "data:image/png;base64," in page and "<img" in page and "src='h-" not in page  # self-contained
    res = cli("bench", "history", "--machine", "nowhere", "--history-dir", str(hist))
    assert res.returncode == 2 and MACHINE in res.stderr


def test_report_page_from_stored_runs_and_records(tmp_path: Path, cli: Any) -> None:
    hist, results = tmp_path / "history", tmp_path / "results"
    gate = f"{benchdoc.GATE_BENCHMARK}[cpu-32-dcgan]"
    for day, ratio in ((1, 1.1), (2, 0.9), (3, 1.3)):
        extra = {"ratio_paired": ratio, "ratio_floor": 0.85, "model": "dcgan", "image_size": 32,
                 "engine_images_per_s": 50.0 * ratio, "baseline_images_per_s": 50.0}
        store(hist, day, make_report({gate: 64.0, "test_other": 8.0}, when=f"2024-05-0{day}T10:00:00+00:00",
                                     extra=extra))
    results.mkdir()
    (results / "svm.json").write_text(json.dumps({
        "title": "An SVM run", "command": "gansuite run --model dcgan", "notes": ["features: 7,168"],
        "rows": [{"eval": "x-svm", "metric": "accuracy", "value": 0.679}, {"eval": "x-svm", "value": 0.609}],
    }))
    res = cli("bench", "report", "--out", str(tmp_path / "b.md"), "--history-dir", str(hist),
              "--results-dir", str(results))
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "b.md").read_text()
    assert f"| {MACHINE} | quick | dcgan 32x32 | cpu | 3 | 0 | 0.9 / 1.1 / 1.3 | 0.85 | 65 | 50 |" in page
    assert "| test_other | other | 8 | images/s |  |  |  | 3 |" in page
    assert "### An SVM run" in page and "`gansuite run --model dcgan`" in page and "- features: 7,168" in page
    assert "| x-svm | accuracy | 0.679 |" in page and "| x-svm |  | 0.609 |" in page
    (results / "bad.json").write_text("[]")
    res = cli("bench", "report", "--out", str(tmp_path / "b.md"), "--history-dir", str(hist),
              "--results-dir", str(results))
    assert res.returncode == 2 and "bad.json is not a result record" in res.stderr


def test_docs_benchmarks_md_is_generated_from_the_committed_files(tmp_path: Path, cli: Any) -> None:
    """docs/benchmarks.md is what 'gansuite bench report' makes of benchmarks/history and results."""
    res = cli("bench", "report", "--out", str(tmp_path / "b.md"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "b.md").read_text() == (REPO / "docs" / "benchmarks.md").read_text(), (
        "docs/benchmarks.md is stale: run 'gansuite bench report'")


SLEEPY_PLUGIN = '''
"""A test model whose generator sleeps SLEEPY_GAN_DELAY seconds per call."""
import os
import time

from gansuite import GANModel, ModelSpec, TrainingRecipe, hookimpl


@hookimpl
def register_models(register):
    register(ModelSpec(name="sleepy-gan", summary="Tiny GAN with a slow generator.",
                       factory="sleepy_gan_plugin:build"))


def build(config, *, image_size, channels):
    import torch
    import torch.nn.functional as F
    from torch import nn

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, channels * 8 * 8)

        def forward(self, z):
            time.sleep(float(os.environ.get("SLEEPY_GAN_DELAY", "0")))
            return F.interpolate(torch.tanh(self.lin(z)).view(-1, channels, 8, 8), size=image_size)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(channels, 4, 4, 4)
            self.head = nn.Linear(4 * (image_size // 4) ** 2, 1)

        def features(self, x):
            return [self.conv(x)]

        def forward(self, x):
            return self.head(F.leaky_relu(self.conv(x)).flatten(1)).squeeze(1)

    class Sleepy(GANModel):
        def __init__(self):
            self.generator, self.discriminator = G(), D()
            self.z_dim, self.image_size, self.channels = 8, image_size, channels
            self.recipe = TrainingRecipe(batch_size=16)

    return Sleepy()
'''


def _install(site: Path, dist: str, module: str, source: str) -> None:
    """A distribution on sys.path with an entry point in the group ``gansuite`` (no pip needed)."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gansuite]\n{module} = {module}\n")


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), **extra}
    env.pop("GANSUITE_DEBUG", None)
    return env


@pytest.mark.slow
def test_compare_fails_on_a_slowed_model(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "sleepy-gan", "sleepy_gan_plugin", SLEEPY_PLUGIN)
    hist = tmp_path / "history"
    args = [sys.executable, "-m", "gansuite", "bench", "--quick", "--history-dir", str(hist), "--json",
            str(tmp_path / "latest.json"), "sleepy-gan and cpu and (generator_forward or train_step)"]
    plugins = {"GANSUITE_LOAD_PLUGINS": "gansuite,sleepy-gan"}

    first = subprocess.run([*args, "--save"], env=_env(site, SLEEPY_GAN_DELAY="0", **plugins),
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    (saved,) = bench.saved_reports(hist, mode="quick")
    names = {b["name"] for b in json.loads(saved.read_text())["benchmarks"]}
    assert names == {"test_generator_forward[sleepy-gan-cpu]", "test_train_step[sleepy-gan-cpu]"}
    info = json.loads(saved.read_text())["benchmarks"][0]["extra_info"]
    assert info["plugin_distribution"] == "sleepy-gan" and info["unit"] == "images/s"

    second = subprocess.run([*args, "--compare"], env=_env(site, SLEEPY_GAN_DELAY="0.5", **plugins),
                            capture_output=True, text=True, timeout=600)
    out = second.stdout + second.stderr
    assert second.returncode == 1, out[-3000:]
    regressed = out[out.index("Performance has regressed:"):].splitlines()[1:3]
    assert {line.split()[0] for line in regressed} == {"test_generator_forward[sleepy-gan-cpu]",
                                                       "test_train_step[sleepy-gan-cpu]"}, out[-3000:]
    assert all("Field 'median' has failed PercentageRegressionCheck" in line for line in regressed)


SLOWED_ENGINE = '''
"""A pytest plugin that makes every engine step train five times (the throughput gate must notice,
even when other work on the machine makes single rounds several times slower)."""
from gansuite.engine.step import GANStep

_step = GANStep.__call__


def _five_times(self, *args, **kwargs):
    for _ in range(4):
        _step(self, *args, **kwargs)
    return _step(self, *args, **kwargs)


GANStep.__call__ = _five_times
'''


@pytest.mark.slow
def test_throughput_gate_fails_on_a_slowed_engine(tmp_path: Path) -> None:
    (tmp_path / "slowed_engine.py").write_text(SLOWED_ENGINE)
    cmd = [sys.executable, "-m", "pytest", "-c", "benchmarks/pytest.ini", "benchmarks/bench_train_throughput.py",
           "-p", "slowed_engine", "-p", "no:cacheprovider", "-q", "-k", "cpu-32-dcgan]", "--benchmark-disable-gc"]
    res = subprocess.run(cmd, env=_env(tmp_path, GANSUITE_BENCH_QUICK="1"), cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    assert "the engine trains dcgan 32x32 at" in out and "below the floor of" in out, out[-3000:]
