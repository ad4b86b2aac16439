"""The training engine, in process: stop conditions, run-folder contents, divergence, reload."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch

from gansuite._host.manager import build_catalog, reset_catalog
from gansuite.contract.errors import DivergenceError, OptionError, RunError
from gansuite.contract.hookspecs import hookimpl
from gansuite.contract.protocols import GANModel
from gansuite.contract.specs import ModelSpec
from gansuite.engine import checkpoint as ckpt
from gansuite.engine.build import load_run_model
from gansuite.engine.distributed import BatchSampler, DistContext
from gansuite.engine.runfolder import RunFolder
from gansuite.engine.step import GANStep, normalize_batch
from gansuite.runs.runner import RunRequest, execute, plan_run

TINY = ("ngf=8", "ndf=8", "n=96", "size=32")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest, and reproducibly, on one thread (and leave the CPU to others)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(tmp_path: Path, name: str = "run", catalog=None, **kw) -> tuple[dict, RunFolder]:
    kw.setdefault("options", TINY)
    kw.setdefault("model", "dcgan")
    kw.setdefault("dataset", "fake")
    req = RunRequest(out=tmp_path / name, device="cpu", batch_size=kw.pop("batch_size", 16),
                     progress=False, seed=kw.pop("seed", 1), **kw)
    summary = execute(plan_run(req, catalog))
    return summary, RunFolder(tmp_path / name)


def test_run_writes_metrics_samples_checkpoints_and_plot(tmp_path):
    summary, folder = run(tmp_path, max_steps=6, checkpoint_every=2, sample_every=3, log_every=2)
    train = summary["train"]
    assert train["steps"] == 6 and train["images_seen"] == 96
    assert train["stopped_because"] == "max_steps" and train["images_per_s"] > 0
    rows = folder.read_metrics()
    assert [r["step"] for r in rows] == [2, 4, 6]
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "images_per_s"):
        assert all(isinstance(r[key], float) for r in rows), key
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in rows)
    names = sorted(p.name for p in folder.samples.iterdir())
    assert names == ["loss-curve.png", "step-000000003.png", "step-000000006.png"]
    assert all((folder.samples / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    # The previous checkpoint is kept next to the newest one; older ones are pruned.
    assert [s for s, _ in ckpt.list_checkpoints(folder.checkpoints)] == [4, 6]
    assert train["last_checkpoint"] == str(ckpt.checkpoint_path(folder.checkpoints, 6))


def test_config_records_the_built_architecture(tmp_path):
    _, folder = run(tmp_path, max_steps=1, options={})  # dcgan's widths left to the model
    config = folder.read_config()
    assert config["model_config"]["ngf"] is None  # the options as given ...
    arch = config["architecture"]  # ... and what was built from them
    assert arch["ngf"] == arch["ndf"] == 64 and arch["discriminator_channels"] == [64, 128, 256]
    model, _ = load_run_model(folder.path)
    assert arch["generator_parameters"] == sum(p.numel() for p in model.generator.parameters())


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path):
    _, folder = run(tmp_path, max_steps=3, checkpoint_every=3)
    state = torch.load(ckpt.checkpoint_path(folder.checkpoints, 3), weights_only=True)
    for key in ("generator", "discriminator", "opt_g", "opt_d", "sampler", "rng", "config", "step"):
        assert key in state, key
    assert state["step"] == 3 and state["sampler"] == {"epoch": 0, "batch": 3, "seed": 1, "n": 96,
                                                       "batch_size": 16}
    assert set(state["rng"]) >= {"torch", "python", "numpy"}
    assert state["config"]["model"] == "dcgan" and state["model_config"]["ngf"] == 8
    n_g_params = sum(1 for k in state["generator"] if "running" not in k and "num_batches" not in k)
    assert len(state["opt_g"]["state"]) == n_g_params  # Adam moments for every G parameter


def test_epochs_and_time_budget_stop_first(tmp_path):
    summary, _ = run(tmp_path, "ep", max_steps=100, epochs=1.5)  # 96 images / 16 = 6 steps per epoch
    assert summary["train"]["steps"] == 9 and summary["train"]["stopped_because"] == "epochs"
    summary, _ = run(tmp_path, "tb", max_steps=100_000, time_budget=0.3, log_every=1)
    assert summary["train"]["stopped_because"] == "time_budget"
    assert 0 < summary["train"]["steps"] < 100_000 and summary["train"]["seconds"] >= 0.3


def test_load_run_model_restores_the_trained_weights(tmp_path):
    req = RunRequest(model="dcgan", dataset="fake", options=TINY, out=tmp_path / "r", device="cpu",
                     batch_size=16, max_steps=2, progress=False)
    plan = plan_run(req)
    from gansuite.engine.train import train
    from gansuite.runs.preflight import preflight
    from gansuite.runs.runner import train_config

    prepared = preflight(plan)
    folder = RunFolder(plan.out).create()
    folder.write_config(plan.config_json(image_size=32, batch_size=16))
    outcome = train(prepared.model, train_config(plan, prepared), folder, prepared.data)
    model, config = load_run_model(plan.out)
    assert isinstance(model, GANModel) and config["checkpoint_step"] == 2
    assert not model.generator.training and not model.discriminator.training
    for mine, theirs in ((model.generator, outcome.model.generator),
                         (model.discriminator, outcome.model.discriminator)):
        a, b = mine.state_dict(), theirs.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    z = model.sample_z(4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.generator(z), outcome.model.generator(z))


def _nan_factory(config, *, image_size, channels):
    """A tiny DCGAN whose discriminator loss turns NaN at step 5."""
    from gansuite_dcgan.config import DCGANConfig
    from gansuite_dcgan.models import build_dcgan

    model = build_dcgan(DCGANConfig(ngf=8, ndf=8), image_size=image_size, channels=channels)
    inner, calls = model.d_loss, [0]

    def d_loss(real_logits, fake_logits):
        calls[0] += 1
        loss = inner(real_logits, fake_logits)
        return loss * float("nan") if calls[0] >= 5 else loss

    model.d_loss = d_loss  # type: ignore[method-assign]
    return model


def _nan_catalog():
    plugin = types.ModuleType("nan_model_plugin")

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="nan-at-5", summary="diverges at step 5", factory=_nan_factory))

    plugin.register_models = register_models  # type: ignore[attr-defined]
    return build_catalog(extra_plugins={"nan-test": plugin})


def test_divergence_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    catalog = _nan_catalog()
    reset_catalog(catalog)
    with pytest.raises(DivergenceError) as err:
        run(tmp_path, model="nan-at-5", options=("n=96",), catalog=catalog, max_steps=20,
            checkpoint_every=2, log_every=3)
    message = str(err.value)
    good = ckpt.checkpoint_path(tmp_path / "run" / "checkpoints", 4)
    assert "step 5" in message and str(good) in message and "\n" not in message
    assert [s for s, _ in ckpt.list_checkpoints(good.parent)] == [2, 4]
    state = ckpt.load_checkpoint(good)
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())
    rows = RunFolder(tmp_path / "run").read_metrics()
    assert [r["step"] for r in rows] == [3]  # rows up to the bad step only


def test_device_cuda_without_cuda_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    req = RunRequest(model="dcgan", dataset="fake", options=TINY, out=tmp_path / "c", device="cuda",
                     max_steps=1, progress=False)
    with pytest.raises(RunError) as err:
        execute(plan_run(req))
    assert "--device cpu" in str(err.value) and "\n" not in str(err.value)


def test_normalize_batch_maps_uint8_to_minus_one_one_channels_last():
    images = torch.tensor([0, 255, 51], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 3, 4, 4).contiguous()
    x = normalize_batch(images, torch.tensor([1, 0, 2]), torch.device("cpu"))
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    assert x[0].eq(1).all() and x[1].eq(-1).all() and torch.allclose(x[2], torch.tensor(51 / 127.5 - 1))


def test_sampler_shards_each_global_batch_and_resumes_its_position():
    whole = BatchSampler(40, 8, seed=3, ctx=DistContext())
    ranks = [BatchSampler(40, 8, seed=3, ctx=DistContext(rank=r, world_size=2)) for r in range(2)]
    for _ in range(7):  # crosses an epoch boundary (5 batches per epoch)
        full = whole.next("cpu")
        halves = [s.next("cpu") for s in ranks]
        assert torch.equal(torch.cat(halves), full)
    assert whole.epoch == 1 and whole.batch == 2
    again = BatchSampler(40, 8, seed=3, ctx=DistContext())
    again.load_state_dict(whole.state_dict())
    assert torch.equal(again.next("cpu"), whole.next("cpu"))
    epoch0 = BatchSampler(40, 8, seed=3, ctx=DistContext())
    seen = torch.cat([epoch0.next("cpu") for _ in range(5)])
    assert sorted(seen.tolist()) == list(range(40))
    with pytest.raises(OptionError, match="divisible"):
        BatchSampler(40, 7, seed=0, ctx=DistContext(rank=0, world_size=2))
    with pytest.raises(OptionError, match="fewer than one batch"):
        BatchSampler(4, 8, seed=0, ctx=DistContext())


def test_gan_step_freezes_d_during_g_step_and_updates_both():
    from gansuite_dcgan.config import DCGANConfig
    from gansuite_dcgan.models import build_dcgan

    torch.manual_seed(0)
    model = build_dcgan(DCGANConfig(ngf=4, ndf=4), image_size=32, channels=3)
    opt_g, opt_d = model.optimizers()
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    d_grads_in_g_step = []
    hook = model.discriminator.head.weight.register_hook(lambda g: d_grads_in_g_step.append(g))
    step = GANStep(model, opt_g, opt_d, device=torch.device("cpu"))
    stats = step(torch.rand(8, 3, 32, 32) * 2 - 1, torch.Generator().manual_seed(1))
    hook.remove()
    assert list(stats) == ["loss_d", "loss_g", "d_real", "d_fake"]
    assert all(torch.isfinite(v) for v in stats.values())
    assert len(d_grads_in_g_step) == 1  # only the D step asked for D's weight gradient
    assert all(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters(), strict=True))
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_metrics_rows_are_json_lines(tmp_path):
    _, folder = run(tmp_path, max_steps=2, log_every=1)
    lines = folder.metrics_path.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


def test_compile_flag_routes_the_networks_through_torch_compile(tmp_path, monkeypatch):
    compiled = []

    class Wrapped:  # like torch._dynamo's OptimizedModule: callable, no len()
        def __init__(self, module):
            self.module = module
            self.calls = 0

        def __call__(self, *args):
            self.calls += 1
            return self.module(*args)

        def __len__(self):
            raise TypeError("no len()")

    def fake_compile(module, **kwargs):
        compiled.append(Wrapped(module))
        return compiled[-1]

    monkeypatch.setattr(torch, "compile", fake_compile)
    summary, _ = run(tmp_path, max_steps=2, compile=True)
    assert summary["train"]["steps"] == 2
    assert len(compiled) == 3 and all(w.calls > 0 for w in compiled)  # G, D (D step), D (G step)
