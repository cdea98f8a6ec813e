"""A cost analysis as a pandas table: one row per pillar and per part (what `mfsearch cost
--format csv` prints and `mfsearch.cost(...).to_frame()` returns)."""

from __future__ import annotations

import pandas as pd

from .counts import ModelCost

_GEOMETRY = ("cin", "cout", "stride", "res_in", "res_out")


def cost_frame(cost: ModelCost, convention: str) -> pd.DataFrame:
    """One row per pillar and per part, for CSV output."""
    total = cost.madds(convention)
    rows = [{"section": "pillar", "name": n, "params": c.params, "madds": c.madds(convention)}
            for n, c in cost.pillars.items()]
    for p in cost.parts:
        row = {"section": "part", "name": p.name, "kind": p.kind, "params": p.counts.params,
               "madds": p.counts.madds(convention)}
        row.update({k: v for k, v in p.info.items() if k in _GEOMETRY})
        row["hidden"] = "/".join(map(str, p.info.get("hidden", [])))
        for k in cost.pillar_names:
            if k in p.pillars:
                row[f"madds_{k}"] = p.pillars[k].madds(convention)
        rows.append(row)
    rows.append({"section": "total", "name": "total", "params": cost.params, "madds": total})
    frame = pd.DataFrame(rows)
    frame.insert(0, "convention", convention)
    frame.insert(0, "resolution", cost.resolution)
    frame.insert(0, "model", cost.model)
    frame["share"] = (frame["madds"] / total).round(6) if total else 0.0
    pillar_cols = [f"madds_{k}" for k in cost.pillar_names]
    columns = ["model", "resolution", "convention", "section", "name", "kind", "cin", "cout",
               "stride", "res_in", "res_out", "hidden", "params", "madds", "share", *pillar_cols]
    frame = frame.reindex(columns=columns)
    int_cols = ["cin", "cout", "stride", "res_in", "res_out", *pillar_cols]
    frame[int_cols] = frame[int_cols].astype("Int64")
    return frame
