"""Hostile actions through lumos/Math-v0's step(): no exception, bounded time, nothing executed.

`make test` runs a bounded profile; `make soak` runs the soak test with LUMOS_FUZZ_EXAMPLES
(100,000 by default there).
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
from lumos_envs.domains import Domain
from lumos_envs.tasks.base import Task

CANARY = Path("/tmp/lumos-fuzz-canary")
TOOLS = ["Calculator", "SetEquation", "SolveEquation", "Count", "SolveInequality", "Code", "Define", "Answer", "Nope"]
PAYLOADS = [
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w').write('x')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1", "[x for x in range(10**9)]", "exec('1')", "eval('1')", "globals()", "R1.__dict__",
    "9**9**9**9", "10**10**10", "factorial(10**9)", "2^2^2^2^2^2", "x**(10**9)", "(x+1)**100000",
    "(" * 400 + "1" + ")" * 400, "(" * 50, ")" * 50, "'unbalanced", '"also', "a'b\"c",
    "1" * 5000, "\x00", "R1\x00 = 2", "R99", "R1(R2)(R3)", "sqrt(-1)", "1/0", "x = = 2", "% % %",
    "import os", "os.system('ls')", "__builtins__", "sympy.sympify('1')", "S('1')", "Symbol('x')",
    "x**2 = -1", "sin(x) = x**3 + exp(x)", "x > 2 and y < 3", "𝟙𝟚𝟛", "ⅷ + ½", "١٢٣ + ٤",
]

_segment = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=60),
    st.text(alphabet="()[]{}'\";,=+-*/^%R0123456789x .:", max_size=80),
)
_action = st.builds(
    lambda out, tool, args: f"{out}{tool}({args})",
    st.sampled_from(["", "R1 = ", "R2, R3 = ", "Output = ", "R1 = R2 = "]),
    st.sampled_from(TOOLS),
    _segment,
)
hostile_actions = st.one_of(
    _action,
    st.lists(_action, min_size=2, max_size=4).map("; ".join),
    _segment,
    st.sampled_from(["R1 = Calculator(" + "9" * 1_000_000 + ")", "x" * 1_000_000, "R1 = Calculator(1)" + "\x00" * 10]),
)


def _env() -> gym.Env:
    task = Task(id="fuzz", domain=Domain.MATH, source="test", split="test", question="What is 2 + 2?", answer="4")
    return gym.make("lumos/Math-v0", tasks=[task], tool_timeout_s=0.5, max_steps=1_000_000)


def _fuzz(max_examples: int) -> None:
    env = _env()
    env.reset(seed=0)
    env.step("R1 = Calculator(3); R2 = Calculator(x + 1)")

    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(hostile_actions)
    def run(action: str) -> None:
        start = time.monotonic()
        observation, reward, terminated, truncated, info = env.step(action)
        assert isinstance(observation, str) and env.observation_space.contains(observation)
        assert time.monotonic() - start < 10, f"step took too long on {action[:80]!r}"
        if terminated or truncated:
            env.reset(seed=0)
            env.step("R1 = Calculator(3); R2 = Calculator(x + 1)")

    run()
    env.close()
    assert not CANARY.exists(), "a hostile action executed code"


def test_hostile_actions_bounded_profile():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES_QUICK", "1000")))


@pytest.mark.soak
def test_hostile_actions_soak():
    CANARY.unlink(missing_ok=True)
    _fuzz(int(os.environ.get("LUMOS_FUZZ_EXAMPLES", "100000")))
