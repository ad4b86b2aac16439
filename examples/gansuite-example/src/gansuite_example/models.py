"""The torch side of ``tiny-gan``: a generator and discriminator with two convs each."""

from __future__ import annotations

import torch
from torch import nn

from gansuite import GANModel, TrainingRecipe


class _Generator(nn.Module):
    def __init__(self, z_dim: int, width: int, size: int, channels: int) -> None:
        super().__init__()
        self.start = size // 4
        self.width = width
        self.project = nn.Linear(z_dim, width * 2 * self.start * self.start)
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(width * 2, width, 4, 2, 1),
            nn.BatchNorm2d(width),  # as in DCGAN: keeps G's activations (and a random G's samples) at unit scale
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.width * 2, self.start, self.start)
        return self.net(x)


class _Discriminator(nn.Module):
    def __init__(self, width: int, size: int, channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.Conv2d(width, width * 2, 4, 2, 1),
        ])
        self.act = nn.LeakyReLU(0.2)
        self.head = nn.Linear(width * 2 * (size // 4) ** 2, 1)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for conv in self.convs:
            x = self.act(conv(x))
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(x)[-1].flatten(1)).view(-1)


class TinyGAN(GANModel):
    """Implements gansuite's GANModel protocol."""

    def __init__(self, config, image_size: int, channels: int) -> None:
        self.config = config
        self.z_dim = config.z_dim
        self.image_size = image_size
        self.channels = channels
        self.recipe = TrainingRecipe(batch_size=64, lr_g=config.lr, lr_d=config.lr)
        self.generator = _Generator(config.z_dim, config.width, image_size, channels)
        self.discriminator = _Discriminator(config.width, image_size, channels)
        self._bce = nn.BCEWithLogitsLoss()

    def sample_z(self, n, *, generator=None, device=None):
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def features(self, x):
        return self.discriminator.layers(x)

    def d_loss(self, real_logits, fake_logits):
        return self._bce(real_logits, torch.ones_like(real_logits)) + self._bce(
            fake_logits, torch.zeros_like(fake_logits))

    def g_loss(self, fake_logits):
        return self._bce(fake_logits, torch.ones_like(fake_logits))

    def optimizers(self):
        r = self.recipe
        return (torch.optim.Adam(self.generator.parameters(), lr=r.lr_g, betas=r.betas),
                torch.optim.Adam(self.discriminator.parameters(), lr=r.lr_d, betas=r.betas))


def build(config, *, image_size: int, channels: int) -> TinyGAN:
    """The factory named in the ModelSpec."""
    if image_size % 4:
        from gansuite import OptionError

        raise OptionError(f"tiny-gan needs an image size divisible by 4, got {image_size}.")
    return TinyGAN(config, image_size, channels)
