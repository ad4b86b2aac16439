"""The training step the GAN families share, with the shared extras: an EMA of G, linear
learning-rate decay and the R1 penalty.

One step (one G update) is ``n_dis`` D updates, the first on the engine's batch and each next
one on a fresh batch (``ctx.next_batch()``), as WGAN-GP's Algorithm 1 and the SN-GAN updater
draw them; each D update sees new latents. Then one G update with D frozen. The D loss is the
family's (hinge or Wasserstein) plus the optional gradient penalty (WGAN-GP) and R1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gansuite import Batch, GANModel, OptionError, TrainContext, TrainingRecipe
from gansuite_gans import losses
from gansuite_gans.ema import EMA
from gansuite_gans.schedule import LinearDecay

__all__ = ["FamilyGAN", "recipe_from", "LOSSES"]

LOSSES = {
    "hinge": (losses.hinge_d, losses.hinge_g),
    "wasserstein": (losses.wasserstein_d, losses.wasserstein_g),
}


def recipe_from(cfg: Any) -> TrainingRecipe:
    """The recipe of a family config: Adam from lr/beta1/beta2, ``n_dis`` D steps per G step."""
    return TrainingRecipe(batch_size=cfg.batch_size, lr_g=cfg.lr, lr_d=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                          d_steps=cfg.n_dis, g_steps=1)


class FamilyGAN(GANModel):
    """A G/D pair trained by the shared step (see the module docstring).

    ``loss``: ``"hinge"`` or ``"wasserstein"``; ``gp_weight``: WGAN-GP's penalty weight (0: off).
    The config's ``ema``, ``ema_decay``, ``lr_decay`` and ``r1_gamma`` switch the extras on.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, *, cfg: Any, image_size: int,
                 channels: int, loss: str, num_classes: int = 0, gp_weight: float = 0.0,
                 details: dict[str, Any] | None = None) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.generator, self.discriminator = generator, discriminator
        self.z_dim, self.image_size, self.channels = int(cfg.z_dim), int(image_size), int(channels)
        self.num_classes = int(num_classes)
        self.recipe = recipe_from(cfg)
        self.loss = loss
        self.gp_weight = float(gp_weight)
        self.r1_gamma = float(cfg.r1_gamma)
        # Double backward (gradient penalty, R1) stays in fp32.
        self.uses_autocast = not (self.gp_weight or self.r1_gamma)
        self.ema = EMA(generator, cfg.ema_decay) if cfg.ema else None
        self.schedule = LinearDecay([cfg.lr, cfg.lr]) if cfg.lr_decay == "linear" else None
        self.details = dict(details or {})

    # -- losses ---------------------------------------------------------------------------
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return LOSSES[self.loss][0](real_logits, fake_logits)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return LOSSES[self.loss][1](fake_logits)

    def step_stats(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """``wdist`` (the critic's Wasserstein estimate) or D's mean outputs ``d_real``/``d_fake``."""
        if self.loss == "wasserstein":
            return {"wdist": losses.wasserstein_estimate(real_logits, fake_logits)}
        return {"d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    # -- the step -------------------------------------------------------------------------
    def train_step(self, batch: Batch, ctx: TrainContext) -> Mapping[str, torch.Tensor | float]:
        if self.schedule is not None:
            if ctx.total_steps is None:
                raise OptionError("lr_decay=linear decays over the run's step count, and a --time-budget "
                                  "run has none: pass --max-steps or --epochs, or -o lr_decay=none.")
            self.schedule.set_step(ctx.step, ctx.total_steps, (ctx.opt_g, ctx.opt_d))
        stats: dict[str, torch.Tensor] = {}
        for i in range(max(1, self.recipe.d_steps)):
            stats = self._d_step(batch if i == 0 else ctx.next_batch(), ctx)
        stats["loss_g"] = self._g_step(len(batch), ctx)
        if self.ema is not None:
            self.ema.update(self.generator)
        if self.schedule is not None:
            stats["lr_scale"] = torch.tensor(self.schedule.factor)
        return stats

    def _d_step(self, real: Batch, ctx: TrainContext) -> dict[str, torch.Tensor]:
        n = len(real)
        y_fake = ctx.labels(n)
        with torch.no_grad(), ctx.autocast():
            fake = self.generate(ctx.z(n), y_fake, net=ctx.generator)
        y = real.labels if self.num_classes else None
        x = real.images.detach().requires_grad_(True) if self.r1_gamma else real.images
        with ctx.autocast():
            real_out = self.discriminate(x, y, net=ctx.discriminator).float()
            fake_out = self.discriminate(fake, y_fake, net=ctx.discriminator).float()
        loss = self.d_loss(real_out, fake_out)
        out: dict[str, torch.Tensor] = {}
        if self.gp_weight:
            alpha = torch.rand(n, device=real.images.device)
            gp = losses.gradient_penalty(lambda t: self.discriminate(t, y, net=ctx.discriminator),
                                         real.images, fake, alpha)
            loss = loss + self.gp_weight * gp
            out["gp"] = gp.detach()
        if self.r1_gamma:
            r1 = losses.r1_penalty(real_out, x)
            loss = loss + 0.5 * self.r1_gamma * r1
            out["r1"] = r1.detach()
        ctx.opt_d.zero_grad(set_to_none=True)
        ctx.backward(loss)
        ctx.opt_d.step()
        with torch.no_grad():
            stats = self.step_stats(real_out.detach(), fake_out.detach())
        return {"loss_d": loss.detach(), **out, **stats}

    def _g_step(self, n: int, ctx: TrainContext) -> torch.Tensor:
        y = ctx.labels(n)
        with ctx.frozen_discriminator() as d_frozen:
            with ctx.autocast():
                fake = self.generate(ctx.z(n), y, net=ctx.generator)
                loss = self.g_loss(self.discriminate(fake, y, net=d_frozen).float())
            ctx.opt_g.zero_grad(set_to_none=True)
            ctx.backward(loss)
            ctx.opt_g.step()
        return loss.detach()

    # -- state ----------------------------------------------------------------------------
    def to(self, device: Any) -> FamilyGAN:
        super().to(device)
        if self.ema is not None:
            self.ema.module.to(device)
        return self

    def eval_generator(self) -> nn.Module:
        """The EMA copy of G when ``ema`` is on, else G."""
        return self.ema.module if self.ema is not None else self.generator

    def extra_state(self) -> dict[str, Any]:
        """The EMA weights and counter, the learning-rate schedule's state."""
        state: dict[str, Any] = {}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.schedule is not None:
            state["lr_schedule"] = self.schedule.state_dict()
        return state

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
            else:  # a checkpoint written without the EMA: start the average from G as loaded
                self.ema = EMA(self.generator, self.ema.decay)
        if self.schedule is not None and "lr_schedule" in state:
            self.schedule.load_state_dict(state["lr_schedule"])

    # -- probing --------------------------------------------------------------------------
    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[torch.Tensor]:
        """D's activation after each conv layer (labels are not needed: the projection of a
        conditional D acts after its last conv layer)."""
        return self.discriminator.features(x)  # type: ignore[operator]

    def generator_blocks(self) -> list[nn.Module]:
        """G's upsampling blocks (each ends in its ReLU), then the output Tanh."""
        g = self.generator
        return [*g.blocks, g.tanh]  # type: ignore[attr-defined, misc, list-item]

    def describe(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "z_dim": self.z_dim, "loss": self.loss,
                "num_classes": self.num_classes, "n_dis": self.recipe.d_steps,
                "ema": self.ema is not None, "lr_decay": self.schedule is not None,
                "r1_gamma": self.r1_gamma, "gp_weight": self.gp_weight, **self.details}
