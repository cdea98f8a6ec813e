"""Checkpoints in: the official Mobile-Former names and shapes (tests/data/official_state_dict.json,
from the authors' implementation) in every container users bring, our own format, and one-line
errors for every bad file."""

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import mfsearch
from mfsearch import UserError
from mfsearch.cli import main
from mfsearch.families import family_of
from mfsearch.families.mobile_former.weights import official_name
from mfsearch.models.checkpoint import load_weights, read_checkpoint

OFFICIAL = json.loads((Path(__file__).parent / "data" / "official_state_dict.json").read_text())


def official_state(variant: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the official names and shapes, in the official order."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in OFFICIAL[variant]:
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[name] = torch.randn(shape, generator=gen)
    return state


def containers(state: dict, folder: Path) -> dict[str, Path]:
    """The same weights in every container the loader accepts."""
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    files = {"bare": folder / "bare.pth", "training": folder / "train.pth.tar",
             "dataparallel": folder / "dp.pth", "compiled": folder / "compiled.pt",
             "safetensors": folder / "w.safetensors", "no_ema": folder / "no_ema.pth.tar"}
    torch.save(state, files["bare"])
    # timm 0.3.4's saver: the EMA weights win over the plain ones, as in timm's loader.
    torch.save({"epoch": 299, "arch": "mobile_former_294m", "state_dict": ema,
                "state_dict_ema": state, "optimizer": {"state": {}, "param_groups": [
                    {"lr": 0.1, "params": [0, 1]}]}, "version": 2,
                "args": argparse.Namespace(model="mobile_former_294m", lr=8e-4),
                "metric": 77.9}, files["training"])
    torch.save({f"module.{k}": v for k, v in state.items()}, files["dataparallel"])
    torch.save({f"_orig_mod.module.{k}": v for k, v in state.items()}, files["compiled"])
    save_file({k: v.contiguous() for k, v in state.items()}, str(files["safetensors"]))
    torch.save({"epoch": 1, "state_dict": state}, files["no_ema"])
    return files


@pytest.mark.parametrize("variant", list(OFFICIAL))
def test_official_checkpoints_load_in_every_container(variant, tmp_path):
    state = official_state(variant)
    model = mfsearch.build_model(variant)
    for kind, path in containers(state, tmp_path).items():
        message = load_weights(model, path, family_of(model.spec).import_weights)
        assert "official Mobile-Former names" in message, kind
        ours = model.state_dict()
        assert len(ours) == len(state)
        for name, tensor in state.items():
            assert torch.equal(ours[official_name(name)], tensor), (kind, name)
    assert "state_dict_ema" in read_checkpoint(tmp_path / "train.pth.tar").container
    assert read_checkpoint(tmp_path / "no_ema.pth.tar").container.endswith("state_dict")


def test_official_names_map_onto_ours_one_to_one():
    for variant, items in OFFICIAL.items():
        ours = {k: tuple(v.shape) for k, v in mfsearch.build_model(variant).state_dict().items()}
        mapped = {official_name(n): tuple(s) for n, s in items}
        assert mapped == ours, variant


def test_official_checkpoint_gives_the_same_logits_in_every_container(tmp_path):
    state = official_state("mobile-former-26m", seed=3)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    logits = []
    for path in containers(state, tmp_path).values():
        with torch.no_grad():
            logits.append(mfsearch.load_model("26m", weights=path, resolution=96)(x))
    assert all(torch.equal(logits[0], other) for other in logits[1:])
    assert logits[0].shape == (2, 1000)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_checkpoint_of_another_variant_fails_with_one_line(tmp_path, capsys):
    path = tmp_path / "151m.pth"
    torch.save(official_state("mobile-former-151m"), path)
    code, _, err = run(capsys, "check", "294m", "--weights", str(path), "--res", "64")
    assert code == 2
    assert err.count("\n") == 1
    assert ("in the checkpoint but" in err and "in mobile-former-294m: a checkpoint of another "
            "variant?" in err)
    with pytest.raises(UserError, match=r"is \(\d+(, \d+)*\) in the checkpoint but \(\d+"):
        mfsearch.load_model("294m", weights=path)


def test_missing_and_unexpected_tensors_are_counted_and_named(tmp_path):
    state = official_state("mobile-former-26m")
    del state["stem.0.weight"], state["classifier.fc.0.bias"]
    state["classifier.extra.weight"] = torch.zeros(3)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(UserError) as info:
        mfsearch.load_model("26m", weights=path)
    message = str(info.value)
    assert "2 of mobile-former-26m's 460 tensors missing (stem.0.weight, head.fc1.bias)" in message
    assert "1 unexpected (classifier.extra.weight)" in message
    assert "official Mobile-Former names from a state dict" in message


@pytest.mark.parametrize("content, found", [
    (b"epoch,loss\n1,0.5\n", "not a checkpoint: found text ('epoch,loss'"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "not a checkpoint: found a PNG image"),
    (b"", "not a checkpoint: found an empty file"),
    (b"\x00\x01\x02\x03" * 8, "not a checkpoint: found binary data of no known checkpoint"),
])
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path, content, found):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(UserError, match=found.replace("(", r"\(").replace(")", r"\)")):
        read_checkpoint(path)


def test_containers_without_weights_are_refused_with_what_they_hold(tmp_path):
    torch.save({"epoch": 3, "metric": 0.5}, tmp_path / "meta.pth")
    with pytest.raises(UserError, match="found a dict with keys epoch, metric and no state dict"):
        read_checkpoint(tmp_path / "meta.pth")
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(UserError, match="found a list, not a dict of tensors"):
        read_checkpoint(tmp_path / "list.pth")
    with pytest.raises(UserError, match="no such checkpoint file"):
        read_checkpoint(tmp_path / "absent.pth")


def test_a_pickled_module_is_never_unpickled(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(UserError, match=r"holds a pickled torch\.nn\.modules\.linear\.Linear, "
                                        r"which loading with weights_only refuses"):
        read_checkpoint(tmp_path / "module.pth")


def test_our_format_round_trips_exactly(tmp_path):
    model = mfsearch.build_model("26m", tokens=4)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    path = mfsearch.save_model(model, tmp_path / "mine.safetensors")
    again = mfsearch.load_model(weights=path)  # the file names its spec
    assert again.spec == model.spec
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), again(x))
    assert read_checkpoint(path).container == "mfsearch weights"
    with pytest.raises(UserError, match="tokens.weight is \\(4, 128\\) in the checkpoint but "
                                        "\\(3, 128\\)"):
        mfsearch.load_model("26m", weights=path)


def test_load_model_without_a_model_needs_our_format(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save(official_state("mobile-former-26m"), path)
    with pytest.raises(UserError, match="records no spec"):
        mfsearch.load_model(weights=path)
    with pytest.raises(UserError, match="name a model"):
        mfsearch.load_model()


def test_latency_takes_weights(tmp_path, capsys):
    path = tmp_path / "26m.pth.tar"
    torch.save({"state_dict": official_state("mobile-former-26m")}, path)
    code, out, _ = run(capsys, "latency", "26m", "--weights", str(path), "--res", "64",
                       "--min-time", "0.01", "--no-breakdown", "--throughput-batch", "1",
                       "--format", "json")
    assert code == 0
    assert json.loads(out)["model"] == "mobile-former-26m"
