"""The SQL domain's machinery: MySQL dump parsing, the SQLite and MariaDB back-ends, statement checks.

`dump.py` reads a MySQL dump (InterCode-SQL's Spider databases) into table definitions and rows;
`shop.py` writes the bundled `lumos_shop` database as such a dump; `catalog.py` names a task's dump;
`sqlite_backend.py` builds a cached read-only SQLite copy with MySQL-like text comparison and
runs statements under an authorizer, limits and a time limit; `mariadb.py` manages a real
MariaDB server (a temporary data directory, unix socket, a read-only account) and runs
statements on it; `statements.py` holds the checks both back-ends apply before running anything
(on sqlglot's parse tree); `collation.py` and `mysql_groups.py` give SQLite MySQL's text
comparison and bare grouped columns. Modules import each other top-down, without cycles
(`tests/lumos_envs/sql/test_import_layers.py`).
`lumos_envs/envs/sql.py` (`lumos/SQL-v0`) is the env on top.
"""
