"""Typed options of the DCGAN models (torch-free: ``gansuite list`` imports this module).

Every field is settable with ``-o key=value`` (``gansuite show dcgan`` lists them). The defaults
are the paper's (Radford et al. 2015) and the authors' released code where the paper is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gansuite import option

__all__ = ["DCGANConfig", "PytorchExamplesConfig", "ImageNet32Config", "is_power_of_two", "default_width"]



def default_width(image_size: int) -> int:
    """``dcgan``'s ngf/ndf when not given: 64 at 32x32, as in the authors' 32x32 (SVHN) network,
    whose D has 64, 128 and 256 channels (7,168 probe features); 128 at 64x64 and above, as in
    their LSUN/faces code and Figure 1 (a 4x4x1024 projection at 64x64)."""
    return 64 if image_size <= 32 else 128


def is_power_of_two(n: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return n > 0 and (n & (n - 1)) == 0


def _check_common(cfg: DCGANConfig | ImageNet32Config) -> None:
    if cfg.z_dim < 1:
        raise ValueError(f"z_dim must be >= 1, got {cfg.z_dim}")
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if not cfg.lr > 0:
        raise ValueError(f"lr must be > 0, got {cfg.lr}")
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1):
        raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {cfg.beta1}, {cfg.beta2}")
    if cfg.weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if cfg.kernel_size not in (3, 4, 5):
        raise ValueError(f"kernel_size must be 3, 4 or 5, got {cfg.kernel_size}")


@dataclass(frozen=True)
class DCGANConfig:
    """The all-convolutional DCGAN of the paper's Figure 1, at any power-of-two size >= 32.

    ``image_size=None`` trains at the dataset's native size. G projects z to a 4x4 tensor with
    ``ngf * 2**(n-1)`` channels (n = log2(image_size / 4); 1024 at 64x64 with ngf=128, as in the
    figure) and doubles the resolution n times; D mirrors it with ``ndf`` channels first.
    ``ngf``/``ndf`` = None: :func:`default_width` of the training size (the authors' networks).
    """

    image_size: int | None = option(None, "training resolution (power of two >= 32); None: the dataset's")
    z_dim: int = option(100, "latent dimension")
    z_prior: Literal["uniform", "normal"] = option("uniform", "prior of z: U(-1, 1) (paper) or N(0, 1)")
    ngf: int | None = option(None, "G width: channels of G's last hidden layer; None: 64 at 32x32, "
                                 "128 above (the authors' networks)")
    ndf: int | None = option(None, "D width: channels of D's first layer; None: 64 at 32x32 (the "
                                 "authors' 32x32 D: 64-128-256), 128 above (their 64x64 code)")
    kernel_size: int = option(5, "conv kernel size (authors' code: 5)")
    batch_size: int = option(128, "images per step (paper: 128)")
    lr: float = option(2e-4, "Adam learning rate of G and D (paper: 2e-4)")
    beta1: float = option(0.5, "Adam beta1 (paper: 0.5)")
    beta2: float = option(0.999, "Adam beta2")
    weight_decay: float = option(0.0, "L2 weight decay (authors' code: 1e-5; paper: none)")
    leaky_slope: float = option(0.2, "LeakyReLU slope in D")

    def __post_init__(self) -> None:
        if self.image_size is not None and (self.image_size < 32 or not is_power_of_two(self.image_size)):
            raise ValueError(f"image_size must be a power of two >= 32, got {self.image_size}")
        if (self.ngf is not None and self.ngf < 1) or (self.ndf is not None and self.ndf < 1):
            raise ValueError(f"ngf and ndf must be >= 1, got {self.ngf}, {self.ndf}")
        if not 0 <= self.leaky_slope < 1:
            raise ValueError(f"leaky_slope must lie in [0, 1), got {self.leaky_slope}")
        _check_common(self)


@dataclass(frozen=True)
class PytorchExamplesConfig(DCGANConfig):
    """pytorch/examples' dcgan defaults: 4x4 kernels, Gaussian z, batch 64, 64 channels."""

    z_prior: Literal["uniform", "normal"] = option("normal", "prior of z: U(-1, 1) (paper) or N(0, 1)")
    ngf: int | None = option(64, "G width: channels of G's last hidden layer")
    ndf: int | None = option(64, "D width: channels of D's first layer")
    kernel_size: int = option(4, "conv kernel size (pytorch/examples: 4)")
    batch_size: int = option(64, "images per step (pytorch/examples: 64)")


@dataclass(frozen=True)
class ImageNet32Config:
    """The authors' ImageNet-32 discriminator (the CIFAR-10 feature extractor) and its mirror G.

    D: six 3x3 convs with ``widths`` channels and ``strides``; the probe max-pools each layer to
    4x4, so the default widths give (128+128+256+256+512+512) x 16 = 28,672 features.
    """

    image_size: int = option(32, "training resolution")
    z_dim: int = option(100, "latent dimension")
    z_prior: Literal["uniform", "normal"] = option("uniform", "prior of z: U(-1, 1) (paper) or N(0, 1)")
    widths: tuple[int, ...] = option((128, 128, 256, 256, 512, 512), "D conv channels, input to output")
    strides: tuple[int, ...] = option((1, 2, 1, 2, 1, 2), "D conv strides")
    kernel_size: int = option(3, "conv kernel size (authors' ImageNet-32 D: 3)")
    batch_size: int = option(128, "images per step (paper: 128)")
    lr: float = option(2e-4, "Adam learning rate of G and D (paper: 2e-4)")
    beta1: float = option(0.5, "Adam beta1 (paper: 0.5)")
    beta2: float = option(0.999, "Adam beta2")
    weight_decay: float = option(0.0, "L2 weight decay (authors' code: 1e-5; paper: none)")
    leaky_slope: float = option(0.2, "LeakyReLU slope in D")

    def __post_init__(self) -> None:
        if len(self.widths) != len(self.strides) or not self.widths:
            raise ValueError(f"widths and strides need the same, non-zero length, got "
                             f"{len(self.widths)} and {len(self.strides)}")
        if any(w < 1 for w in self.widths) or any(s not in (1, 2) for s in self.strides):
            raise ValueError("widths must be >= 1 and strides 1 or 2")
        if 1 in self.strides and self.kernel_size % 2 == 0:
            raise ValueError(f"stride-1 layers need an odd kernel_size, got {self.kernel_size}")
        final = self.image_size // 2 ** sum(s == 2 for s in self.strides)
        if final < 1 or self.image_size % 2 ** sum(s == 2 for s in self.strides):
            raise ValueError(f"image_size {self.image_size} cannot be halved "
                             f"{sum(s == 2 for s in self.strides)} times")
        _check_common(self)
