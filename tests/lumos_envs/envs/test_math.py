"""lumos/Math-v0: steps, info keys, the Answer action, rewards, truncation, gold, vector envs."""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from lumos_envs.domains import Domain
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task

COMMON_INFO_KEYS = {"task", "tools", "final_action", "results", "last_result", "variables", "invalid_action", "last_error", "step"}


def _task(question="Soda costs 2 dollars minus a 0.5 coupon; an ounce costs 0.25. How many ounces?", answer="6") -> Task:
    plan = GoldPlan(
        (GoldSubgoal("Calculate how much the soda costs in total.", ("R1 = Calculator(2 - 0.5)",)),
         GoldSubgoal("Calculate the ounces of soda.", ("R2 = Calculator(R1 / 0.25)",))),
        answer="R2",
    )
    return Task(id="t-1", domain=Domain.MATH, source="test", split="test", question=question, answer=answer, plan=plan)


@pytest.fixture
def env():
    env = gym.make("lumos/Math-v0", tasks=[_task()], max_steps=5)
    yield env
    env.close()


def test_episode_with_lumos_actions_and_answer(env):
    observation, info = env.reset(seed=0)
    assert observation == _task().question
    assert COMMON_INFO_KEYS <= set(info) and "gold" not in info
    assert info["task"] == {"id": "t-1", "domain": "math", "split": "test", "question": _task().question}
    assert info["final_action"] == "Answer"
    assert [t["name"] for t in info["tools"]] == ["Calculator", "SetEquation", "SolveEquation", "Count", "SolveInequality", "Code", "Define"]
    assert info["tools"][0]["interface"] == "Calculator(formula): Calculate the input formula"

    observation, reward, terminated, truncated, info = env.step("R1 = Calculator(2 - 0.5)")
    assert (observation, reward, terminated, truncated) == ("R1 = 1.5", 0.0, False, False)
    assert info["results"] == {"R1": "1.5"} and info["last_result"] == "1.5" and info["step"] == 1

    observation, reward, terminated, truncated, info = env.step("R2 = Calculator(R1 / 0.25); Answer(R2)")
    assert terminated and not truncated and reward == 1.0
    assert info["success"] is True and info["metrics"]["correct"] == 1.0 and info["answer"] == "6"
    assert info["variables"] == {"R1": "1.5", "R2": "6"}


def test_wrong_answer_scores_zero_and_invalid_actions_cost_a_step(env):
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step("R1 = Calculator(2 +)")
    assert info["invalid_action"] and info["last_error"] and not terminated and reward == 0.0
    _, reward, terminated, _, info = env.step("Answer(7)")
    assert terminated and reward == 0.0 and info["success"] is False


def test_truncation_at_max_steps(env):
    env.reset(seed=0)
    for step in range(1, 6):
        _, reward, terminated, truncated, info = env.step(f"R{step} = Calculator({step} + 1)")
    assert truncated and not terminated and reward == 0.0 and info["success"] is False
    observation, _, _, _, info = env.step("R9 = Calculator(1)")
    assert "episode is over" in observation and info["invalid_action"]


def test_gold_only_with_reveal_gold():
    env = gym.make("lumos/Math-v0", tasks=[_task()], reveal_gold=True)
    _, info = env.reset(seed=0)
    assert info["gold"]["answer"] == "6" and info["gold"]["plan"]["answer"] == "R2"
    env.close()


def test_reset_options_pick_tasks():
    tasks = [_task(), Task(id="t-2", domain="math", source="test", split="test", question="2+2?", answer="4")]
    env = gym.make("lumos/Math-v0", tasks=tasks)
    assert env.reset(options={"task_id": "t-2"})[1]["task"]["id"] == "t-2"
    assert env.reset(options={"task_index": 0})[1]["task"]["id"] == "t-1"
    with pytest.raises(KeyError):
        env.reset(options={"task_id": "missing"})
    env.close()


def test_runaway_calculation_is_stopped_and_env_keeps_working():
    env = gym.make("lumos/Math-v0", tasks=[_task()], tool_timeout_s=1.0)
    env.reset(seed=0)
    start = time.monotonic()
    observation, _, _, _, info = env.step("R1 = Calculator(9**9**9**9)")
    assert time.monotonic() - start < 15
    assert info["invalid_action"] and ("timed out" in observation or "too large" in observation or "Error" in observation)
    observation, _, _, _, info = env.step("R2 = Calculator(2 + 2)")
    assert observation == "R2 = 4" and not info["invalid_action"]
    env.close()


def test_code_is_a_clear_unsupported_error(env):
    env.reset(seed=0)
    observation, _, _, _, info = env.step("R1 = Code(If 3 > 0, 3, -3)")
    assert info["invalid_action"] and "not supported" in observation


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec(mode):
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    envs = gym.make_vec("lumos/Math-v0", num_envs=2, vectorization_mode=mode, tasks=[_task()], **kwargs)
    observations, infos = envs.reset(seed=3)
    assert list(observations) == [_task().question] * 2
    observations, rewards, terminated, truncated, infos = envs.step(["R1 = Calculator(2 - 0.5)", "R1 = Calculator(3 * 4)"])
    assert list(observations) == ["R1 = 1.5", "R1 = 12"]
    envs.close()


def test_bounded_tool_is_killed_inside_async_vector_env_workers():
    envs = gym.make_vec(
        "lumos/Math-v0", num_envs=2, vectorization_mode="async", vector_kwargs={"shared_memory": False},
        tasks=[_task()], tool_timeout_s=1.0,
    )
    envs.reset(seed=0)
    start = time.monotonic()
    observations, *_ = envs.step(["R1 = SolveEquation(x**2 = 2)", "R1 = Calculator(9**9**9**9)"])
    assert time.monotonic() - start < 20
    assert "Error" in observations[1] or "timed out" in observations[1]
    observations, *_ = envs.step(["R2 = Calculator(1 + 1)", "R2 = Calculator(2 + 2)"])
    assert list(observations) == ["R2 = 2", "R2 = 4"]
    envs.close()
