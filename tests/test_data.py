"""Dataset loading: built-in task, ImageFolder trees and CIFAR pickles made by the tests."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from mfsearch import data
from mfsearch.data import synthetic
from mfsearch.errors import UserError


def test_builtin_task_is_deterministic_and_balanced():
    x1, y1 = synthetic.generate(256, 32, seed=3)
    x2, y2 = synthetic.generate(256, 32, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (256, 3, 32, 32) and y1.max() < synthetic.NUM_CLASSES == 8
    assert not torch.equal(synthetic.generate(8, 32, seed=4)[0], x1[:8])
    assert torch.bincount(y1, minlength=8).min() > 15


def test_builtin_task_mixes_easy_and_hard_images():
    """Difficulty is drawn per image: the pixel noise (median neighbour difference) of the
    noisiest tenth is several times that of the cleanest tenth."""
    x, _ = synthetic.generate(256, 32, seed=3)
    noise = (x[:, :, 1:, 1:] - x[:, :, :-1, :-1]).flatten(1).abs().median(1).values
    assert noise.quantile(0.9) > 3 * noise.quantile(0.1)


def test_builtin_splits_differ():
    ds = data.builtin(train_size=64, val_size=32)
    (xt, _), (xv, _) = ds.train(24), ds.val(24)
    assert xt.shape == (64, 3, 24, 24) and xv.shape == (32, 3, 24, 24)
    assert not torch.equal(xt[:32], xv)


def _image_folder(root, classes=("cat", "dog"), per_class=5, size=20):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_image_folder(tmp_path):
    ds = data.load(_image_folder(tmp_path / "imgs"))
    assert ds.num_classes == 2 and ds.name == "imagefolder:imgs"
    (xt, yt), (xv, yv) = ds.train(16), ds.val(16)
    assert xt.shape[1:] == xv.shape[1:] == (3, 16, 16) and len(yt) + len(yv) == 10
    assert sorted(yv.tolist()) == [0, 1]  # stratified: one held-out image per class


def test_image_folder_errors(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        data.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="expected an ImageFolder layout"):
        data.load(tmp_path / "empty")
    root = _image_folder(tmp_path / "bad")
    (root / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"cannot decode .*broken.png"):
        data.load(root)
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "b").mkdir()
    with pytest.raises(UserError, match="no images"):
        data.load(tmp_path / "noimg")


def test_cifar_pickles(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for name, n in (("data_batch_1", 40), ("data_batch_2", 40), ("test_batch", 20)):
        batch = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
                 b"labels": [i % 10 for i in range(n)]}
        (root / name).write_bytes(pickle.dumps(batch))
    ds = data.load(root)
    assert ds.num_classes == 10
    assert ds.train(32)[0].shape == (80, 3, 32, 32) and ds.val(32)[0].shape == (20, 3, 32, 32)
    (root / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read CIFAR batch"):
        data.load(root)
