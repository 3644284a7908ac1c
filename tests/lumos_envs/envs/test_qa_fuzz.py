"""Hostile actions through lumos/QA-v0's step(): no exception, bounded time, nothing executed.

`make test` runs a bounded profile; `make soak` runs the soak test with LUMOS_FUZZ_EXAMPLES.
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

CANARY = Path("/tmp/lumos-qa-fuzz-canary")
TOOLS = ["KnowledgeQuery", "ParagraphRetrieve", "QA", "Calculator", "Code", "Answer", "Nope"]
PAYLOADS = [
    f"__import__('os').system('touch {CANARY}')", f"open('{CANARY}', 'w').write('x')",
    "R1, Query: who?", "[R2], Question: when?", "WikipediaPage(", "Paragraph(x-99999999999)", "Paragraph(Paragraph(",
    "WikipediaPage(" * 200, "Paragraph(a-1)" * 300, ")" * 100, "R1 < R2", "R99", "Query:", "Question: " * 50,
    "x" * 100_000, "\x00", "𝟙𝟚𝟛 or ⅷ?", "Which was first, A or B?", "[1843, 1850], Question: Who was born earlier, A or B?",
    "9**9**9**9", "Is it?", "Who?", ", , , ,", "[[[[]]]]",
]

_segment = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=60),
                     st.text(alphabet="()[]{}'\";,=+-*/<>R0123456789 .:?PWQ", max_size=80))
_action = st.builds(lambda out, tool, args: f"{out}{tool}({args})",
                    st.sampled_from(["", "R1 = ", "R2, R3 = ", "R4 = "]), st.sampled_from(TOOLS), _segment)
hostile_actions = st.one_of(_action, st.lists(_action, min_size=2, max_size=4).map("; ".join), _segment)


def _fuzz(max_examples: int) -> None:
    env = gym.make("lumos/QA-v0", max_steps=1_000_000)
    env.reset(seed=0)
    setup = "R1 = KnowledgeQuery(The); R2 = ParagraphRetrieve(R1, Query: who?)"
    env.step(setup)

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hostile_actions)
    def run(action: str) -> None:
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert isinstance(observation, str) and env.observation_space.contains(observation)
        assert time.monotonic() - start < 10, f"step took too long on {action[:80]!r}"
        for value in info["results"].values():
            assert len(value) <= 2000 + 64
        if terminated or truncated:
            env.reset(seed=0)
            env.step(setup)

    run()
    env.close()
    assert not CANARY.exists(), "a hostile action executed code"


def test_hostile_actions_bounded_profile():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES_QUICK", "300")))


@pytest.mark.soak
def test_hostile_actions_soak():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000")))
