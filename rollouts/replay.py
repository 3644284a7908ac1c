"""Gold replay: execute every task's gold LUMOS plan through an env and count what fails, by cause.

This is how a user checks that a dataset and an env agree (`lumos replay-gold`). Unconvertible
items (no gold plan) count as failures under their `plan_error` cause.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import lumos_envs  # noqa: F401  (registers the lumos env ids)
from agents.oracle import GoldPlanAgent


@dataclass
class ReplayResult:
    """Outcome of a gold replay; `to_dict` is what `lumos replay-gold --json` prints."""

    env_id: str
    tasks: str | None
    episodes: int = 0
    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failed_tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def to_dict(self, max_failed_tasks: int = 50) -> dict[str, Any]:
        return {
            "env": self.env_id,
            "tasks": self.tasks,
            "episodes": self.episodes,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "failures": dict(self.failures.most_common()),
            "failed_tasks": self.failed_tasks[:max_failed_tasks],
        }


def replay_gold(env_id: str, tasks: str | None = None, limit: int | None = None, **env_kwargs: Any) -> ReplayResult:
    """Replay the gold plan of each task (the first `limit` ones) through `env_id`."""
    kwargs = dict(env_kwargs, reveal_gold=True)
    if tasks is not None:
        kwargs["tasks"] = tasks
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    result = ReplayResult(env_id=env_id, tasks=tasks)
    agent = GoldPlanAgent()
    try:
        num_tasks = len(env.unwrapped.tasks)
        for index in range(num_tasks if limit is None else min(limit, num_tasks)):
            observation, info = env.reset(options={"task_index": index})
            agent.reset(observation, info)
            cause, detail = _run_episode(env, agent, observation, info)
            result.episodes += 1
            if cause is None:
                result.successes += 1
            else:
                result.failures[cause] += 1
                result.failed_tasks.append({"task_id": info["task"]["id"], "cause": cause, "detail": detail})
    finally:
        env.close()
    return result


def _run_episode(env: gym.Env, agent: GoldPlanAgent, observation: str, info: dict[str, Any]) -> tuple[str | None, str]:
    """Returns (None, "") on success, else (cause, detail)."""
    gold = info["gold"]
    if gold["plan"] is None:
        return f"no_plan:{gold.get('plan_error') or 'unknown'}", ""
    first_error = None
    while True:
        (action,) = agent.act_batch([observation], [info])
        observation, reward, terminated, truncated, info = env.step(action)
        if info["invalid_action"] and first_error is None:
            first_error = f"{action} -> {info['last_error']}"
        if terminated or truncated:
            break
    if info.get("success"):
        return None, ""
    if first_error is not None:
        return "action_error", first_error
    if truncated:
        return "truncated", observation
    return "wrong_answer", f"answer {info.get('answer')!r}, gold {gold['answer']!r}"
