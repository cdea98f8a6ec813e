"""Engines by name, as the command line's `--engine` takes them; a runtime added elsewhere
registers its engine class with `register_engine`."""

from __future__ import annotations

from ..errors import UserError
from .engines import Engine, TorchEngine
from .executorch import ExecuTorchEngine
from .onnx import OnnxRuntimeEngine

ENGINES: dict[str, type[Engine]] = {}


def register_engine(engine: type[Engine]) -> type[Engine]:
    ENGINES[engine.name] = engine
    return engine


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def get_engine(name: str) -> Engine:
    """The engine called `name`, checked to be installed."""
    if name not in ENGINES:
        raise UserError(f"--engine: expected one of {', '.join(ENGINES)}, got {name!r}")
    return ENGINES[name]().require()


def engine_for_format(name: str) -> Engine:
    """The engine that runs files of format `name` (onnx, executorch), checked installed."""
    formats = {e.format: e for e in ENGINES.values() if e.format}
    if name not in formats:
        raise UserError(f"--format: expected one of {', '.join(formats)}, got {name!r}")
    return formats[name]().require(f"--format {name}")


for _engine in (TorchEngine, OnnxRuntimeEngine, ExecuTorchEngine):
    register_engine(_engine)
