"""The WebShop folders read top-down: no module imports (even lazily, even for type checking) one that imports it back."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FOLDERS = ("lumos_envs/webshop", "lumos_envs/envs/webshop")


def module_imports(folder: str) -> dict[str, set[str]]:
    """module -> the modules of the same folder it imports anywhere in its file."""
    modules = {f"{folder.replace('/', '.')}.{p.stem}": p for p in (ROOT / folder).glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_import_cycles(folder):
    graph = module_imports(folder)
    assert len(graph) >= 6
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle in {folder}: {' -> '.join(error.args[1])}")


def test_the_check_sees_a_cycle():
    with pytest.raises(CycleError):
        list(TopologicalSorter({"a": {"b"}, "b": {"c"}, "c": {"a"}}).static_order())
