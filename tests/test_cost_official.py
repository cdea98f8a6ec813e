"""The analytic cost model against the official implementation's measured figures."""

import pytest

from mfsearch.families.mobile_former.cost import analyze
from mfsearch.families import load_model_spec, variant_names
from mfsearch.families.mobile_former.model import build_model

from .conftest import OFFICIAL_PARAMS, PAPER_MADDS_M

VARIANTS = variant_names()

# Our pillars as sums of the official per-pillar breakdown.
PILLAR_MAP = {
    "stem": ["stem"], "bneck_lite": ["bneck_lite"], "mobile": ["mobile_conv"],
    "dyrelu": ["dyrelu_mlp"], "mobile_to_former": ["mobile2former", "final_mobile2former"],
    "former": ["former"], "former_to_mobile": ["former2mobile"],
    "head": ["head_conv1x1", "head_fc1", "head_fc2"],
}


def test_seven_variants_ship():
    assert VARIANTS == list(OFFICIAL_PARAMS)


@pytest.mark.parametrize("name", VARIANTS)
def test_params_equal_official(name):
    spec = load_model_spec(name)
    assert analyze(spec).params == OFFICIAL_PARAMS[name]
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[name]


@pytest.mark.parametrize("name", VARIANTS)
def test_core_and_fvcore_totals_equal_official(name, official):
    ref = official["variants"][name]
    cost = analyze(load_model_spec(name))
    assert cost.madds("core") == ref["madds_core"]
    assert cost.madds("fvcore") == ref["madds_fvcore_default"]
    assert cost.counts.bn == ref["E_bn"]
    assert cost.counts.dyrelu == ref["E_dy"]
    assert cost.counts.ln == ref["E_layernorm"]


@pytest.mark.parametrize("name", VARIANTS)
def test_core_pillars_equal_official(name, official):
    ref = official["variants"][name]
    cost = analyze(load_model_spec(name))
    for ours, theirs in PILLAR_MAP.items():
        assert cost.pillar(ours).core == sum(ref["madds_core_by_pillar"][t] for t in theirs), ours
        expected_params = sum(ref["params_by_pillar"][t] for t in theirs)
        if ours == "former":
            expected_params += ref["params_by_pillar"]["tokens"]
        assert cost.pillar(ours).params == expected_params, ours


@pytest.mark.parametrize("name", VARIANTS)
def test_paper_convention_close_to_table2(name):
    madds = analyze(load_model_spec(name)).madds("paper") / 1e6
    error = madds / PAPER_MADDS_M[name] - 1
    if name == "mobile-former-26m":
        # 25.58M: the paper rounds it to 26M; at -1.62% it is the one variant outside 1.5%
        # (26M and 52M share all activation counts, only the 1x1 groups differ).
        assert round(madds) == 26 and -0.017 < error < -0.016
    else:
        assert abs(error) < 0.015, f"{madds:.2f}M vs {PAPER_MADDS_M[name]}M"


@pytest.mark.parametrize("name", VARIANTS)
def test_paper_convention_is_core_plus_bn_and_dyrelu_elements(name, official):
    ref = official["variants"][name]
    assert analyze(load_model_spec(name)).madds("paper") == (
        ref["madds_core"] + ref["E_bn"] + ref["E_dy"])


def test_paper_convention_figures_294m(mf294):
    cost = analyze(mf294)
    assert cost.madds("paper") == 293_833_984
    assert {n: c.madds("paper") for n, c in cost.pillars.items()} == {
        "stem": 5_619_712, "bneck_lite": 10_637_312, "mobile": 225_860_992,
        "dyrelu": 4_173_696, "mobile_to_former": 10_602_240, "former": 14_750_208,
        "former_to_mobile": 6_792_960, "head": 15_396_864}


def test_former_and_bridge_of_294m_is_about_35m(mf294):
    from mfsearch.families.mobile_former import FAMILY

    cost = analyze(mf294)
    narrow = FAMILY.display.group_madds(cost, "former+bridge", "paper")
    broad = narrow + cost.pillar("dyrelu").madds("paper")
    assert narrow == 32_145_408  # 11 M->F + final M->F + 11 Formers + 11 M<-F (no BN/DyReLU there)
    assert broad == 36_319_104  # plus the DyReLU generators and their elementwise ops
    assert narrow < 35e6 < broad and abs(broad / 35e6 - 1) < 0.04
    total = cost.madds("paper")
    assert 0.105 < narrow / total < 0.11  # Table 5's "10.6%"
    assert 0.12 < broad / total < 0.125  # section 4.3's "12% (35M/294M)"
