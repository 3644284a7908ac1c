"""lumos/WebShop-v0 in text mode: gold replay, Answer semantics, LUMOS tools, errors."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import lumos_envs  # noqa: F401
from rollouts.replay import replay_gold


def test_check_env_text_mode_all_formats():
    for fmt in ("text", "text_rich", "html"):
        env = gym.make("lumos/WebShop-v0", observation_format=fmt)
        check_env(env.unwrapped)
        env.close()


def test_observer_gold_replay_at_least_95_percent():
    # gold plans choose by the instruction and the pages, never by the hidden target (issue 20);
    # measured 120/120, 59/60, 40/40: the miss is the observer's browsing budget running out
    for spec in ("synthetic:shop_synthetic?size=120&seed=5", "synthetic:shop_human?size=60", "synthetic:shop_heldout?size=40"):
        result = replay_gold("lumos/WebShop-v0", spec)
        assert result.success_rate >= 0.95, result.to_dict()


def test_answer_buys_open_item_or_scores_zero():
    env = gym.make("lumos/WebShop-v0", reveal_gold=True)
    observation, info = env.reset(options={"task_index": 3})
    observation, reward, terminated, truncated, info = env.step("Answer(nothing open)")
    assert terminated and reward == 0.0 and info["purchased"] is None and info["metrics"]["reward"] == 0.0
    observation, info = env.reset(options={"task_index": 3})
    *browse, buy = info["gold"]["plan"]["subgoals"]
    for subgoal in browse:
        observation, reward, terminated, truncated, info = env.step("; ".join(subgoal["actions"]))
    opened = env.unwrapped.frontend.state.asin
    for action in buy["actions"][:-1]:
        env.step(action)
    env.step("click[description]")
    observation, reward, terminated, truncated, info = env.step("Answer(R2)")
    assert terminated and reward == 1.0 and info["purchased"]["asin"] == opened
    assert "Thank you for shopping with us!" in observation
    env.close()


def test_webshop_bracket_actions_and_errors():
    env = gym.make("lumos/WebShop-v0")
    observation, info = env.reset(options={"task_index": 0})
    assert info["available_actions"] == {"has_search_bar": True, "clickables": []}
    observation, reward, terminated, truncated, info = env.step("click[buy now]")
    assert info["invalid_action"] and "not clickable" in info["last_error"] and observation.endswith("Search")
    observation, reward, terminated, truncated, info = env.step("search[" + info["task"]["question"] + "]")
    assert not info["invalid_action"] and info["page"] == "results" and "Page 1 (Total results: 50)" in observation
    first = info["available_actions"]["clickables"][2]
    observation, reward, terminated, truncated, info = env.step(f"click[{first}]")
    assert info["page"] == "item" and "buy now" in info["available_actions"]["clickables"]
    observation, reward, terminated, truncated, info = env.step("click[Buy Now]")
    assert terminated and 0.0 <= reward <= 1.0 and set(info["metrics"]) >= {"r_type", "r_attribute", "r_option", "r_price"}
    observation, reward, terminated, truncated, info = env.step("click[back to search]")
    assert terminated and info["invalid_action"]
    env.close()


@pytest.mark.slow
def test_lumos_feature_retrieve_and_pick_follow_the_demonstration():
    env = gym.make("lumos/WebShop-v0")
    observation, info = env.reset(options={"task_index": 1})
    query = info["task"]["question"]
    observation, reward, terminated, truncated, info = env.step(f"R1 = Search({query})")
    names = info["results"]["R1"]
    first, second = [part.split(" - ")[0] for part in names.split(" ** ")]
    line = (f"R2 = Click({first}); R3 = FeatureRetrieve(R2, Query: {query}); R4 = Click(< prev); "
            f"R5 = Click({second}); R6 = FeatureRetrieve(R5, Query: {query}); "
            f"R7 = Pick(Item_names: R1, Item_features: [R3, R6], Query: {query}); R8 = Click(< prev); R9 = Click(R7)")
    observation, reward, terminated, truncated, info = env.step(line)
    assert not info["invalid_action"], info["last_error"]
    assert len(info["results"]["R3"].split(", ")) <= 3 and info["results"]["R7"] in (first, second)
    assert info["page"] == "item"
    env.close()
