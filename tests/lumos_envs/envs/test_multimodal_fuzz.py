"""Hostile actions through lumos/Multimodal-v0's step(): no exception, bounded time, nothing executed.

Uses the oracle back-end so the bounded profile never trains the learned model; the VQA, QA and
Calculator argument handling is the same for every back-end.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from tests.lumos_envs.envs.fuzzing import SOAK_EXAMPLES, canary_payloads, fuzz_env, hostile_actions, quick_examples

CANARY = Path("/tmp/lumos-mm-fuzz-canary")
PAYLOADS = [
    *canary_payloads(CANARY),
    "[IMG]", "image", "IMG, Question: How many objects are there?", "[IMG], Question: What color is the " + "red " * 500,
    "[IMG], Question: " + "x" * 5000, "R1, R2", "[R1], Question: What is this object used for?", "../../etc/passwd",
    "image, Question: Is the red circle left of the red circle?", "image, Question: How many", "Context: , Query: ",
    "9**9**9", "(" * 300, "\x00", "𝟙𝟚𝟛", "image, Question: What is the label of the?",
]
ACTIONS = hostile_actions(PAYLOADS, "()[]{}'\";,=+-*/R0123456789 .:IMGQuestion",
                          tools=["VQA", "QA", "Calculator", "Answer", "Nope", "vqa"])


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=3", vqa_backend="oracle", max_steps=1_000_000)
    fuzz_env(env, ACTIONS, max_examples, setup="R1 = VQA([IMG], Question: What objects are shown?)", canary=CANARY)


def test_hostile_actions_bounded_profile():
    _fuzz(quick_examples(500))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(SOAK_EXAMPLES)
