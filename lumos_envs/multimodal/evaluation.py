"""Measure a VQA back-end against the truth on bundled tasks, per VQA question type.

Every `VQA` call of the tasks' gold plans is asked of the back-end and of the oracle on the same
image (earlier variables filled from the oracle's answers), so the score is perception accuracy
on the question types the plans use, on images the learned model never trained on.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from lumos_envs.actions import parse_actions, substitute_refs
from lumos_envs.execution.errors import ToolError
from lumos_envs.multimodal.backends import OracleVQABackend, VQABackend, VQAQuery
from lumos_envs.multimodal.questions import question_kind
from lumos_envs.tasks.base import Task
from lumos_envs.tools.multimodal import qa, strip_label


def vqa_accuracy_by_type(backend: VQABackend, tasks: Iterable[Task]) -> dict[str, dict[str, float]]:
    """question type -> {"accuracy", "count"} over the gold plans' VQA calls (plus `all`)."""
    from lumos_envs.envs.multimodal import task_image

    oracle = OracleVQABackend()
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for task in tasks:
        if task.plan is None:
            continue
        image = task_image(task)
        variables: dict[str, str] = {}
        for subgoal in task.plan.subgoals:
            for action in parse_actions(subgoal.action_line()):
                args = [substitute_refs(a.text, variables) for a in action.args]
                if action.tool == "VQA":
                    question = strip_label(args[1])
                    query = VQAQuery(image.observation, question, image.full, image.spec)
                    truth = oracle.answer(query)
                    try:
                        got = backend.answer(query)
                    except ToolError:
                        got = None
                    kind = question_kind(question)
                    for key in (kind, "all"):
                        total[key] += 1
                        right[key] += got == truth
                    value = truth
                elif action.tool == "QA":
                    value = qa.fn(*args[:1], ", ".join(args[1:]))
                else:
                    continue
                for name in action.outputs:
                    variables[name] = value
    return {k: {"accuracy": right[k] / total[k], "count": float(total[k])} for k in sorted(total)}
