"""The sample-quality probes (fid, kid, prdc, is): their arithmetic, the reference cache and the rows.

Probe tests inject a tiny TorchScript extractor (12 features, seeded) through ``-o weights``; one
test runs the bundled Inception on two images; the comparison with the published PyTorch ports
runs only where their weights are in the torch hub cache (see docs/fid.md).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from gansuite_probes.testing import TinyConfig, TinyGAN, build_tiny
from helpers import CopyGAN, build_probe, probe_ctx

from gansuite.contract.errors import CorruptDataError, GansuiteError, MissingDataError, OptionError
from gansuite.contract.protocols import ImageData

SIZE = 16


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own reference cache and an empty torch hub."""
    monkeypatch.setenv("GANSUITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "cache"


def _data(n_train: int, n_test: int) -> dict[str, ImageData]:
    """Two disjoint draws of the same smooth random-image distribution."""
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(n_train + n_test, 3, 4, 4, generator=gen)
    images = (torch.nn.functional.interpolate(base, size=SIZE, mode="bilinear") * 255).to(torch.uint8)
    return {"train": ImageData(images[:n_train]), "test": ImageData(images[n_train:])}


def tiny(extractor: Path, **values: object) -> dict[str, object]:
    return {"weights": str(extractor), "input_size": 32, "batch_size": 512, **values}


# -- the arithmetic ----------------------------------------------------------------------------------
def _gauss(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """``n`` draws of one correlated Gaussian in ``d`` dimensions (the same for every seed), shifted."""
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(123)) / math.sqrt(d)
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=gen) @ mix + shift).float()


def test_frechet_distance_matches_scipy_sqrtm() -> None:
    from gansuite_probes.distances import frechet_distance, moments
    from scipy import linalg

    a, b = _gauss(400, 20, 0), _gauss(300, 20, 1, shift=0.3)
    (m1, c1), (m2, c2) = moments(a), moments(b)
    assert torch.allclose(c1, torch.cov(a.double().T), atol=1e-10)
    root = linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    expected = float(((m1 - m2) ** 2).sum()) + float(np.trace(c1.numpy() + c2.numpy() - 2 * root))
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-8)
    assert abs(frechet_distance(m1, c1, m1, c1)) < 1e-8


def test_frechet_distance_matches_torchmetrics(tiny_extractor: Path) -> None:
    from gansuite_probes.distances import frechet_distance, moments
    from gansuite_probes.inception import InceptionFeatures
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = InceptionFeatures(tiny_extractor, input_size=32)
    data = _data(300, 300)
    metric = FrechetInceptionDistance(feature=net, normalize=False)
    metric.update(data["train"].images, real=True)
    metric.update(data["test"].images, real=False)
    fa, fb = net(data["train"].images), net(data["test"].images)
    assert frechet_distance(*moments(fa), *moments(fb)) == pytest.approx(float(metric.compute()), rel=1e-5)


def test_fid_infinity_recovers_the_line() -> None:
    from gansuite_probes.distances import fid_infinity, linear_fit, moments, psd_sqrt

    fit = linear_fit([1 / 100, 1 / 200, 1 / 400], [7 + 500 / 100, 7 + 500 / 200, 7 + 500 / 400])
    assert fit["intercept"] == pytest.approx(7) and fit["slope"] == pytest.approx(500)
    assert fit["intercept_se"] == pytest.approx(0, abs=1e-9)
    ref = _gauss(20000, 8, 0)
    mean, cov = moments(ref)
    same = fid_infinity(_gauss(4000, 8, 1), mean, cov, psd_sqrt(cov), [500, 1000, 2000, 4000],
                        torch.Generator().manual_seed(0))
    # Same distribution: the finite-N FIDs are pure bias, the intercept is near 0 and the slope positive.
    assert same["slope"] > 0 and abs(same["fid_infinity"]) < 0.01 < same["points"][0][1]
    shifted = fid_infinity(_gauss(4000, 8, 1, shift=0.5), mean, cov, psd_sqrt(cov), [500, 1000, 2000, 4000],
                           torch.Generator().manual_seed(0))
    assert shifted["fid_infinity"] == pytest.approx(8 * 0.25, rel=0.1)


def test_kid_matches_torchmetrics_poly_mmd() -> None:
    from gansuite_probes.distances import kid_subsets, poly_mmd2
    from torchmetrics.image.kid import poly_mmd

    a, b = _gauss(200, 16, 0).double(), _gauss(200, 16, 1, shift=0.2).double()
    ours = poly_mmd2(a, b).reshape(1)  # what every KID subset computes, on every row
    assert float(ours[0]) == pytest.approx(float(poly_mmd(a, b, degree=3, gamma=None, coef=1.0)), rel=1e-9)
    many = kid_subsets(a, b, 20, 50, torch.Generator().manual_seed(0))
    assert many.shape == (20,) and many.std() > 0


def _prdc_brute(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Naeem et al.'s definitions, written out with full distance matrices."""
    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    rr, ff, rf = dist(real, real), dist(fake, fake), dist(real, fake)
    r_rad, f_rad = np.sort(rr, 1)[:, k], np.sort(ff, 1)[:, k]
    return {"precision": float((rf < r_rad[:, None]).any(0).mean()),
            "recall": float((rf < f_rad[None, :]).any(1).mean()),
            "density": float((rf < r_rad[:, None]).sum(0).mean() / k),
            "coverage": float((rf.min(1) < r_rad).mean())}


def test_prdc_matches_the_definitions() -> None:
    from gansuite_probes.distances import prdc

    real, fake = _gauss(300, 6, 0), _gauss(250, 6, 1, shift=0.4)
    got = prdc(real, fake, k=5, chunk=64)
    want = _prdc_brute(real.double().numpy(), fake.double().numpy(), 5)
    for name, value in want.items():
        assert got[name]["value"] == pytest.approx(value, abs=1e-12), name
        assert got[name]["se"] >= 0
    assert 0 < got["precision"]["value"] < 1 and got["density"]["value"] > 0
    same = prdc(real, real.clone(), k=5)
    assert same["precision"]["value"] == same["recall"]["value"] == same["coverage"]["value"] == 1.0


def test_inception_score_limits() -> None:
    from gansuite_probes.distances import inception_score

    assert inception_score(torch.zeros(100, 10), 5)[0] == pytest.approx(1.0)
    confident = torch.eye(10).repeat(10, 1) * 50  # every class equally often, each image certain
    mean, std, scores = inception_score(confident, 10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std < 1e-6 and len(scores) == 10
    with pytest.raises(ValueError):
        inception_score(torch.zeros(3, 10), 5)


# -- the reference cache -----------------------------------------------------------------------------
def test_reference_statistics_are_cached_by_content(tiny_extractor: Path, _cache: Path) -> None:
    from gansuite_probes.inception import InceptionFeatures
    from gansuite_probes.refstats import reference

    net = InceptionFeatures(tiny_extractor, input_size=32)
    data = _data(600, 10)["train"]
    first = reference(net, data, "train", 500, batch_size=128)
    again = reference(net, data, "train", 500, batch_size=128)
    assert not first.cached and again.cached and first.key == again.key
    assert torch.equal(first.mean, again.mean) and torch.equal(first.cov, again.cov)
    assert torch.equal(first.features(), again.features()) and again.features().shape == (500, 12)
    info = again.describe()
    assert info["reference_cached"] and info["n_reference"] == 500 and info["reference_time_saved_s"] >= 0
    files = sorted(p.name for p in (_cache / "inception-reference").iterdir())
    assert files == sorted(f"{first.key}{ext}" for ext in (".json", ".stats.pt", ".features.pt"))
    # Other images, another count or another split name: another entry.
    changed = ImageData(data.images.clone())
    changed.images[0, 0, 0, 0] ^= 1
    keys = {reference(net, changed, "train", 500, batch_size=128).key,
            reference(net, data, "train", 400, batch_size=128).key,
            reference(net, data, "test", 500, batch_size=128).key}
    assert first.key not in keys and len(keys) == 3
    uncached = reference(net, data, "train", 500, batch_size=128, cache=False)
    assert not uncached.cached and torch.allclose(uncached.mean, first.mean)


def test_another_count_of_a_cached_split_embeds_only_the_images_not_cached(
        tiny_extractor: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gansuite_probes.refstats as refstats
    from gansuite_probes.inception import InceptionFeatures

    seen: list[int] = []
    real_embed = refstats.embed
    monkeypatch.setattr(refstats, "embed", lambda ex, b, n, **kw: (seen.append(n), real_embed(ex, b, n, **kw))[1])
    net = InceptionFeatures(tiny_extractor, input_size=32)
    data = _data(600, 10)["train"]
    small = refstats.reference(net, data, "train", 200, batch_size=128)
    assert small.reused == 0
    large = refstats.reference(net, data, "train", 500, batch_size=128)  # 200 reused, 300 embedded
    smaller = refstats.reference(net, data, "train", 100, batch_size=128)  # all 100 from the 500
    assert seen == [200, 300] and large.reused == 200 and smaller.reused == 100
    assert smaller.describe()["reference_reused_images"] == 100
    fresh = refstats.reference(net, data, "train", 500, batch_size=128, cache=False)
    assert torch.allclose(large.features(), fresh.features(), atol=1e-6)
    assert torch.allclose(smaller.features(), fresh.features()[:100], atol=1e-6)
    # the control: other images under the same split name share nothing
    changed = ImageData(data.images.flip(0).contiguous())
    other = refstats.reference(net, changed, "train", 300, batch_size=128)
    assert other.reused == 0 and seen[-1] == 300


# -- the probes --------------------------------------------------------------------------------------
def test_fid_refuses_fewer_than_2048_samples(tiny_extractor: Path, tmp_path: Path) -> None:
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    with pytest.raises(OptionError, match="2,048"):
        build_probe("fid", **tiny(tiny_extractor, n_samples=1000)).run(probe_ctx(tmp_path, _data(3000, 10), model,
                                                                          "cifar10-fid"))
    with pytest.raises(OptionError, match="2,048"):
        build_probe("fid", **tiny(tiny_extractor, n_samples=2048)).run(probe_ctx(tmp_path, _data(1438, 10), model,
                                                                          "cifar10-fid"))


def test_fid_rows_controls_floor_and_cache(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(2048, 2048)
    cfg = tiny(tiny_extractor, n_samples=2048, n_bootstrap=4, fid_inf_points=4, fid_inf_min=512)
    rows = build_probe("fid", **cfg).run(probe_ctx(tmp_path, data, CopyGAN(data["train"].images), "cifar10-fid"))
    by = {(r["metric"], r["variant"]): r for r in rows}
    assert set(by) == {(m, v) for m in ("fid", "fid_infinity") for v in ("real", "trained", "random")}
    real, copier, noise = by[("fid", "real")], by[("fid", "trained")], by[("fid", "random")]
    assert 0 <= real["value"] < noise["value"] and copier["value"] < noise["value"]
    for r in rows:
        assert r["n_samples"] == r["n_reference"] == 2048 and r["statistics_dtype"] == "float64"
        assert r["extractor_sha256"] == hashlib.sha256(tiny_extractor.read_bytes()).hexdigest()
        assert "(x - 128) / 128" in r["preprocessing"] and r["std"] > 0 and r["ci95"] == pytest.approx(1.96 * r["std"])
        assert r["floor_at_n_samples"] == real["value"] and "measured at 2,048" in r["floor_source"]
        assert r["reference_cached"] is False
    fit = by[("fid_infinity", "random")]
    assert len(fit["fit_points"]) == 4 and fit["fit_points"][0][0] == 512 and fit["slope"] != 0
    assert by[("fid", "trained")]["n_bootstrap"] == 4
    again = build_probe("fid", **cfg).run(probe_ctx(tmp_path, data, CopyGAN(data["train"].images), "cifar10-fid"))
    assert all(r["reference_cached"] and r["holdout_cached"] for r in again if r["variant"] == "real")
    assert [r["value"] for r in again] == pytest.approx([r["value"] for r in rows])


def test_fid_floor_is_extrapolated_when_the_holdout_is_smaller(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(2048, 1024)
    cfg = tiny(tiny_extractor, n_samples=2048, n_bootstrap=0, fid_inf_points=3, fid_inf_min=256,
               random_control=False)
    rows = build_probe("fid", **cfg).run(probe_ctx(tmp_path, data, CopyGAN(data["train"].images), "cifar10-fid"))
    real = next(r for r in rows if r["variant"] == "real" and r["metric"] == "fid")
    fit = next(r for r in rows if r["variant"] == "real" and r["metric"] == "fid_infinity")
    assert real["n_samples"] == 1024 and {r["variant"] for r in rows} == {"real", "trained"}
    assert real["floor_at_n_samples"] == pytest.approx(fit["value"] + fit["slope"] / 2048)
    assert "fit" in real["floor_source"] and real["std"] is None


def test_fid_without_controls_has_no_floor(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(2048, 10)
    rows = build_probe("fid", **tiny(tiny_extractor, n_samples=2048, real_control=False, random_control=False,
                               fid_inf_points=0, n_bootstrap=0)).run(
        probe_ctx(tmp_path, data, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "cifar10-fid"))
    assert [(r["metric"], r["variant"]) for r in rows] == [("fid", "trained")]
    assert "floor_at_n_samples" not in rows[0]
    with pytest.raises(OptionError, match="holdout_split"):
        build_probe("fid", **tiny(tiny_extractor, n_samples=2048, holdout_split="train")).run(
            probe_ctx(tmp_path, data, build_tiny(TinyConfig(), image_size=SIZE, channels=3), "cifar10-fid"))


def test_kid_rows(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(100, 40)
    cfg = tiny(tiny_extractor, n_samples=60, n_reference=60, subset_size=20, subsets=5)
    model = CopyGAN(data["train"].images)
    rows = build_probe("kid", **cfg).run(probe_ctx(tmp_path, data, model, "digits-kid"))
    by = {r["variant"]: r for r in rows}
    assert set(by) == {"real", "trained", "random"}
    for r in rows:
        assert r["metric"] == "kid" and math.isfinite(r["value"]) and r["std"] >= 0 and r["subsets"] == 5
        assert r["subset_size"] == 20 and r["n_reference"] == 60
    assert by["real"]["n_samples"] == 40 and by["trained"]["n_samples"] == 60
    assert by["random"]["value"] > max(by["real"]["value"], by["trained"]["value"])
    with pytest.raises(OptionError, match="subset_size"):
        build_probe("kid", **{**cfg, "subset_size": 80}).run(probe_ctx(tmp_path, data, model, "digits-kid"))


def test_kid_subsets_differ_from_draw_to_draw(tiny_extractor: Path, tmp_path: Path) -> None:
    from gansuite_probes.distances import kid_subset_size, kid_subsets

    with pytest.raises((OptionError, ValueError), match="subset_size"):  # as many as the samples: refused
        build_probe("kid", **tiny(tiny_extractor, n_samples=40, n_reference=60, subset_size=40, subsets=5))
    # a set not larger than the subset (here the held-out real control, 40 images) is halved
    data = _data(100, 40)
    cfg = tiny(tiny_extractor, n_samples=60, n_reference=60, subset_size=50, subsets=5)
    by = {r["variant"]: r for r in build_probe("kid", **cfg).run(
        probe_ctx(tmp_path, data, CopyGAN(data["train"].images), "digits-kid"))}
    assert by["trained"]["subset_size"] == 50 and by["real"]["subset_size"] == 20
    assert by["real"]["std"] > 0
    assert kid_subset_size(100, 100, 500) == 50 and kid_subset_size(100, 101, 500) == 100
    x = torch.randn(30, 8, generator=torch.Generator().manual_seed(0))
    values = kid_subsets(x, x + 0.5, 6, 30, torch.Generator().manual_seed(0))
    assert values.std() > 0  # with the old rule (subset = the whole set) every draw was equal


def test_prdc_rows(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(400, 300)
    rows = build_probe("prdc", **tiny(tiny_extractor, n_samples=300, n_reference=300)).run(
        probe_ctx(tmp_path, data, CopyGAN(data["train"].images), "digits-prdc"))
    by = {(r["metric"], r["variant"]): r for r in rows}
    metrics = ("precision", "recall", "density", "coverage")
    assert set(by) == {(m, v) for m in metrics for v in ("real", "trained", "random")} | \
        {(f"{m}_gain", "trained-random") for m in metrics}
    assert by[("precision", "trained")]["value"] > by[("precision", "random")]["value"]
    assert by[("precision_gain", "trained-random")]["ci95_low"] > 0  # copies of training images beat a random G
    assert by[("coverage", "real")]["value"] > by[("coverage", "random")]["value"]
    assert 0.5 < by[("density", "real")]["value"] < 1.5
    for r in rows:
        assert r["k"] == 5 and r["n_reference"] == 300
        assert r["ci95"] == pytest.approx(1.96 * r["se"]) if "se" in r else r["ci_method"].startswith("paired")


def _fc(path: Path, classes: int, features: int) -> Path:
    torch.save({"fc.weight": torch.randn(classes, features, generator=torch.Generator().manual_seed(0)),
                "fc.bias": torch.zeros(classes)}, str(path))
    return path


def test_is_needs_the_classifier_layer(tiny_extractor: Path, tmp_path: Path) -> None:
    data = _data(100, 50)
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    with pytest.raises(MissingDataError, match="ends at pool3.*logits_weights=PATH") as err:
        build_probe("is", **tiny(tiny_extractor, n_samples=100)).run(probe_ctx(tmp_path, data, model, "digits-is"))
    assert "\n" not in str(err.value) and isinstance(err.value, GansuiteError)
    wrong = _fc(tmp_path / "wrong.pth", 10, 7)
    with pytest.raises(OptionError, match="fc.weight"):
        build_probe("is", **tiny(tiny_extractor, n_samples=100, logits_weights=str(wrong))).run(
            probe_ctx(tmp_path, data, model, "digits-is"))


def test_is_rows_with_given_and_discovered_weights(tiny_extractor: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from gansuite_probes import inception

    data = _data(100, 50)
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    fc = _fc(tmp_path / "fc.pth", 10, 12)
    rows = build_probe("is", **tiny(tiny_extractor, n_samples=100, logits_weights=str(fc))).run(
        probe_ctx(tmp_path, data, model, "digits-is"))
    by = {r["variant"]: r for r in rows}
    assert set(by) == {"real", "trained", "random"} and by["real"]["n_samples"] == 50
    for r in rows:
        assert r["metric"] == "is" and 1.0 <= r["value"] <= 10.0 and r["std"] >= 0 and r["splits"] == 10
        assert r["num_classes"] == 10 and r["logits_sha256"] == hashlib.sha256(fc.read_bytes()).hexdigest()
    # A published file in the hub cache is found, and checked against the hash in its name.
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    hub.mkdir(parents=True)
    published = _fc(hub / "pt_inception-2015-12-05-6726825d.pth", 10, 12)
    with pytest.raises(OptionError, match="6726825d"):
        build_probe("is", **tiny(tiny_extractor, n_samples=100)).run(probe_ctx(tmp_path, data, model, "digits-is"))
    prefix = hashlib.sha256(published.read_bytes()).hexdigest()[:8]
    monkeypatch.setitem(inception.PUBLISHED_FILES, published.name, prefix)
    found = build_probe("is", **tiny(tiny_extractor, n_samples=100)).run(probe_ctx(tmp_path, data, model, "digits-is"))
    assert [r["value"] for r in found] == pytest.approx([r["value"] for r in rows])


# -- devices, generators -----------------------------------------------------------------------------
class _ConditionalGAN(TinyGAN):
    """Uses ``eval_generator()`` and labels: every pixel is label - 1."""

    num_classes = 3

    def eval_generator(self) -> torch.nn.Module:
        class _G(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(()))

            def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                return (y.float() - 1).view(-1, 1, 1, 1).expand(-1, 3, SIZE, SIZE) + self.w

        return _G()


def test_generated_batches_use_eval_generator_labels_and_device() -> None:
    from gansuite_probes.quality import generated_batches

    model = _ConditionalGAN(TinyConfig(), SIZE, 3)
    batches = list(generated_batches(model, 10, 0, 4, torch.device("cpu")))
    assert [b.shape[0] for b in batches] == [4, 4, 2] and all(b.dtype == torch.uint8 for b in batches)
    assert torch.cat(batches)[:, 0, 0, 0].tolist() == [0, 128, 255] * 3 + [0]  # class-balanced labels
    again = torch.cat(list(generated_batches(model, 10, 0, 5, torch.device("cpu"))))
    assert torch.equal(again, torch.cat(batches))  # same seed, same images, whatever the batch size


def test_generated_features_are_reused_until_the_weights_change(tiny_extractor: Path, tmp_path: Path) -> None:
    from gansuite_probes.inception import InceptionFeatures
    from gansuite_probes.quality import generated_features

    net = InceptionFeatures(tiny_extractor, input_size=32)
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    ctx = probe_ctx(tmp_path, _data(10, 1), model, "digits-kid")
    first = generated_features(net, model, 20, ctx, 8, "g")
    again = generated_features(net, model, 20, ctx, 16, "g")  # batch size does not matter
    assert again.data_ptr() == first.data_ptr()  # served from memory, not recomputed
    assert generated_features(net, model, 10, ctx, 8, "g").data_ptr() == first.data_ptr()  # the first 10 rows
    with torch.no_grad():
        model.generator.up2.bias.add_(0.5)  # an optimiser step changes the weights in place
    changed = generated_features(net, model, 20, ctx, 8, "g")
    assert changed.data_ptr() != first.data_ptr() and not torch.allclose(changed, first)


def test_every_inception_probe_streams_generated_samples_through_the_extractor_once(
        tiny_extractor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """prdc (500 samples), kid (1,000), fid (2,048), then kid again, on one model: each generator's
    samples pass through the extractor once, however many probes and sample counts ask for them."""
    import gansuite_probes.quality as quality
    from gansuite_probes.quality import generated_features

    seen: dict[str, int] = {}
    real_embed = quality.embed

    def counting_embed(extractor: object, batches: object, n: int, **kw: object) -> torch.Tensor:
        seen[str(kw.get("desc"))] = seen.get(str(kw.get("desc")), 0) + n
        return real_embed(extractor, batches, n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(quality, "embed", counting_embed)
    monkeypatch.setattr(quality, "_MEMO", type(quality._MEMO)())  # nothing kept from earlier tests
    data = _data(2048, 2048)
    torch.manual_seed(7)  # the random control is built under another seed: another generator
    model = build_tiny(TinyConfig(), image_size=SIZE, channels=3)
    runs = [("prdc", "digits-prdc", {"n_samples": 500, "n_reference": 500}),
            ("kid", "digits-kid", {"n_samples": 1000, "subset_size": 500, "subsets": 5}),
            ("fid", "cifar10-fid", {"n_samples": 2048, "n_bootstrap": 0, "fid_inf_points": 0}),
            ("kid", "digits-kid", {"n_samples": 1000, "subset_size": 500, "subsets": 5})]
    rows = {}
    for name, eval_name, values in runs:
        rows[name] = build_probe(name, **tiny(tiny_extractor, **values)).run(
            probe_ctx(tmp_path, data, model, eval_name))
    assert seen == {"trained G": 2048, "random G": 2048}
    # the shared features are the ones each probe would compute alone (the first n samples)
    net = quality.extractor_for(build_probe("kid", **tiny(tiny_extractor)).config, torch.device("cpu"))
    alone = real_embed(net, quality.generated_batches(model, 1000, 1, 512, torch.device("cpu")), 1000)
    ctx = probe_ctx(tmp_path, data, model, "digits-kid")
    assert torch.allclose(generated_features(net, model, 1000, ctx, 512, "g"), alone, atol=1e-6)
    assert {r["variant"] for r in rows["fid"]} == {"real", "trained", "random"}
    # the control: other weights are another generator, embedded afresh
    with torch.no_grad():
        model.generator.up2.bias.add_(0.5)
    build_probe("kid", **tiny(tiny_extractor, **runs[1][2])).run(probe_ctx(tmp_path, data, model, "digits-kid"))
    assert seen == {"trained G": 3048, "random G": 2048}


def test_inception_runs_in_full_float32_on_cuda() -> None:
    from gansuite_probes.inception import full_fp32

    conv = torch.backends.cudnn.conv
    before = conv.fp32_precision
    with full_fp32(torch.device("cpu")):
        assert conv.fp32_precision == before
    with full_fp32(torch.device("cuda")):  # only flips a flag: runs without a GPU
        assert conv.fp32_precision == "ieee"
    assert conv.fp32_precision == before


def test_embed_follows_the_extractor_device(tiny_extractor: Path) -> None:
    from gansuite_probes.inception import InceptionFeatures, embed

    net = InceptionFeatures(tiny_extractor, input_size=32).to(torch.device("cpu"))
    images = _data(10, 1)["train"].images
    feats = embed(net, iter([images[:6], images[6:]]), 10)
    assert feats.device == net.device and feats.dtype == torch.float32 and feats.shape == (10, 12)
    assert torch.allclose(feats, net(images))
    with pytest.raises(ValueError, match="expected 11"):
        embed(net, iter([images]), 11)


# -- the bundled network and the published ports -----------------------------------------------------
def test_bundled_inception_loads_offline_and_is_hashed() -> None:
    from gansuite_probes.inception import InceptionFeatures, bundled_weights

    path = bundled_weights()
    net = InceptionFeatures()
    feats = net(torch.randint(0, 256, (2, 1, SIZE, SIZE), dtype=torch.uint8))  # gray, resized to 299
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all() and (feats >= 0).all()
    with pytest.raises(OptionError, match="299"):
        InceptionFeatures(input_size=75)
    with pytest.raises(CorruptDataError, match="not a TorchScript"):
        InceptionFeatures(Path(__file__), input_size=32)
    info = net.describe()
    assert info["extractor_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "default_1.pt" in info["extractor"] and info["num_features"] == 2048
    # The graph ends at pool3: no 1008-way classifier among its parameters.
    assert not any(p.shape[0] == 1008 for p in net.net.parameters())


def test_compare_weights_matches_kernels_by_value(tiny_extractor: Path, tmp_path: Path) -> None:
    from gansuite_probes.inception import InceptionFeatures, compare_weights

    kernel = InceptionFeatures(tiny_extractor, input_size=32).net.conv.weight.detach()
    same = tmp_path / "same.pth"
    torch.save({"Mixed.conv.weight": kernel.clone(), "other.conv.weight": torch.zeros(3, 3, 1, 1)}, str(same))
    report = compare_weights(same, bundled=tiny_extractor)
    assert (report["conv_kernels"], report["matched"], report["max_abs_diff"]) == (1, 1, 0.0)
    assert report["unmatched_reference_kernels"] == 1
    off = tmp_path / "off.pth"
    torch.save({"conv.weight": kernel + 0.5}, str(off))
    assert compare_weights(off, bundled=tiny_extractor)["max_abs_diff"] == pytest.approx(0.5)


def _published() -> list[Path]:
    from gansuite_probes.inception import find_published_weights

    return find_published_weights()


PUBLISHED = _published()  # looked up before the fixtures redirect HOME / TORCH_HOME


@pytest.mark.skipif(not PUBLISHED, reason="no pytorch-fid / torch-fidelity Inception weights in the torch hub "
                    "cache on this machine (docs/fid.md: how to check)")
def test_bundled_network_has_the_published_weights() -> None:
    from gansuite_probes.inception import compare_weights

    for path in PUBLISHED:
        report = compare_weights(path)
        assert report["matched"] == report["conv_kernels"] == 94, report
        assert report["max_abs_diff"] < 1e-6, report


def _reference_features() -> object:
    """uint8 299x299 images -> pool3 features of torch-fidelity or pytorch-fid, if importable with cached weights."""
    by_name = {p.name: p for p in PUBLISHED}
    path = by_name.get("weights-inception-2015-12-05-6726825d.pth") or next(iter(by_name.values()), None)
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        pass
    else:
        if path is not None:  # torch-fidelity reads any copy of the same file (it applies (x - 128) / 128)
            net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
            return lambda u8: net(u8)[0].double()
    if "pt_inception-2015-12-05-6726825d.pth" not in by_name:
        return None  # pytorch-fid would try to download its own copy
    try:
        from pytorch_fid.inception import InceptionV3
    except ImportError:
        return None
    net = InceptionV3([3], resize_input=False, normalize_input=False).eval()
    return lambda u8: net((u8.float() - 128) / 128)[0].flatten(1).double()


@pytest.mark.skipif(not PUBLISHED or _reference_features() is None,
                    reason="needs the published Inception weights in the torch hub cache and torch-fidelity "
                           "or pytorch-fid installed (docs/fid.md: how to check)")
def test_bundled_features_and_fid_match_the_published_port() -> None:
    from gansuite_probes.distances import frechet_distance, moments
    from gansuite_probes.inception import InceptionFeatures

    ours = InceptionFeatures()
    theirs = _reference_features()
    assert callable(theirs)
    images = torch.randint(0, 256, (64, 3, 299, 299), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = theirs(images)  # 299x299 already: no resize on either side, the same (x - 128) / 128
    mine = ours(images).double()
    assert torch.allclose(mine, ref, rtol=1e-3, atol=1e-3)
    half = 32
    fid_ours = frechet_distance(*moments(mine[:half]), *moments(mine[half:]))
    fid_theirs = frechet_distance(*moments(ref[:half]), *moments(ref[half:]))
    assert fid_ours == pytest.approx(fid_theirs, rel=1e-3)

