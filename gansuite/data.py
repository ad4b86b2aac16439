"""Preparing a run's training data: load the split, verify it, deduplicate it.

The dataset plugins do the reading; this module applies the run's policy (checksums,
``--allow-unverified``, ``--dedup``) and records what it did for ``config.json`` and every
results row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gansuite.protocols import ImageData, Verification

if TYPE_CHECKING:
    from gansuite.runner import RunPlan

__all__ = ["TrainingData", "prepare_training_data", "build_dataset"]


@dataclass
class TrainingData:
    """The images a run trains on, and what was done to get them."""

    data: ImageData
    verification: Verification
    dedup: dict[str, Any] | None = None

    def provenance(self) -> dict[str, Any]:
        """Fields recorded in config.json and copied into every results row."""
        return {
            "data_verified": self.verification.verified,
            "unverified_files": list(self.verification.mismatched),
            "dedup_removed": (self.dedup or {}).get("removed_count", 0),
            "n_train": len(self.data),
        }


def build_dataset(plan: RunPlan) -> Any:
    """The dataset object of ``plan`` (an :class:`gansuite.protocols.ImageDataset`)."""
    factory = plan.dataset.load_factory()
    return factory(plan.dataset_config, root=plan.data_root)


def prepare_training_data(plan: RunPlan) -> TrainingData:
    """Load ``plan``'s training split at the plan's image size."""
    dataset = build_dataset(plan)
    verification = dataset.verify()
    data = dataset.load(plan.dataset.train_split, image_size=plan.image_size)
    return TrainingData(data=data, verification=verification)
