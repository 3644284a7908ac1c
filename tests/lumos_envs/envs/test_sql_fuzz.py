"""Hostile actions through lumos/SQL-v0's step(): no exception, bounded time, database unchanged.

`make test` runs a bounded profile; `make soak` runs the soak test with LUMOS_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import os
import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumos_envs  # noqa: F401

PAYLOADS = [
    "SELECT * FROM products", "SHOW TABLES", "DESCRIBE orders", "DELETE FROM products", "DROP TABLE orders",
    "UPDATE products SET price = 0", "ATTACH ':memory:' AS x", "PRAGMA writable_schema=1", "SELECT SLEEP(9)",
    "SELECT load_extension('x')", "SELECT randomblob(1000000000)", "SELECT 1 INTO OUTFILE '/tmp/x'",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
    "SELECT count(*) FROM orders a, orders b, orders c", "SELECT \"unterminated", "SELECT 'a''b'", "'; DROP TABLE x; --",
    "SELECT * FROM R1", "Answer(R9)", "Answer()", "SELECT " + "(" * 300 + "1" + ")" * 300, "\x00", "𝟙 SELECT",
]

_segment = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=60),
                     st.text(alphabet="()'\";,=*-/`RSELCTFOMW 0123456789", max_size=80))
hostile = st.one_of(
    st.builds(lambda out, body: f"{out}{body}", st.sampled_from(["", "R1 = ", "R2, R3 = ", "Output = "]), _segment),
    st.lists(_segment, min_size=2, max_size=4).map("; ".join),
)


def _env() -> gym.Env:
    return gym.make("lumos/SQL-v0", tasks="synthetic:sql_lookup?size=5", tool_timeout_s=0.3, max_steps=1_000_000)


def _fuzz(max_examples: int) -> None:
    env = _env()
    env.reset(seed=0)

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(hostile)
    def run(action: str) -> None:
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert isinstance(observation, str) and time.monotonic() - start < 10
        if terminated or truncated:
            env.reset(seed=0)

    run()
    env.reset(seed=0)
    observation, *_ = env.step("R1 = SELECT count(*) FROM products; R2 = SELECT count(*) FROM orders")
    assert observation == "R1 = [(20,)] (1 row); R2 = [(200,)] (1 row)"
    env.close()


def test_hostile_actions_bounded_profile():
    _fuzz(150)


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000")))
