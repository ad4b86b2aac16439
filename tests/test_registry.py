from __future__ import annotations

import pytest

from gansuite._host.registry import Registry, check_name
from gansuite.contract.errors import DuplicateNameError, InvalidNameError, UnknownNameError
from gansuite.contract.specs import ModelSpec, PluginInfo


def spec(name: str, plugin: str = "p1") -> ModelSpec:
    return ModelSpec(name=name, summary="s", factory="x:y", plugin=PluginInfo(plugin, f"dist-{plugin}", "1.0"))


@pytest.mark.parametrize("name", ["dcgan", "dcgan-64", "a1-b2-c3", "x"])
def test_valid_names(name):
    check_name(name, "model")


@pytest.mark.parametrize("name", ["DCGAN", "dc_gan", "-dcgan", "dcgan-", "dc--gan", "dc gan", "", "dcgan.v2"])
def test_invalid_names(name):
    with pytest.raises(InvalidNameError, match="kebab-case"):
        check_name(name, "model")


def test_duplicate_names_both_plugins():
    reg = Registry("model", "models")
    reg.add(spec("dcgan", "first"))
    with pytest.raises(DuplicateNameError) as err:
        reg.add(spec("dcgan", "second"))
    assert "first" in str(err.value) and "second" in str(err.value)
    assert "dist-first" in str(err.value) and "dist-second" in str(err.value)


def test_unknown_name_suggests_and_points_to_list():
    reg = Registry("model", "models")
    for n in ("dcgan", "dcgan-imagenet32", "wgan"):
        reg.add(spec(n))
    with pytest.raises(UnknownNameError) as err:
        reg.get("dcgn")
    msg = str(err.value)
    assert msg.startswith("Unknown model 'dcgn'. Did you mean: dcgan")
    assert msg.endswith("Run 'gansuite list models'.")
    assert "\n" not in msg


def test_unknown_name_without_close_match():
    reg = Registry("model", "models")
    reg.add(spec("dcgan"))
    with pytest.raises(UnknownNameError, match=r"^Unknown model 'zzz'\. Run"):
        reg.get("zzz")


def test_fnmatch_and_natural_sort():
    reg = Registry("model", "models")
    for n in ("dcgan-10", "dcgan-2", "wgan", "dcgan"):
        reg.add(spec(n))
    assert reg.names() == ["dcgan", "dcgan-2", "dcgan-10", "wgan"]
    assert reg.names("dcgan-*") == ["dcgan-2", "dcgan-10"]
    assert reg.names("*gan") == ["dcgan", "wgan"]
    assert len(reg) == 4 and "wgan" in reg
