"""MobileNetV3 against timm (random init, no download): parameters to the unit, the analytic core
MAdds against fvcore on timm's model block by block, logits with timm's weights loaded, and the
family everywhere a family appears."""

import json
from functools import partial

import pytest
import torch

import mfsearch
from mfsearch.cli import main
from mfsearch.families import all_families
from tests.reference import assert_matches, randomised

timm = pytest.importorskip("timm", reason="timm is a test dependency: pip install -e '.[test]'")
from fvcore.nn import FlopCountAnalysis  # noqa: E402
from fvcore.nn.jit_handles import addmm_flop_jit, conv_flop_jit, linear_flop_jit  # noqa: E402
from timm.layers import get_act_layer  # noqa: E402
from timm.models._efficientnet_blocks import SqueezeExcite  # noqa: E402
from timm.models._efficientnet_builder import decode_arch_def, round_channels  # noqa: E402
from timm.models.mobilenetv3 import MobileNetV3  # noqa: E402

WIDTHS = {"large-075": 0.75, "large-100": 1.0, "large-125": 1.25, "small-050": 0.5,
          "small-075": 0.75, "small-100": 1.0}
VARIANTS = [f"mobilenetv3-{v}" for v in WIDTHS]


# timm's MobileNetV3-Large definition (timm/models/mobilenetv3.py, `_gen_mobilenet_v3`).
LARGE = [["ds_r1_k3_s1_e1_c16_nre"], ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
         ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
         ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
         ["ir_r2_k3_s1_e6_c112_se0.25"], ["ir_r3_k5_s2_e6_c160_se0.25"], ["cn_r1_k1_s1_c960"]]


def timm_model(variant: str) -> torch.nn.Module:
    """timm's model of a shipped variant: its registered name, or (Large 1.25x, which the
    Mobile-Former paper compares with and timm does not register) timm's MobileNetV3 class
    built as timm's generator builds Large, with the 1.25 channel multiplier."""
    name = "mobilenetv3_" + variant.split("-", 1)[1].replace("-", "_")
    if name in timm.list_models("mobilenetv3_*"):
        return timm.create_model(name, pretrained=False)
    assert variant == "mobilenetv3-large-125"
    return MobileNetV3(
        block_args=decode_arch_def(LARGE), num_features=1280, stem_size=16, fix_stem=False,
        round_chs_fn=partial(round_channels, multiplier=1.25),
        act_layer=get_act_layer("hard_swish"),
        se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid",
                         force_act_layer=torch.nn.ReLU, rd_round_fn=round_channels))


@pytest.mark.parametrize("variant", VARIANTS)
def test_params_and_logits_equal_timm(variant, tmp_path):
    reference = randomised(timm_model(variant), seed=0)
    assert (sum(p.numel() for p in mfsearch.build_model(variant).parameters())
            == sum(p.numel() for p in reference.parameters()))
    assert_matches(reference, variant, tmp_path, 160)


def core_counts(model: torch.nn.Module, size: int) -> dict[str, int]:
    """fvcore's conv and linear multiply-adds of each module of `model` (no BN, no pool)."""
    analysis = FlopCountAnalysis(model.eval(), torch.zeros(1, 3, size, size))
    analysis.clear_op_handles()
    analysis.set_op_handle(**{"aten::_convolution": conv_flop_jit, "aten::addmm": addmm_flop_jit,
                              "aten::linear": linear_flop_jit})
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return {k: int(v) for k, v in analysis.by_module().items()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_core_madds_equal_fvcore_on_timm_block_by_block(variant):
    reference = timm_model(variant)
    counted = core_counts(reference, 224)
    cost = {b["name"]: b["madds"] for b in mfsearch.cost(variant, convention="core").blocks}
    timm_blocks = [f"blocks.{s}.{i}" for s, stage in enumerate(reference.blocks)
                   for i in range(len(stage))]
    assert len(timm_blocks) == len(cost) - 2  # our stem and head are not timm blocks
    assert cost["stem"] == counted["conv_stem"]
    for n, name in enumerate(timm_blocks[:-1], start=1):
        assert cost[f"block{n}"] == counted[name], name
    assert cost["final_conv"] == counted[timm_blocks[-1]]
    assert cost["head"] == counted["conv_head"] + counted["classifier"]
    assert sum(cost.values()) == counted[""]


@pytest.mark.parametrize("variant", VARIANTS)
def test_analytic_equals_fvcore_on_our_folded_model(variant):
    result = mfsearch.check(variant, resolution=160)
    assert result.ok, result.to_dict()


def test_backbone_maps_and_definition():
    model = mfsearch.load_model("mobilenetv3-large-100", resolution=(256, 320),
                                features_only=True)
    with torch.no_grad():
        maps = model(torch.zeros(1, 3, 256, 320))
    assert [tuple(m.shape) for m in maps] == [(1, 40, 32, 40), (1, 112, 16, 20),
                                              (1, 160, 8, 10)]
    # As the Mobile-Former paper's Table 4 counts MobileNetV3's backbone: 2.8M params.
    backbone = mfsearch.cost("mobilenetv3-large-100", backbone=True)
    unfolded = sum(p.numel() for p in model.parameters())
    assert round(unfolded / 1e6, 1) == 2.8
    assert backbone.params < unfolded  # the analytic count is of the BN-folded network
    assert mfsearch.check("mobilenetv3-small-100", resolution=(96, 128), backbone=True).ok


def test_family_everywhere(capsys, tmp_path):
    assert "mobilenetv3" in all_families()
    assert main(["variants", "--family", "mobilenetv3", "--format", "json"]) == 0
    rows = {r["variant"]: r for r in json.loads(capsys.readouterr().out)["variants"]}
    assert sorted(rows) == sorted(VARIANTS)
    assert rows["mobilenetv3-large-100"]["published_madds_M"] == 217
    assert main(["cost", "mobilenetv3-large-100", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["family"], data["madds"]) == ("mobilenetv3", 216_589_760)
    assert list(data["pillars"]) == ["stem", "blocks", "se", "head"]
    assert main(["latency", "mobilenetv3-small-050", "--res", "64", "--min-time", "0.01",
                 "--throughput-batch", "1", "--format", "json"]) == 0
    timed = json.loads(capsys.readouterr().out)
    assert [p["pillar"] for p in timed["pillars"]] == ["stem", "blocks", "se", "head", "other"]
    assert main(["latency-table", "--space", "mobilenetv3", "--specs", "2", "--calibrate", "0",
                 "--no-variants", "--res", "64", "--min-time", "0.01",
                 "--table", str(tmp_path / "lut.json"), "--report", str(tmp_path / "lut.md")]) == 0
    assert "mobilenetv3" in (tmp_path / "lut.md").read_text()
    capsys.readouterr()
    out = tmp_path / "run"
    assert main(["budget", "150M", "--space", "mobilenetv3", "--trials", "2", "--proxy-steps",
                 "2", "--tolerance", "0.5", "--finalists", "0", "--out", str(out)]) == 0
    assert (out / "best.yaml").read_text().count("family: mobilenetv3") == 1


def test_space_brackets_the_150m_band_and_samples_valid_specs():
    from mfsearch.space import load_space, random_specs

    space = load_space("mobilenetv3")
    low, high = (mfsearch.cost(space.extreme(smallest=s)).madds for s in (True, False))
    assert low < 150e6 < high
    assert low < mfsearch.cost("mobilenetv3-large-075").madds < high
    specs = list(random_specs(space, seed=0, max_tries=5))
    assert len(specs) == 5 and all(s.family == "mobilenetv3" for s in specs)
    assert all(low <= mfsearch.cost(s).madds <= high for s in specs)


def test_training_starts_from_a_zero_classifier_only_where_the_family_asks():
    from mfsearch.families import build_trainable, load_model_spec

    mnv3 = build_trainable(load_model_spec("mobilenetv3-small-075").replace(num_classes=8), 32)
    assert mnv3.get_classifier().weight.abs().sum().item() == 0.0
    assert mnv3.get_classifier().bias.abs().sum().item() == 0.0
    mf = build_trainable(load_model_spec("mobile-former-26m").replace(num_classes=8), 32)
    assert all(p.abs().sum().item() > 0 for n, p in mf.named_parameters()
               if n.endswith("weight") and p.ndim == 2)
