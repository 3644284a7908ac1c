"""The SQL domain's machinery: MySQL dump parsing, the SQLite and MariaDB back-ends, statement checks.

`dump.py` reads a MySQL dump (InterCode-SQL's Spider databases) into table definitions and rows;
`sqlite_backend.py` builds a cached read-only SQLite copy with MySQL-like text comparison and
runs statements under an authorizer, limits and a time limit; `mariadb.py` manages a real
MariaDB server (a temporary data directory, unix socket, a read-only account) and runs
statements on it; `statements.py` holds the checks both back-ends apply before running anything.
`lumos_envs/envs/sql.py` (`lumos/SQL-v0`) is the env on top.
"""
