"""`lumos sql-agreement` and `lumos mariadb`: the SQL domain's commands (registered in `rollouts/cli.py`).

    lumos mariadb --action start --dir /tmp/lumos-mariadb     # prints the folder; LUMOS_MARIADB_DIR=...
    lumos sql-agreement --tasks spider:ic_spider_dev.json [--mariadb-dir DIR] [--json]
    lumos mariadb --action stop --dir /tmp/lumos-mariadb
"""

from __future__ import annotations

import json
import os
import typing
from dataclasses import dataclass


@dataclass
class SqlAgreementConfig:
    """Count the gold queries that return the same rows on SQLite and on MariaDB."""

    tasks: str = "synthetic:sql_train"
    """task spec of SQL tasks, e.g. spider:PATH"""
    mariadb_dir: str | None = None
    """folder of a server started with `lumos mariadb --action start`; default $LUMOS_MARIADB_DIR, else a temporary server"""
    limit: int | None = None
    """compare only the first N tasks"""
    timeout_s: float = 10.0
    """time limit of one gold query, seconds"""
    json: bool = False
    """print one JSON object instead of a text summary"""


@dataclass
class MariaDBConfig:
    """Start or stop a lumos-managed MariaDB server (temporary data folder, unix socket, read-only account)."""

    action: typing.Literal["start", "stop"] = "start"
    """start or stop"""
    dir: str | None = None
    """server folder (start: default a new temporary folder)"""


def run_sql_agreement(config: SqlAgreementConfig) -> int:
    from lumos_envs.sql.agreement import sql_agreement
    from lumos_envs.sql.mariadb import MariaDBServer
    from lumos_envs.tasks.registry import load_tasks

    tasks = load_tasks(config.tasks)
    folder = config.mariadb_dir or os.environ.get("LUMOS_MARIADB_DIR")
    server = None if folder else MariaDBServer.start()
    try:
        report = sql_agreement(tasks, folder or str(server.folder), name=config.tasks, timeout_s=config.timeout_s, limit=config.limit)
    finally:
        if server is not None:
            server.remove()
    if config.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{config.tasks}: {report.same}/{report.total} gold queries return the same rows on SQLite and MariaDB "
              f"({report.agreement:.1%})")
        for cause, count in report.causes.most_common():
            print(f"  {count:5d}  {cause}")
    return 0


def run_mariadb(config: MariaDBConfig) -> int:
    from lumos_envs.sql.mariadb import MariaDBServer

    if config.action == "start":
        server = MariaDBServer.start(config.dir)
        print(f"MariaDB running (pid {server.pid}); use it with: export LUMOS_MARIADB_DIR={server.folder} LUMOS_SQL_BACKEND=mariadb")
    else:
        if not config.dir:
            raise ValueError("--dir is required to stop a server")
        MariaDBServer.attach(config.dir).stop()
        print(f"MariaDB in {config.dir} stopped")
    return 0


