"""Config dataclasses of the dedup strategies (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

from gansuite import option

__all__ = ["PHashConfig", "AEHashConfig"]


@dataclass(frozen=True)
class PHashConfig:
    """DCT perceptual hash: grayscale, resize to ``hash_size * highfreq_factor``, DCT, keep the
    ``hash_size`` x ``hash_size`` low frequencies, one bit per coefficient above their median."""

    hash_size: int = option(8, "side of the kept DCT block (bits = side^2)")
    highfreq_factor: int = option(4, "resize to hash_size * this before the DCT")

    def __post_init__(self) -> None:
        if not 2 <= self.hash_size <= 11:
            raise ValueError(f"hash_size must be in 2..11 (at most 128 bits), got {self.hash_size}")
        if self.highfreq_factor < 1:
            raise ValueError(f"highfreq_factor must be at least 1, got {self.highfreq_factor}")


@dataclass(frozen=True)
class AEHashConfig:
    """The paper's 3072-128-3072 denoising, dropout-regularised ReLU autoencoder hash."""

    noise: float = option(0.3, "std of the Gaussian input noise (pixels in [0, 1])")
    dropout: float = option(0.5, "dropout on the 128-unit code while training")
    epochs: int = option(10, "training epochs over the (sampled) dataset")
    threshold: float = option(0.0, "a code unit is 1 when its ReLU output > this")
    batch_size: int = 256
    lr: float = 1e-3
    max_train: int = option(100_000, "train on at most this many images")
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("epochs", "batch_size", "max_train"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 (a ReLU output is never negative), got {self.threshold}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
