"""The SQL modules import each other top-down: no cycle, function-level imports included.

Read with `ast` (nothing is imported), over every module of `lumos_envs`, so a cycle through any
other module that reaches back into the SQL domain is caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "lumos_envs"
SQL_MODULES = {
    "lumos_envs.sql." + p.stem for p in (PACKAGE / "sql").glob("*.py") if p.stem != "__init__"
} | {"lumos_envs.tasks.spider", "lumos_envs.tasks.synthetic_sql", "lumos_envs.tasks.sql_tasks",
     "lumos_envs.envs.sql", "lumos_envs.metrics_sql"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the `lumos_envs` modules it imports anywhere in its body (packages resolved to
    their `__init__` only when no submodule is named)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def cycles_through(graph: dict[str, set[str]], members: set[str]) -> list[list[str]]:
    """Strongly connected components (Tarjan) with more than one module that touch `members`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 and members & set(component):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_sql_modules_have_no_import_cycle():
    graph = import_graph()
    assert SQL_MODULES <= set(graph), SQL_MODULES - set(graph)
    assert cycles_through(graph, SQL_MODULES) == []


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles_through(graph, {"b"}) == [["a", "b", "c"]]
    assert cycles_through(graph, {"d"}) == []
    # the two cycles this test was written against
    old = {"lumos_envs.sql.catalog": {"lumos_envs.tasks.synthetic_sql"},
           "lumos_envs.tasks.synthetic_sql": {"lumos_envs.tasks.spider"},
           "lumos_envs.tasks.spider": {"lumos_envs.sql.catalog"},
           "lumos_envs.sql.mysql_groups": {"lumos_envs.sql.sqlite_backend"},
           "lumos_envs.sql.sqlite_backend": {"lumos_envs.sql.mysql_groups"}}
    assert len(cycles_through(old, SQL_MODULES)) == 2
