"""DCGAN generators, discriminators and the model object the trainer and probes use.

Both networks are built from a list of ``(channels, stride)`` layers, so the paper's
Figure 1 network and the authors' ImageNet-32 discriminator share one implementation:

- G: ``z`` -> linear (a matrix multiply, no bias) -> BatchNorm -> ReLU -> reshape to 4x4, then
  per layer a fractional-strided (stride 2) or plain (stride 1) convolution, BatchNorm + ReLU
  everywhere except the output layer, which has a bias and Tanh.
- D: per layer a (strided) convolution and LeakyReLU, BatchNorm everywhere except the input layer;
  the last conv's output is flattened into one logit (the sigmoid lives in the loss).
- Initialisation: conv/linear weights N(0, 0.02), BatchNorm gain N(1, 0.02), every bias 0.

G's output layer and D's input layer are :mod:`gansuite_dcgan.imageconv`'s subclasses of the
torch layers: the same parameters and map, with a faster CPU path for the few-channel transposed
convolution each of them needs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gansuite import GANModel, TrainingRecipe
from gansuite_dcgan.config import default_width
from gansuite_dcgan.imageconv import ImageConv2d, ImageConvTranspose2d, resize_padding

__all__ = ["Generator", "Discriminator", "DCGAN", "build_dcgan", "build_imagenet32", "init_weights"]

Layers = list[tuple[int, int]]


class Generator(nn.Module):
    """z (N, z_dim) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, start_channels: int, layers: Layers, kernel: int) -> None:
        super().__init__()
        self.start_channels = start_channels
        self.project = nn.Linear(z_dim, start_channels * 16, bias=False)
        # BatchNorm over every projected unit, as the authors' code normalises the matmul output.
        self.project_bn = nn.BatchNorm1d(start_channels * 16)
        blocks: list[nn.Module] = []
        c_in = start_channels
        pad, out_pad = resize_padding(kernel)
        for i, (c_out, stride) in enumerate(layers):
            last = i == len(layers) - 1
            if stride == 2:
                # the output layer (few channels): a faster CPU path, same parameters and math
                cls = ImageConvTranspose2d if last else nn.ConvTranspose2d
                conv: nn.Module = cls(c_in, c_out, kernel, 2, pad, out_pad, bias=last)
            else:
                conv = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=last)
            blocks.append(conv)
            blocks.extend([nn.Tanh()] if last else [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)])
            c_in = c_out
        self.main = nn.Sequential(*blocks)
        # ReLU + reshape to (C, 4, 4) as a module (no parameters, so checkpoints keep their keys):
        # its output is the projection block's feature map, which probes hook.
        self.project_out = nn.Sequential(nn.ReLU(inplace=True), nn.Unflatten(1, (start_channels, 4, 4)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(self.project_out(self.project_bn(self.project(z))))


class Discriminator(nn.Module):
    """images (N, C, H, W) in [-1, 1] -> logits (N,)."""

    def __init__(self, channels: int, image_size: int, layers: Layers, kernel: int, slope: float) -> None:
        super().__init__()
        blocks = []
        c_in, size = channels, image_size
        pad, _ = resize_padding(kernel)
        for i, (c_out, stride) in enumerate(layers):
            cls = ImageConv2d if i == 0 else nn.Conv2d  # the input layer: a faster CPU input gradient
            mods: list[nn.Module] = [cls(c_in, c_out, kernel, stride, pad if stride == 2 else kernel // 2,
                                         bias=i == 0)]
            if i > 0:
                mods.append(nn.BatchNorm2d(c_out))
            mods.append(nn.LeakyReLU(slope, inplace=True))
            blocks.append(nn.Sequential(*mods))
            c_in, size = c_out, size // stride
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c_in * size * size, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activation after every conv layer, in order."""
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        # head(x.flatten(1)), with the flatten taken in (H, W, C) order: a free view of a
        # channels_last x, so the gradient flows back channels_last too (a (C, H, W) flatten
        # copies, and its NCHW gradient made every backward op below convert layouts).
        n, c, h, w = x.shape
        weight = self.head.weight.view(1, c, h, w).permute(0, 2, 3, 1).reshape(1, -1)
        return F.linear(x.permute(0, 2, 3, 1).reshape(n, -1), weight, self.head.bias).squeeze(1)


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation: N(0, 0.02) weights, BN gain N(1, 0.02), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGAN(GANModel):
    """A generator/discriminator pair with its prior, losses and recipe.

    The training step is :class:`gansuite.GANModel`'s default (D step, then G step on the
    reused G output with D frozen) on the non-saturating losses below.
    """

    def __init__(self, generator: Generator, discriminator: Discriminator, *, z_dim: int, image_size: int,
                 channels: int, recipe: TrainingRecipe, z_prior: str = "uniform",
                 details: dict[str, Any] | None = None) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = z_dim
        self.image_size = image_size
        self.channels = channels
        self.recipe = recipe
        self.z_prior = z_prior
        self.details = dict(details or {})

    def describe(self) -> dict[str, Any]:
        """The built networks as trained: widths after defaults, layer channels, kernel, prior."""
        return {"image_size": self.image_size, "z_dim": self.z_dim, "z_prior": self.z_prior, **self.details}

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        """``n`` latents: U(-1, 1) (the paper) or N(0, 1)."""
        if self.z_prior == "normal":
            return torch.randn(n, self.z_dim, generator=generator, device=device)
        return torch.rand(n, self.z_dim, generator=generator, device=device).mul_(2).sub_(1)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The activation after each of D's conv blocks (LeakyReLU output), input to output."""
        return self.discriminator.features(x)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """BCE on logits: -log D(x) - log(1 - D(G(z)))."""
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The non-saturating generator loss -log D(G(z))."""
        return F.softplus(-fake_logits).mean()

    def step_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """``d_real``/``d_fake``: D's mean probability that real and generated images are real."""
        return {"d_real": torch.sigmoid(real_logits).mean(), "d_fake": torch.sigmoid(fake_logits).mean()}

    def generator_blocks(self) -> list[nn.Module]:
        """G's blocks in order, each the module whose output is that block's 4-D feature map:
        the projection (linear + BN + ReLU, reshaped to 4x4), then every (fractional-)strided
        convolution block (its ReLU; the output layer's Tanh)."""
        g = self.generator
        return [g.project_out, *(m for m in g.main if isinstance(m, (nn.ReLU, nn.Tanh)))]


def _recipe(cfg: Any) -> TrainingRecipe:
    return TrainingRecipe(batch_size=cfg.batch_size, lr_g=cfg.lr, lr_d=cfg.lr,
                          betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


def _image_size(cfg: Any, image_size: int | None) -> int:
    from gansuite import OptionError

    size = cfg.image_size or image_size or 64
    if size < 32 or size & (size - 1):
        raise OptionError(f"DCGAN trains at a power-of-two size >= 32, but the data are {size}x{size}; "
                          "pass -o image_size=32 (or 64, ...) to resize them.")
    return int(size)


def build_dcgan(cfg: Any, *, image_size: int | None = None, channels: int = 3) -> DCGAN:
    """The paper's all-convolutional DCGAN (``DCGANConfig``)."""
    size = _image_size(cfg, image_size)
    n = int(math.log2(size // 4))
    ngf = cfg.ngf or default_width(size)
    ndf = cfg.ndf or default_width(size)
    g_layers = [(ngf * 2 ** (n - 1 - i), 2) for i in range(1, n)] + [(channels, 2)]
    d_layers = [(ndf * 2**i, 2) for i in range(n)]
    gen = Generator(cfg.z_dim, ngf * 2 ** (n - 1), g_layers, cfg.kernel_size)
    disc = Discriminator(channels, size, d_layers, cfg.kernel_size, cfg.leaky_slope)
    init_weights(gen)
    init_weights(disc)
    details = {"ngf": ngf, "ndf": ndf, "kernel_size": cfg.kernel_size,
               "generator_channels": [c for c, _ in g_layers],
               "discriminator_channels": [c for c, _ in d_layers]}
    return DCGAN(gen, disc, z_dim=cfg.z_dim, image_size=size, channels=channels,
                 recipe=_recipe(cfg), z_prior=cfg.z_prior, details=details)


def build_imagenet32(cfg: Any, *, image_size: int | None = None, channels: int = 3) -> DCGAN:
    """The authors' ImageNet-32 D (``ImageNet32Config``) and a G that mirrors it layer by layer."""
    from gansuite import OptionError

    size = cfg.image_size
    if image_size is not None and image_size != size:
        raise OptionError(f"This model trains at {size}x{size}, but the data were prepared at "
                          f"{image_size}x{image_size}; pass -o image_size={image_size} or resize the data.")
    d_layers = list(zip(cfg.widths, cfg.strides, strict=True))
    # Mirror: D's layers reversed; each G layer outputs the width of the D layer before it.
    outs = [channels, *cfg.widths[:-1]][::-1]
    g_layers = list(zip(outs, cfg.strides[::-1], strict=True))
    start = size // 2 ** sum(s == 2 for s in cfg.strides)
    if start != 4:
        raise OptionError(f"The generator starts from 4x4; widths/strides reach {start}x{start} at "
                          f"image_size {size}.")
    gen = Generator(cfg.z_dim, cfg.widths[-1], g_layers, cfg.kernel_size)
    disc = Discriminator(channels, size, d_layers, cfg.kernel_size, cfg.leaky_slope)
    init_weights(gen)
    init_weights(disc)
    details = {"kernel_size": cfg.kernel_size, "generator_channels": [c for c, _ in g_layers],
               "generator_strides": [s for _, s in g_layers],
               "discriminator_channels": list(cfg.widths), "discriminator_strides": list(cfg.strides)}
    return DCGAN(gen, disc, z_dim=cfg.z_dim, image_size=size, channels=channels,
                 recipe=_recipe(cfg), z_prior=cfg.z_prior, details=details)
