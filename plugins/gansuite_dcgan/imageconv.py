"""The image-side layers of DCGAN (G's output transposed conv, D's input conv), faster on a CPU.

A stride-2 transposed convolution with few output channels (an RGB image) is the slowest
convolution of a DCGAN step on a CPU: oneDNN runs it at a fraction of the rate the other layers
reach. It appears twice per iteration: as G's output layer, and as the input gradient of D's first
conv (which the G step needs). Both are computed here by *polyphase decomposition*: each of the
four output phases ``y[2i + a, 2j + b]`` is a stride-1 convolution of the input with a sub-kernel
of the 5x5 (or 4x4) kernel, so one stride-1 3x3 convolution to ``4 * C_out`` channels followed by
``pixel_shuffle(2)`` gives the same map (the same products and sums, in another order: results
agree to float rounding). It does more multiply-adds (zero taps pad the four sub-kernels to 3x3:
36 taps where the 5x5 kernel has 25) but at the fast kernels' rate (the gain per step:
docs/benchmarks.md).

Everything else is PyTorch's own: the forward of D's conv, and every weight/bias gradient, are
``torch.ops.aten.convolution_backward``. The layers are plain ``nn.Conv2d``/``nn.ConvTranspose2d``
subclasses (same parameters, same state dict); the fast path is taken only in eager mode on a CPU
for a stride-2, padding-(k-1)//2 layer that doubles or halves the size; anything else (CUDA, where
cuDNN has no such gap, ``torch.compile``, other geometries) calls the parent's ``forward``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ImageConv2d", "ImageConvTranspose2d", "resize_padding", "phase_weight", "phase_transposed_conv"]

MAX_IMAGE_CHANNELS = 4  # where the polyphase path is faster (measured for 1-4 image channels)


def resize_padding(kernel: int) -> tuple[int, int]:
    """Padding and output padding that halve (stride-2 conv) or double (stride-2 transposed conv)
    an even size exactly: ``(k - 1) // 2`` and ``2 + 2 * pad - k``."""
    pad = (kernel - 1) // 2
    return pad, 2 + 2 * pad - kernel


def _taps(kernel: int, padding: int) -> tuple[int, int]:
    """The input offsets ``t = i - m`` a stride-2 transposed conv uses: ``(t_min, t_max)``."""
    lo = min(-((a + padding) // 2) for a in (0, 1))  # ceil((-a - p) / 2)
    hi = max((kernel - 1 - a - padding) // 2 for a in (0, 1))
    return lo, hi


def phase_weight(weight: torch.Tensor, padding: int) -> torch.Tensor:
    """A transposed-conv weight ``(C_in, C_out, k, k)`` (stride 2) as the ``(4 * C_out, C_in, K, K)``
    weight of the equivalent stride-1 convolution whose output ``pixel_shuffle(2)`` interleaves.

    Output phase ``a`` at offset ``t`` uses kernel tap ``2t + a + padding`` (zero outside ``[0, k)``);
    the stride-1 conv reads input ``i + d - t_max``, so its tap ``d`` is offset ``t = t_max - d``.
    """
    c_in, c_out, k, _ = weight.shape
    lo, hi = _taps(k, padding)
    size = hi - lo + 1
    a = torch.arange(2, device=weight.device).view(2, 1)
    t = hi - torch.arange(size, device=weight.device).view(1, size)
    tap = 2 * t + a + padding  # (phase, d) -> kernel tap, or out of range
    valid = (tap >= 0) & (tap < k)
    tap = torch.where(valid, tap, torch.full_like(tap, k))  # index k: the zero pad below
    padded = F.pad(weight, (0, 1, 0, 1))  # (C_in, C_out, k + 1, k + 1), last row/column zero
    w = padded[:, :, tap.view(2, 1, size, 1), tap.view(1, 2, 1, size)]  # (C_in, C_out, 2, 2, K, K)
    # pixel_shuffle takes channel c * 4 + a * 2 + b to (c, 2i + a, 2j + b)
    return w.permute(1, 2, 3, 0, 4, 5).reshape(c_out * 4, c_in, size, size)


def phase_transposed_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                          padding: int) -> torch.Tensor:
    """``conv_transpose2d(x, weight, bias, stride=2, padding, output_padding)`` with the output
    exactly twice the input's size, computed as one stride-1 conv and ``pixel_shuffle``."""
    lo, hi = _taps(weight.shape[-1], padding)
    wp = phase_weight(weight, padding)
    if x.is_contiguous(memory_format=torch.channels_last):
        wp = wp.contiguous(memory_format=torch.channels_last)
    bp = None if bias is None else bias.repeat_interleave(4)
    if -lo == hi:
        y = F.conv2d(x, wp, bp, 1, hi)
    else:  # asymmetric taps (3x3 kernels): pad explicitly
        y = F.conv2d(F.pad(x, (hi, -lo, hi, -lo)), wp, bp, 1, 0)
    return F.pixel_shuffle(y, 2)


def _stride2_padding(module: nn.Conv2d | nn.ConvTranspose2d) -> int | None:
    """The padding of a square, stride-2 layer with :func:`resize_padding` (a transposed one with
    its output padding too); None for any other geometry."""
    k = module.kernel_size[0]
    pad, out_pad = resize_padding(k)
    ok = (module.kernel_size == (k, k) and module.stride == (2, 2) and module.padding == (pad, pad)
          and module.dilation == (1, 1) and module.groups == 1 and module.padding_mode == "zeros"
          and (not isinstance(module, nn.ConvTranspose2d) or module.output_padding == (out_pad, out_pad)))
    return pad if ok else None


def _fast(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and not torch.compiler.is_compiling()


class _PhaseConvTranspose(torch.autograd.Function):
    """Forward by polyphase decomposition; backward by PyTorch's transposed-conv backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                padding: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (padding, bias is not None)
        return phase_transposed_conv(x, weight, bias, padding)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        x, weight = ctx.saved_tensors
        padding, has_bias = ctx.geometry
        output_padding = resize_padding(weight.shape[-1])[1]
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]]
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[1]] if has_bias else None, [2, 2], [padding] * 2, [1, 1],
            True, [output_padding] * 2, 1, mask)
        return gx, gw, gb, None


class _PhaseInputGradConv(torch.autograd.Function):
    """PyTorch's conv forward and weight/bias gradients; the input gradient (a transposed conv
    to the image's few channels) by polyphase decomposition."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                padding: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (padding, bias is not None)
        return F.conv2d(x, weight, bias, 2, padding)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        x, weight = ctx.saved_tensors
        padding, has_bias = ctx.geometry
        gx = gw = gb = None
        if ctx.needs_input_grad[1] or (has_bias and ctx.needs_input_grad[2]):
            _, gw, gb = torch.ops.aten.convolution_backward(
                grad, x, weight, [weight.shape[0]] if has_bias else None, [2, 2], [padding] * 2, [1, 1],
                False, [0, 0], 1, [False, ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]])
        if ctx.needs_input_grad[0]:
            # conv weight (C_out, C_in, k, k) is the transposed conv's (C_in', C_out') weight
            gx = phase_transposed_conv(grad, weight, None, padding)
        return gx, gw, gb, None


class ImageConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` for G's output layer (few channels, stride 2, size doubled)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        pad = _stride2_padding(self)
        if pad is not None and output_size is None and _fast(x) and self.out_channels <= MAX_IMAGE_CHANNELS:
            return _PhaseConvTranspose.apply(x, self.weight, self.bias, pad)
        return super().forward(x, output_size)


class ImageConv2d(nn.Conv2d):
    """``nn.Conv2d`` for D's input layer (few channels, stride 2, even size halved)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = _stride2_padding(self)
        if (pad is not None and _fast(x) and x.requires_grad and self.in_channels <= MAX_IMAGE_CHANNELS
                and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0):
            return _PhaseInputGradConv.apply(x, self.weight, self.bias, pad)
        return super().forward(x)
