"""The paper's ablation tables regenerated from spec switches: each row of `ablations.yaml` is a
base model plus `--set` overrides, so our #Param and MAdds come from the cost model, never from
typed-in numbers. The paper's published cells sit beside ours only where the paper gives them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import pandas as pd
import yaml

from ..cost.mobile_former import analyze
from ..errors import UserError
from ..spec import apply_overrides, load_model_spec
from ..spec.mobile_former import MobileFormerSpec

TABLE_IDS = ("2", "5", "6", "7", "8", "9")
DEFAULT_BASE = "mobile-former-294m"


@dataclass(frozen=True)
class AblationRow:
    label: str
    model: str | None  # a variant of its own (Table 2) or None for the base model
    overrides: tuple[str, ...]
    paper: dict  # params (M), madds (M), top1, top5: whatever the paper prints for the row


@dataclass(frozen=True)
class AblationTable:
    id: str
    title: str
    paper_base: str | None  # the model the paper's figures belong to (None: rows name their own)
    rows: tuple[AblationRow, ...]
    note: str = ""


@dataclass
class TableResult:
    table: AblationTable
    base: str
    frame: pd.DataFrame


def load_tables() -> dict[str, AblationTable]:
    text = resources.files("mfsearch.reports").joinpath("ablations.yaml").read_text("utf-8")
    data = yaml.safe_load(text)["tables"]
    tables = {}
    for tid, t in data.items():
        rows = tuple(AblationRow(label=r["label"], model=r.get("model"),
                                 overrides=tuple(r.get("set", ())), paper=r.get("paper", {}))
                     for r in t["rows"])
        tables[str(tid)] = AblationTable(id=str(tid), title=t["title"],
                                         paper_base=t.get("paper_base"), rows=rows,
                                         note=t.get("note", ""))
    return tables


def select(which: str) -> list[AblationTable]:
    tables = load_tables()
    if which == "all":
        return [tables[t] for t in TABLE_IDS]
    if which not in tables:
        raise UserError(f"unknown table {which!r}; choose one of {', '.join(TABLE_IDS)} or all")
    return [tables[which]]


def row_spec(row: AblationRow, base: MobileFormerSpec) -> MobileFormerSpec:
    spec = load_model_spec(row.model) if row.model else base
    spec = apply_overrides(spec, list(row.overrides))
    return spec if row.model else spec.replace(name=f"{base.name} [{row.label}]")


def _paper_cell(row: AblationRow, key: str, applies: bool) -> float | None:
    return row.paper.get(key) if applies else None


def regenerate(table: AblationTable, base_model: str = DEFAULT_BASE, resolution: int = 224,
               convention: str = "paper",
               train: Callable[[MobileFormerSpec], float] | None = None) -> TableResult:
    """One table: our params and MAdds per row (and a proxy top-1 when `train` is given)."""
    base = load_model_spec(base_model)
    # Published figures belong to the paper's base model at 224; elsewhere they would mislead.
    applies = resolution == 224 and (table.paper_base is None or base.name == table.paper_base)
    rows = []
    for row in table.rows:
        spec = row_spec(row, base)
        cost = analyze(spec, resolution)
        former = cost.former_and_bridge(convention)
        record = {
            "row": row.label,
            "params": cost.params,
            "madds": cost.madds(convention),
            "former+bridge %": round(100 * former / cost.madds(convention), 1),
            "paper params (M)": _paper_cell(row, "params", applies),
            "paper MAdds (M)": _paper_cell(row, "madds", applies),
            "paper top-1": _paper_cell(row, "top1", applies),
            "paper top-5": _paper_cell(row, "top5", applies),
        }
        if train is not None:
            record["proxy top-1"] = round(train(spec), 4)
        rows.append(record)
    frame = pd.DataFrame(rows)
    for col in ("paper params (M)", "paper MAdds (M)", "paper top-1", "paper top-5"):
        frame[col] = frame[col].astype("Float64")
    shown_base = "per row" if table.paper_base is None else base.name
    return TableResult(table=table, base=shown_base, frame=frame)


def to_markdown(result: TableResult, convention: str, resolution: int,
                proxy_note: str = "") -> str:
    t = result.table
    shown = result.frame.copy()
    shown["params"] = shown["params"].map(lambda v: f"{v / 1e6:.2f}M ({v:,})")
    shown["madds"] = shown["madds"].map(lambda v: f"{v / 1e6:.2f}M")
    for col in ("paper params (M)", "paper MAdds (M)", "paper top-1", "paper top-5",
                "proxy top-1"):
        if col in shown:
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    shown = shown.rename(columns={"params": "#Param (ours)", "madds": "MAdds (ours)"})
    lines = [f"# Table {t.id}: {t.title}", "",
             f"Base model: {result.base}; {resolution}x{resolution}; MAdds counted in the "
             f"`{convention}` convention. Paper cells are quoted where the paper prints them "
             "(blank otherwise); the ablation rows' withheld cost cells are ours to compute.", ""]
    if t.note:
        lines += [t.note, ""]
    if proxy_note:
        lines += [proxy_note, ""]
    lines += [shown.to_markdown(index=False, floatfmt="g"), ""]
    return "\n".join(lines)
