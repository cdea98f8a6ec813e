"""timm's iFormer (timm >= 1.0, random init, no download) as the reference: with its weights loaded,
ours has the same parameters and logits, unfolded and BN-folded, for all six variants."""

import pytest
import torch

import mfsearch
from mfsearch.models.fold import fold_batchnorm

timm = pytest.importorskip("timm", reason="timm is a test dependency: pip install -e '.[test]'")
from timm.utils.model import reparameterize_model  # noqa: E402

VARIANTS = ["t", "s", "m", "l", "l2", pytest.param("h", marks=pytest.mark.slow)]


def randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every BN statistic, BN affine, bias and layer scale off its initial value, so that a tensor
    landing in the wrong place shows in the logits."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
        for name, p in model.named_parameters():
            if name.endswith("gamma") or (p.ndim == 1 and name.endswith("weight")):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval()


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


@pytest.mark.parametrize("variant", VARIANTS)
def test_iformer_matches_timm(variant, tmp_path):
    reference = randomised(timm.create_model(f"iformer_{variant}", pretrained=False), seed=0)
    path = tmp_path / f"iformer_{variant}.pth"
    torch.save(reference.state_dict(), path)
    ours = mfsearch.load_model(f"iformer-{variant}", weights=path)
    assert (sum(p.numel() for p in ours.parameters())
            == sum(p.numel() for p in reference.parameters()))
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = reference(x)
        assert relative(ours(x), theirs) <= 1e-5
        folded = fold_batchnorm(ours)
        assert relative(folded(x), theirs) <= 1e-5
        assert relative(folded(x), reparameterize_model(reference)(x)) <= 1e-5
    # The folded network is the one the cost model describes: its params are the analytic ones.
    assert sum(p.numel() for p in folded.parameters()) == mfsearch.cost(f"iformer-{variant}").params


def test_timm_safetensors_weights_load(tmp_path):
    """The hub's model.safetensors files hold the same state dict in another container."""
    from safetensors.torch import save_file

    reference = randomised(timm.create_model("iformer_t", pretrained=False), seed=2)
    save_file(reference.state_dict(), str(tmp_path / "model.safetensors"))
    ours = mfsearch.load_model("iformer-t", weights=tmp_path / "model.safetensors")
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert relative(ours(x), reference(x)) <= 1e-5


def test_a_distilled_checkpoint_is_refused_with_the_reason(tmp_path):
    reference = timm.create_model("iformer_m_distilled", pretrained=False)
    torch.save(reference.state_dict(), tmp_path / "distilled.pth")
    with pytest.raises(mfsearch.UserError, match="a distilled iFormer checkpoint"):
        mfsearch.load_model("iformer-m", weights=tmp_path / "distilled.pth")


def test_timm_weights_of_another_size_fail_with_one_line(tmp_path):
    torch.save(timm.create_model("iformer_s", pretrained=False).state_dict(), tmp_path / "s.pth")
    with pytest.raises(mfsearch.UserError, match=r"stem\.0\.0\.weight is \(16, 3, 5, 5\)|"
                                                 r"in the checkpoint but .* in iformer-t"):
        mfsearch.load_model("iformer-t", weights=tmp_path / "s.pth")
