"""Run a maths gold plan through the real execution module (the same path as the env)."""

from __future__ import annotations

from lumos_envs.execution.executor import Executor
from lumos_envs.metrics import numeric_match
from lumos_envs.tasks.base import GoldPlan, Task
from lumos_envs.tools.math import MATH_TOOLS

__all__ = ["numeric_match", "replays", "run_plan"]


def run_plan(plan: GoldPlan) -> str:
    """Execute each subgoal's action line; return the answer variable's value."""
    executor = Executor(MATH_TOOLS, domain="math")
    variables: dict[str, str] = {}
    for subgoal in plan.subgoals:
        outcome = executor.run(subgoal.action_line(), variables)
        assert outcome.error is None, f"{subgoal.action_line()!r}: {outcome.error}"
    return variables[plan.answer]


def replays(task: Task) -> bool:
    """Whether the task's gold plan computes its gold answer."""
    return task.plan is not None and numeric_match(run_plan(task.plan), task.answer)
