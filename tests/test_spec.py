"""Spec loading, saving, validation messages and overrides."""

import pytest

from mfsearch.errors import UserError
from mfsearch.families.mobile_former.layout import resolve
from mfsearch.spec.geometry import Size
from mfsearch.families import (SpecError, apply_overrides, load_model_spec, load_spec, save_spec,
                           spec_from_yaml, spec_to_yaml, variant_names)


@pytest.mark.parametrize("name", variant_names())
def test_yaml_round_trip(tmp_path, name):
    spec = load_model_spec(name)
    path = save_spec(spec, tmp_path / "spec.yaml")
    assert load_spec(path) == spec
    assert spec_from_yaml(spec_to_yaml(spec)) == spec


def test_short_names_and_paths(tmp_path, mf294):
    assert load_model_spec("294m") == mf294
    assert load_model_spec("MOBILE-FORMER-294M") == mf294
    path = save_spec(mf294.replace(name="mine"), tmp_path / "mine.yaml")
    assert load_model_spec(str(path)).name == "mine"


def test_layout_of_294m(mf294):
    lay = resolve(mf294, 224)
    assert (lay.stem.res_out, lay.bneck_lite.res_out, lay.last_res, lay.last_width) == (
        Size(112, 112), Size(112, 112), Size(7, 7), 192)
    assert [b.hidden for b in lay.blocks][:3] == [(96, 96), (96,), (144, 192)]
    assert [b.residual for b in lay.blocks] == [False, True, False, True, False, True, False,
                                                True, False, True, True]
    assert [b.res_out.h for b in resolve(mf294, 193).blocks][::2] == [49, 25, 13, 13, 7, 7]
    assert [b.res_out for b in resolve(mf294, (193, 256)).blocks][-1] == Size(7, 8)


def _yaml_with(mf294, **changes):
    data = mf294.to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize("changes,message", [
    ({"stem": -8}, "stem: must be between 1 and 8192, got -8"),
    ({"stem": "wide"}, "stem: expected an integer, got 'wide'"),
    ({"tokens": 0}, "tokens: must be between 1 and 256, got 0"),
    ({"token_dim": 10**9}, "token_dim: must be between 1 and 4096, got 1000000000"),
    ({"activation": "gelu"}, "activation: expected one of dyrelu, relu, got 'gelu'"),
    ({"former_ffn": "yes"}, "former_ffn: expected true or false, got 'yes'"),
    ({"dw_kernel": 4}, "dw_kernel: must be odd (same padding), got 4"),
    ({"token_dim": 190}, "token_dim: 190 is not divisible by former_heads=4"),
    ({"groups": 5}, "bneck_lite.out: width 16 is not divisible by groups=5"),
    ({"former": False}, "activation: dyrelu needs the Former's token 0"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"blocks": []}, "blocks: expected a non-empty list of blocks, got []"),
    ({"blocks": [{"out": 24, "stride": 3}]}, "blocks[0].stride: must be between 1 and 2, got 3"),
    ({"blocks": [{"out": 24, "stride": 2, "expand": 2.5}]},
     "blocks[0].expand: a downsample block's expand is a depthwise multiplier"),
    ({"blocks": [{"out": 25, "stride": 1}]}, "blocks[0].out: width 25 is not divisible by bridge_heads=2"),
    ({"blocks": [{"stride": 1}]}, "blocks[0].out: missing required key"),
    ({"bneck_lite": {"out": 16, "bogus": 1}}, "bneck_lite.bogus: unknown key"),
    ({"dropout": 1.5}, "dropout: expected a number in [0, 1), got 1.5"),
])
def test_validation_names_key_and_value(mf294, changes, message):
    with pytest.raises(SpecError) as info:
        type(mf294).from_dict(_yaml_with(mf294, **changes))
    assert message in str(info.value)


def test_yaml_errors_are_user_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstem: [1\n")
    with pytest.raises(UserError, match=r"bad.yaml: invalid YAML \(line 3, column 1\)"):
        load_spec(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="spec: expected a mapping, got list"):
        load_spec(bad)
    with pytest.raises(UserError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="unknown model 'mobile-former-1m'"):
        load_model_spec("mobile-former-1m")


def test_overrides(mf294):
    spec = apply_overrides(mf294, ["tokens=1", "token_dim=64", "former_ffn=false",
                                   "blocks.3.out=64", "blocks.3.expand=3"])
    assert (spec.tokens, spec.token_dim, spec.former_ffn) == (1, 64, False)
    assert (spec.blocks[3].out, spec.blocks[3].expand) == (64, 3)
    assert apply_overrides(mf294, []) is mf294


@pytest.mark.parametrize("item,message", [
    ("tokens", "--set 'tokens': expected KEY=VALUE"),
    ("foo=1", "--set foo: unknown key"),
    ("tokens=abc", "--set: tokens: expected an integer, got 'abc'"),
    ("tokens=[1, 2]", "--set tokens: expected a single value"),
    ("blocks.99.out=8", "--set blocks.99: no such list index (have 11 items)"),
    ("stem.x=1", "--set stem.x: stem is not a mapping"),
])
def test_bad_overrides(mf294, item, message):
    with pytest.raises(UserError) as info:
        apply_overrides(mf294, [item])
    assert message in str(info.value)
