"""The package's layout holds: areas import downwards only, no module imports itself back through
others, and the top level keeps only the foundations (DESIGN.md, folders by area)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"

# bottom to top: a module may import its own layer (no cycle) and the layers below it, never one above
LAYERS = [
    {"settings", "errors", "db", "teamdb", "text", "markup", "csv_safe", "user_files"},
    {"accounts"},
    {"search"},
    {"home"},
    {"models"},
    {"calls"},
    {"usage"},
    {"documents"},
    {"sql_console"},
    {"chat"},
    {"ops"},
    {"api"},
    {"ui", "cli"},
    {"__main__"},
]
RANK = {area: rank for rank, areas in enumerate(LAYERS) for area in areas}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every workbench module `path` imports, at the top or inside a function (not for type checks)."""
    tree = ast.parse(path.read_text())
    checking = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                and ast.unparse(node.test) == "TYPE_CHECKING" for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("workbench")}
    return out


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "workbench"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_every_area_and_top_level_module_has_a_layer():
    areas = {_area(m) for m in _modules()} - {"workbench"}
    assert areas <= set(RANK), f"place these in LAYERS: {sorted(areas - set(RANK))}"


def test_areas_import_downwards_only():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items() if module != "workbench"
        for target in targets
        if _area(target) != _area(module) and RANK[_area(target)] > RANK[_area(module)]
    )
    assert upward == []


def test_no_import_cycles():
    graph = _graph()
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                loop = path[path.index(nxt):] if nxt in path else []
                cycles.append(" -> ".join([*loop, node, nxt]))
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_the_top_level_keeps_only_the_foundations():
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 12, flat
    assert set(flat) <= {m for layer in LAYERS for m in layer} | {"home"}


def test_no_module_imports_another_by_a_computed_name():
    """A computed import (importlib.import_module) would hide an edge from the checks above."""
    hidden = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                    if "import_module(" in p.read_text() or "__import__(" in p.read_text())
    assert hidden == []


def test_a_command_pays_only_for_what_it_uses(cli_env):
    """`workbench --help` and `user list` load no model, vector or plotting library: they start in a
    fraction of a second (bench/commands.py measures it)."""
    import subprocess
    import sys

    heavy = ("torch", "transformers", "sentence_transformers", "lancedb", "mlflow", "sklearn",
             "statsforecast", "matplotlib", "onnxruntime", "streamlit", "polars")
    probe = ("import runpy, sys\n"
             "sys.argv = ['workbench', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('workbench', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")
    for args in (["--help"], ["user", "list", "--as", "alice"]):
        done = subprocess.run([sys.executable, "-c", probe, *args], env=cli_env, capture_output=True,
                              text=True, timeout=120)
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr[-1500:])


def test_pages_are_short_scripts_each_in_the_navigation():
    """STYLE.md: a page reads widgets, calls the package, renders: 20-80 lines, one job. Every page
    file is in the navigation, and every page in it exists."""
    from workbench.ui import PAGES

    root = PACKAGE.parent
    listed = {spec.path for spec in PAGES}
    files = {str(p.relative_to(root)) for p in (root / "pages").rglob("*.py")}
    assert files == listed
    assert not any((root / "pages").glob("*.py"))  # see ui.PAGES: Streamlit would serve them bare
    assert len({spec.url for spec in PAGES}) == len(PAGES)
    long = {f: n for f in sorted(files) if (n := len((root / f).read_text().splitlines())) > 80}
    assert long == {}


def test_only_the_ui_and_the_pages_import_streamlit():
    found = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if p.relative_to(PACKAGE).parts[0] != "ui"
                   and any(isinstance(n, ast.Import | ast.ImportFrom) and "streamlit" in ast.unparse(n)
                           for n in ast.walk(ast.parse(p.read_text()))))
    assert found == []


def test_the_bench_scripts_call_only_what_the_package_has():
    """A bench script runs by hand, not in the suite: a function moved between modules must not
    leave one calling a name that is gone (`users.create_organization` did)."""
    import importlib

    missing = []
    for script in sorted((PACKAGE.parent / "bench").glob("*.py")):
        tree = ast.parse(script.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if _is_module(full):
                        aliases[alias.asname or alias.name] = full
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases
                    and not hasattr(importlib.import_module(aliases[node.value.id]), node.attr)):
                missing.append(f"{script.name}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    assert missing == []


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
