"""iFormer: counts equal the official code's (BN folded, fvcore), the analytic model equals fvcore
on our torch model, and folding BatchNorm keeps the function."""

import pytest
import torch

from mfsearch.families.iformer.cost import analyze
from mfsearch.errors import UserError
from mfsearch.families import (apply_overrides, build_model, counted_model, load_model_spec,
                               spec_from_yaml, spec_to_yaml, variant_names)
from mfsearch.models.fold import fold_batchnorm
from mfsearch.families.iformer.pillars import PILLARS as IFORMER_PILLARS
from tests.test_fvcore_agreement import assert_agree

# Official models/iformer.py run through the authors' flops.py procedure (BN fused, fvcore):
# params (M) and GMACs at 224, from shared/reference/iformer.md section 1.6.
OFFICIAL = {"iformer-t": (2.873, 0.5305), "iformer-s": (6.540, 1.0924),
            "iformer-m": (8.879, 1.6400), "iformer-l": (14.738, 2.8268),
            "iformer-l2": (24.455, 4.5311), "iformer-h": (99.408, 15.5297)}


def test_six_variants_ship_in_size_order():
    assert variant_names("iformer") == list(OFFICIAL)
    assert len(variant_names(None)) == 7 + 6 + 6  # Mobile-Former, iFormer, MobileNetV3


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_counts_equal_official(name):
    params_m, gmacs = OFFICIAL[name]
    cost = analyze(load_model_spec(name), 224)
    assert round(cost.params / 1e6, 3) == params_m
    assert round(cost.madds("fvcore") / 1e9, 4) == gmacs
    assert abs(cost.madds("paper") / 1e9 / gmacs - 1) < 0.005


def test_exact_counts_of_iformer_m():
    cost = analyze(load_model_spec("iformer-m"), 224)
    assert cost.params == 8_879_128
    assert cost.madds("core") == 1_639_944_384
    assert cost.madds("fvcore") == 1_639_944_384 + 384 * 49
    assert {k: round(v.madds("core") / 1e6, 1) for k, v in cost.pillars.items()} == {
        "stem": 217.7, "downsample": 97.5, "conv": 849.8, "cpe": 1.7, "attention": 212.7,
        "ffn": 260.1, "head": 0.4}


@pytest.mark.parametrize("name,resolution", [("iformer-t", 224), ("iformer-m", 224),
                                             ("iformer-t", 193), ("iformer-s", 97)])
def test_analytic_equals_fvcore_on_the_folded_model(name, resolution):
    spec = load_model_spec(name)
    model = counted_model(spec, resolution)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert analyze(spec, resolution).pillar_names == IFORMER_PILLARS
    assert_agree(spec, resolution)


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.mark.parametrize("name", ["iformer-t", "mobile-former-26m"])
def test_folding_batchnorm_keeps_the_function(name):
    torch.manual_seed(0)
    model = build_model(load_model_spec(name)).eval()
    _randomise_batchnorm(model)
    folded = fold_batchnorm(model)
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        ref, out = model(x), folded(x)
    assert torch.allclose(ref, out, atol=1e-4, rtol=1e-4)
    left = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    assert left == 0
    assert any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_model_structure_and_forward():
    spec = load_model_spec("iformer-t")
    model = build_model(spec).eval()
    assert [len(s) for s in model.stages] == [2, 3, 11, 3]  # downsample + blocks per stage
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


def test_spec_round_trip_and_overrides():
    spec = load_model_spec("iformer-l2")
    assert spec_from_yaml(spec_to_yaml(spec)) == spec
    changed = apply_overrides(spec, ["stages.3.attn=1", "ffn_ratio=2"])
    assert changed.stages[3].attn == 1 and changed.ffn_ratio == 2
    assert analyze(changed).params < analyze(spec).params


@pytest.mark.parametrize("text,message", [
    ("family: iformer\nname: x\nstages: [{width: 32, conv: 1}]",
     "stages: expected a list of 4 stages"),
    ("family: iformer\nname: x\nstages: [{width: 32, conv: 1}, {width: 64}, {width: 96, conv: 1},"
     " {width: 128, attn: 1}]", "stages[1]: a stage needs at least one block"),
    ("family: iformer\nname: x\nstages: [{width: 32, conv: 1}, {width: 64, conv: 1}, "
     "{width: 96, conv: 1}, {width: 130, attn: 1, qk_reduce: 4}]",
     "stages[3].qk_reduce: width 130 is not divisible by 4"),
    ("family: iformer\nname: x\nconv_kernel: 4\nstages: [{width: 32, conv: 1}, "
     "{width: 64, conv: 1}, {width: 96, conv: 1}, {width: 128, attn: 1}]",
     "conv_kernel: must be odd"),
    ("family: convnext\nname: x", "family: expected one of mobile-former, iformer"),
])
def test_bad_iformer_specs_name_the_key(text, message):
    with pytest.raises(UserError, match=None) as info:
        spec_from_yaml(text, "s.yaml")
    assert message in str(info.value) and str(info.value).startswith("s.yaml: ")


def test_iformer_space_samples_valid_specs_inside_its_range():
    import optuna

    from mfsearch.space import load_space

    space = load_space("spaces/iformer.yaml")
    lo = analyze(space.extreme(smallest=True), 224).madds("paper")
    hi = analyze(space.extreme(smallest=False), 224).madds("paper")
    assert (lo, hi) == (281_683_776, 3_444_240_416)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = 0
    for _ in range(30):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, 0.0)
        if spec is None:
            continue
        seen += 1
        assert spec.family == "iformer" and list(spec.widths) == sorted(spec.widths)
        assert lo <= analyze(spec, 224).madds("paper") <= hi
        assert spec.stages[2].conv_after == 1 and spec.stages[3].conv == 0
    assert seen >= 10


def test_side_by_side_report_files(tmp_path):
    import pandas as pd

    from mfsearch.latency.settings import LatencySettings
    from mfsearch.reports import families

    frame = pd.DataFrame([
        {"model": "mobile-former-26m", "family": "mobile-former", "params_M": 3.233,
         "madds_M": 25.6, "latency_ms": 18.0, "iqr_ms": 1.0, "memory_format": "contiguous",
         "top1": 64.0, "published_latency_ms": None, "published_device": None},
        {"model": "iformer-t", "family": "iformer", "params_M": 2.873, "madds_M": 530.5,
         "latency_ms": 23.0, "iqr_ms": 1.0, "memory_format": "contiguous", "top1": 74.1,
         "published_latency_ms": 0.6, "published_device": "iPhone 13 (CoreML)"}])
    path = families.write(frame, LatencySettings(), {"cpu": "test cpu", "torch": "2"}, tmp_path,
                          "mfsearch compare")
    text = path.read_text()
    assert "| mobile-former-26m | mobile-former |" in text and "nan" not in text
    assert "iFormer 43.4 ms" in text and "Mobile-Former 703.1 ms" in text  # per GMAC
    assert {p.name for p in tmp_path.iterdir() if p.name != ".mfsearch-written"} == {
        "side_by_side.md", "side_by_side.csv", "madds_vs_latency.png", "madds_vs_latency.svg"}
    # ... and it notes that it wrote them, so a rerun may overwrite them and nothing else.
    assert set((tmp_path / ".mfsearch-written").read_text().split()) == set(families.FILES)
