"""Export to ONNX and ExecuTorch, engines in the latency harness, the lookup table and the
latency-budget search (tiny specs; timings are not asserted, machines are noisy)."""

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from mfsearch import families, save_model
from mfsearch.cli import main
from mfsearch.deploy import export_model, get_engine
from mfsearch.errors import UserError
from mfsearch.families import build_model, load_model_spec, spec_from_yaml
from mfsearch.families.iformer.pillars import PILLARS as IFORMER_PILLARS
from mfsearch.latency.settings import LatencySettings
from mfsearch.latency.table import LatencyTable
from mfsearch.models.fold import fold_batchnorm

from .test_latency import TINY_IFORMER
from .test_new_family import SPACE as TINYNET_SPACE, SPEC as TINYNET_SPEC
from .tinynet import FAMILY as TINYNET


def _engine(module: str, name: str):
    pytest.importorskip(module, reason=f"{module}'s wheel is not installed on this machine")
    return get_engine(name)


@pytest.fixture
def ort_engine():
    return _engine("onnxruntime", "onnxruntime")


@pytest.fixture
def et_engine():
    return _engine("executorch.runtime", "executorch")


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_IFORMER)
    return path


def test_onnx_export_round_trip_with_dynamic_batch_and_pillar_names(ort_engine, tiny, tmp_path,
                                                                    capsys):
    onnx = pytest.importorskip("onnx", reason="onnx's wheel is not installed on this machine")
    out, weights = tmp_path / "tiny.onnx", tmp_path / "tiny.safetensors"
    torch.manual_seed(0)
    model = build_model(spec_from_yaml(TINY_IFORMER), 32)
    save_model(model, weights)
    assert main(["export", "--weights", str(weights), str(tiny), "--res", "32", "--format",
                 "onnx", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "ONNX opset 18, dynamic batch" in said and "max rel diff" in said
    proto = onnx.load(str(out))
    assert proto.opset_import[0].version >= 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # batch is dynamic
    named = {n.name.split("/", 1)[0] for n in proto.graph.node}
    assert {"stem", "attention", "ffn", "head"} <= named <= {*IFORMER_PILLARS, "other"}
    # the file runs any batch, and agrees with the deployed torch model
    model = fold_batchnorm(model).eval()
    x = torch.randn(3, 3, 32, 32)
    got = ort_engine.load(out, threads=1).outputs(x)[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (3, 10) and np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_mobile_former_attention_and_bridges_export(ort_engine, tmp_path):
    model = build_model(load_model_spec("mobile-former-26m"), 64).eval()
    result = export_model(model, ort_engine, tmp_path / "mf.onnx", 64, name="26m")
    assert result.ok and result.batch == 2 and result.max_rel < 1e-4
    import onnx

    nodes = onnx.load(str(result.path)).graph.node
    pillars = {n.name.split("/", 1)[0] for n in nodes}
    assert {"mobile_to_former", "former", "former_to_mobile", "dyrelu", "mobile"} <= pillars
    # the node's module is in its name too: the bridge's attention of block 1
    assert any(n.name.startswith("mobile_to_former/blocks.0.mobile_to_former") and
               n.op_type == "Softmax" for n in nodes)


def test_backbone_exports_every_feature_map(ort_engine, tmp_path, capsys):
    out = tmp_path / "backbone.onnx"
    assert main(["export", "26m", "--backbone", "--res", "64x96", "--format", "onnx",
                 "--out", str(out)]) == 0
    session = ort_engine.load(out, threads=1)
    maps = session.outputs(torch.randn(1, 3, 64, 96))
    assert [m.shape[-2:] for m in maps] == [(8, 12), (4, 6), (2, 3)]


def test_executorch_export_round_trip(et_engine, tiny, tmp_path, capsys):
    out, weights = tmp_path / "tiny.pte", tmp_path / "tiny.safetensors"
    torch.manual_seed(0)
    model = build_model(spec_from_yaml(TINY_IFORMER), 32)
    save_model(model, weights)
    assert main(["export", str(tiny), "--weights", str(weights), "--res", "32", "--format",
                 "executorch", "--out", str(out), "--batch", "2"]) == 0
    said = capsys.readouterr().out
    assert "XNNPACK delegate, static batch" in said and "at batch 2" in said
    model = fold_batchnorm(model).eval()
    x = torch.randn(2, 3, 32, 32)
    got = et_engine.load(out, threads=1).outputs(x)[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


class _Histogram(nn.Module):
    def forward(self, x):
        return x + torch.histc(x, 4).sum()  # no ONNX translation, not in the core ATen set


class _Unexportable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.odd = _Histogram()

    def parts(self):
        return [("conv", self.conv), ("odd", self.odd)]

    def forward(self, x):
        return self.odd(self.conv(x))


@pytest.mark.parametrize("fixture", ["ort_engine", "et_engine"])
def test_a_model_that_cannot_export_fails_in_one_line_naming_op_and_block(fixture, request,
                                                                           tmp_path):
    engine = request.getfixturevalue(fixture)
    with pytest.raises(UserError) as err:
        export_model(_Unexportable(), engine, tmp_path / f"bad{engine.suffix}", 16, name="bad")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"cannot export bad to {engine.name}: aten.histc.default in odd")


def test_export_errors_are_one_line(ort_engine, tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["export", "26m", "--res", "32", "--format", "onnx", "--out",
                 str(blocked / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot write" in err


def test_latency_in_onnxruntime_has_engine_settings_and_pillars(ort_engine, tiny, capsys):
    assert main(["latency", str(tiny), "--res", "32", "--engine", "onnxruntime", "--min-time",
                 "0.02", "--throughput-batch", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["engine"] == f"onnxruntime {ort_engine.version()}"
    assert data["settings"]["engine"] == "onnxruntime" and data["memory_format"] == "contiguous"
    assert data["throughput"]["batch"] == 2
    names = [p["pillar"] for p in data["pillars"]]
    assert set(names) <= {*IFORMER_PILLARS, "other"} and {"stem", "attention", "head"} <= \
        set(names)
    assert all(p["ms"] > 0 for p in data["pillars"] if p["pillar"] != "other")


def test_latency_in_executorch_says_it_is_whole_model(et_engine, tiny, capsys):
    assert main(["latency", str(tiny), "--res", "32", "--engine", "executorch", "--min-time",
                 "0.02"]) == 0
    said = capsys.readouterr().out
    assert f"settings: executorch {et_engine.version()}, batch 1" in said
    assert "whole-model time only" in said and "static batch" in said


@pytest.mark.parametrize("argv,message", [
    (["--engine", "tensorrt"], "--engine: expected one of torch, onnxruntime, executorch"),
    (["--engine", "onnxruntime", "--memory-format", "channels_last"], "is torch's"),
])
def test_bad_engine_settings(argv, message, capsys):
    pytest.importorskip("onnxruntime", reason="onnxruntime's wheel is not installed")
    assert main(["latency", "26m", "--res", "32", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_lookup_table_is_per_engine(ort_engine, tmp_path, capsys):
    families.register(TINYNET)
    try:
        space = tmp_path / "space.yaml"
        space.write_text(TINYNET_SPACE)
        table, report = tmp_path / "lut.json", tmp_path / "lut.md"
        assert main(["latency-table", "--engine", "onnxruntime", "--space", str(space),
                     "--specs", "1", "--calibrate", "1", "--res", "32", "--min-time", "0.05",
                     "--table", str(table), "--report", str(report)]) == 0
        data = json.loads(table.read_text())
        assert data["settings"]["engine"] == "onnxruntime"
        assert data["machine"]["engine"] == ort_engine.label()
        assert all(json.loads(k)["engine"] == "onnxruntime" for k in data["entries"])
        text = report.read_text()
        assert f"engine {ort_engine.label()}" in text and "heldout-1" in text
        # the torch table of the same settings is another table
        with pytest.raises(UserError, match="other settings"):
            LatencyTable.open(table, LatencySettings(resolution=32, memory_format="contiguous"))
        # a budget in milliseconds searches under this engine's predicted latency (a band wide
        # enough for any machine's speed: the tiny net predicted 0.2-0.4 ms on a slow one)
        out = tmp_path / "run"
        assert main(["budget", "100ms", "--engine", "onnxruntime", "--space", str(space),
                     "--res", "32", "--latency-table", str(table), "--trials", "2",
                     "--proxy-steps", "2", "--tolerance", "0.99999", "--finalists", "0",
                     "--out", str(out)]) == 0
        with (out / "trials.csv").open() as fh:
            rows = [r for r in csv.DictReader(fh) if r["state"] == "trained"]
        assert len(rows) == 2 and all(float(r["latency_ms"]) > 0 for r in rows)
        assert "onnxruntime" in (out / "report.md").read_text()
    finally:
        families.unregister(TINYNET.name)


def test_node_names_follow_the_deepest_pillar():
    from mfsearch.deploy.onnx import node_pillar

    pillars = {"blocks.0": "mobile", "blocks.0.dyrelu": "dyrelu"}
    assert node_pillar(["blocks.0", "blocks.0.dyrelu", "blocks.0.dyrelu.fc"], pillars) == \
        "dyrelu"
    assert node_pillar(["blocks.0", "blocks.0.conv"], pillars) == "mobile"
    assert node_pillar([], pillars) == "other"



def test_a_missing_runtime_says_what_to_install(monkeypatch, capsys):
    from mfsearch.deploy.onnx import OnnxRuntimeEngine

    monkeypatch.setattr(OnnxRuntimeEngine, "modules", ("no_such_runtime_module",))
    assert main(["latency", "26m", "--engine", "onnxruntime"]) == 2
    err = capsys.readouterr().err
    assert "--engine onnxruntime needs onnxruntime (pip install 'mfsearch[deploy]')" in err
    assert err.count("\n") == 1


def test_executorch_lookup_table_times_blocks_exported_alone(et_engine, tmp_path):
    families.register(TINYNET)
    try:
        spec = spec_from_yaml(TINYNET_SPEC)
        settings = LatencySettings(resolution=32, min_time=0.02, warmup=1,
                                   memory_format="contiguous", engine="executorch")
        table = LatencyTable.open(tmp_path / "lut.json", settings)
        table.part_time = 0.02
        predicted = table.predict(spec)
        assert predicted.measured == len(table.entries) == 5  # stem, 3 blocks, head
        assert all(json.loads(k)["engine"] == "executorch" for k in table.entries)
        assert predicted.total_ms > 0
    finally:
        families.unregister(TINYNET.name)


def test_engines_report_checks_and_times_every_variant_in_each_engine(ort_engine, tmp_path,
                                                                      capsys):
    out = tmp_path / "engines"
    assert main(["engines", "--engines", "torch,onnxruntime", "--max-madds", "3e7",
                 "--min-time", "0.05", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "latency.csv").read_text().splitlines()))
    assert {(r["model"], r["engine"]) for r in rows} == {
        (m, e) for m in ("mobile-former-26m", "mobilenetv3-small-050")
        for e in ("torch", "onnxruntime")}
    assert all(float(r["latency_ms"]) > 0 for r in rows)
    assert all(float(r["max_rel_diff"]) < 1e-4 for r in rows if r["engine"] == "onnxruntime")
    shares = [r for r in csv.DictReader((out / "pillars.csv").read_text().splitlines())
              if r["model"] == "mobile-former-26m" and r["engine"] == "onnxruntime"]
    assert {"former", "dyrelu", "mobile_to_former"} <= {r["pillar"] for r in shares}
    text = (out / "engines.md").read_text()
    assert ">= 0.05 s of runs" in text and "Exports that failed: none." in text
    assert (out / "madds_vs_latency.png").stat().st_size > 0
