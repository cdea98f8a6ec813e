"""How well the lookup table predicts whole-model latency: predicted (sum of block entries) vs
measured end to end, on specs whose whole-model latency the table never saw."""

from __future__ import annotations

import datetime
import statistics
from pathlib import Path

import pandas as pd
from scipy import stats

from ..families import analyze, build_model, load_model_spec, variant_names
from ..space import random_specs
from .measure import measure
from .table import LatencyTable


def sample_specs(space, count: int, seed: int, max_tries: int = 5000) -> list:
    """`count` distinct random specs of the space (any cost)."""
    specs = []
    for spec in random_specs(space, seed, max_tries) if count > 0 else ():
        specs.append(spec.replace(name=f"random-{len(specs) + 1}"))
        if len(specs) == count:
            break
    return specs


def split_specs(space, calibration: int, held_out: int, seed: int,
                variants: bool = True, max_madds: float = 3e9) -> tuple[list, list]:
    """(calibration specs, held-out specs): `calibration` random specs of the space fit the
    table's scale and are never reported; the held-out ones are the family's shipped variants
    up to `max_madds` (unless `variants` is false) and `held_out` other random specs."""
    held = shipped(space.family, max_madds) if variants else []
    sampled = sample_specs(space, max(0, calibration) + max(0, held_out), seed)
    n = max(0, calibration)
    fit = [s.replace(name=f"calibration-{i + 1}") for i, s in enumerate(sampled[:n])]
    held += [s.replace(name=f"heldout-{i + 1}") for i, s in enumerate(sampled[n:])]
    return fit, held


def shipped(family: str, max_madds: float) -> list:
    specs = [load_model_spec(n) for n in variant_names(family)]
    return [s for s in specs if analyze(s).madds("core") <= max_madds]


def measure_whole(table: LatencyTable, spec):
    return measure(build_model(spec, table.settings.resolution), spec.name, table.settings,
                   throughput_batch=None, breakdown=False).latency


def calibrate(table: LatencyTable, specs: list, log=print) -> float:
    """Fit the table's scale on whole-model measurements of `specs` (kept out of the error)."""
    measured = []
    for i, spec in enumerate(specs, 1):
        table.predict(spec)  # fills the table with the spec's blocks
        measured.append(measure_whole(table, spec).median_ms)
        log(f"calibration [{i}/{len(specs)}] {spec.name}: measured {measured[-1]:.2f} ms")
    scale = table.calibrate(specs, measured)
    log(f"calibration scale {scale:.3f} (measured whole model / sum of blocks, median)")
    return scale


def evaluate(table: LatencyTable, specs: list, log=print) -> pd.DataFrame:
    rows = []
    for i, spec in enumerate(specs, 1):
        predicted = table.predict(spec)
        t = measure_whole(table, spec)
        cost = analyze(spec, table.settings.resolution)
        rows.append({"model": spec.name, "params": cost.params, "madds": cost.madds("paper"),
                     "blocks_ms": round(predicted.blocks_ms, 3),
                     "predicted_ms": round(predicted.total_ms, 3),
                     "measured_ms": round(t.median_ms, 3), "iqr_ms": round(t.iqr_ms, 3),
                     "error_pct": round(100 * (predicted.total_ms / t.median_ms - 1), 2),
                     "blocks_error_pct": round(100 * (predicted.blocks_ms / t.median_ms - 1), 2),
                     "new_blocks": predicted.measured})
        log(f"[{i}/{len(specs)}] {spec.name}: predicted {predicted.total_ms:.2f} ms, measured "
            f"{t.median_ms:.2f} ms (IQR {t.iqr_ms:.2f}), error {rows[-1]['error_pct']:+.1f}%")
    return pd.DataFrame(rows)


def _kendall(a, b) -> float:
    """Kendall tau, NaN below two specs (where no ranking exists)."""
    return round(float(stats.kendalltau(a, b).statistic), 3) if len(a) > 1 else float("nan")


def summary(frame: pd.DataFrame) -> dict:
    errors = frame["error_pct"].abs()
    return {
        "specs": len(frame),
        "median_abs_error_pct": round(float(statistics.median(errors)), 2),
        "blocks_median_abs_error_pct": round(float(statistics.median(
            frame["blocks_error_pct"].abs())), 2),
        "max_abs_error_pct": round(float(errors.max()), 2),
        "within_10pct": int((errors <= 10).sum()),
        "kendall_lut": _kendall(frame["predicted_ms"], frame["measured_ms"]),
        "kendall_madds": _kendall(frame["madds"], frame["measured_ms"]),
    }


def write_report(frame: pd.DataFrame, table: LatencyTable, family: str, path: Path,
                 command: str) -> dict:
    s = summary(frame)
    calibration = table.calibration.get(family, {})
    st, m = table.settings, table.machine
    text = "\n".join([
        "# Latency lookup table: prediction error", "",
        f"Command: `{command}` ({datetime.date.today().isoformat()})", "",
        f"Settings: engine {m.get('engine', st.engine)}, batch {st.batch}, "
        f"{st.resolution}x{st.resolution}, {st.threads} thread(s), "
        f"{st.device}, {st.memory_format}, BN folded, inference mode; each block timed alone "
        f"(exported alone where the engine runs files) "
        f"for >= {table.part_time:g} s, each whole model for >= {st.min_time:g} s "
        f"(median of `torch.utils.benchmark` blocked_autorange). Machine: {m['cpu']}, torch "
        f"{m['torch']}.", "",
        "A spec's latency is predicted as the sum of its blocks' table entries (blocks timed "
        "alone, on the inputs they see inside the model) times one calibration scale, the "
        "median ratio of whole-model latency to block sum on the family's calibration specs "
        f"({', '.join(calibration.get('specs', [])) or 'none'}: scale "
        f"{table.scale(family):.3f}). The specs "
        "below are held out: their whole-model latency was measured only to report the error.",
        "",
        f"**Median absolute error {s['median_abs_error_pct']:.1f}%** over {s['specs']} specs "
        f"(max {s['max_abs_error_pct']:.1f}%, {s['within_10pct']} of {s['specs']} within 10%). "
        f"Kendall tau against measured latency: table {s['kendall_lut']:+.3f}, "
        f"MAdds {s['kendall_madds']:+.3f}. Without the calibration scale (plain block sum): "
        f"median absolute error {s['blocks_median_abs_error_pct']:.1f}%.", "",
        frame.to_markdown(index=False), "",
        f"Table file: `{table.path}` ({len(table.entries)} block shapes).", ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return s
