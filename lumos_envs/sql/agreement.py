"""How often the gold queries of a task set return the same rows on SQLite and on MariaDB.

The acceptance figure of the SQLite back-end's fidelity (`lumos sql-agreement`): for each task,
run its gold query on both back-ends, compare the normalised rows (as a list when the query has
a top-level ORDER BY, as a multiset otherwise) and count the disagreements by cause. Causes are
read off the two results, never per item: `error_sqlite`/`error_mariadb` (one side failed),
`order` (same rows, other order), `ties_under_limit` (ordered with LIMIT, same row count,
different rows), `text_case` (equal after case folding), `numeric` (equal after rounding numbers
to 2 places), `row_count`, `other`; and `mariadb_nondeterministic` when, on a disagreement, the
same query run again on fresh MariaDB connections returns different rows: MariaDB's filesort
breaks ties among equal sort keys by row position in an in-memory temporary table (memory
addresses), so e.g. `GROUP BY ... ORDER BY count(*) DESC LIMIT 1` over a join with tied counts
has no fixed answer even on MariaDB itself. Those stay counted as disagreements.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lumos_envs.execution.errors import ToolError
from lumos_envs.metrics_sql import is_ordered_query
from lumos_envs.sql.backends import open_database
from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.lexer import significant, tokenize
from lumos_envs.sql.results import Row
from lumos_envs.tasks.base import TaskSource
from lumos_envs.tasks.sql_tasks import task_metadata


@dataclass
class AgreementReport:
    """Counts of a SQLite-MariaDB comparison; `to_dict` is the command's JSON."""

    tasks: str
    total: int = 0
    same: int = 0
    causes: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.same / self.total if self.total else 0.0

    def to_dict(self, max_examples: int = 20) -> dict[str, Any]:
        return {"tasks": self.tasks, "total": self.total, "same": self.same, "agreement": self.agreement,
                "causes": dict(self.causes.most_common()), "examples": self.examples[:max_examples]}


def sql_agreement(tasks: TaskSource, mariadb_dir: str, *, name: str = "tasks", timeout_s: float = 10.0,
                  limit: int | None = None) -> AgreementReport:
    """Compare gold results on both back-ends over `tasks` (the first `limit` ones)."""
    report = AgreementReport(tasks=name)
    connections: dict[tuple[str, str, str], Any] = {}

    def run(backend: str, meta: dict[str, Any]) -> tuple[Row, ...] | str:
        key = (backend, meta["dump"], meta["db"])
        if key not in connections:
            connections[key] = open_database(backend, DumpSource(meta["dump"]), meta["db"], timeout_s=timeout_s, mariadb_dir=mariadb_dir)
        try:
            return connections[key].run(meta["gold_sql"]).rows
        except ToolError as error:
            return str(error)

    count = len(tasks) if limit is None else min(limit, len(tasks))
    try:
        for index in range(count):
            task = tasks[index]
            meta = task_metadata(task)
            lite, maria = run("sqlite", meta), run("mariadb", meta)
            report.total += 1
            cause = disagreement_cause(meta["gold_sql"], lite, maria)
            if cause is not None and not isinstance(maria, str) and _mariadb_varies(
                    lambda: run("mariadb", meta), lambda: connections[("mariadb", meta["dump"], meta["db"])].close(), maria):
                cause = "mariadb_nondeterministic"
            if cause is None:
                report.same += 1
            else:
                report.causes[cause] += 1
                report.examples.append({"task_id": task.id, "cause": cause, "gold": meta["gold_sql"],
                                        "sqlite": _short(lite), "mariadb": _short(maria)})
    finally:
        for connection in connections.values():
            connection.close()
    return report


NONDETERMINISM_TRIES = 8
"""re-runs of a disagreeing query on fresh MariaDB connections"""


def _mariadb_varies(rerun: Any, reconnect: Any, first: tuple[Row, ...], tries: int = NONDETERMINISM_TRIES) -> bool:
    """Whether MariaDB gives other rows for the same query on fresh connections."""
    for _ in range(tries):
        reconnect()
        again = rerun()
        if isinstance(again, str) or list(again) != list(first):
            return True
    return False


def disagreement_cause(sql: str, lite: tuple[Row, ...] | str, maria: tuple[Row, ...] | str) -> str | None:
    """None when both back-ends gave the same rows, else the cause (see the module docstring)."""
    if isinstance(lite, str) or isinstance(maria, str):
        if isinstance(lite, str) and isinstance(maria, str):
            return None
        return "error_sqlite" if isinstance(lite, str) else "error_mariadb"
    ordered = is_ordered_query(sql)
    if (list(lite) == list(maria)) if ordered else (Counter(lite) == Counter(maria)):
        return None
    if ordered and Counter(lite) == Counter(maria):
        return "order"
    if ordered and len(lite) == len(maria) and _has_limit(sql):
        return "ties_under_limit"
    if _same(lite, maria, _fold_text):
        return "text_case"
    if _same(lite, maria, _round_numbers):
        return "numeric"
    if len(lite) != len(maria):
        return "row_count"
    return "other"


def _same(a: tuple[Row, ...], b: tuple[Row, ...], transform: Any) -> bool:
    return Counter(tuple(transform(v) for v in r) for r in a) == Counter(tuple(transform(v) for v in r) for r in b)


def _fold_text(value: Any) -> Any:
    return value.casefold().rstrip() if isinstance(value, str) else value


def _round_numbers(value: Any) -> Any:
    return round(float(value), 2) if isinstance(value, (int, float)) else value


def _has_limit(sql: str) -> bool:
    return any(t.upper == "LIMIT" for t in significant(tokenize(sql)))


def _short(value: Any, limit: int = 300) -> str:
    text = str(list(value)) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."
