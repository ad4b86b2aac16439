"""The eager Inception network (batch norms folded, fused conv + ReLU) against the TorchScript graph.

The difference is measured per image as max |eager - scripted| / max |scripted| over its 2,048
features (an element-wise ratio is meaningless for features that are ReLU outputs near zero).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from gansuite_probes.inception import InceptionFeatures

from gansuite.contract.errors import OptionError

TOLERANCE = 1e-5


def _images(n: int = 2) -> torch.Tensor:
    """Random pixels and smooth gradients, 32x32 uint8 (what the probes feed: resized to 299)."""
    gen = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (n // 2, 3, 32, 32), dtype=torch.uint8, generator=gen)
    ramp = torch.linspace(0, 255, 32).round().to(torch.uint8)
    smooth = torch.stack([ramp.view(1, 32, 1).expand(3, 32, 32), ramp.view(1, 1, 32).expand(3, 32, 32)])
    return torch.cat([noise, smooth[: n - n // 2]])


def relative_difference(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((ours - ref).abs().amax(1) / ref.abs().amax(1)).max())


@pytest.fixture(scope="module")
def scripted() -> InceptionFeatures:
    return InceptionFeatures(eager=False)


@pytest.fixture(scope="module")
def reference(scripted: InceptionFeatures) -> torch.Tensor:
    return scripted(_images())


@pytest.fixture(scope="module")
def eager() -> InceptionFeatures:
    return InceptionFeatures()


def test_eager_features_match_the_torchscript_graph(scripted: InceptionFeatures, eager: InceptionFeatures,
                                                    reference: torch.Tensor) -> None:
    assert eager.runtime == "eager" and scripted.runtime == "torchscript"
    assert (reference > 0).float().mean() > 0.5  # the features are not trivially zero
    assert relative_difference(eager(_images()), reference) <= TOLERANCE
    batch = eager.cpu_batch
    eager.cpu_batch = 1  # two chunks of one image: the same features
    try:
        assert relative_difference(eager(_images()), reference) <= TOLERANCE
    finally:
        eager.cpu_batch = batch
    assert eager.describe()["extractor_runtime"] == "eager"
    assert eager.sha256 == scripted.sha256


def test_the_comparison_catches_a_badly_folded_batch_norm(eager: InceptionFeatures, reference: torch.Tensor) -> None:
    """The control: a 1% error in one layer's folded scale moves the features past the tolerance."""
    weight = eager.net.blocks[5].pool_conv.weight  # type: ignore[index, union-attr]
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight.mul_(1.01)
        assert relative_difference(eager(_images()), reference) > TOLERANCE
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def test_an_unknown_layout_stays_torchscript_and_load_eager_refuses_it(tiny_extractor: Path) -> None:
    from gansuite_probes.inception import _jit_load
    from gansuite_probes.inception_net import load_eager

    custom = InceptionFeatures(tiny_extractor, input_size=32)
    assert custom.runtime == "torchscript"
    with pytest.raises(ValueError, match="layout"):
        load_eager(_jit_load(tiny_extractor))


def test_bf16_is_an_opt_in_for_cuda_and_keyed_apart(tiny_extractor: Path) -> None:
    from gansuite_probes.refstats import reference_key

    with pytest.raises(OptionError, match="precision"):
        InceptionFeatures(tiny_extractor, input_size=32, precision="float16")
    bf16 = InceptionFeatures(tiny_extractor, input_size=32, precision="bfloat16", eager=False)
    with pytest.raises(OptionError, match="CUDA only"):
        bf16(_images(2))
    fp32 = InceptionFeatures(tiny_extractor, input_size=32)
    images, idx = _images(2), torch.arange(2)
    assert reference_key(images, idx, "train", bf16.describe()) != reference_key(images, idx, "train", fp32.describe())
