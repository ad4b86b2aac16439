"""The GAN family models (wgan-gp, sngan, sngan-projection): specs, networks, losses, the shared
step and its extras (EMA, linear decay, R1), and the checks before a run."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from gansuite_gans import MODELS, ProjectionConfig, SNGANConfig, WGANGPConfig, losses
from gansuite_gans.ema import EMA
from gansuite_gans.schedule import LinearDecay, decay_factor

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.errors import OptionError
from gansuite.contract.model import Batch
from gansuite.engine.build import build_model, smoke_check

TINY = {"wgan-gp": {"dim": 4}, "sngan": {"ch": 16}, "sngan-projection": {"ch": 16}}


def make(name: str, size: int = 16, **options: object):
    spec = get_catalog().registry("models").get(name)
    torch.manual_seed(0)
    return spec, build_model(spec, build_config(spec, {**TINY[name], **options}), image_size=size, channels=3)


class FakeCtx:
    """A TrainContext over random data that counts the real batches drawn."""

    def __init__(self, model, n: int = 8, step: int = 0, total: int | None = 10) -> None:
        self.model, self.n, self.step, self.total_steps = model, n, step, total
        self.device = torch.device("cpu")
        self.generator, self.discriminator = model.generator, model.discriminator
        self.opt_g, self.opt_d = model.optimizers()
        self.batches = self.backwards = 0
        self.gen = torch.Generator().manual_seed(step)

    def batch(self) -> Batch:
        x = torch.rand(self.n, 3, self.model.image_size, self.model.image_size, generator=self.gen) * 2 - 1
        y = torch.randint(0, 10, (self.n,), generator=self.gen) if self.model.num_classes else None
        return Batch(x, y)

    def next_batch(self) -> Batch:
        self.batches += 1
        return self.batch()

    def z(self, n: int) -> torch.Tensor:
        return self.model.sample_z(n, generator=self.gen)

    def labels(self, n: int):
        return self.model.sample_labels(n, generator=self.gen)

    def backward(self, loss: torch.Tensor) -> None:
        self.backwards += 1
        loss.backward()

    @contextlib.contextmanager
    def frozen_discriminator(self):
        params = list(self.model.discriminator.parameters())
        for p in params:
            p.requires_grad_(False)
        try:
            yield self.model.discriminator
        finally:
            for p in params:
                p.requires_grad_(True)

    def autocast(self):
        return contextlib.nullcontext()


# -- specs ------------------------------------------------------------------------------------
def test_families_are_registered_with_papers_and_deviations() -> None:
    models = get_catalog().registry("models")
    for spec in MODELS:
        got = models.get(spec.name)
        assert got.plugin is not None and got.plugin.name == "gans"
        assert got.paper and "arXiv" in got.paper and got.deviations
    assert {s.name for s in MODELS} == {"wgan-gp", "sngan", "sngan-projection"}


def test_import_is_torch_free_and_show_prints_deviations(cli) -> None:
    probe = subprocess.run([sys.executable, "-c", "import sys, gansuite_gans; print('torch' in sys.modules)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "False"
    out = cli("show", "sngan-projection")
    assert out.returncode == 0 and "deviates from the paper" in out.stdout and "num_classes" in out.stdout


@pytest.mark.parametrize("bad", [{"image_size": 12}, {"ch": 12}, {"n_dis": 0}, {"ema_decay": 1.0},
                                 {"r1_gamma": -1.0}])
def test_configs_reject_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        SNGANConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        WGANGPConfig(dim=0)
    with pytest.raises(ValueError):
        ProjectionConfig(num_classes=1)


def test_defaults_are_the_papers() -> None:
    w, s, p = WGANGPConfig(), SNGANConfig(), ProjectionConfig()
    assert (w.lr, w.beta1, w.beta2, w.n_dis, w.gp_weight, w.dim, w.batch_size) == (1e-4, 0.0, 0.9, 5, 10.0, 128, 64)
    assert (s.lr, s.beta1, s.beta2, s.n_dis, s.ch, s.leaky_slope) == (2e-4, 0.5, 0.999, 1, 512, 0.1)
    assert (p.lr, p.beta1, p.beta2, p.n_dis, p.num_classes) == (2e-4, 0.0, 0.9, 5, 10)
    assert not (s.ema or s.r1_gamma) and s.lr_decay == "none"


# -- networks ---------------------------------------------------------------------------------
def test_paper_architectures_at_full_width() -> None:
    _, sn = make("sngan", 32, ch=512)
    assert [c for c in sn.describe()["discriminator_channels"]] == [64, 64, 128, 128, 256, 256, 512]
    assert sn.describe()["generator_channels"] == [512, 256, 128, 64, 3]
    assert sum(hasattr(m, "parametrizations") for m in sn.discriminator.modules()) == 8  # 7 convs + dense
    _, wg = make("wgan-gp", 32, dim=128)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in wg.discriminator.modules())
    assert [f.shape[1:] for f in wg.features(torch.zeros(2, 3, 32, 32))] == [
        (128, 16, 16), (256, 8, 8), (512, 4, 4)]


@pytest.mark.parametrize("name", sorted(TINY))
def test_models_pass_the_contract_check(name: str) -> None:
    spec, model = make(name)
    smoke_check(spec, model)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        feats = model.features(x)  # no labels needed, also for the projection D
        assert feats and all(f.dim() == 4 and f.shape[0] == 3 for f in feats)
        outs = []
        hooks = [b.register_forward_hook(lambda m, i, o: outs.append(o)) for b in model.generator_blocks()]
        model.generate(model.sample_z(3), model.sample_labels(3))
        for h in hooks:
            h.remove()
    assert len(outs) == len(model.generator_blocks()) and all(o.dim() == 4 for o in outs)


def test_projection_output_depends_on_the_label() -> None:
    _, model = make("sngan-projection")
    model.discriminator.eval()
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        a = model.discriminate(x, torch.zeros(4, dtype=torch.long))
        b = model.discriminate(x, torch.ones(4, dtype=torch.long))
        g0 = model.generate(torch.zeros(2, 128), torch.tensor([0, 1]), net=model.generator.eval())
    assert not torch.allclose(a, b)
    assert model.num_classes == 10 and g0.shape == (2, 3, 16, 16)


# -- losses -----------------------------------------------------------------------------------
def test_losses_match_their_formulas() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert losses.hinge_d(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert losses.hinge_g(fake).item() == pytest.approx(1.0)
    assert losses.wasserstein_d(real, fake).item() == pytest.approx(-1.0 - 1.25)
    assert losses.wasserstein_estimate(real, fake).item() == pytest.approx(2.25)


def test_gradient_penalty_and_r1_of_a_linear_critic() -> None:
    w = torch.randn(3 * 4 * 4)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ w

    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = losses.gradient_penalty(critic, real, fake, torch.rand(5))
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    x = real.clone().requires_grad_(True)
    assert losses.r1_penalty(critic(x), x).item() == pytest.approx(w.square().sum().item(), rel=1e-5)


# -- the extras -------------------------------------------------------------------------------
def test_ema_averages_weights_and_copies_buffers() -> None:
    net = torch.nn.BatchNorm1d(2)
    ema = EMA(net, 0.9)
    with torch.no_grad():
        net.weight.fill_(2.0)
        net.running_mean.fill_(5.0)
    ema.update(net)
    assert torch.allclose(ema.module.weight, torch.full((2,), 0.9 * 1.0 + 0.1 * 2.0))
    assert torch.equal(ema.module.running_mean, net.running_mean) and ema.updates == 1
    other = EMA(torch.nn.BatchNorm1d(2), 0.9)
    other.load_state_dict(ema.state_dict())
    assert torch.equal(other.module.weight, ema.module.weight) and other.updates == 1


def test_linear_decay_reaches_zero_at_the_end() -> None:
    assert decay_factor(0, 10) == 1.0 and decay_factor(5, 10) == 0.5 and decay_factor(10, 10) == 0.0
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = LinearDecay([0.2])
    sched.set_step(3, 4, [opt])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    restored = LinearDecay([0.0])
    restored.load_state_dict(sched.state_dict())
    assert restored.base_lrs == [0.2] and restored.last_step == 3


# -- the shared step --------------------------------------------------------------------------
def test_wgan_gp_step_takes_five_critic_steps_on_fresh_batches_and_logs_its_terms() -> None:
    _, model = make("wgan-gp")
    ctx = FakeCtx(model)
    stats = model.train_step(ctx.batch(), ctx)
    assert ctx.batches == 4  # the engine's batch, then 4 fresh ones
    assert ctx.backwards == 5 + 1  # every backward through the engine: 5 critic steps, 1 G step
    assert {"wdist", "gp", "loss_d", "loss_g"} <= set(stats)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in stats.values())
    assert not model.uses_autocast  # the penalty's double backward stays fp32


def test_extras_ema_decay_and_r1_in_the_step() -> None:
    _, model = make("sngan", ema=True, ema_decay=0.5, lr_decay="linear", r1_gamma=1.0)
    before = [p.clone() for p in model.eval_generator().parameters()]
    ctx = FakeCtx(model, step=5, total=10)
    stats = model.train_step(ctx.batch(), ctx)
    assert "r1" in stats and stats["lr_scale"].item() == pytest.approx(0.5)
    assert ctx.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert model.eval_generator() is model.ema.module and model.eval_generator() is not model.generator
    moved = [not torch.equal(a, b) for a, b in zip(before, model.eval_generator().parameters(), strict=True)]
    assert any(moved)
    state = model.extra_state()
    assert set(state) == {"ema", "lr_schedule"} and state["ema"]["updates"] == 1
    _, fresh = make("sngan", ema=True, ema_decay=0.5, lr_decay="linear", r1_gamma=1.0)
    fresh.load_extra_state(state)
    assert all(torch.equal(a, b) for a, b in zip(fresh.ema.module.state_dict().values(),
                                                 model.ema.module.state_dict().values(), strict=True))
    with pytest.raises(OptionError, match="max-steps"):
        model.train_step(ctx.batch(), FakeCtx(model, total=None))


def test_projection_step_uses_the_labels() -> None:
    _, model = make("sngan-projection", n_dis=1)
    ctx = FakeCtx(model)
    seen = []
    model.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[1]))
    model.train_step(ctx.batch(), ctx)
    assert seen and all(y is not None and y.dtype == torch.long for y in seen)


# -- before a run -----------------------------------------------------------------------------
def test_conditional_model_with_too_few_classes_stops_before_training(cli, tmp_path: Path) -> None:
    out = cli("run", "--model", "sngan-projection", "--dataset", "fake", "-o", "ch=16",
              "-o", "sngan-projection.num_classes=5", "-o", "n=64", "--max-steps", "1",
              "--out", str(tmp_path / "r"), "--no-progress", "--device", "cpu")
    assert out.returncode == 2
    assert "conditions on 5 classes" in out.stderr and "-o sngan-projection.num_classes=10" in out.stderr
    assert not (tmp_path / "r").exists()


def test_conditional_models_need_labels_within_num_classes() -> None:
    from gansuite.runs.preflight import _check_labels

    _, model = make("sngan-projection")
    plan = SimpleNamespace(model=SimpleNamespace(name="sngan-projection"), dataset=SimpleNamespace(name="d"))

    def data(labels):
        return SimpleNamespace(data=SimpleNamespace(labels=labels))

    _check_labels(plan, model, data(torch.arange(10)))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="no labels"):
        _check_labels(plan, model, data(None))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="num_classes=12"):
        _check_labels(plan, model, data(torch.arange(12)))  # type: ignore[arg-type]


def test_time_budget_run_with_linear_decay_says_what_to_pass(cli, tmp_path: Path) -> None:
    out = cli("run", "--model", "sngan", "--dataset", "fake", "-o", "ch=16", "-o", "lr_decay=linear",
              "-o", "n=64", "--time-budget", "30", "--out", str(tmp_path / "r"), "--no-progress",
              "--device", "cpu", env={"OMP_NUM_THREADS": "1"})
    assert out.returncode == 2 and "--max-steps" in out.stderr
