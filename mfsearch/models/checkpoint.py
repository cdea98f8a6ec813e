"""Weights in and out: the checkpoint files users bring, read without unpickling code, and our own
format (safetensors with the spec in its metadata).

Torch files load with `torch.load(weights_only=True)`, allowing only what training checkpoints
carry besides tensors (timm's saver stores the argparse Namespace of the run; the original
iFormer releases hold NumPy scalars). From a training checkpoint the first of `state_dict_ema`,
`model_ema`, `state_dict`, `model` is taken, as timm's loader does, and the `module.` (DataParallel,
DDP) and `_orig_mod.` (torch.compile) prefixes are stripped. Names another implementation uses
are mapped by the caller's `import_weights` (the family's); nothing loads with `strict=False`.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..compat import numpy_pickle_globals
from ..errors import UserError

__all__ = ["OWN_FORMAT", "Checkpoint", "load_weights", "read_checkpoint", "save_weights"]

OWN_FORMAT = "mfsearch-weights"
NESTED = ("state_dict_ema", "model_ema", "state_dict", "model")
PREFIXES = ("module.", "_orig_mod.")
_SHOWN = 3  # names quoted when tensors are missing or unexpected


@dataclass
class Checkpoint:
    path: Path
    state: dict[str, torch.Tensor]
    container: str  # what the file was, for messages ("timm training checkpoint: state_dict_ema")
    spec: dict | None = None  # the spec our own format records


def _safe_globals() -> list:
    """What `weights_only` loading may rebuild besides tensors: argparse.Namespace and NumPy
    scalars and dtypes."""
    return [argparse.Namespace, *numpy_pickle_globals()]


def _sniff(path: Path) -> str:
    """What a file that is not a checkpoint looks like, in a few words."""
    head = path.read_bytes()[:64]
    if not head:
        return "an empty file"
    for magic, what in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
                        (b"PK\x03\x04", "a zip archive that is not a PyTorch checkpoint"),
                        (b"\x1f\x8b", "gzip data"), (b"%PDF", "a PDF document")):
        if head.startswith(magic):
            return what
    text = head.decode("utf-8", errors="replace")
    if not all(c.isprintable() or c.isspace() for c in text):
        return "binary data of no known checkpoint format"
    return f"text ({text.splitlines()[0][:40]!r}...)" if text.strip() else "blank text"


def _is_safetensors(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < length < path.stat().st_size


def _tensors(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _strip(state: dict) -> dict:
    out = {}
    for name, tensor in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in PREFIXES:
                if name.startswith(prefix):
                    name, changed = name[len(prefix):], True
        out[name] = tensor
    return out


def _from_torch_file(path: Path) -> Checkpoint:
    with path.open("rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive (torch >= 1.6) or, before that, a pickle.
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise UserError(f"{path}: not a checkpoint: found {_sniff(path)}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise UserError(f"{path}: holds a pickled {found.group(1)}, which loading with "
                            "weights_only refuses (unpickling runs code); save the model's "
                            "state_dict() instead") from None
        raise UserError(f"{path}: not a checkpoint: found {_sniff(path)}") from None
    except Exception:  # a damaged archive or pickle fails anywhere inside torch.load
        raise UserError(f"{path}: not a checkpoint: found {_sniff(path)}") from None
    if _tensors(obj):
        return Checkpoint(path, _strip(obj), "state dict")
    if isinstance(obj, dict):
        for key in NESTED:
            if _tensors(obj.get(key)):
                kind = "training checkpoint" + (f" of {obj['arch']}" if obj.get("arch") else "")
                return Checkpoint(path, _strip(obj[key]), f"{kind}: {key}")
        keys = ", ".join(map(str, list(obj)[:6])) or "none"
        raise UserError(f"{path}: not a checkpoint: found a dict with keys {keys} and no "
                        f"state dict (looked for a dict of tensors or one of {', '.join(NESTED)})")
    raise UserError(f"{path}: not a checkpoint: found a {type(obj).__name__}, not a dict of "
                    "tensors")


def read_checkpoint(path: str | Path) -> Checkpoint:
    """The tensors of a checkpoint file in any accepted container, with their names as stored
    (prefixes stripped)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    if not _is_safetensors(path):
        return _from_torch_file(path)
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: a damaged safetensors file ({exc})") from None
    if meta.get("format") == OWN_FORMAT:
        return Checkpoint(path, state, "mfsearch weights", json.loads(meta["spec"]))
    return Checkpoint(path, _strip(state), "safetensors file")


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Our own format: a safetensors file of `model`'s state dict, its spec in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": OWN_FORMAT, "version": "1",
                                          "family": model.spec.family,
                                          "spec": json.dumps(model.spec.to_dict())})
    return path


def _names(names: list[str]) -> str:
    more = f", ... ({len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def load_weights(model: nn.Module, path: str | Path, import_weights=None) -> str:
    """Load a checkpoint into `model` exactly (every tensor, every shape), or fail with one line.
    `import_weights(state, model)` renames another implementation's tensors (the model's
    `Family.import_weights`). Returns what was loaded, for a status line."""
    ckpt = read_checkpoint(path)
    own = model.state_dict()
    state, naming = ckpt.state, "mfsearch names"
    if set(state) != set(own) and import_weights is not None:
        converted = import_weights(state, model)
        if converted is not None:
            state, naming = converted
    name = model.spec.name
    for key, tensor in own.items():
        if key in state and tuple(state[key].shape) != tuple(tensor.shape):
            raise UserError(f"{ckpt.path}: {key} is {tuple(state[key].shape)} in the checkpoint "
                            f"but {tuple(tensor.shape)} in {name}: a checkpoint of another "
                            "variant?")
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of {name}'s {len(own)} tensors missing "
                         f"({_names(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_names(unexpected)})")
        raise UserError(f"{ckpt.path}: {' and '.join(parts)}; read as {naming} from a "
                        f"{ckpt.container}")
    model.load_state_dict(state, strict=True)
    return f"loaded {len(own)} tensors from {ckpt.path} ({ckpt.container}, {naming})"
