"""Analytic counts must equal fvcore's, pillar by pillar, on the torch model built from the spec."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfsearch.cost.fvcore_count import count_model
from mfsearch.families import analyze, counted_model, load_model_spec, variant_names
from mfsearch.families.mobile_former.model import build_model
from mfsearch.families.mobile_former import MobileFormerSpec


def assert_agree(spec, resolution: int) -> None:
    """Any family: params and every pillar's MAdds of the analytic model equal fvcore's count
    of the torch model the cost describes (iFormer's with BatchNorm folded)."""
    model = counted_model(spec, resolution)
    cost = analyze(spec, resolution)
    pillars = cost.pillar_names
    assert sum(p.numel() for p in model.parameters()) == cost.params
    for convention in ("core", "fvcore"):
        counted = count_model(model, resolution, convention)
        assert counted.unattributed == 0
        assert counted.total == cost.madds(convention)
        for pillar in pillars:
            assert counted.pillars[pillar] == cost.pillar(pillar).madds(convention), (
                convention, pillar)
    assert counted.params == {p: cost.pillar(p).params for p in pillars}


@pytest.mark.parametrize("name", variant_names())
def test_variants_agree_at_224(name):
    assert_agree(load_model_spec(name), 224)


@pytest.mark.parametrize("name,resolution", [("mobile-former-26m", 160),
                                             ("mobile-former-151m", 193),
                                             ("mobile-former-294m", 256),
                                             ("mobile-former-96m", 97)])
def test_variants_agree_at_other_resolutions(name, resolution):
    assert_agree(load_model_spec(name), resolution)


ABLATIONS = [
    {"former": False, "activation": "relu"},  # Table 5: Mobile alone
    {"activation": "relu"},  # Table 5: + Former and bridge
    {"dw_kernel": 5},  # Table 6
    {"tokens": 1}, {"tokens": 9},  # Table 7
    {"token_dim": 64}, {"token_dim": 320},  # Table 8
    {"former_ffn": False},  # Table 9
    {"former_attention": "mlp"},  # Table 9
]


@pytest.mark.parametrize("changes", ABLATIONS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_ablation_switches_agree(mf294, changes):
    assert_agree(mf294.replace(**changes), 224)


def test_mlp_ablation_on_grouped_model_at_other_resolution():
    spec = load_model_spec("mobile-former-26m").replace(former_attention="mlp", dw_kernel=5)
    assert_agree(spec, 128)


def test_counts_do_not_depend_on_grad_mode(mf294):
    """fvcore traces with grad enabled inside count_model; a caller's no_grad must not matter."""
    model = build_model(mf294)
    with torch.no_grad():
        inside = count_model(model, 224, "core").total
    assert inside == count_model(model, 224, "core").total == analyze(mf294).madds("core")


@st.composite
def small_specs(draw):
    """Random valid tiny specs: widths multiples of 8 so groups 1/2/4 and 2 heads divide them."""
    groups = draw(st.sampled_from([1, 2, 4]))
    former = draw(st.booleans())
    width = st.integers(1, 6).map(lambda k: 8 * k)
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        stride = draw(st.sampled_from([1, 2]))
        expand = draw(st.sampled_from([1, 2, 3, 4, 6] if stride == 2 else [1.5, 2, 3, 4.5, 6]))
        blocks.append({"out": draw(width), "stride": stride, "expand": expand,
                       "expand2": draw(st.integers(1, 4))})
    heads = draw(st.sampled_from([1, 2, 4]))
    return MobileFormerSpec.from_dict({
        "name": "random", "stem": draw(width), "groups": groups,
        "bneck_lite": {"out": draw(width), "expand": draw(st.integers(1, 3)),
                       "stride": draw(st.sampled_from([1, 2]))},
        "blocks": blocks, "head_conv": draw(width), "fc1": draw(st.integers(8, 64)),
        "num_classes": draw(st.integers(2, 20)), "tokens": draw(st.integers(1, 8)),
        "token_dim": 8 * draw(st.integers(1, 8)), "former_heads": heads,
        "bridge_heads": draw(st.sampled_from([1, 2, 4, 8])),
        "ffn_ratio": draw(st.integers(1, 4)), "dw_kernel": draw(st.sampled_from([1, 3, 5, 7])),
        "former": former,
        "activation": draw(st.sampled_from(["dyrelu", "relu"])) if former else "relu",
        "former_ffn": draw(st.booleans()),
        "former_attention": draw(st.sampled_from(["mha", "mlp"])),
    }), draw(st.integers(24, 96))


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_specs())
def test_random_specs_agree(spec_and_res):
    spec, resolution = spec_and_res
    assert_agree(spec, resolution)
