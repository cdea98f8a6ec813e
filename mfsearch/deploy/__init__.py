"""Deployment runtimes: the deployed form of a model (BatchNorm folded, eval) exported to ONNX or
ExecuTorch (XNNPACK), run in its runtime, compared with torch and timed there.

Engines are looked up by name (`get_engine("onnxruntime")`) as fvcore looks up op handles: the
latency harness and the lookup table ask the engine object and never branch on its name.
"""

from .engines import Engine, Session
from .export import ExportResult, compare_outputs, deployed_form, export_model
from .registry import ENGINES, engine_for_format, engine_names, get_engine, register_engine

__all__ = ["ENGINES", "Engine", "ExportResult", "Session", "compare_outputs", "deployed_form",
           "engine_for_format", "engine_names", "export_model", "get_engine", "register_engine"]
