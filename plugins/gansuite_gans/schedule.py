"""Learning-rate schedules shared by the GAN families.

``linear``: the rate of step ``s`` (0-based) of a run of ``T`` steps is ``lr * (1 - s / T)``,
falling to ``lr / T`` at the last step, as in the WGAN-GP ResNet and SN-GAN projection code
(decay from step 0). It is a pure function of the step, so a resumed run sets the same rates;
the scheduler still records its counter in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LinearDecay", "decay_factor"]


def decay_factor(step: int, total: int) -> float:
    """``1 - step / total``, clipped to [0, 1]."""
    return min(1.0, max(0.0, 1.0 - step / total))


class LinearDecay:
    """Sets every param group's ``lr`` to its base rate times :func:`decay_factor` each step."""

    def __init__(self, base_lrs: Iterable[float]) -> None:
        self.base_lrs = [float(x) for x in base_lrs]
        self.last_step = -1
        self.factor = 1.0

    def set_step(self, step: int, total: int, optimizers: Iterable[Any]) -> float:
        """Set the rates of ``optimizers`` (in the order of ``base_lrs``) for step ``step`` of
        ``total``; returns the factor applied."""
        self.factor = decay_factor(step, total)
        for opt, base in zip(optimizers, self.base_lrs, strict=True):
            for group in opt.param_groups:
                group["lr"] = base * self.factor
        self.last_step = step
        return self.factor

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "factor": self.factor, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.last_step = int(state["last_step"])
        self.factor = float(state["factor"])
        self.base_lrs = [float(x) for x in state["base_lrs"]]
