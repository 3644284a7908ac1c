"""lumos/SQL-v0 on the default SQLite back-end: episodes, observations, rewards."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

import lumos_envs  # noqa: F401


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


def test_wrong_answer_scores_below_one_and_text_answers_work():
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
