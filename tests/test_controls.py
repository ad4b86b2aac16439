"""The controls the host builds for every probe: random models with standing statistics, the early
checkpoint, the data-fitted Gaussian generator, and calibration checks that a bad generator fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from gansuite_probes.testing import TinyConfig, build_tiny
from helpers import FAST, build_probe, load_script, probe_ctx

from gansuite._host.manager import get_catalog
from gansuite._host.options import build_config
from gansuite.contract.protocols import ImageData
from gansuite.engine.build import build_model
from gansuite.engine.runfolder import RunFolder
from gansuite.evaluation.controls import (
    GaussianFitModel,
    match_output_spread,
    sample_std,
    standing_statistics,
)
from gansuite.evaluation.evaluate import EvalSession

SIZE = 16

MODELS = sorted(spec.name for spec in get_catalog().registry("models"))


@pytest.fixture(scope="module")
def digits32() -> ImageData:
    """The embedded digits' training split at 32x32, three channels (every family accepts it)."""
    spec = get_catalog().registry("datasets").get("digits")
    data = spec.load_factory()(build_config(spec, {}), root=Path(".")).load("train", image_size=32)
    return ImageData(data.images.expand(-1, 3, -1, -1).contiguous(), data.labels, data.classes)


def _session(name: str, tmp_path: Path) -> EvalSession:
    spec = get_catalog().registry("models").get(name)
    config = build_config(spec, {})
    model = build_model(spec, config, image_size=32, channels=3)
    return EvalSession(catalog=get_catalog(), folder=RunFolder(tmp_path), model=model, model_spec=spec,
                       model_config=config, config={}, data_root=Path("."), allow_unverified=False, seed=0,
                       progress=False)


def _samples(model: Any, n: int = 256) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    z, y = model.sample_z(n, generator=gen), model.sample_labels(n, generator=gen)
    with torch.no_grad():
        return model.generate(z, y)


@pytest.mark.parametrize("name", MODELS)
def test_random_generator_varies_like_real_data(name: str, tmp_path: Path, digits32: ImageData) -> None:
    real = sample_std(digits32.images[:256])
    random = _session(name, tmp_path).make_random_model(0, lambda: digits32)
    assert not random.generator.training and not random.discriminator.training
    std = sample_std(_samples(random))
    assert std >= real / 4, f"{name}: random G sample_std {std:.4f} < a quarter of the real images' {real:.4f}"
    # the output gain matches the spread on latents other than the ones it was chosen on
    assert random.output_gain is not None and abs(std - real) <= 0.15 * real, (name, std, real)


def test_output_gain_lifts_a_narrow_random_generator(tmp_path: Path, digits32: ImageData) -> None:
    """At an eighth of its width a random DCGAN's standing statistics alone give it a fraction of
    the data's spread; the matched output gain gives it the data's, and only the last layer moves."""
    spec = get_catalog().registry("models").get("dcgan")
    config = build_config(spec, {"ngf": 8})
    session = EvalSession(catalog=get_catalog(), folder=RunFolder(tmp_path),
                          model=build_model(spec, config, image_size=32, channels=3), model_spec=spec,
                          model_config=config, config={}, data_root=Path("."), allow_unverified=False, seed=0,
                          progress=False)
    real = sample_std(digits32.images[:256])
    without = session.make_random_model(0, None)
    assert getattr(without, "output_gain", None) is None
    assert sample_std(_samples(without)) < real / 3
    matched = session.make_random_model(0, lambda: digits32)
    assert matched.output_gain > 3
    assert abs(sample_std(_samples(matched)) - real) <= 0.1 * real
    same = [torch.equal(a, b) for a, b in zip(without.generator.parameters(), matched.generator.parameters(), strict=True)]
    assert all(same)


def test_match_output_spread_hooks_the_last_weight_layer() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 32, bias=False),
                              torch.nn.Tanh())
    net[2].weight.data.mul_(0.1)
    z = torch.randn(256, 8)
    gain = match_output_spread(net, lambda: net(z), 0.2)
    assert gain is not None and gain > 2
    assert sample_std(net(z).detach()) == pytest.approx(0.2, rel=0.02)
    assert match_output_spread(torch.nn.Tanh(), lambda: torch.zeros(4, 2), 0.2) is None


def test_initial_statistics_were_the_degenerate_control(tmp_path: Path, digits32: ImageData) -> None:
    """What the standing statistics fix: dcgan's random G in eval mode with its initial running
    statistics draws (almost) one image."""
    session = _session("dcgan", tmp_path)
    spec, config = session.model_spec, session.model_config
    torch.manual_seed(0)
    fresh = build_model(spec, config, image_size=32, channels=3)
    fresh.generator.eval()
    assert sample_std(_samples(fresh)) < sample_std(digits32.images[:256]) / 10


def test_standing_statistics_average_the_batches_and_keep_weights() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    weights = [p.detach().clone() for p in net.parameters()]
    batches = [torch.randn(50, 4) * (i + 1) for i in range(3)]
    assert standing_statistics(net, [lambda b=b: net(b) for b in batches]) == 1
    h = [net[0](b).detach() for b in batches]
    assert torch.allclose(net[1].running_mean, torch.stack([x.mean(0) for x in h]).mean(0), atol=1e-5)
    assert not net.training and net[1].momentum == 0.1
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters(), strict=True))
    assert standing_statistics(torch.nn.Linear(2, 2), [lambda: (_ for _ in ()).throw(AssertionError)]) == 0


def test_gaussian_fit_has_the_data_mean_and_spread(digits32: ImageData) -> None:
    fit = GaussianFitModel(digits32.images, z_dim=100, rank=64)
    x = fit.generate(fit.sample_z(2000, generator=torch.Generator().manual_seed(1)))
    assert x.shape == (2000, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    data = digits32.images.float() / 127.5 - 1
    assert (x.mean(0) - data.mean(0)).abs().mean() < 0.03
    real = sample_std(digits32.images)
    assert real * 0.6 < sample_std(x) <= real * 1.05  # rank 64 of the covariance: most, not all, of it
    def uniform(n: int, generator: torch.Generator | None = None, device: object = None) -> torch.Tensor:
        return torch.rand(n, 100, generator=generator).mul_(2).sub_(1)

    driven = GaussianFitModel(digits32.images, z_dim=100, rank=64, prior=uniform)  # a DCGAN-style uniform z
    u = driven.generate(driven.sample_z(2000, generator=torch.Generator().manual_seed(1)))
    assert abs(sample_std(u) - sample_std(x)) < 0.1 * sample_std(x)
    z = fit.sample_z(2, generator=torch.Generator().manual_seed(2))
    assert torch.equal(fit.generate(z), fit.generate(z))  # a function of z


def test_training_keeps_an_early_checkpoint_that_loads(tmp_path: Path) -> None:
    from gansuite.cli import main
    from gansuite.engine.build import load_run_model
    from gansuite.engine.checkpoint import find_early_checkpoint

    run = tmp_path / "run"
    small = ["-o", "n=32", "-o", "ngf=8", "-o", "ndf=8", "--batch-size", "4", "--image-size", "32",
             "--device", "cpu", "--no-progress"]
    main(["run", "--model", "dcgan", "--dataset", "fake", "--max-steps", "40", "--out", str(run), *small])
    early = find_early_checkpoint(run / "checkpoints")
    assert early is not None and early.name == "early-step-000000002.pt"
    model, info = load_run_model(run, checkpoint=early)
    last, _ = load_run_model(run)
    assert info["checkpoint_step"] == 2
    assert any(not torch.equal(a, b) for a, b in zip(model.generator.state_dict().values(),
                                                        last.generator.state_dict().values(), strict=True))
    # resuming past the early step keeps the file and writes no second one
    main(["run", "--resume", str(run), "--max-steps", "42", "--no-progress"])
    assert sorted(p.name for p in (run / "checkpoints").glob("early-*")) == ["early-step-000000002.pt"]


# -- the calibration checks fail on a bad generator ------------------------------------------------
def _calibration() -> Any:
    return load_script("probe_calibration")


@pytest.fixture(scope="module")
def digits16() -> dict[str, ImageData]:
    spec = get_catalog().registry("datasets").get("digits")
    dataset = spec.load_factory()(build_config(spec, {}), root=Path("."))
    return {split: dataset.load(split, image_size=SIZE) for split in ("train", "test")}


def test_calibration_checks_say_no_for_a_bad_generator(tmp_path: Path, digits16: dict[str, ImageData]) -> None:
    """The probes run for real on an untrained tiny generator posing as the trained one, beside the
    host's gaussian-fit control: the calibration checks must answer 'no' somewhere."""
    torch.manual_seed(5)
    bad = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits16, bad, "digits-latent-walk")
    ctx.make_data_fit_model = lambda seed: GaussianFitModel(digits16["train"].images, bad.z_dim, seed=seed,
                                                            prior=bad.sample_z)
    cal = _calibration()
    answers = []
    for name, eval_name in (("latent-walk", "digits-latent-walk"), ("memorization", "digits-memorization")):
        ctx.eval = probe_ctx(tmp_path, digits16, bad, eval_name).eval
        rows = [{**r, "probe": name} for r in build_probe(name, **FAST[name]).run(ctx)]
        assert {r["variant"] for r in rows} >= {"trained", "random", "gaussian-fit"}
        assert all(r.get("sample_std") is not None for r in rows
                   if r["variant"] != "copying" and not r["variant"].startswith("trained-"))
        answers += cal.checks(rows, name) + cal.std_checks(rows)
    assert answers and any(not ok for _, ok in answers), answers


def test_kid_in_the_fixed_space_ranks_the_controls(tmp_path: Path, digits16: dict[str, ImageData]) -> None:
    torch.manual_seed(5)
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits16, model, "digits-latent-walk")
    ctx.make_data_fit_model = lambda seed: GaussianFitModel(digits16["train"].images, model.z_dim, seed=seed,
                                                            prior=model.sample_z)
    rows = build_probe("kid", features="fixed", n_samples=120, subset_size=60, subsets=5, batch_size=60).run(ctx)
    by = {r["variant"]: r for r in rows if r["metric"] == "kid"}
    assert set(by) == {"real", "trained", "random", "gaussian-fit"}
    assert all(r["feature_space"] and r["sample_std"] > 0 for r in by.values())
    # held-out digits are the floor; the Gaussian fit of the digits sits between them and an untrained G
    assert by["real"]["value"] < by["gaussian-fit"]["value"] < by["trained"]["value"]
    # and the paired differences say so: the untrained G loses to both, beyond their intervals
    gains = {r["control"]: r for r in rows if r["metric"] == "kid_gain"}
    assert set(gains) == {"real", "random", "gaussian-fit"}
    assert gains["gaussian-fit"]["ci95_high"] < 0 and gains["real"]["ci95_high"] < 0


def test_prdc_in_the_fixed_space_pairs_trained_and_controls(tmp_path: Path, digits16: dict[str, ImageData]) -> None:
    """The gain rows are paired over the right units, and they can fail: an untrained G posing as
    the trained one does not beat the Gaussian fit on precision, and scored against itself (its
    own random control rebuilt with the same seed) its differences are not distinguishable from 0."""
    torch.manual_seed(5)
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, digits16, model, "digits-latent-walk")
    ctx.make_data_fit_model = lambda seed: GaussianFitModel(digits16["train"].images, model.z_dim, seed=seed,
                                                            prior=model.sample_z)
    ctx.make_random_model = lambda seed: model  # the control is the trained G itself
    rows = build_probe("prdc", features="fixed", n_samples=120, batch_size=60, n_boot=500).run(ctx)
    by = {(r["metric"], r["variant"]): r for r in rows}
    for metric in ("precision", "recall", "density", "coverage"):
        assert {(metric, v) for v in ("real", "trained", "random", "gaussian-fit")} <= set(by)
        same = by[(f"{metric}_gain", "trained-random")]
        assert same["value"] == 0 and not same["distinguishable"] and same["note"] == "not distinguishable from 0"
        fit = by[(f"{metric}_gain", "trained-gaussian-fit")]
        assert fit["value"] == pytest.approx(by[(metric, "trained")]["value"] - by[(metric, "gaussian-fit")]["value"])
        assert fit["ci95_low"] <= fit["value"] <= fit["ci95_high"]
        unit = "generated samples" if metric in ("precision", "density") else "reference images"
        assert unit in fit["ci_method"] and fit["control"] == "gaussian-fit"
    assert by[("precision_gain", "trained-gaussian-fit")]["ci95_high"] < 0.05  # untrained: no lead
    assert by[("precision", "real")]["value"] > by[("precision", "gaussian-fit")]["value"]


def test_prdc_per_unit_scores_average_to_the_metrics() -> None:
    from gansuite_probes.distances import prdc

    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(200, 5, generator=gen), torch.randn(150, 5, generator=gen) + 0.3
    units: dict[str, torch.Tensor] = {}
    scores = prdc(real, fake, k=5, units=units)
    assert units["precision"].shape == units["density"].shape == (150,)
    assert units["recall"].shape == units["coverage"].shape == (200,)
    for metric, per in units.items():
        assert float(per.mean()) == pytest.approx(scores[metric]["value"], abs=1e-12), metric


def test_every_record_says_where_its_numbers_came_from() -> None:
    import json

    from gansuite.report.benchdoc import RECORD_PROVENANCE, record_caveat

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    records = sorted(results.glob("*.json"))
    assert records
    for path in records:
        record = json.loads(path.read_text())
        missing = [key for key in RECORD_PROVENANCE if key not in record]
        assert not missing, f"{path.name} lacks {missing}"
        line = record_caveat(record)
        assert line.startswith("Provenance: ") and "not recorded" not in line, (path.name, line)
        if record["data_verified"] is False:
            assert record.get("data_provenance"), f"{path.name}: unverified data without its provenance"


def test_provenance_line_flags_unverified_data() -> None:
    from gansuite.report.texttable import provenance_line

    rows = [{"data_verified": False, "data_provenance": "a rebuilt copy", "commit": "abc", "machine": "m"},
            {"data_verified": True, "commit": "abc", "machine": "m"}]
    line = provenance_line(rows)
    assert "NOT verified" in line and "a rebuilt copy" in line and "commit abc" in line and "machine m" in line
    assert "verified against" in provenance_line(rows[1:])


@pytest.mark.parametrize("dtype", ["bool", "uint8"])  # the shared copy's flags are uint8 0/1
def test_a_rebuilt_cifar10_copy_says_so_in_its_verification(tmp_path: Path, dtype: str) -> None:
    import numpy as np
    from helpers import write_cifar

    folder = write_cifar(tmp_path)
    spec = get_catalog().registry("datasets").get("cifar10")
    dataset = spec.load_factory()(build_config(spec, {}), root=tmp_path)
    assert "lossy" not in dataset.verify().detail
    train = np.ones(20, dtype=dtype)
    train[4:] = 0
    np.savez(folder.parent / "provenance_flags.npz", train_lossless=train, test_lossless=np.ones(4, dtype=dtype))
    detail = dataset.verify().detail
    assert "16 of 20 train images and 0 of 4 test images are lossy (JPEG) decodes" in detail, detail
