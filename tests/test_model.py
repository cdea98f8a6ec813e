"""Behaviour of the torch model built from a spec."""

import pytest
import torch

from mfsearch.families.mobile_former.layers import DynamicReLU
from mfsearch.families.mobile_former.model import MobileDownsample, build_model
from mfsearch.families import load_model_spec


@pytest.mark.parametrize("name,resolution", [("mobile-former-26m", 224), ("mobile-former-294m", 160)])
def test_forward_shapes_and_finite(name, resolution):
    torch.manual_seed(0)
    model = build_model(load_model_spec(name)).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, resolution, resolution))
    assert out.shape == (2, 1000)
    assert torch.isfinite(out).all()


def test_module_structure_follows_official(mf294):
    model = build_model(mf294)
    assert len(model.blocks) == 11
    assert model.tokens.weight.shape == (6, 192)
    block = model.blocks[0]
    assert list(dict(block.named_children())) == ["mobile_to_former", "former", "mobile",
                                                  "former_to_mobile"]
    assert isinstance(block.mobile, MobileDownsample)
    assert sum(isinstance(m, DynamicReLU) for m in model.modules()) == 22
    assert model.head.fc1.in_features == 1152 + 192


def test_grouped_variant_uses_groups_on_pointwise_only():
    model = build_model(load_model_spec("mobile-former-26m"))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    pointwise = [c for c in convs if c.kernel_size == (1, 1)]
    assert pointwise and all(c.groups == 4 for c in pointwise)
    assert model.stem[0].groups == 1


def test_mobile_only_ablation_has_no_tokens(mf294):
    spec = mf294.replace(former=False, activation="relu")
    model = build_model(spec).eval()
    assert not hasattr(model, "tokens") and not hasattr(model, "final_mobile_to_former")
    assert model.head.fc1.in_features == 1152
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_dynamic_relu_coefficients_follow_token0():
    act = DynamicReLU(channels=4, token_dim=16, reduction=4)
    x = torch.randn(2, 4, 3, 3)
    token = torch.randn(2, 16)
    out = act(x, token)
    coef = act.hyper(token)[:, :, None, None]
    a1, a2 = coef[:, :4] * 2, coef[:, 4:] * 2 - 1
    assert torch.allclose(out, torch.maximum(x * a1, x * a2))
    assert out.shape == x.shape


def test_batch_items_are_independent(mf294):
    """Tokens are shared learned parameters, but nothing mixes images of a batch (eval)."""
    torch.manual_seed(0)
    model = build_model(mf294).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        both = model(x)
        first = model(x[:1])
    assert torch.allclose(both[:1], first, atol=1e-5)
