"""Every registered lumos env passes Gymnasium's checker and is deterministic for a seed."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import lumos_envs  # noqa: F401
from lumos_envs.registration import LUMOS_ENVS

ENV_IDS = sorted(LUMOS_ENVS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_with_no_arguments(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


def _rollout(env_id: str, seed: int) -> list:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    observation, info = env.reset(seed=seed)
    trace = [observation, info["task"]["id"]]
    for _ in range(3):
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace.append((observation, reward, terminated, truncated, info["invalid_action"]))
        if terminated or truncated:
            break
    gold_free = "gold" not in info
    env.close()
    return trace + [gold_free]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_rollouts_repeat_exactly(env_id):
    assert data_equivalence(_rollout(env_id, 7), _rollout(env_id, 7))
    first_tasks = {_rollout(env_id, seed)[1] for seed in range(6)}
    assert len(first_tasks) > 1, "different seeds should reach different tasks"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_ids_are_lumos_namespaced_and_documented(env_id):
    assert env_id.startswith("lumos/") and env_id.endswith("-v0")
    env = gym.make(env_id)
    doc = type(env.unwrapped).__doc__ or ""
    for heading in ("## Description", "## Action Space", "## Observation Space", "## Rewards", "## Episode End", "## Info"):
        assert heading in doc, f"{env_id} docstring lacks {heading}"
    env.close()
