"""Controls every eval can put beside a trained model: what a number means is judged by them.

- :func:`standing_statistics`: a freshly initialised network in eval mode would normalise with
  BatchNorm's initial running statistics (mean 0, variance 1), which match none of its real
  activations: a random DCGAN generator then shrinks its activations layer by layer and draws one
  grey image for every z. Recomputing the running statistics on a few batches of the inputs the
  network will see (G on its own latents, D on real training images) makes eval mode behave as the
  network does in training, so a random G draws varied images and a random D sees normalised
  activations. The weights are not touched.
- :func:`match_output_spread`: a random generator's contrast is set by its output layer's
  initial weight scale times its width: a narrow DCGAN draws samples with a small fraction of the
  data's per-pixel spread, which a trained model beats on spread alone. The random
  G's last weight layer gets one scalar output gain, chosen by bisection so that its
  ``sample_std`` equals the real images' (a data-dependent initialisation of one number, as in
  LSUV); its structure stays random.
- :class:`GaussianFitGenerator` / :class:`GaussianFitModel`: a generator with the training data's
  pixel mean and (low-rank) pixel covariance and no other structure: samples have realistic
  brightness, contrast and large-scale correlations, but no strokes, objects or classes. It is a
  pure, smooth (linear) function of z, so latent-walk and arithmetic probes can use it too. It
  needs nothing of the trained model but its latent size and image shape, so it is also the
  control of a model the suite did not train (a generator file or a folder of samples), where no
  architecture is known to re-initialise; :meth:`GaussianFitModel.describe` is the sentence those
  rows carry to say what the control is.
- :func:`sample_std`: the per-pixel standard deviation across samples (images in [0, 1]),
  averaged over pixels: about 0 for a generator that draws one image whatever z is.

This module imports torch: the eval host imports it inside the functions that need it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["standing_statistics", "match_output_spread", "recalibrate_random_model", "GaussianFitGenerator",
           "GaussianFitModel", "sample_std", "STANDING_BATCHES", "STANDING_BATCH_SIZE"]

STANDING_BATCHES = 4
STANDING_BATCH_SIZE = 64


def _norm_layers(net: nn.Module) -> list[Any]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._NormBase) and m.track_running_stats]


def standing_statistics(net: nn.Module, run_batches: Iterable[Callable[[], Any]]) -> int:
    """Recompute ``net``'s BatchNorm running statistics as the plain average over the batches each
    callable in ``run_batches`` pushes through ``net`` (in train mode, no grad); ``net`` is left in
    eval mode. Returns the number of BatchNorm layers recalibrated (0: nothing to do, nothing run)."""
    layers = _norm_layers(net)
    if not layers:
        net.eval()
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    net.train()
    try:
        with torch.no_grad():
            for run in run_batches:
                run()
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        net.eval()
    return len(layers)


def _last_weight_layer(net: nn.Module, run: Callable[[], Any]) -> nn.Module | None:
    """The last module, in execution order of ``run()``, that holds a weight matrix or kernel
    (``weight`` of two or more dimensions: convolutions and linear layers, parametrised or not)."""
    order: list[nn.Module] = []

    def has_kernel(m: nn.Module) -> bool:
        weight = getattr(m, "weight", None)
        return isinstance(weight, torch.Tensor) and weight.dim() >= 2

    hooks = [m.register_forward_hook(lambda mod, inp, out: order.append(mod)) for m in net.modules() if has_kernel(m)]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    return order[-1] if order else None


def match_output_spread(net: nn.Module, run: Callable[[], torch.Tensor], target: float,
                        steps: int = 10, low: float = 1 / 16, high: float = 64.0) -> float | None:
    """Scale the output of ``net``'s last weight layer by one gain so that the samples ``run()``
    draws (float in [-1, 1]) have :func:`sample_std` ``target``; bisection on the log-gain in
    [``low``, ``high``]. A forward hook applies the gain from then on; returns it (None when
    ``net`` has no weight layer or ``target`` is not positive)."""
    layer = _last_weight_layer(net, run)
    if layer is None or not target > 0:
        return None
    gain = [1.0]
    layer.register_forward_hook(lambda mod, inp, out: out * gain[0])

    def spread(g: float) -> float:
        gain[0] = g
        with torch.no_grad():
            return sample_std(run())

    lo, hi = math.log2(low), math.log2(high)
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spread(2.0 ** mid) < target else (lo, mid)
    gain[0] = float(2.0 ** ((lo + hi) / 2))
    return gain[0]


def recalibrate_random_model(model: Any, real: Callable[[], Any] | None, seed: int,
                             batches: int = STANDING_BATCHES, batch_size: int = STANDING_BATCH_SIZE) -> Any:
    """Standing statistics for a freshly initialised ``model``: its generators (G and, when it
    differs, ``eval_generator()``) on their own latents (and uniform labels), D on ``real()``
    (an :class:`gansuite.ImageData` of uint8 training images; D is left as built when None).
    With ``real``, each generator's output gain is then set so its ``sample_std`` is the real
    images' (:func:`match_output_spread`; the gain is ``model.output_gain``). Latents and the
    real images' order are drawn under ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    device = next((p.device for p in model.generator.parameters()), torch.device("cpu"))
    latents = [(model.sample_z(batch_size, generator=gen).to(device),
                None if not model.num_classes else model.sample_labels(batch_size, generator=gen).to(device))
               for _ in range(batches)]
    nets = [model.generator]
    if model.eval_generator() is not model.generator:
        nets.append(model.eval_generator())
    for net in nets:
        standing_statistics(net, [functools.partial(model.generate, z, y, net=net) for z, y in latents])
    if real is not None:
        data = real()
        n = int(data.images.shape[0])
        order = torch.randperm(n, generator=gen)[: batches * batch_size]
        target = sample_std(data.images[order])
        for net in nets:
            def draw(net: nn.Module = net) -> torch.Tensor:
                return torch.cat([model.generate(z, y, net=net) for z, y in latents[:2]]).float()
            gain = match_output_spread(net, draw, target)
            if net is model.generator:
                model.output_gain = gain
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        labels = data.labels if model.num_classes and data.labels is not None else None

        def run(idx: Any) -> Any:
            x = data.images[idx].to(device).float().div_(127.5).sub_(1.0)
            y = labels[idx].to(device).clamp_(0, model.num_classes - 1) if labels is not None else (
                None if not model.num_classes else model.sample_labels(len(idx), generator=gen).to(device))
            return model.discriminate(x, y)

        runs: list[Callable[[], Any]] = [functools.partial(run, idx) for idx in chunks]
        standing_statistics(model.discriminator, runs)
    else:
        model.discriminator.eval()
    return model


class GaussianFitGenerator(nn.Module):
    """``x = mean + sum_k (z @ P)_k sqrt(lambda_k) v_k``, clamped to [-1, 1]: a Gaussian with the
    training images' pixel mean and their covariance's top ``rank`` principal components.

    ``P`` is a fixed seeded ``z_dim x rank`` matrix with orthonormal columns, so for ``z ~ N(0, I)``
    the coefficients are independent standard normals and the samples have the data's mean and
    rank-``rank`` covariance (``rank <= z_dim``). Fit on uint8 images (a seeded subset of at most
    ``max_images``); works in G's range [-1, 1]. ``offset`` skips leading z entries that another
    generator reads (a sample bank's image index): it reads ``z[:, offset:]``.
    """

    mean: torch.Tensor
    basis: torch.Tensor
    proj: torch.Tensor

    def __init__(self, images: torch.Tensor, z_dim: int, rank: int = 64, seed: int = 0,
                 max_images: int = 5000, z_scale: float = 1.0, offset: int = 0) -> None:
        super().__init__()
        self.z_scale = float(z_scale)  # the std of the prior that drives it (a uniform [-1, 1] z: 0.577)
        self.offset = int(offset)
        n = int(images.shape[0])
        z_dim = int(z_dim) - self.offset
        gen = torch.Generator().manual_seed(seed)
        pick = torch.randperm(n, generator=gen)[:max_images]
        x = images[pick].float().div(127.5).sub(1.0)
        self.shape = tuple(int(s) for s in x.shape[1:])
        flat = x.flatten(1).double()
        mean = flat.mean(0)
        rank = max(1, min(int(rank), int(z_dim), flat.shape[0] - 1, flat.shape[1]))
        with torch.random.fork_rng(devices=[]):  # the randomised SVD draws from the global generator
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(flat - mean, q=min(rank + 10, *flat.shape), niter=4)
        vh = v.T
        scale = s[:rank] / max(flat.shape[0] - 1, 1) ** 0.5  # sqrt of the top eigenvalues
        q, _ = torch.linalg.qr(torch.randn(int(z_dim), rank, generator=gen, dtype=torch.float64))
        self.rank = rank
        self.n_images = int(flat.shape[0])
        total = float((flat - mean).square().sum())
        self.explained = float(s[:rank].square().sum()) / max(total, 1e-30)  # of the pixel variance
        self.register_buffer("mean", mean.float())
        self.register_buffer("basis", (scale[:, None] * vh[:rank]).float())  # rank x pixels
        self.register_buffer("proj", q.float())  # z_dim x rank

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = z.reshape(z.shape[0], -1)[:, self.offset :] if self.offset else z
        coeff = (z.to(self.proj) @ self.proj) / self.z_scale
        x = self.mean + coeff @ self.basis
        return x.clamp(-1, 1).view(z.shape[0], *self.shape)


class GaussianFitModel:
    """A :class:`GaussianFitGenerator` with what probes use of a model (``z_dim``, ``num_classes``
    (0: it ignores labels), ``image_size``, ``channels``, ``sample_z``, ``sample_labels``,
    ``generate``, ``eval_generator``); it has no discriminator."""

    num_classes = 0

    def __init__(self, images: torch.Tensor, z_dim: int, rank: int = 64, seed: int = 0, device: Any = None,
                 prior: Callable[..., torch.Tensor] | None = None, max_images: int = 5000, offset: int = 0) -> None:
        """``prior(n, generator=...)``: the latents that will drive it (default: standard normal);
        its coefficients are standardised by the prior's std, so a trained model's uniform z
        gives the data's covariance too. ``max_images`` and ``offset``: see
        :class:`GaussianFitGenerator`."""
        z_scale = 1.0
        if prior is not None:
            z = prior(4096, generator=torch.Generator().manual_seed(seed)).float()
            z_scale = float(z.reshape(z.shape[0], -1)[:, offset:].std())
        self.prior = prior
        self.generator = GaussianFitGenerator(images, z_dim, rank=rank, seed=seed, z_scale=z_scale,
                                              max_images=max_images, offset=offset)
        if device is not None:
            self.generator.to(device)
        self.generator.eval()
        self.z_dim = int(z_dim)
        self.channels, self.image_size = int(images.shape[1]), int(images.shape[-1])

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        if self.prior is not None:
            return self.prior(n, generator=generator, device=device)
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def sample_labels(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> None:
        return None

    def describe(self) -> str:
        """What this control is, in one sentence (rows of a model with no known architecture carry it)."""
        g = self.generator
        return (f"data-fitted Gaussian generator: the pixel mean and top {g.rank} principal directions of the pixel "
                f"covariance ({g.explained:.1%} of its variance) of {g.n_images:,} real training images")

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, *, net: Any = None) -> torch.Tensor:
        return (net or self.generator)(z)

    def eval_generator(self) -> nn.Module:
        return self.generator

    def to(self, device: Any) -> GaussianFitModel:
        self.generator.to(device)
        return self


def sample_std(images: torch.Tensor) -> float:
    """Per-pixel standard deviation across ``images`` (uint8 [0, 255] or float [-1, 1]), in [0, 1]
    units, averaged over pixels and channels."""
    x = images.float().add(1).div(2) if images.dtype.is_floating_point else images.float().div(255.0)
    return float(x.std(dim=0).mean()) if x.shape[0] > 1 else 0.0
