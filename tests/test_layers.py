"""The package layers of `docs/design.md`, checked on the source: no cycles, no upward imports.

Every ``import`` statement under ``src/infomin`` counts, including those inside functions
and ``TYPE_CHECKING`` blocks: a function-level import hides a dependency from a reader
as well as from the interpreter's start-up, so it must obey the same rule.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "infomin"

# The small shared helpers at the top of the package: importable from every layer.
HELPERS = {"config", "outputs", "progress", "reports", "run_folder", "threads"}
BELOW_EXPERIMENTS = {"data", "views", "objectives", "models", "evaluate", "helpers"}
# What each package may import besides itself (docs/design.md, "Layers").
ALLOWED: dict[str, set[str]] = {
    "helpers": set(),
    "data": {"helpers"},
    "objectives": set(),
    "models": {"data", "helpers"},
    "views": {"data", "helpers"},
    "evaluate": {"data", "views", "models", "helpers"},
    "experiments": BELOW_EXPERIMENTS,
    "methods": BELOW_EXPERIMENTS,
    "view_learning": BELOW_EXPERIMENTS | {"experiments"},
    "cli": BELOW_EXPERIMENTS | {"experiments", "methods", "view_learning"},
}


def package_of(module: str) -> str:
    """``infomin.views.specs`` -> ``views``; helpers and the root package -> ``helpers``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in HELPERS or parts[1] == "__init__":
        return "helpers"
    if parts[1] == "__main__":
        return "cli"
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every infomin module ``path`` imports, with the line, wherever the import stands."""
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package a relative import starts from
    return imports_in(path.read_text(), here)


def imports_in(text: str, here: list[str]) -> list[tuple[str, int]]:
    """The infomin modules a module's text imports (``here``: its package, for ``from .``)."""
    tree = ast.parse(text)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "infomin"]


def import_graph() -> dict[str, dict[str, list[str]]]:
    """Package -> imported package -> the places (``file:line``) that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(SRC.rglob("*.py")):
        source = package_of(module_name(path))
        for target, line in imported_modules(path):
            imported = package_of(target)
            if imported != source:
                graph[source][imported].append(f"{path.relative_to(SRC.parent)}:{line}")
    return graph


def package_cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_walker_sees_imports_inside_functions_and_relative_ones():
    """The check would be toothless if a function-level import slipped past it."""
    text = (
        "import torch\nimport infomin.data\n"
        "def f():\n    from infomin.experiments import pairs\n"
        "    from ..methods import presets\n    from . import colorspaces\n"
    )
    assert imports_in(text, ["infomin", "views"]) == [
        ("infomin.data", 2), ("infomin.experiments", 4), ("infomin.methods", 5),
        ("infomin.views", 6),
    ]  # fmt: skip
    assert package_of("infomin.methods.presets") == "methods"
    assert package_of("infomin.outputs") == package_of("infomin") == "helpers"


def test_cycle_finder_finds_a_two_package_cycle():
    graph = {"a": {"b": ["x"]}, "b": {"a": ["y"]}, "c": {"a": ["z"]}}
    assert package_cycles(graph) == [["a", "b"]]
    assert package_cycles({"a": {"b": ["x"]}}) == []


def test_no_package_imports_another_in_a_cycle():
    cycles = package_cycles(import_graph())
    assert not cycles, f"package cycles: {cycles}"


def test_every_package_has_a_layer_rule():
    packages = {package_of(module_name(p)) for p in SRC.rglob("*.py")}
    assert packages <= set(ALLOWED), f"no layer rule for {sorted(packages - set(ALLOWED))}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_the_layers_below(package):
    wrong = {
        imported: places
        for imported, places in import_graph().get(package, {}).items()
        if imported not in ALLOWED[package]
    }
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}, but: {wrong}"
