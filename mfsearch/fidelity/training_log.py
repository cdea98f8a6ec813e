"""Finished trainings of a fidelity measurement, one JSON line each, appended as they finish:
an interrupted measurement keeps them, and a rerun or a larger one (more architectures, more
seeds) trains only what is missing."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import asdict
from importlib import import_module
from pathlib import Path

import torch

from ..data import Dataset
from ..devices import resolve_device
from ..errors import UserError
from ..families import DEFAULT_FAMILY, get_family
from ..latency.measure import machine

# The code a training's outcome depends on (globs under the package, then under the trained
# spec's family package): a change to it makes earlier lines stale. The `Family` object counts
# (its training initialisation); a family's cost model and space do not train, nor does
# another family's code.
_CODE = ("data/*.py", "models/layers.py", "spec/*.py", "proxy/train.py", "proxy/config.py",
         "families/base.py", "families/registry.py")
_FAMILY_CODE = ("__init__.py", "spec.py", "layout.py", "model.py", "layers.py", "pillars.py")


def code_only(source: str) -> str:
    """The source's syntax tree without docstrings: comments, docstrings and layout do not
    change a training, so editing them keeps the log."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_fingerprint(family: str = DEFAULT_FAMILY) -> str:
    """The training code of `family`'s models: the shared modules and its own package."""
    root = Path(__file__).resolve().parent.parent
    package = Path(import_module(get_family(family).package).__file__).resolve().parent
    files = sorted({f for pattern in _CODE for f in root.glob(pattern)}
                   | {package / name for name in _FAMILY_CODE if (package / name).is_file()})
    digest = hashlib.sha256()
    for path in files:
        digest.update((path.relative_to(root).as_posix() if path.is_relative_to(root)
                       else path.name).encode())
        digest.update(code_only(path.read_text(encoding="utf-8")).encode())
    return digest.hexdigest()


class TrainingLog:
    """Outcomes keyed by everything that decides them: the architecture (not its name), the
    training settings with the seed, the data, the CPU threads (they change float rounding),
    the torch version and the training code. Each line also names the CPU it ran on, outside
    the key: the same training rounds differently on another CPU model, and a measurement that
    spans machines should say so, not be unable to continue."""

    def __init__(self, path: Path, data: Dataset, threads: int):
        self.path = Path(path)
        self._context = {"data": data.identity(), "threads": threads,
                         "torch": torch.__version__}
        self._code: dict[str, str] = {}  # family -> fingerprint
        self._done: dict[str, dict] = {}
        self._cpu: dict[str, str | None] = {}  # key -> CPU model; None for lines without it
        self.this_cpu = machine()["cpu"]
        try:
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    self._done[entry["key"]] = entry["outcome"]
                    self._cpu[entry["key"]] = entry.get("cpu")
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short when the process was killed
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a")
            if text and not text.endswith("\n"):  # end the line a killed process cut short
                self._file.write("\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
            raise UserError(f"--trainings {self.path}: cannot use it as the training log "
                            f"({reason})") from None

    def key(self, spec, cfg) -> str:
        architecture = {k: v for k, v in spec.to_dict().items() if k != "name"}
        config = {**asdict(cfg), "device": str(resolve_device(cfg.device))}  # "auto" -> cuda/cpu
        if spec.family not in self._code:
            self._code[spec.family] = code_fingerprint(spec.family)
        text = json.dumps({"spec": architecture, "config": config, **self._context,
                           "code": self._code[spec.family]}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, spec, cfg) -> dict | None:
        return self._done.get(self.key(spec, cfg))

    def cpu(self, spec, cfg) -> str | None:
        """The CPU model the logged training ran on (None: logged before lines named it)."""
        return self._cpu.get(self.key(spec, cfg))

    def add(self, spec, cfg, outcome: dict) -> None:
        key = self.key(spec, cfg)
        self._done[key] = outcome
        self._cpu[key] = self.this_cpu
        self._file.write(json.dumps({"key": key, "arch": spec.name, "steps": cfg.steps,
                                     "seed": cfg.seed, "cpu": self.this_cpu,
                                     "outcome": outcome}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
