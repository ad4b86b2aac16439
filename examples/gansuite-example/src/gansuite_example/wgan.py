"""``example-wgan-gp``: a model that owns its training step (WGAN-GP, Gulrajani et al. 2017).

What the default step cannot express, written against the public contract only:
- ``n_critic`` critic steps per generator step, each on a fresh real batch (``ctx.next_batch()``);
- the gradient penalty on random interpolates between real and generated images (the critic
  and the images are both in reach of ``train_step``);
- its own logged scalars (``wdist``, ``gp``), which become metrics.jsonl's columns;
- an optional EMA of G (``ema_decay > 0``): evaluated by every probe through
  ``eval_generator()`` and checkpointed through ``extra_state()``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from gansuite import Batch, GANModel, TrainContext, TrainingRecipe


def _critic(width: int, size: int, channels: int) -> nn.Module:
    return nn.Sequential(  # no BatchNorm: the penalty is per sample
        nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(width * 2 * (size // 4) ** 2, 1), nn.Flatten(0),
    )


def _generator(z_dim: int, width: int, size: int, channels: int) -> nn.Module:
    s = size // 4
    return nn.Sequential(
        nn.Linear(z_dim, width * 2 * s * s), nn.Unflatten(1, (width * 2, s, s)), nn.BatchNorm2d(width * 2),
        nn.ReLU(), nn.ConvTranspose2d(width * 2, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
    )


class WGANGP(GANModel):
    """A small WGAN-GP; see the module docstring."""

    def __init__(self, config, image_size: int, channels: int) -> None:
        self.config = config
        self.z_dim, self.image_size, self.channels = config.z_dim, image_size, channels
        self.recipe = TrainingRecipe(batch_size=64, lr_g=config.lr, lr_d=config.lr, betas=(0.0, 0.9),
                                     d_steps=config.n_critic)
        self.generator = _generator(config.z_dim, config.width, image_size, channels)
        self.discriminator = _critic(config.width, image_size, channels)
        self.ema = copy.deepcopy(self.generator).requires_grad_(False) if config.ema_decay > 0 else None

    def features(self, x, y=None):
        """The critic's two conv activations (after LeakyReLU)."""
        return [self.discriminator[:2](x), self.discriminator[:4](x)]

    def _penalty(self, critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1).square().mean()

    def train_step(self, batch: Batch, ctx: TrainContext):
        cfg, n = self.config, len(batch)
        for i in range(cfg.n_critic):
            real = batch.images if i == 0 else ctx.next_batch().images  # a fresh batch per critic step
            with torch.no_grad():
                fake = ctx.generator(ctx.z(n))
            wdist = ctx.discriminator(real).mean() - ctx.discriminator(fake).mean()
            gp = self._penalty(ctx.discriminator, real, fake)
            loss_d = -wdist + cfg.gp_weight * gp
            ctx.opt_d.zero_grad(set_to_none=True)
            ctx.backward(loss_d)
            ctx.opt_d.step()
        with ctx.frozen_discriminator() as critic:
            loss_g = -critic(ctx.generator(ctx.z(n))).mean()
            ctx.opt_g.zero_grad(set_to_none=True)
            ctx.backward(loss_g)
            ctx.opt_g.step()
        if self.ema is not None:
            self._update_ema()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "wdist": wdist.detach(), "gp": gp.detach()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.config.ema_decay
        for e, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
            e.lerp_(p, 1 - decay)
        for e, b in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
            e.copy_(b)

    def eval_generator(self):
        return self.ema if self.ema is not None else self.generator

    def to(self, device):
        super().to(device)
        if self.ema is not None:
            self.ema.to(device)
        return self

    def extra_state(self):
        return {"ema": self.ema.state_dict()} if self.ema is not None else {}

    def load_extra_state(self, state):
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])


def build(config, *, image_size: int, channels: int) -> WGANGP:
    """The factory named in the ModelSpec."""
    if image_size % 4:
        from gansuite import OptionError

        raise OptionError(f"example-wgan-gp needs an image size divisible by 4, got {image_size}.")
    return WGANGP(config, image_size, channels)
