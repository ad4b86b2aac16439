"""What a dataset, dedup strategy and probe must provide, and what probes receive.

These are structural (``typing.Protocol``): such a plugin needs no base class. Models subclass
:class:`gansuite.contract.model.GANModel` (re-exported here). torch types are imported only for
type checking, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gansuite.contract.model import GANModel, TrainingRecipe

if TYPE_CHECKING:
    import torch

    from gansuite.contract.specs import EvalSpec

__all__ = [
    "TrainingRecipe",
    "GANModel",
    "ImageData",
    "Verification",
    "ImageDataset",
    "DedupStrategy",
    "ProbeContext",
    "Probe",
    "ModelCheck",
]


@dataclass
class ImageData:
    """A split held in memory: ``images`` uint8 ``(N, C, H, W)``; ``labels`` int64 ``(N,)`` or
    None; ``classes`` the class names in label order (label ``k`` is ``classes[k]``; empty when
    unknown); ``meta`` anything worth recording about how the split was read."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    classes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class Verification:
    """Checksum status of a dataset's files.

    ``verified`` is True (all match the checksums the plugin lists), False (some differ:
    ``mismatched`` names them) or None (the plugin knows no checksums for these files).
    """

    verified: bool | None
    checked: Sequence[str] = ()
    mismatched: Sequence[str] = ()
    detail: str = ""


@runtime_checkable
class ImageDataset(Protocol):
    """A dataset on disk. Loading raises :class:`gansuite.DataError` subclasses.

    ``splits``: the split names :meth:`load` accepts (required; it holds the spec's
    ``train_split``).
    """

    splits: tuple[str, ...]

    def load(self, split: str, *, image_size: int | None = None) -> ImageData:
        """Read one split into memory (uint8), resized/cropped to ``image_size`` if given."""
        ...

    def verify(self) -> Verification:
        """Check the files against the checksums the plugin lists for them, where it has some."""
        ...

    def info(self) -> Mapping[str, Any]:
        """Source, licence, location, expected files and anything else: ``gansuite data info``
        prints every key."""
        ...


@runtime_checkable
class DedupStrategy(Protocol):
    """Finds groups of (near-)duplicates among images."""

    def find_groups(self, images: torch.Tensor, *, cache_dir: Path | None = None) -> list[list[int]]:
        """Groups of indices (each of size >= 2, sorted) into ``images`` (uint8 ``NCHW``)."""
        ...


@dataclass
class ProbeContext:
    """Everything a probe may use. Built by the host for each eval.

    ``model`` is the trained model in eval mode (generate with ``model.generate(z, y)``, which
    uses ``model.eval_generator()``, and draw labels with ``model.sample_labels``);
    ``make_random_model(seed)`` builds the same architecture freshly initialised, with BatchNorm
    running statistics recomputed on its own inputs (G on its latents, D on real training images)
    and one output gain on G's last weight layer that gives its samples the real images'
    per-pixel spread (``output_gain`` on the model), so it is a real baseline rather than a
    constant or low-contrast image (the random control);
    ``make_early_model()`` loads the same run's early checkpoint (a few percent of its steps; None
    when the run kept none); ``make_data_fit_model(seed)`` builds a generator on the model's prior
    with the training images' pixel mean and low-rank covariance and no other structure (it has
    ``z_dim``, ``sample_z``, ``generate``, ``eval_generator``, ``num_classes = 0``, no
    discriminator; None when the host has no training images to fit);
    ``load_split(name)`` loads one of the eval's dataset splits at the model's size and channels.
    """

    model: GANModel
    make_random_model: Callable[[int], GANModel]
    eval: EvalSpec
    load_split: Callable[[str], ImageData]
    device: Any
    out_dir: Path
    seed: int
    progress: bool = True
    make_early_model: Callable[[], GANModel | None] = field(default=lambda: None)
    make_data_fit_model: Callable[[int], Any] = field(default=lambda seed: None)


@runtime_checkable
class Probe(Protocol):
    """An evaluation: returns result rows ``{"metric": str, "value": float, ...}``.

    The host adds ``eval``, ``run``, the model, dataset and provenance to every row. Optional
    methods are in :class:`ModelCheck`.
    """

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        """Evaluate ``ctx.model`` and return result rows."""
        ...


@runtime_checkable
class ModelCheck(Protocol):
    """The optional part of a :class:`Probe`: a probe that cannot evaluate some models (the
    ``cas`` probe needs a conditional one) defines ``check_model``.

    The host calls it before training (``gansuite run``) and before each eval, so a run that
    would end in that error stops before spending anything; the conformance kit calls it too.
    """

    def check_model(self, model: GANModel) -> None:
        """Raise :class:`gansuite.OptionError` (saying what to choose instead) when ``model``
        cannot be evaluated by this probe; return None otherwise."""
        ...
