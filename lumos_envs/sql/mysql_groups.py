"""MySQL's bare columns in grouped queries, emulated on SQLite.

MySQL/MariaDB (without `ONLY_FULL_GROUP_BY`, as InterCode runs them) accept a column that is
neither grouped nor aggregated: `SELECT language, max(percentage) FROM countrylanguage GROUP BY
countrycode`, or `SELECT name, max(age) FROM singer` with no GROUP BY. The value comes from the
FIRST row of the group in the order the server reads the rows. SQLite accepts the same text but
answers differently: with a single `min()`/`max()` the bare column comes from the min/max row,
otherwise from the last row it saw. Spider's gold queries use this often, so the SQLite back-end
rewrites such queries so every bare column becomes `lumos_first(col, k1, k2, ...)`, an aggregate
(`FirstRowAggregate`, registered on each connection) that keeps the value of the row with the
smallest scan key.

The scan key models how InnoDB reads a table: in primary-key order (its clustered index, text
compared with the server collation), or, for a table without a primary key, in insertion order
(SQLite's `rowid`, since both back-ends load rows in dump order). For a join the key is the
concatenation of the tables' keys in FROM order (MariaDB's optimiser may pick another join order;
on well-formed queries the bare column is then functionally dependent on the group key and the
choice does not matter). A secondary index used for a range scan, or a derived table, can make
MariaDB read in another order: those remain possible disagreements.

Safety: the rewrite parses with sqlglot (MySQL dialect) only to locate columns, then splices
`lumos_first(...)` around the exact source spans, so the rest of the text is untouched. Any
parse failure, unsupported shape (`*` in a grouped select, window functions, `WITH ROLLUP`) or a
result that is not again exactly one read-only query gives back the original text.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from lumos_envs.sql.collation import mysql_text_key
from lumos_envs.sql.statements import check_statement

FIRST_FUNCTION = "lumos_first"


@dataclass(frozen=True)
class TableScan:
    """What the rewrite needs to know of one table: its columns and its scan-order key."""

    columns: frozenset[str]
    """lower-case column names"""
    key: tuple[str, ...]
    """primary-key columns in key order, or `("rowid",)` when the table has none"""


# ---------------------------------------------------------------------------------------------
# the aggregate


def _order_key(value: Any) -> tuple[int, Any]:
    """MySQL-like ordering of key values: NULL first, numbers, then text by the server collation."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, mysql_text_key(value))
    return (3, bytes(value))


class FirstRowAggregate:
    """`lumos_first(value, k1, ...)`: the value of the row with the smallest key (k1, ...);
    among equal keys, the first row fed."""

    def __init__(self) -> None:
        self.value: Any = None
        self.key: tuple[Any, ...] | None = None

    def step(self, value: Any, *key: Any) -> None:
        ranked = tuple(_order_key(k) for k in key)
        if self.key is None or ranked < self.key:
            self.key, self.value = ranked, value

    def finalize(self) -> Any:
        return self.value


def register_first(connection: sqlite3.Connection) -> None:
    """Register `lumos_first` on a SQLite connection."""
    connection.create_aggregate(FIRST_FUNCTION, -1, FirstRowAggregate)


def table_scans(connection: sqlite3.Connection) -> dict[str, TableScan]:
    """Columns and scan keys of every table (call before installing an authorizer: it reads
    `pragma_table_info`)."""
    scans: dict[str, TableScan] = {}
    names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for name in names:
        info = connection.execute("SELECT name, pk FROM pragma_table_info(?)", (name,)).fetchall()
        key = tuple(n for n, pk in sorted((r for r in info if r[1]), key=lambda r: r[1]))
        scans[name.lower()] = TableScan(frozenset(r[0].lower() for r in info), key or ("rowid",))
    return scans


# ---------------------------------------------------------------------------------------------
# the rewrite


def emulate_bare_columns(sql: str, tables: Mapping[str, TableScan]) -> str:
    """`sql` with MySQL's bare grouped columns made explicit for SQLite (see the module
    docstring); the original text when there are none or anything is in doubt."""
    try:
        rewritten = _rewrite(sql, tables)
    except Exception:  # noqa: BLE001 - any parser or shape surprise: run the query as written
        return sql
    if rewritten == sql or not _still_one_query(rewritten):
        return sql
    return rewritten


def _still_one_query(text: str) -> bool:
    import sqlglot
    from sqlglot import exp

    try:
        if check_statement(text).kind != "select":
            return False
        parsed = sqlglot.parse(text, read="mysql")
    except Exception:  # noqa: BLE001
        return False
    return len(parsed) == 1 and isinstance(parsed[0], exp.Query)


def _rewrite(sql: str, tables: Mapping[str, TableScan]) -> str:
    import sqlglot
    from sqlglot import exp

    if not _may_group(sql):
        return sql
    tree = sqlglot.parse_one(sql, read="mysql")
    if not isinstance(tree, exp.Query) or tree.find(exp.Window) is not None:
        return sql
    edits: list[tuple[int, int, str]] = []
    for select in tree.find_all(exp.Select):
        edits.extend(_select_edits(select, sql, tables))
    if not edits:
        return sql
    edits.sort(reverse=True)
    for later, earlier in zip(edits, edits[1:]):
        if earlier[1] >= later[0]:
            raise ValueError("overlapping edits")
    text = sql
    for start, end, replacement in edits:
        text = text[:start] + replacement + text[end + 1:]
    return text


def _may_group(sql: str) -> bool:
    """Cheap pre-check: a grouped or aggregated query has GROUP BY or a function call."""
    return "group" in sql.lower() or "(" in sql


def _select_edits(select: Any, sql: str, tables: Mapping[str, TableScan]) -> list[tuple[int, int, str]]:
    from sqlglot import exp

    group = select.args.get("group")
    having = select.args.get("having")
    order = select.args.get("order")
    places = list(select.expressions) + ([having] if having else []) + (list(order.expressions) if order else [])
    if not group and not any(_own_aggregate(p) for p in places):
        return []
    if group is not None and (group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")):
        return []
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)) for e in select.expressions):
        return []
    sources = _sources(select, tables)
    if sources is None or not any(scan for _, scan in sources):
        return []
    group_exprs = list(group.expressions) if group is not None else []
    group_names = {g.name.lower() for g in group_exprs if isinstance(g, exp.Column)}
    group_sql = {g.sql(dialect="mysql").lower() for g in group_exprs}
    aliases = {e.alias.lower() for e in select.expressions if isinstance(e, exp.Alias)}
    # select items named by position or alias in GROUP BY are group keys themselves: never wrap
    # them (SQLite would then resolve the GROUP BY term to an aggregate)
    positions = {int(g.name) - 1 for g in group_exprs if isinstance(g, exp.Literal) and g.is_int}
    keyed_items = [e for i, e in enumerate(select.expressions)
                   if i in positions or (isinstance(e, exp.Alias) and e.alias.lower() in group_names)]
    keys = ", ".join(f"{_quote(q)}.{_quote(k) if k != 'rowid' else 'rowid'}" for q, scan in sources if scan for k in scan.key)
    qualifiers = {q.lower(): scan for q, scan in sources}

    edits = []
    for place in places:
        in_select_list = any(place is e for e in select.expressions)
        if any(place is e for e in keyed_items):
            continue
        for column in _own_columns(place):
            name = column.name.lower()
            if in_select_list and place is column and column.sql(dialect="mysql").lower() in group_sql:
                pass  # a plain group-key column: MySQL shows the first row's spelling ('ABW' vs 'abw')
            elif name in group_names or _grouped_or_aggregated(column, place, group_sql):
                continue
            qualifier = column.table.lower() if column.table else ""
            if qualifier:
                if qualifier not in qualifiers:
                    continue  # an outer query's column (correlated subquery)
            else:
                if not in_select_list and name in aliases:
                    continue  # HAVING/ORDER BY naming a select-list alias
                if not any(scan and name in scan.columns for _, scan in sources):
                    continue
            start, end = _span(column)
            original = sql[start:end + 1]
            replacement = f"{FIRST_FUNCTION}({original}, {keys})"
            if in_select_list and place is column:
                replacement += f" AS {_quote(column.name)}"
            edits.append((start, end, replacement))
    return edits


def _sources(select: Any, tables: Mapping[str, TableScan]) -> list[tuple[str, TableScan | None]] | None:
    """(qualifier, scan or None for a derived table) for each FROM/JOIN source, in order."""
    from sqlglot import exp

    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None:
        return None
    items = [from_.this] + list(from_.expressions or []) + [j.this for j in select.args.get("joins") or []]
    sources: list[tuple[str, TableScan | None]] = []
    for item in items:
        if isinstance(item, exp.Table) and not item.args.get("db"):
            scan = tables.get(item.name.lower())
            if scan is None:
                return None  # a CTE or unknown table: leave the query alone
            sources.append((item.alias_or_name, scan))
        else:
            sources.append((item.alias_or_name if hasattr(item, "alias_or_name") else "", None))
    return sources


def _own_columns(place: Any) -> Iterator[Any]:
    """Columns of `place` that belong to this select (not to a nested subquery)."""
    from sqlglot import exp

    for node in place.walk(prune=lambda n: n is not place and isinstance(n, (exp.Select, exp.Subquery))):
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            yield node


def _own_aggregate(place: Any) -> bool:
    from sqlglot import exp

    return any(isinstance(n, exp.AggFunc) for n in place.walk(prune=lambda n: n is not place and isinstance(n, (exp.Select, exp.Subquery))))


def _grouped_or_aggregated(column: Any, place: Any, group_sql: set[str]) -> bool:
    """Whether `column` sits inside an aggregate or inside an expression that is a group key."""
    from sqlglot import exp

    node = column
    while node is not None:
        if isinstance(node, exp.AggFunc):
            return True
        if not isinstance(node, (exp.Alias, exp.Ordered)) and node.sql(dialect="mysql").lower() in group_sql:
            return True
        if node is place:
            return False
        node = node.parent
    return False


def _span(column: Any) -> tuple[int, int]:
    starts, ends = [], []
    for part in column.parts:
        meta = part.meta
        if "start" not in meta or "end" not in meta:
            raise ValueError("column without a source position")
        starts.append(meta["start"])
        ends.append(meta["end"])
    return min(starts), max(ends)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
