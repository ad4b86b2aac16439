"""The engine's own typed configuration: what one training run needs, and nothing of the CLI.

``gansuite.runs`` maps a user's request onto a :class:`TrainConfig`; the engine reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["TrainConfig", "PRECISIONS", "DEFAULT_MAX_LOSS"]

PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_MAX_LOSS = 1e6
"""The divergence bound: a logged loss whose magnitude exceeds it stops the run. A GAN loss of a
healthy run stays within tens (WGAN critics within thousands); 1e6 means the weights have blown up."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    ``model_name``/``model_config`` identify the model in checkpoints (a resume or an eval
    refuses a checkpoint of another model); ``origin`` names the model and its plugin in error
    messages. Limits: ``max_steps`` is the final step number, ``epochs`` passes over the data,
    ``time_budget`` training seconds summed over every invocation; the first reached wins.
    ``precision``: ``auto`` = bf16 autocast on CUDA and fp32 elsewhere, ``fp32`` = never autocast,
    ``bf16`` = autocast on CUDA (CPUs run fp32: bf16 convolutions are far slower there).
    Divergence: a logged value that is NaN or Inf, a logged ``loss*`` value whose magnitude
    exceeds ``max_loss`` (``inf``: no bound), or a parameter or buffer of G or D that is not
    finite stops the run with a :class:`~gansuite.contract.errors.DivergenceError` naming the
    step; no such weights are ever written into a checkpoint. ``stop_after``: stop once this
    step number is reached, as a Ctrl-C would (checkpoint, ``stopped_because: interrupted``),
    while the limits, and so ``ctx.total_steps``, stay those of the whole run: how the
    conformance kit cuts a run to check that resuming it ends bit-identical.
    """

    model_name: str
    model_config: dict[str, Any] = field(default_factory=dict)
    origin: str = ""
    title: str = ""
    seed: int = 0
    device: str = "auto"
    batch_size: int = 128
    max_steps: int | None = None
    epochs: float | None = None
    time_budget: float | None = None
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10
    compile: bool = False
    progress: bool = True
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    resuming: bool = False
    max_loss: float = DEFAULT_MAX_LOSS
    stop_after: int | None = None

    def autocast_enabled(self, device_type: str) -> bool:
        """Whether steps run under bf16 autocast on a device of this type."""
        return device_type == "cuda" and self.precision != "fp32"
