"""Where work runs: the one place a device name ("auto", "cpu", "cuda", "cuda:1") becomes a
torch device, and the one message for a missing GPU."""

from __future__ import annotations

from .errors import UserError


def resolve_device(name: str, option: str = "--device"):
    """`name` as a torch.device ("auto": CUDA when there is one); an error naming `option` when
    it is no device, or names a GPU this machine lacks."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UserError(f"{option} {name!r}: expected cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{option} {name}: no CUDA device is available")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise UserError(f"{option} {name}: this machine has {count} CUDA device(s), "
                            f"cuda:0 to cuda:{count - 1}")
    return device
