"""MySQL's bare columns in grouped queries: the SQLite rewrite matches a real MariaDB server on
small hand-made tables, and the rewrite never changes what kind of statement runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lumos_envs.sql.backends import open_database
from lumos_envs.sql.catalog import DumpSource, file_dump_spec
from lumos_envs.sql.mysql_groups import TableScan, emulate_bare_columns, register_first

DUMP = """
CREATE DATABASE IF NOT EXISTS `lumos_groups`;
USE `lumos_groups`;
CREATE TABLE `lang` (
  `code` varchar(3) NOT NULL,
  `language` varchar(20) NOT NULL,
  `pct` double DEFAULT NULL,
  PRIMARY KEY (`code`,`language`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO `lang` VALUES ('abw','Papiamento',76.7),('ABW','english',9.5),('ABW','Dutch',5.3),
  ('afg','Pashto',52.4),('AFG','balochi',0.9),('AFG','Dari',32.1);
CREATE TABLE `log` (
  `who` varchar(10) DEFAULT NULL,
  `what` varchar(10) DEFAULT NULL,
  `n` int DEFAULT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO `log` VALUES ('zed','c',3),('amy','b',9),('zed','a',7),('amy','d',1);
CREATE TABLE `person` (
  `id` int NOT NULL,
  `name` varchar(10) DEFAULT NULL,
  `age` int DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO `person` VALUES (3,'Cy',50),(1,'Al',30),(2,'Bo',70);
CREATE TABLE `pet` (
  `pet_id` int NOT NULL,
  `owner_id` int DEFAULT NULL,
  `kind` varchar(10) DEFAULT NULL,
  PRIMARY KEY (`pet_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO `pet` VALUES (12,3,'dog'),(10,1,'cat'),(11,3,'Cat'),(13,2,'fish');
"""

# each has a bare column whose value differs between "first row read" (MySQL) and SQLite's own
# choice (the min/max row, or the last row seen)
AGREE = [
    "SELECT language, code, max(pct) FROM lang GROUP BY code",           # PK order, not insertion order
    "SELECT language, min(pct) FROM lang",                               # aggregate without GROUP BY
    "SELECT who, what, max(n) FROM log GROUP BY who",                    # no PK: insertion order
    "SELECT what, min(n) FROM log",
    "SELECT name, max(age) FROM person",
    "SELECT name, min(age), count(*) FROM person",
    "SELECT code AS c, language FROM lang GROUP BY c",                   # GROUP BY alias
    "SELECT code, language FROM lang GROUP BY 1 ORDER BY code",          # GROUP BY position
    "SELECT upper(language) AS u, code FROM lang GROUP BY code HAVING max(pct) > 50",
    "SELECT T1.name, T2.kind, count(*) FROM person AS T1 JOIN pet AS T2 ON T1.id = T2.owner_id GROUP BY T1.id",
    "SELECT kind, count(*) FROM pet GROUP BY kind",                      # group key spelling: first row's
    "SELECT l.code, count(*) FROM lang AS l WHERE l.pct > (SELECT avg(pct) FROM lang WHERE code = l.code) GROUP BY l.code",
    "SELECT name FROM person WHERE age = (SELECT max(age) FROM person)",  # nothing to rewrite
]


@pytest.fixture(scope="module")
def both(mariadb_server, tmp_path_factory):
    path = Path(tmp_path_factory.mktemp("groups")) / "groups.sql"
    path.write_text(DUMP)
    source = DumpSource(file_dump_spec(path))
    databases = {b: open_database(b, source, "lumos_groups", timeout_s=5, mariadb_dir=str(mariadb_server.folder))
                 for b in ("sqlite", "mariadb")}
    yield databases
    for database in databases.values():
        database.close()


@pytest.mark.parametrize("sql", AGREE)
def test_bare_columns_match_mariadb(both, sql):
    lite, maria = both["sqlite"].run(sql), both["mariadb"].run(sql)
    assert sorted(lite.rows, key=repr) == sorted(maria.rows, key=repr)
    assert lite.columns == maria.columns  # the rewrite keeps the column headers


def test_without_the_rewrite_sqlite_differs(both):
    """The hand-made cases really exercise the difference: plain SQLite answers otherwise."""
    sql = "SELECT language, code, max(pct) FROM lang GROUP BY code"
    raw = both["sqlite"].query(sql).rows  # `query` runs the text as is
    assert sorted(raw) != sorted(both["mariadb"].run(sql).rows)


TABLES = {"t": TableScan(frozenset({"a", "b", "c"}), ("a",)), "u": TableScan(frozenset({"a", "d"}), ("rowid",))}


@pytest.mark.parametrize("sql", [
    "SELECT b, max(c) FROM t GROUP BY a",
    "SELECT b, count(*) FROM t",
    "SELECT t.b, u.d, count(*) FROM t JOIN u ON t.a = u.a GROUP BY t.a ORDER BY b",
])
def test_rewrite_wraps_bare_columns_and_stays_one_select(sql):
    rewritten = emulate_bare_columns(sql, TABLES)
    assert rewritten != sql and "lumos_first(" in rewritten
    connection = sqlite3.connect(":memory:")
    register_first(connection)
    connection.execute("CREATE TABLE t (a, b, c)")
    connection.execute("CREATE TABLE u (a, d)")
    connection.execute(rewritten).fetchall()  # valid SQLite


@pytest.mark.parametrize("sql", [
    "SELECT a, b FROM t",                                   # not grouped
    "SELECT count(*) FROM t GROUP BY a",                    # nothing bare
    "SELECT a + 1, count(*) FROM t GROUP BY a + 1",         # a group-key expression
    "SELECT * FROM t GROUP BY a",                           # star: left alone
    "SELECT b, max(c) FROM t GROUP BY a WITH ROLLUP",
    "SELECT b, max(c) OVER () FROM t",                      # window functions: left alone
    "SELECT b, max(c) FROM nowhere GROUP BY a",             # unknown table
    "SELECT b, max(c FROM t GROUP BY a",                    # parse error: falls back
    "SELECT b, max(c) FROM t GROUP BY a; DELETE FROM t",    # never yields a second statement
    "SELECT max(c) FROM t WHERE b = (SELECT b FROM u GROUP BY a)",  # `b` here is an outer column
])
def test_rewrite_leaves_other_statements_unchanged(sql):
    assert emulate_bare_columns(sql, TABLES) == sql


def test_first_row_aggregate_orders_text_like_mysql():
    connection = sqlite3.connect(":memory:")
    register_first(connection)
    rows = [("x", "b", 2), ("y", "A", 9), ("z", None, 1), ("w", "a ", 0)]
    connection.execute("CREATE TABLE k (v, key1, key2)")
    connection.executemany("INSERT INTO k VALUES (?, ?, ?)", rows)
    assert connection.execute("SELECT lumos_first(v, key1, key2) FROM k").fetchone() == ("z",)  # NULL first
    assert connection.execute("SELECT lumos_first(v, key1, key2) FROM k WHERE key1 IS NOT NULL").fetchone() == ("w",)
    assert connection.execute("SELECT lumos_first(v) FROM k").fetchone() == ("x",)  # no key: first fed
