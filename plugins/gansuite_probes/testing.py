"""A tiny :class:`gansuite.GANModel` (default losses and step), for fast probe tests.

Plugin authors can test a new probe against it without a real architecture:
``build_tiny(TinyConfig(), image_size=16, channels=3)``. ``hooks`` is a plugin object that
registers it as the model ``probe-test-gan`` (pass it to ``build_catalog(extra_plugins=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import GANModel, ModelSpec, TrainingRecipe, hookimpl

__all__ = ["TinyConfig", "TinyGAN", "build_tiny", "hooks", "TINY_SPEC"]


@dataclass(frozen=True)
class TinyConfig:
    """Widths of the tiny model."""

    z_dim: int = 16
    width: int = 8


class _G(nn.Module):
    def __init__(self, z_dim: int, width: int, channels: int, image_size: int) -> None:
        super().__init__()
        self.start = image_size // 4
        self.width = width
        self.project = nn.Linear(z_dim, width * 2 * self.start**2)
        # ReLU + reshape as a parameter-free module: its output is the projection block's feature map
        self.act0 = nn.Sequential(nn.ReLU(), nn.Unflatten(1, (width * 2, self.start, self.start)))
        self.up1 = nn.ConvTranspose2d(width * 2, width, 4, 2, 1)
        self.bn = nn.BatchNorm2d(width)
        self.act = nn.ReLU()
        self.up2 = nn.ConvTranspose2d(width, channels, 4, 2, 1)
        self.out = nn.Tanh()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.act0(self.project(z))
        return self.out(self.up2(self.act(self.bn(self.up1(h)))))


class _D(nn.Module):
    def __init__(self, width: int, channels: int, image_size: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 4, 2, 1)
        self.conv2 = nn.Conv2d(width, width * 2, 4, 2, 1)
        self.bn = nn.BatchNorm2d(width * 2)
        self.head = nn.Linear(width * 2 * (image_size // 4) ** 2, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h1 = F.leaky_relu(self.conv1(x), 0.2)
        h2 = F.leaky_relu(self.bn(self.conv2(h1)), 0.2)
        return [h1, h2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1].flatten(1)).squeeze(1)


class TinyGAN(GANModel):
    """Two conv layers each way; uniform z like DCGAN."""

    def __init__(self, config: TinyConfig, image_size: int, channels: int) -> None:
        if image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        self.z_dim = config.z_dim
        self.image_size = image_size
        self.channels = channels
        self.recipe = TrainingRecipe(batch_size=32)
        self.generator = _G(config.z_dim, config.width, channels, image_size)
        self.discriminator = _D(config.width, channels, image_size)

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        return torch.rand(n, self.z_dim, generator=generator, device=device).mul_(2).sub_(1)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.discriminator.features(x)

    def generator_blocks(self) -> list[nn.Module]:
        """G's blocks in order (the modules whose outputs are their 4-D feature maps)."""
        g = self.generator
        return [g.act0, g.act, g.out] if isinstance(g, _G) else []


def build_tiny(config: TinyConfig | None, *, image_size: int = 16, channels: int = 3) -> TinyGAN:
    """Factory of the ``probe-test-gan`` model spec."""
    return TinyGAN(config or TinyConfig(), image_size, channels)


TINY_SPEC = ModelSpec(name="probe-test-gan", summary="A two-layer GAN for fast tests.",
                      factory="gansuite_probes.testing:build_tiny", config=TinyConfig)


class _TinyHooks:
    """A plugin object registering ``probe-test-gan``."""

    @hookimpl
    def register_models(self, register: Callable[[ModelSpec], None]) -> None:
        register(TINY_SPEC)


hooks = _TinyHooks()
