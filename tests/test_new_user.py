"""The new-user checklist (issue "What a user hits first"): each test is one thing a user
tried, numbered as in the issue's "Why"."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mfsearch import data
from mfsearch.cli import main
from mfsearch.errors import UserError
from mfsearch.latency.measure import LatencyReport, Timing, warnings_for
from mfsearch.latency.settings import LatencySettings
from mfsearch.proxy.config import ProxyConfig
from mfsearch.proxy.train import train_proxy
from mfsearch.nas.run import output_lock
from mfsearch.families import load_model_spec, spec_from_yaml

QUICK = ["--trials", "1", "--finalists", "0", "--proxy-steps", "2", "--proxy-res", "16"]
REPO = Path(__file__).resolve().parent.parent


def images(root: Path, classes=("cat", "dog"), per_class=4, size=24) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
                root / c / f"{i}.png")
    return root


def one_line_error(capsys, argv) -> str:
    capsys.readouterr()  # what earlier commands printed (progress goes to stderr too)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    return err


# 1. A resumed study with other settings stops before training; the same settings resume.
def test_1_a_rerun_with_another_band_or_proxy_is_refused(tmp_path, capsys):
    out = str(tmp_path / "R")
    assert main(["budget", "150M", *QUICK, "--out", out]) == 0
    err = one_line_error(capsys, ["budget", "200M", *QUICK, "--out", out])
    assert "band.budget was 150000000 there, 200000000 now" in err and "new --out" in err
    err = one_line_error(capsys, ["budget", "150M", *QUICK[:-2], "--proxy-res", "24",
                                  "--out", out])
    assert "proxy.resolution was 16 there, 24 now" in err
    assert main(["budget", "150M", *QUICK, "--out", out]) == 0  # identical: resumes


# 2. train/ and val/ are the split, not two classes; memory is uint8 at the proxy's size.
def test_2_train_and_val_folders_are_the_split(tmp_path):
    root = tmp_path / "ds"
    images(root / "train")
    images(root / "val", per_class=2)
    ds = data.load(root, load_size=16)
    assert ds.num_classes == 2 and ds.sizes() == (8, 4)
    assert ds.describe(16) == ("imagefolder:ds: 2 classes, 8 train / 4 held-out (val/) images, "
                               "at 16 px")
    assert ds._train[0].dtype.is_floating_point is False and ds._train[0].shape[-1] == 16
    images(tmp_path / "odd" / "train")
    images(tmp_path / "odd" / "valid", classes=("cat", "cow"))
    with pytest.raises(UserError, match="train/ and valid/ hold different classes"):
        data.load(tmp_path / "odd")


def test_2_a_batch_larger_than_the_data_is_refused(tmp_path):
    images(tmp_path / "small")
    ds = data.load(tmp_path / "small", load_size=16)
    with pytest.raises(UserError, match="--proxy-batch 64 is more than the 6 training images"):
        ds.check_batch(64)


# 3. A second search on a folder in use exits 2 with one line; the first is untouched.
def test_3_one_process_per_output_folder(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    with output_lock(out):
        err = one_line_error(capsys, ["budget", "150M", *QUICK, "--out", str(out)])
    assert "is in use by a running search (pid" in err
    assert not (out / "study.db").exists()


# 4. Seeds outside what the samplers take are refused before anything starts.
@pytest.mark.parametrize("seed", ["-1", "99999999999"])
def test_4_seed_range(capsys, tmp_path, seed):
    err = one_line_error(capsys, ["budget", "150M", "--seed", seed, "--out", str(tmp_path)])
    assert "expected an integer seed in [0, 4294967295]" in err


# 5. Importing the CLI loads no torch, fvcore, optuna or matplotlib.
def test_5_the_cli_starts_without_heavy_imports():
    code = ("import sys, mfsearch.cli.main; print(sorted(m for m in ('torch', 'fvcore', "
            "'optuna', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# 6. Tables fit 80 columns (nothing cut), COLUMNS is honoured when piped, JSON everywhere.
@pytest.mark.parametrize("argv", [["cost", "294m"], ["variants"], ["variants", "--family",
                                                                    "iformer"]])
def test_6_tables_fit_80_columns(argv):
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run([sys.executable, "-m", "mfsearch", *argv], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out


def test_6_json_for_variants_check_and_budget(tmp_path, capsys):
    assert main(["variants", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["variants"]
    assert rows[0]["variant"] == "mobile-former-26m" and rows[0]["madds_vs_published_pct"] == -1.62
    assert main(["check", "26m", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["budget", "150M", *QUICK, "--format", "json", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["trained"] == 1 and summary["best"]["madds"] <= 150_000_000
    assert "data: builtin-bearings" in captured.err  # the progress went to stderr


# 7. Shipped spaces by name, from any folder.
def test_7_spaces_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["spaces"]) == 0
    assert "iformer          family iformer" in capsys.readouterr().out
    assert main(["spaces", "show", "iformer"]) == 0
    assert "family: iformer" in capsys.readouterr().out
    err = one_line_error(capsys, ["budget", "1.1G", "--space", "nope"])
    assert "shipped spaces (by name): iformer, mobile_former" in err
    err = one_line_error(capsys, ["budget", "50M", "--space", "iformer"])
    assert "outside what the space iformer (shipped) can reach" in err


# 8. A spec states every field or names a base; best.yaml says where it came from.
def test_8_a_spec_missing_fields_is_an_error_or_has_a_base(tmp_path, capsys):
    full = load_model_spec("151m").to_dict()
    partial = {k: v for k, v in full.items() if k not in ("tokens", "dropout")}
    with pytest.raises(UserError, match="missing dropout, tokens: a spec states every field"):
        spec_from_yaml(json.dumps(partial))
    based = spec_from_yaml("base: mobile-former-151m\nname: mine\ntokens: 4\n")
    assert based.tokens == 4 and based.blocks == load_model_spec("151m").blocks
    out = tmp_path / "run"
    assert main(["budget", "150M", *QUICK, "--out", str(out)]) == 0
    head = (out / "best.yaml").read_text().splitlines()[:4]
    assert head[0].startswith("# made by: mfsearch budget 150M")
    assert head[1].startswith("# date: ") and "mfsearch 0.1.0" in head[1]
    assert head[2].startswith("# trial ") and head[3].startswith("# band: [135.0M, 150.0M]")
    assert spec_from_yaml((out / "best.yaml").read_text()).name.startswith("search-best-trial")


# 9. Interrupted scoring keeps the training: the checkpoint is scored without retraining.
def test_9_scoring_resumes_from_the_trained_weights(tmp_path):
    spec = load_model_spec("26m")
    ds = data.builtin(train_size=128, val_size=64)
    cfg = ProxyConfig(steps=3, batch_size=16, resolution=16, bn_calibration=32)
    phases, steps = [], []
    first = train_proxy(spec, ds, cfg, progress=lambda n, loss: steps.append(n),
                        phase=phases.append, checkpoint=tmp_path / "w.pt")
    assert steps == [1, 2, 3] and phases == ["calibrating BatchNorm", "evaluating"]
    again = train_proxy(spec, ds, cfg, progress=lambda n, loss: steps.append(n),
                        checkpoint=tmp_path / "w.pt")
    assert steps == [1, 2, 3]  # no step ran the second time
    assert (again.accuracy, again.train_loss) == (first.accuracy, first.train_loss)


# 10. The small faults.
def test_10_report_commands_outside_a_checkout_need_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in (["report"], ["ablate"], ["plot"], ["compare"]):
        err = one_line_error(capsys, argv)
        assert "--out is needed here" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "README.md").write_text("# my notes\n")
    err = one_line_error(capsys, ["report", "--out", str(tmp_path / "mine")])
    assert "was not written by mfsearch" in err
    assert (tmp_path / "mine" / "README.md").read_text() == "# my notes\n"
    assert list((tmp_path / "mine").iterdir()) == [tmp_path / "mine" / "README.md"]
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "table7.md").write_text("mine\n")
    err = one_line_error(capsys, ["ablate", "--table", "7", "--out", str(tmp_path / "tables")])
    assert "table7.md: exists and was not written by mfsearch" in err
    assert main(["ablate", "--table", "5", "--out", str(tmp_path / "tables")]) == 0
    assert main(["ablate", "--table", "5", "--out", str(tmp_path / "tables")]) == 0  # ours


def test_10_overrides_are_named(capsys):
    assert main(["cost", "294m", "--set", "tokens=1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "mobile-former-294m [tokens=1]"


def test_10_a_broken_pipe_exits_quietly():
    shell = f"{sys.executable} -m mfsearch cost 294m | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "141" and "Traceback" not in done.stderr


def test_10_latency_warnings():
    report = LatencyReport(model="m", settings={}, machine={}, memory_format="contiguous",
                           latency=Timing(median_ms=10.0, iqr_ms=3.6, runs=10),
                           per_image_ms=10.0, throughput=None, pillars=None)
    found = warnings_for(report, LatencySettings(threads=64))
    assert any("--threads 64 is more than the" in w for w in found)
    assert any("the IQR is 36% of the median" in w for w in found)


def test_10_every_option_shows_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["budget", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("images per proxy step (default: 64)", "(default: 60)",
                     "image side the proxy trains at (default: 32)"):
        assert fragment in text


@pytest.mark.parametrize("name,variant", [("mobile_former_294m", "mobile-former-294m"),
                                          ("MF-294M", "mobile-former-294m"),
                                          ("iformer_t", "iformer-t")])
def test_10_names_users_type(capsys, name, variant):
    assert main(["cost", name, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == variant


def test_10_did_you_mean_and_the_flops_unit(capsys, tmp_path):
    assert "did you mean mobile-former-294m?" in one_line_error(capsys, ["cost", "mf-249m"])
    err = one_line_error(capsys, ["budget", "150MFLOPs", "--out", str(tmp_path)])
    assert ("budgets are MAdds (multiply-accumulates): 150M FLOPs as counted by "
            "2-FLOPs-per-MAC tools is 75M MAdds") in err
