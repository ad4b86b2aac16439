"""Typed options of the GAN family models (torch-free: ``gansuite list`` imports this module).

Every field is settable with ``-o key=value`` (``gansuite show wgan-gp`` lists them). Defaults
are each paper's CIFAR-10 setting; the options shared by all three families (an EMA of G,
linear learning-rate decay, the R1 penalty) are off by default, as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gansuite import option

__all__ = ["FamilyConfig", "WGANGPConfig", "SNGANConfig", "ProjectionConfig"]



@dataclass(frozen=True)
class FamilyConfig:
    """Options every family shares: size, prior, optimiser, and the shared extras."""

    image_size: int | None = option(None, "training resolution (a multiple of 8); None: the dataset's")
    z_dim: int = option(128, "latent dimension (z ~ N(0, I))")
    batch_size: int = option(64, "images per D step (the papers: 64)")
    lr: float = option(2e-4, "Adam learning rate of G and D")
    beta1: float = option(0.5, "Adam beta1")
    beta2: float = option(0.999, "Adam beta2")
    n_dis: int = option(1, "D updates per G update, each on a fresh real batch")
    leaky_slope: float = option(0.1, "LeakyReLU slope in D")
    ema: bool = option(False, "keep an exponential moving average of G's weights; probes and sample "
                            "grids use it")
    ema_decay: float = option(0.999, "EMA decay per G update")
    lr_decay: Literal["none", "linear"] = option("none", "linear: both learning rates fall linearly to 0 "
                                                       "over the run's step limit (--max-steps or --epochs; "
                                                       "raising it on --resume stretches the rest)")
    r1_gamma: float = option(0.0, "R1 penalty weight gamma (Mescheder et al. 2018): gamma/2 E|grad D(x)|^2 "
                                "on real images; 0 = off")

    def __post_init__(self) -> None:
        if self.image_size is not None and (self.image_size < 8 or self.image_size % 8):
            raise ValueError(f"image_size must be a multiple of 8 (>= 8), got {self.image_size}")
        for name in ("z_dim", "batch_size", "n_dis"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if not 0 <= self.leaky_slope < 1:
            raise ValueError(f"leaky_slope must lie in [0, 1), got {self.leaky_slope}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")
        if self.r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma}")


@dataclass(frozen=True)
class WGANGPConfig(FamilyConfig):
    """WGAN-GP's CIFAR-10 CNN (the authors' gan_cifar.py): 5x5 (de)convolutions, width ``dim``."""

    dim: int = option(128, "width DIM: D has DIM, 2*DIM, 4*DIM channels; G mirrors it (authors: 128)")
    lr: float = option(1e-4, "Adam learning rate (paper, Algorithm 1: 1e-4)")
    beta1: float = option(0.0, "Adam beta1 (paper, Algorithm 1: 0; the released code: 0.5)")
    beta2: float = option(0.9, "Adam beta2 (paper: 0.9)")
    n_dis: int = option(5, "critic updates per G update, each on a fresh real batch (paper: 5)")
    leaky_slope: float = option(0.2, "LeakyReLU slope in the critic (authors' code: 0.2)")
    gp_weight: float = option(10.0, "gradient penalty weight lambda (paper: 10); 0 = plain WGAN loss")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1, got {self.dim}")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight}")


@dataclass(frozen=True)
class SNGANConfig(FamilyConfig):
    """The SN paper's standard CNN (its Table 3) with spectral normalisation in D, hinge loss."""

    ch: int = option(512, "width: G starts from ch channels at 1/8 of the image size; D ends with ch "
                        "(paper: 512)")
    lr: float = option(2e-4, "Adam learning rate (paper's setting C: 2e-4)")
    beta1: float = option(0.5, "Adam beta1 (setting C: 0.5)")
    beta2: float = option(0.999, "Adam beta2 (setting C: 0.999)")
    n_dis: int = option(1, "D updates per G update (setting C: 1)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ch < 8 or self.ch % 8:
            raise ValueError(f"ch must be a multiple of 8 (>= 8), got {self.ch}")


@dataclass(frozen=True)
class ProjectionConfig(SNGANConfig):
    """Class-conditional SN-GAN: projection discriminator, conditional BatchNorm in G."""

    num_classes: int = option(10, "number of classes y (labels 0..num_classes-1; the dataset's)")
    lr: float = option(2e-4, "Adam learning rate (authors' CIFAR-10 config: 2e-4)")
    beta1: float = option(0.0, "Adam beta1 (authors' CIFAR-10 config: 0)")
    beta2: float = option(0.9, "Adam beta2 (authors' CIFAR-10 config: 0.9)")
    n_dis: int = option(5, "D updates per G update (authors' CIFAR-10 config: 5)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
