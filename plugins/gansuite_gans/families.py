"""The family networks as their papers build them, and the factories the specs name.

- ``wgan-gp``: the authors' CIFAR-10 CNN (gan_cifar.py, DIM = 128): G projects z to
  4*DIM x 4 x 4 (BatchNorm, ReLU), two 5x5 stride-2 transposed convs to 2*DIM and DIM
  (BatchNorm, ReLU), a 5x5 stride-2 transposed conv to the image, Tanh. The critic: three 5x5
  stride-2 convs (DIM, 2*DIM, 4*DIM), LeakyReLU 0.2, no BatchNorm, a linear output.
- ``sngan``: the SN paper's standard CNN (its Table 3, ch = 512): G projects z to ch x 4 x 4
  (BatchNorm, ReLU), three 4x4 stride-2 transposed convs to ch/2, ch/4, ch/8 (BatchNorm, ReLU),
  a 3x3 conv to the image, Tanh. D: 3x3 stride-1 and 4x4 stride-2 convs with 64, 64, 128, 128,
  256, 256, 512 channels (ch/8 ... ch), LeakyReLU 0.1, a linear output; every weight
  spectrally normalised.
- ``sngan-projection``: the same networks made class-conditional: conditional BatchNorm in G's
  upsampling blocks, and D's output ``psi(phi(x)) + <V[y], phi(x)>`` with ``phi`` the flattened
  last activation (the dense layer's input) and ``V`` a class embedding.

At other sizes (multiples of 8) the networks start from image_size / 8 instead of 4.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from gansuite import OptionError
from gansuite_gans.base import FamilyGAN
from gansuite_gans.blocks import ConvStack, Discriminator, Generator, ProjectionDiscriminator, init_normal

__all__ = ["build_wgan_gp", "build_sngan", "build_sngan_projection", "sn_layers"]


def _size(cfg: Any, image_size: int | None) -> int:
    size = int(cfg.image_size or image_size or 32)
    if size < 8 or size % 8:
        raise OptionError(f"This model trains at a multiple of 8 (three stride-2 layers), but the data are "
                          f"{size}x{size}; pass -o image_size=32 (or another multiple of 8).")
    return size


def build_wgan_gp(cfg: Any, *, image_size: int | None = None, channels: int = 3) -> FamilyGAN:
    """WGAN-GP's CIFAR-10 CNN (``WGANGPConfig``); PyTorch's default initialisation."""
    size, dim = _size(cfg, image_size), cfg.dim
    out = nn.ConvTranspose2d(dim, channels, 5, 2, 2, 1)
    gen = Generator(cfg.z_dim, 4 * dim, size // 8, [2 * dim, dim], 5, out)
    stack = ConvStack(channels, [(dim, 5, 2), (2 * dim, 5, 2), (4 * dim, 5, 2)], cfg.leaky_slope, sn=False)
    disc = Discriminator(stack, size // 8, sn=False)
    details = {"dim": dim, "generator_channels": [4 * dim, 2 * dim, dim, channels],
               "discriminator_channels": [dim, 2 * dim, 4 * dim]}
    return FamilyGAN(gen, disc, cfg=cfg, image_size=size, channels=channels, loss="wasserstein",
                     gp_weight=cfg.gp_weight, details=details)


def sn_layers(ch: int) -> list[tuple[int, int, int]]:
    """The SN paper's standard-CNN D: ``(channels, kernel, stride)`` per conv (Table 3)."""
    return [(ch // 8, 3, 1), (ch // 8, 4, 2), (ch // 4, 3, 1), (ch // 4, 4, 2),
            (ch // 2, 3, 1), (ch // 2, 4, 2), (ch, 3, 1)]


def _sn_generator(cfg: Any, size: int, channels: int, num_classes: int) -> Generator:
    ch = cfg.ch
    gen = Generator(cfg.z_dim, ch, size // 8, [ch // 2, ch // 4, ch // 8], 4,
                    nn.Conv2d(ch // 8, channels, 3, 1, 1), num_classes=num_classes)
    init_normal(gen)
    return gen


def _sn_details(cfg: Any, channels: int) -> dict[str, Any]:
    ch = cfg.ch
    return {"ch": ch, "generator_channels": [ch, ch // 2, ch // 4, ch // 8, channels],
            "discriminator_channels": [c for c, _, _ in sn_layers(ch)]}


def build_sngan(cfg: Any, *, image_size: int | None = None, channels: int = 3) -> FamilyGAN:
    """SN-GAN with the standard CNN and the hinge loss (``SNGANConfig``); N(0, 0.02) init."""
    size = _size(cfg, image_size)
    stack = ConvStack(channels, sn_layers(cfg.ch), cfg.leaky_slope, sn=True, std=0.02)
    disc = Discriminator(stack, size // 8, sn=True, std=0.02)
    return FamilyGAN(_sn_generator(cfg, size, channels, 0), disc, cfg=cfg, image_size=size, channels=channels,
                     loss="hinge", details=_sn_details(cfg, channels))


def build_sngan_projection(cfg: Any, *, image_size: int | None = None, channels: int = 3) -> FamilyGAN:
    """Class-conditional SN-GAN: projection D, conditional BatchNorm in G (``ProjectionConfig``)."""
    size = _size(cfg, image_size)
    stack = ConvStack(channels, sn_layers(cfg.ch), cfg.leaky_slope, sn=True, std=0.02)
    disc = ProjectionDiscriminator(stack, size // 8, cfg.num_classes, std=0.02)
    return FamilyGAN(_sn_generator(cfg, size, channels, cfg.num_classes), disc, cfg=cfg, image_size=size,
                     channels=channels, loss="hinge", num_classes=cfg.num_classes,
                     details=_sn_details(cfg, channels))
