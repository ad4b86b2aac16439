"""Source of ``badplug``: a plugin that misbehaves on purpose (written to a temporary folder and
installed there as an entry point by :func:`install_badplug`; never imported from here)."""

from __future__ import annotations

from pathlib import Path

SOURCE = r'''
import os
import sys
import time
from dataclasses import dataclass

from gansuite import DatasetSpec, EvalSpec, ImageData, ModelSpec, ProbeSpec, Verification, hookimpl

_AT_IMPORT = os.environ.get("BADPLUG_AT_IMPORT", "")
if _AT_IMPORT == "exit":
    sys.exit(0)
if _AT_IMPORT == "kbi":
    raise KeyboardInterrupt
if _AT_IMPORT == "raise":
    raise ImportError("badplug cannot import its backend")


def _marker(name):
    folder = os.environ.get("BADPLUG_MARKERS")
    if folder:
        open(os.path.join(folder, name), "w").close()


def _slow(name):
    _marker(name)
    for _ in range(1200):
        time.sleep(0.05)


# -- models ---------------------------------------------------------------------------------
def model_raises(config, *, image_size, channels):
    raise RuntimeError("factory boom")


def model_not_a_model(config, *, image_size, channels):
    return object()


def model_step_raises(config, *, image_size, channels):
    from gansuite_example.models import build
    from gansuite_example import TinyGANConfig

    model = build(TinyGANConfig(), image_size=image_size, channels=channels)

    def train_step(batch, ctx):
        raise ZeroDivisionError("step boom")

    model.train_step = train_step
    return model


def model_bad_stats(config, *, image_size, channels):
    """tiny-gan whose train_step returns, as stat 'loss_d', what BADPLUG_STATS names."""
    from gansuite_example.models import build
    from gansuite_example import TinyGANConfig

    model = build(TinyGANConfig(), image_size=image_size, channels=channels)
    default = model.train_step

    def train_step(batch, ctx):
        import torch

        stats = dict(default(batch, ctx))
        kind = os.environ.get("BADPLUG_STATS", "str")
        if ctx.step + 1 < int(os.environ.get("BADPLUG_STATS_FROM", "1")):
            return stats
        if kind == "mapping":
            return [stats["loss_d"]]
        stats["loss_d"] = {"str": "low", "vec": torch.zeros(3), "obj": object(), "list": [1.0],
                           "none": None, "nan": float("nan"), "complex": torch.tensor(1j)}[kind]
        return stats

    model.train_step = train_step
    return model


def model_bad_extra(config, *, image_size, channels):
    """tiny-gan whose extra_state() holds an object a checkpoint cannot store."""
    from gansuite_example.models import build
    from gansuite_example import TinyGANConfig

    model = build(TinyGANConfig(), image_size=image_size, channels=channels)
    model.extra_state = lambda: {"schedule": object()}
    return model


# -- datasets -------------------------------------------------------------------------------
class _Data:
    splits = ("train", "test")

    def __init__(self, mode):
        self.mode = mode

    def verify(self):
        if self.mode == "verify":
            raise ValueError("verify boom")
        return Verification(None, detail="no checksums")

    def info(self):
        return {}

    def load(self, split, *, image_size=None):
        if self.mode == "load":
            raise MemoryError("load boom")
        if self.mode == "slow":
            _slow("loading")
        import torch

        size = image_size or 32
        return ImageData(torch.zeros(16, 3, size, size, dtype=torch.uint8), None, (), {})


def ds_raises(config, *, root):
    raise OSError(5, "Input/output error", "/dev/badplug")


def ds_load_raises(config, *, root):
    return _Data("load")


def ds_verify_raises(config, *, root):
    return _Data("verify")


def ds_slow(config, *, root):
    return _Data("slow")


# -- probes ---------------------------------------------------------------------------------
class _Probe:
    def __init__(self, mode):
        self.mode = mode

    def run(self, ctx):
        if self.mode == "run":
            raise KeyError("probe boom")
        if self.mode == "slow":
            _slow("probing")
        if self.mode == "rows":
            kind = os.environ.get("BADPLUG_ROWS", "str")
            if kind == "reserved":
                return [{"metric": "m", "value": 1.0, "seed": 7, "precision": 0.5}]
            if kind == "tensor":
                import torch

                return [{"metric": "m", "value": torch.tensor(1.0)}]
            return [{"metric": "m", "value": {"str": "1.0", "bool": True, "none": None}[kind]}]
        return [{"metric": "m", "value": 1.0}]


class _NoInfoData:
    """A dataset written without info()."""

    splits = ("train", "test")

    def verify(self):
        return Verification(None, detail="no checksums")

    def load(self, split, *, image_size=None):
        return _Data("ok").load(split, image_size=image_size)


def ds_no_info(config, *, root):
    return _NoInfoData()


def probe_bad_rows(config):
    return _Probe("rows")


def probe_raises(config):
    raise TypeError("probe factory boom")


def probe_run_raises(config):
    return _Probe("run")


def probe_slow(config):
    return _Probe("slow")


@hookimpl
def register_models(register):
    for name, fn in (("bad-factory", "model_raises"), ("bad-type", "model_not_a_model"),
                     ("bad-step", "model_step_raises"), ("bad-stats", "model_bad_stats"),
                     ("bad-extra", "model_bad_extra")):
        register(ModelSpec(name=name, summary="misbehaves", factory=f"badplug:{fn}"))


@hookimpl
def register_datasets(register):
    for name, fn in (("bad-open", "ds_raises"), ("bad-load", "ds_load_raises"), ("bad-verify", "ds_verify_raises"),
                     ("slow-data", "ds_slow"), ("no-info", "ds_no_info")):
        register(DatasetSpec(name=name, summary="misbehaves", factory=f"badplug:{fn}", splits=("train", "test")))


@hookimpl
def register_probes(register):
    for name, fn in (("bad-probe", "probe_raises"), ("bad-probe-run", "probe_run_raises"),
                     ("slow-probe", "probe_slow"), ("bad-rows", "probe_bad_rows")):
        register(ProbeSpec(name=name, summary="misbehaves", factory=f"badplug:{fn}"))


@hookimpl
def register_evals(register):
    for name, probe in (("bad-probe-eval", "bad-probe"), ("bad-run-eval", "bad-probe-run"),
                        ("slow-eval", "slow-probe"), ("bad-rows-eval", "bad-rows")):
        register(EvalSpec(name=name, summary="misbehaves", dataset="fake", probe=probe))
    if os.environ.get("BADPLUG_HOOK_EXIT"):
        sys.exit(3)
'''


def install_badplug(folder: Path) -> Path:
    """Write ``badplug`` and a distribution declaring it under the ``gansuite`` entry-point group."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "badplug.py").write_text(SOURCE)
    dist = folder / "badplug-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: badplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[gansuite]\nbadplug = badplug\n")
    return folder
