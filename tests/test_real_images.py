"""What a user with real images hits (issue "What a user with real images hits"): each test is
one item of its "Why", numbered as there. Item 1 (verdicts about designs that did not learn)
is tests/test_confirm.py::test_why_1_a_verdict_contradicts_its_own_warnings."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import mfsearch
from mfsearch import data
from mfsearch.cli import main
from mfsearch.data.folders import stratified_subset
from mfsearch.errors import UserError

TINY = ["--trials", "1", "--finalists", "0", "--proxy-steps", "2", "--proxy-res", "16",
        "--proxy-batch", "4"]


def images(root: Path, classes=("cat", "dog"), per_class=4, size=20) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
                root / c / f"{i}.png")
    return root


def error_of(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_why_2_an_empty_class_folder_is_refused_by_name(tmp_path, capsys):
    root = images(tmp_path / "ds", ("a", "b", "c"))
    (root / "empty").mkdir()
    out = tmp_path / "run"
    assert error_of(capsys, ["budget", "150M", "--data", str(root), *TINY, "--out", str(out)]) \
        == f"mfsearch: error: --data {root}: 1 class folder without images (empty); remove it " \
           "or add images"
    assert not out.exists()  # a failed start leaves no folder (item 5)
    with pytest.raises(UserError, match="without images"):
        mfsearch.train("26m", root, epochs=1, out=tmp_path / "t")


def test_why_3_a_train_folder_without_a_held_out_folder_is_named(tmp_path, capsys):
    root = tmp_path / "ds"
    images(root / "train")
    assert error_of(capsys, ["budget", "150M", "--data", str(root), *TINY,
                             "--out", str(tmp_path / "run")]) == (
        f"mfsearch: error: --data {root}: train/ has no held-out folder beside it (one of val/, "
        f"valid/, validation/, test/); add one, or pass --data {root / 'train'} to hold out "
        "--val-fraction of it")


def test_why_4_pruned_candidates_are_listed_with_their_rung(tmp_path, capsys):
    out = tmp_path / "run"
    result = mfsearch.search("150M", trials=4, eta=2, finalists=0,
                             proxy={"steps": 4, "resolution": 16, "batch_size": 8}, out=out)
    board = result.leaderboard()
    states = list(board["state"])
    assert len(board) == 4 and "trained" in states and "pruned at 2" in states
    assert states == sorted(states, key=lambda s: s != "trained")  # trained ones first
    assert list(board["rank"]) == [1, 2, 3, 4]
    pruned = board[board["state"] == "pruned at 2"]
    assert (pruned["proxy score"] == "-").all() and (pruned["rung score"] != "-").all()
    text = (out / "report.md").read_text()
    assert text.count("| pruned at 2 |") == len(pruned)


def test_why_5_decode_errors_keep_their_reason_and_can_be_skipped(tmp_path, capsys):
    root = images(tmp_path / "ds", per_class=6)
    (root / "cat" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(UserError) as caught:
        data.load(root, load_size=16)
    assert str(caught.value) == (
        f"--data: cannot decode {root / 'cat' / 'broken.png'} (UnidentifiedImageError: cannot "
        f"identify image file '{root / 'cat' / 'broken.png'}'); --skip-bad-images leaves such "
        "files out")
    ds = data.load(root, load_size=16, skip_bad=True)
    assert ds.skipped == (str(root / "cat" / "broken.png"),) and sum(ds.sizes()) == 12
    assert ds.describe(16) == ("imagefolder:ds: 2 classes, 10 train / 2 held-out (20% of each "
                               "class held out (seed 0)) images, 1 unreadable skipped, at 16 px")


def test_why_5_val_fraction_with_split_folders_is_refused(tmp_path, capsys):
    root = tmp_path / "ds"
    images(root / "train")
    images(root / "val", per_class=2)
    assert error_of(capsys, ["budget", "150M", "--data", str(root), "--val-fraction", "0.3",
                             *TINY, "--out", str(tmp_path / "run")]) == (
        f"mfsearch: error: --val-fraction 0.3: {root} has its own held-out folder val/, which "
        "is used as it is")


def test_why_5_a_batch_larger_than_the_data_leaves_no_folder(tmp_path, capsys):
    root = images(tmp_path / "ds")
    out = tmp_path / "run"
    err = error_of(capsys, ["budget", "150M", "--data", str(root), *TINY[:-2], "--proxy-batch",
                            "500", "--out", str(out)])
    assert err.startswith("mfsearch: error: --proxy-batch 500 is more than the 6 training "
                          "images")
    assert not out.exists()


def test_why_5_one_error_prefix(capsys):
    assert error_of(capsys, ["budget", "--trials", "x"]) == (
        "mfsearch: error: argument --trials: expected a positive integer, got 'x'")


def test_why_5_progress_goes_to_stderr_and_loading_shows(tmp_path, capsys):
    root = images(tmp_path / "ds", per_class=300, size=8)  # 600 images: loading reports twice
    events = []
    mfsearch.search("150M", trials=1, finalists=0, data=root, max_images=1000,
                    proxy={"steps": 2, "resolution": 16, "batch_size": 4},
                    out=tmp_path / "api", on_event=events.append)
    loads = [e for e in events if e.kind == "load"]
    assert [e.done for e in loads] == [256, 480, 600]  # 480 train, then 120 held out
    assert {e.info["total"] for e in loads} == {600}
    assert main(["budget", "150M", "--data", str(root), *TINY, "--out",
                 str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "━" not in out and "data: imagefolder:ds: 2 classes" in out


def test_why_5_torch_warnings_about_unused_parts_are_silenced(capsys):
    assert main(["variants"]) == 0
    for name in ("torch.utils.cpp_extension", "torch.onnx._internal.exporter._registration"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.ERROR


def test_why_5_export_names_the_option_the_user_gave(tmp_path, capsys, monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *args):
        if name.startswith("onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    err = error_of(capsys, ["export", "26m", "--format", "onnx", "--out",
                            str(tmp_path / "m.onnx")])
    assert err.startswith("mfsearch: error: --format onnx needs onnxruntime (")
    assert "--engine" not in err


def test_why_7_best_yaml_states_its_classes(tmp_path, capsys):
    root = images(tmp_path / "ds", ("ant", "bee", "cow"))
    out = tmp_path / "run"
    assert main(["budget", "150M", "--data", str(root), *TINY, "--out", str(out)]) == 0
    text = (out / "best.yaml").read_text()
    assert ("# searched on imagefolder:ds (3 classes); the head below keeps num_classes 1000, "
            "as the band's costs count it (ImageNet-style); `mfsearch train` sets it to the "
            "data's classes\n") in text
    assert "- classes: ant, bee, cow" in (out / "report.md").read_text()


def test_why_8_a_folder_loads_a_stratified_subset_and_decodes_only_that(tmp_path,
                                                                         monkeypatch):
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    kept = stratified_subset(labels, 10, seed=0)
    assert torch.bincount(labels[kept]).tolist() == [6, 3, 1]
    assert torch.equal(kept, stratified_subset(labels, 10, seed=0))
    assert not torch.equal(kept, stratified_subset(labels, 10, seed=1))
    root = images(tmp_path / "ds", ("a", "b"), per_class=50, size=8)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda f, *a: opened.append(f) or real_open(f, *a))
    ds = data.load(root, load_size=8, max_images=12, max_held_out=4)
    assert ds.sizes() == (12, 4) and len(opened) == 16  # the other 84 files stay unread
    assert torch.bincount(ds.raw_split("train")[1]).tolist() == [6, 6]
    job = mfsearch.jobs.plan_search("150M", data=root, max_images=12,
                                    out=tmp_path / "unused")
    assert job.data.max_images == 12


def test_why_8_the_cap_is_part_of_the_study_identity(tmp_path, capsys):
    root = images(tmp_path / "ds", per_class=20, size=8)
    out = str(tmp_path / "run")
    assert main(["budget", "150M", "--data", str(root), *TINY, "--max-images", "20",
                 "--out", out]) == 0
    err = error_of(capsys, ["budget", "150M", "--data", str(root), *TINY, "--max-images",
                            "24", "--out", out])
    assert err == (f"mfsearch: error: --out {out} holds another search: data.split was [20, 8] "
                   "there, [24, 8] now; resume with the same settings, or start a new --out")
