"""The official implementation's tensor names (github.com/AAboys/MobileFormer) onto ours.

The official model registers `features.0` (the bneck-lite) and `features.1..N` (the blocks,
each with `conv1..conv4` and `hyper1..3` for the Mobile sub-block, `local_global`,
`global_block` and `global_local` for Mobile->Former, Former and Mobile<-Former), a top-level
`local_global` (the last Mobile->Former) and `classifier`. Our modules hold the same tensors
under their own names; the geometry is the same, so a rename is all a checkpoint needs.
"""

from __future__ import annotations

import re

__all__ = ["from_official", "official_name"]

# Inside a bridge or Former module: official sub-name -> ours.
_MOBILE_TO_FORMER = {"alpha.0.": "gate.", "layer_norm.": "norm.", "q.": "q.", "proj.": "proj."}
_FORMER = {"channel_mlp.": "proj.", "layer_norm.": "norm.", "q.": "q.", "ffn.": "ffn.",
           "ffn_norm.": "ffn_norm."}
_FORMER_TO_MOBILE = {"k.": "k.", "proj.": "v."}
_HEAD = {"classifier.conv.1.": "head.conv.", "classifier.conv.2.": "head.bn.",
         "classifier.fc.0.": "head.fc1.", "classifier.fc.1.": "head.fc1_bn.",
         "classifier.classifier.1.": "head.fc2."}
_MODULES = {"local_global.": ("mobile_to_former.", _MOBILE_TO_FORMER),
            "global_block.": ("former.", _FORMER),
            "global_local.": ("former_to_mobile.", _FORMER_TO_MOBILE)}
_BLOCK = re.compile(r"features\.(\d+)\.(.*)")


def _sub(rest: str, table: dict[str, str]) -> str | None:
    for theirs, ours in table.items():
        if rest.startswith(theirs):
            return ours + rest[len(theirs):]
    return None


def official_name(name: str) -> str | None:
    """Our name for an official tensor name, or None if it is none the official model has."""
    if name == "tokens.weight" or name.startswith("stem."):
        return name
    if name.startswith("classifier."):
        return _sub(name, _HEAD)
    if name.startswith("local_global."):
        rest = _sub(name[len("local_global."):], _MOBILE_TO_FORMER)
        return None if rest is None else "final_mobile_to_former." + rest
    match = _BLOCK.fullmatch(name)
    if not match:
        return None
    index, rest = int(match.group(1)), match.group(2)
    if index == 0:
        return "bneck_lite." + rest
    block = f"blocks.{index - 1}."
    conv = re.fullmatch(r"(conv\d)\.(.*)", rest)
    if conv:
        return f"{block}mobile.{conv.group(1)}.{conv.group(2)}"
    hyper = re.fullmatch(r"hyper(\d)\.(.*)", rest)
    if hyper:
        return f"{block}mobile.act{hyper.group(1)}.{hyper.group(2)}"
    for theirs, (ours, table) in _MODULES.items():
        if rest.startswith(theirs):
            sub = _sub(rest[len(theirs):], table)
            return None if sub is None else block + ours + sub
    return None


def from_official(state: dict, model) -> tuple[dict, str] | None:
    """`state` in our names if it is in the official naming (a name only it uses is present);
    tensors with no counterpart keep their names, so the loader reports them as unexpected."""
    if not any(k.startswith(("features.", "classifier.", "local_global.")) for k in state):
        return None
    out = {}
    for name, tensor in state.items():
        out[official_name(name) or name] = tensor
    return out, "official Mobile-Former names"
