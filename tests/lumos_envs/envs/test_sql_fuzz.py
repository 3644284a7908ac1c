"""Hostile actions through lumos/SQL-v0's step(): no exception, bounded time, database unchanged."""

from __future__ import annotations

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from tests.lumos_envs.envs.fuzzing import SOAK_EXAMPLES, fuzz_env, hostile_actions, quick_examples

TASKS = "synthetic:sql_lookup?size=5"
PAYLOADS = [
    "SELECT * FROM products", "SHOW TABLES", "DESCRIBE orders", "DELETE FROM products", "DROP TABLE orders",
    "UPDATE products SET price = 0", "ATTACH ':memory:' AS x", "PRAGMA writable_schema=1", "SELECT SLEEP(9)",
    "SELECT load_extension('x')", "SELECT randomblob(1000000000)", "SELECT 1 INTO OUTFILE '/tmp/x'",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
    "SELECT count(*) FROM orders a, orders b, orders c", "SELECT \"unterminated", "SELECT 'a''b'", "'; DROP TABLE x; --",
    "SELECT * FROM R1", "Answer(R9)", "Answer()", "SELECT " + "(" * 300 + "1" + ")" * 300, "\x00", "𝟙 SELECT",
]
ACTIONS = hostile_actions(PAYLOADS, "()'\";,=*-/`RSELCTFOMW 0123456789")


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/SQL-v0", tasks=TASKS, tool_timeout_s=0.3, max_steps=1_000_000)
    fuzz_env(env, ACTIONS, max_examples, derandomize=True)
    env = gym.make("lumos/SQL-v0", tasks=TASKS)  # the same cached database, opened afresh
    env.reset(seed=0)
    observation, *_ = env.step("R1 = SELECT count(*) FROM products; R2 = SELECT count(*) FROM orders")
    assert observation == "R1 = [(20,)] (1 row); R2 = [(200,)] (1 row)"
    env.close()


def test_hostile_actions_bounded_profile():
    _fuzz(quick_examples(150))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(SOAK_EXAMPLES)
