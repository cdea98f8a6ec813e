"""A family defined inside tests/ (tests/tinynet) runs cost, check and a search through its
Family object alone: the registry, spec loading, cost tables, fvcore check, space loading,
proxy training and the search outputs never name it."""

import csv
import json

import pytest

from mfsearch import families
from mfsearch.cli import main

from .tinynet import FAMILY

SPEC = """family: tinynet
name: tiny-a
stem: 16
blocks:
  - {out: 24, stride: 2, expand: 4}
  - {out: 24, stride: 1, expand: 4}
  - {out: 40, stride: 2, expand: 4}
head: 160
num_classes: 10
"""

SPACE = """family: tinynet
stem: [8, 16]
stages:
  - {out: [16, 24], depth: [1, 2]}
  - {out: [32, 40], depth: [1, 2]}
"""


@pytest.fixture
def tiny(tmp_path):
    families.register(FAMILY)
    (tmp_path / "tiny.yaml").write_text(SPEC)
    (tmp_path / "space.yaml").write_text(SPACE)
    yield tmp_path
    families.unregister(FAMILY.name)


def test_cost_of_a_family_defined_in_the_tests(tiny, capsys):
    assert main(["cost", str(tiny / "tiny.yaml"), "--res", "64", "--format", "json",
                 "--convention", "core"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["family"] == "tinynet" and list(data["pillars"]) == ["stem", "blocks", "head"]
    # stem 3x3 s2 -> 32x32; block1 s2 -> 16x16 (hidden 64), block2 (hidden 96), block3 s2 -> 8x8
    stem = 27 * 16 * 32 * 32
    b1 = 16 * 64 * 32 * 32 + 9 * 64 * 16 * 16 + 64 * 24 * 16 * 16
    b2 = 24 * 96 * 256 + 9 * 96 * 256 + 96 * 24 * 256
    b3 = 24 * 96 * 256 + 9 * 96 * 64 + 96 * 40 * 64
    head = 40 * 160 * 64 + 160 * 10
    assert data["pillars"]["stem"]["madds"] == stem
    assert data["pillars"]["blocks"]["madds"] == b1 + b2 + b3
    assert data["madds"] == stem + b1 + b2 + b3 + head
    assert main(["cost", str(tiny / "tiny.yaml")]) == 0  # the table renders too
    assert "tiny-a @ 224x224: pillars" in capsys.readouterr().out



def test_a_family_without_backbone_or_weights_support_says_so(tiny, capsys):
    """The optional parts of a family (feature maps, other naming, attention) fail in one line
    where a family leaves them out."""
    assert main(["check", str(tiny / "tiny.yaml"), "--res", "64", "--backbone"]) == 2
    assert "its family's model has no backbone mode" in capsys.readouterr().err
    assert main(["attention", str(tiny / "tiny.yaml"), "--model", str(tiny / "tiny.yaml"),
                 "--res", "32", "--out", str(tiny / "maps")]) == 2
    assert "has no cross-attention bridge to look into" in capsys.readouterr().err


def test_check_agrees_with_fvcore_exactly(tiny, capsys):
    assert main(["check", str(tiny / "tiny.yaml"), "--res", "64"]) == 0
    assert "agree exactly" in capsys.readouterr().out


def test_a_search_smoke_run(tiny, capsys):
    out = tiny / "run"
    assert main(["budget", "2M", "--tolerance", "0.9", "--space", str(tiny / "space.yaml"),
                 "--trials", "2", "--proxy-steps", "5", "--proxy-res", "16", "--res", "64",
                 "--pruner", "none", "--out", str(out)]) == 0
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(r["state"] == "trained" for r in rows) == 2
    assert {"madds_stem", "madds_blocks", "madds_head"} <= set(rows[0])
    report = (out / "report.md").read_text()
    assert "family tinynet (measured: mobile-former)" in report  # the record is not for it
    assert "family: tinynet" in (out / "best.yaml").read_text()
    assert "leaderboard" in capsys.readouterr().out
    # It ships no variant, so the confirmation has no control and says so.
    assert "No control: the family ships no variant to compare with" in report
    assert json.loads((out / "report.json").read_text())["control"] is None


def test_an_unknown_family_names_the_registered_ones(tmp_path, capsys):
    (tmp_path / "x.yaml").write_text(SPEC)  # tinynet is not registered here
    assert main(["cost", str(tmp_path / "x.yaml")]) == 2
    assert "family: expected one of mobile-former, iformer, mobilenetv3, got 'tinynet'" in \
        capsys.readouterr().err
