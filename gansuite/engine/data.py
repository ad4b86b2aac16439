"""Preparing a run's training data: load the split, verify it, deduplicate it.

The dataset plugins do the reading; this module applies the run's policy (checksums,
``--allow-unverified``, ``--dedup``) and records what it did for ``config.json`` and every
results row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import IntegrityError
from gansuite.contract.files import default_cache_dir, default_data_root
from gansuite.contract.protocols import ImageData, Verification

if TYPE_CHECKING:
    from gansuite.contract.specs import DatasetSpec, DedupSpec

__all__ = [
    "TrainingData",
    "prepare_training_data",
    "build_dataset",
    "check_integrity",
    "apply_dedup",
    "default_cache_dir",
    "default_data_root",
]


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
            "dedup_strategy": (self.dedup or {}).get("strategy"),
            "dedup_removed": (self.dedup or {}).get("removed_count", 0),
            "n_train": len(self.data),
        }


def build_dataset(spec: DatasetSpec, config: Any, root: Path) -> Any:
    """The dataset object of ``spec`` (an :class:`gansuite.contract.protocols.ImageDataset`)."""
    from gansuite.engine.build import plugin_call

    return plugin_call(spec, "to open its data", spec.load_factory(), config, root=root)


def check_integrity(name: str, verification: Verification, *, allow_unverified: bool) -> None:
    """Raise :class:`IntegrityError` on a checksum mismatch the user has not accepted."""
    if verification.verified is not False or allow_unverified:
        return
    files = ", ".join(verification.mismatched) or "some files"
    raise IntegrityError(
        f"Dataset '{name}': {files} differ from the checksums its plugin lists for them. Pass --allow-unverified "
        "to use them anyway (results then record data_verified: false and these files)."
    )


def apply_dedup(
    strategy: Any, name: str, data: ImageData, *, cache_dir: Path | None = None, spec: DedupSpec | None = None
) -> tuple[ImageData, dict[str, Any]]:
    """Keep the first image of each duplicate group; returns the kept data and a record. With
    ``spec``, the groups pass the host's check first (:func:`gansuite.engine.checks.check_groups`)."""
    import torch

    start = time.perf_counter()
    groups = strategy.find_groups(data.images, cache_dir=cache_dir)
    if spec is not None:
        from gansuite.engine.checks import check_groups

        groups = check_groups(spec, groups, len(data))
    removed = sorted(i for group in groups for i in sorted(group)[1:])
    keep = torch.ones(len(data), dtype=torch.bool)
    if removed:
        keep[torch.tensor(removed, dtype=torch.long)] = False
    kept = ImageData(
        images=data.images[keep],
        labels=data.labels[keep] if data.labels is not None else None,
        classes=data.classes,
        meta={**data.meta, "dedup": name},
    )
    record = {
        "strategy": name,
        "n": len(data),
        "groups": len(groups),
        "removed_count": len(removed),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return kept, record


def prepare_training_data(spec: DatasetSpec, config: Any, *, root: Path, image_size: int | None,
                          allow_unverified: bool, dedup: DedupSpec | None = None,
                          dedup_config: Any = None) -> TrainingData:
    """Load ``spec``'s training split at ``image_size``, verified and deduplicated."""
    from gansuite.engine.build import plugin_call
    from gansuite.engine.checks import check_split

    dataset = build_dataset(spec, config, root)
    verification = plugin_call(spec, "to verify its files", dataset.verify)
    check_integrity(spec.name, verification, allow_unverified=allow_unverified)
    data = plugin_call(spec, f"to load split '{spec.train_split}'", dataset.load, spec.train_split,
                       image_size=image_size)
    check_split(spec, spec.train_split, data, image_size=image_size)
    record = None
    if dedup is not None:
        strategy = plugin_call(dedup, "to build", dedup.load_factory(), dedup_config)
        data, record = plugin_call(dedup, "to deduplicate the data", apply_dedup, strategy, dedup.name, data,
                                   cache_dir=default_cache_dir(), spec=dedup)
    return TrainingData(data=data, verification=verification, dedup=record)
