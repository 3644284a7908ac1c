"""Hostile actions through lumos/QA-v0's step(): no exception, bounded time, nothing executed, results capped."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from tests.lumos_envs.envs.fuzzing import SOAK_EXAMPLES, canary_payloads, fuzz_env, hostile_actions, quick_examples

CANARY = Path("/tmp/lumos-qa-fuzz-canary")
PAYLOADS = [
    *canary_payloads(CANARY),
    "R1, Query: who?", "[R2], Question: when?", "WikipediaPage(", "Paragraph(x-99999999999)", "Paragraph(Paragraph(",
    "WikipediaPage(" * 200, "Paragraph(a-1)" * 300, ")" * 100, "R1 < R2", "R99", "Query:", "Question: " * 50,
    "x" * 100_000, "\x00", "𝟙𝟚𝟛 or ⅷ?", "Which was first, A or B?", "[1843, 1850], Question: Who was born earlier, A or B?",
    "9**9**9**9", "Is it?", "Who?", ", , , ,", "[[[[]]]]",
]
ACTIONS = hostile_actions(PAYLOADS, "()[]{}'\";,=+-*/<>R0123456789 .:?PWQ",
                          tools=["KnowledgeQuery", "ParagraphRetrieve", "QA", "Calculator", "Code", "Answer", "Nope"],
                          outputs=["", "R1 = ", "R2, R3 = ", "R4 = "])


def _results_capped(env, action, observation, info) -> None:
    assert all(len(value) <= 2000 + 64 for value in info["results"].values())


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/QA-v0", max_steps=1_000_000)
    fuzz_env(env, ACTIONS, max_examples, setup="R1 = KnowledgeQuery(The); R2 = ParagraphRetrieve(R1, Query: who?)",
             check=_results_capped, canary=CANARY)


def test_hostile_actions_bounded_profile():
    _fuzz(quick_examples(300))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(SOAK_EXAMPLES)
