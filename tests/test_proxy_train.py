"""Scoring a short proxy: its scores, and BatchNorm statistics re-estimated on the final
weights."""

import pytest
import torch
from torch import nn

from mfsearch import data as datasets
from mfsearch.proxy.train import ProxyConfig, calibrate_batchnorm, train_proxy
from mfsearch.families import load_model_spec


def _stale_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Dropout(0.5), nn.BatchNorm2d(4, momentum=0.3),
                          nn.Flatten(), nn.Linear(4 * 2 * 2, 3), nn.BatchNorm1d(3))
    model[2].running_mean.fill_(5.0)  # what a lagging running average looks like
    model[2].running_var.fill_(9.0)
    return model


def test_calibration_replaces_stale_statistics_by_exact_averages():
    model = _stale_model()
    x = torch.randn(48, 3, 2, 2)
    calibrate_batchnorm(model, x, batch_size=16, device=torch.device("cpu"))
    with torch.no_grad():
        conv = model[0](x)  # dropout off: the statistics see the network that is scored
        batches = conv.split(16)
        mean = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
        var = torch.stack([b.var(dim=(0, 2, 3), unbiased=True) for b in batches]).mean(0)
    torch.testing.assert_close(model[2].running_mean, mean)
    torch.testing.assert_close(model[2].running_var, var)
    assert model[2].num_batches_tracked.item() == 3
    assert model[2].momentum == 0.3  # restored
    assert not any(m.training for m in model.modules())


def test_calibration_leaves_statistics_alone_without_two_images():
    model = _stale_model()
    calibrate_batchnorm(model, torch.randn(1, 3, 2, 2), batch_size=16,
                        device=torch.device("cpu"))
    assert model[2].running_mean.eq(5.0).all() and model[2].running_var.eq(9.0).all()


def test_scores_read_the_losses_the_steps_report():
    """The default score is minus the mean of every step's training loss (what `progress`
    sees), the other the held-out top-1."""
    losses = []
    result = train_proxy(load_model_spec("mobile-former-26m"),
                         datasets.builtin(train_size=64, val_size=16),
                         ProxyConfig(steps=5, batch_size=8, resolution=16, warmup=1,
                                     bn_calibration=16),
                         progress=lambda step, loss: losses.append(loss))
    assert len(losses) == 5 and result.steps == 5
    assert result.train_loss == pytest.approx(sum(losses) / 5)
    assert result.final_loss == losses[-1]
    assert result.scored("loss") == -result.train_loss
    assert result.scored("top1") == result.accuracy
    assert result.accuracy * 16 == round(result.accuracy * 16)  # a count of 16 held-out images
