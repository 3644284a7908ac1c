"""lumos/SQL-v0 on the default SQLite back-end: episodes, observations, rewards."""

from __future__ import annotations

import dataclasses
import re

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import lumos_envs  # noqa: F401
from lumos_envs.envs.sql import SqlEnv
from lumos_envs.tasks.registry import load_tasks


def _env(**kwargs):
    return gym.make("lumos/SQL-v0", tasks="synthetic:sql_lookup?size=20", **kwargs)


def test_check_env_and_a_gold_episode():
    env = _env(reveal_gold=True)
    check_env(env.unwrapped)
    observation, info = env.reset(options={"task_index": 0})
    assert observation == info["task"]["question"] and info["backend"] == "sqlite" and info["db"] == "lumos_shop"
    for subgoal in info["gold"]["plan"]["subgoals"]:
        observation, reward, terminated, truncated, info = env.step("; ".join(subgoal["actions"]))
        assert not info["invalid_action"], observation
    observation, reward, terminated, truncated, info = env.step(f"Answer({info['gold']['plan']['answer']})")
    assert terminated and reward == 1.0 and info["success"] and info["metrics"]["iou"] == 1.0
    env.close()


def test_wrong_answer_scores_below_one_and_query_answers_score():
    env = _env()
    env.reset(options={"task_index": 0})
    *_, info = env.step("R1 = SELECT name FROM customers WHERE id < 0")
    _, reward, terminated, _, info = env.step("Answer(R1)")
    assert terminated and reward < 1.0 and not info["success"]
    env.reset(options={"task_id": "sql_lookup-0-1"})
    gold = env.unwrapped.task.metadata["gold_sql"]
    observation, *_ = env.step(f"R1 = {gold}")
    _, reward, *_ = env.step("Answer(R1)")
    assert reward == 1.0
    env.close()


def test_observations_show_a_row_limit_and_count():
    env = _env(max_rows_shown=5)
    env.reset(seed=0)
    observation, *_ = env.step("R1 = SELECT id FROM orders ORDER BY id")
    assert observation.startswith("R1 = [(1,), (2,)") and "(200 rows, first 5 shown)" in observation
    observation, *_ = env.step("R2 = SELECT * FROM nope")
    assert "no such table" in observation
    env.close()


def _answer(env, task_index, *actions):
    env.reset(options={"task_index": task_index})
    for action in actions:
        observation, *_, info = env.step(action)
        assert not info["invalid_action"], observation
    _, reward, terminated, _, info = env.step("Answer(R1)" if actions else "Answer(42)")
    assert terminated
    return reward, info["metrics"]


REVERSED_TOP_2 = "R1 = SELECT name FROM (SELECT name, price FROM products ORDER BY price DESC, name LIMIT 2) AS t ORDER BY price, name DESC"
CITIES_DESC = "R1 = SELECT city, count(*) FROM customers GROUP BY city ORDER BY city DESC"


def _index_of_gold(tasks, gold_ending):
    """The first task whose gold SQL ends so (found, not hard-coded: items depend on the seeding)."""
    return next(i for i in range(len(tasks)) if tasks[i].metadata["gold_sql"].endswith(gold_ending))


def test_intercode_reward_counts_order_on_every_query_lumos_only_under_order_by():
    tasks = load_tasks("synthetic:sql_aggregate?size=40")
    cities, top_2 = _index_of_gold(tasks, "GROUP BY city"), _index_of_gold(tasks, "LIMIT 2")  # no ORDER BY; top-2 by price
    intercode = SqlEnv(tasks, reward="intercode")
    reward, metrics = _answer(intercode, top_2, REVERSED_TOP_2)
    assert reward == -1.0 and metrics["iou"] == 1.0 and metrics["reward_lumos"] == 0.0  # 2 rows swapped: tau -1
    reward, metrics = _answer(intercode, cities, CITIES_DESC)  # 8 cities, every pair discordant
    assert reward == -1.0 and metrics["reward_intercode"] == -1.0 and metrics["reward_lumos"] == 1.0
    lumos = SqlEnv(tasks, reward="lumos")
    assert _answer(lumos, cities, CITIES_DESC)[0] == 1.0  # no ORDER BY in the gold: order is not asked for
    assert _answer(lumos, top_2, REVERSED_TOP_2)[0] == 0.0  # tau -1, clamped
    intercode.close()
    lumos.close()


def test_auto_reward_is_intercode_on_spider_tasks():
    tasks = load_tasks("synthetic:sql_aggregate?size=40")
    spider_like = [dataclasses.replace(tasks[i], source="spider") for i in range(len(tasks))]
    env = SqlEnv(spider_like)
    assert env.reward == "auto" and env.reward_for(spider_like[0]) == "intercode"
    assert _answer(env, _index_of_gold(tasks, "GROUP BY city"), CITIES_DESC)[0] == -1.0
    assert SqlEnv(tasks).reward_for(tasks[0]) == "lumos"
    with pytest.raises(ValueError, match="reward must be one of auto, intercode, lumos"):
        SqlEnv(tasks, reward="exact")
    env.close()


def test_literal_answers_score_zero_unless_allowed():
    tasks = load_tasks("synthetic:sql_lookup?size=20")
    index = next(i for i in range(len(tasks)) if tasks[i].metadata["gold_sql"].startswith("SELECT count(*)"))
    env = SqlEnv(tasks)
    env.reset(options={"task_index": index})
    *_, info = env.step("R1 = " + tasks[index].metadata["gold_sql"])
    count = re.fullmatch(r"\[\((\d+),\)\] \(1 row\)", info["results"]["R1"]).group(1)  # '[(17,)] (1 row)' -> '17'
    _, reward, terminated, _, info = env.step(f"Answer({count})")  # the right number, typed in
    assert terminated and reward == 0.0 and info["metrics"]["literal_answer"] == 1.0
    env.reset(options={"task_index": index})
    env.step("R1 = " + tasks[index].metadata["gold_sql"])
    assert env.step("Answer(R1)")[1] == 1.0  # the query result itself
    allowed = SqlEnv(tasks, literal_answers=True)
    allowed.reset(options={"task_index": index})
    assert allowed.step(f"Answer({count})")[1] == 1.0  # read as the one-value row ({count},)
    env.close()
    allowed.close()


@pytest.mark.parametrize("statement", [
    "SELECT REPLACE(name, 'a', 'b') FROM customers",
    "SELECT name AS `set`, age AS do FROM customers",
    "EXPLAIN SELECT name FROM customers WHERE id = 3",
    "SHOW FIELDS FROM orders",
])
def test_statements_the_word_list_refused_now_run(statement):
    env = _env()
    env.reset(seed=0)
    observation, *_, info = env.step("R1 = " + statement)
    assert not info["invalid_action"], observation
    env.close()
