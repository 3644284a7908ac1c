"""The default SQL back-end: a read-only SQLite copy of each dump database, MySQL-like semantics.

Building: `sqlite_catalog(source)` converts every database of a dump to one SQLite file (types
mapped, keys and indexes kept, rows inserted as parameters, never as SQL text), cached under
`$LUMOS_CACHE/sql_sqlite/<content hash>/` with a `schema.json` holding the MySQL column types,
so `DESCRIBE` shows what MySQL shows. Text columns get the `MYSQL` collation (case- and
accent-insensitive, trailing spaces ignored, like MySQL's default `utf8mb4_general_ci`).

Running: connections open the file with `mode=ro`, `query_only`, an authorizer that allows
reading only (no writes, `ATTACH`, `PRAGMA`, `load_extension`), `setlimit` on string and SQL
lengths (so `randomblob(1e9)` or a giant `group_concat` fails), a progress handler enforcing the
time limit, and caps on returned rows and bytes. MySQL literals are rewritten for SQLite
explicitly: double-quoted strings become single-quoted strings, backslash escapes are resolved.
MySQL's bare columns in grouped queries (value of the group's first row in scan order) are
emulated by `mysql_groups.emulate_bare_columns`.
`SHOW TABLES` and `DESCRIBE t` are emulated; `EXPLAIN SELECT ...` shows SQLite's `EXPLAIN QUERY PLAN`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumos_envs.cache import cached_build, shared_state
from lumos_envs.execution.errors import ToolError, ToolTimeout
from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.collation import mysql_collation
from lumos_envs.sql.dump import Column, Database, Table
from lumos_envs.sql.lexer import quote_sqlite, tokenize
from lumos_envs.sql.mysql_groups import emulate_bare_columns, register_first, table_scans
from lumos_envs.sql.results import QueryResult, normalize_row, value_size
from lumos_envs.sql.statements import Statement, check_statement

BUILDER_VERSION = "1"
COLLATION = "MYSQL"

MAX_VALUE_BYTES = 1_000_000
"""SQLITE_LIMIT_LENGTH: the longest string or blob a query may make"""
MAX_RESULT_ROWS = 10_000
"""rows kept from one statement (enough for any Spider gold result)"""
MAX_RESULT_BYTES = 4_000_000
"""approximate bytes kept from one statement"""

_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "sqlite_offset"})

_INT_TYPES = {"int", "integer", "tinyint", "smallint", "mediumint", "bigint", "year", "bit", "bool", "boolean"}
_REAL_TYPES = {"float", "double", "real", "decimal", "numeric", "dec", "fixed"}
_TEXT_TYPES = {"char", "varchar", "text", "tinytext", "mediumtext", "longtext", "enum", "set", "json", "nchar", "nvarchar"}
_BLOB_TYPES = {"blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary"}


def sqlite_type(column: Column) -> str:
    """SQLite column type (with the MySQL collation for text) for a MySQL column type."""
    base = column.base_type
    if base in _INT_TYPES:
        return "INTEGER"
    if base in _REAL_TYPES:
        return "REAL"
    if base in _TEXT_TYPES:
        return f"TEXT COLLATE {COLLATION}"
    if base in _BLOB_TYPES:
        return "BLOB"
    return "TEXT"  # date, datetime, timestamp, time: ISO text compares in date order


def describe_rows(table: Table) -> list[tuple[Any, ...]]:
    """Rows of MySQL's `DESCRIBE table`: Field, Type, Null, Key, Default, Extra."""
    unique_first = {k[0] for k in table.unique_keys if len(k) == 1}
    index_first = {k[0] for k in table.indexes + table.unique_keys if k} | {fk.columns[0] for fk in table.foreign_keys}
    rows = []
    for column in table.columns:
        if column.name in table.primary_key:
            key = "PRI"
        elif column.name in unique_first:
            key = "UNI"
        elif column.name in index_first:
            key = "MUL"
        else:
            key = ""
        mysql_type = "int(11)" if column.mysql_type == "int" else column.mysql_type
        rows.append((column.name, mysql_type, "YES" if column.nullable else "NO", key, column.default,
                     "auto_increment" if column.auto_increment else ""))
    return rows


# ---------------------------------------------------------------------------------------------
# building


def build_sqlite_database(database: Database, path: Path) -> None:
    """Write `database` as a SQLite file at `path`."""
    connection = sqlite3.connect(str(path))
    connection.create_collation(COLLATION, mysql_collation)
    try:
        with connection:
            for table in database.tables:
                connection.execute(_create_table_sql(table))
                for number, columns in enumerate(table.indexes + table.unique_keys):
                    unique = "UNIQUE " if columns in table.unique_keys else ""
                    cols = ", ".join(_q(c) for c in columns)
                    connection.execute(f"CREATE {unique}INDEX {_q(f'{table.name}_idx{number}')} ON {_q(table.name)} ({cols})")
                rows = database.rows.get(table.name, [])
                if rows:
                    marks = ", ".join("?" * len(table.columns))
                    connection.executemany(f"INSERT INTO {_q(table.name)} VALUES ({marks})", rows)
    finally:
        connection.close()


def _create_table_sql(table: Table) -> str:
    parts = []
    for column in table.columns:
        null = "" if column.nullable else " NOT NULL"
        parts.append(f"{_q(column.name)} {sqlite_type(column)}{null}")
    if table.primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(_q(c) for c in table.primary_key)})")
    return f"CREATE TABLE {_q(table.name)} ({', '.join(parts)})"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class SqliteCatalog:
    """The converted databases of one dump: a cache folder and the DESCRIBE metadata."""

    folder: Path
    schema: dict[str, dict[str, Any]]
    """db -> {"tables": [names in dump order], "describe": {lower table name: rows}}"""

    def database_names(self) -> list[str]:
        return list(self.schema)

    def connect(self, db: str, *, timeout_s: float = 2.0) -> "SqliteDatabase":
        if db not in self.schema:
            raise KeyError(f"no database {db!r} in this dump; it has {', '.join(self.schema)}")
        return SqliteDatabase(self.folder / f"{_file_name(db)}.sqlite", self.schema[db], timeout_s=timeout_s)


def sqlite_catalog(source: DumpSource) -> SqliteCatalog:
    """Build (once, cached on disk) and load (once per process) the SQLite copy of a dump."""

    key = source.key()  # shared_state does not nest: resolve the key and dump outside `load`
    dump = source.parse()

    def build(folder: Path) -> None:
        schema: dict[str, dict[str, Any]] = {}
        for name, database in dump.databases.items():
            build_sqlite_database(database, folder / f"{_file_name(name)}.sqlite")
            schema[name] = {
                "tables": [t.name for t in database.tables],
                "describe": {t.name.lower(): describe_rows(t) for t in database.tables},
            }
        (folder / "schema.json").write_text(json.dumps(schema))

    def load() -> SqliteCatalog:
        folder = cached_build("sql_sqlite", _hex(key + BUILDER_VERSION), build)
        return SqliteCatalog(folder, json.loads((folder / "schema.json").read_text()))

    return shared_state("sql_sqlite", key, load)


def _file_name(db: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in db) or "db"


def _hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# running


class SqliteDatabase:
    """One read-only connection to one converted database."""

    def __init__(self, path: Path, schema: dict[str, Any], *, timeout_s: float = 2.0) -> None:
        self.path = path
        self.schema = schema
        self.timeout_s = timeout_s
        self._deadline = 0.0
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self.connection = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        self.connection.create_collation(COLLATION, mysql_collation)
        register_first(self.connection)
        self.connection.execute("PRAGMA query_only = ON")
        self.tables = table_scans(self.connection)  # before the authorizer: it reads pragma_table_info
        for limit, value in (
            (sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
            (sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000),
            (sqlite3.SQLITE_LIMIT_COLUMN, 1000),
            (sqlite3.SQLITE_LIMIT_EXPR_DEPTH, 200),
            (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, 100),
            (sqlite3.SQLITE_LIMIT_ATTACHED, 0),
            (sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000),
            (sqlite3.SQLITE_LIMIT_FUNCTION_ARG, 100),
        ):
            self.connection.setlimit(limit, value)
        self.connection.set_authorizer(_authorize)
        self.connection.set_progress_handler(self._progress, 1000)

    def close(self) -> None:
        self.connection.close()

    def run(self, text: str) -> QueryResult:
        """Check and run one statement (see `statements.check_statement`)."""
        return self.execute(check_statement(text))

    def execute(self, statement: Statement) -> QueryResult:
        if statement.kind == "show_tables":
            names = sorted(t.lower() for t in self.schema["tables"])
            return QueryResult(("Tables",), tuple((n,) for n in names))
        if statement.kind == "describe":
            rows = self.schema["describe"].get((statement.table or "").lower())
            if rows is None:
                raise ToolError(f"Table '{statement.table}' doesn't exist")
            return QueryResult(("Field", "Type", "Null", "Key", "Default", "Extra"), tuple(tuple(r) for r in rows))
        if statement.kind == "explain":
            # SQLite's own plan (its columns are not MySQL's); the authorizer still applies
            return self.query("EXPLAIN QUERY PLAN " + self._sqlite_text(statement.query or ""))
        return self.query(self._sqlite_text(statement.text))

    def _sqlite_text(self, query: str) -> str:
        return to_sqlite_sql(emulate_bare_columns(query, self.tables))

    def query(self, sql: str) -> QueryResult:
        """Run SQLite SQL under the authorizer and limits (no statement check: tests use it to
        show the engine-level defences on their own)."""
        self._deadline = time.monotonic() + self.timeout_s
        try:
            cursor = self.connection.execute(sql)
            columns = tuple(d[0] for d in cursor.description or ())
            rows = []
            size = 0
            truncated = False
            while True:
                batch = cursor.fetchmany(256)
                if not batch:
                    break
                for raw in batch:
                    row = normalize_row(raw)
                    size += sum(value_size(v) for v in row)
                    if len(rows) >= MAX_RESULT_ROWS or size > MAX_RESULT_BYTES:
                        truncated = True
                        break
                    rows.append(row)
                if truncated:
                    break
            cursor.close()
        except sqlite3.OperationalError as error:
            if "interrupted" in str(error):
                raise ToolTimeout(f"the query ran past the {self.timeout_s:g} s time limit and was stopped") from None
            raise ToolError(f"Error executing query: {_message(error)}") from None
        except (sqlite3.DatabaseError, sqlite3.Warning, OverflowError, ValueError) as error:
            raise ToolError(f"Error executing query: {_message(error)}") from None
        finally:
            self._deadline = 0.0
        return QueryResult(columns, tuple(rows), truncated)

    def _progress(self) -> int:
        return 1 if self._deadline and time.monotonic() > self._deadline else 0


def _authorize(action: int, arg1: str | None, arg2: str | None, db_name: str | None, trigger: str | None) -> int:
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _message(error: BaseException) -> str:
    text = str(error)
    if "not authorized" in text:
        return "not authorized: the database is read-only"
    if "too big" in text:
        return f"{text} (values are limited to {MAX_VALUE_BYTES} bytes)"
    return text


def to_sqlite_sql(statement: str) -> str:
    """MySQL statement text -> SQLite text.

    - String literals (single- or double-quoted, with MySQL backslash escapes) are re-quoted the
      SQLite way, so `"x"` is a string explicitly, never SQLite's identifier-then-string fallback.
    - A top-level `GROUP BY k ... ORDER BY e` becomes `ORDER BY e, k`: MySQL/MariaDB produce
      groups in key order and keep that order among rows that tie on `e`, so ties under
      `ORDER BY ... LIMIT` resolve the same way on both back-ends.
    - `/` is MySQL's exact division (`5 / 2` is 2.5000, not SQLite's integer 2): every `/`
      operator becomes `* 1.0 /`. `*` and `/` share one precedence level and associate left, so
      `x / y` -> `x * 1.0 / y` keeps every operand where it was; results agree to the 4 decimals
      both back-ends are compared at (`results.NUMBER_DECIMALS`); division by zero is NULL on both.
    """
    tokens = [t for t in tokenize(statement)]
    pieces = []
    for token in tokens:
        if token.kind in ("string", "dqstring"):
            pieces.append(quote_sqlite(token.string_value()))
        elif token.kind == "comment":
            pieces.append(" ")
        elif token.kind == "punct" and token.text == "/":
            pieces.append(" * 1.0 / ")
        else:
            pieces.append(token.text)
    insert_at, keys = _group_order_tiebreak(tokens)
    if insert_at is not None and keys:
        keys_text = "".join(pieces[i] for i in keys)
        pieces.insert(insert_at, ", " + keys_text.strip() + " ")
    return "".join(pieces)


def _group_order_tiebreak(tokens: list[Any]) -> tuple[int | None, list[int]]:
    """(index before which to insert the group keys, indices of the key tokens), or (None, [])."""
    depth = 0
    top: list[int] = []
    for index, token in enumerate(tokens):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and token.kind not in ("space", "comment"):
            top.append(index)
    words = [tokens[i].upper for i in top]
    if any(w in ("UNION", "INTERSECT", "EXCEPT") for w in words):
        return None, []
    group = order = None
    for k in range(len(top) - 1):
        if words[k] == "GROUP" and words[k + 1] == "BY":
            group = k + 2
        if words[k] == "ORDER" and words[k + 1] == "BY":
            order = k + 2
    if group is None or order is None or order < group:
        return None, []
    ends = [k for k in range(group, len(top)) if words[k] in ("HAVING", "ORDER", "LIMIT", "WINDOW", "WITH")]
    group_end = ends[0] if ends else len(top)
    if group_end == group:
        return None, []
    keys = list(range(top[group], top[group_end - 1] + 1))
    if any(tokens[i].kind in ("string", "dqstring") or (tokens[i].kind == "number") for i in keys):
        return None, []  # GROUP BY 1 (a position) or literals: leave the query alone
    limit = next((k for k in range(order, len(top)) if words[k] == "LIMIT"), None)
    insert_at = top[limit] if limit is not None else len(tokens)
    return insert_at, keys
