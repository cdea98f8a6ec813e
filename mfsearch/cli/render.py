"""Rich/pandas renderings of cost analyses (tables for people, CSV/JSON for programs)."""

from __future__ import annotations

import json
import os

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from ..cost.counts import CONVENTIONS, ModelCost
from ..families import get_family
from ..spec.geometry import size_text


def millions(n: int) -> str:
    return f"{n / 1e6:,.3f}"


class _Console(Console):
    def on_broken_pipe(self) -> None:  # rich's hook: exits 1; the CLI's handler decides
        self.quiet = True
        raise BrokenPipeError


def make_console(soft_wrap: bool = False, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or as `COLUMNS` says; 100 columns when piped without
    `COLUMNS` (rich would assume 80). soft_wrap keeps long messages (paths, commands) on one
    line."""
    console = _Console(soft_wrap=soft_wrap, stderr=stderr)
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return _Console(width=100, soft_wrap=soft_wrap, stderr=stderr)


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def fitted_table(console: Console, title: str, columns: list[tuple[str, int | None]],
                 rows: list[list[str]], left: int = 1, sections: tuple[int, ...] = ()
                 ) -> tuple[Table, list[str]]:
    """A table that fits the console without cutting a cell: `columns` are (header, priority);
    while the table is too wide the column of lowest priority goes (None: never). The first
    `left` columns are left-aligned; a rule goes above each row index in `sections`. Returns
    the table and the headers left out, for a legend."""
    shown = list(range(len(columns)))
    dropped: list[str] = []
    while True:
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        for i in shown:
            table.add_column(columns[i][0], justify="left" if i < left else "right",
                             no_wrap=True)
        for n, row in enumerate(rows):
            if n in sections:
                table.add_section()
            table.add_row(*(row[i] for i in shown))
        droppable = [i for i in shown if columns[i][1] is not None]
        wide = console.options.update(max_width=10_000)
        if Measurement.get(console, wide, table).maximum <= console.width or not droppable:
            return table, dropped
        worst = min(droppable, key=lambda i: (columns[i][1], -i))
        shown.remove(worst)
        dropped.append(columns[worst][0].replace("\n", " "))


def print_fitted(console: Console, table: Table, dropped: list[str], hint: str = "") -> None:
    console.print(table, soft_wrap=False)
    if dropped:
        console.print(f"(narrow terminal: {', '.join(dropped)} left out{hint})",
                      highlight=False, soft_wrap=False)


def pillar_table(console: Console, cost: ModelCost, convention: str) -> None:
    total_madds, total_params = cost.madds(convention), cost.params
    rows = [[name, millions(c.params), share(c.params, total_params),
             millions(c.madds(convention)), share(c.madds(convention), total_madds)]
            for name, c in cost.pillars.items()]
    rows.append(["total", millions(total_params), "100.0%", millions(total_madds), "100.0%"])
    table, dropped = fitted_table(
        console, f"{cost.model} @ {size_text(cost.resolution)}: pillars ({convention} "
        "MAdds)", [("pillar", None), ("params\n(M)", None), ("params\n%", 1),
                   ("MAdds\n(M)", None), ("MAdds\n%", 2)], rows, sections=(len(rows) - 1,))
    print_fitted(console, table, dropped)


def block_pillars(cost: ModelCost) -> list[str]:
    """Pillars that share a part with another pillar: the per-block split worth a column."""
    return [k for k in cost.pillar_names
            if any(len(p.pillars) > 1 and k in p.pillars for p in cost.parts)]


def block_table(console: Console, cost: ModelCost, convention: str) -> None:
    total_madds = cost.madds(convention)
    split = block_pillars(cost)
    short = get_family(cost.family).display.abbreviations
    columns = [("part", None), ("kind", 3), ("in->out", 4), ("s", 2), ("res", 5),
               ("hidden", 1), ("params", None), ("MAdds", None), ("%", 6),
               *((short.get(k, k), 10 + i) for i, k in enumerate(split))]
    rows = []
    for p in cost.parts:
        m = p.counts.madds(convention)
        info = p.info
        geometry = [f"{info['cin']}->{info['cout']}", str(info["stride"]),
                    f"{info['res_in']}->{info['res_out']}",
                    "/".join(map(str, info["hidden"]))] if "cin" in info else ["", "", "", ""]
        rows.append([p.name, p.kind, *geometry, millions(p.counts.params), millions(m),
                     share(m, total_madds),
                     *(millions(p.pillars[k].madds(convention)) if k in p.pillars else ""
                       for k in split)])
    table, dropped = fitted_table(console, f"{cost.model}: parts ({convention} MAdds, "
                                  "millions)", columns, rows, left=2)
    print_fitted(console, table, dropped, "; --format csv has every column")


def summary_lines(cost: ModelCost, convention: str) -> list[str]:
    total = cost.madds(convention)
    lines = [f"total: {cost.params:,} params, {total:,} MAdds ({total / 1e6:.2f}M) at "
             f"{size_text(cost.resolution)}, batch 1",
             f"convention {convention}: {CONVENTIONS[convention]}"]
    return lines + get_family(cost.family).display.summary(cost, convention)


def print_cost(console: Console, cost: ModelCost, convention: str) -> None:
    pillar_table(console, cost, convention)
    block_table(console, cost, convention)
    for line in summary_lines(cost, convention):
        console.print(line, highlight=False)


def cost_json(cost: ModelCost, convention: str) -> str:
    return json.dumps(cost.to_dict(convention), indent=2)
