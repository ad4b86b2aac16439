"""Drawing images from a model the way every probe does: batched, in eval mode, class-balanced.

``generate_images(model, z)`` is what a probe (or any script holding a trained model, see
``gansuite.load_run``) calls for samples; torch is imported when it is called, not before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from gansuite.contract.model import GANModel

__all__ = ["generate_images", "balanced_labels", "eval_mode"]


@contextlib.contextmanager
def eval_mode(*modules: Any) -> Iterator[None]:
    """Put modules in eval mode (BatchNorm uses running statistics); restore their mode after."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, flag in zip(modules, was, strict=True):
            m.train(flag)


def balanced_labels(model: GANModel | Any, n: int, device: Any = None) -> torch.Tensor | None:
    """Class labels ``0, 1, ..., K-1, 0, 1, ...`` for ``n`` samples of a class-conditional model
    (every class equally often, up to one; no randomness), None for an unconditional one."""
    if not model.num_classes:
        return None
    import torch

    return torch.arange(n, device=device) % model.num_classes


def generate_images(model: GANModel | Any, z: torch.Tensor, batch_size: int = 256,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images from ``z`` through the model's ``eval_generator()`` in eval mode and without
    gradients, ``batch_size`` at a time: float32 in ``[-1, 1]`` on z's device. A conditional
    model gets ``labels``, by default :func:`balanced_labels`. Buffers are left as they were."""
    import torch

    y = labels if labels is not None else balanced_labels(model, z.shape[0], z.device)
    out = []
    with torch.no_grad(), eval_mode(model.eval_generator()):
        for i in range(0, z.shape[0], batch_size):
            yi = None if y is None else y[i : i + batch_size]
            out.append(model.generate(z[i : i + batch_size], yi).float())
    return torch.cat(out) if out else torch.empty(0)
