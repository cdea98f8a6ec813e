"""Rich/pandas renderings of cost analyses (tables for people, CSV/JSON for programs)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from ..cost.counts import CONVENTIONS, ModelCost
from ..families import get_family


def millions(n: int) -> str:
    return f"{n / 1e6:,.3f}"


def make_console(soft_wrap: bool = False) -> Console:
    """Wide enough for the block table when writing to a file or pipe (rich assumes 80).
    soft_wrap keeps long messages (paths, commands) on one line."""
    console = Console(soft_wrap=soft_wrap)
    return console if console.is_terminal else Console(width=170, soft_wrap=soft_wrap)


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def pillar_table(cost: ModelCost, convention: str) -> Table:
    total_madds, total_params = cost.madds(convention), cost.params
    table = Table(title=f"{cost.model} @ {cost.resolution}x{cost.resolution}: pillars "
                        f"({convention} MAdds)")
    for col in ("pillar", "params (M)", "params %", "MAdds (M)", "MAdds %"):
        table.add_column(col, justify="left" if col == "pillar" else "right")
    for name, c in cost.pillars.items():
        m = c.madds(convention)
        table.add_row(name, millions(c.params), share(c.params, total_params), millions(m),
                      share(m, total_madds))
    table.add_section()
    table.add_row("total", millions(total_params), "100.0%", millions(total_madds), "100.0%",
                  style="bold")
    return table


def block_pillars(cost: ModelCost) -> list[str]:
    """Pillars that share a part with another pillar: the per-block split worth a column."""
    return [k for k in cost.pillar_names
            if any(len(p.pillars) > 1 and k in p.pillars for p in cost.parts)]


def block_table(cost: ModelCost, convention: str) -> Table:
    total_madds = cost.madds(convention)
    split = block_pillars(cost)
    short = get_family(cost.family).abbreviations
    table = Table(title=f"{cost.model}: parts ({convention} MAdds, millions)")
    for col in ("part", "kind", "in->out", "s", "res", "hidden", "params", "MAdds", "%",
                *(short.get(k, k) for k in split)):
        table.add_column(col, justify="left" if col in ("part", "kind") else "right")
    for p in cost.parts:
        m = p.counts.madds(convention)
        info = p.info
        geometry = (f"{info['cin']}->{info['cout']}", str(info["stride"]),
                    f"{info['res_in']}->{info['res_out']}",
                    "/".join(map(str, info["hidden"]))) if "cin" in info else ("", "", "", "")
        per = [millions(p.pillars[k].madds(convention)) if k in p.pillars else ""
               for k in split]
        table.add_row(p.name, p.kind, *geometry, millions(p.counts.params), millions(m),
                      share(m, total_madds), *per)
    return table


def summary_lines(cost: ModelCost, convention: str) -> list[str]:
    total = cost.madds(convention)
    lines = [f"total: {cost.params:,} params, {total:,} MAdds ({total / 1e6:.2f}M) at "
             f"{cost.resolution}x{cost.resolution}, batch 1",
             f"convention {convention}: {CONVENTIONS[convention]}"]
    return lines + get_family(cost.family).summary(cost, convention)


def print_cost(console: Console, cost: ModelCost, convention: str) -> None:
    console.print(pillar_table(cost, convention))
    console.print(block_table(cost, convention))
    for line in summary_lines(cost, convention):
        console.print(line, highlight=False)


def cost_json(cost: ModelCost, convention: str) -> str:
    return json.dumps(cost.to_dict(convention), indent=2)
