"""The model contract: :class:`GANModel`, the base class a model plugin subclasses.

A model owns its training step. The engine hands :meth:`GANModel.train_step` one real
:class:`Batch` and a :class:`TrainContext` (the networks as the engine wraps them, both
optimisers, seeded latents, fresh batches, autocast) and logs the scalars it returns. Every
member has a default, so the base class can grow without breaking plugins: a DCGAN-style model
writes only its networks and losses; WGAN-GP overrides ``train_step``; a conditional model sets
``num_classes``; an EMA model overrides ``eval_generator`` and ``extra_state``.

Importing this module does not import torch (torch types are for type checkers only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["TrainingRecipe", "Batch", "TrainContext", "GANModel"]


@dataclass(frozen=True)
class TrainingRecipe:
    """The optimisation recipe a model brings with it.

    ``batch_size`` is the global batch of one step (``--batch-size`` overrides it); the default
    :meth:`GANModel.optimizers` builds Adam from the learning rates, betas and weight decay; the
    default :meth:`GANModel.train_step` takes ``d_steps`` D steps then ``g_steps`` G steps.
    """

    batch_size: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    d_steps: int = 1
    g_steps: int = 1


@dataclass
class Batch:
    """Real images for one step: ``images`` float in [-1, 1], ``(N, C, H, W)``, channels_last, on
    the training device; ``labels`` int64 ``(N,)`` on the same device, or None when the dataset
    has none."""

    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])


@runtime_checkable
class TrainContext(Protocol):
    """What the engine gives :meth:`GANModel.train_step` (one object per step).

    - ``step``: the index of this step (0-based; the step count after it is ``step + 1``);
      ``total_steps``: the run's step limit, None when only a time budget bounds it.
    - ``device``; ``generator``/``discriminator``: the networks as the engine wraps them (DDP,
      torch.compile) -- call these for the updates; ``opt_g``/``opt_d``: both optimisers.
    - ``next_batch()``: a fresh real :class:`Batch` (advances the data position, which the
      checkpoint records), e.g. one per critic step.
    - ``z(n)``: ``n`` latents from the model's prior, seeded by (seed, step, rank);
      ``labels(n)``: class labels for a conditional model from the same stream (None when
      ``num_classes`` is 0).
    - ``frozen_discriminator()``: a context manager yielding the unwrapped D with its
      parameters' ``requires_grad`` off, for G updates (no D weight gradients, no DDP all-reduce).
    - ``autocast()``: bf16 autocast on CUDA, a no-op on CPU or when the run or the model opts out.
    - ``backward(loss)``: the backward pass of ``loss``; call it instead of ``loss.backward()``,
      so the engine owns backward (gradient scaling or accumulation need no change to a model).
    """

    step: int
    total_steps: int | None
    device: Any
    generator: Any
    discriminator: Any
    opt_g: Any
    opt_d: Any

    def next_batch(self) -> Batch: ...

    def z(self, n: int) -> torch.Tensor: ...

    def labels(self, n: int) -> torch.Tensor | None: ...

    def frozen_discriminator(self) -> contextlib.AbstractContextManager[Any]: ...

    def autocast(self) -> contextlib.AbstractContextManager[None]: ...

    def backward(self, loss: torch.Tensor) -> None: ...


class GANModel:
    """A generator/discriminator pair, its recipe and its training step.

    Set in ``__init__`` (or as class attributes): ``generator`` (``z`` -- and ``y`` when
    conditional -- to images in [-1, 1], ``(N, C, H, W)``), ``discriminator`` (images -- and
    ``y`` -- to one score per image, ``(N,)``), ``z_dim``, ``image_size``, ``channels``,
    ``recipe``. Everything else has a default.
    """

    generator: nn.Module
    discriminator: nn.Module
    z_dim: int
    image_size: int
    channels: int
    recipe: TrainingRecipe = TrainingRecipe()
    num_classes: int = 0
    """0: unconditional. Otherwise G is called as ``generator(z, y)`` and D as
    ``discriminator(x, y)`` with int64 labels in ``[0, num_classes)``; the engine feeds the
    dataset's labels, and probes draw class-balanced labels."""
    uses_autocast: bool = True
    """False: the engine never runs this model's step under autocast (fp32 always)."""

    # -- sampling ---------------------------------------------------------------------------
    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device: Any = None) -> torch.Tensor:
        """``n`` latents from the prior (default: standard normal), shape ``(n, z_dim)``."""
        import torch

        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def sample_labels(self, n: int, *, generator: torch.Generator | None = None,
                      device: Any = None) -> torch.Tensor | None:
        """``n`` class labels, uniform over the classes (None for an unconditional model)."""
        if not self.num_classes:
            return None
        import torch

        return torch.randint(0, self.num_classes, (n,), generator=generator, device=device)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, *,
                 net: Any = None) -> torch.Tensor:
        """Images from ``z`` (and ``y``) through ``net`` (default: :meth:`eval_generator`)."""
        net = self.eval_generator() if net is None else net
        return net(z, y) if self.num_classes else net(z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None, *, net: Any = None) -> torch.Tensor:
        """D's scores for ``x`` (and ``y``) through ``net`` (default: ``discriminator``)."""
        net = self.discriminator if net is None else net
        return net(x, y) if self.num_classes else net(x)

    # -- training ---------------------------------------------------------------------------
    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """Fresh (G, D) optimisers: Adam from the recipe (fused kernel on CPU and CUDA)."""
        import torch

        r = self.recipe

        def adam(module: nn.Module, lr: float) -> torch.optim.Optimizer:
            params = [p for p in module.parameters() if p.requires_grad]
            fused = bool(params) and params[0].device.type in ("cpu", "cuda")
            return torch.optim.Adam(params, lr=lr, betas=r.betas, weight_decay=r.weight_decay, fused=fused)

        return adam(self.generator, r.lr_g), adam(self.discriminator, r.lr_d)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss in the default step (default: the non-saturating GAN's BCE on logits)."""
        import torch.nn.functional as F

        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """G's loss in the default step (default: non-saturating, ``-log sigmoid(D(G(z)))``)."""
        import torch.nn.functional as F

        return F.softplus(-fake_logits).mean()

    def step_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra scalars the default step logs from D's last outputs (default: none)."""
        return {}

    def train_step(self, batch: Batch, ctx: TrainContext) -> Mapping[str, torch.Tensor | float]:
        """One training iteration; returns the scalars ``metrics.jsonl`` logs for this step.

        Default: ``recipe.d_steps`` D steps on :meth:`d_loss` (each on ``batch``, fresh latents),
        then ``recipe.g_steps`` G steps on :meth:`g_loss` with D frozen; the G output of the last
        D step is reused by the first G step. Returns ``loss_d``, ``loss_g`` and
        :meth:`step_stats`. Return detached tensors (the engine syncs them in batches) or floats.
        """
        import torch

        n, d_steps, g_steps = len(batch), max(1, self.recipe.d_steps), max(1, self.recipe.g_steps)
        y = batch.labels if self.num_classes else None
        for i in range(d_steps):
            fake_y = ctx.labels(n)
            with torch.set_grad_enabled(i == d_steps - 1), ctx.autocast():
                fake = self.generate(ctx.z(n), fake_y, net=ctx.generator)
            with ctx.autocast():
                real_logits = self.discriminate(batch.images, y, net=ctx.discriminator)
                fake_logits = self.discriminate(fake.detach(), fake_y, net=ctx.discriminator)
                loss_d = self.d_loss(real_logits, fake_logits)
            ctx.opt_d.zero_grad(set_to_none=True)
            ctx.backward(loss_d)
            ctx.opt_d.step()
        with ctx.frozen_discriminator() as d_frozen:
            for j in range(g_steps):
                if j:
                    fake_y = ctx.labels(n)
                    with ctx.autocast():
                        fake = self.generate(ctx.z(n), fake_y, net=ctx.generator)
                with ctx.autocast():
                    loss_g = self.g_loss(self.discriminate(fake, fake_y, net=d_frozen))
                ctx.opt_g.zero_grad(set_to_none=True)
                ctx.backward(loss_g)
                ctx.opt_g.step()
        with torch.no_grad():
            stats = self.step_stats(real_logits.detach().float(), fake_logits.detach().float())
        return {"loss_d": loss_d.detach().float(), "loss_g": loss_g.detach().float(), **stats}

    # -- state ------------------------------------------------------------------------------
    def to(self, device: Any) -> GANModel:
        """Move every network the model holds to ``device`` (override to move extra ones)."""
        self.generator.to(device)
        self.discriminator.to(device)
        return self

    def extra_state(self) -> dict[str, Any]:
        """State beyond G, D and the optimisers that a checkpoint must hold for an exact resume
        (EMA weights, scheduler state, counters): tensors and JSON-like values only, since
        checkpoints are loaded with ``weights_only=True``. Default: nothing."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned (called after :meth:`to`)."""

    def eval_generator(self) -> nn.Module:
        """The generator that sample grids and every generating probe use (default:
        ``generator``; an EMA model returns its averaged copy)."""
        return self.generator

    # -- probing ----------------------------------------------------------------------------
    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        """D's intermediate activations for images ``x`` in [-1, 1]: a list of 4-D tensors
        ``(N, C_i, H_i, W_i)``, one per conv layer (block output after its activation), input
        to output. Probes call it with D in eval mode and no grad; the svm probe max-pools each
        map to 4x4 and concatenates them. Default: ``discriminator.features(x)`` when D has it."""
        feats = getattr(self.discriminator, "features", None)
        if feats is None:
            raise NotImplementedError(f"{type(self).__name__} does not expose D features; "
                                      "override GANModel.features")
        return list(feats(x, y) if self.num_classes else feats(x))

    def generator_blocks(self) -> Sequence[nn.Module]:
        """G's blocks in order whose outputs are 4-D feature maps (for probes that read or edit
        G's activations with forward hooks, e.g. ``forgetting``). Default: none."""
        return []

    def describe(self) -> dict[str, Any]:
        """JSON-able facts about the networks as built (widths after defaults, ...), recorded in
        ``config.json`` under ``architecture``. Default: nothing beyond parameter counts."""
        return {}


@contextlib.contextmanager
def frozen(module: Any) -> Iterator[Any]:
    """``module`` with every trainable parameter's ``requires_grad`` off for the duration."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p in params:
            p.requires_grad_(True)

