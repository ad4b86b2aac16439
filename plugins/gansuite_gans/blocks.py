"""Network pieces the families share: G's upsampling block (BatchNorm or class-conditional
BatchNorm), a stack of D convolutions that exposes its activations, and initialisers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["ConditionalBatchNorm2d", "UpBlock", "ConvStack", "init_normal", "maybe_sn"]


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine map, then a per-class gain and bias (de Vries et al.
    2017; the projection paper's generator): ``gamma[y] * BN(x) + beta[y]``, gains starting at
    1 and biases at 0."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.bn(x)
        return h * self.gamma(y)[:, :, None, None] + self.beta(y)[:, :, None, None]


class UpBlock(nn.Module):
    """A stride-2 transposed convolution doubling the size, (conditional) BatchNorm, ReLU.

    Its output is the block's feature map (what ``generator_blocks`` hooks)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, num_classes: int = 0) -> None:
        super().__init__()
        pad = (kernel - 1) // 2
        # (in - 1) * 2 - 2 * pad + kernel + out_pad = 2 * in
        out_pad = 2 + 2 * pad - kernel
        self.conv = nn.ConvTranspose2d(c_in, c_out, kernel, 2, pad, out_pad)
        self.norm: nn.Module = ConditionalBatchNorm2d(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out)
        self.conditional = bool(num_classes)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(x)
        h = self.norm(h, y) if self.conditional else self.norm(h)
        return self.act(h)


def maybe_sn(module: nn.Module, sn: bool, std: float | None = None) -> nn.Module:
    """``module``, first initialised N(0, ``std``) (when given; biases 0), then with spectral
    normalisation of its weight when ``sn`` (one power iteration per forward in training
    mode, as in the SN paper; torch starts u and v with 15)."""
    if std is not None:
        init_normal(module, std)
    return spectral_norm(module) if sn else module


class ConvStack(nn.Module):
    """D's convolutions: per layer ``(channels, kernel, stride)`` a conv and LeakyReLU (no
    normalisation layers; spectral normalisation of the weights when ``sn``)."""

    def __init__(self, channels: int, layers: Sequence[tuple[int, int, int]], slope: float, sn: bool,
                 std: float | None = None) -> None:
        super().__init__()
        convs = []
        c_in = channels
        for c_out, kernel, stride in layers:
            pad = (kernel - 1) // 2 if stride == 1 or kernel % 2 else kernel // 2 - 1
            convs.append(maybe_sn(nn.Conv2d(c_in, c_out, kernel, stride, pad), sn, std))
            c_in = c_out
        self.convs = nn.ModuleList(convs)
        self.act = nn.LeakyReLU(slope)
        self.out_channels = c_in

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activation after every conv layer, in order."""
        out = []
        for conv in self.convs:
            x = self.act(conv(x))
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = self.act(conv(x))
        return x


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std) weights and zero biases for (transposed) convolutions and linear layers
    (before any spectral normalisation is applied)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (and y) -> images in [-1, 1]: a linear projection to ``start`` channels at
    ``bottom`` x ``bottom`` with BatchNorm and ReLU, then one :class:`UpBlock` per width, then
    ``out`` (the output convolution) and Tanh."""

    def __init__(self, z_dim: int, start: int, bottom: int, widths: Sequence[int], kernel: int,
                 out: nn.Module, num_classes: int = 0) -> None:
        super().__init__()
        self.start, self.bottom = start, bottom
        self.project = nn.Linear(z_dim, start * bottom * bottom)
        self.project_bn = nn.BatchNorm1d(start * bottom * bottom)
        blocks = []
        c_in = start
        for c_out in widths:
            blocks.append(UpBlock(c_in, c_out, kernel, num_classes))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.out = out
        self.tanh = nn.Tanh()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.project_bn(self.project(z))).view(-1, self.start, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y)
        return self.tanh(self.out(h))


class Discriminator(nn.Module):
    """images -> one score each: :class:`ConvStack`, then a linear layer on the flattened last
    activation (spectrally normalised when ``sn``)."""

    def __init__(self, stack: ConvStack, final_size: int, sn: bool, std: float | None = None) -> None:
        super().__init__()
        self.stack = stack
        self.head = maybe_sn(nn.Linear(stack.out_channels * final_size * final_size, 1), sn, std)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.stack.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(x).flatten(1)).squeeze(1)


class ProjectionDiscriminator(nn.Module):
    """The projection discriminator (Miyato & Koyama 2018): with ``phi(x)`` D's last conv
    activation, flattened, ``D(x, y) = psi(phi(x)) + <V[y], phi(x)>``: ``psi`` is the
    unconditional D's linear output layer, ``V`` a class embedding of phi's size; both are
    spectrally normalised like the convolutions."""

    def __init__(self, stack: ConvStack, final_size: int, num_classes: int, std: float | None = None) -> None:
        super().__init__()
        self.stack = stack
        dim = stack.out_channels * final_size * final_size
        self.head = maybe_sn(nn.Linear(dim, 1), True, std)
        embed = nn.Embedding(num_classes, dim)
        nn.init.xavier_uniform_(embed.weight)
        self.embed = maybe_sn(embed, True)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The conv activations (the class enters only after the last of them)."""
        return self.stack.features(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.stack(x).flatten(1)
        out = self.head(phi).squeeze(1)
        if y is not None:
            out = out + (self.embed(y) * phi).sum(1)
        return out
