"""Budget strings and search-space files."""

import pytest

from mfsearch.families.mobile_former.cost import analyze
from mfsearch.errors import UserError
from mfsearch.nas.budget import parse_budget
from mfsearch.space import SpaceError, load_space


@pytest.mark.parametrize("text", ["150M", "150m", "0.15G", "150e6", "150000000", " 150 M ", "150000k"])
def test_budget_forms(text):
    assert parse_budget(text) == 150_000_000


@pytest.mark.parametrize("text,message", [
    ("abc", "expected a MAdds count such as 150M"),
    ("-5M", "must be a positive MAdds count"),
    ("0", "must be a positive MAdds count"),
    ("150X", "expected a MAdds count"),
    ("150", "below any Mobile-Former; did you mean 150M?"),
    ("nan", "expected a MAdds count"),
])
def test_bad_budgets(text, message):
    with pytest.raises(UserError, match=message.replace("?", r"\?")):
        parse_budget(text)


def test_default_space_bounds_and_rules():
    space = load_space()
    small, large = space.extreme(smallest=True), space.extreme(smallest=False)
    assert analyze(small).madds() == 41_701_056
    assert analyze(large).madds() == 761_984_608
    assert analyze(small).madds() < 26e6 * 2 and analyze(large).madds() > 508e6  # spans the paper
    for spec in (small, large):
        outs = [b.out for b in spec.blocks]
        assert outs == sorted(outs) and all(w % 8 == 0 for w in outs)
        assert spec.head_conv == 6 * outs[-1]


def test_space_build_reproduces_a_paper_layout():
    """The 294M variant's block layout is a point of the default space."""
    space = load_space()
    spec = space.build({"stem": 16, "bneck_expand": 2, "bneck_stride": 1,
                        "widths": [24, 48, 96, 128, 192], "depths": [2, 2, 2, 2, 3],
                        "expands": [4, 4, 4, 6, 6], "tokens": 6, "token_dim": 192, "fc1": 1920},
                       name="x")
    assert analyze(spec.replace(dropout=0.3)).params == 11_422_648


def _write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,message", [
    ("stem: [8\n", "invalid YAML"),
    ("- a\n", "expected a mapping at the top level"),
    ("stem: [8]\nstages: [{out: [12]}]\ntokens: [1]\ntoken_dim: [64]\nfc1: [512]\n",
     "stages[0].out: 12 is not a multiple of 8"),
    ("stem: [8]\nstages: [{out: [16], colour: 1}]\ntokens: [1]\ntoken_dim: [64]\nfc1: [512]\n",
     "stages[0].colour: unknown key"),
    ("stem: [8]\nstages: [{out: [16]}]\ntoken_dim: [64]\nfc1: [512]\n", "tokens: missing required key"),
    ("stem: [8]\nstages: [{out: [16]}]\ntokens: {low: 0, high: 3}\ntoken_dim: [64]\nfc1: [512]\n",
     "tokens: need 1 <= low <= high"),
    ("stem: [8]\nstages: [{out: [16]}]\ntokens: [1]\ntoken_dim: [66]\nfc1: [512]\n",
     "token_dim: 66 is not divisible by former_heads=4"),
    ("stem: [8]\nstages: [{out: [64]}, {out: [16]}]\ntokens: [1]\ntoken_dim: [64]\nfc1: [512]\n",
     "no choice of widths grows across stages"),
    ("stem: [8]\nfixed: {stem: 3}\nstages: [{out: [16]}]\ntokens: [1]\ntoken_dim: [64]\nfc1: [512]\n",
     "fixed: must be a mapping of spec fields that are not searched"),
])
def test_invalid_space_files(tmp_path, text, message):
    with pytest.raises(SpaceError) as info:
        load_space(_write(tmp_path, text))
    assert message in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "space.yaml"))


def test_missing_space_file(tmp_path):
    with pytest.raises(SpaceError, match="no such file"):
        load_space(tmp_path / "nope.yaml")
