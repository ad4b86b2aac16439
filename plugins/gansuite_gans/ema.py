"""An exponential moving average of a generator's weights (Yazici et al. 2019; Karras et al.).

After every G update ``ema = decay * ema + (1 - decay) * weights`` for each floating-point
parameter; buffers (BatchNorm running statistics) are copied as they are. The copy is what
probes and sample grids use when a model turns it on; its state dict travels in the checkpoint.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """The averaged copy of ``module`` (kept in eval mode, no gradients)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average toward ``module``'s current weights; copy its buffers."""
        for e, p in zip(self.module.parameters(), module.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - self.decay)
        for eb, b in zip(self.module.buffers(), module.buffers(), strict=True):
            eb.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"weights": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
