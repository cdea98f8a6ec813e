"""Helpers for the tests that check our models against a reference implementation (timm)."""

import torch


def randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every BN statistic, BN affine, bias and layer scale off its initial value, so that a
    tensor landing in the wrong place shows in the logits; returned in eval mode."""
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
            elif p.ndim == 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval()


FOLDED_TOLERANCE = 3e-5


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    return ((ours - theirs).abs().max() / theirs.abs().max()).item()


def assert_matches(reference: torch.nn.Module, variant: str, tmp_path, size: int) -> None:
    """Ours, with the reference's (randomised) weights loaded from a file, has its parameters
    and its logits within 1e-5 (BN-folded: FOLDED_TOLERANCE, also against the reference's own
    fused form), and the folded network has the analytic cost model's parameters."""
    import mfsearch
    from mfsearch.models.fold import fold_batchnorm
    from timm.utils.model import reparameterize_model

    path = tmp_path / "reference.pth"
    torch.save(reference.state_dict(), path)
    ours = mfsearch.load_model(variant, weights=path)
    assert (sum(p.numel() for p in ours.parameters())
            == sum(p.numel() for p in reference.parameters()))
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = reference(x)
        assert relative(ours(x), theirs) <= 1e-5
        folded = fold_batchnorm(ours)
        # Folding rounds the weights in float32 once more: 1.02e-5 was measured for
        # mobilenetv3-large-075 after other tests had run convolutions at other shapes.
        assert relative(folded(x), theirs) <= FOLDED_TOLERANCE
        assert relative(folded(x), reparameterize_model(reference)(x)) <= FOLDED_TOLERANCE
    assert sum(p.numel() for p in folded.parameters()) == mfsearch.cost(variant).params
