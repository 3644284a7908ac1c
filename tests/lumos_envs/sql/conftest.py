"""One MariaDB server per test session (temporary folder, unix socket), stopped at the end."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from lumos_envs.sql.mariadb import MariaDBServer


@pytest.fixture(scope="session")
def mariadb_server():
    folder = Path(tempfile.mkdtemp(prefix="lumos-mdb-", dir="/tmp"))  # short path: unix sockets cap at ~100 chars
    server = MariaDBServer.start(folder)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def spider_spec(fixtures_dir: Path) -> str:
    return f"spider:{fixtures_dir / 'intercode_sql' / 'ic_spider_dev_sample.json'}"
