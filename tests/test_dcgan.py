"""The DCGAN reference models follow the paper (and say where a variant does not)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import OptionError
from gansuite.contract.protocols import GANModel
from gansuite.engine.build import describe_model

NAMES = ("dcgan", "dcgan-imagenet32", "dcgan-pytorch-examples")


def build(name: str, image_size: int = 32, **options):
    spec = get_catalog().registry("models").get(name)
    torch.manual_seed(0)
    return spec.load_factory()(build_config(spec, options), image_size=image_size, channels=3)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", NAMES)
def test_every_model_builds_trains_one_step_and_exposes_features(name):
    model = build(name, 32, **({"widths": (8, 8, 16, 16, 32, 32)} if name.endswith("imagenet32")
                               else {"ngf": 8, "ndf": 8}))
    assert isinstance(model, GANModel)
    z = model.sample_z(6, generator=torch.Generator().manual_seed(0))
    x = model.generator(z)
    assert x.shape == (6, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    logits = model.discriminator(x)
    assert logits.shape == (6,)
    model.discriminator.eval()
    feats = model.features(x)
    convs = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert len(feats) == len(convs) and all(f.shape[0] == 6 for f in feats)
    opt_g, opt_d = model.optimizers()
    assert isinstance(opt_g, torch.optim.Adam) and opt_g.defaults["lr"] == model.recipe.lr_g
    info = json.loads(json.dumps(describe_model(model)))  # what config.json records
    assert info["generator_parameters"] == sum(p.numel() for p in model.generator.parameters())
    assert info["discriminator_parameters"] == sum(p.numel() for p in model.discriminator.parameters())
    assert info["discriminator_channels"] == [c.out_channels for c in convs]
    deconvs = [m for m in model.generator.modules() if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d))]
    assert info["generator_channels"] == [m.out_channels for m in deconvs]


def test_dcgan_is_the_papers_figure_1_at_64x64():
    model = build("dcgan", 64)
    g, d = model.generator, model.discriminator
    assert model.z_dim == 100 and g.project.in_features == 100 and g.project.bias is None
    assert g.project.out_features == 4 * 4 * 1024  # z projected to 4x4x1024
    deconvs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in deconvs] == [(1024, 512), (512, 256), (256, 128), (128, 3)]
    assert all(m.stride == (2, 2) and m.kernel_size == (5, 5) for m in deconvs)
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Upsample)) for m in [*g.modules(), *d.modules()])
    # G: ReLU + BatchNorm inside, Tanh on the output with no BatchNorm after the last deconv.
    layers = list(g.main)
    assert isinstance(layers[-1], nn.Tanh) and layers[-2] is deconvs[-1]
    assert sum(isinstance(m, nn.ReLU) for m in layers) == 3
    # D: strided convs, LeakyReLU(0.2), no BatchNorm on the input layer, one logit.
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 128), (128, 256), (256, 512), (512, 1024)]
    assert all(c.stride == (2, 2) for c in convs)
    first, *rest = d.blocks
    assert not any(isinstance(m, nn.BatchNorm2d) for m in first)
    assert all(any(isinstance(m, nn.BatchNorm2d) for m in block) for block in rest)
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert d.head.in_features == 1024 * 16 and d.head.out_features == 1


def test_init_prior_and_recipe_follow_the_paper():
    model = build("dcgan", 64)
    weights = torch.cat([m.weight.flatten() for m in model.generator.modules()
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))])
    assert abs(weights.mean().item()) < 1e-3 and abs(weights.std().item() - 0.02) < 1e-3
    gains = torch.cat([m.weight for m in model.discriminator.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(gains.mean().item() - 1) < 5e-3 and abs(gains.std().item() - 0.02) < 5e-3
    biases = [m.bias for m in model.discriminator.modules() if getattr(m, "bias", None) is not None]
    assert all(torch.count_nonzero(b) == 0 for b in biases)
    z = model.sample_z(20_000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (20_000, 100) and z.min() >= -1 and z.max() <= 1
    assert abs(z.mean().item()) < 0.01 and abs(z.var().item() - 1 / 3) < 0.01  # U(-1, 1)
    r = model.recipe
    assert (r.batch_size, r.lr_g, r.lr_d, r.betas, r.d_steps, r.g_steps) == (128, 2e-4, 2e-4, (0.5, 0.999), 1, 1)


def test_losses_are_binary_cross_entropy_on_logits():
    model = build("dcgan", 32, ngf=4, ndf=4)
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    bce = nn.functional.binary_cross_entropy_with_logits
    expected_d = bce(real, torch.ones(2)) + bce(fake, torch.zeros(2))
    assert torch.allclose(model.d_loss(real, fake), expected_d)
    assert torch.allclose(model.g_loss(fake), bce(fake, torch.ones(2)))


def test_imagenet32_discriminator_gives_28672_probe_features():
    model = build("dcgan-imagenet32", 32)
    convs = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2] and all(c.kernel_size == (3, 3) for c in convs)
    model.discriminator.eval()
    with torch.no_grad():
        feats = model.features(torch.zeros(2, 3, 32, 32))
    pooled = [nn.functional.adaptive_max_pool2d(f, 4).flatten(1) for f in feats]
    assert torch.cat(pooled, 1).shape == (2, 28_672)
    assert model.generator(model.sample_z(2)).shape == (2, 3, 32, 32)


def test_sizes_and_options_are_validated():
    assert build("dcgan", 128, ngf=2, ndf=2).generator(torch.zeros(2, 100)).shape == (2, 3, 128, 128)
    spec = get_catalog().registry("models").get("dcgan")
    for bad in ({"image_size": "48"}, {"kernel_size": "7"}, {"ngf": "0"}, {"z_prior": "cauchy"}):
        with pytest.raises(OptionError):
            build_config(spec, bad)
    with pytest.raises(OptionError, match="power-of-two"):
        build("dcgan", 28)
    with pytest.raises(OptionError, match="32x32"):
        build("dcgan-imagenet32", 64)


def test_the_pytorch_examples_variant_states_its_deviations():
    spec = get_catalog().registry("models").get("dcgan-pytorch-examples")
    text = " ".join(spec.deviations)
    for fact in ("4x4", "N(0, 1)", "64"):
        assert fact in text
    model = build("dcgan-pytorch-examples", 64)
    assert model.recipe.batch_size == 64 and model.z_prior == "normal"
    assert all(m.kernel_size == (4, 4) for m in model.generator.modules() if isinstance(m, nn.ConvTranspose2d))
    assert get_catalog().registry("models").get("dcgan").deviations == ()


def test_listing_and_showing_do_not_import_torch():
    code = ("import sys, json; from gansuite._host.manager import get_catalog; import gansuite_dcgan; "
            "spec = get_catalog().registry('models').get('dcgan'); spec.default_config(); "
            "print(json.dumps(sorted(m for m in ('torch', 'torchvision') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_show_lists_the_recipe(cli):
    res = cli("show", "dcgan", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    defaults = {o["name"]: o["default"] for o in info["options"]}
    assert defaults["lr"] == 2e-4 and defaults["beta1"] == 0.5 and defaults["batch_size"] == 128
    assert defaults["z_dim"] == 100 and defaults["kernel_size"] == 5


@pytest.mark.parametrize(("size", "d_channels", "projection"), [
    (32, [64, 128, 256], 256 * 16),  # the authors' 32x32 (SVHN) D: 7,168 probe features
    (64, [128, 256, 512, 1024], 1024 * 16),  # Figure 1: z projected to 4x4x1024
])
def test_default_widths_follow_the_authors_networks(size, d_channels, projection):
    model = build("dcgan", size)
    convs = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == d_channels
    assert model.generator.project.out_features == projection
    assert model.describe()["ngf"] == model.describe()["ndf"] == d_channels[0]  # recorded resolved
    wide = build("dcgan", size, ngf=128, ndf=128)
    assert [m.out_channels for m in wide.discriminator.modules() if isinstance(m, nn.Conv2d)][0] == 128


@pytest.mark.parametrize("channels_last", [False, True])
def test_discriminator_head_is_a_linear_map_of_the_chw_flatten(channels_last):
    model = build("dcgan", 32, ngf=8, ndf=8)
    disc = model.discriminator.eval()
    x = torch.randn(4, 3, 32, 32)
    if channels_last:
        disc = disc.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    h = x
    for block in disc.blocks:
        h = block(h)
    expected = disc.head(h.flatten(1)).squeeze(1)  # the weight's (C, H, W) meaning
    assert torch.allclose(disc(x), expected, atol=1e-6)
