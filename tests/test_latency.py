"""The latency machinery on tiny models (timings themselves are not asserted: machines are noisy)."""

import csv
import json

import pytest
import torch

from mfsearch.cli import main
from mfsearch.errors import UserError
from mfsearch.families import (analyze, apply_overrides, build_model, load_model_spec,
                               spec_from_yaml)
from mfsearch.latency.measure import measure, pillar_times, prepare
from mfsearch.latency.settings import LatencySettings
from mfsearch.latency.table import LatencyTable, part_key
from mfsearch.families.iformer.pillars import PILLARS as IFORMER_PILLARS
from mfsearch.families.mobile_former.pillars import PILLARS
from mfsearch.nas.budget import parse_latency

TINY_IFORMER = """family: iformer
name: tiny-iformer
stages:
  - {width: 16, conv: 1}
  - {width: 16, conv: 1}
  - {width: 32, conv: 1, attn: 1, conv_after: 1, qk_reduce: 2}
  - {width: 32, attn: 1, qk_reduce: 4}
conv_ratio: 4
ffn_ratio: 3
conv_kernel: 7
cpe_kernel: 3
stem_kernel: 5
stem_expand: 4
num_classes: 10
layer_scale: 0.0
"""
FAST = LatencySettings(resolution=32, min_time=0.02, warmup=1, memory_format="contiguous")


@pytest.fixture
def tiny():
    return spec_from_yaml(TINY_IFORMER)


def test_measure_reports_median_iqr_throughput_and_pillars(tiny):
    torch.set_num_threads(2)
    report = measure(build_model(tiny, 32), tiny.name, FAST, throughput_batch=4,
                     breakdown_runs=3)
    assert torch.get_num_threads() == 2  # the caller's thread count is restored
    assert report.latency.median_ms > 0 and report.latency.iqr_ms >= 0
    assert report.latency.runs >= 1
    assert report.settings["threads"] == 1 and report.memory_format == "contiguous"
    assert report.throughput["batch"] == 4 and report.throughput["images_per_s"] > 0
    assert list(report.pillars) == [*IFORMER_PILLARS, "other"]
    assert all(v >= 0 for k, v in report.pillars.items() if k != "other")
    assert {"cpu", "torch"} <= set(report.machine)


def test_pillar_times_are_exclusive_for_nested_pillars():
    spec = load_model_spec("mobile-former-26m")
    model = prepare(build_model(spec, 32), FAST, "contiguous")
    times = pillar_times(model, torch.randn(1, 3, 32, 32), runs=2, sync=False)
    # DyReLU generators live inside Mobile blocks, yet get their own (exclusive) time
    assert set(times) == {*PILLARS, "other"}
    assert times["dyrelu"] > 0 and times["mobile"] > 0


def test_auto_memory_format_picks_one_of_both(tiny):
    settings = LatencySettings(resolution=32, min_time=0.02, warmup=1)
    report = measure(build_model(tiny, 32), tiny.name, settings, throughput_batch=None,
                     breakdown=False)
    assert report.memory_format in ("contiguous", "channels_last")


def test_lookup_table_measures_each_block_shape_once_and_persists(tiny, tmp_path):
    path = tmp_path / "lut.json"
    table = LatencyTable.open(path, FAST)
    before = torch.get_num_threads()
    first = table.predict(tiny)
    keys = {part_key(tiny, p) for p in analyze(tiny, 32).parts}
    assert first.measured == len(keys) == len(table.entries)
    assert [p["name"] for p in first.parts] == [p.name for p in analyze(tiny, 32).parts]
    assert first.total_ms == pytest.approx(sum(p["ms"] for p in first.parts))
    again = table.predict(tiny)
    assert again.measured == 0 and again.total_ms == first.total_ms
    reopened = LatencyTable.open(path, FAST)
    assert reopened.entries == table.entries
    assert torch.get_num_threads() == before
    assert reopened.predict(tiny).measured == 0
    # a wider stage 4 reuses every block of stages 1-3
    wider = apply_overrides(tiny, ["stages.3.width=64"])
    assert reopened.predict(wider).measured == 3  # downsample, attention block, head


def test_block_keys_ignore_head_only_fields():
    spec = load_model_spec("mobile-former-26m")
    other = apply_overrides(spec, ["fc1=1280"])
    a, b = analyze(spec, 32).parts, analyze(other, 32).parts
    same = [part_key(spec, p) == part_key(other, q) for p, q in zip(a, b)]
    assert same[-1] is False and all(same[:-1])


def test_table_refuses_other_settings_and_corrupt_files(tiny, tmp_path):
    path = tmp_path / "lut.json"
    LatencyTable.open(path, FAST).predict(tiny)
    with pytest.raises(UserError, match="other settings"):
        LatencyTable.open(path, LatencySettings(resolution=64, memory_format="contiguous"))
    path.write_text("[1, 2")
    with pytest.raises(UserError, match="not a latency table"):
        LatencyTable.open(path, FAST)
    with pytest.raises(UserError, match="one memory format"):
        LatencyTable.open(tmp_path / "x.json", LatencySettings(memory_format="auto"))


@pytest.mark.parametrize("text,ms", [("12ms", 12.0), ("800us", 0.8), ("0.012s", 12.0),
                                     ("1e1 ms", 10.0), ("150M", None), ("0.15G", None)])
def test_latency_budgets_need_a_time_unit(text, ms):
    assert parse_latency(text) == ms


def test_latency_command_json(tmp_path, capsys):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_IFORMER)
    code = main(["latency", str(spec), "--res", "32", "--min-time", "0.02",
                 "--throughput-batch", "2", "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "tiny-iformer" and data["settings"]["resolution"] == 32
    assert data["params"] == analyze(spec_from_yaml(TINY_IFORMER), 32).params
    assert [p["pillar"] for p in data["pillars"]] == [*IFORMER_PILLARS, "other"]
    assert sum(p["madds"] for p in data["pillars"]) == data["madds"]


def test_latency_budget_search_records_predicted_latency(tmp_path, capsys):
    out, table = tmp_path / "run", tmp_path / "lut.json"
    common = ["--res", "64", "--latency-table", str(table), "--memory-format", "contiguous"]
    assert main(["budget", "0.001ms", *common]) == 2
    assert "predicted latency" in capsys.readouterr().err  # the reachable range, in ms
    # a band from 1 ms to 1 s: every candidate of the space on any machine
    assert main(["budget", "1s", "--trials", "2", "--proxy-steps", "2", "--tolerance", "0.999",
                 "--finalists", "0", "--out", str(out), *common]) == 0
    with (out / "trials.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["state"] == "trained"]
    assert len(rows) == 2 and all(float(r["latency_ms"]) > 0 for r in rows)
    report = (out / "report.md").read_text()
    assert "predicted latency (lookup table" in report and "latency (ms)" in report
    assert json.loads(table.read_text())["entries"]


def test_calibration_scale_is_per_family_and_persists(tiny, tmp_path):
    path = tmp_path / "lut.json"
    table = LatencyTable.open(path, FAST)
    raw = table.predict(tiny).blocks_ms
    wider = apply_overrides(tiny, ["stages.3.width=64"])
    raw_wider = table.predict(wider).blocks_ms
    scale = table.calibrate([tiny, wider], [2 * raw, 3 * raw_wider])
    assert scale == pytest.approx(2.5)
    assert table.predict(tiny).total_ms == pytest.approx(2.5 * raw)
    mf = load_model_spec("mobile-former-26m")
    assert table.predict(mf).total_ms == table.predict(mf).blocks_ms  # not calibrated
    reopened = LatencyTable.open(path, FAST)
    assert reopened.scale("iformer") == pytest.approx(2.5) and reopened.scale("mobile-former") == 1
    assert reopened.calibration["iformer"]["specs"] == ["tiny-iformer", "tiny-iformer"]
