"""gansuite-example: registers the model ``tiny-gan``, the probe ``pixel-stats`` and the eval
``fake-pixel-stats``. Importing this module is cheap: the torch code lives in ``models.py`` and
``probes.py`` and is imported only when gansuite builds the objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gansuite import EvalSpec, ModelSpec, ProbeSpec, hookimpl

__all__ = ["TinyGANConfig", "PixelStatsConfig"]


@dataclass(frozen=True)
class TinyGANConfig:
    """Options of ``tiny-gan`` (set with ``-o key=value``)."""

    z_dim: int = field(default=16, metadata={"help": "latent size"})
    width: int = field(default=16, metadata={"help": "channels of the first conv"})
    lr: float = field(default=2e-4, metadata={"help": "Adam learning rate of G and D"})

    def __post_init__(self) -> None:
        if self.z_dim < 1 or self.width < 1:
            raise ValueError("z_dim and width must be positive")


@dataclass(frozen=True)
class PixelStatsConfig:
    """Options of the ``pixel-stats`` probe."""

    n_samples: int = field(default=256, metadata={"help": "generated images to compare"})


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
