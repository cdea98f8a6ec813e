"""timm's iFormer (timm >= 1.0, random init, no download) as the reference: with its weights loaded,
ours has the same parameters and logits, unfolded and BN-folded, for all six variants."""

import pytest
import torch

import mfsearch
from tests.reference import assert_matches, randomised, relative

timm = pytest.importorskip("timm", reason="timm is a test dependency: pip install -e '.[test]'")

VARIANTS = ["t", "s", "m", "l", "l2", pytest.param("h", marks=pytest.mark.slow)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_iformer_matches_timm(variant, tmp_path):
    reference = randomised(timm.create_model(f"iformer_{variant}", pretrained=False), seed=0)
    assert_matches(reference, f"iformer-{variant}", tmp_path, 128)


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
