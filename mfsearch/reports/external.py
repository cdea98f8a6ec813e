"""`reports/external_validity.md` and `.json`: what real evidence says of the proxy, gathered
from the recorded measurements under `reports/external_validity/` (no training here): its
agreement with the paper's ImageNet ablations per task, whether every shipped variant learns
under its family's default settings, and its tau against a longer training on real images."""

from __future__ import annotations

import json
from pathlib import Path

TASKS = ("builtin", "cifar10")  # the generated default task, and real images
DEFAULT_TASK = "builtin"  # what `mfsearch budget` trains on without --data
FOLDER = "external_validity"
FILES = ("external_validity.md", "external_validity.json")
HELD_OUT_FINDINGS = ("tokens_6_vs_1", "mha_vs_mlp", "ffn")  # Tables 7 and 9: never tuned on

# Where each measurement is recorded under reports/external_validity, and the command that
# records it there (the markdown quotes it, so a missing one says how to fill it in).
SOURCES = {
    "ablations": ("ablations-{task}/agreement.json",
                  "mfsearch ablate --table 5,6,7,8,9 --train --seeds 8 {data}--out "
                  "reports/external_validity/ablations-{task}"),
    "variants_learn": ("variants-{task}/learn.json",
                       "mfsearch variants --train --family all {data}--out "
                       "reports/external_validity/variants-{task}"),
    "fidelity": ("fidelity-{task}/proxy_fidelity.json",
                 "mfsearch fidelity --archs 16 --factor 4 --repeats 3 --jobs 2 {data}--report "
                 "reports/external_validity/fidelity-{task}/proxy_fidelity.md"),
}


def _read(folder: Path, kind: str, task: str) -> dict | None:
    path = folder / SOURCES[kind][0].format(task=task)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _command(kind: str, task: str) -> str:
    data = "" if task == DEFAULT_TASK else f"--data <{task} folder> "
    return SOURCES[kind][1].format(task=task, data=data)


def gather(reports: Path) -> dict:
    """The record of reports/external_validity.json (None where a measurement is missing)."""
    folder = reports / FOLDER
    record: dict = {"default_task": DEFAULT_TASK, "ablations": {}, "variants_learn": {},
                    "cross_task_tau": None, "cifar10_fidelity": None}
    for task in TASKS:
        found = _read(folder, "ablations", task)
        if found is not None:
            record["ablations"][task] = {
                "data": found["task"], "seeds": found["seeds"], "pairs": found["pairs"],
                "pairs_agree": found["pairs_agree"], "tau": found["tau"],
                "findings": found["findings"], "tables": found["tables"],
                "baselines": found["baselines"],
                "learned": sum(bool(r.get("learned")) for r in found["rows"]),
                "variants": found["variants"]}
        learn = _read(folder, "variants_learn", task)
        if learn is not None:
            record["variants_learn"][task] = {name: v["learned"]
                                              for name, v in learn["variants"].items()}
    fidelity = _read(folder, "fidelity", "cifar10")
    if fidelity is not None:
        record["cifar10_fidelity"] = {"archs": fidelity["archs"],
                                      "tau": round(fidelity["stats"]["proxy"]["kendall"], 4),
                                      "ceiling": round(fidelity["ceiling"], 4)}
    return record


def _ablation_lines(task: str, a: dict | None) -> list[str]:
    if a is None:
        return [f"- **{task}**: not measured yet (`{_command('ablations', task)}`)."]
    right = sum(a["findings"][f] in ("reproduced", "same direction") for f in HELD_OUT_FINDINGS)
    beyond = [f for f in HELD_OUT_FINDINGS if a["findings"][f] == "reversed beyond noise"]
    per_table = ", ".join(f"T{t} {v['pairs_agree']}/{v['pairs']}" for t, v in a["tables"].items()
                          if v["pairs"])
    return [f"- **{task}** ({a['data']}, {a['seeds']} seeds, {a['learned']} of {a['variants']} "
            f"variants learned): **{a['pairs_agree']} of {a['pairs']} pairs** in the paper's "
            f"order, Kendall tau {a['tau']:+.2f} (#params alone "
            f"{a['baselines']['params']['pairs_agree']}/{a['baselines']['params']['pairs']}, "
            f"MAdds alone {a['baselines']['madds']['pairs_agree']}/"
            f"{a['baselines']['madds']['pairs']}); per table {per_table}.",
            "  Findings: " + "; ".join(f"{k} {v}" for k, v in a["findings"].items()) + ".",
            f"  Held-out findings (Tables 7 and 9) in the paper's direction: {right} of "
            f"{len(HELD_OUT_FINDINGS)}; reversed beyond seed noise: {', '.join(beyond) or 'none'}."]


def markdown(record: dict) -> str:
    lines = ["# External validity of the proxy", "",
             "What real evidence says of the proxy's rankings, gathered by `mfsearch report` "
             f"from the measurements under [{FOLDER}/]({FOLDER}/) (each folder's RUN.md or "
             "files say how it was run). The internal figures (the proxy against its own longer "
             "training on the same task) are in [proxy_fidelity.md](proxy_fidelity.md).",
             "", f"The default task (what `mfsearch budget` trains on without `--data`): "
             f"**{record['default_task']}**.", "",
             "## The paper's ImageNet ablations (Tables 5-9, 13 variants, 42 pairs)", "",
             "Target: at least 40 of 42 pairs on the default task (#params alone orders 40); "
             "of the held-out findings, at least 2 in the paper's direction and none reversed "
             "beyond seed noise.", ""]
    for task in TASKS:
        lines += _ablation_lines(task, record["ablations"].get(task))
    lines += ["", "## Does every shipped variant learn under its family's default settings?", ""]
    for task in TASKS:
        learn = record["variants_learn"].get(task)
        if learn is None:
            lines.append(f"- **{task}**: not measured yet (`{_command('variants_learn', task)}`).")
            continue
        failed = [name for name, ok in learn.items() if not ok]
        lines.append(f"- **{task}**: {len(learn) - len(failed)} of {len(learn)} learned"
                     + (f"; did not learn: {', '.join(failed)}" if failed else "")
                     + f" ([variants-{task}/learn.md]({FOLDER}/variants-{task}/learn.md)).")
    lines += ["", "## Against a longer training on real images", ""]
    fid = record["cifar10_fidelity"]
    if fid is None:
        lines.append("- CIFAR-10 reference (at least 16 architectures of the 150M band, 4x "
                     f"longer, 3 seeds): not measured yet (`{_command('fidelity', 'cifar10')}`).")
    else:
        lines.append(f"- CIFAR-10 reference over {fid['archs']} architectures: the default "
                     f"proxy's tau {fid['tau']:+.2f} against a ceiling of {fid['ceiling']:.2f} "
                     f"(target: at least half the ceiling, {fid['ceiling'] / 2:.2f}).")
    tau = record["cross_task_tau"]
    lines.append("- Built-in task against CIFAR-10 (tau between the two references): "
                 + ("not measured yet: it needs both references over the same architectures."
                    if tau is None else f"{tau:+.2f}."))
    return "\n".join(lines) + "\n"


def write(reports: Path) -> list[Path]:
    """external_validity.md and .json in `reports`."""
    record = gather(reports)
    md, js = (reports / name for name in FILES)
    md.write_text(markdown(record), encoding="utf-8")
    js.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return [md, js]
