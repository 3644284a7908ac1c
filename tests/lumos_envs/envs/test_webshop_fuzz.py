"""Hostile actions through lumos/WebShop-v0's step(): no exception, bounded time, page escaped."""

from __future__ import annotations

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from tests.lumos_envs.envs.fuzzing import SOAK_EXAMPLES, fuzz_env, hostile_actions, quick_examples

PAYLOADS = [
    "<script>alert(1)</script>", "buy now", "Buy Now", "< prev", "next >", "back to search", "description",
    "R1", "R99", "[R1, R2]", "Item_names: R1, Item_features: [R3], Query: x", "\x00", "😀" * 50, "x" * 5000,
    "'unbalanced", "(((", "]]]", "javascript:alert(1)", "../../etc/passwd", "%00", "b000000000",
]
ACTIONS = hostile_actions(PAYLOADS, "()[]<>'\";,=R0123456789 abcnowprevbuy",
                          tools=["Search", "Click", "FeatureRetrieve", "Pick", "search", "click", "Answer", "Nope"],
                          outputs=["", "R1 = ", "R2 = "], brackets=True)


def _without_embedding_tools(action: str) -> str:
    """FeatureRetrieve and Pick run the embedding model: their argument handling is fuzzed elsewhere."""
    return action.replace("FeatureRetrieve", "Nope").replace("Pick", "Nope")


def _page_escaped(env, action, observation, info) -> None:
    assert "<script>" not in env.unwrapped.frontend.html()


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/WebShop-v0", max_steps=1_000_000)
    fuzz_env(env, ACTIONS, max_examples, check=_page_escaped, rewrite=_without_embedding_tools)


def test_hostile_actions_bounded_profile():
    _fuzz(quick_examples(300))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(SOAK_EXAMPLES)
