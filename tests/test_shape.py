"""The shape of the code, held (issue 16): no import cycles between modules, none over 500 lines.

The third number, no function above complexity 15, is ruff's C901 in `make check`.
"""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agentctl", "tui", "store", "sandboxes")
MAX_LINES = 500


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in graph.modules:
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_between_modules() -> None:
    assert cycles(grimp.build_graph(*PACKAGES)) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    import sys

    for name, imports in (("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")):
        (tmp_path / "ring").mkdir(exist_ok=True)
        (tmp_path / "ring" / f"{name}.py").write_text(f"from ring import {imports}\n")
    (tmp_path / "ring" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("ring", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert cycles(graph) == [["ring.a", "ring.b", "ring.c"]]


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
