"""Helpers shared by test modules (no test module imports another): fixture-file writers for the
dataset plugins, and the context and probe builders of the probe tests."""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import torch
from gansuite_probes import EVALS, PROBES
from gansuite_probes.testing import TinyConfig, TinyGAN, build_tiny
from PIL import Image

from gansuite import ImageData, ProbeContext
from gansuite._host.options import build_config

# -- dataset fixture files ------------------------------------------------------------------------

def write_cifar(root: Path, per_batch: int = 4) -> Path:
    """Five train batches, a test batch and batches.meta, as the official archive lays them out."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    for k, name in enumerate(names):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        data[:, 0] = k  # mark the batch in the first red pixel
        batch = {"batch_label": name, "labels": [(k + i) % 10 for i in range(per_batch)],
                 "data": data, "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"], "num_vis": 3072, "num_cases_per_batch": per_batch}
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return folder


def image(w: int, h: int, color: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (w, h), color)
    img.paste((255, 255, 255), (w // 2 - 2, h // 2 - 2, w // 2 + 2, h // 2 + 2))  # a white center
    return img


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_folder(root: Path) -> Path:
    folder = root / "pics"
    (folder / "cats").mkdir(parents=True)
    (folder / "dogs").mkdir()
    image(40, 20, (255, 0, 0)).save(folder / "dogs" / "b.png")
    image(20, 40, (0, 255, 0)).save(folder / "cats" / "z.jpg", quality=95)
    image(30, 30, (0, 0, 255)).save(folder / "cats" / "a.png")
    return folder


def write_lsun(root: Path, n: int = 4, fmt: str = "WEBP") -> Path:
    import lmdb

    path = root / "lsun" / "bedroom_train_lmdb"
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(f"{i:040x}".encode(), encode(image(48, 36, (40 * i, 10, 10)), fmt))
    env.close()
    return path


def write_imagenet32(root: Path, batches: int = 2, n: int = 3) -> Path:
    folder = root / "imagenet32"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for name in [f"train_data_batch_{i}.npz" for i in range(1, batches + 1)] + ["val_data.npz"]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = list(rng.integers(1, 1001, n))
        np.savez(folder / name, data=data, labels=labels, mean=data.mean(0))
    return folder


def write_svhn(folder: Path, split: str = "train", n: int = 5) -> np.ndarray:
    """X is H x W x C x N uint8; y is N x 1 with 10 standing for the digit 0."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9]][:n], dtype=np.uint8)
    scipy.io.savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})
    return x



def write_npz(root: Path) -> None:
    """The example plugin's npz-images layout: one train.npz of four labelled 8x8 images."""
    (root / "npz-images").mkdir()
    np.savez(root / "npz-images" / "train.npz", images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4))


# Fast settings of every reference probe (tests/test_probes.py checks they cover the registry).
FAST: dict[str, dict[str, object]] = {
    "svm": {"n_draws": 3, "val_size": 200},
    "latent-walk": {"n_walks": 4, "n_points": 3, "steps": 4, "n_reference": 50, "copy_bank": 200, "n_boot": 100},
    "arithmetic": {"n_classifier": 600, "n_pool": 400, "max_pairs": 6, "targets_per_pair": 4, "min_trials": 24,
                   "grid_pairs": 2, "n_neighbours": 4, "copy_bank": 300, "n_boot": 100},
    "fid": {},  # fid, kid, prdc, is: tests/test_fid.py
    "kid": {"n_samples": 60, "n_reference": 60, "subset_size": 20, "subsets": 5, "input_size": 32},
    "prdc": {"n_samples": 60, "n_reference": 60},
    "is": {"n_samples": 60},
    "memorization": {"n_samples": 100, "n_holdout": 100, "max_train": 600, "copy_bank": 200, "n_boot": 100},
    "guided-backprop": {"n_images": 300, "n_channels": 8, "top_k": 4, "n_boot": 200},
    "forgetting": {"n_classifier": 600, "n_pool": 200, "n_random_draws": 3, "n_boot": 100, "max_iter": 50},
    "gan-test": {"n_train": 600, "epochs": 2, "width": 8, "n_samples": 100, "max_test": 200},
    "cas": {"n_train": 600, "epochs": 2, "width": 8, "n_samples": 100, "max_test": 200},  # deprecated gan-test
    "cas-score": {"n_train": 200, "epochs": 2, "width": 8, "max_test": 200, "n_boot": 200},
}


# -- probes -----------------------------------------------------------------------------------------
class DataLikeGAN(TinyGAN):
    """``G(z) = mean + sqrt(3 / z_dim) * sum_k z_k (r_k - mean)``: real images mixed linearly.

    With uniform z in [-1, 1] two samples differ, in pixels, as much as two real images do on
    average, and a linear walk is a straight line: its normalised pixel path length is about 1.
    """

    def __init__(self, images: torch.Tensor) -> None:
        torch.manual_seed(0)
        super().__init__(TinyConfig(), 16, 3)
        real = images[: self.z_dim].float() / 127.5 - 1
        mean = (images.float() / 127.5 - 1).mean(0)
        basis = (real - mean).flatten(1) * (3.0 / self.z_dim) ** 0.5

        class _Mix(torch.nn.Module):
            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return (mean + (z @ basis).view(-1, *mean.shape)).clamp(-1, 1)

        self.generator = _Mix()


def dcgan_like_random(seed: int) -> TinyGAN:
    """The tiny model with DCGAN's initialisation (weights N(0, 0.02)): like a random DCGAN
    generator, it draws almost the same image for every z."""
    torch.manual_seed(1000 + seed)
    model = build_tiny(TinyConfig(), image_size=16, channels=3)
    for m in model.generator.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
            torch.nn.init.zeros_(m.bias)
    return model


class CopyGAN(TinyGAN):
    """A generator that returns stored real images: z picks one by a fixed random projection."""

    def __init__(self, images: torch.Tensor, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(TinyConfig(), int(images.shape[-1]), 3)
        bank = images.float() / 127.5 - 1
        proj = torch.randn(self.z_dim, bank.shape[0], generator=torch.Generator().manual_seed(seed))

        class _Lookup(torch.nn.Module):
            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return bank[(z @ proj).argmax(1)]

        self.generator = _Lookup()


def tiny_random(size: int) -> Callable[[int], Any]:
    """A ``make_random_model`` for the tiny probe-test model at ``size``."""

    def random_model(seed: int) -> TinyGAN:
        torch.manual_seed(1000 + seed)
        return build_tiny(TinyConfig(), image_size=size, channels=3)

    return random_model


def probe_ctx(tmp_path: Path, data: dict[str, ImageData], model: object, eval_name: str, *, seed: int = 1,
              random_model: Callable[[int], Any] | None = None, size: int = 16) -> ProbeContext:
    """A :class:`ProbeContext` for the registered eval ``eval_name`` over ``data`` (split -> images)."""
    spec = next(e for e in EVALS if e.name == eval_name)
    return ProbeContext(model=model, make_random_model=random_model or tiny_random(size),  # type: ignore[arg-type]
                        eval=spec, load_split=lambda split: data[split], device=torch.device("cpu"),
                        out_dir=tmp_path, seed=seed, progress=False)


def build_probe(name: str, **overrides: object) -> Any:
    """The reference probe ``name`` with its first eval's parameters (the folder-vs-folder evals,
    which turn the real control off, last) and ``overrides``."""
    spec = next(p for p in PROBES if p.name == name)
    evals = sorted((e for e in EVALS if e.probe == name), key=lambda e: e.dataset == "imagefolder")
    params = dict(evals[0].params) if evals else {}
    return spec.load_factory()(build_config(spec, {**params, **overrides}))


def load_digits(size: int) -> dict[str, ImageData]:
    """The embedded digits set at ``size``, both splits."""
    from gansuite._host.manager import get_catalog

    spec = get_catalog().registry("datasets").get("digits")
    dataset = spec.load_factory()(build_config(spec, {}), root=Path("."))
    return {split: dataset.load(split, image_size=size) for split in ("train", "test")}


# -- killing and resuming runs in subprocesses ----------------------------------------------------------
REPO = Path(__file__).resolve().parents[1]


def run_env(load_plugins: str | None = None) -> dict[str, str]:
    """The environment of a ``gansuite`` subprocess: no GANSUITE_ switch of this process, one
    thread (deterministic kernels, and the CPU left to the other run)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GANSUITE_")}
    if load_plugins is not None:
        env["GANSUITE_LOAD_PLUGINS"] = load_plugins
    env["OMP_NUM_THREADS"] = "1"
    return env


def gansuite_run(*args: str) -> list[str]:
    """The command line of ``gansuite run ARGS`` in a subprocess."""
    import sys

    return [sys.executable, "-m", "gansuite", "run", *args]


def equal_state(a: Any, b: Any) -> bool:
    """Checkpoint values equal bit for bit (tensors with their dtype), recursively."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal_state(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def kill_after_first_checkpoint(run_dir: Path, args: list[str], env: dict[str, str]) -> int:
    """Start ``gansuite run ARGS --out RUN_DIR``, SIGKILL it once a checkpoint exists; returns
    the latest checkpoint's step."""
    import os
    import signal
    import subprocess
    import time

    from gansuite.engine import checkpoint as ckpt

    log = run_dir.parent / f"{run_dir.name}.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(gansuite_run(*args, "--out", str(run_dir)), env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if ckpt.list_checkpoints(run_dir / "checkpoints"):
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    return ckpt.list_checkpoints(run_dir / "checkpoints")[-1][0]


# -- stored benchmark runs (gansuite bench) --------------------------------------------------
BENCH_MACHINE = "linux-x86_64-test-cpu-2cpu"


def make_report(speeds: dict[str, float], *, when: str = "2024-05-01T10:00:00+00:00", commit: str = "a" * 40,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pytest-benchmark report: ``speeds`` maps a benchmark name to images/s (batch 16)."""
    benchmarks = []
    for name, ips in speeds.items():
        median = 16 / ips
        stats = {"min": median * 0.9, "max": median * 1.1, "mean": median, "stddev": 0.0, "median": median,
                 "iqr": 0.0, "ops": 1 / median, "rounds": 3}
        info = {"items_per_s": ips, "unit": "images/s", "device": "cpu", "batch_size": 16, **(extra or {})}
        benchmarks.append({"name": name, "fullname": f"bench_registry.py::{name}", "group": None,
                           "stats": stats, "extra_info": info})
    return {"machine_info": {"node": "somehost"}, "commit_info": {"id": commit, "dirty": False},
            "benchmarks": benchmarks, "datetime": when, "version": "5.0"}


def store_report(root: Path, number: int, report: dict[str, Any], *, machine: str = BENCH_MACHINE, quick: bool = True) -> Path:
    """A report where pytest-benchmark's --benchmark-autosave puts it."""
    from gansuite.report import bench

    path = bench.storage_dir(root, machine, quick) / "Linux-CPython-3.11-64bit" / f"{number:04d}_x.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))
    return path


def load_script(name: str) -> Any:
    """``benchmarks/<name>.py`` imported as module ``name`` (registered in sys.modules: dataclasses
    look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
