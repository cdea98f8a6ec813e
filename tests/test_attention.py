"""`mfsearch attention`: the bridge's maps are proper distributions, shaped as the spec says, read
without changing the model's output, and written as figures and attention.npz."""

import numpy as np
import pytest
import torch
from PIL import Image

import mfsearch
from mfsearch import UserError
from mfsearch.cli import main
from mfsearch.families import family_of
from mfsearch.families.mobile_former.layout import resolve
from mfsearch.reports.attention import load_image


@pytest.fixture
def image(tmp_path):
    """A small picture with structure: a bright square on a gradient."""
    pixels = np.zeros((70, 90, 3), dtype=np.uint8)
    pixels[..., 0] = np.linspace(0, 255, 90, dtype=np.uint8)
    pixels[20:50, 30:60] = 255
    path = tmp_path / "scene.png"
    Image.fromarray(pixels).save(path)
    return path


def test_maps_are_distributions_shaped_by_the_spec(image):
    model = mfsearch.load_model("26m", resolution=64)
    x, _ = load_image(image, 64)
    x = torch.from_numpy(x)
    with torch.no_grad():
        plain = model(x)
    logits, maps = family_of(model.spec).attention_maps(model, x)
    assert torch.equal(logits, plain)  # hooks only read
    spec, layout = model.spec, resolve(model.spec, 64)
    assert sorted(maps) == list(range(1, len(spec.blocks) + 1))
    for b in layout.blocks:
        to_former = maps[b.index + 1]["mobile_to_former"]
        to_mobile = maps[b.index + 1]["former_to_mobile"]
        assert to_former.shape == (spec.bridge_heads, spec.tokens, b.res_in.h, b.res_in.w)
        assert to_mobile.shape == (spec.bridge_heads, spec.tokens, b.res_out.h, b.res_out.w)
        np.testing.assert_allclose(to_former.sum(axis=(2, 3)), 1, rtol=1e-5)
        np.testing.assert_allclose(to_mobile.sum(axis=1), 1, rtol=1e-5)
        assert (to_former >= 0).all() and (to_mobile >= 0).all()


def test_command_writes_figures_and_arrays(image, tmp_path, capsys):
    out = tmp_path / "maps"
    assert main(["attention", str(image), "--model", "26m", "--blocks", "2,4", "--res", "64",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "weights: random (no --weights)" in printed
    names = {p.name for p in out.iterdir()}
    assert {"attention.npz", "block2.png", "block4.png", "first_token.png",
            "argmax_tokens.png"} <= names
    arrays = np.load(out / "attention.npz")
    assert sorted(arrays.files) == ["block2_former_to_mobile", "block2_mobile_to_former",
                                    "block4_former_to_mobile", "block4_mobile_to_former"]
    spec = mfsearch.load_spec("26m")
    assert arrays["block4_mobile_to_former"].shape[:2] == (spec.bridge_heads, spec.tokens)
    with Image.open(out / "block2.png") as figure:
        assert figure.size[0] > 200


@pytest.mark.parametrize("argv, message", [
    (["--model", "iformer-t"], "iFormer has no cross-attention bridge"),
    (["--model", "26m", "--blocks", "0,99"], "the model has blocks 1-"),
    (["--model", "26m", "--set", "former_attention=mlp"], "which have no attention weights"),
])
def test_bad_requests_get_one_line(image, tmp_path, capsys, argv, message):
    assert main(["attention", str(image), "--res", "64", "--out", str(tmp_path / "o"),
                 *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unreadable_image_is_named(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(UserError, match="not an image Pillow can read"):
        load_image(bad, 64)
