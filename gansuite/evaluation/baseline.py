"""The control generator of a model whose architecture gansuite does not know.

A run's "random" control is the same architecture freshly initialised. A generator loaded from
a TorchScript file, or a folder of samples, has no architecture to re-initialise, so its control
is a generator fitted to the data instead: a Gaussian with the pixel mean and the leading
principal directions of the pixel covariance of real training images. It reproduces every
first- and second-order pixel statistic a model could learn by matching the data's colour and
layout, and nothing beyond them, so a model must beat it to show it learned more. Rows of this
control say so in ``random_control``.

:func:`data_fitted_control` is the one place that builds it.
"""

from __future__ import annotations

import torch

__all__ = ["DataFittedGenerator", "data_fitted_control", "DEFAULT_FIT_IMAGES"]

DEFAULT_FIT_IMAGES = 2000


class DataFittedGenerator(torch.nn.Module):
    """``x = clamp(mean + scale * z[:, offset:offset + k] @ basis, -1, 1)``, reshaped to images.

    ``basis`` holds the top ``k`` principal directions of the fitted images times their standard
    deviations, so for z ~ N(0, I) the output's mean and covariance are the data's (up to rank k);
    ``scale`` turns the model's prior into unit variance (sqrt(3) for U(-1, 1)). ``offset`` skips
    leading z entries that another generator reads (a sample bank's image index).
    """

    def __init__(self, mean: torch.Tensor, basis: torch.Tensor, shape: tuple[int, int, int], *,
                 scale: float = 1.0, offset: int = 0) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("basis", basis)
        self.shape = shape
        self.scale = float(scale)
        self.offset = int(offset)

    mean: torch.Tensor
    basis: torch.Tensor

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k = self.basis.shape[0]
        z = z.reshape(z.shape[0], -1)[:, self.offset : self.offset + k].to(self.basis)
        x = self.mean + (self.scale * z) @ self.basis
        return x.clamp(-1, 1).view(z.shape[0], *self.shape)


def data_fitted_control(images: torch.Tensor, *, latent_dim: int, prior: str = "normal", seed: int = 0,
                        offset: int = 0, max_images: int = DEFAULT_FIT_IMAGES) -> tuple[DataFittedGenerator, str]:
    """A :class:`DataFittedGenerator` fitted to up to ``max_images`` of ``images`` (uint8
    ``(N, C, H, W)``, a seeded subset), reading ``latent_dim`` entries of z drawn from ``prior``;
    and the sentence the result rows carry to say what the control is."""
    from gansuite.contract.errors import DataError

    n_all = int(images.shape[0])
    if n_all < 2:
        raise DataError("The data-fitted control needs at least 2 real training images; the eval's "
                        f"training split holds {n_all}.")
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(n_all, generator=gen)[: min(max_images, n_all)].sort().values
    x = images[pick].double().div(127.5).sub(1).flatten(1)
    mean = x.mean(0)
    centred = x - mean
    k = max(1, min(latent_dim, x.shape[0] - 1, x.shape[1]))
    # the leading principal directions by randomised SVD (Halko et al. 2011; a full SVD or eigh of
    # thousands of images takes minutes on a loaded CPU, and only the top k are needed)
    centred = centred.float()
    threads = torch.get_num_threads()
    try:  # its random projection: seeded, the caller's RNG untouched
        # one thread: LAPACK's small factorisations here ran 3-50x slower with two threads on a busy
        # 2-core machine, and they are a small part of the work
        torch.set_num_threads(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(centred, q=min(k + 10, *centred.shape), niter=4)
    finally:
        torch.set_num_threads(threads)
    basis = (s[:k, None] / (x.shape[0] - 1) ** 0.5) * v[:, :k].T
    total = float(centred.double().square().sum())
    scale = 3**0.5 if prior == "uniform" else 1.0
    c, h, w = (int(d) for d in images.shape[1:])
    net = DataFittedGenerator(mean.float(), basis, (c, h, w), scale=scale, offset=offset)
    explained = float(s[:k].double().square().sum()) / max(total, 1e-30)
    text = (f"data-fitted Gaussian generator: the pixel mean and top {k} principal directions of the pixel "
            f"covariance ({explained:.1%} of its variance) of {x.shape[0]:,} real training images; no "
            "architecture is known to re-initialise")
    return net, text
