"""InterCode-SQL tasks on the Spider databases (`spider:PATH`), and the SQL gold-plan builder.

Schema of an InterCode-SQL task file (a JSON list): `db` (database name in the dump), `gold`
(the gold query, MySQL dialect), `query` (the natural-language question), `hardness`,
`db_tables` (table -> column names). The databases come from a MySQL dump: the `dump=` option
(`spider:tasks.json?dump=ic_spider_dbs.sql`, relative to the task file's folder or absolute), or
else `ic_spider_dbs.sql` next to the task file, or else the only `*.sql` file there.

Gold plans follow the issue's recipe (LUMOS never released its InterCode-SQL plans): SHOW
TABLES, DESCRIBE each table the gold query names, run the gold query, submit its result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from lumos_envs.domains import Domain
from lumos_envs.sql.catalog import file_dump_spec
from lumos_envs.sql.lexer import SqlLexError, significant, tokenize
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task, TaskList

DEFAULT_DUMP_NAME = "ic_spider_dbs.sql"
REQUIRED_FIELDS = ("db", "gold", "query")


def load_spider(path: str | Path, split: str = "dev", dump: str | None = None) -> TaskList:
    """Load an InterCode-SQL task file; see the module docstring for the dump lookup.

    Raises:
        ValueError: naming the file, item and field for a malformed item, or when no dump is found.
    """
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list of InterCode-SQL tasks, got {type(items).__name__}")
    dump_spec = file_dump_spec(find_dump(path, dump))
    tasks = []
    for index, item in enumerate(items):
        where = f"{path}: item {index}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
        for name in REQUIRED_FIELDS:
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise ValueError(f"{where}: field {name!r} must be a non-empty string")
        tables = item.get("db_tables") or {}
        if not isinstance(tables, dict):
            raise ValueError(f"{where}: field 'db_tables' must map table names to column lists")
        gold = clean_gold(item["gold"])
        tasks.append(
            Task(
                id=f"spider-{split}-{index}",
                domain=Domain.SQL,
                source="spider",
                split=split,
                question=item["query"].strip(),
                answer=gold,
                plan=sql_gold_plan(gold, tables.keys()),
                metadata={"db": item["db"], "dump": dump_spec, "gold_sql": gold, "hardness": item.get("hardness")},
            )
        )
    return TaskList(tasks, name=f"spider:{path}")


def find_dump(task_file: Path, dump: str | None) -> Path:
    """The dump for a task file: the `dump` option, else the default name or only `.sql` beside it."""
    folder = task_file.resolve().parent
    if dump:
        candidate = Path(dump)
        if not candidate.is_absolute():
            candidate = folder / candidate if (folder / candidate).exists() else candidate.resolve()
        if not candidate.is_file():
            raise ValueError(f"dump file {dump!r} not found (looked beside {task_file} and in the working folder)")
        return candidate
    if (folder / DEFAULT_DUMP_NAME).is_file():
        return folder / DEFAULT_DUMP_NAME
    dumps = sorted(folder.glob("*.sql"))
    if len(dumps) == 1:
        return dumps[0]
    raise ValueError(
        f"no MySQL dump found for {task_file}: put {DEFAULT_DUMP_NAME} beside it or give spider:{task_file}?dump=PATH"
    )


def clean_gold(sql: str) -> str:
    """The gold query on one line, without trailing `;` (one LUMOS action per line)."""
    text = " ".join(sql.split()) if "'" not in sql and '"' not in sql else sql.replace("\n", " ").strip()
    return text.rstrip().rstrip(";").rstrip()


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
    return name if name.replace("_", "").isalnum() and not name[0].isdigit() else "`" + name.replace("`", "``") + "`"


def task_metadata(task: Task) -> dict[str, Any]:
    """The SQL fields every SQL task carries (`db`, `dump`, `gold_sql`); ValueError if absent."""
    missing = [k for k in ("db", "dump", "gold_sql") if not task.metadata.get(k)]
    if missing:
        raise ValueError(f"SQL task {task.id} lacks metadata {missing}")
    return dict(task.metadata)
