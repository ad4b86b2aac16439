"""One training iteration: the :class:`~gansuite.contract.model.TrainContext` the engine builds
and the call into the model's own ``train_step``; the unit the engine repeats and the
benchmarks time.

Real images are held as uint8 on the training device and normalised per batch to [-1, 1],
channels_last. Latents and conditional labels come from one generator reseeded per step (by
the engine: seed, step, rank), so a resumed run draws the same ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from gansuite._compat import adapt_model
from gansuite.contract.model import Batch, GANModel, frozen
from gansuite.engine.device import autocast

if TYPE_CHECKING:
    import torch

__all__ = ["GANStep", "StepContext", "Batch", "normalize_batch"]


def normalize_batch(images: torch.Tensor, idx: torch.Tensor, device: Any) -> torch.Tensor:
    """uint8 images at ``idx`` -> float in [-1, 1] (x / 127.5 - 1), channels_last, on ``device``."""
    import torch

    x = images.index_select(0, idx.to(images.device))
    x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return x.float().div_(127.5).sub_(1.0)


class StepContext:
    """The engine's :class:`~gansuite.contract.model.TrainContext` for one step."""

    def __init__(self, step: GANStep, index: int, total: int | None, z_gen: Any,
                 next_batch: Callable[[], Batch] | None) -> None:
        self._s, self._z_gen, self._next = step, z_gen, next_batch
        self.step, self.total_steps, self.device = index, total, step.device
        self.generator, self.discriminator = step.g_net, step.d_net
        self.opt_g, self.opt_d = step.opt_g, step.opt_d

    def next_batch(self) -> Batch:
        if self._next is None:
            raise RuntimeError("this step was given no data source for next_batch()")
        return self._next()

    def z(self, n: int) -> torch.Tensor:
        return self._s.model.sample_z(n, generator=self._z_gen, device=self.device)

    def labels(self, n: int) -> torch.Tensor | None:
        return self._s.model.sample_labels(n, generator=self._z_gen, device=self.device)

    @contextmanager
    def frozen_discriminator(self) -> Iterator[Any]:
        with frozen(self._s.model.discriminator):
            yield self._s.d_plain

    def autocast(self) -> Any:
        return autocast(self.device, self._s.amp)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()


class GANStep:
    """Calls ``model.train_step`` with the networks as the engine wraps them.

    ``g_net``/``d_net`` are what the step calls for G and D updates (DDP or compiled wrappers;
    default: the model's own modules); ``d_plain`` is the unwrapped (possibly compiled) D that
    G updates call with D frozen. ``amp``: bf16 autocast on CUDA (never on CPU), unless the
    model opts out (``uses_autocast = False``).
    """

    def __init__(self, model: Any, opt_g: Any, opt_d: Any, *, device: Any, g_net: Any = None,
                 d_net: Any = None, d_plain: Any = None, amp: bool = True) -> None:
        self.model: GANModel = adapt_model(model)
        self.opt_g, self.opt_d, self.device = opt_g, opt_d, device
        self.amp = bool(amp and self.model.uses_autocast)
        self.g_net = self.model.generator if g_net is None else g_net
        self.d_net = self.model.discriminator if d_net is None else d_net
        self.d_plain = self.model.discriminator if d_plain is None else d_plain

    def __call__(self, real: torch.Tensor | Batch, z_gen: Any, *, step: int = 0, total: int | None = None,
                 next_batch: Callable[[], Batch] | None = None) -> Mapping[str, Any]:
        """One iteration on ``real`` (normalised images or a :class:`Batch`); returns the
        model's scalars."""
        batch = real if isinstance(real, Batch) else Batch(real)
        return self.model.train_step(batch, StepContext(self, step, total, z_gen, next_batch))
