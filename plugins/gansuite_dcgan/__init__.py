"""The DCGAN reference models (Radford, Metz & Chintala 2015), registered through the entry point.

Import-cheap: the specs hold ``"module:function"`` factories, so torch is imported only when a
model is built. Registered names:

- ``dcgan``: the paper's all-convolutional GAN (Figure 1), any power-of-two size >= 32.
- ``dcgan-imagenet32``: the authors' ImageNet-32 discriminator (the CIFAR-10 feature extractor:
  six 3x3 convs, 28,672 probe features) with a generator that mirrors it.
- ``dcgan-pytorch-examples``: the popular pytorch/examples variant, with its deviations listed.
"""

from __future__ import annotations

from collections.abc import Callable

from gansuite import ModelSpec, hookimpl

from .config import DCGANConfig, ImageNet32Config, PytorchExamplesConfig

__all__ = ["register_models", "DCGANConfig", "ImageNet32Config", "PytorchExamplesConfig"]

PAPER = "Radford, Metz & Chintala, Unsupervised Representation Learning with Deep Convolutional " \
        "Generative Adversarial Networks, ICLR 2016 (arXiv:1511.06434)"


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="dcgan",
        summary="DCGAN as in the paper: all-convolutional G/D, BatchNorm, uniform z, Adam 2e-4/0.5.",
        factory="gansuite_dcgan.models:build_dcgan",
        config=DCGANConfig,
        paper=PAPER,
        license="MIT",
        tags=("gan", "dcgan", "reference"),
        notes=(
            "Kernels are 5x5, as in the authors' released code (dcgan_code); the paper does not "
            "state a size. -o kernel_size=4 gives the common 4x4 variant.",
            "Widths: ngf=ndf=64 at 32x32, as in the authors' 32x32 (SVHN) network whose D has 64, "
            "128, 256 channels (7,168 probe features); 128 at 64x64 and above, as in their "
            "LSUN/faces code and Figure 1 (4x4x1024 at 64x64). -o ngf=128 -o ndf=128 at 32x32 gives "
            "the wider net (14,336 features; several times the training time on a CPU: docs/benchmarks.md).",
            "G's projection is a bias-free matrix multiply followed by BatchNorm over every "
            "projected unit, as in the authors' code; D's last conv is flattened into one logit.",
            "Losses are binary cross-entropy on logits; G uses the non-saturating -log D(G(z)).",
            "Training: one D step then one G step on the same z per iteration; images in [-1, 1].",
            "The authors' code also used weight decay 1e-5, which the paper does not mention: "
            "-o weight_decay=1e-5 adds it.",
            "image_size=None trains at the dataset's size.",
        ),
    ))
    register(ModelSpec(
        name="dcgan-imagenet32",
        summary="The authors' ImageNet-32 DCGAN: six 3x3-conv D (28,672 probe features), mirrored G.",
        factory="gansuite_dcgan.models:build_imagenet32",
        config=ImageNet32Config,
        paper=PAPER,
        license="MIT",
        tags=("gan", "dcgan", "reference", "cifar10-probe"),
        notes=(
            "D: 3x3 convs with 128, 128, 256, 256, 512, 512 channels, strides 1, 2, 1, 2, 1, 2, "
            "LeakyReLU 0.2, BatchNorm except on the input layer; the paper's CIFAR-10 extractor.",
            "Max-pooling each of the six layers to 4x4 gives 1,792 x 16 = 28,672 features.",
            "G mirrors D: 4x4x512 projection, then alternating stride-2 transposed and stride-1 "
            "3x3 convs back to 32x32; the authors' exact generator for this D is not documented.",
        ),
    ))
    register(ModelSpec(
        name="dcgan-pytorch-examples",
        summary="The pytorch/examples DCGAN: 4x4 kernels, Gaussian z, batch 64, 64 channels.",
        factory="gansuite_dcgan.models:build_dcgan",
        config=PytorchExamplesConfig,
        importer="gansuite_dcgan.pytorch_examples:import_state",
        paper=PAPER,
        license="BSD-3-Clause",
        tags=("gan", "dcgan", "variant"),
        deviations=(
            "4x4 kernels instead of the authors' 5x5.",
            "z drawn from N(0, 1) instead of U(-1, 1).",
            "Batch 64 instead of 128.",
            "ngf = ndf = 64 instead of 128 (4x4x512 projection at 64x64, not 4x4x1024).",
        ),
        notes=("Architecture rules, initialisation and the Adam recipe are otherwise the paper's.",
               "Imports pytorch/examples' own netG/netD_epoch_N.pth (gansuite eval --generator ... "
               "--discriminator ... --model dcgan-pytorch-examples): same functions in eval mode."),
    ))
