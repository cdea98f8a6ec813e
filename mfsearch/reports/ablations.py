"""The paper's ablation tables regenerated from spec switches: each row of `ablations.yaml` is a
base model plus `--set` overrides, so our #Param and MAdds come from the cost model, never from
typed-in numbers. The paper's published cells sit beside ours only where the paper gives them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from ..errors import UserError
from ..families import analyze, apply_overrides, family_of, load_model_spec
from ..spec.geometry import Resolution, check_resolution, size_text

TABLE_IDS = ("2", "4", "5", "6", "7", "8", "9")
# The paper's cells a row may quote, and their column names.
PAPER_COLUMNS = {"params": "paper params (M)", "madds": "paper MAdds (M)", "top1": "paper top-1",
                 "top5": "paper top-5", "ap": "paper AP"}
ALWAYS_SHOWN = ("params", "madds", "top1", "top5")
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
    resolution: Resolution = 224  # the input size the paper's table is at
    backbone: bool = False  # costs of the detection backbone (no classifier head)

    @property
    def paper_keys(self) -> list[str]:
        quoted = {k for row in self.rows for k in row.paper}
        return [k for k in PAPER_COLUMNS if k in ALWAYS_SHOWN or k in quoted]


@dataclass
class TableResult:
    table: AblationTable
    base: str
    frame: pd.DataFrame
    resolution: Resolution = 224


def load_tables() -> dict[str, AblationTable]:
    text = resources.files("mfsearch.reports").joinpath("ablations.yaml").read_text("utf-8")
    data = yaml.safe_load(text)["tables"]
    tables = {}
    for tid, t in data.items():
        rows = tuple(AblationRow(label=r["label"], model=r.get("model"),
                                 overrides=tuple(r.get("set", ())), paper=r.get("paper", {}))
                     for r in t["rows"])
        tables[str(tid)] = AblationTable(
            id=str(tid), title=t["title"], paper_base=t.get("paper_base"), rows=rows,
            note=t.get("note", ""), resolution=check_resolution(str(t.get("resolution", 224))),
            backbone=bool(t.get("backbone", False)))
    return tables


def select(which: str) -> list[AblationTable]:
    """"all", one table id, or several separated by commas ("5,6,7,8,9")."""
    tables = load_tables()
    if which == "all":
        return [tables[t] for t in TABLE_IDS]
    chosen = [t.strip() for t in which.split(",")]
    unknown = [t for t in chosen if t not in tables]
    if unknown:
        raise UserError(f"unknown table {unknown[0]!r}; choose one of {', '.join(TABLE_IDS)}, "
                        "several separated by commas, or all")
    return [tables[t] for t in dict.fromkeys(chosen)]


def row_spec(row: AblationRow, base: object) -> object:
    spec = load_model_spec(row.model) if row.model else base
    spec = apply_overrides(spec, list(row.overrides))
    return spec if row.model else spec.replace(name=f"{base.name} [{row.label}]")


def _paper_cell(row: AblationRow, key: str, applies: bool) -> float | None:
    return row.paper.get(key) if applies else None


def regenerate(table: AblationTable, base_model: str = DEFAULT_BASE,
               resolution: Resolution | None = None, convention: str = "paper",
               train: Callable[[object], float] | None = None) -> TableResult:
    """One table: our params and MAdds per row (and a proxy top-1 when `train` is given), at
    the table's own input size unless `resolution` is given."""
    base = load_model_spec(base_model)
    resolution = table.resolution if resolution is None else resolution
    # Published figures belong to the paper's base model at its size; elsewhere they mislead.
    applies = (resolution == table.resolution
               and (table.paper_base is None or base.name == table.paper_base))
    rows = []
    for row in table.rows:
        spec = row_spec(row, base)
        cost = analyze(spec, resolution, table.backbone)
        family = family_of(spec)
        record = {"row": row.label, "params": cost.params, "madds": cost.madds(convention)}
        if family.display.share_group:
            share = family.display.group_madds(cost, family.display.share_group, convention)
            record[f"{family.display.share_group} %"] = round(100 * share / cost.madds(convention), 1)
        record.update({PAPER_COLUMNS[k]: _paper_cell(row, k, applies) for k in table.paper_keys})
        if train is not None:
            record["proxy top-1"] = round(100 * train(spec), 1)  # percent, as the paper's
        rows.append(record)
    frame = pd.DataFrame(rows)
    for key in table.paper_keys:
        frame[PAPER_COLUMNS[key]] = frame[PAPER_COLUMNS[key]].astype("Float64")
    shown_base = "per row" if table.paper_base is None else base.name
    return TableResult(table=table, base=shown_base, frame=frame, resolution=resolution)


def to_markdown(result: TableResult, convention: str, proxy_note: str = "") -> str:
    t = result.table
    shown = result.frame.copy()
    shown["params"] = shown["params"].map(lambda v: f"{v / 1e6:.2f}M ({v:,})")
    shown["madds"] = shown["madds"].map(lambda v: f"{v / 1e6:.2f}M")
    for col in [PAPER_COLUMNS[k] for k in t.paper_keys] + ["proxy top-1"]:
        if col in shown:
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:g}")
    shown = shown.rename(columns={"params": "#Param (ours)", "madds": "MAdds (ours)"})
    what = "; detection backbone (no classifier head)" if t.backbone else ""
    lines = [f"# Table {t.id}: {t.title}", "",
             f"Base model: {result.base}; {size_text(result.resolution)}{what}; MAdds counted in the "
             f"`{convention}` convention. Paper cells are quoted where the paper prints them "
             "(blank otherwise); the ablation rows' withheld cost cells are ours to compute.", ""]
    if t.note:
        lines += [t.note, ""]
    if proxy_note:
        lines += [proxy_note, ""]
    lines += [shown.to_markdown(index=False, floatfmt="g"), ""]
    return "\n".join(lines)


def write_tables(results, out: Path, convention: str, proxy_note: str = "") -> list[Path]:
    """tableN.md and tableN.csv per result (never over a file mfsearch did not write)."""
    from .files import claim, remember

    names = claim(out, [f"table{r.table.id}.{ext}" for r in results for ext in ("md", "csv")])
    paths = []
    for result in results:
        stem = out / f"table{result.table.id}"
        result.frame.to_csv(stem.with_suffix(".csv"), index=False)
        stem.with_suffix(".md").write_text(
            to_markdown(result, convention, proxy_note), encoding="utf-8")
        paths += [stem.with_suffix(".md"), stem.with_suffix(".csv")]
    remember(out, names)
    return paths
