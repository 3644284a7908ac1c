"""Hostile actions through lumos/Multimodal-v0's step(): no exception, bounded time, nothing executed.

Uses the oracle back-end so the bounded profile never trains the learned model; the VQA, QA and
Calculator argument handling is the same for every back-end. `make soak` runs the long profile.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lumos_envs  # noqa: F401

CANARY = Path("/tmp/lumos-mm-fuzz-canary")
TOOLS = ["VQA", "QA", "Calculator", "Answer", "Nope", "vqa"]
PAYLOADS = [
    f"__import__('os').system('touch {CANARY}')", f"open('{CANARY}', 'w').write('x')", "exec('1')", "eval('1')",
    "[IMG]", "image", "IMG, Question: How many objects are there?", "[IMG], Question: What color is the " + "red " * 500,
    "[IMG], Question: " + "x" * 5000, "R1, R2", "[R1], Question: What is this object used for?", "../../etc/passwd",
    "image, Question: Is the red circle left of the red circle?", "image, Question: How many", "Context: , Query: ",
    "9**9**9", "(" * 300, "\x00", "𝟙𝟚𝟛", "image, Question: What is the label of the?",
]
_segment = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=60),
                     st.text(alphabet="()[]{}'\";,=+-*/R0123456789 .:IMGQuestion", max_size=80))
_action = st.builds(lambda out, tool, args: f"{out}{tool}({args})",
                    st.sampled_from(["", "R1 = ", "R2, R3 = ", "Output = "]), st.sampled_from(TOOLS), _segment)
hostile_actions = st.one_of(_action, st.lists(_action, min_size=2, max_size=4).map("; ".join), _segment)


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=3", vqa_backend="oracle", max_steps=1_000_000)
    env.reset(seed=0)
    env.step("R1 = VQA([IMG], Question: What objects are shown?)")

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hostile_actions)
    def run(action: str) -> None:
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(observation)
        assert time.monotonic() - start < 10, f"step took too long on {action[:80]!r}"
        if terminated or truncated:
            env.reset(seed=0)
            env.step("R1 = VQA([IMG], Question: What objects are shown?)")

    run()
    env.close()
    assert not CANARY.exists(), "a hostile action executed code"


def test_hostile_actions_bounded_profile():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES_QUICK", "500")))


@pytest.mark.soak
def test_hostile_actions_soak():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000")))
