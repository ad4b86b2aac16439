"""What a model, dataset, dedup strategy and probe must provide.

These are structural (``typing.Protocol``): a plugin needs no base class. torch types are
imported only for type checking, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import nn

    from gansuite.plugin.specs import EvalSpec

__all__ = [
    "TrainingRecipe",
    "GANModel",
    "ImageData",
    "Verification",
    "ImageDataset",
    "DedupStrategy",
    "ProbeContext",
    "Probe",
]


@dataclass(frozen=True)
class TrainingRecipe:
    """The optimisation recipe a model brings with it (the trainer follows it)."""

    batch_size: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    d_steps: int = 1
    g_steps: int = 1


@runtime_checkable
class GANModel(Protocol):
    """A generator/discriminator pair and its recipe.

    - ``generator(z)`` maps ``(N, z_dim)`` to images in ``[-1, 1]``, shape ``(N, C, H, W)``.
    - ``discriminator(x)`` maps images to logits of shape ``(N,)``.
    - ``features(x)`` returns the activations of every conv layer of the discriminator, in
      order (used by probes; call with the discriminator in eval mode).
    - Optional: ``describe() -> dict`` of JSON-able facts about the built networks (resolved
      widths, layer channels, ...), which ``config.json`` records under ``architecture`` next
      to both networks' parameter counts.
    """

    generator: nn.Module
    discriminator: nn.Module
    z_dim: int
    image_size: int
    channels: int
    recipe: TrainingRecipe

    def sample_z(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = None
    ) -> torch.Tensor:
        """Draw ``n`` latent vectors from the model's prior."""
        ...

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every conv layer's activations of the discriminator for images ``x`` in [-1, 1]."""
        ...

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss for one step."""
        ...

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The generator's loss for one step."""
        ...

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """Fresh (G, D) optimisers following the recipe."""
        ...


@dataclass
class ImageData:
    """A split held in memory: ``images`` uint8 ``(N, C, H, W)``; ``labels`` int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    classes: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class Verification:
    """Checksum status of a dataset's files.

    ``verified`` is True (all match), False (some differ: ``mismatched`` names them) or None
    (no official checksums known).
    """

    verified: bool | None
    checked: Sequence[str] = ()
    mismatched: Sequence[str] = ()
    detail: str = ""


@runtime_checkable
class ImageDataset(Protocol):
    """A dataset on disk. Loading raises :class:`gansuite.plugin.errors.DataError` subclasses."""

    splits: tuple[str, ...]

    def load(self, split: str, *, image_size: int | None = None) -> ImageData:
        """Read one split into memory (uint8), resized/cropped to ``image_size`` if given."""
        ...

    def verify(self) -> Verification:
        """Check the files against official checksums where they are known."""
        ...

    def info(self) -> Mapping[str, Any]:
        """Source, licence, expected files and anything else ``gansuite data info`` shows."""
        ...


@runtime_checkable
class DedupStrategy(Protocol):
    """Finds groups of (near-)duplicates among images."""

    def find_groups(self, images: torch.Tensor, *, cache_dir: Path | None = None) -> list[list[int]]:
        """Groups of indices (each of size >= 2, sorted) into ``images`` (uint8 ``NCHW``)."""
        ...


@dataclass
class ProbeContext:
    """Everything a probe may use. Built by the host for each eval."""

    model: GANModel
    make_random_model: Callable[[int], GANModel]
    eval: EvalSpec
    load_split: Callable[[str], ImageData]
    device: Any
    out_dir: Path
    seed: int
    progress: bool = True


@runtime_checkable
class Probe(Protocol):
    """An evaluation: returns result rows ``{"metric": str, "value": float, ...}``.

    The host adds ``eval``, ``run``, the model, dataset and provenance to every row.
    """

    def run(self, ctx: ProbeContext) -> list[dict[str, Any]]:
        """Evaluate ``ctx.model`` and return result rows."""
        ...
