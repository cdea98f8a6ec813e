"""Ablation tables from spec switches, the published-results plots, and the reports folder."""

from pathlib import Path

import pandas as pd
import pytest

from mfsearch.cli import main
from mfsearch.families.mobile_former.cost import analyze
from mfsearch.errors import UserError
from mfsearch.reports import ablations
from mfsearch.reports.published import load_published, pick_families
from mfsearch.families import load_model_spec

REPO = Path(__file__).resolve().parents[1]


def table(tid, **kw):
    return ablations.regenerate(ablations.select(tid)[0], **kw).frame


def cells(frame):
    return {r["row"]: (r["params"], r["madds"]) for _, r in frame.iterrows()}


def test_token_rows_computed_from_switches():
    assert cells(table("7")) == {"1": (11_421_688, 267_025_024), "3": (11_422_072, 277_723_264),
                                 "6": (11_422_648, 293_833_984), "9": (11_423_224, 310_020_736)}


def test_token_dim_rows_computed_from_switches():
    assert cells(table("8")) == {"64": (7_333_496, 275_080_448), "128": (9_085_208, 282_812_672),
                                 "192": (11_422_648, 293_833_984),
                                 "256": (14_345_816, 308_144_384),
                                 "320": (17_854_712, 325_743_872)}


def test_former_kernel_and_attention_rows():
    assert cells(table("5")) == {"Mobile (ReLU)": (6_140_056, 257_146_240),
                                 "+ Former and bridge": (10_103_992, 289_660_288),
                                 "+ DY-ReLU in Mobile": (11_422_648, 293_833_984)}
    assert cells(table("6"))["5x5"] == (11_535_544, 325_444_864)
    assert cells(table("9")) == {"MHA + FFN": (11_422_648, 293_833_984),
                                 "MHA, no FFN": (9_790_072, 284_101_888),
                                 "MLP + FFN": (10_753_953, 283_841_536)}


def test_table2_rows_are_the_variants_with_paper_cells():
    frame = table("2")
    assert list(frame["params"]) == [3_232_788, 3_469_092, 4_585_252, 7_595_828, 9_425_920,
                                     11_422_648, 13_976_976]
    assert list(frame["paper top-1"]) == [64.0, 68.7, 72.8, 75.2, 76.7, 77.9, 79.3]


def test_other_base_model_drops_the_papers_cells():
    frame = table("7", base_model="mobile-former-151m")
    assert frame["paper top-1"].isna().all() and frame["paper params (M)"].isna().all()
    # 151M has 6 tokens of 192 too, so its "6" row is the variant itself
    variant = analyze(load_model_spec("mobile-former-151m"), 224)
    assert cells(frame)["6"] == (variant.params, variant.madds("paper")) == (7_595_828,
                                                                               150_814_896)
    assert table("7", resolution=160)["paper top-1"].isna().all()


def test_unknown_table_is_a_user_error():
    with pytest.raises(UserError, match="unknown table '3'; choose one of 2, 4, 5, 6, 7, 8, 9"):
        ablations.select("3")


def test_committed_tables_equal_a_fresh_regeneration(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 0
    for tid in ablations.TABLE_IDS:
        for ext in ("csv", "md"):
            committed = REPO / "reports" / "ablations" / f"table{tid}.{ext}"
            fresh = tmp_path / "ablations" / f"table{tid}.{ext}"
            assert committed.read_text() == fresh.read_text(), f"{committed} is stale: run " \
                                                               "`mfsearch report`"
    for stem in ("published_madds", "published_params", "published_latency", "pillars"):
        assert (tmp_path / "plots" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert "<svg" in (tmp_path / "plots" / f"{stem}.svg").read_text()[:2000]
    index = (tmp_path / "README.md").read_text()
    assert "ablations/table7.md" in index and "plots/pillars.png" in index


def test_ablate_train_adds_a_proxy_column(tmp_path, capsys):
    code = main(["ablate", "--table", "6", "--model", "26m", "--train", "--proxy-steps", "2",
                 "--proxy-batch", "8", "--out", str(tmp_path)])
    assert code == 0
    frame = pd.read_csv(tmp_path / "table6.csv")
    assert list(frame["row"]) == ["3x3", "5x5"]
    # A percent, like the paper's top-1 beside it (a fraction would read as ~1% accuracy).
    assert frame["proxy top-1"].between(0, 100).all()
    assert all(round(v, 1) == v for v in frame["proxy top-1"])
    md = (tmp_path / "table6.md").read_text()
    assert "Base model: mobile-former-26m" in md and "not ImageNet accuracy" in md


@pytest.mark.parametrize("argv, message", [
    (["ablate", "--table", "10"], "unknown table '10'"),
    (["ablate", "--model", "nope"], "nope"),
    (["plot", "--families", "Mobile-Former,NoSuchNet"], "unknown family 'NoSuchNet'"),
    (["plot", "--study", "/nonexistent-study"], "no trials.csv"),
])
def test_report_commands_reject_bad_input(tmp_path, capsys, argv, message):
    assert main(argv + ["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_published_data_and_families():
    frame = load_published()
    mf = frame[frame["family"] == "Mobile-Former"]
    assert sorted(mf["madds_M"]) == [26, 52, 96, 151, 214, 294, 508]
    assert pick_families(frame, None)[0] == "Mobile-Former"
    assert len(pick_families(frame, ["all"])) == frame["family"].nunique()


def test_plot_study_panel(tmp_path, capsys):
    study = tmp_path / "run"
    study.mkdir()
    pd.DataFrame({"trial": [0, 1, 2, 3], "state": ["trained", "trained", "infeasible", "trained"],
                  "madds": [140e6, 145e6, 170e6, 149e6],
                  "proxy_score": [-1.9, -1.7, None, -1.8]}).to_csv(study / "trials.csv")
    assert main(["plot", "--out", str(tmp_path / "p"), "--study", str(study), "--families",
                 "Mobile-Former,MobileNetV3", "--logx"]) == 0
    assert (tmp_path / "p" / "study.png").stat().st_size > 10_000
    assert (tmp_path / "p" / "study.svg").exists()
