"""Reference GAN families beside DCGAN, registered through the entry point: ``wgan-gp``,
``sngan`` and the class-conditional ``sngan-projection``.

Import-cheap: specs and the torch-free config dataclasses only; the factories are
``"module:function"`` strings. All three share one training step (:mod:`gansuite_gans.base`)
and its extras: an EMA of G (``-o ema=true``), linear learning-rate decay
(``-o lr_decay=linear``) and the R1 penalty (``-o r1_gamma=...``).
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite import ModelSpec, hookimpl

from .config import FamilyConfig, ProjectionConfig, SNGANConfig, WGANGPConfig

__all__ = ["register_models", "MODELS", "FamilyConfig", "WGANGPConfig", "SNGANConfig", "ProjectionConfig"]

WGAN_GP_PAPER = ("Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, Improved Training of Wasserstein GANs, "
                 "NeurIPS 2017 (arXiv:1704.00028)")
SN_PAPER = ("Miyato, Kataoka, Koyama & Yoshida, Spectral Normalization for Generative Adversarial Networks, "
            "ICLR 2018 (arXiv:1802.05957)")
PROJECTION_PAPER = "Miyato & Koyama, cGANs with Projection Discriminator, ICLR 2018 (arXiv:1802.05637)"

SHARED_NOTES = (
    "Shared options (off by default, as in the paper): -o ema=true keeps an EMA of G "
    "(-o ema_decay=0.999) that sample grids and probes use; -o lr_decay=linear takes both rates "
    "linearly to 0 over --max-steps/--epochs; -o r1_gamma=G adds the R1 penalty (Mescheder et al. "
    "2018) on real images.",
    "Gradient penalty and R1 run in fp32 (the model opts out of bf16 autocast when either is on).",
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="wgan-gp",
        summary="WGAN-GP on the authors' CIFAR-10 CNN: critic without BatchNorm, penalty 10, 5 critic "
                "steps per G step, Adam 1e-4 (0, 0.9).",
        factory="gansuite_gans.families:build_wgan_gp",
        config=WGANGPConfig,
        paper=WGAN_GP_PAPER,
        license="MIT",
        tags=("gan", "wgan", "reference"),
        deviations=(
            "PyTorch's default initialisation instead of the released code's (tflib) initialisers.",
            "Each step is 5 critic updates then one G update; the released loop runs the G update "
            "first (none at iteration 0): the same alternation, shifted by half an iteration.",
        ),
        notes=(
            "Architecture of gan_cifar.py at DIM=128 (its comment suggests 64 overfits less: -o dim=64): "
            "5x5 (transposed) convs, G with BatchNorm, critic with none, LeakyReLU 0.2.",
            "Loss: critic E[D(G(z))] - E[D(x)] + 10 E[(|grad D(x_hat)| - 1)^2] on x_hat = x + a(G(z) - x), "
            "a ~ U[0, 1] per image; G: -E[D(G(z))]. Logs wdist (E[D(x)] - E[D(G(z))]), gp, loss_d, loss_g.",
            "Each critic update draws a fresh real batch and fresh z; batch 64; z ~ N(0, I), 128-d.",
            "Adam 1e-4, betas (0, 0.9) as in the paper's Algorithm 1; the released gan_cifar.py uses "
            "beta1 = 0.5 (-o beta1=0.5). It trains 200,000 G updates (--max-steps 200000).",
            *SHARED_NOTES,
        ),
    ),
    ModelSpec(
        name="sngan",
        summary="SN-GAN: the SN paper's standard CNN with spectral normalisation in D, hinge loss, "
                "Adam 2e-4 (0.5, 0.999), n_dis=1.",
        factory="gansuite_gans.families:build_sngan",
        config=SNGANConfig,
        paper=SN_PAPER,
        license="MIT",
        tags=("gan", "sngan", "reference"),
        deviations=(
            "G's dense layer is followed by BatchNorm and ReLU, as in the authors' Chainer generator; "
            "the paper's Table 3 lists the dense layer alone.",
        ),
        notes=(
            "Table 3 (standard CNN, CIFAR-10): G dense to 4x4x512, 4x4 stride-2 deconvs to 256, 128, 64 "
            "(BatchNorm, ReLU), 3x3 conv to RGB, Tanh; D 3x3/4x4 convs with 64, 64, 128, 128, 256, 256, 512 "
            "channels, LeakyReLU 0.1, dense to 1. -o ch scales every width (ch=512 is the paper's).",
            "Spectral normalisation of every D weight (torch.nn.utils.parametrizations.spectral_norm: one "
            "power iteration per training forward pass, as the paper's Algorithm 1).",
            "Loss: the hinge loss, the paper's Eq. (17) (its Table 2 also reports the standard loss).",
            "Optimiser: setting C of the paper's Table 1 (lr 2e-4, betas (0.5, 0.999), n_dis 1), one of "
            "the six settings it sweeps (A: 1e-4, (0.5, 0.9), 5; B: 1e-4, (0.5, 0.999), 1; C; D-F: "
            "lr 1e-3 with n_dis 5); -o lr/beta1/beta2/n_dis select another.",
            "Batch 64; z ~ N(0, I), 128-d; N(0, 0.02) initialisation as in the authors' Chainer code; "
            "the paper trains 100,000 G updates.",
            *SHARED_NOTES,
        ),
    ),
    ModelSpec(
        name="sngan-projection",
        summary="Class-conditional SN-GAN: projection discriminator, conditional BatchNorm in G, hinge "
                "loss; trained on the dataset's labels.",
        factory="gansuite_gans.families:build_sngan_projection",
        config=ProjectionConfig,
        paper=PROJECTION_PAPER,
        license="MIT",
        tags=("gan", "sngan", "conditional", "reference"),
        deviations=(
            "Backbone: the SN paper's standard CNN (its Table 3) instead of the ResNets of the projection "
            "paper's CIFAR-10 runs (G: ResNet ch=256, D: SN-ResNet ch=128), which cost several times more "
            "on a CPU.",
            "phi(x) is the standard CNN's flattened last conv activation (what its dense output layer "
            "reads); the projection paper's ResNet discriminators sum their last activation over space "
            "instead (tried here: with the standard CNN, D then separated real from generated digits by "
            "total activation alone and G stopped improving).",
            "Conditional BatchNorm in G's three upsampling blocks; the BatchNorm after G's dense layer "
            "stays unconditional.",
            "Each G update uses batch_size samples; the authors' CIFAR-10 config draws 128.",
            "Constant learning rates by default; the authors decay them linearly to 0 over 50,000 G "
            "updates from the start (-o lr_decay=linear with --max-steps 50000).",
        ),
        notes=(
            "D(x, y) = psi(phi(x)) + <V[y], phi(x)>: psi is the standard CNN's dense output layer, V a class "
            "embedding of phi's size, both spectrally normalised; features(x) (the svm probe's input) needs "
            "no label: it returns D's conv activations.",
            "Trained with the dataset's labels (real images) and labels drawn uniformly (generated ones); "
            "-o num_classes sets the class count (default 10); a dataset without labels, or with labels "
            "beyond num_classes, is refused before training.",
            "Optimiser as in the authors' CIFAR-10 config: Adam 2e-4, betas (0, 0.9), n_dis 5, batch 64, "
            "hinge loss; z ~ N(0, I), 128-d.",
            "Sample grids show one row per class; probes generate class-balanced samples.",
            *SHARED_NOTES,
        ),
    ),
)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the three families."""
    for spec in MODELS:
        register(spec)
