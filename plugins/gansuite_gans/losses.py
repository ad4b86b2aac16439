"""Losses and penalties shared by the GAN families (plain functions of D's outputs).

- Hinge (Lim & Ye 2017; the SN paper's Eq. 17 and the projection paper): D minimises
  ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, G minimises ``-E[D(G(z))]``.
- Wasserstein (Arjovsky et al. 2017): the critic minimises ``E[D(G(z))] - E[D(x)]``, G
  minimises ``-E[D(G(z))]``; ``E[D(x)] - E[D(G(z))]`` is the Wasserstein estimate.
- Gradient penalty (Gulrajani et al. 2017): ``E[(|grad D(x_hat)|_2 - 1)^2]`` on random
  interpolates ``x_hat = x + a (x~ - x)``, ``a ~ U[0, 1]`` per image.
- R1 (Mescheder et al. 2018): ``E[|grad D(x)|_2^2]`` on real images; the loss adds gamma/2 of it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["hinge_d", "hinge_g", "wasserstein_d", "wasserstein_g", "wasserstein_estimate",
           "gradient_penalty", "r1_penalty", "input_gradient_sq_norm"]


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's hinge loss: ``mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))``."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    """G's loss under the hinge objective: ``-mean(D(G(z)))``."""
    return -fake.mean()


def wasserstein_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's loss: ``mean(D(G(z))) - mean(D(x))``."""
    return fake.mean() - real.mean()


def wasserstein_g(fake: torch.Tensor) -> torch.Tensor:
    """G's Wasserstein loss: ``-mean(D(G(z)))``."""
    return -fake.mean()


def wasserstein_estimate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's estimate of W(P_r, P_g): ``mean(D(x)) - mean(D(G(z)))``."""
    return real.mean() - fake.mean()


def input_gradient_sq_norm(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """``|d sum(outputs) / d inputs|^2`` per sample, kept in the graph (for a penalty)."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.float().flatten(1).square().sum(1)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's two-sided penalty ``mean((|grad critic(x_hat)| - 1)^2)`` at the interpolates
    ``x_hat = real + alpha * (fake - real)`` (``alpha``: one value per image, in [0, 1])."""
    x_hat = (real + alpha.view(-1, 1, 1, 1) * (fake.detach() - real)).requires_grad_(True)
    sq = input_gradient_sq_norm(critic(x_hat), x_hat)
    return (sq.add(1e-12).sqrt() - 1.0).square().mean()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1: ``mean(|grad D(x)|^2)`` over real images (``real`` must require grad and ``real_out``
    come from it); the caller scales it by gamma / 2."""
    return input_gradient_sq_norm(real_out, real).mean()
