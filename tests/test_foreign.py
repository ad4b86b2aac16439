"""Evaluating models trained elsewhere: samples, TorchScript networks and pytorch/examples' state dicts."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_examples_nets import discriminator, generator, trained_like

from gansuite._host.manager import get_catalog
from gansuite.contract.specs import PROBE_NEEDS, ProbeSpec
from gansuite.evaluation.foreign import ForeignInputs, load_foreign

KID = ("-o", "input_size=32", "-o", "n_samples=300", "-o", "subset_size=100", "-o", "subsets=5")
FAST_SVM = ("-o", "svm.max_iter=15", "-o", "svm.search_iter=10", "-o", "svm.val_size=200", "-o", "svm.max_train=600",
            "-o", "svm.max_test=200", "-o", "svm.n_draws=5")
WALK = ("-o", "n_walks=2", "-o", "n_points=3", "-o", "steps=2")


def _digits(n: int = 400, split: str = "test") -> torch.Tensor:
    spec = get_catalog().registry("datasets").get("digits")
    from gansuite._host.options import build_config

    data = spec.load_factory()(build_config(spec, {}), root=Path("."))
    return data.load(split, image_size=32).images[:n]


def _write_pngs(images: torch.Tensor, folder: Path, nested: bool = True) -> Path:
    for i, img in enumerate(images):
        sub = folder / (f"part{i % 3}" if nested else "")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(sub / f"{i:05d}.png")
    return folder


def _save_pytorch_examples(tmp_path: Path, nc: int = 3) -> tuple[Path, Path, torch.nn.Module, torch.nn.Module]:
    """netG/netD_epoch_0.pth as pytorch/examples' main.py writes them: torch.save(net.state_dict())."""
    g, d = trained_like(generator(nz=100, ngf=8, nc=nc), 0), trained_like(discriminator(ndf=8, nc=nc), 1)
    g_path, d_path = tmp_path / "netG_epoch_0.pth", tmp_path / "netD_epoch_0.pth"
    torch.save(g.state_dict(), g_path)
    torch.save(d.state_dict(), d_path)
    return g_path, d_path, g, d


def _script(module: torch.nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    return path


class ScriptG(torch.nn.Module):
    """A small generator that carries its z size and image size, as the docs ask."""

    def __init__(self, z_dim: int = 16, size: int = 32, gain: float = 1.0, flat: bool = False) -> None:
        super().__init__()
        self.z_dim, self.image_size, self.gain, self.flat = z_dim, size, gain, flat
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(z_dim, 3 * size * size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.gain * torch.tanh(self.lin(z.flatten(1)))
        return x if self.flat else x.view(-1, 3, self.image_size, self.image_size)


class ScriptD(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.c1 = torch.nn.Conv2d(3, 8, 4, 2, 1)
        self.c2 = torch.nn.Conv2d(8, 16, 4, 2, 1)
        self.head = torch.nn.Linear(16 * 8 * 8, 1)

    @torch.jit.export
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        a = torch.nn.functional.leaky_relu(self.c1(x), 0.2)
        b = torch.nn.functional.leaky_relu(self.c2(a), 0.2)
        return [a, b]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1].flatten(1)).squeeze(1)


def _one_error_line(result: Any) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# -- pytorch/examples' state dicts -------------------------------------------------------------
def test_pytorch_examples_state_dicts_compute_the_same_networks(tmp_path: Path) -> None:
    g_path, d_path, g, d = _save_pytorch_examples(tmp_path)
    spec = get_catalog().registry("models").get("dcgan-pytorch-examples")
    fm = load_foreign(ForeignInputs(generator=g_path, discriminator=d_path, model=spec), "cpu")
    assert fm.known_architecture and fm.model.z_dim == 100 and fm.model.image_size == 64
    assert fm.config.ngf == 8 and fm.config.ndf == 8 and fm.config.z_prior == "normal"
    z = torch.randn(6, 100, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        theirs = g.main(z[:, :, None, None])
        ours = fm.model.generate(z)
        assert torch.allclose(ours, theirs, atol=1e-6)
        # D's logit is the input of pytorch/examples' final Sigmoid
        assert torch.allclose(torch.sigmoid(fm.model.discriminate(theirs)), d.main(theirs).view(-1), atol=1e-6)
        assert [f.shape[1] for f in fm.model.features(theirs)] == [8, 16, 32, 64]
    # a wrong mapping would show: the same files loaded into a fresh model of another seed differ
    assert fm.sources[0]["sha256"] == hashlib.sha256(g_path.read_bytes()).hexdigest()


@pytest.mark.slow  # a whole eval through the CLI (about 30 s on 2 busy cores); CI runs -m slow
def test_pytorch_examples_checkpoint_runs_every_probe_that_applies(cli: Any, tmp_path: Path,
                                                                   tiny_extractor: Path) -> None:
    g_path, d_path, _, _ = _save_pytorch_examples(tmp_path)
    out = tmp_path / "pe"
    res = cli("eval", "--generator", str(g_path), "--discriminator", str(d_path), "--model", "dcgan-pytorch-examples",
              "--eval", "digits-kid", "--eval", "digits-svm", "--out", str(out), "--no-progress", "--json",
              "-o", f"kid.weights={tiny_extractor}", "-o", "kid.input_size=32", "-o", "kid.n_samples=300",
              "-o", "kid.subset_size=100", "-o", "kid.subsets=5", *FAST_SVM)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert {(r["eval"], r["variant"]) for r in rows} >= {("digits-kid", "trained"), ("digits-kid", "random"),
                                                         ("digits-svm", "trained"), ("digits-svm", "random")}
    for row in rows:
        assert row["model"] == "dcgan-pytorch-examples" and row["foreign"] is True
        assert "pytorch/examples" in row["weights_source"]
        assert "freshly initialised" in row["random_control"]
    config = json.loads((out / "config.json").read_text())
    assert {s["role"]: s["sha256"] for s in config["sources"]} == {
        "generator": hashlib.sha256(g_path.read_bytes()).hexdigest(),
        "discriminator": hashlib.sha256(d_path.read_bytes()).hexdigest()}
    assert (out / "samples" / "samples.png").is_file()
    table = cli("results", str(out))
    assert table.returncode == 0 and "dcgan-pytorch-examples" in table.stdout and "digits-svm" in table.stdout


# -- TorchScript networks ----------------------------------------------------------------------
@pytest.mark.slow  # a whole eval through the CLI (about 30 s on 2 busy cores); CI runs -m slow
def test_torchscript_generator_and_discriminator(cli: Any, tmp_path: Path) -> None:
    g_path, d_path = _script(ScriptG(), tmp_path / "G.pt"), _script(ScriptD(), tmp_path / "D.pt")
    out = tmp_path / "ts"
    res = cli("eval", "--generator", str(g_path), "--discriminator", str(d_path), "--eval", "digits-latent-walk",
              "--eval", "digits-svm", "--out", str(out), "--no-progress", "--json", *WALK, *FAST_SVM)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    walk = {(r["variant"], r.get("space")): r for r in rows if r["eval"] == "digits-latent-walk"}
    assert ("trained", "fixed") in walk and ("random", "fixed") in walk
    svm = [r for r in rows if r["eval"] == "digits-svm"]
    assert {r["variant"] for r in svm} >= {"trained", "random"}
    for row in rows:
        assert row["model"] == "file:G.pt" and "data-fitted Gaussian generator" in row["random_control"]
    assert all("shuffled" in r["random_control"] for r in svm)
    # the control is a different generator: it cannot score exactly what the model scores
    assert walk[("trained", "fixed")]["value"] != walk[("random", "fixed")]["value"]


class ScriptedExamplesD(torch.nn.Module):
    """pytorch/examples' D as TorchScript, with the features(x) the svm and guided backprop read."""

    def __init__(self, d: torch.nn.Module) -> None:
        super().__init__()
        self.main = d.main

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)

    @torch.jit.export
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for m in self.main:
            x = m(x)
            if isinstance(m, torch.nn.LeakyReLU):
                out.append(x)
        return out


def test_guided_backprop_on_a_torchscript_discriminator_matches_the_eager_network(tmp_path: Path) -> None:
    """The same weights as an eager gansuite model and as a TorchScript file: the same guided
    gradients, which differ from the plain gradient."""
    from gansuite_probes.guided_backprop import guided_gradients

    g_path, d_path, _, d = _save_pytorch_examples(tmp_path)
    spec = get_catalog().registry("models").get("dcgan-pytorch-examples")
    eager = load_foreign(ForeignInputs(generator=g_path, discriminator=d_path, model=spec), "cpu").model
    scripted_d = _script(ScriptedExamplesD(d), tmp_path / "D.pt")
    scripted = load_foreign(ForeignInputs(generator=_script(ScriptG(z_dim=100, size=64), tmp_path / "G.pt"),
                                          discriminator=scripted_d), "cpu").model
    images = torch.randint(0, 256, (6, 3, 64, 64), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    channels = torch.tensor([0, 5, 17, 33, 48, 63])
    ours = guided_gradients(eager, images, channels, batch_size=4)
    theirs = [guided_gradients(scripted, images, channels, batch_size=4) for _ in range(3)]  # past JIT warm-up
    scale = float(ours.abs().max())
    assert scale > 0
    for grads in theirs:
        assert torch.allclose(grads, ours, atol=1e-5 * scale, rtol=1e-4)
    x = images.float().div(127.5).sub(1).requires_grad_(True)
    act = scripted.features(x)[-1]
    (plain,) = torch.autograd.grad(act[torch.arange(6), channels].flatten(1).amax(1).sum(), x)
    assert not torch.allclose(plain, ours, atol=1e-3 * scale)  # the guide changed the gradient


class ChainG(torch.nn.Module):
    """pytorch/examples' G behind a forward that only runs its Sequential: its blocks can be named."""

    def __init__(self, main: torch.nn.Module) -> None:
        super().__init__()
        self.main = main

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    torch.export.save(torch.export.export(module.eval(), (example,)), str(path))
    return path


FORGET = ("--eval", "digits-forgetting", "--no-progress", "--json", "-o", "classifier_features=pixels",
          "-o", "n_classifier=600", "-o", "n_pool=300", "-o", "n_score=300", "-o", "max_eval=60",
          "-o", "n_random_draws=3", "-o", "n_boot=100", "-o", "grid_samples=0")


@pytest.mark.parametrize("kind", ["torchscript", "export"])
def test_a_generator_file_whose_submodules_chain_names_its_blocks(tmp_path: Path, kind: str) -> None:
    from gansuite.evaluation.file_blocks import BlockChain

    g = trained_like(generator(nz=100, ngf=8), 0)
    path = (_script(ChainG(g.main), tmp_path / "G.pt") if kind == "torchscript"
            else _export(ChainG(g.main), torch.randn(4, 100, 1, 1), tmp_path / "G.pt2"))
    fm = load_foreign(ForeignInputs(generator=path, z_dim=100), "cpu")
    assert isinstance(fm.model.generator, BlockChain)
    blocks = fm.model.generator_blocks()
    assert [b.kind for b in blocks] == ["ReLU", "ReLU", "ReLU", "ReLU", "Tanh"]
    shapes: list[tuple[int, ...]] = []
    handle = blocks[-2].register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    z = torch.randn(6, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = fm.model.generate(z)
        assert torch.equal(out, g.main(z[:, :, None, None]))  # the chain is the network, exactly
    handle.remove()
    assert shapes == [(6, 8, 32, 32)]  # the hook fired: the block below the image


def test_forgetting_on_a_generator_file(cli: Any, tmp_path: Path) -> None:
    g = trained_like(generator(nz=100, ngf=8), 0)
    path = _script(ChainG(g.main), tmp_path / "G.pt")
    res = cli("eval", "--generator", str(path), "--z-dim", "100", "--out", str(tmp_path / "o"), *FORGET)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    by_g = {str(r["variant"]).split(":")[0] for r in rows}
    assert {"trained", "random"} <= by_g, sorted(r["variant"] for r in rows)
    assert all("shuffled" in r["random_control"] and "chain of blocks" in r["random_control"] for r in rows)
    assert all(r["n_maps"] == 8 for r in rows if "n_maps" in r)  # the ReLU below the image: ngf maps
    assert any(r.get("block_type") == "ChainLayer" for r in rows)
    # a generator whose forward does more than chain its submodules: refused, saying what is needed
    line = _one_error_line(cli("eval", "--generator", str(_script(ScriptG(), tmp_path / "G2.pt")), "--out",
                               str(tmp_path / "o2"), *FORGET))
    assert "cannot be named" in line and "nn.Sequential" in line


def test_state_dict_in_the_models_own_key_names(tmp_path: Path) -> None:
    from gansuite._host.options import build_config
    from gansuite.engine.build import build_model

    spec = get_catalog().registry("models").get("dcgan")
    torch.manual_seed(5)
    model = build_model(spec, build_config(spec, {"ngf": 8, "ndf": 8}), image_size=32, channels=3)
    torch.save(model.generator.state_dict(), tmp_path / "g.pt")
    fm = load_foreign(ForeignInputs(generator=tmp_path / "g.pt", model=spec, model_options={"ngf": "8", "ndf": "8"},
                                    image_size=32), "cpu")
    z = model.sample_z(4)
    model.generator.eval()
    with torch.no_grad():
        assert torch.equal(fm.model.generate(z), model.generate(z))


# -- samples -----------------------------------------------------------------------------------
def test_a_folder_and_an_npz_of_the_same_images_score_the_same(cli: Any, tmp_path: Path,
                                                               tiny_extractor: Path) -> None:
    images = _digits(320, "train")
    folder = _write_pngs(images, tmp_path / "samples", nested=False)  # sorted paths: the array's order
    np.savez(tmp_path / "samples.npz", images=images.permute(0, 2, 3, 1).numpy())  # (N, H, W, C)
    scores = []
    for src, out in ((folder, "a"), (tmp_path / "samples.npz", "b")):
        res = cli("eval", "--images", str(src), "--eval", "digits-kid", "--out", str(tmp_path / out), "--no-progress",
                  "--json", "-o", f"weights={tiny_extractor}", *KID)
        assert res.returncode == 0, res.stderr
        rows = {r["variant"]: r for r in json.loads(res.stdout) if r["metric"] == "kid"}
        assert set(rows) == {"real", "trained", "random", "gaussian-fit"}  # no early checkpoint for samples
        assert "data-fitted" in rows["random"]["random_control"]
        assert "top 64 principal directions" in rows["random"]["random_control"]  # the run-side fit's rank
        scores.append(rows["trained"]["value"])
    assert scores[0] == pytest.approx(scores[1], rel=1e-5, abs=1e-9)  # float sums in another order
    from gansuite.evaluation.sources import read_images

    assert torch.equal(read_images(folder, progress=False)[0], read_images(tmp_path / "samples.npz")[0])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["sources"][0]["files"] == 320 and len(config["sources"][0]["sha256"]) == 64
    side_by_side = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert side_by_side.returncode == 0 and "digits-kid" in side_by_side.stdout


def test_samples_of_the_data_score_better_than_the_data_fitted_control(cli: Any, tmp_path: Path,
                                                                      tiny_extractor: Path) -> None:
    """The control can fail: real training images beat the Gaussian fit; the fit beats noise."""
    folder = _write_pngs(_digits(320, "train"), tmp_path / "real")
    noise = torch.randint(0, 256, (320, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    noise_folder = _write_pngs(noise, tmp_path / "noise")
    values = {}
    for name, src in (("real", folder), ("noise", noise_folder)):
        res = cli("eval", "--images", str(src), "--eval", "digits-kid", "--out", str(tmp_path / f"o-{name}"),
                  "--no-progress", "--json", "-o", f"weights={tiny_extractor}", *KID)
        assert res.returncode == 0, res.stderr
        values[name] = {r["variant"]: r["value"] for r in json.loads(res.stdout)}
    assert values["real"]["trained"] < values["real"]["random"]
    assert values["noise"]["trained"] > values["noise"]["random"]


def test_the_data_fit_of_a_sample_bank_reads_the_noise_after_the_image_index() -> None:
    """A folder's latents start with an image index; its Gaussian fit (the run-side control class)
    reads only the standard normal entries after it, and says what it is."""
    from gansuite.evaluation.controls import GaussianFitModel
    from gansuite.evaluation.foreign_model import SampleBank

    images = _digits(200, "train")
    bank = SampleBank(images, "folder")
    fit = GaussianFitModel(images, bank.z_dim, rank=16, offset=1, max_images=150)
    z = bank.sample_z(64, generator=torch.Generator().manual_seed(0))
    moved = z.clone()
    moved[:, 0] = torch.flip(moved[:, 0], [0])  # other images picked, the same noise
    assert torch.equal(fit.generate(z), fit.generate(moved))
    noisier = z.clone()
    noisier[:, 1:] *= 2
    assert not torch.equal(fit.generate(z), fit.generate(noisier))
    assert fit.generator.proj.shape == (bank.z_dim - 1, 16)
    text = fit.describe()
    assert "data-fitted Gaussian generator" in text and "top 16 principal" in text and "150 real" in text


def test_samples_refuse_probes_that_need_a_network(cli: Any, tmp_path: Path) -> None:
    folder = _write_pngs(_digits(20), tmp_path / "s")
    line = _one_error_line(cli("eval", "--images", str(folder), "--eval", "digits-latent-walk", "--out",
                               str(tmp_path / "o")))
    assert "needs a generator" in line and "--generator" in line
    g_path = _script(ScriptG(), tmp_path / "G.pt")
    line = _one_error_line(cli("eval", "--generator", str(g_path), "--eval", "digits-svm", "--out", str(tmp_path / "o")))
    assert "needs a discriminator" in line and "--discriminator" in line
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_evaluating_again_appends_and_another_model_is_refused(cli: Any, tmp_path: Path,
                                                               tiny_extractor: Path) -> None:
    folder = _write_pngs(_digits(320, "train"), tmp_path / "s")
    args = ("--eval", "digits-kid", "--no-progress", "-o", f"weights={tiny_extractor}", *KID)
    assert cli("eval", "--images", str(folder), "--out", str(tmp_path / "o"), *args).returncode == 0
    assert cli("eval", "--images", str(folder), "--out", str(tmp_path / "o"), *args).returncode == 0
    # 2 x (real, trained, random, fit, and the trained G's difference with each of the three controls)
    assert len(json.loads((tmp_path / "o" / "results.json").read_text())) == 14
    other = _write_pngs(_digits(300, "train"), tmp_path / "other")
    assert "another model" in _one_error_line(cli("eval", "--images", str(other), "--out", str(tmp_path / "o"), *args))


# -- bad inputs --------------------------------------------------------------------------------
def _bad_input(kind: str, tmp_path: Path) -> tuple[list[str], str]:
    out = ["--out", str(tmp_path / "o"), "--eval", "digits-kid"]
    if kind == "empty-folder":
        (tmp_path / "empty" / "sub").mkdir(parents=True)
        return ["--images", str(tmp_path / "empty"), *out], "holds no image files"
    if kind == "mixed-sizes":
        folder = _write_pngs(_digits(3), tmp_path / "mixed", nested=False)
        Image.new("RGB", (48, 48)).save(folder / "big.png")
        return ["--images", str(folder), *out], "mixes image sizes"
    if kind == "float-array":
        np.save(tmp_path / "x.npy", np.zeros((4, 32, 32, 3), dtype=np.float32))
        return ["--images", str(tmp_path / "x.npy"), *out], "not uint8 images"
    if kind == "not-a-network":
        (tmp_path / "G.pt").write_text("not a network")
        return ["--generator", str(tmp_path / "G.pt"), *out], "neither TorchScript"
    if kind == "state-dict-without-model":
        g_path, _, _, _ = _save_pytorch_examples(tmp_path)
        return ["--generator", str(g_path), *out], "--model"
    if kind == "wrong-keys":
        torch.save(torch.nn.Linear(4, 4).state_dict(), tmp_path / "G.pth")
        return ["--generator", str(tmp_path / "G.pth"), "--model", "dcgan-pytorch-examples", *out], "lacks main.0.weight"
    if kind == "wrong-shape":
        g_path, d_path, _, d = _save_pytorch_examples(tmp_path)
        state = d.state_dict()
        state["main.2.weight"] = torch.zeros(16, 8, 3, 3)
        torch.save(state, d_path)
        return ["--generator", str(g_path), "--discriminator", str(d_path), "--model", "dcgan-pytorch-examples",
                *out], "has shape (16, 8, 3, 3)"
    if kind == "output-not-images":
        return ["--generator", str(_script(ScriptG(flat=True), tmp_path / "G.pt")), *out], "not square images"
    if kind == "output-out-of-range":
        return ["--generator", str(_script(ScriptG(gain=3.0), tmp_path / "G.pt")), *out], "not images in [-1, 1]"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["empty-folder", "mixed-sizes", "float-array", "not-a-network",
                                  "state-dict-without-model", "wrong-keys", "wrong-shape", "output-not-images",
                                  "output-out-of-range"])
def test_bad_inputs_end_in_one_line(cli: Any, tmp_path: Path, kind: str) -> None:
    args, expected = _bad_input(kind, tmp_path)
    assert expected in _one_error_line(cli("eval", *args))
    assert not (tmp_path / "o" / "results.json").exists()


def test_mixed_sizes_are_resized_when_asked(tmp_path: Path) -> None:
    from gansuite.evaluation.sources import read_images

    folder = _write_pngs(_digits(3), tmp_path / "mixed", nested=False)
    Image.new("RGB", (48, 40), (255, 0, 0)).save(folder / "big.png")
    images, source = read_images(folder, image_size=32, progress=False)
    assert images.shape == (4, 3, 32, 32) and source.resized_to == 32
    assert images[-1, 0].float().mean() > 250 and images[-1, 1:].float().mean() < 5  # big.png sorts last: red


# -- the contract ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(get_catalog().registry("probes").names()))
def test_every_probe_declares_what_it_needs(name: str) -> None:
    spec = get_catalog().registry("probes").get(name)
    assert spec.needs and set(spec.needs) <= set(PROBE_NEEDS)


def test_an_unknown_need_is_refused() -> None:
    with pytest.raises(ValueError, match="needs must name"):
        ProbeSpec(name="x", summary="x", needs=("weights",))


# -- checked against a peer --------------------------------------------------------------------
def _blocky(n: int, seed: int, shift: int) -> torch.Tensor:
    """``n`` 32x32 images of random 4x4 colour blocks (a distribution with structure), brightened by ``shift``."""
    low = torch.randint(0, 200, (n, 3, 4, 4), generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low.float(), size=32, mode="nearest").add(shift).clamp(0, 255).to(torch.uint8)


def _read_sorted(folder: Path) -> torch.Tensor:
    files = sorted(folder.rglob("*.png"), key=lambda p: p.relative_to(folder).as_posix())
    return torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files])).permute(0, 3, 1, 2)


@pytest.mark.slow  # a whole eval through the CLI (about 30 s on 2 busy cores); CI runs -m slow
def test_folder_vs_folder_fid_and_kid_match_torchmetrics(tmp_path: Path, tiny_extractor: Path) -> None:
    """clean-fid's folder-vs-folder FID, and KID, against torchmetrics fed the same features."""
    from gansuite_probes.inception import InceptionFeatures
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    from gansuite.runs.foreign import ForeignRequest, evaluate_foreign

    n = 2100  # FID needs 2,048 images a side
    samples = _write_pngs(_blocky(n, 0, 0), tmp_path / "samples")
    real = _write_pngs(_blocky(n, 1, 30), tmp_path / "real")
    opts = [f"path={real}"]
    for probe in ("fid", "kid"):
        opts += [f"{probe}.weights={tiny_extractor}", f"{probe}.input_size=32", f"{probe}.n_samples={n}",
                 f"{probe}.random_control=false", f"{probe}.cache=false"]
    opts += ["fid.n_bootstrap=0", "fid.fid_inf_points=0", "kid.subsets=1", f"kid.subset_size={n - 1}"]
    rows = evaluate_foreign(ForeignRequest(out=tmp_path / "o", evals=["folder-fid", "folder-kid"], images=samples,
                                           options=opts, data_root=tmp_path, progress=False))
    ours = {r["metric"]: r["value"] for r in rows if r["variant"] == "trained"}

    class Float64(torch.nn.Module):  # the same features, in the float64 gansuite computes with
        def __init__(self) -> None:
            super().__init__()
            self.net = InceptionFeatures(tiny_extractor, input_size=32)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x).double()

    net = Float64()
    fake_images, real_images = _read_sorted(samples), _read_sorted(real)
    fid = FrechetInceptionDistance(feature=net, normalize=False)
    kid = KernelInceptionDistance(feature=net, subsets=1, subset_size=n, normalize=False)
    for metric in (fid, kid):
        metric.update(real_images, real=True)
        metric.update(fake_images, real=False)
    assert ours["fid"] == pytest.approx(float(fid.compute()), rel=1e-6)
    # KID's subsets must be smaller than the sets (equal ones would all be the same set), so the probe's
    # value is a random subset's; the peer comparison is of the statistic on the same whole sets
    from gansuite_probes.distances import poly_mmd2

    with torch.no_grad():
        whole = float(poly_mmd2(net(fake_images), net(real_images)))
    assert whole == pytest.approx(float(kid.compute()[0]), rel=1e-6)
    assert ours["kid"] == pytest.approx(whole, rel=0.2)  # the probe's subset of n - 1 images: close
    assert ours["fid"] > 1e-3  # two different distributions: a non-trivial distance was compared


# -- studies -----------------------------------------------------------------------------------
STUDY = """
seeds = [0]
datasets = ["digits"]
evals = ["digits-kid"]
[budget]
max_steps = 1
[run]
device = "cpu"
options = ["weights={weights}", "input_size=32", "n_samples=300", "subset_size=100", "subsets=5"]
[[models]]
label = "their-g"
generator = "{generator}"
[[models]]
label = "their-samples"
images = "{images}"
"""


def _study(tmp_path: Path, tiny_extractor: Path) -> Path:
    g_path = _script(ScriptG(), tmp_path / "G.pt")
    images = _write_pngs(_digits(320, "train"), tmp_path / "samples")
    spec = tmp_path / "study.toml"
    spec.write_text(STUDY.format(weights=tiny_extractor, generator=g_path, images=images))
    return spec


def test_a_study_lists_models_trained_elsewhere(cli: Any, tmp_path: Path, tiny_extractor: Path) -> None:
    res = cli("study", str(_study(tmp_path, tiny_extractor)), "--out", str(tmp_path / "st"), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "their-g-digits-seed0: run: gansuite eval --generator" in res.stdout
    assert "their-samples-digits-seed0: run: gansuite eval --images" in res.stdout
    assert "--eval digits-kid" in res.stdout and "-o subset_size=100" in res.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(STUDY.replace('label = "their-g"\n', ""))
    assert "needs a label" in _one_error_line(cli("study", str(bad), "--dry-run"))


def test_a_study_refuses_an_eval_its_foreign_model_cannot_run_before_any_cell(cli: Any, tmp_path: Path,
                                                                                 tiny_extractor: Path) -> None:
    spec = _study(tmp_path, tiny_extractor)
    spec.write_text(spec.read_text().replace('evals = ["digits-kid"]', 'evals = ["digits-kid", "digits-svm"]'))
    res = cli("study", str(spec), "--out", str(tmp_path / "st"))
    line = _one_error_line(res)
    assert "models[0]" in line and "cell their-g-digits-seed0" in line and "digits-svm" in line
    assert "needs a discriminator" in line and 'discriminator = "D.pt"' in line
    assert not (tmp_path / "st" / "runs").exists()  # no cell ran
    samples_only = tmp_path / "samples.toml"
    samples_only.write_text(spec.read_text().replace('evals = ["digits-kid", "digits-svm"]',
                                                     'evals = ["digits-latent-walk"]'))
    line = _one_error_line(cli("study", str(samples_only), "--dry-run"))
    assert "cell their-g-digits-seed0" not in line  # a generator can walk
    assert "cell their-samples-digits-seed0" in line and "needs a generator" in line


@pytest.mark.slow  # two cells through 'python -m gansuite eval' subprocesses
def test_a_study_evaluates_models_trained_elsewhere(tmp_path: Path, tiny_extractor: Path) -> None:
    import os
    import subprocess
    import sys

    spec = _study(tmp_path, tiny_extractor)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "gansuite", "study", str(spec), "--out", str(tmp_path / "st")]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert first.returncode == 0, first.stderr
    for cell in ("their-g-digits-seed0", "their-samples-digits-seed0"):
        rows = json.loads((tmp_path / "st" / "runs" / cell / "results.json").read_text())
        assert {r["variant"] for r in rows if r["metric"] == "kid"} == {"real", "trained", "random", "gaussian-fit"}
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0 and "2 cells (2 finished)" in again.stdout, again.stdout + again.stderr


# -- GAN-test on labelled samples --------------------------------------------------------------
GAN_TEST = ("--eval", "digits-gan-test", "--no-progress", "--json", "-o", "n_samples=300", "-o", "n_train=800")


def _labelled_digits(n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    spec = get_catalog().registry("datasets").get("digits")
    from gansuite._host.options import build_config

    data = spec.load_factory()(build_config(spec, {}), root=Path(".")).load("train", image_size=32)
    assert data.labels is not None
    return data.images[:n], data.labels[:n]


def _class_folders(images: torch.Tensor, labels: torch.Tensor, folder: Path) -> Path:
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        (folder / str(int(y))).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / str(int(y)) / f"{i:05d}.png")
    return folder


@pytest.mark.slow  # three GAN-test evals through the CLI, one classifier (cached) between them
def test_gan_test_scores_labelled_samples_and_shuffled_labels_fail(cli: Any, tmp_path: Path) -> None:
    """Real digits filed under their own class score high; the same images under shuffled
    classes score near chance: the score reads the labels the samples carry."""
    images, labels = _labelled_digits()
    cache = ("-o", f"cache_dir={tmp_path / 'classifiers'}")
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    assert float((shuffled == labels).double().mean()) < 0.2
    scores = {}
    for name, y in (("true", labels), ("shuffled", shuffled)):
        folder = _class_folders(images, y, tmp_path / name)
        res = cli("eval", "--images", str(folder), "--out", str(tmp_path / f"o-{name}"), *GAN_TEST, *cache)
        assert res.returncode == 0, res.stderr
        rows = {(r["metric"], r["variant"]): r for r in json.loads(res.stdout)}
        scores[name] = rows[("gan_test", "trained")]["value"]
        assert rows[("gan_test", "real-test")]["value"] > 0.8  # the classifier itself works
        assert rows[("gan_test", "random")]["value"] < 0.5  # the data-fitted control beside it
    assert scores["true"] > 0.85
    assert scores["shuffled"] < 0.3
    # an .npz with images and labels reads the same
    np.savez(tmp_path / "s.npz", images=images.permute(0, 2, 3, 1).numpy(), labels=labels.numpy())
    res = cli("eval", "--images", str(tmp_path / "s.npz"), "--out", str(tmp_path / "o-npz"), *GAN_TEST, *cache)
    assert res.returncode == 0, res.stderr
    npz = {(r["metric"], r["variant"]): r["value"] for r in json.loads(res.stdout)}
    assert npz[("gan_test", "trained")] == pytest.approx(scores["true"], abs=0.02)


def test_gan_test_on_samples_without_fitting_labels_is_refused(cli: Any, tmp_path: Path) -> None:
    images, labels = _labelled_digits(40)
    flat = _write_pngs(images, tmp_path / "flat", nested=False)
    line = _one_error_line(cli("eval", "--images", str(flat), "--out", str(tmp_path / "o"), *GAN_TEST))
    assert "carries no class labels" in line and "subfolder" in line and "'labels'" in line
    np.savez(tmp_path / "s.npz", images=images.permute(0, 2, 3, 1).numpy(), labels=labels.numpy() + 5)
    line = _one_error_line(cli("eval", "--images", str(tmp_path / "s.npz"), "--out", str(tmp_path / "o"), *GAN_TEST))
    assert "has 10 classes" in line
    assert not (tmp_path / "o").exists()  # refused before anything was written
    # subfolder names are matched to the class names once the dataset is loaded: refused then
    nested = _write_pngs(images, tmp_path / "nested")  # part0/part1/part2: not classes
    line = _one_error_line(cli("eval", "--images", str(nested), "--out", str(tmp_path / "o"), *GAN_TEST))
    assert "part0, part1, part2" in line and "class names" in line
    assert not (tmp_path / "o" / "results.json").exists()


def test_class_subfolders_are_matched_by_name() -> None:
    from gansuite.evaluation.foreign_model import SampleBank

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    bank = SampleBank(images, "s", labels=["cat", "dog", "cat", "ant"])
    bank.use_labels(3, None)  # names are matched once the classes are known
    assert bank.num_classes == 3 and bank.labels is None
    bank.use_labels(3, ("ant", "cat", "dog"))
    assert bank.labels is not None and bank.labels.tolist() == [1, 2, 1, 0]
    z = torch.tensor([[3.0], [1.0]])
    assert bank.labels_of(z).tolist() == [0, 2]
    with pytest.raises(Exception, match="has 3 class subfolders and the dataset has 2"):
        SampleBank(images, "s", labels=["cat", "dog", "cat", "ant"]).use_labels(2, None)
