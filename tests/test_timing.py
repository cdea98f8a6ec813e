"""A search under a time limit: durations parse with one-line errors, the plan keeps the
procedure asked for when it fits and otherwise the best-rated one within it that fits, and a
search whose limit has passed stops proposing candidates and still confirms its pick."""

import json

import numpy as np
import pytest

from mfsearch.cli import main
from mfsearch.errors import UserError
from mfsearch.fidelity.decision import Procedure, procedure_table, replay
from mfsearch.nas.timing import (Plan, Speed, TimeLimit, confirmation_runs, fit_confirmation,
                                 parse_duration, plan)

TINY = ["--proxy-steps", "6", "--proxy-res", "16", "--proxy-batch", "16"]


@pytest.mark.parametrize("text, seconds", [("10m", 600), ("90s", 90), ("1h30m", 5400),
                                           ("1.5h", 5400), ("2m 30s", 150), (45, 45)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, message", [
    ("10", "--time-limit '10': expected a duration such as 10m, 90s or 1h30m (or none)"),
    ("10 minutes", "--time-limit '10 minutes': expected a duration such as 10m"),
    ("0s", "--time-limit '0s': expected a positive duration (or none)")])
def test_bad_durations_get_one_line(text, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_duration(text)


def test_none_turns_the_limit_off():
    assert parse_duration("none") is None and parse_duration(None) is None


def toy_table():
    """Two candidates counts' worth of replayed rates: more seeds rate higher than more
    finalists, and pruning halves the search stage's steps."""
    rates = [[[0.5, 0.6], [0.55, 0.7]], [[0.6, 0.8], [0.65, 0.9]]]  # [n][finalists][seeds]
    return {"steps": 10, "finalists": 2, "confirm_seeds": 2, "candidates": 2,
            "etas": {"3": {"rungs": [3, 10], "trainings": [1.0, 1.5],
                           "top_quartile_rate": rates, "regret": rates}}}


SPEED = Speed(trial_seconds=10.0, step_seconds=0.8, steps=10)  # 2 s outside the steps


def test_the_given_procedure_runs_unchanged_when_it_fits():
    limit = TimeLimit(1000, "1000s", toy_table())
    chosen = plan(limit, elapsed=12, done_seconds=10, speed=SPEED, given=(2, 2, 2), designs=2,
                  jobs=1, eta=3, pruning=True)
    # before 2 s + stage 2 x 2 s + 1.5 x 10 x 0.8 s + (2 x 2 + 2 x 3) runs x 10 s
    assert chosen.expected_seconds == pytest.approx(2 + 4 + 12 + 100)
    assert (chosen.candidates, chosen.finalists, chosen.confirm_seeds) == (2, 2, 2)
    assert not chosen.shrunk and chosen.top_quartile_rate == 0.9
    assert chosen.describe().startswith("the procedure asked for (2 candidates, 2 finalists "
                                        "with 2 further seeds) fits: about 1:58 of 16:40")


def test_a_procedure_that_does_not_fit_shrinks_to_the_best_rated_that_does():
    # 100 s at 0.9 leaves 90 s: (2, 2, 2) needs 118 s; (2, 1, 2) 2 + 16 + (2 + 6) x 10 = 98;
    # (2, 2, 1) and (2, 1, 1): 2 + 16 + 60 = 78 and 2 + 16 + 50 = 68; (1, 2, 1): 2 + 10 + 60.
    limit = TimeLimit(100, "100s", toy_table())
    chosen = plan(limit, elapsed=12, done_seconds=10, speed=SPEED, given=(2, 2, 2), designs=2,
                  jobs=1, eta=3, pruning=True)
    assert (chosen.candidates, chosen.finalists, chosen.confirm_seeds) == (2, 2, 1)
    assert chosen.expected_seconds == pytest.approx(78) and chosen.shrunk
    assert chosen.top_quartile_rate == 0.65 and chosen.given_rate == 0.9
    assert chosen.describe() == (
        "planned 2 candidates, 2 finalists with 1 further seed to end in about 1:18 of 1:40; "
        "the procedure asked for (2 candidates, 2 finalists with 2 further seeds) would take "
        "about 1:58, at 10.0 s a candidate here, 800 ms a step; replayed searches pick a "
        "top-quartile design 65% of the time with it, 90% with the procedure asked for")
    # Two confirmation trainings at a time halve the confirmation: everything fits again.
    both = plan(limit, 12, 10, SPEED, (2, 2, 2), designs=2, jobs=2, eta=3, pruning=True)
    assert not both.shrunk and both.expected_seconds == pytest.approx(18 + 50)
    assert Plan.from_json(json.loads(json.dumps(chosen.to_json()))) == chosen


def test_without_a_replayed_rate_the_plan_keeps_candidates_then_seeds():
    limit = TimeLimit(100, "100s", None)  # every candidate counted at the top
    chosen = plan(limit, 12, 10, SPEED, (2, 2, 2), designs=2, jobs=1, eta=3, pruning=True)
    # (2, 1, 2): 2 + 20 + 80 > 90; (2, 2, 1): 2 + 20 + 60 = 82 fits, (2, 1, 1) = 72 too.
    assert (chosen.candidates, chosen.finalists, chosen.confirm_seeds) == (2, 2, 1)
    assert chosen.top_quartile_rate is None


def test_a_limit_already_spent_leaves_one_finalist_with_one_seed():
    chosen = plan(TimeLimit(5, "5s", toy_table()), 12, 10, SPEED, (2, 2, 2), 2, 1, 3, True)
    assert (chosen.candidates, chosen.finalists, chosen.confirm_seeds) == (1, 1, 1)
    assert chosen.describe().startswith(
        "the limit 0:05 is shorter than the smallest search (1 candidate, 1 finalist with 1 "
        "further seed: about 1:02), which it runs; the procedure asked for")
    assert fit_confirmation(SPEED, 2, 2, remaining=75, designs=2, jobs=1) == (2, 1)
    assert fit_confirmation(SPEED, 2, 2, remaining=1, designs=2, jobs=1) == (1, 1)
    assert confirmation_runs(4, 3, 2) == 20 and confirmation_runs(0, 3, 2) == 0


def test_the_procedure_table_agrees_with_the_replay():
    """Its rate for one (eta, candidates, finalists, seeds) is that of `replay` with the same
    random draws."""
    rng = np.random.default_rng(1)
    losses = np.sort(rng.normal(2.0, 0.3, (9, 3, 12)), axis=-1)[..., ::-1]
    reference = -losses[:, :, -1].mean(axis=1)
    table = procedure_table(losses, reference, steps=12, etas=(3,), finalists=2,
                            confirm_seeds=2, searches=40)
    rows = table["etas"]["3"]
    assert rows["rungs"] == [4, 12] and len(rows["trainings"]) == 9
    procedure = Procedure("p", candidates=6, rungs=(4, 12), eta=3, finalists=2,
                          confirm_seeds=1)
    draws = np.random.default_rng(0)
    picks, steps = zip(*(replay(procedure, losses, draws) for _ in range(40)))
    top = np.argsort(-reference, kind="stable")[:3]
    assert rows["top_quartile_rate"][5][1][0] == round(float(np.isin(picks, top).mean()), 3)
    extra = procedure.extra_steps()
    assert rows["trainings"][5] == round((np.mean(steps) - extra) / 12, 3)


def test_a_search_past_its_limit_stops_and_confirms_its_pick(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["budget", "150M", "--trials", "6", "--finalists", "2", "--confirm-seeds", "2",
                 "--time-limit", "0.01s", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "time limit: 0.01s, planned after the first candidate" in printed
    assert ("time limit: the limit 0:00 is shorter than the smallest search (1 candidate, 1 "
            "finalist with 1 further seed: about") in printed
    report = json.loads((out / "report.json").read_text())
    assert report["time"]["plan"]["candidates"] == 1
    assert report["time"]["stopped"] == (
        "the time limit: 1 of 6 candidates evaluated (1 planned) when one more would have left "
        "the confirmation too little of the 0:00")
    assert report["seeds"] == [0, 1] and len(report["finalists"]) == 1
    assert report["pick"] is not None
    text = (out / "report.md").read_text()
    assert "- time limit 0.01s: the limit 0:00 is shorter than the smallest search" in text
    # Resumed with room to spare, it keeps the recorded plan: nothing more is trained.
    assert main(["budget", "150M", "--trials", "6", "--finalists", "2", "--confirm-seeds", "2",
                 "--time-limit", "1h", *TINY, "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())["seeds"] == [0, 1]


def test_a_search_that_fits_says_what_the_time_bought(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["budget", "150M", "--trials", "2", "--finalists", "1", "--confirm-seeds", "1",
                 "--time-limit", "1h", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("time limit: the procedure asked for (2 candidates, 1 finalist with 1 further "
            "seed) fits: about") in printed
    timing = json.loads((out / "report.json").read_text())["time"]
    assert timing["limit"] == "1h" and timing["limit_seconds"] == 3600
    assert 0 < timing["seconds"] < 3600 and timing["plan"]["given"] == {
        "candidates": 2, "finalists": 1, "confirm_seeds": 1}
