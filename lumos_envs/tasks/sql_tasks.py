"""What every SQL task carries, shared by the Spider loader and the bundled SQL families.

`task_metadata(task)` reads the fields the SQL env needs (`db`, `dump`, `gold_sql`);
`sql_gold_plan` builds the gold plan an observer of the episode could write (LUMOS never
released its InterCode-SQL plans): SHOW TABLES, DESCRIBE each table the gold query names (names
the SHOW TABLES output has just shown), run the gold query, then `Answer(variable)` of its result.
"""

from __future__ import annotations

from typing import Any, Iterable

from lumos_envs.sql.lexer import SqlLexError, significant, tokenize
from lumos_envs.sql.statements import StatementRefused, check_statement
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task


def tables_used(sql: str, table_names: Iterable[str]) -> list[str]:
    """Tables of `table_names` the query names (case-insensitive), in order of first mention."""
    by_lower = {name.lower(): name for name in table_names}
    found: dict[str, None] = {}
    try:
        tokens = significant(tokenize(sql))
    except SqlLexError:
        return []
    for token in tokens:
        if token.kind in ("ident", "quoted_ident"):
            name = by_lower.get(token.ident_value().lower())
            if name is not None:
                found.setdefault(name, None)
    return list(found)


def sql_gold_plan(gold_sql: str, table_names: Iterable[str]) -> GoldPlan:
    """SHOW TABLES -> DESCRIBE the tables the gold query uses -> the gold query -> submit."""
    subgoals = [GoldSubgoal("Show all the tables in the database.", ("R1 = SHOW TABLES",))]
    tables = tables_used(gold_sql, table_names)
    if tables:
        actions = tuple(f"R{2 + i} = DESCRIBE {_ident(t)}" for i, t in enumerate(tables))
        subgoals.append(GoldSubgoal(f"Describe the table{'s' if len(tables) > 1 else ''} {', '.join(tables)} to see the columns.", actions))
    answer = f"R{2 + len(tables)}"
    subgoals.append(GoldSubgoal("Write the SQL query that answers the question.", (f"{answer} = {gold_sql}",)))
    return GoldPlan(tuple(subgoals), answer=answer)


def _ident(name: str) -> str:
    """`name` as the DESCRIBE target: bare where that parses as the table (`airlines`), else in
    backticks (a reserved word such as Spider's table `show`, or a name with odd characters)."""
    bare = name.replace("_", "").isalnum() and not name[0].isdigit()
    if bare:
        try:
            if check_statement(f"DESCRIBE {name}").table == name:
                return name
        except StatementRefused:
            pass
    return "`" + name.replace("`", "``") + "`"


def task_metadata(task: Task) -> dict[str, Any]:
    """The SQL fields every SQL task carries (`db`, `dump`, `gold_sql`); ValueError if absent."""
    missing = [k for k in ("db", "dump", "gold_sql") if not task.metadata.get(k)]
    if missing:
        raise ValueError(f"SQL task {task.id} lacks metadata {missing}")
    return dict(task.metadata)
