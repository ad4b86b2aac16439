"""Preparing a run's training data: load the split, verify it, deduplicate it.

The dataset plugins do the reading; this module applies the run's policy (checksums,
``--allow-unverified``, ``--dedup``) and records what it did for ``config.json`` and every
results row.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.plugin.errors import IntegrityError
from gansuite.plugin.outputs import check_labels
from gansuite.plugin.protocols import ImageData, Verification

if TYPE_CHECKING:
    from gansuite.plugin.specs import DatasetSpec, DedupSpec

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


def _user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/gansuite/NAME`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gansuite" / name


def default_cache_dir() -> Path:
    """Where trained dedup models and reference statistics are cached: ``$GANSUITE_CACHE`` or
    the user cache folder."""
    env = os.environ.get("GANSUITE_CACHE")
    return Path(env).expanduser() if env else _user_cache("cache")


def default_data_root(explicit: Path | None = None) -> Path:
    """``--data-root``, else ``$GANSUITE_DATA``, else the user cache folder."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get("GANSUITE_DATA")
    return Path(env).expanduser() if env else _user_cache("data")


def build_dataset(spec: DatasetSpec, config: Any, root: Path) -> Any:
    """The dataset object of ``spec`` (an :class:`gansuite.plugin.protocols.ImageDataset`)."""
    from gansuite.engine.build import plugin_call

    return plugin_call(spec, "to open its data", spec.load_factory(), config, root=root)


def check_integrity(name: str, verification: Verification, *, allow_unverified: bool) -> None:
    """Raise :class:`IntegrityError` on a checksum mismatch the user has not accepted."""
    if verification.verified is not False or allow_unverified:
        return
    files = ", ".join(verification.mismatched) or "some files"
    raise IntegrityError(
        f"Dataset '{name}': {files} differ from the official checksums. Pass --allow-unverified "
        "to use them anyway (results then record data_verified: false and these files)."
    )


def apply_dedup(
    strategy: Any, name: str, data: ImageData, *, cache_dir: Path | None = None
) -> tuple[ImageData, dict[str, Any]]:
    """Keep the first image of each duplicate group; returns the kept data and a record."""
    import torch

    start = time.perf_counter()
    groups = strategy.find_groups(data.images, cache_dir=cache_dir)
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

    dataset = build_dataset(spec, config, root)
    verification = plugin_call(spec, "to verify its files", dataset.verify)
    check_integrity(spec.name, verification, allow_unverified=allow_unverified)
    data = plugin_call(spec, f"to load split '{spec.train_split}'", dataset.load, spec.train_split,
                       image_size=image_size)
    check_labels(data, f"Dataset '{spec.name}' split '{spec.train_split}'")
    record = None
    if dedup is not None:
        strategy = plugin_call(dedup, "to build", dedup.load_factory(), dedup_config)
        data, record = plugin_call(dedup, "to deduplicate the data", apply_dedup, strategy, dedup.name, data,
                                   cache_dir=default_cache_dir())
    return TrainingData(data=data, verification=verification, dedup=record)
