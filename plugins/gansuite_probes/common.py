"""Helpers shared by the probes: image conversion, batched generation, D features, PNGs, and the
controls every probe reports beside the model: the fixed feature space (:class:`FixedFeatures`),
a copying generator (:class:`CopyingGenerator`) and resampled confidence intervals."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gansuite import GANModel, atomic_write_bytes, balanced_labels, eval_mode, progress
from gansuite import generate_images as generate

__all__ = [
    "to_float",
    "to_uint8",
    "eval_mode",
    "model_device",
    "generate",
    "balanced_labels",
    "extract_features",
    "feature_layout",
    "Timer",
    "content_key",
    "TensorCache",
    "FIXED_SEED",
    "FixedFeatures",
    "fixed_features",
    "FixedScaler",
    "CopyingGenerator",
    "SAMPLE_STD_N",
    "sample_std",
    "sample_std_of",
    "with_sample_std",
    "output_gain",
    "GeneratorVariant",
    "generator_variants",
    "bootstrap_ci",
    "mean_ci",
    "ci_fields",
]


def to_float(images: torch.Tensor, device: Any = None) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]`` (the range D and G work in)."""
    x = images.to(device=device, non_blocking=True) if device is not None else images
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float ``[-1, 1]`` -> uint8, rounded as a saved image would be."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


def model_device(model: GANModel) -> torch.device:
    """The device the discriminator's parameters live on."""
    for p in model.discriminator.parameters():
        return p.device
    return torch.device("cpu")


def _pooled(feats: list[torch.Tensor], pool: int) -> torch.Tensor:
    return torch.cat([F.adaptive_max_pool2d(f.float(), pool).flatten(1) for f in feats], dim=1)


def feature_layout(model: GANModel) -> list[int]:
    """Channel count of each conv layer ``model.features`` returns (one dummy image)."""
    x = torch.zeros(1, model.channels, model.image_size, model.image_size, device=model_device(model))
    with eval_mode(model.discriminator), torch.no_grad():
        return [int(f.shape[1]) for f in model.features(x)]


@torch.no_grad()
def extract_features(
    model: GANModel,
    images: torch.Tensor,
    *,
    device: Any = None,
    pool_size: int = 4,
    batch_size: int = 500,
    show_progress: bool = False,
    desc: str = "features",
) -> torch.Tensor:
    """Every conv layer of D, each adaptive-max-pooled to ``pool_size`` x ``pool_size``, concatenated.

    ``images`` are uint8 (real data) or float in ``[-1, 1]`` (generated); D runs in eval mode,
    without gradients, in channels_last, in batches. Returns float32 ``(N, features)`` on ``device``.
    """
    device = torch.device(device) if device is not None else model_device(model)
    n = int(images.shape[0])
    out: torch.Tensor | None = None
    with eval_mode(model.discriminator), progress(total=n, desc=desc, unit="img", enabled=show_progress) as bar:
        for i in range(0, n, batch_size):
            chunk = images[i : i + batch_size]
            x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
            x = x.contiguous(memory_format=torch.channels_last)
            f = _pooled(model.features(x), pool_size)
            if out is None:
                out = torch.empty(n, f.shape[1], dtype=torch.float32, device=device)
            out[i : i + f.shape[0]] = f
            bar.update(int(f.shape[0]))
    if out is None:
        raise ValueError("no images to extract features from")
    return out


class Timer:
    """``with Timer() as t: ...; t.seconds`` (synchronises CUDA so GPU work is counted)."""

    def __init__(self, device: Any = None) -> None:
        self.device = torch.device(device) if device is not None else None
        self.seconds = 0.0

    def _sync(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> Timer:
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


def content_key(*parts: Any) -> str:
    """A hex digest of tensors (their dtype, shape and bytes) and other values (their repr)."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:32]


class TensorCache:
    """Tensors (or dicts of tensors) on disk under ``folder``, named by :func:`content_key`,
    written atomically and read back weights-only; ``folder=None`` caches nothing."""

    def __init__(self, folder: str | Path | None, prefix: str) -> None:
        self.folder = Path(folder) if folder else None
        self.prefix = prefix

    def _path(self, key: str) -> Path | None:
        return self.folder / f"{self.prefix}-{key}.pt" if self.folder is not None else None

    def get(self, key: str) -> Any:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a torn or foreign file: recompute and overwrite it
            return None

    def get_or_compute(self, key: str, compute: Any) -> Any:
        """The cached value, else ``compute()`` stored; concurrent processes asking for the same
        key wait for the first one's result instead of computing it again (a lock file)."""
        value = self.get(key)
        if value is not None or self.folder is None:
            return value if value is not None else compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.folder / f".{self.prefix}-{key}.lock"):
            value = self.get(key)
            if value is None:
                value = compute()
                self.put(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        path = self._path(key)
        if path is None:
            return
        buf = io.BytesIO()
        torch.save(value, buf)
        atomic_write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX ``flock``; no lock where unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
# -- the fixed feature space --------------------------------------------------------------------
FIXED_SEED = 1511_06434  # the DCGAN paper's arXiv number: any fixed value would do


def _fixed_filters(gen: torch.Generator, c_out: int, c_in: int, k: int) -> torch.Tensor:
    """Gaussian filters, each centred (zero mean) and scaled to unit norm."""
    w = torch.randn(c_out, c_in * k * k, generator=gen, dtype=torch.float64)
    w -= w.mean(1, keepdim=True)
    w /= w.norm(dim=1, keepdim=True)
    return w.float().view(c_out, c_in, k, k)


class FixedFeatures(torch.nn.Module):
    """Three conv layers with fixed seeded random weights: one feature space for every run.

    Images (any size, 1 or 3 channels) are resized to 32x32 and made 3-channel; conv 5x5 (64),
    conv 3x3 (128), conv 3x3 (256), each followed by ReLU and 2x2 average pooling; every layer's
    output is average-pooled to a 4x4 grid: 7,168 features. The weights depend only on
    :data:`FIXED_SEED` (drawn with torch's CPU generator), so two runs, two models or two
    machines measure distances in the same space; :attr:`fingerprint` (a hash of the weights)
    is recorded with every number measured in it.
    """

    LAYERS = ((64, 5), (128, 3), (256, 3))
    SIZE = 32

    def __init__(self, seed: int = FIXED_SEED) -> None:
        super().__init__()
        import hashlib

        gen = torch.Generator().manual_seed(seed)
        c_in, digest = 3, hashlib.sha256()
        for i, (c_out, k) in enumerate(self.LAYERS):
            w = _fixed_filters(gen, c_out, c_in, k)
            self.register_buffer(f"w{i}", w)
            digest.update(w.numpy().tobytes())
            c_in = c_out
        self.fingerprint = f"fixed-conv3-7168-{digest.hexdigest()[:12]}"

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.SIZE or x.shape[-2] != self.SIZE:
            x = F.interpolate(x, size=(self.SIZE, self.SIZE), mode="bilinear", antialias=True,
                              align_corners=False)
        out = []
        for i, (_, k) in enumerate(self.LAYERS):
            x = F.avg_pool2d(F.relu(F.conv2d(x, getattr(self, f"w{i}"), padding=k // 2)), 2)
            out.append(x)
        return out


_FIXED: dict[str, FixedFeatures] = {}


def _fixed_net(device: torch.device) -> FixedFeatures:
    key = str(device)
    if key not in _FIXED:
        _FIXED[key] = FixedFeatures().to(device)
    return _FIXED[key]


@torch.no_grad()
def fixed_features(images: torch.Tensor, *, device: Any = None, batch_size: int = 500) -> tuple[torch.Tensor, str]:
    """:class:`FixedFeatures` of uint8 or ``[-1, 1]`` float images: ``(N, 7168)`` float32 and the
    space's fingerprint."""
    device = torch.device(device) if device is not None else images.device
    net = _fixed_net(device)
    n = int(images.shape[0])
    out = torch.empty(n, 7168, dtype=torch.float32, device=device)
    for i in range(0, n, batch_size):
        chunk = images[i : i + batch_size]
        x = to_float(chunk, device) if chunk.dtype == torch.uint8 else chunk.to(device).float()
        out[i : i + x.shape[0]] = torch.cat([F.adaptive_avg_pool2d(f, 4).flatten(1) for f in net(x)], dim=1)
    return out, net.fingerprint


class FixedScaler:
    """Centres fixed features on real images and scales each layer's block by one number.

    Per layer, the scalar makes the centred real features' mean variance 1 (as standardising
    would on average), so each layer weighs in proportion to its feature count. (Per-feature
    standardisation would divide by the near-zero spread of features that real images never
    move, such as the blank border of a digit, and let them swamp every distance to a
    generated image.)
    """

    def __init__(self, X: torch.Tensor) -> None:
        self.mean = X.double().mean(0)
        scale = torch.empty_like(self.mean)
        start = 0
        for c, _ in FixedFeatures.LAYERS:
            block = slice(start, start + c * 16)
            var = (X[:, block].double() - self.mean[block]).square().mean()
            scale[block] = var.sqrt().clamp_min(1e-12)
            start += c * 16
        self.mean, self.scale = self.mean.float(), scale.float()

    def apply_(self, X: torch.Tensor) -> torch.Tensor:
        """Centre and scale ``X`` in place."""
        return X.sub_(self.mean.to(X.device)).div_(self.scale.to(X.device))


# -- generator controls -------------------------------------------------------------------------
class CopyingGenerator(torch.nn.Module):
    """A generator that returns stored training images: the worst case of memorisation.

    ``z`` picks one image by the largest entry of ``z @ P`` (``P`` a fixed seeded Gaussian
    projection with unit columns), so the image is a piecewise-constant function of z: walks jump
    from one training image to another and every sample is an exact copy.
    """

    bank: torch.Tensor
    proj: torch.Tensor

    def __init__(self, images: torch.Tensor, z_dim: int, seed: int = 0) -> None:
        super().__init__()
        bank = to_float(images) if images.dtype == torch.uint8 else images.float()
        proj = torch.randn(z_dim, bank.shape[0], generator=torch.Generator().manual_seed(seed))
        self.register_buffer("bank", bank)
        self.register_buffer("proj", proj / proj.norm(dim=0, keepdim=True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.bank[(z.to(self.proj) @ self.proj).argmax(1)]


class GeneratorVariant:
    """What :func:`generate` needs of a model (``eval_generator``, ``generate``, ``sample_z``,
    ``num_classes``), for the model itself or for another generator on the model's prior."""

    def __init__(self, name: str, model: Any, generator: torch.nn.Module | None = None) -> None:
        self.name = name
        self.model = model
        self.net = generator
        self.z_dim = model.z_dim
        self.num_classes = int(getattr(model, "num_classes", 0)) if generator is None else 0

    def eval_generator(self) -> torch.nn.Module:
        return self.net if self.net is not None else self.model.eval_generator()

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z) if self.net is not None else self.model.generate(z, y)

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        return self.model.sample_z(n, generator=generator, device=device)

    def sample_std(self, seed: int, device: Any, n: int = 256) -> float:
        """:func:`sample_std` of ``n`` samples under ``seed`` (computed once)."""
        if not hasattr(self, "_std"):
            self._std = sample_std_of(self, seed, device, n)
        return self._std


SAMPLE_STD_N = 256  # samples behind each generator's sample_std


def sample_std(images: torch.Tensor) -> float:
    """Per-pixel standard deviation across ``images`` (uint8, or float in [-1, 1]) in [0, 1] units,
    averaged over pixels: about 0 for a generator that draws one image whatever z is."""
    x = images.float().add(1).div(2) if images.dtype.is_floating_point else images.float().div(255.0)
    return float(x.std(dim=0).mean()) if x.shape[0] > 1 else 0.0


def sample_std_of(model: Any, seed: int, device: Any, n: int = SAMPLE_STD_N) -> float:
    """:func:`sample_std` of ``n`` samples of ``model`` (a model or a :class:`GeneratorVariant`;
    latents under ``seed``, class-balanced labels for a conditional model)."""
    z = model.sample_z(n, generator=torch.Generator().manual_seed(seed)).to(device)
    return round(sample_std(generate(model, z, 128)), 5)


def generator_variants(ctx: Any, bank: torch.Tensor | None = None, random: bool = True,
                       intermediate: bool = True) -> list[GeneratorVariant]:
    """The trained generator; a randomly initialised one with standing statistics
    (``ctx.make_random_model(ctx.seed)``); with ``intermediate``, the run's early checkpoint
    (``early``) and the data-fitted Gaussian generator (``gaussian-fit``) when the host provides
    them; and, when ``bank`` (uint8 training images) is given, a :class:`CopyingGenerator` over it."""
    out = [GeneratorVariant("trained", ctx.model)]
    if random:
        out.append(GeneratorVariant("random", ctx.make_random_model(ctx.seed)))
    if intermediate:
        early = getattr(ctx, "make_early_model", lambda: None)()
        if early is not None:
            out.append(GeneratorVariant("early", early))
        fit = getattr(ctx, "make_data_fit_model", lambda seed: None)(ctx.seed)
        if fit is not None:
            out.append(GeneratorVariant("gaussian-fit", ctx.model, fit.eval_generator()))
    if bank is not None:
        copier = CopyingGenerator(bank, ctx.model.z_dim, seed=ctx.seed).to(ctx.device)
        out.append(GeneratorVariant("copying", ctx.model, copier))
    return out


def output_gain(model: Any) -> dict[str, Any]:
    """``{"output_gain": g}`` for a random model whose output spread the host matched to the data
    (:func:`gansuite.evaluation.controls.match_output_spread`), else ``{}``."""
    gain = getattr(model, "output_gain", None)
    return {} if gain is None else {"output_gain": round(float(gain), 4)}


def with_sample_std(rows: list[dict[str, Any]], variants: list[GeneratorVariant], ctx: Any) -> list[dict[str, Any]]:
    """Add each generator variant's ``sample_std`` (an early control's step, a random G's output
    gain) to its rows."""
    by = {v.name: v for v in variants}
    for row in rows:
        v = by.get(str(row.get("variant")))
        if v is not None:
            row["sample_std"] = v.sample_std(ctx.seed, ctx.device)
            if v.name == "early":
                row["control_step"] = getattr(v.model, "checkpoint_step", None)
            if v.name == "random":
                row.update(output_gain(v.model))
    return rows


# -- confidence intervals -----------------------------------------------------------------------
def mean_ci(values: Any) -> tuple[float, float, float]:
    """Mean, standard deviation and the 95% CI half-width of the mean (1.96 std / sqrt(n))."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() == 0:
        return float("nan"), float("nan"), float("nan")
    std = float(v.std()) if v.numel() > 1 else 0.0
    return float(v.mean()), std, 1.96 * std / max(v.numel(), 1) ** 0.5


def bootstrap_ci(stat: Any, sizes: tuple[int, ...], *, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap: ``stat(*index_tensors)`` on the full data and on ``n_boot`` resamples
    (one index tensor per sample, drawn with replacement from ``range(size)``).

    Returns the statistic, the 2.5% and the 97.5% quantiles of the resampled statistic.
    """
    gen = torch.Generator().manual_seed(seed)
    full = float(stat(*[torch.arange(n) for n in sizes]))
    draws = torch.tensor([float(stat(*[torch.randint(0, n, (n,), generator=gen) for n in sizes]))
                          for _ in range(n_boot)], dtype=torch.float64)
    draws = draws[torch.isfinite(draws)]
    if draws.numel() == 0:
        return full, float("nan"), float("nan")
    lo, hi = torch.quantile(draws, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return full, lo, hi


def ci_fields(value: float, lo: float, hi: float) -> dict[str, float]:
    """Row fields of an interval: ``ci95`` (the larger half-width, what tables print as +-) and its ends."""
    return {"ci95": max(value - lo, hi - value), "ci95_low": lo, "ci95_high": hi}
