"""A per-machine latency lookup table: measured latency of every block shape met so far, keyed
by block type and shape, cached in a JSON file; a spec's latency is predicted as the sum of its
parts' entries (microseconds of lookups once its blocks are in the table).

Blocks are timed in place: the whole (BN-folded) model runs once with hooks that capture each
part's inputs, then each part not yet in the table is timed alone on those inputs, in the
table's engine (exported alone to its runtime where the engine runs files). Parts are the cost
model's parts, so the table's keys reuse the cost model's geometry, with the engine.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..deploy import get_engine
from ..deploy.export import deploy
from ..errors import UserError
from ..families import analyze, build_model, family_of
from ..models.parts import part_inputs
from .measure import (LatencySettings, example_input, machine, prepare, time_call,
                      torch_threads)

TABLE_VERSION = 2  # 2: entries keyed by engine too
_NEVER = {"name", "description"}  # no block's latency depends on these, in any family


def part_key(spec, part, engine: str = "torch") -> str:
    """Engine, block type and everything its latency depends on, as a stable string: the
    part's geometry and the spec fields its family does not list as ignored (or head-only)."""
    family = family_of(spec)
    ignored = _NEVER | family.latency_ignored | (set() if part.kind == "head"
                                                  else family.head_only)
    context = {k: v for k, v in spec.to_dict().items() if k not in ignored}
    return json.dumps({"engine": engine, "family": spec.family, "kind": part.kind,
                       **part.info, **context},
                      sort_keys=True, separators=(",", ":"))


@dataclass
class Prediction:
    model: str
    total_ms: float  # calibrated: scale x sum of the parts
    parts: list[dict]  # {"name", "kind", "ms"}
    measured: int  # table entries added while predicting

    @property
    def blocks_ms(self) -> float:
        """The plain sum of the parts' entries (no calibration)."""
        return sum(p["ms"] for p in self.parts)


@dataclass
class LatencyTable:
    settings: LatencySettings
    machine: dict
    entries: dict[str, dict] = field(default_factory=dict)
    path: Path | None = None
    part_time: float = 0.2  # seconds of timed runs per block
    # Blocks timed alone run with warm caches and no glue between them, so their sum is short
    # of a whole model's latency by a roughly constant factor per family; `calibrate` measures
    # it on whole models (never the ones whose error is reported).
    calibration: dict[str, dict] = field(default_factory=dict)  # family -> {"scale", "specs"}
    # progress(done, total, part name) while blocks new to the table are timed
    progress: Callable[[int, int, str], None] | None = field(default=None, repr=False)

    def scale(self, family: str) -> float:
        return self.calibration.get(family, {}).get("scale", 1.0)

    # --- file -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None, settings: LatencySettings) -> LatencyTable:
        if settings.memory_format == "auto":
            raise UserError("a latency table needs one memory format: pass --memory-format "
                            "channels_last or contiguous")
        info = machine() | {"engine": get_engine(settings.engine).label()}
        path = Path(path) if path else default_path(settings, info)
        table = cls(settings=settings, machine=info, path=path)
        if path.exists():
            try:
                data = json.loads(path.read_text())
                saved, entries = data["settings"], data["entries"]
                calibration = data.get("calibration") or {}
                if not all(isinstance(v["median_ms"], (int, float)) for v in entries.values()) \
                        or not all(v["scale"] > 0 for v in calibration.values()):
                    raise ValueError
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise UserError(f"{path}: not a latency table (delete it or pass another "
                                "--table)") from None
            other = data.get("machine", {})
            if data.get("version") != TABLE_VERSION or not _same_settings(saved, settings) or \
                    (other.get("cpu"), other.get("torch"), other.get("engine")) != \
                    (info["cpu"], info["torch"], info["engine"]):
                raise UserError(f"{path}: measured with other settings or on another machine "
                                f"({saved}); pass another --table")
            table.entries, table.calibration = dict(entries), dict(calibration)
        else:
            table.save()  # an unwritable place fails now, before any block is timed
        return table

    def save(self) -> None:
        """Atomic write: an interrupted save never leaves a half-written table."""
        assert self.path is not None
        data = {"version": TABLE_VERSION, "settings": asdict(self.settings),
                "machine": self.machine, "entries": self.entries,
                "calibration": self.calibration}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".latency-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the latency table "
                            f"({exc.strerror or exc})") from None

    # --- prediction -------------------------------------------------------------------------
    def predict(self, spec, save: bool = True) -> Prediction:
        """Sum of the parts' table entries; parts not yet in the table are measured first."""
        cost = analyze(spec, self.settings.resolution)
        # Parts that compute nothing (learned tokens, say) take no time of their own.
        keys = [(p, part_key(spec, p, self.settings.engine)) for p in cost.parts
                if p.counts.ops]
        missing = {k for _, k in keys if k not in self.entries}
        if missing:
            self._measure_parts(spec, {p.name: k for p, k in keys if k in missing})
            if save and self.path is not None:
                self.save()
        parts = [{"name": p.name, "kind": p.kind, "ms": self.entries[k]["median_ms"]}
                 for p, k in keys]
        return Prediction(model=spec.name,
                          total_ms=self.scale(spec.family) * sum(p["ms"] for p in parts),
                          parts=parts, measured=len(missing))

    def calibrate(self, specs: list, measured_ms: list[float]) -> float:
        """The family's scale = median of measured whole-model latency over the block sum."""
        ratios = [m / self.predict(s, save=False).blocks_ms for s, m in zip(specs, measured_ms)]
        family = specs[0].family
        self.calibration[family] = {"scale": statistics.median(ratios),
                                    "specs": [s.name for s in specs]}
        if self.path is not None:
            self.save()
        return self.calibration[family]["scale"]

    def _measure_parts(self, spec, wanted: dict[str, str]) -> None:
        """Time the parts named in `wanted` (part name -> table key) on the inputs they see."""
        with torch_threads(self.settings.threads):
            self._time_parts(spec, wanted)

    def _time_parts(self, spec, wanted: dict[str, str]) -> None:
        s = self.settings
        engine = get_engine(s.engine)
        model = prepare(build_model(spec, s.resolution), s, s.memory_format)
        captured = part_inputs(model, example_input(s, s.batch, s.memory_format))
        todo = [(name, module) for name, module in model.parts() if name in wanted]
        with tempfile.TemporaryDirectory() as tmp:
            for n, (name, module) in enumerate(todo):
                key = wanted[name]
                if key in self.entries:  # a shape met twice is timed once
                    continue
                if self.progress is not None:
                    self.progress(n, len(todo), f"{spec.name} {name}")
                args = captured[name]
                session = deploy(engine, module, args, Path(tmp), s.threads,
                                 f"{spec.name} {name}")
                t = time_call(lambda a=args: session.run(*a), s.threads, self.part_time, 3,
                              s.device == "cuda")
                self.entries[key] = {"median_ms": t.median_ms, "iqr_ms": t.iqr_ms,
                                     "runs": t.runs}


def _same_settings(saved: dict, settings: LatencySettings) -> bool:
    keys = ("resolution", "batch", "threads", "device", "memory_format", "engine")
    return all(saved.get(k) == getattr(settings, k) for k in keys)


def default_path(settings: LatencySettings, info: dict) -> Path:
    """One table per machine and settings under the user's cache folder."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mfsearch"
    cpu = re.sub(r"[^a-z0-9]+", "-", (info["gpu"] if settings.device == "cuda" else info["cpu"])
                 .lower()).strip("-")
    name = (f"latency-{cpu}-{settings.engine}-{settings.device}-t{settings.threads}-"
            f"b{settings.batch}-r{settings.resolution}-{settings.memory_format}.json")
    return root / name
