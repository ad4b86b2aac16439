"""gansuite-example: registers the models ``tiny-gan`` (default training step) and
``example-wgan-gp`` (its own step), the dataset ``npz-images``, the probe ``pixel-stats`` and the
eval ``fake-pixel-stats``. Importing this module is cheap: the torch code lives in ``models.py``,
``wgan.py``, ``npz.py`` and ``probes.py``, imported only when gansuite builds the objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from gansuite import DatasetSpec, EvalSpec, ModelSpec, ProbeSpec, hookimpl, option

__all__ = ["TinyGANConfig", "WGANGPConfig", "NpzConfig", "PixelStatsConfig"]


@dataclass(frozen=True)
class TinyGANConfig:
    """Options of ``tiny-gan`` (set with ``-o key=value``)."""

    z_dim: int = option(16, "latent size")
    width: int = option(16, "channels of the first conv")
    lr: float = option(2e-4, "Adam learning rate of G and D")

    def __post_init__(self) -> None:
        if self.z_dim < 1 or self.width < 1:
            raise ValueError("z_dim and width must be positive")


@dataclass(frozen=True)
class WGANGPConfig:
    """Options of ``example-wgan-gp``."""

    z_dim: int = option(32, "latent size")
    width: int = option(16, "channels of the first critic conv")
    lr: float = option(1e-4, "Adam learning rate (betas 0, 0.9)")
    n_critic: int = option(5, "critic steps per G step, each on a fresh batch")
    gp_weight: float = option(10.0, "gradient penalty weight (lambda)")
    ema_decay: float = option(0.0, "EMA of G evaluated by probes (0: off)")

    def __post_init__(self) -> None:
        if self.z_dim < 1 or self.width < 1 or self.n_critic < 1:
            raise ValueError("z_dim, width and n_critic must be positive")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class NpzConfig:
    """Options of ``npz-images``."""

    path: str = option("npz-images", "folder under the data root")


@dataclass(frozen=True)
class PixelStatsConfig:
    """Options of the ``pixel-stats`` probe."""

    n_samples: int = option(256, "generated images to compare")


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="tiny-gan",
        summary="A two-conv GAN for smoke tests (example plugin).",
        factory="gansuite_example.models:build",
        config=TinyGANConfig,
        license="MIT",
        tags=("example",),
    ))
    register(ModelSpec(
        name="example-wgan-gp",
        summary="A small WGAN-GP owning its training step (example plugin).",
        factory="gansuite_example.wgan:build",
        config=WGANGPConfig,
        paper="Gulrajani et al. 2017, arXiv:1704.00028",
        deviations=("Two convs each way instead of the paper's ResNet or DCGAN-sized networks.",),
        tags=("example",),
    ))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="npz-images",
        summary="Images in one .npz file per split (images uint8 NHWC, optional labels).",
        factory="gansuite_example.npz:build",
        config=NpzConfig,
        splits=("train", "test"),
        image_size=32,
        channels=3,
    ))


@hookimpl
def register_probes(register):
    register(ProbeSpec(
        name="pixel-stats",
        summary="Mean and std of generated pixels next to the real split's.",
        factory="gansuite_example.probes:build",
        config=PixelStatsConfig,
    ))


@hookimpl
def register_evals(register):
    register(EvalSpec(
        name="fake-pixel-stats",
        summary="pixel-stats on the fake dataset's test split.",
        dataset="fake",
        probe="pixel-stats",
        train_split="train",
        test_split="test",
        params={"n_samples": 128},
    ))
