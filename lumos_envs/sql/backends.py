"""The two SQL back-ends behind one small interface: `open_database(backend, source, db)`."""

from __future__ import annotations

from typing import Protocol

from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.results import QueryResult
from lumos_envs.sql.statements import Statement

BACKENDS = ("sqlite", "mariadb")


class SqlDatabase(Protocol):
    """One read-only connection to one database of a dump."""

    def run(self, text: str) -> QueryResult:
        """Check and run one statement; raises `ToolError` (refused, failed, timed out)."""
        ...

    def execute(self, statement: Statement) -> QueryResult:
        """Run a statement `statements.check_statement` has checked; raises `ToolError`."""
        ...

    def close(self) -> None: ...


def open_database(backend: str, source: DumpSource, db: str, *, timeout_s: float, mariadb_dir: str | None = None) -> SqlDatabase:
    """A connection to database `db` of the dump `source` on `backend` (`sqlite` or `mariadb`).

    SQLite builds (or reuses) the cached copy; MariaDB loads the dump into the server at
    `mariadb_dir` (a folder made by `MariaDBServer.start`) the first time, then connects with the
    read-only account.
    """
    if backend == "sqlite":
        from lumos_envs.sql.sqlite_backend import sqlite_catalog

        return sqlite_catalog(source).connect(db, timeout_s=timeout_s)
    if backend == "mariadb":
        from lumos_envs.sql.mariadb import MariaDBServer

        if not mariadb_dir:
            raise ValueError(
                "backend 'mariadb' needs a server: start one with `lumos mariadb --action start --dir DIR` "
                "and pass mariadb_dir=DIR (or set LUMOS_MARIADB_DIR)"
            )
        server = MariaDBServer.attach(mariadb_dir)
        server.ensure_loaded(source)
        return server.connect(db, timeout_s=timeout_s)
    raise ValueError(f"unknown SQL backend {backend!r}; known: {', '.join(BACKENDS)}")
