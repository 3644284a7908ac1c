"""A real MariaDB server for the SQL env: started by lumos, loaded from the dump, queried read-only.

`MariaDBServer.start(folder)` initialises a data directory with `mariadb-install-db` and runs
`mariadbd` as a child process (no systemd, works as root in CI): unix socket only
(`skip-networking`), `lower_case_table_names=1` (as InterCode configures MySQL),
`secure_file_priv` pointing at an empty folder, utf8mb4_general_ci. An init file creates two
accounts with random passwords, kept in `connection.json` (mode 0600): `lumos_admin` (loads
dumps) and `lumos_ro`, which gets SELECT on each loaded database and nothing else (no FILE, so no
`INTO OUTFILE`/`LOAD_FILE`). Every statement runs as `SET STATEMENT max_statement_time=T,
sql_select_limit=N FOR ...`, so the time limit holds per statement whatever the session set,
and PyMySQL connects without multi-statements.

`ensure_loaded(source)` loads each database of a dump once per server (recorded with the
dump's content hash in `lumos_meta.loaded`, under a server-side lock), from the dump's own
`CREATE TABLE`/`INSERT` statements; accounts and settings in the dump are never executed.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from lumos_envs.execution.errors import ToolError, ToolTimeout
from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.lexer import tokenize
from lumos_envs.sql.results import QueryResult, normalize_row, value_size
from lumos_envs.sql.sqlite_backend import MAX_RESULT_BYTES, MAX_RESULT_ROWS
from lumos_envs.sql.statements import Statement, check_statement

logger = logging.getLogger(__name__)

ADMIN_USER = "lumos_admin"
READONLY_USER = "lumos_ro"
CONNECTION_FILE = "connection.json"
ER_STATEMENT_TIMEOUT = 1969
_CREATE_LOCK_TIMEOUT_S = 120


class MariaDBError(OSError):
    """The server could not be started, reached or loaded; the message says what to check."""


@dataclass(frozen=True)
class MariaDBServer:
    """A lumos-managed server: its folder, socket and credentials (`connection.json`)."""

    folder: Path
    socket: str
    admin_password: str
    readonly_password: str
    pid: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def start(cls, folder: str | Path | None = None, *, timeout_s: float = 120.0) -> "MariaDBServer":
        """Initialise (first time) and start a server in `folder` (a new temp folder if None).

        Raises:
            MariaDBError: when `mariadbd`/`mariadb-install-db` is missing or the server does not come up.
        """
        for program in ("mariadbd", "mariadb-install-db"):
            if _which(program) is None:
                raise MariaDBError(f"{program} not found; install Debian's mariadb-server (make test does)")
        base = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="lumos-mariadb-"))
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o700)
        data, files = base / "data", base / "files"
        files.mkdir(exist_ok=True)
        socket = str(base / "mysqld.sock")
        if len(socket) > 100:
            raise MariaDBError(f"socket path {socket} is too long for a unix socket; use a shorter folder")
        user = pwd.getpwuid(os.getuid()).pw_name
        if not (data / "mysql").is_dir():
            _run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", f"--user={user}",
                  "--auth-root-authentication-method=socket", "--skip-test-db"], base / "install.log")
        admin_password, readonly_password = secrets.token_hex(16), secrets.token_hex(16)
        _write_private(base / CONNECTION_FILE, json.dumps(
            {"socket": socket, "admin_password": admin_password, "readonly_password": readonly_password}))
        _write_private(base / "init.sql", _init_sql(admin_password, readonly_password))
        command = [
            _which("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={socket}",
            f"--pid-file={base / 'mysqld.pid'}", f"--log-error={base / 'error.log'}", f"--user={user}",
            "--skip-networking", f"--secure-file-priv={files}", "--lower-case-table-names=1",
            f"--init-file={base / 'init.sql'}", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
            "--skip-name-resolve", "--local-infile=0", "--max-connections=300",
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        server = cls(base, socket, admin_password, readonly_password, process.pid)
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise MariaDBError(f"mariadbd exited with {process.returncode}; see {base / 'error.log'}")
            try:
                server._admin().close()
                break
            except pymysql.err.MySQLError:
                if time.monotonic() > deadline:
                    process.kill()
                    raise MariaDBError(f"mariadbd did not accept connections in {timeout_s:g} s; see {base / 'error.log'}")
                time.sleep(0.2)
        (base / "init.sql").unlink()
        return server

    @classmethod
    def attach(cls, folder: str | Path) -> "MariaDBServer":
        """The running server started in `folder` (reads its `connection.json`)."""
        path = Path(folder) / CONNECTION_FILE
        try:
            info = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise MariaDBError(f"no lumos MariaDB server in {folder} ({error}); start one with `lumos mariadb --action start`") from None
        pid_file = Path(folder) / "mysqld.pid"
        pid = int(pid_file.read_text().strip()) if pid_file.is_file() else None
        return cls(Path(folder), info["socket"], info["admin_password"], info["readonly_password"], pid)

    def stop(self, *, timeout_s: float = 60.0) -> None:
        """Shut the server down (SHUTDOWN as admin; SIGTERM, then SIGKILL if it lingers)."""
        try:
            connection = self._admin()
            with connection.cursor() as cursor:
                cursor.execute("SHUTDOWN")
            connection.close()
        except pymysql.err.MySQLError:
            if self.pid:
                _signal(self.pid, 15)
        deadline = time.monotonic() + timeout_s
        while self.pid and _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid and _alive(self.pid):
            _signal(self.pid, 9)

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- loading ---------------------------------------------------------------------------------

    def ensure_loaded(self, source: DumpSource) -> list[str]:
        """Load every database of the dump that this server does not hold at this content hash.

        Returns the names of the databases (re)loaded.
        """
        key = source.key()
        dump = source.parse()
        loaded: list[str] = []
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE IF NOT EXISTS lumos_meta")
                cursor.execute("CREATE TABLE IF NOT EXISTS lumos_meta.loaded (db VARCHAR(64) PRIMARY KEY, dump_key CHAR(64))")
                cursor.execute("SELECT GET_LOCK('lumos_load', %s)", (_CREATE_LOCK_TIMEOUT_S,))
                try:
                    cursor.execute("SELECT db, dump_key FROM lumos_meta.loaded")
                    have = {db.lower(): k for db, k in cursor.fetchall()}
                    for name, database in dump.databases.items():
                        if have.get(name.lower()) == key:
                            continue
                        q = _quote_ident(name)
                        cursor.execute(f"DROP DATABASE IF EXISTS {q}")
                        cursor.execute(f"CREATE DATABASE {q} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
                        cursor.execute(f"USE {q}")
                        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                        for statement in database.statements:
                            cursor.execute(_portable(statement))
                        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
                        cursor.execute(f"GRANT SELECT, SHOW VIEW ON {q}.* TO '{READONLY_USER}'@'localhost'")
                        cursor.execute("REPLACE INTO lumos_meta.loaded VALUES (%s, %s)", (name.lower(), key))
                        loaded.append(name)
                finally:
                    cursor.execute("SELECT RELEASE_LOCK('lumos_load')")
        finally:
            connection.close()
        return loaded

    # -- connections -----------------------------------------------------------------------------

    def connect(self, db: str, *, timeout_s: float = 2.0) -> "MariaDBDatabase":
        """A read-only connection to database `db`."""
        return MariaDBDatabase(self, db, timeout_s=timeout_s)

    def _admin(self) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=self.socket, user=ADMIN_USER, password=self.admin_password,
                               charset="utf8mb4", autocommit=True, connect_timeout=5, local_infile=False)


class MariaDBDatabase:
    """One read-only connection (account `lumos_ro`) to one database."""

    def __init__(self, server: MariaDBServer, db: str, *, timeout_s: float = 2.0) -> None:
        self.server = server
        self.db = db
        self.timeout_s = timeout_s
        self._connection: Any = None

    def run(self, text: str) -> QueryResult:
        return self.execute(check_statement(text))

    def execute(self, statement: Statement) -> QueryResult:
        return self.query(statement.text)

    def query(self, sql: str) -> QueryResult:
        """Run `sql` as the read-only account under the per-statement limits (no statement
        check: tests use it to show the server-side defences on their own)."""
        prefix = f"SET STATEMENT max_statement_time={self.timeout_s:g}, sql_select_limit={MAX_RESULT_ROWS + 1} FOR "
        try:
            connection = self._connect()
            with connection.cursor() as cursor:
                cursor.execute(prefix + sql)
                columns = tuple(d[0] for d in cursor.description or ())
                rows, size, truncated = [], 0, False
                for raw in cursor.fetchall() if cursor.description else ():
                    row = normalize_row(raw)
                    size += sum(value_size(v) for v in row)
                    if len(rows) >= MAX_RESULT_ROWS or size > MAX_RESULT_BYTES:
                        truncated = True
                        break
                    rows.append(row)
        except pymysql.err.MySQLError as error:
            code = error.args[0] if error.args and isinstance(error.args[0], int) else None
            message = error.args[1] if len(error.args) > 1 else str(error)
            if code == ER_STATEMENT_TIMEOUT:
                raise ToolTimeout(f"the query ran past the {self.timeout_s:g} s time limit and was stopped") from None
            if code is not None and code >= 2000:  # client-side: connection lost; reconnect next time
                self.close()
            raise ToolError(f"Error executing query: {message}") from None
        return QueryResult(columns, tuple(rows), truncated)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except pymysql.err.Error:
                pass
            self._connection = None

    def _connect(self) -> Any:
        if self._connection is None:
            self._connection = pymysql.connect(
                unix_socket=self.server.socket, user=READONLY_USER, password=self.server.readonly_password,
                database=self.db, charset="utf8mb4", autocommit=True, connect_timeout=5,
                read_timeout=max(10, int(self.timeout_s * 4)), local_infile=False,
            )
        return self._connection


def _init_sql(admin_password: str, readonly_password: str) -> str:
    return "\n".join(
        [
            f"CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'localhost' IDENTIFIED BY '{admin_password}';",
            f"ALTER USER '{ADMIN_USER}'@'localhost' IDENTIFIED BY '{admin_password}';",
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'localhost' WITH GRANT OPTION;",
            f"CREATE USER IF NOT EXISTS '{READONLY_USER}'@'localhost' IDENTIFIED BY '{readonly_password}';",
            f"ALTER USER '{READONLY_USER}'@'localhost' IDENTIFIED BY '{readonly_password}' WITH MAX_STATEMENT_TIME 60;",
            "",
        ]
    )


def _portable(statement: str) -> str:
    """MySQL 8 collation names MariaDB lacks -> utf8mb4_general_ci (the dump's default)."""
    out = []
    for token in tokenize(statement):
        if token.kind == "ident" and token.text.lower().startswith("utf8mb4_0900"):
            out.append("utf8mb4_general_ci")
        else:
            out.append(token.text)
    return "".join(out)


def _quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _which(program: str) -> str | None:
    return shutil.which(program) or next((p for p in (f"/usr/sbin/{program}", f"/usr/bin/{program}") if os.path.exists(p)), None)


def _run(command: list[Any], log: Path) -> None:
    with log.open("w") as handle:
        result = subprocess.run([str(c) for c in command], stdout=handle, stderr=subprocess.STDOUT, timeout=300)
    if result.returncode != 0:
        raise MariaDBError(f"{command[0]} failed with {result.returncode}; see {log}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _signal(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass
