"""DCGAN's image-side layers compute what nn.Conv2d / nn.ConvTranspose2d compute, and take
their polyphase path exactly where they should."""

from __future__ import annotations

import copy

import pytest
import torch
from gansuite_dcgan.imageconv import ImageConv2d, ImageConvTranspose2d
from torch import nn

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.engine.step import GANStep

LAYOUTS = (torch.contiguous_format, torch.channels_last)


def _plain(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (same parameters) with every image layer turned into its torch parent."""
    plain = copy.deepcopy(module)
    for m in plain.modules():
        if isinstance(m, (ImageConv2d, ImageConvTranspose2d)):
            m.__class__ = m.__class__.__bases__[0]
    return plain


def _grads(module: nn.Module, x: torch.Tensor, grad: torch.Tensor | None = None) -> list[torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    y = module(x)
    grad = torch.randn_like(y, generator=torch.Generator().manual_seed(1)) if grad is None else grad
    y.backward(grad)
    return [y.detach(), x.grad, *(p.grad for p in module.parameters())]


@pytest.mark.parametrize("layout", LAYOUTS, ids=("nchw", "channels_last"))
@pytest.mark.parametrize("kernel", (3, 4, 5))
@pytest.mark.parametrize("channels", (1, 3))
def test_transposed_output_layer_matches_conv_transpose2d(kernel, channels, layout):
    torch.manual_seed(0)
    pad = (kernel - 1) // 2
    layer = ImageConvTranspose2d(16, channels, kernel, 2, pad, 2 + 2 * pad - kernel, bias=True)
    nn.init.normal_(layer.bias)
    x = torch.randn(4, 16, 8, 8).contiguous(memory_format=layout)
    ours, theirs = _grads(layer, x), _grads(_plain(layer), x)
    assert ours[0].shape == (4, channels, 16, 16)
    y = layer(x.requires_grad_(True))
    assert "PhaseConvTranspose" in type(y.grad_fn).__name__  # the polyphase path ran
    assert y.is_contiguous(memory_format=layout)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS, ids=("nchw", "channels_last"))
@pytest.mark.parametrize("kernel", (3, 4, 5))
def test_input_layer_input_gradient_matches_conv2d(kernel, layout):
    torch.manual_seed(0)
    layer = ImageConv2d(3, 16, kernel, 2, (kernel - 1) // 2, bias=True)
    x = torch.randn(4, 3, 16, 16).contiguous(memory_format=layout)
    ours, theirs = _grads(layer, x), _grads(_plain(layer), x)
    assert "PhaseInputGradConv" in type(layer(x.requires_grad_(True)).grad_fn).__name__
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_frozen_input_layer_computes_only_the_input_gradient():
    layer = ImageConv2d(3, 8, 5, 2, 2)
    layer.requires_grad_(False)  # as in the G step, where D is frozen
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.weight.grad is None and layer.bias.grad is None


@pytest.mark.parametrize("make", [
    lambda: ImageConvTranspose2d(16, 8, 5, 2, 2, 1),  # too many output channels to gain
    lambda: ImageConvTranspose2d(16, 3, 3, 1, 1),  # stride 1
    lambda: ImageConv2d(3, 8, 3, 1, 1),  # stride 1 (dcgan-imagenet32's input layer)
    lambda: ImageConv2d(16, 8, 5, 2, 2),  # many input channels
], ids=("wide-output", "transposed-stride-1", "stride-1", "wide-input"))
def test_other_geometries_use_torchs_own_layer(make):
    layer = make()
    cin = layer.in_channels
    x = torch.randn(2, cin, 8, 8, requires_grad=True)
    name = type(layer(x).grad_fn).__name__
    assert "Phase" not in name and "Convolution" in name


def test_no_grad_input_uses_torchs_own_conv():
    layer = ImageConv2d(3, 8, 5, 2, 2)
    assert "Phase" not in type(layer(torch.randn(2, 3, 8, 8)).grad_fn).__name__  # real images


@pytest.mark.parametrize("name", ("dcgan", "dcgan-pytorch-examples"))
def test_a_training_step_matches_the_plain_torch_layers(name):
    """One engine step with the fast layers and one with plain nn layers (same weights, same z)
    leave the same networks behind, to float rounding. SGD, so that the weights move by the
    gradients themselves (Adam's first step is +-lr wherever a gradient is nonzero, whatever its size)."""
    spec = get_catalog().registry("models").get(name)
    torch.manual_seed(0)
    fast = spec.load_factory()(build_config(spec, {"ngf": 8, "ndf": 8}), image_size=32, channels=3)
    kinds = {type(m) for m in [*fast.generator.modules(), *fast.discriminator.modules()]}
    assert {ImageConv2d, ImageConvTranspose2d} <= kinds  # the model really uses them
    plain = copy.deepcopy(fast)
    plain.generator, plain.discriminator = _plain(fast.generator), _plain(fast.discriminator)
    real = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    for model in (fast, plain):
        opt_g, opt_d = (torch.optim.SGD(net.parameters(), lr=0.1) for net in (model.generator, model.discriminator))
        GANStep(model, opt_g, opt_d, device=torch.device("cpu"))(real, torch.Generator().manual_seed(3))
    for net in ("generator", "discriminator"):
        for (key, a), b in zip(getattr(fast, net).state_dict().items(), getattr(plain, net).state_dict().values(),
                               strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{net}.{key}")
    # and the step moved G at all (so the comparison above compared something)
    first = next(iter(fast.generator.parameters()))
    torch.manual_seed(0)
    fresh = spec.load_factory()(build_config(spec, {"ngf": 8, "ndf": 8}), image_size=32, channels=3)
    assert not torch.equal(first, next(iter(fresh.generator.parameters())))
