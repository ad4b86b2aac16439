from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from gansuite._host.options import build_config, coerce, parse_pairs, split_overrides
from gansuite.contract.errors import OptionError
from gansuite.contract.specs import DatasetSpec, ModelSpec


@dataclass(frozen=True)
class Cfg:
    ngf: int = 64
    lr: float = 2e-4
    bn: bool = True
    act: Literal["relu", "lrelu"] = "relu"
    widths: tuple[int, ...] = (1, 2)
    limit: int | None = None
    name: str = field(default="x")

    def __post_init__(self):
        if self.ngf <= 0:
            raise ValueError("ngf must be positive")


MODEL = ModelSpec(name="m", summary="", config=Cfg)
DATA = DatasetSpec(name="d", summary="", config=Cfg)


def test_coerce_types():
    assert coerce("3", int) == 3
    assert coerce("1e-3", float) == 1e-3
    assert coerce("off", bool) is False
    assert coerce("lrelu", Literal["relu", "lrelu"]) == "lrelu"
    assert coerce("1,2,3", tuple[int, ...]) == (1, 2, 3)
    assert coerce("none", int | None) is None
    assert coerce("5", int | None) == 5


def test_build_config_reports_every_bad_field():
    with pytest.raises(OptionError) as err:
        build_config(MODEL, {"ngf": "many", "act": "tanh", "ngff": "3"})
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert any("ngf" in line and "integer" in line for line in lines)
    assert any("one of relu, lrelu" in line for line in lines)
    assert any("Did you mean 'ngf'" in line for line in lines)


def test_post_init_range_check_is_an_option_error():
    with pytest.raises(OptionError, match="ngf must be positive"):
        build_config(MODEL, {"ngf": "0"})


def test_build_config_values():
    cfg = build_config(MODEL, {"ngf": "32", "widths": "4,8", "bn": "false"})
    assert cfg == Cfg(ngf=32, widths=(4, 8), bn=False)


def test_malformed_pair():
    with pytest.raises(OptionError, match="Malformed option 'ngf'"):
        parse_pairs(["ngf"])


def test_routing_qualified_bare_and_ambiguous():
    only_model = ModelSpec(name="m", summary="", config=Cfg)
    plain = DatasetSpec(name="d", summary="")
    routed = split_overrides([("ngf", "3"), ("m.lr", "1")], [only_model, plain])
    assert routed == {"m": {"ngf": "3", "lr": "1"}, "d": {}}
    with pytest.raises(OptionError, match="ambiguous: write one of m.ngf, d.ngf"):
        split_overrides([("ngf", "3")], [MODEL, DATA])
    with pytest.raises(OptionError, match="does not use"):
        split_overrides([("svm.c", "3")], [MODEL])
    with pytest.raises(OptionError, match="Unknown option 'zzz'"):
        split_overrides([("zzz", "3")], [MODEL])


def test_spec_without_options_refuses_values():
    with pytest.raises(OptionError, match="takes no options"):
        build_config(DatasetSpec(name="d", summary=""), {"x": "1"})
