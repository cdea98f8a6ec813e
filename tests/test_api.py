"""The Python API (README's example, run as written) gives the CLI's numbers and messages."""

import json
import re
from pathlib import Path

import pytest

import mfsearch
from mfsearch.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_and_equals_the_cli_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)  # noqa: S102
    c = namespace["c"]
    capsys.readouterr()
    assert main(["cost", "294m", "--res", "256", "--convention", "core", "--set", "tokens=1",
                 "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert c.to_dict() == cli
    assert (c.params, c.madds) == (cli["params"], cli["madds"])
    assert c.pillars == cli["pillars"]
    frame = c.to_frame()
    assert int(frame[frame["section"] == "total"]["madds"].iloc[0]) == cli["madds"]
    assert namespace["checked"].ok
    assert list(namespace["model"](namespace["x"]).shape) == [1, 1000]
    result = namespace["result"]
    assert len(result.trained) == 2 and (tmp_path / "runs" / "demo" / "report.md").exists()
    assert result.summary()["best"]["trial"] == result.best.number


def test_bad_input_raises_the_cli_message(capsys):
    with pytest.raises(mfsearch.UserError, match="--set foo: unknown key"):
        mfsearch.cost("294m", foo=1)
    assert main(["cost", "294m", "--set", "foo=1"]) == 2
    assert "--set foo: unknown key" in capsys.readouterr().err
    with pytest.raises(mfsearch.UserError, match="unknown model 'nope'"):
        mfsearch.load_spec("nope")
    with pytest.raises(mfsearch.UserError, match="unknown convention 'x'"):
        mfsearch.cost("26m", convention="x")
