"""The MariaDB back-end on a real server: read-only account, per-statement time limit, gold
replay on both back-ends, and the SQLite-MariaDB agreement of gold results."""

from __future__ import annotations

import os
import stat
import time

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from lumos_envs.execution.errors import ToolError
from lumos_envs.sql.agreement import sql_agreement
from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.statements import StatementRefused
from lumos_envs.tasks.registry import load_tasks
from rollouts.replay import replay_gold

COUNT = "SELECT count(*) FROM products"


@pytest.fixture(scope="module")
def shop(mariadb_server):
    source = DumpSource("synthetic:lumos_shop")
    mariadb_server.ensure_loaded(source)
    database = mariadb_server.connect("lumos_shop", timeout_s=0.5)
    yield database
    database.close()


@pytest.mark.parametrize("sql", [
    "SELECT id / 3, price / id, id / 0 FROM products ORDER BY id",
    "SELECT sum(price) / count(*), 10 / 4 * 2, 7 / 2 / 2 FROM products",
    "SELECT category, count(*) / (SELECT count(*) FROM products) FROM products GROUP BY category ORDER BY category",
])
def test_division_agrees_with_sqlite(shop, sql):
    from lumos_envs.sql.sqlite_backend import sqlite_catalog

    lite = sqlite_catalog(DumpSource("synthetic:lumos_shop")).connect("lumos_shop")
    assert lite.run(sql).rows == shop.run(sql).rows


def test_credentials_are_private_and_loading_is_idempotent(mariadb_server, shop):
    mode = stat.S_IMODE(os.stat(mariadb_server.folder / "connection.json").st_mode)
    assert mode == 0o600
    assert mariadb_server.ensure_loaded(DumpSource("synthetic:lumos_shop")) == []
    assert shop.run("SHOW TABLES").rows == (("customers",), ("orders",), ("products",))
    assert shop.run("DESCRIBE products").rows[0][:4] == ("id", "int(11)", "NO", "PRI")


@pytest.mark.parametrize("sql", [
    "DELETE FROM products", "INSERT INTO products VALUES (99, 'x', 'y', 1)", "DROP TABLE products",
    "CREATE TABLE x (a int)", "SELECT * FROM products INTO OUTFILE '/tmp/lumos-outfile'",
    "GRANT ALL ON *.* TO 'lumos_ro'@'localhost'", "SELECT 1; DELETE FROM products",
])
def test_server_refuses_writes_even_without_the_statement_check(shop, sql):
    before = shop.run(COUNT).rows
    with pytest.raises(ToolError):
        shop.query(sql)
    assert shop.run(COUNT).rows == before
    assert not os.path.exists("/tmp/lumos-outfile")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM products INTO OUTFILE '/tmp/lumos-outfile'", "SELECT name INTO @x FROM products LIMIT 1",
    "SELECT 1 /*! INTO OUTFILE '/tmp/lumos-outfile' */", "SELECT * FROM products FOR UPDATE",
    "WITH a AS (SELECT 1) DELETE FROM products", "EXPLAIN DELETE FROM products", "SHOW GRANTS",
    "SELECT 1; DELETE FROM products", "REPLACE INTO products VALUES (1, 'x', 'y', 1)",
])
def test_statement_check_refuses_before_the_server(shop, sql):
    before = shop.run(COUNT).rows
    with pytest.raises(StatementRefused):
        shop.run(sql)
    assert shop.run(COUNT).rows == before
    assert not os.path.exists("/tmp/lumos-outfile")


def test_statements_a_word_list_refused_run_on_mariadb(shop):
    assert shop.run("SELECT REPLACE(name, 'e', 'E') FROM products WHERE id = 1").rows == (("kEttlE",),)
    assert shop.run("SELECT name AS `set`, id AS do FROM products WHERE id = 1").rows == (("kettle", 1),)
    assert shop.run("SHOW FIELDS FROM products").rows == shop.run("DESCRIBE products").rows
    assert shop.run("EXPLAIN SELECT name FROM products WHERE id = 1").rows


def test_load_file_reads_nothing_and_session_cannot_lift_the_limit(shop):
    assert shop.query("SELECT LOAD_FILE('/etc/passwd')").rows == ((None,),)
    shop.query("SET SESSION max_statement_time = 0")  # even if a SET got through ...
    start = time.monotonic()
    with pytest.raises(ToolError):  # ... the per-statement limit still stops SLEEP
        shop.query("SELECT SLEEP(5)")
    assert time.monotonic() - start < 4


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM orders a, orders b, orders c, orders d",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT BENCHMARK(100000000, MD5('x'))",
])
def test_runaway_queries_stop_within_the_limit(shop, sql):
    before = shop.run(COUNT).rows
    start = time.monotonic()
    try:
        shop.query(sql)  # MariaDB caps recursion at max_recursive_iterations: a result is fine too
    except ToolError:
        pass
    assert time.monotonic() - start < 10
    assert shop.run(COUNT).rows == before


def test_env_refuses_writes_as_observations(mariadb_server):
    env = gym.make("lumos/SQL-v0", backend="mariadb", mariadb_dir=str(mariadb_server.folder), tool_timeout_s=0.5)
    env.reset(seed=0)
    for action in ["R1 = DELETE FROM products", "R1 = ATTACH DATABASE 'x' AS y", "R1 = PRAGMA foo", "R1 = SELECT SLEEP(3)",
                   "R1 = SELECT 1 INTO OUTFILE '/tmp/x'", "R1 = SELECT LOAD_FILE('/etc/passwd')"]:
        observation, reward, terminated, truncated, info = env.step(action)
        assert info["invalid_action"] and not terminated and "not allowed" in observation
    observation, *_ = env.step("R1 = " + COUNT)
    assert "(20,)" in observation
    env.close()


def test_gold_replay_on_both_backends(mariadb_server, spider_spec):
    for backend in ("sqlite", "mariadb"):
        result = replay_gold("lumos/SQL-v0", spider_spec, backend=backend, mariadb_dir=str(mariadb_server.folder))
        assert result.episodes == 40
        assert result.success_rate == 1.0, (backend, result.to_dict())
    synthetic = replay_gold("lumos/SQL-v0", "synthetic:sql_heldout?size=15", backend="mariadb", mariadb_dir=str(mariadb_server.folder))
    assert synthetic.success_rate == 1.0, synthetic.to_dict()


def test_sqlite_and_mariadb_agree_on_gold_results(mariadb_server, spider_spec):
    report = sql_agreement(load_tasks(spider_spec), str(mariadb_server.folder), name=spider_spec)
    assert report.total == 40
    # bare columns are emulated; what may remain is a tie MariaDB itself breaks differently run to run
    assert report.agreement >= 0.95, report.to_dict()
    assert set(report.causes) <= {"mariadb_nondeterministic"}, report.to_dict()
    assert sum(report.causes.values()) == report.total - report.same
    synthetic = sql_agreement(load_tasks("synthetic:sql_train?size=20"), str(mariadb_server.folder))
    assert synthetic.agreement == 1.0, synthetic.to_dict()
