"""The analysis commands: output formats, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from mfsearch.cli import main
from mfsearch.families.mobile_former import cost as formulas


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_variants_lists_seven_with_counts(capsys):
    code, out, _ = run(capsys, "variants")
    assert code == 0
    assert out.count("mobile-former-") == 7
    assert "11,422,648" in out and "293.834M" in out and "-0.06%" in out


def test_cost_json_schema_and_integers(capsys):
    code, out, _ = run(capsys, "cost", "mobile-former-294m", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"model", "family", "resolution", "backbone", "convention", "params", "madds", "pillars", "blocks"}
    assert (data["model"], data["resolution"], data["convention"]) == ("mobile-former-294m", 224, "paper")
    assert data["params"] == 11_422_648 and data["madds"] == 293_833_984
    assert list(data["pillars"]) == ["stem", "bneck_lite", "mobile", "dyrelu", "mobile_to_former",
                                     "former", "former_to_mobile", "head"]
    assert sum(p["madds"] for p in data["pillars"].values()) == data["madds"]
    assert sum(b["madds"] for b in data["blocks"]) == data["madds"]
    assert all(isinstance(p["madds"], int) and isinstance(p["params"], int)
               for p in data["pillars"].values())
    assert [b["name"] for b in data["blocks"]][:4] == ["tokens", "stem", "bneck_lite", "block1"]


def test_cost_overrides_and_conventions(capsys):
    code, out, _ = run(capsys, "cost", "294m", "--set", "tokens=1", "--set", "token_dim=64",
                       "--convention", "core", "--res", "256", "--format", "json")
    data = json.loads(out)
    assert code == 0 and (data["resolution"], data["convention"]) == (256, "core")
    assert data["pillars"]["former"]["madds"] == 11 * (6 * 1 * 64 ** 2 + 2 * 1 * 64)


def test_cost_csv_and_table(capsys):
    code, out, _ = run(capsys, "cost", "52m", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("model,resolution,convention,section,name,kind")
    assert lines[-1].startswith("mobile-former-52m,224,paper,total,total,")
    code, out, _ = run(capsys, "cost", "52m")
    assert code == 0 and "Former + bridge" in out and "convention paper" in out


def test_check_agrees(capsys):
    code, out, _ = run(capsys, "check", "26m", "--res", "128")
    assert code == 0 and "agree exactly" in out and "MISMATCH" not in out


def test_check_reports_disagreement(capsys, monkeypatch):
    original = formulas.former

    def off_by_one(spec):
        return original(spec) + formulas.Counts(core=1)

    monkeypatch.setattr(formulas, "former", off_by_one)
    code, out, _ = run(capsys, "check", "26m", "--res", "64")
    assert code == 1 and "MISMATCH" in out and "DISAGREE" in out


@pytest.mark.parametrize("argv,message", [
    (["cost", "nope"], "unknown model 'nope'"),
    (["cost", "294m", "--set", "foo=1"], "--set foo: unknown key"),
    (["cost", "294m", "--set", "tokens=0"], "tokens: must be between 1 and 256, got 0"),
    (["cost", "/no/such.yaml"], "/no/such.yaml: no such spec file"),
    (["cost", "294m", "--res", "abc"], "expected a resolution N or HxW (e.g. 224 or 800x1333), got 'abc'"),
    (["cost", "294m", "--res", "-5"], "resolution: must be between 1 and 4096, got -5"),
    (["check", "294m", "--set", "token_dim=190"], "token_dim: 190 is not divisible"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("mfsearch: error: ") and message in err
    assert "Traceback" not in err


def test_broken_yaml_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    code, _, err = run(capsys, "cost", str(bad))
    assert code == 2 and "invalid YAML" in err and err.count("\n") == 1


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "mfsearch.cli.main", "cost", "26m",
                             "--format", "json"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["params"] == 3_232_788
