"""Every entry point against bad input: exit 2 and one clear line, never a traceback, and nothing
already written is touched. The spec loader is fuzzed with hypothesis."""

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfsearch.cli import main
from mfsearch.errors import UserError
from mfsearch.families import load_model_spec, spec_from_yaml, spec_to_yaml

VALID = load_model_spec("mobile-former-26m").to_dict()


def spec_file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def mutated(**changes) -> str:
    return yaml.safe_dump({**VALID, **changes})


def folders(tmp: Path) -> dict[str, str]:
    """Bad files and folders the cases below refer to by name."""
    empty = tmp / "empty"
    empty.mkdir()
    broken_images = tmp / "broken_images"
    for cls in ("a", "b"):
        (broken_images / cls).mkdir(parents=True)
        for name in ("x.png", "y.png"):  # two per class: the split comes before decoding
            (broken_images / cls / name).write_bytes(b"\x89PNG not really")
    blocker = tmp / "blocker"
    blocker.write_text("a file where a folder should be")
    study = tmp / "bad_study"
    study.mkdir()
    (study / "trials.csv").write_text("not,a\ntrials,table\n")
    return {
        "EMPTY": str(empty), "BROKEN_IMAGES": str(broken_images),
        "MISSING": str(tmp / "missing"), "UNWRITABLE": str(blocker / "out"),
        "BAD_STUDY": str(study),
        "BROKEN_YAML": spec_file(tmp, "broken.yaml", "name: x\nstem: [16\n"),
        "EMPTY_YAML": spec_file(tmp, "empty.yaml", ""),
        "LIST_YAML": spec_file(tmp, "list.yaml", "- 1\n- 2\n"),
        "BINARY": spec_file(tmp, "binary.yaml", "\udcff".encode("utf-8", "surrogateescape")
                            .decode("latin-1")),
        "WRONG_TYPE": spec_file(tmp, "wrong_type.yaml", mutated(stem="wide")),
        "NEGATIVE": spec_file(tmp, "negative.yaml", mutated(stem=-16)),
        "ZERO_TOKENS": spec_file(tmp, "zero_tokens.yaml", mutated(tokens=0)),
        "HUGE": spec_file(tmp, "huge.yaml", mutated(stem=10**12)),
        "UNKNOWN_KEY": spec_file(tmp, "unknown.yaml", mutated(colour="red")),
        "BAD_BLOCK": spec_file(tmp, "bad_block.yaml", mutated(blocks=[{"out": 16, "stride": 3}])),
        "NO_BLOCKS": spec_file(tmp, "no_blocks.yaml", mutated(blocks=[])),
        "BOMB": spec_file(tmp, "bomb.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi"))),
        # Valid as a spec, far too big to build: caught before any allocation.
        "TOO_BIG": spec_file(tmp, "too_big.yaml", mutated(
            blocks=[{"out": 8192, "stride": 1, "expand": 16}] * 64, head_conv=8192, fc1=8192)),
        "BAD_SPACE": spec_file(tmp, "space.yaml", "stages: 3\n"),
        "BROKEN_SPACE": spec_file(tmp, "space2.yaml", "stem: {choices: [8, 16\n"),
        "BAD_IFORMER_SPACE": spec_file(tmp, "space3.yaml", "family: iformer\nstages: "
                                       "[{width: [30]}, {width: 64}, {width: 96}, {width: 128}]\n"),
        "BAD_IFORMER": spec_file(tmp, "iformer.yaml", "family: iformer\nname: x\nstages: "
                                 "[{width: 32, conv: 1}]\n"),
        "QK_SPACE": spec_file(tmp, "space4.yaml", "family: iformer\nstages: [{width: 32, conv: 1}, "
                              "{width: 64, conv: 1}, {width: [96, 104], conv: 1, attn: [0, 1], "
                              "qk_reduce: 16}, {width: 128, attn: 1}]\n"),
        "CORRUPT_TABLE": spec_file(tmp, "table.json", "{not json"),
        "WRONG_TABLE": spec_file(tmp, "table2.json", '{"settings": {}, "entries": {"k": 3}}'),
    }


CASES = [
    # top level
    ([], "COMMAND"),
    (["frobnicate"], "invalid choice"),
    # cost / check / variants / bench
    (["cost", "no-such-model"], "no-such-model"),
    (["cost", "294m", "--set", "tokens=0"], "tokens"),
    (["cost", "294m", "--set", "tokens=abc"], "tokens"),
    (["cost", "294m", "--set", "nokey=1"], "nokey"),
    (["cost", "294m", "--set", "blocks.99.out=8"], "blocks"),
    (["cost", "294m", "--set", "stem=-8"], "stem"),
    (["cost", "294m", "--set", "stem=100000000"], "stem"),
    (["cost", "294m", "--set", "justtext"], "KEY=VALUE"),
    (["cost", "294m", "--res", "0"], "resolution"),
    (["cost", "294m", "--res", "99999"], "resolution"),
    (["cost", "294m", "--res", "big"], "resolution"),
    (["cost", "294m", "--convention", "flops"], "invalid choice"),
    (["cost", "294m", "--format", "xml"], "invalid choice"),
    (["cost", "BROKEN_YAML"], "invalid YAML"),
    (["cost", "EMPTY_YAML"], "expected a mapping"),
    (["cost", "LIST_YAML"], "expected a mapping"),
    (["cost", "BINARY"], ""),
    (["cost", "WRONG_TYPE"], "stem"),
    (["cost", "NEGATIVE"], "stem"),
    (["cost", "ZERO_TOKENS"], "tokens"),
    (["cost", "HUGE"], "stem"),
    (["cost", "UNKNOWN_KEY"], "colour"),
    (["cost", "BAD_BLOCK"], "blocks[0].stride"),
    (["cost", "NO_BLOCKS"], "blocks"),
    (["cost", "BOMB"], ""),
    (["cost", "MISSING"], "MISSING"),
    (["cost", "EMPTY"], ""),
    (["check", "TOO_BIG"], "this tool builds"),
    (["check", "294m", "--res", "4096", "--set", "stem=8192"], "GiB per image"),
    (["variants", "--res", "-3"], "resolution"),
    (["bench", "cost", "no-such-model"], "no-such-model"),
    (["cost", "BAD_IFORMER"], "stages: expected a list of 4 stages"),
    (["cost", "iformer-m", "--set", "stages.2.qk_reduce=5"], "not divisible by 5"),
    (["variants", "--family", "convnext"], "invalid choice"),
    # latency
    (["latency", "no-such-model"], "no-such-model"),
    (["latency", "294m", "--threads", "0"], "positive integer"),
    (["latency", "294m", "--min-time", "-1"], "positive number"),
    (["latency", "294m", "--memory-format", "nhwc"], "invalid choice"),
    (["latency", "TOO_BIG"], "this tool builds"),
    (["latency-table", "--table", "CORRUPT_TABLE"], "not a latency table"),
    (["latency-table", "--specs", "0", "--no-variants"], "nothing to measure"),
    (["latency-table", "--table", "WRONG_TABLE"], "not a latency table"),
    (["latency-table", "--table", "UNWRITABLE"], "cannot write the latency table"),
    (["compare", "--out", "UNWRITABLE"], "cannot write"),
    # budget
    (["budget", "abc"], "budget"),
    (["budget", "-5M"], "budget"),
    (["budget", "0"], "budget"),
    (["budget", "nan"], "budget"),
    (["budget", "1e400"], "budget"),
    (["budget", "5M"], "can reach: 41.7M to 762.0M"),
    (["budget", "-5ms"], "budget"),
    (["budget", "0ms"], "positive time"),
    (["budget", "0.1us"], "below what can be measured"),
    (["budget", "1ms", "--latency-table", "CORRUPT_TABLE"], "not a latency table"),
    (["budget", "150M", "--objectives", "acc,latency", "--latency-table", "CORRUPT_TABLE"],
     "not a latency table"),
    (["budget", "1.1G", "--space", "BAD_IFORMER_SPACE"], "not a multiple of 8"),
    (["budget", "1G", "--space", "QK_SPACE"], "stages[2].width: 104 is not divisible by qk_reduce"),
    (["budget", "50M", "--space", "spaces/iformer.yaml"], "can reach: 281.7M to 3444.2M"),
    (["budget", "150M", "--trials", "0"], "positive integer"),
    (["budget", "150M", "--tolerance", "1.5"], "[0, 1)"),
    (["budget", "150M", "--proxy-lr", "nan"], "positive number"),
    (["budget", "150M", "--proxy-lr", "-1"], "positive number"),
    (["budget", "150M", "--proxy-steps", "ten"], "positive integer"),
    (["budget", "150M", "--objectives", "speed"], "objectives"),
    (["budget", "150M", "--sampler", "grid"], "invalid choice"),
    (["budget", "150M", "--space", "MISSING"], "MISSING"),
    (["budget", "150M", "--space", "BROKEN_SPACE"], "invalid YAML"),
    (["budget", "150M", "--space", "BAD_SPACE"], ""),
    (["budget", "150M", "--data", "MISSING"], "MISSING"),
    (["budget", "150M", "--data", "EMPTY"], "EMPTY"),
    (["budget", "150M", "--data", "BROKEN_IMAGES"], "cannot identify image file"),
    (["budget", "150M", "--out", "UNWRITABLE"], "cannot write"),
    (["budget", "150M", "--storage", "nosuchdb://x"], "cannot open study"),
    # fidelity
    (["fidelity", "--budget", "abc"], "budget"),
    (["fidelity", "--archs", "2"], "at least 3"),
    (["fidelity", "--factor", "0"], "positive integer"),
    (["fidelity", "--archs", "3", "--trainings", "tests"], "--trainings tests: cannot use it as "
     "the training log (Is a directory)"),
    # ablate / plot / report
    (["ablate", "--table", "3"], "unknown table"),
    (["ablate", "--model", "no-such-model"], "no-such-model"),
    (["ablate", "--out", "UNWRITABLE"], "cannot write"),
    (["ablate", "--train", "--data", "EMPTY"], "EMPTY"),
    (["plot", "--families", "NoSuchNet"], "unknown family"),
    (["plot", "--study", "MISSING"], "no trials.csv"),
    (["plot", "--study", "BAD_STUDY"], "trials.csv"),
    (["plot", "--out", "UNWRITABLE"], "cannot write"),
    (["report", "--out", "UNWRITABLE"], "cannot write"),
]


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    return folders(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_bad_input_gets_one_line_and_exit_2(argv, expected, named, capsys):
    argv = [named.get(a, a) for a in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("mfsearch: error:"), err
    assert "Traceback" not in out + err
    shown = {v: k for k, v in named.items()}
    text = err
    for path, name in shown.items():
        text = text.replace(path, name)
    assert expected.lower() in text.lower(), text


def test_bad_input_leaves_finished_work_alone(tmp_path, named, capsys):
    out = tmp_path / "run"
    assert main(["budget", "150M", "--trials", "1", "--proxy-steps", "2", "--finalists", "0",
                 "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for argv in (["--space", named["BROKEN_SPACE"]], ["--data", named["EMPTY"]],
                 ["--objectives", "speed"], ["--proxy-lr", "nan"]):
        assert main(["budget", "150M", "--out", str(out), *argv]) == 2
    assert main(["budget", "5M", "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unreadable_spec_file(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = Path(spec_file(tmp_path, "locked.yaml", yaml.safe_dump(VALID)))
    path.chmod(0)
    assert main(["cost", str(path)]) == 2


# --- fuzzing the spec loader: any YAML either loads or raises UserError ----------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(VALID)), value=values)
def test_fuzz_one_field(key, value):
    try:
        spec = spec_from_yaml(yaml.safe_dump({**VALID, key: value}), "fuzz")
    except UserError as exc:
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
    else:  # whatever loads survives a save and a reload unchanged
        assert spec_from_yaml(spec_to_yaml(spec), "again") == spec


@settings(max_examples=150, deadline=None)
@given(index=st.integers(0, len(VALID["blocks"]) - 1), field=st.sampled_from(
    ["out", "stride", "expand", "expand2", "extra"]), value=values)
def test_fuzz_block_field(index, field, value):
    blocks = [dict(b) for b in VALID["blocks"]]
    blocks[index][field] = value
    try:
        spec_from_yaml(yaml.safe_dump({**VALID, "blocks": blocks}), "fuzz")
    except UserError as exc:
        assert "blocks" in str(exc) and "\n" not in str(exc)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzz_raw_text(text):
    try:
        spec_from_yaml(text, "fuzz")
    except UserError:
        pass
