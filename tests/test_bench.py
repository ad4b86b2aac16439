"""``gansuite bench``: machine ids, saving, comparing, history; and a real run that catches a
deliberately slowed model (a plugin installed on the fly through its entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gansuite.cli import main
from gansuite.plugin.errors import OptionError
from gansuite.report import bench, bench_history

MACHINE = "linux-x86_64-test-cpu-2cpu"


def make_report(
    speeds: dict[str, float],
    *,
    quick: bool = True,
    when: str = "2024-05-01T10:00:00+00:00",
    commit: str = "a" * 40,
    machine: str = MACHINE,
) -> dict[str, Any]:
    """A pytest-benchmark report: ``speeds`` maps a benchmark name to images/s (batch 16)."""
    benchmarks = []
    for name, ips in speeds.items():
        median = 16 / ips
        benchmarks.append(
            {
                "name": name,
                "fullname": f"bench_registry.py::{name}",
                "group": None,
                "stats": {
                    "min": median * 0.9,
                    "max": median * 1.1,
                    "mean": median,
                    "stddev": 0.0,
                    "median": median,
                    "iqr": 0.0,
                    "ops": 1 / median,
                    "rounds": 3,
                },
                "extra_info": {
                    "items_per_s": ips,
                    "unit": "images/s",
                    "device": "cpu",
                    "dtype": "float32",
                    "batch_size": 16,
                },
            }
        )
    return {
        "machine_info": {"node": "somehost", "gansuite": {"machine": machine, "quick": quick}},
        "commit_info": {"id": commit, "dirty": False},
        "benchmarks": benchmarks,
        "datetime": when,
        "version": "5.0",
    }


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_machine_id_is_sanitized_and_hostname_free() -> None:
    details = {
        "system": "linux",
        "arch": "x86_64",
        "cpu_model": "AMD EPYC 7B13 64-Core Processor",
        "ncpu": 2,
        "cuda_device": None,
    }
    assert bench.machine_id(details) == "linux-x86_64-amd-epyc-7b13-64-core-2cpu"
    details["cuda_device"] = "NVIDIA H200"
    assert bench.machine_id(details) == "linux-x86_64-amd-epyc-7b13-64-core-2cpu-nvidia-h200"
    details["cpu_model"] = "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert bench.machine_id(details).startswith("linux-x86_64-intel-xeon-2cpu")
    ours = bench.machine_id()
    assert ours == ours.lower() and " " not in ours and "/" not in ours


def test_compare_names_slower_benchmarks() -> None:
    before = make_report(
        {
            "test_g[cpu-dcgan]": 100.0,
            "test_d[cpu-dcgan]": 100.0,
            "test_t[cpu-dcgan]": 100.0,
            "test_old[cpu-x]": 5.0,
        }
    )
    now = make_report(
        {
            "test_g[cpu-dcgan]": 85.0,
            "test_d[cpu-dcgan]": 95.0,
            "test_t[cpu-dcgan]": 130.0,
            "test_new[cpu-x]": 1.0,
        }
    )
    result = bench.compare_reports(now, before, 0.10)
    assert result.slower == ["test_g[cpu-dcgan]"]
    status = {r["benchmark"]: r["status"] for r in result.rows}
    assert status == {
        "test_g[cpu-dcgan]": "SLOWER",
        "test_d[cpu-dcgan]": "ok",
        "test_t[cpu-dcgan]": "faster",
        "test_new[cpu-x]": "new",
        "test_old[cpu-x]": "gone",
    }
    change = {r["benchmark"]: r["change"] for r in result.rows}
    assert change["test_g[cpu-dcgan]"] == pytest.approx(-0.15)
    # a looser threshold lets the 15% drop pass
    assert bench.compare_reports(now, before, 0.20).slower == []
    with pytest.raises(OptionError, match="between 0 and 1"):
        bench.compare_reports(now, before, 10)


def test_throughput_falls_back_to_calls_per_second() -> None:
    report = make_report({"test_plain": 10.0})
    del report["benchmarks"][0]["extra_info"]["items_per_s"]
    row = bench.benchmark_rows(report)[0]
    assert row["unit"] == "calls/s" and row["throughput"] == pytest.approx(10.0 / 16)


def test_save_and_last_saved_by_machine_and_mode(tmp_path: Path) -> None:
    old = bench.save_report(make_report({"t": 1.0}, when="2024-05-01T10:00:00+00:00"), tmp_path)
    new = bench.save_report(
        make_report({"t": 2.0}, when="2024-05-02T10:00:00+00:00", commit="b" * 40), tmp_path
    )
    full = bench.save_report(make_report({"t": 3.0}, when="2024-05-03T10:00:00+00:00", quick=False), tmp_path)
    other = bench.save_report(
        make_report({"t": 4.0}, when="2024-05-04T10:00:00+00:00", machine="m2"), tmp_path
    )
    assert old == tmp_path / MACHINE / f"20240501T100000Z_{'a' * 12}.json"
    assert new.name == f"20240502T100000Z_{'b' * 12}.json" and other.parent.name == "m2"
    found = bench.last_saved(tmp_path, MACHINE, quick=True)
    assert found is not None and found[0] == new
    assert bench.last_saved(tmp_path, MACHINE, quick=False)[0] == full  # type: ignore[index]
    assert bench.last_saved(tmp_path, "m3", quick=True) is None
    assert json.loads(new.read_text())["benchmarks"][0]["extra_info"]["items_per_s"] == 2.0


def test_history_table_and_plot(tmp_path: Path) -> None:
    for day, ips in ((1, 100.0), (2, 90.0), (3, 120.0)):
        report = make_report(
            {"test_g[cpu-dcgan]": ips, "test_d[cpu-dcgan]": 2 * ips},
            when=f"2024-05-0{day}T10:00:00+00:00",
            commit=str(day) * 40,
        )
        bench.save_report(report, tmp_path)
    frame = bench_history.history_table(tmp_path, MACHINE)
    assert len(frame) == 6 and set(frame["commit"]) == {"11111111", "22222222", "33333333"}
    wide = bench_history.history_pivot(frame, last=2)
    assert list(wide.columns[-2:]) == ["2024-05-02 10:00 22222222", "2024-05-03 10:00 33333333"]
    row = wide[wide["benchmark"] == "test_g[cpu-dcgan]"].iloc[0]
    assert row.iloc[-1] == pytest.approx(120.0) and row.iloc[-2] == pytest.approx(90.0)
    png = bench_history.plot_history(frame, tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_save_compare_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Any, bool]] = []
    reports = [
        make_report({"test_g[cpu-slow]": 100.0, "test_d[cpu-slow]": 50.0}),
        make_report({"test_g[cpu-slow]": 60.0, "test_d[cpu-slow]": 50.0}, when="2024-05-02T10:00:00+00:00"),
    ]

    def fake_run(pattern: Any, *, quick: bool, json_path: Path, **_: Any) -> dict[str, Any]:
        calls.append((pattern, quick))
        return reports[len(calls) - 1]

    monkeypatch.setattr(bench, "run_benchmarks", fake_run)
    hist = str(tmp_path / "history")
    code, out, err = cli(capsys, "bench", "--quick", "--save", "--history-dir", hist, "slow")
    assert code == 0, err
    assert calls == [("slow", True)] and "Saved" in out
    code, out, err = cli(capsys, "bench", "--quick", "--compare", "--threshold", "10%", "--history-dir", hist)
    assert code == 1
    assert "test_g[cpu-slow]" in err and "test_d[cpu-slow]" not in err and "-40.0%" in out
    code, out, err = cli(
        capsys,
        "bench",
        "history",
        "--machine",
        MACHINE,
        "--history-dir",
        hist,
        "--plot",
        str(tmp_path / "h.png"),
    )
    assert code == 0, err
    assert "test_g[cpu-slow]" in out and "100" in out
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = cli(capsys, "bench", "a", "b")
    assert code == 2 and "one PATTERN" in err


SLEEPY_PLUGIN = '''
"""A test model whose generator sleeps SLEEPY_GAN_DELAY seconds per call."""
import os
import time

from gansuite.plugin.hookspecs import hookimpl
from gansuite.plugin.specs import ModelSpec


@hookimpl
def register_models(register):
    register(ModelSpec(name="sleepy-gan", summary="Tiny GAN with a slow generator.",
                       factory="sleepy_gan_plugin:build"))


def build(config, *, image_size, channels):
    import torch
    from torch import nn
    import torch.nn.functional as F
    from gansuite.plugin.protocols import TrainingRecipe

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, channels * 8 * 8)

        def forward(self, z):
            time.sleep(float(os.environ.get("SLEEPY_GAN_DELAY", "0")))
            x = torch.tanh(self.lin(z)).view(-1, channels, 8, 8)
            return F.interpolate(x, size=image_size)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(channels, 4, 4, 4)
            self.head = nn.Linear(4 * (image_size // 4) ** 2, 1)

        def features(self, x):
            return [self.conv(x)]

        def forward(self, x):
            return self.head(F.leaky_relu(self.conv(x)).flatten(1)).squeeze(1)

    class Model:
        z_dim, recipe = 8, TrainingRecipe(batch_size=16)

        def __init__(self):
            self.generator, self.discriminator = G(), D()
            self.image_size, self.channels = image_size, channels

        def sample_z(self, n, *, generator=None, device=None):
            return torch.randn(n, 8, generator=generator, device=device)

        def features(self, x):
            return self.discriminator.features(x)

        def d_loss(self, real, fake):
            return F.softplus(-real).mean() + F.softplus(fake).mean()

        def g_loss(self, fake):
            return F.softplus(-fake).mean()

        def optimizers(self):
            return (torch.optim.Adam(self.generator.parameters()),
                    torch.optim.Adam(self.discriminator.parameters()))

    return Model()
'''


def _install_sleepy(site: Path) -> None:
    """A distribution on sys.path with an entry point in the group ``gansuite`` (no pip needed)."""
    site.mkdir()
    (site / "sleepy_gan_plugin.py").write_text(textwrap.dedent(SLEEPY_PLUGIN))
    info = site / "sleepy_gan-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sleepy-gan\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gansuite]\nsleepy = sleepy_gan_plugin\n")


@pytest.mark.slow
def test_compare_fails_on_a_slowed_model(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_sleepy(site)
    hist, report = tmp_path / "history", tmp_path / "latest.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    for key in ("GANSUITE_DISABLE_PLUGINS", "GANSUITE_DEBUG"):
        env.pop(key, None)
    args = [
        sys.executable,
        "-m",
        "gansuite",
        "bench",
        "--quick",
        "--history-dir",
        str(hist),
        "--json",
        str(report),
        "sleepy-gan and cpu and (generator_forward or train_step)",
    ]

    first = subprocess.run(
        [*args, "--save"], env={**env, "SLEEPY_GAN_DELAY": "0"}, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    saved = list(hist.glob("*/*.json"))
    assert len(saved) == 1
    names = {b["name"] for b in json.loads(saved[0].read_text())["benchmarks"]}
    assert names == {"test_generator_forward[sleepy-gan-cpu]", "test_train_step[sleepy-gan-cpu]"}
    info = json.loads(saved[0].read_text())["benchmarks"][0]["extra_info"]
    assert info["plugin_distribution"] == "sleepy-gan" and info["unit"] == "images/s"

    second = subprocess.run(
        [*args, "--compare"],
        env={**env, "SLEEPY_GAN_DELAY": "0.5"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    slower_line = [line for line in second.stderr.splitlines() if line.startswith("Slower than")]
    assert slower_line, second.stderr[-2000:]
    assert "test_generator_forward[sleepy-gan-cpu]" in slower_line[0]
    assert "test_train_step[sleepy-gan-cpu]" in slower_line[0]
