"""The paper's section 6 probes on tiny data: guided backpropagation and forgetting concepts."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from gansuite_probes import EVALS
from gansuite_probes.config import ForgettingConfig, GuidedBackpropConfig
from gansuite_probes.forgetting import ForgettingProbe, fit_logistic
from gansuite_probes.guided_backprop import (
    GuidedBackprop,
    GuidedBackpropProbe,
    guided_gradients,
    label_purity,
)
from gansuite_probes.testing import TinyConfig, TinyGAN, build_tiny
from helpers import build_probe, load_digits, probe_ctx
from torch import nn

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import OptionError
from gansuite.contract.protocols import ImageData, ProbeContext

SIZE = 32  # the dcgan's smallest size
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> dict[str, ImageData]:
    return load_digits(SIZE)


def _ctx(tmp_path: Path, data: dict[str, ImageData], model: object, eval_name: str,
         random_model=None) -> ProbeContext:
    return probe_ctx(tmp_path, data, model, eval_name, seed=3, random_model=random_model or (lambda s: _dcgan(1000 + s)))


def _dcgan(seed: int = 0):
    spec = get_catalog().registry("models").get("dcgan")
    torch.manual_seed(seed)
    return spec.load_factory()(build_config(spec, {"ngf": 8, "ndf": 8}), image_size=SIZE, channels=3)


@pytest.fixture(scope="module")
def trained(digits: dict[str, ImageData]):
    """A narrow dcgan trained for 40 steps of 32 digits training images."""
    model = _dcgan()
    opt_g, opt_d = model.optimizers()
    gen = torch.Generator().manual_seed(0)
    images = digits["train"].images
    for _ in range(40):
        real = images[torch.randint(0, len(images), (32,), generator=gen)].float() / 127.5 - 1
        fake = model.generator(model.sample_z(32, generator=gen))
        loss_d = model.d_loss(model.discriminator(real), model.discriminator(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = model.g_loss(model.discriminator(fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    for p in [*model.generator.parameters(), *model.discriminator.parameters()]:
        p.grad = None
    return model


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for net in (model.generator, model.discriminator)
            for k, v in net.state_dict(prefix=type(net).__name__ + ".").items()}


def _untouched(model, before: dict[str, torch.Tensor]) -> None:
    after = _state(model)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)
    for net in (model.generator, model.discriminator):
        assert net.training  # modes restored
        assert all(p.grad is None for p in net.parameters())
        assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in net.modules())


# -- generator_blocks --------------------------------------------------------------------------
def test_dcgan_generator_blocks_are_its_feature_maps_and_keep_checkpoint_keys() -> None:
    model = _dcgan()
    keys = set(model.generator.state_dict())
    assert not any("project_out" in k for k in keys)  # parameter-free: checkpoints keep their keys
    g = model.generator.eval()
    shapes: list[tuple[int, ...]] = []
    hooks = [b.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for b in model.generator_blocks()]
    z = model.sample_z(2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = g(z)
    for handle in hooks:
        handle.remove()
    with torch.no_grad():  # the forward is still linear -> BN -> ReLU -> 4x4 -> convolutions
        assert torch.equal(g.main(F.relu(g.project_bn(g.project(z))).view(2, -1, 4, 4)), x)
    assert shapes == [(2, 32, 4, 4), (2, 16, 8, 8), (2, 8, 16, 16), (2, 3, SIZE, SIZE)]
    assert [s[1] for s in shapes[1:]] == model.describe()["generator_channels"]
    tiny = build_tiny(TinyConfig(), image_size=16, channels=3)
    assert [b.__class__.__name__ for b in tiny.generator_blocks()] == ["Sequential", "ReLU", "Tanh"]


# -- guided backprop ----------------------------------------------------------------------------
def test_guided_backward_matches_the_rule_and_handles_inplace_activations() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(4, 2, 3), nn.ReLU(inplace=True))
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with GuidedBackprop() as mode:
        (guided,) = torch.autograd.grad(net(x).sum(), x)
    assert mode.calls == 2
    h1 = net[0](x)
    h2 = net[2](F.leaky_relu(h1, 0.2))
    g1 = torch.autograd.grad(h2, h1, (h2 > 0).float(), retain_graph=True)[0]  # a plain backward to h1
    expected = torch.autograd.grad(h1, x, g1.clamp_min(0) * (h1 > 0))[0]  # the guided rule at the first
    assert torch.allclose(guided, expected, atol=1e-6)
    (plain,) = torch.autograd.grad(net(x).sum(), x)  # outside the mode: the ordinary gradient again
    assert not torch.allclose(plain, guided)


def test_guided_gradients_leave_the_model_unchanged(trained) -> None:
    before = _state(trained)
    images = torch.randint(0, 256, (5, 3, SIZE, SIZE), dtype=torch.uint8)
    grads = guided_gradients(trained, images, torch.arange(5), batch_size=2)
    assert grads.shape == images.shape and torch.isfinite(grads).all() and grads.abs().sum() > 0
    _untouched(trained, before)


def test_label_purity() -> None:
    labels = torch.tensor([[1, 1, 1, 2], [0, 1, 2, 3]])
    assert label_purity(labels).tolist() == [0.75, 0.25]


def test_guided_backprop_on_a_digits_trained_dcgan(trained, digits: dict[str, ImageData], tmp_path: Path) -> None:
    from PIL import Image

    before = _state(trained)
    rows = build_probe("guided-backprop", n_channels=12, top_k=4, grid_channels=3, n_boot=300).run(
        _ctx(tmp_path, digits, trained, "digits-guided-backprop"))
    _untouched(trained, before)
    by = {(r["metric"], r["variant"]): r for r in rows}
    assert set(by) == {("top_share", "trained"), ("top_share", "random"), ("label_purity", "trained"),
                       ("label_purity", "random"), ("label_purity", "chance")}
    for r in rows:
        assert math.isfinite(r["value"]) and r["ci95_low"] <= r["value"] <= r["ci95_high"]
        assert r["n_images"] == len(digits["test"]) and r["layer_width"] == 32 and r["n_channels"] == 12
    assert 0.05 <= by[("top_share", "trained")]["value"] <= 1  # a uniform map gives top_fraction
    trained_row = by[("label_purity", "trained")]
    assert trained_row["minus_random"] == pytest.approx(trained_row["value"] - by[("label_purity", "random")]["value"])
    assert trained_row["minus_random_ci95_low"] <= trained_row["minus_random"] <= trained_row["minus_random_ci95_high"]
    for variant in ("trained", "random"):
        path = Path(by[("top_share", variant)]["figure"])
        assert path.name == f"guided-backprop-{variant}.png" and path.read_bytes()[:8] == PNG
        with Image.open(path) as im:  # 3 channels x (4 images + 4 guided maps)
            assert im.size == (8 * (SIZE + 2) + 2, 3 * (SIZE + 2) + 2)


class _TemplateD(nn.Module):
    """Channel k of the only conv layer is a matched filter for the mean image of class k."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        super().__init__()
        x = images.float() / 127.5 - 1
        means = torch.stack([x[labels == k].mean(0) for k in range(10)])
        self.conv = nn.Conv2d(3, 10, SIZE, bias=False)
        self.conv.weight.data = means - means.mean(0)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [F.leaky_relu(self.conv(x), 0.2)]


def test_guided_backprop_purity_separates_class_selective_channels(digits: dict[str, ImageData],
                                                                   tmp_path: Path) -> None:
    """A D whose channels each detect one class has pure top images; a random D's do not."""
    model = TinyGAN(TinyConfig(), SIZE, 3)
    model.discriminator = _TemplateD(digits["train"].images, digits["train"].labels)
    rows = build_probe("guided-backprop", top_k=8, n_boot=500).run(
        _ctx(tmp_path, digits, model, "digits-guided-backprop",
                 random_model=lambda s: build_tiny(TinyConfig(), image_size=SIZE, channels=3)))
    by = {(r["metric"], r["variant"]): r for r in rows}
    ours, random, chance = (by[("label_purity", v)] for v in ("trained", "random", "chance"))
    assert ours["value"] > 0.8 and ours["n_channels"] == 10
    assert ours["minus_random_ci95_low"] > 0.1  # separated from the random D, interval and all
    assert chance["ci95_high"] < 0.4 < ours["ci95_low"]


def test_guided_backprop_refuses_a_d_without_relus(digits: dict[str, ImageData], tmp_path: Path) -> None:
    class _Tanh(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 4, 4)

        def features(self, x: torch.Tensor) -> list[torch.Tensor]:
            return [torch.tanh(self.conv(x))]

    model = TinyGAN(TinyConfig(), SIZE, 3)
    model.discriminator = _Tanh()
    with pytest.raises(OptionError, match="no relu"):
        build_probe("guided-backprop", n_boot=10).run(_ctx(tmp_path, digits, model, "digits-guided-backprop"))


# -- forgetting ---------------------------------------------------------------------------------
def test_fit_logistic_recovers_the_sign_of_a_planted_feature() -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(500, 6, generator=gen)
    p = torch.sigmoid(3 * X[:, 2] - 2 * X[:, 4])
    W, _ = fit_logistic(X, torch.stack([1 - p, p], 1), l2=1e-3)
    w = W[:, 1] - W[:, 0]
    assert w[2] > 1 and w[4] < -1 and w[[0, 1, 3, 5]].abs().max() < 0.5


def test_fit_logistic_says_whether_it_met_its_gradient_target() -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(400, 5, generator=gen)
    p = torch.sigmoid(2 * X[:, 0])
    targets = torch.stack([1 - p, p], 1)
    done = fit_logistic(X, targets, l2=1e-2)
    assert done.converged and done.gradient <= done.target == 1e-4 and done.iterations > 0
    cut = fit_logistic(X, targets, l2=1e-2, max_iter=1)
    assert not cut.converged and cut.gradient > cut.target


def test_forgetting_scores_on_samples_other_than_those_that_chose_the_maps(
        digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    seen: list[torch.Tensor] = []
    forward = model.generator.forward
    model.generator.forward = lambda z, *a: (seen.append(z.detach().clone()), forward(z, *a))[1]  # type: ignore[method-assign]
    rows = build_probe("forgetting", classifier_features="pixels", n_classifier=300, n_pool=40, n_score=60,
                 n_random_draws=2, n_boot=20, grid_samples=0).run(
        probe_ctx(tmp_path, digits, model, "digits-forgetting",
                 random_model=lambda s: build_tiny(TinyConfig(), image_size=SIZE)))
    chosen_on, scored_on = seen[0], seen[1]
    assert chosen_on.shape[0] == 40 and scored_on.shape[0] == 60
    assert torch.cdist(scored_on.flatten(1), chosen_on.flatten(1)).min() > 0  # no scored z picked the maps
    for later in seen[2:]:  # every drop is measured on scoring samples
        assert any(torch.equal(later[0], z) for z in scored_on)
    pos = next(r for r in rows if r["variant"] == "trained:positive-maps")
    assert pos["n_score"] == 60 and pos["n_eval"] <= 60
    assert isinstance(pos["map_fit_converged"], bool) and pos["map_fit_iterations"] > 0
    real = next(r for r in rows if r["variant"] == "real-test")
    assert isinstance(real["classifier_converged"], bool)
    assert ("note" in pos) == (not pos["map_fit_converged"] or not pos["classifier_converged"])


def test_forgetting_on_a_digits_trained_dcgan(trained, digits: dict[str, ImageData], tmp_path: Path) -> None:
    from PIL import Image

    before = _state(trained)
    rows = build_probe("forgetting", n_classifier=800, n_pool=300, max_eval=100, n_random_draws=4, n_boot=200,
                 grid_samples=5, max_iter=60).run(_ctx(tmp_path, digits, trained, "digits-forgetting"))
    _untouched(trained, before)
    by = {r["variant"]: r for r in rows}
    assert set(by) == {"trained:positive-maps", "trained:random-maps", "random:positive-maps",
                       "random:random-maps", "real-test"}
    assert by["real-test"]["metric"] == "classifier_accuracy" and by["real-test"]["value"] > 0.5
    for variant in ("trained", "random"):
        pos, rand = by[f"{variant}:positive-maps"], by[f"{variant}:random-maps"]
        assert pos["n_maps"] == 8 and 0 < pos["n_dropped"] < 8 and pos["block_type"] == "ReLU"
        assert pos["n_dropped"] == rand["n_dropped"] and rand["n_draws"] == 4 and len(rand["draws"]) == 4
        assert 0 < pos["n_eval"] <= 100 and pos["concept_name"] == str(pos["concept"])
        assert pos["p_before"] - pos["p_after"] == pytest.approx(pos["value"], abs=1e-5)
        assert pos["minus_random_maps"] == pytest.approx(pos["value"] - rand["value"])
        for r in (pos, rand):
            assert math.isfinite(r["value"]) and r["ci95_low"] <= r["value"] <= r["ci95_high"]
        with Image.open(pos["figure"]) as im:  # before / positive maps dropped / random maps dropped
            assert im.size == (5 * (SIZE + 2) + 2, 3 * (SIZE + 2) + 2)
        assert Path(pos["figure"]).name == f"forgetting-{variant}.png"


class _PlantedG(nn.Module):
    """Map 0 of the middle block switches the picture from a ``no`` image to a ``yes`` image."""

    def __init__(self, yes: torch.Tensor, no: torch.Tensor, maps: int = 16) -> None:
        super().__init__()
        self.yes, self.no, self.maps = yes, no, maps
        self.first, self.middle, self.last = nn.ReLU(), nn.Identity(), nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.first(torch.cat([10 * (z[:, :1] + 0.4), z[:, 1 : self.maps]], 1).view(-1, self.maps, 1, 1))
        h = self.middle(h)
        on = (h[:, :1] > 0.5).float()  # (N, 1, 1, 1)
        return self.last(on * self.yes + (1 - on) * self.no)


def test_forgetting_removes_a_planted_concept_and_beats_random_maps(digits: dict[str, ImageData],
                                                                   tmp_path: Path) -> None:
    train = digits["train"]
    yes, no = (train.images[train.labels == k][0].float() / 127.5 - 1 for k in (3, 0))
    model = TinyGAN(TinyConfig(), SIZE, 3)
    model.generator = _PlantedG(yes, no)
    model.generator_blocks = lambda: [model.generator.first, model.generator.middle, model.generator.last]
    cfg = {"classifier_features": "pixels", "n_classifier": 800, "n_pool": 300, "n_random_draws": 20,
           "n_boot": 200, "max_iter": 100}
    rows = build_probe("forgetting", **cfg).run(_ctx(tmp_path, digits, model, "digits-forgetting",
                                                   random_model=lambda s: build_tiny(TinyConfig(), image_size=SIZE)))
    by = {r["variant"]: r for r in rows}
    pos, rand = by["trained:positive-maps"], by["trained:random-maps"]
    assert pos["concept_name"] == "3" and pos["concept_share"] > 0.6
    assert pos["p_before"] > 0.9 and pos["value"] > 0.8 and pos["removed_fraction"] == 1.0
    assert pos["value"] - rand["value"] > 0.2 and pos["random_maps_at_least"] < 0.9
    assert 0.05 < rand["removed_fraction"] < 0.95  # random draws hit map 0 only sometimes
    assert pos["n_dropped"] == pos["n_positive"] > 1
    # Dropping only the map with the largest weight: it is the planted one; one random map rarely is.
    rows = build_probe("forgetting", **cfg, n_drop=1).run(_ctx(tmp_path, digits, model, "digits-forgetting",
                                                             random_model=lambda s: build_tiny(TinyConfig(), image_size=SIZE)))
    by = {r["variant"]: r for r in rows}
    assert by["trained:positive-maps"]["n_dropped"] == 1 and by["trained:positive-maps"]["removed_fraction"] == 1.0
    assert by["trained:random-maps"]["value"] < 0.3 and by["trained:positive-maps"]["random_maps_at_least"] < 0.2


def test_forgetting_uses_the_eval_generator(digits: dict[str, ImageData], tmp_path: Path) -> None:
    """A model sampling from a copy of G (e.g. an EMA copy): the copy's block is hooked."""
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ema = copy.deepcopy(model.generator)
    used: list[int] = []
    ema.act.register_forward_hook(lambda m, i, o: used.append(o.shape[0]))
    model.eval_generator = lambda: ema  # type: ignore[attr-defined]
    rows = build_probe("forgetting", classifier_features="pixels", n_classifier=300, n_pool=50, n_random_draws=2,
                 n_boot=20, max_iter=20, grid_samples=0).run(
        _ctx(tmp_path, digits, model, "digits-forgetting",
                 random_model=lambda s: build_tiny(TinyConfig(), image_size=SIZE)))
    assert used and used[0] == 50 and all(r.get("figure") is None for r in rows)


@pytest.mark.parametrize("blocks", [None, []])
def test_forgetting_names_a_model_without_generator_blocks(blocks, digits: dict[str, ImageData],
                                                           tmp_path: Path) -> None:
    class Plain(TinyGAN):
        pass

    model = Plain(TinyConfig(), SIZE, 3)
    if blocks is None:
        Plain.generator_blocks = None  # type: ignore[assignment]
    else:
        model.generator_blocks = lambda: blocks  # type: ignore[method-assign]
    with pytest.raises(OptionError, match="Model Plain lists no generator blocks"):
        build_probe("forgetting", classifier_features="pixels", n_classifier=200, max_iter=5).run(
            _ctx(tmp_path, digits, model, "digits-forgetting"))


def test_forgetting_block_index_must_exist(digits: dict[str, ImageData], tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    with pytest.raises(OptionError, match="lists 3 generator blocks; block index -4"):
        build_probe("forgetting", classifier_features="pixels", n_classifier=200, max_iter=5, block=-4).run(
            _ctx(tmp_path, digits, model, "digits-forgetting"))


@pytest.mark.parametrize(("cls", "bad"), [
    (GuidedBackpropConfig, {"top_share": 1.0}), (GuidedBackpropConfig, {"top_k": 0}),
    (ForgettingConfig, {"n_random_draws": 0}), (ForgettingConfig, {"map_l2": -1.0}), (ForgettingConfig, {"block": 0}),
])
def test_configs_reject_bad_values(cls, bad) -> None:
    with pytest.raises(ValueError):
        cls(**bad)


def test_specs_and_evals_are_registered() -> None:
    names = {e.name: e for e in EVALS}
    for dataset in ("digits", "cifar10"):
        for probe_name in ("guided-backprop", "forgetting"):
            spec = names[f"{dataset}-{probe_name}"]
            assert spec.dataset == dataset and spec.probe == probe_name
    assert isinstance(build_probe("guided-backprop"), GuidedBackpropProbe)
    assert isinstance(build_probe("forgetting"), ForgettingProbe)
