"""Rectangular inputs and detection backbones: feature shapes, channels, costs that agree with
fvcore, and Table 4 regenerated from its stated definition."""

import json

import pytest
import torch

import mfsearch
from mfsearch import UserError
from mfsearch.cli import main
from mfsearch.reports import ablations
from mfsearch.spec.geometry import Size, check_resolution, conv_out, parse_resolution


def test_resolutions_parse_to_a_side_or_a_size():
    assert parse_resolution("224") == 224
    assert parse_resolution("800x1333") == Size(800, 1333)
    assert parse_resolution("96X96") == 96  # a square is a side
    assert check_resolution((800, 1333)) == Size(800, 1333)
    assert conv_out(Size(800, 1333), 3, 2) == Size(400, 667)
    for bad, message in (("800x", "expected a resolution N or HxW"),
                         ("0x5", "height: must be between"), ("8x9999", "width: must be")):
        with pytest.raises(UserError, match=message):
            parse_resolution(bad)


def test_a_rectangular_cost_counts_each_side():
    """At H x W every map has ceil-halved sides; the stem conv alone shows it exactly."""
    cost = mfsearch.cost("151m", resolution="800x1333")
    stem = next(b for b in cost.blocks if b["name"] == "stem")
    assert (stem["res_in"], stem["res_out"]) == ("800x1333", "400x667")
    # conv 3x3 s2 3->C plus its BN (paper convention: 1 op per BN output element)
    c = mfsearch.load_spec("151m").stem
    assert stem["madds"] == 400 * 667 * (3 * 9 * c + c)
    assert cost.to_dict()["resolution"] == "800x1333"


def test_backbone_maps_at_800x1333():
    spec = mfsearch.load_spec("151m")
    model = mfsearch.load_model(spec, resolution=(800, 1333), features_only=True)
    with torch.no_grad():
        maps = model(torch.zeros(1, 3, 800, 1333))
    side = lambda n, s: n if s == 1 else side(-(-n // 2), s // 2)  # noqa: E731
    assert [tuple(m.shape) for m in maps] == [(1, c, side(800, s), side(1333, s))
                                              for c, s in zip(model.channels, (8, 16, 32))]
    assert [tuple(m.shape[2:]) for m in maps] == [(100, 167), (50, 84), (25, 42)]
    # The channels are the widths of the last block at each stride, read from the spec.
    strides, widths, stride = [], [], 2 * spec.bneck_lite.stride
    for block in spec.blocks:
        stride *= block.stride
        strides.append(stride)
        widths.append(block.out)
    assert model.channels == tuple(widths[max(i for i, s in enumerate(strides) if s == t)]
                                   for t in (8, 16, 32))
    assert model.feature_info == [{"stride": s, "channels": c}
                                  for s, c in zip((8, 16, 32), model.channels)]
    assert model.body.head is None and model.body.final_mobile_to_former is None


def test_stride_4_on_request_and_a_missing_stride_says_which_exist():
    model = mfsearch.load_model("iformer-t", resolution=(128, 192), features_only=True,
                                strides=(4, 8, 16, 32))
    with torch.no_grad():
        maps = model(torch.zeros(1, 3, 128, 192))
    assert [tuple(m.shape) for m in maps] == [(1, 32, 32, 48), (1, 64, 16, 24),
                                              (1, 128, 8, 12), (1, 256, 4, 6)]
    with pytest.raises(UserError, match="no feature map at stride 64; its maps are at strides "
                                        "4, 8, 16, 32"):
        mfsearch.load_model("iformer-t", features_only=True, strides=(64,))


@pytest.mark.parametrize("model", ["151m", "iformer-t"])
def test_backbone_costs_agree_with_fvcore_at_a_rectangular_size(model):
    result = mfsearch.check(model, resolution=(96, 160), backbone=True)
    assert result.ok, result.to_dict()
    assert result.to_dict()["resolution"] == "96x160" and result.backbone
    full = mfsearch.cost(model, resolution=(96, 160))
    backbone = mfsearch.cost(model, resolution=(96, 160), backbone=True)
    head = [b for b in full.blocks if b["name"] not in {x["name"] for x in backbone.blocks}]
    assert {b["name"] for b in head} == ({"head"} if model.startswith("iformer")
                                         else {"final_mobile_to_former", "head"})
    assert backbone.madds == full.madds - sum(b["madds"] for b in head)


def test_cli_backbone_and_rectangles(capsys):
    assert main(["cost", "151m", "--res", "800x1333", "--backbone", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backbone"] is True and data["resolution"] == "800x1333"
    assert data["params"] == mfsearch.cost("151m", backbone=True).params
    assert main(["check", "26m", "--res", "64x96", "--backbone"]) == 0
    assert "backbone @ 64x96" in capsys.readouterr().out
    assert main(["latency-table", "--res", "64x96"]) == 2
    assert "takes one number N" in capsys.readouterr().err


def test_table_4_follows_its_definition(tmp_path, capsys):
    table = ablations.select("4")[0]
    assert table.resolution == Size(800, 1333) and table.backbone
    frame = ablations.regenerate(table).frame
    for row, variant in zip(frame.itertuples(), ("151m", "214m", "294m", "508m")):
        cost = mfsearch.cost(variant, resolution=(800, 1333), backbone=True)
        assert (row.params, row.madds) == (cost.params, cost.madds)
    assert list(frame["paper AP"]) == [34.2, 35.8, 36.6, 38.0]
    assert main(["ablate", "--table", "4", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "table4.md").read_text()
    assert "800x1333; detection backbone (no classifier head)" in text
    assert "the classifier is left out" in text
