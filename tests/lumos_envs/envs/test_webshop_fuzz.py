"""Hostile actions through lumos/WebShop-v0's step(): no exception, bounded time, page escaped.

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

TOOLS = ["Search", "Click", "FeatureRetrieve", "Pick", "search", "click", "Answer", "Nope"]
PAYLOADS = [
    "<script>alert(1)</script>", "buy now", "Buy Now", "< prev", "next >", "back to search", "description",
    "R1", "R99", "[R1, R2]", "Item_names: R1, Item_features: [R3], Query: x", "\x00", "😀" * 50, "x" * 5000,
    "'unbalanced", "(((", "]]]", "javascript:alert(1)", "../../etc/passwd", "%00", "b000000000",
]
_segment = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=60))
_action = st.builds(lambda out, tool, arg, bracket: f"{out}{tool}[{arg}]" if bracket else f"{out}{tool}({arg})",
                    st.sampled_from(["", "R1 = ", "R2 = "]), st.sampled_from(TOOLS), _segment, st.booleans())
hostile = st.one_of(_action, st.lists(_action, min_size=2, max_size=4).map("; ".join), _segment)


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/WebShop-v0", max_steps=1_000_000)
    env.reset(seed=0)

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hostile)
    def run(action: str) -> None:
        if "FeatureRetrieve" in action or "Pick" in action:
            action = action.replace("FeatureRetrieve", "Nope").replace("Pick", "Nope")  # embedding cost: covered elsewhere
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert isinstance(observation, str) and env.observation_space.contains(observation)
        assert "<script>" not in env.unwrapped.frontend.html()
        assert time.monotonic() - start < 10
        if terminated or truncated:
            env.reset(seed=0)

    run()
    env.close()


def test_hostile_actions_bounded_profile():
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES_QUICK", "300")))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000")))
