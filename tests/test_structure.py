"""Code-structure rules the project keeps: no import cycles, imports that point down the
pipeline's layers (inside functions too), no private names imported across modules, modules
under 400 lines, and no family named outside its own package."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mfsearch"
MODULES = {p: ".".join(("mfsearch", *p.relative_to(PACKAGE).with_suffix("").parts))
           .removesuffix(".__init__") for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _module_level_imports(path: Path, module: str) -> set[str]:
    """mfsearch modules imported when `module` is imported (top-level statements only)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            names = [f"{target}.{a.name}" for a in node.names]
            found.update(n if n in MODULES.values() else target for n in names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    # Importing a.b.c runs a/__init__ and a/b/__init__ first; the importer's own ancestors
    # are always initialised (or being initialised) before it, so they are no edge.
    closed = set()
    for name in found:
        parts = name.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    mine = module.split(".")
    ancestors = {".".join(mine[:i]) for i in range(1, len(mine) + 1)}
    return {n for n in closed if n in MODULES.values() and n not in ancestors}


def test_no_import_cycle():
    graph = {m: _module_level_imports(p, m) for p, m in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# The pipeline's layers, lowest first: a module imports from its own layer or lower ones only.
# A module belongs to the longest prefix that names it.
LAYERS = (
    ("base", ("mfsearch.errors", "mfsearch.compat", "mfsearch.defaults", "mfsearch.devices",
              "mfsearch.figures")),
    ("spec", ("mfsearch.spec",)),  # field validators and geometry; no registry
    ("parts", ("mfsearch.models", "mfsearch.cost.counts", "mfsearch.cost.layers",
               "mfsearch.cost.frame", "mfsearch.cost.fvcore_count", "mfsearch.space.choices")),
    ("families", ("mfsearch.families",)),  # the registry, and specs read by family
    ("costs, spaces, data", ("mfsearch.cost", "mfsearch.space", "mfsearch.data")),
    ("runtimes", ("mfsearch.deploy", "mfsearch.latency", "mfsearch.proxy", "mfsearch.training")),
    ("search", ("mfsearch.nas", "mfsearch.fidelity")),
    ("reports", ("mfsearch.reports",)),
    ("jobs", ("mfsearch.jobs",)),
    ("cli", ("mfsearch.cli", "mfsearch.__main__", "mfsearch")),
)


def layer_of(module: str) -> int:
    best = max(((len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS)
                for prefix in prefixes if module == prefix or module.startswith(prefix + ".")),
               default=None)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def _all_imports(module: str, is_package: bool, source: str) -> set[str]:
    """mfsearch modules `source` imports anywhere: at module level and inside functions."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            found.update(f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES.values()
                         else target for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {n for n in found if n == "mfsearch" or n.startswith("mfsearch.")}


def upward_imports(module: str, is_package: bool, source: str) -> list[str]:
    mine = layer_of(module)
    return [f"{module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
            for target in sorted(_all_imports(module, is_package, source))
            if target != "mfsearch" and layer_of(target) > mine]


def test_imports_point_down_the_layers():
    found = [problem for path, module in MODULES.items()
             for problem in upward_imports(module, path.name == "__init__.py",
                                           path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_layer_check_finds_an_upward_import_inside_a_function():
    planted = "def load():\n    from ..cli.main import main\n    return main\n"
    assert upward_imports("mfsearch.spec.planted", False, planted) == [
        "mfsearch.spec.planted (spec) imports mfsearch.cli.main (cli)"]
    assert upward_imports("mfsearch.families.planted", False,
                          "import mfsearch.nas.run\n") == [
        "mfsearch.families.planted (families) imports mfsearch.nas.run (search)"]
    assert upward_imports("mfsearch.cli.planted", False, "from ..spec import fields\n") == []


def test_the_search_job_is_a_plain_function():
    import types

    import mfsearch

    importlib.import_module("mfsearch.nas.run")
    importlib.import_module("mfsearch.fidelity.measure")
    importlib.import_module("mfsearch.latency.measure")
    for job in (mfsearch.search, mfsearch.proxy_fidelity, mfsearch.measure_latency):
        assert isinstance(job, types.FunctionType)
    assert type(importlib.import_module("mfsearch.nas")) is types.ModuleType


def test_no_private_name_is_imported_from_another_module():
    """Private names of mfsearch's modules stay in them; those of its dependencies are used in
    mfsearch/compat.py alone (pinned by tests/test_compat.py)."""
    offenders = []
    for path in list(MODULES) + list((PACKAGE.parent / "tests").rglob("*.py")):
        ours = path.parent.name != "tests" or path.name != "test_compat.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                module = node.module or ""
                if path.name == "compat.py" and not module.startswith("mfsearch"):
                    continue
                offenders += [f"{path.name}: {a.name}" for a in node.names if _private(a.name)]
            elif (ours and path in MODULES and path.name != "compat.py"
                  and isinstance(node, ast.Attribute) and _private(node.attr)
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offenders.append(f"{path.name}: .{node.attr}")
    assert offenders == []


def test_no_module_over_400_lines():
    long = {p.name: n for p in MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_the_test_family_is_named_nowhere_in_the_package():
    assert [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml")
            and "tinynet" in p.read_text(encoding="utf-8").lower()] == []


def test_importing_the_api_loads_no_torch():
    import subprocess
    import sys

    code = ("import sys, mfsearch; mfsearch.cost('294m'); "
            "print(sorted(m for m in ('torch', 'fvcore', 'optuna', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
