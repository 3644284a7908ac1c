"""InterCode-SQL tasks on the Spider databases (`spider:PATH`).

Schema of an InterCode-SQL task file (a JSON list): `db` (database name in the dump), `gold`
(the gold query, MySQL dialect), `query` (the natural-language question), `hardness`,
`db_tables` (table -> column names). The databases come from a MySQL dump: the `dump=` option
(`spider:tasks.json?dump=ic_spider_dbs.sql`, relative to the task file's folder or absolute), or
else `ic_spider_dbs.sql` next to the task file, or else the only `*.sql` file there.

Gold plans come from `tasks/sql_tasks.sql_gold_plan` (SHOW TABLES, DESCRIBE, the gold query,
`Answer(variable)`), shared with the bundled SQL families.

InterCode-SQL items have no id (InterCode names a task by its position in the file, which a sample
does not keep), so ids are `spider-{split}-{digest of db, question and gold query}` and
`metadata["index"]` keeps the position. The split is `?split=` or the file name's
(`ic_spider_dev.json` -> dev; see `lumos_envs.tasks.splits`).
"""

from __future__ import annotations

import json
from pathlib import Path

from lumos_envs.domains import Domain
from lumos_envs.sql.catalog import file_dump_spec
from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.splits import ContentIds, resolve_split
from lumos_envs.tasks.sql_tasks import sql_gold_plan

DEFAULT_DUMP_NAME = "ic_spider_dbs.sql"
REQUIRED_FIELDS = ("db", "gold", "query")


def load_spider(path: str | Path, split: str | None = None, dump: str | None = None) -> TaskList:
    """Load an InterCode-SQL task file; see the module docstring for the dump lookup.

    Raises:
        ValueError: naming the file, item and field for a malformed item, or when no dump is found.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="spider")
    ids = ContentIds("spider", chosen.split)
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
                id=ids(item["db"], item["query"], item["gold"]),
                domain=Domain.SQL,
                source="spider",
                split=chosen.split,
                question=item["query"].strip(),
                answer=gold,
                plan=sql_gold_plan(gold, tables.keys()),
                metadata={"db": item["db"], "dump": dump_spec, "gold_sql": gold, "hardness": item.get("hardness"),
                          "index": index},
            )
        )
    return TaskList(chosen.label(tasks), name=f"spider:{path}")


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
