"""Hostile actions through lumos/Math-v0's step(): no exception, bounded time, nothing executed."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from lumos_envs.domains import Domain
from lumos_envs.tasks.base import Task
from tests.lumos_envs.envs.fuzzing import SOAK_EXAMPLES, canary_payloads, fuzz_env, hostile_actions, quick_examples

CANARY = Path("/tmp/lumos-fuzz-canary")
PAYLOADS = [
    *canary_payloads(CANARY),
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 1", "[x for x in range(10**9)]", "globals()", "R1.__dict__",
    "9**9**9**9", "10**10**10", "factorial(10**9)", "2^2^2^2^2^2", "x**(10**9)", "(x+1)**100000",
    "(" * 400 + "1" + ")" * 400, "(" * 50, ")" * 50, "'unbalanced", '"also', "a'b\"c",
    "1" * 5000, "\x00", "R1\x00 = 2", "R99", "R1(R2)(R3)", "sqrt(-1)", "1/0", "x = = 2", "% % %",
    "import os", "os.system('ls')", "__builtins__", "sympy.sympify('1')", "S('1')", "Symbol('x')",
    "x**2 = -1", "sin(x) = x**3 + exp(x)", "x > 2 and y < 3", "𝟙𝟚𝟛", "ⅷ + ½", "١٢٣ + ٤",
]
ACTIONS = hostile_actions(
    PAYLOADS, "()[]{}'\";,=+-*/^%R0123456789x .:",
    tools=["Calculator", "SetEquation", "SolveEquation", "Count", "SolveInequality", "Code", "Define", "Answer", "Nope"],
    outputs=["", "R1 = ", "R2, R3 = ", "Output = ", "R1 = R2 = "],
    extra=["R1 = Calculator(" + "9" * 1_000_000 + ")", "x" * 1_000_000, "R1 = Calculator(1)" + "\x00" * 10],
)


def _fuzz(max_examples: int) -> None:
    task = Task(id="fuzz", domain=Domain.MATH, source="test", split="test", question="What is 2 + 2?", answer="4")
    env = gym.make("lumos/Math-v0", tasks=[task], tool_timeout_s=0.5, max_steps=1_000_000)
    fuzz_env(env, ACTIONS, max_examples, setup="R1 = Calculator(3); R2 = Calculator(x + 1)", canary=CANARY)


def test_hostile_actions_bounded_profile():
    _fuzz(quick_examples(1000))


@pytest.mark.soak
def test_hostile_actions_soak():
    _fuzz(SOAK_EXAMPLES)
