"""The few private APIs of dependencies that mfsearch relies on, in one place, each with the
reason and a test (tests/test_compat.py) that pins the behaviour used.

- Optuna's ask/tell API leaves heartbeats to the caller (only `Study.optimize` records them), so
  a worker that trains a trial records them through the study's storage and the trial's id.
- argparse takes any argument that starts with '-' and is not a plain negative number for an
  option; a budget such as `-5M` should reach the budget parser and its clear message instead.
- fvcore exposes its default op handles only as a private table; the `core` convention counts
  with a subset of them.
- argparse's help formatters add text to an option's help through `_get_help_string` (how its
  own ArgumentDefaultsHelpFormatter works); ours adds the default where the help omits it.
- NumPy 2 moved `numpy.core` to the private `numpy._core`; checkpoints pickled under NumPy 1 name
  the scalar type by its old path, so loading them with `weights_only` allows it under both.
- ExecuTorch's Python runtime runs XNNPACK on one process-wide thread pool whose size it sets
  only through a private call; a latency figure needs the thread count it states.
"""

from __future__ import annotations

import argparse
import re


def heartbeat_recorder(study, trial):
    """A function that records `trial`'s heartbeat, or None when the study's storage has
    heartbeats off."""
    storage = study._storage
    if not getattr(storage, "get_heartbeat_interval", lambda: None)():
        return None
    trial_id = trial._trial_id
    return lambda: storage.record_heartbeat(trial_id)


def accept_negative_values(parser: argparse.ArgumentParser, pattern: re.Pattern) -> None:
    """Arguments matching `pattern` (and starting with '-') are values, not options."""
    parser._negative_number_matcher = pattern


def numpy_pickle_globals() -> list:
    """The NumPy scalar and dtype types a checkpoint may pickle, as `torch.serialization
    .safe_globals` entries (the scalar also under NumPy 1's module path)."""
    import numpy as np

    core = np._core if hasattr(np, "_core") else np.core
    allowed = [np.dtype, type(np.dtype("float64")), core.multiarray.scalar]
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        allowed.append((core.multiarray.scalar, "numpy.core.multiarray.scalar"))
    return allowed


def executorch_threads(count: int) -> None:
    """Size ExecuTorch's process-wide thread pool (XNNPACK's) to `count` threads."""
    from executorch.extension.pybindings import portable_lib

    if portable_lib._threadpool_get_thread_count() != count:
        portable_lib._unsafe_reset_threadpool(count)


def fvcore_default_handles(ops: tuple[str, ...]) -> dict:
    """fvcore's own default handles for these ops."""
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS

    return {op: _DEFAULT_SUPPORTED_OPS[op] for op in ops}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already states it or the
    option has none (None or a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or "default" in text
                or action.default in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"
