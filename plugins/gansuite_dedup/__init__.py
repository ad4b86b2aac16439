"""The reference dedup strategies: exact, phash and the paper's ae-hash.

Import-cheap: specs and torch-free config dataclasses only; factories are imported on use.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite import DedupSpec, hookimpl
from gansuite_dedup.config import AEHashConfig, PHashConfig

__all__ = ["register_dedup", "SPECS"]

SPECS: tuple[DedupSpec, ...] = (
    DedupSpec(
        name="exact",
        summary="Pixel-identical images (128-bit hash of the decoded pixels).",
        factory="gansuite_dedup.simple:exact",
        config=None,
        tags=("baseline",),
    ),
    DedupSpec(
        name="phash",
        summary="DCT perceptual hash (64 bits by default); equal hashes are duplicates.",
        factory="gansuite_dedup.simple:phash",
        config=PHashConfig,
        paper="Zauner (2010), Implementation and Benchmarking of Perceptual Image Hash Functions",
        tags=("baseline",),
    ),
    DedupSpec(
        name="ae-hash",
        summary="The DCGAN paper's semantic hash: a 3072-128-3072 denoising ReLU autoencoder, "
        "code binarised at the ReLU threshold.",
        factory="gansuite_dedup.aehash:ae_hash",
        config=AEHashConfig,
        paper="Radford, Metz, Chintala (2015), arXiv:1511.06434, section 4.1.1",
        tags=("paper",),
        notes=("Trained on the dataset itself; weights cached by a fingerprint of the pixels.",),
    ),
)


@hookimpl
def register_dedup(register: Callable[[DedupSpec], None]) -> None:
    """Register every reference dedup strategy."""
    for spec in SPECS:
        register(spec)
