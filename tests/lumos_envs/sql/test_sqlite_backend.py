"""The dump converter and the SQLite back-end: schema, MySQL semantics, and the safety layers."""

from __future__ import annotations

import time

import pytest

from lumos_envs.execution.errors import ToolError, ToolTimeout
from lumos_envs.sql.catalog import DumpSource, file_dump_spec
from lumos_envs.sql.collation import mysql_collation
from lumos_envs.sql.dump import parse_dump
from lumos_envs.sql.sqlite_backend import sqlite_catalog, to_sqlite_sql
from lumos_envs.sql.statements import StatementRefused, check_statement


@pytest.fixture(scope="module")
def catalog(fixtures_dir):
    return sqlite_catalog(DumpSource(file_dump_spec(fixtures_dir / "intercode_sql" / "ic_spider_dbs.sql")))


def test_dump_parser_keeps_tables_rows_and_no_accounts(fixtures_dir):
    dump = DumpSource(file_dump_spec(fixtures_dir / "intercode_sql" / "ic_spider_dbs.sql")).parse()
    assert len(dump.databases) >= 10
    for database in dump.databases.values():
        assert database.tables
        for table in database.tables:
            assert table.columns
            assert all(len(row) == len(table.columns) for row in database.rows[table.name])
        assert not any("GRANT" in s.upper()[:10] or "CREATE USER" in s.upper()[:20] for s in database.statements)


def test_dump_literals_escapes_and_column_lists():
    dump = parse_dump(
        "CREATE DATABASE `d`; USE `d`; CREATE TABLE `t` (`a` int NOT NULL, `b` varchar(9) DEFAULT 'x', PRIMARY KEY (`a`));"
        "INSERT INTO `t` VALUES (1,'it\\'s; fine'),(-2,NULL); INSERT INTO `t` (`b`, `a`) VALUES ('y', 3);"
    )
    table = dump.databases["d"].table("T")
    assert table.primary_key == ("a",) and table.columns[1].default == "x"
    assert dump.databases["d"].rows["t"] == [(1, "it's; fine"), (-2, None), (3, "y")]


def test_mysql_text_comparison_and_double_quoted_strings(catalog):
    assert mysql_collation("Kabul  ", "kabul") == 0 and mysql_collation("é", "E") == 0
    db = catalog.connect("world_1")
    assert db.run('SELECT Name FROM city WHERE Name = "KABUL  "').rows == (("Kabul",),)
    assert to_sqlite_sql('SELECT "a\\"b", \'c\'\'d\'') == "SELECT 'a\"b', 'c''d'"
    assert db.run('SELECT "Name" FROM city LIMIT 1').rows == (("Name",),)  # a string, not the column


def test_show_tables_and_describe_are_emulated(catalog):
    db = catalog.connect("world_1")
    assert ("city",) in db.run("SHOW TABLES").rows
    describe = db.run("DESCRIBE city").rows
    assert describe[0][:4] == ("ID", "int(11)", "NO", "PRI")
    assert db.run("DESC `city`").rows == describe == db.run("SHOW COLUMNS FROM city").rows
    with pytest.raises(ToolError, match="doesn't exist"):
        db.run("DESCRIBE nope")


@pytest.mark.parametrize("statement", [
    "DELETE FROM city", "INSERT INTO city VALUES (1)", "UPDATE city SET Name = 'x'", "DROP TABLE city",
    "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA table_info(city)", "SELECT SLEEP(5)", "SELECT BENCHMARK(1000000, 1)",
    "SELECT * FROM city INTO OUTFILE '/tmp/x'", "SELECT LOAD_FILE('/etc/passwd')", "SELECT 1; DELETE FROM city",
    "SET SESSION max_statement_time = 0", "'unterminated",
    # refused on the parse tree, wherever the word sits
    "WITH a AS (SELECT 1) DELETE FROM city", "EXPLAIN DELETE FROM city", "EXPLAIN ANALYZE SELECT 1",
    "SELECT Name INTO @x FROM city LIMIT 1", "SELECT * FROM city FOR UPDATE", "SELECT * FROM city LOCK IN SHARE MODE",
    "SELECT Name FROM city WHERE ID IN (SELECT SLEEP(1))", "SELECT 1 /*! INTO OUTFILE '/tmp/x' */",
    "REPLACE INTO city VALUES (1)", "DO SLEEP(1)", "SHOW GRANTS", "SHOW TABLES FROM mysql", "DESCRIBE mysql.user",
    "SELECT " + "(" * 300 + "1" + ")" * 300, "SELECT * FROM",
])
def test_statement_check_refuses(statement):
    with pytest.raises(StatementRefused):
        check_statement(statement)


@pytest.mark.parametrize("statement, kind", [
    ("SELECT REPLACE(Name, 'a', 'b') FROM city", "select"),
    ("SELECT `set`, do FROM t", "select"), ("SELECT set, do FROM t", "select"),
    ("SELECT sleep, `into` FROM t", "select"),  # names of columns, not calls or clauses
    ("WITH c AS (SELECT Name FROM city) SELECT * FROM c", "select"),
    ("(SELECT 1) UNION (SELECT 2)", "select"), ("SELECT 'DELETE; DROP'", "select"),
    ("SHOW TABLES;", "show_tables"), ("DESC `city`", "describe"), ("EXPLAIN city", "describe"),
    ("SHOW FIELDS FROM city", "describe"), ("EXPLAIN SELECT Name FROM city", "explain"),
])
def test_statement_check_accepts_read_only_statements(statement, kind):
    assert check_statement(statement).kind == kind


def test_every_accepted_form_runs_on_sqlite(catalog):
    db = catalog.connect("world_1")
    assert db.run("SELECT REPLACE(Name, 'a', 'b') FROM city WHERE Name = 'Kabul'").rows == (("Kbbul",),)
    assert db.run("SELECT Name AS `set`, ID AS do FROM city WHERE ID = 1").rows == (("Kabul", 1),)
    assert db.run("SHOW FIELDS FROM city").rows == db.run("EXPLAIN city").rows
    assert "city" in db.run("EXPLAIN SELECT Name FROM city WHERE ID = 1").rows[0][-1]


@pytest.mark.parametrize("sql", ["DELETE FROM city", "PRAGMA writable_schema = ON", "ATTACH DATABASE ':memory:' AS x",
                                 "CREATE TABLE x (a)", "SELECT load_extension('x')"])
def test_engine_layer_refuses_writes_without_the_statement_check(catalog, sql):
    db = catalog.connect("world_1")
    with pytest.raises(ToolError):
        db.query(sql)
    assert db.run("SELECT count(*) FROM city").rows == ((4079,),)


@pytest.mark.parametrize("sql", [
    "SELECT length(randomblob(1000000000))",
    "SELECT length(group_concat(a.Name || b.Name)) FROM city a, city b",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT count(*) FROM city a, city b, city c",
])
def test_runaway_queries_stop_cleanly(catalog, sql):
    db = catalog.connect("world_1", timeout_s=0.5)
    start = time.monotonic()
    with pytest.raises(ToolError):
        db.run(sql)
    assert time.monotonic() - start < 10
    assert db.run("SELECT count(*) FROM city").rows == ((4079,),)


def test_time_limit_raises_timeout(catalog):
    db = catalog.connect("world_1", timeout_s=0.3)
    with pytest.raises(ToolTimeout):
        db.run("SELECT count(*) FROM city a, city b, city c")


def test_endless_recursive_rows_are_capped(catalog):
    result = catalog.connect("world_1").run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c")
    assert result.truncated and len(result.rows) == 10_000


def test_division_is_mysql_exact_division(catalog):
    db = catalog.connect("world_1")
    assert db.run("SELECT 5/2, 6/3, 1/0, 7 / 2 / 2, 10 - 9 / 4 * 2, -7/2").rows == ((2.5, 2, None, 1.75, 5.5, -3.5),)
    assert db.run("SELECT '5/2', \"a/b\"").rows == (("5/2", "a/b"),)  # inside strings `/` is text
    assert to_sqlite_sql("SELECT a /* x/y */ / 2").split() == ["SELECT", "a", "*", "1.0", "/", "2"]
