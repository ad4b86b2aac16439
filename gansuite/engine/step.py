"""One training iteration of a GAN: the unit the engine repeats and the benchmarks time.

Draw a global batch of real images (uint8, held on the training device) and normalise it to
[-1, 1]; generate ``G(z)``; take ``recipe.d_steps`` discriminator steps and ``recipe.g_steps``
generator steps. The G output of the last D step is reused by the first G step (no second
forward through G), and D's weights are frozen during G steps, so autograd computes no
discriminator weight gradients there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gansuite.engine.device import autocast

if TYPE_CHECKING:
    import torch

    from gansuite.plugin.protocols import GANModel

__all__ = ["GANStep", "normalize_batch"]


def normalize_batch(images: torch.Tensor, idx: torch.Tensor, device: Any) -> torch.Tensor:
    """uint8 images at ``idx`` -> float in [-1, 1] (x / 127.5 - 1), channels_last, on ``device``."""
    import torch

    x = images.index_select(0, idx.to(images.device))
    x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return x.float().div_(127.5).sub_(1.0)


class GANStep:
    """One training iteration of a :class:`GANModel` (D steps, then G steps).

    ``g_net``/``d_net`` are what to call for G and for D's step (DDP or compiled wrappers,
    default: the model's own modules); G steps call ``d_plain`` with D frozen, so no D weight
    gradients (and, under DDP, no D gradient all-reduce) are computed there.
    """

    def __init__(self, model: GANModel, opt_g: Any, opt_d: Any, *, device: Any, g_net: Any = None,
                 d_net: Any = None, d_plain: Any = None, amp: bool = True) -> None:
        self.model, self.opt_g, self.opt_d, self.device, self.amp = model, opt_g, opt_d, device, amp
        self.g_net = model.generator if g_net is None else g_net
        self.d_net = model.discriminator if d_net is None else d_net
        self.d_plain = model.discriminator if d_plain is None else d_plain
        self.d_params = [p for p in model.discriminator.parameters() if p.requires_grad]
        self.d_steps = max(1, int(model.recipe.d_steps))
        self.g_steps = max(1, int(model.recipe.g_steps))

    def _z(self, n: int, gen: Any) -> torch.Tensor:
        return self.model.sample_z(n, generator=gen, device=self.device)

    def __call__(self, real: torch.Tensor, z_gen: Any) -> torch.Tensor:
        """Train on ``real`` (normalised); returns detached ``[loss_d, loss_g, d_real, d_fake]``."""
        import torch

        n, model = real.shape[0], self.model
        for i in range(self.d_steps):
            with torch.set_grad_enabled(i == self.d_steps - 1), autocast(self.device, self.amp):
                fake = self.g_net(self._z(n, z_gen))
            with autocast(self.device, self.amp):
                real_logits = self.d_net(real)
                fake_logits = self.d_net(fake.detach())
                loss_d = model.d_loss(real_logits, fake_logits)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            for j in range(self.g_steps):
                if j:
                    with autocast(self.device, self.amp):
                        fake = self.g_net(self._z(n, z_gen))
                with autocast(self.device, self.amp):
                    loss_g = model.g_loss(self.d_plain(fake))
                self.opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                self.opt_g.step()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        with torch.no_grad():
            return torch.stack([loss_d.detach().float(), loss_g.detach().float(),
                                torch.sigmoid(real_logits.detach().float()).mean(),
                                torch.sigmoid(fake_logits.detach().float()).mean()])
