"""Math word problems solved with the LUMOS maths actions. Registered as `lumos/Math-v0`."""

from __future__ import annotations

from typing import Sequence

from lumos_envs.domains import Domain
from lumos_envs.envs.base import LumosEnv
from lumos_envs.execution.tool import Tool
from lumos_envs.metrics import math_answer_metrics
from lumos_envs.tasks.base import Task


class MathEnv(LumosEnv):
    """
    ## Description
    One math word problem per episode (GSM8K, SVAMP, or a bundled procedural family). The agent
    grounds LUMOS subgoals into maths actions (`Calculator`, `SetEquation`, `SolveEquation`,
    `Count`, `SolveInequality`, `Code`, `Define`), executed with sympy behind a safe parser, and
    submits the final answer with `Answer(R7)`.

    ## Action Space
    `UnicodeText(0, 20000)`: one grounder output, one or more actions joined by `; `, e.g.
    `R1 = Calculator(2 - 0.5); R2 = Calculator(R1 / 0.25)`, or the final `Answer(R2)`.

    ## Observation Space
    `UnicodeText(0, 200000)`: the task's question on reset; then this step's results
    (`R1 = 1.5; R2 = 6`) or an error message saying what is wrong and how to fix it.

    ## Rewards
    0 on every step but the last. On `Answer(...)`: 1.0 if the answer matches the gold answer
    numerically (GSM8K convention: relative or absolute tolerance 1e-4; symbolic equality when
    the gold answer is symbolic), else 0.0. Truncation gives 0.

    ## Starting State
    Task `options["task_index"]` or `options["task_id"]`; otherwise one drawn with the reset seed.

    ## Episode End
    Terminates when `Answer(...)` runs; truncates after `max_steps` steps (invalid actions count).

    ## Info
    The common keys of `LumosEnv` (`task`, `tools`, `final_action`, `results`, `last_result`,
    `variables`, `invalid_action`, `last_error`, `step`; at the end `metrics` with `correct`,
    `numeric_match`, `symbolic_match`, and `success`, `answer`; `gold` with `reveal_gold=True`).

    ## Arguments
    `tasks` (task source, list of `Task`, or spec such as `gsm8k:PATH`, `svamp:PATH`,
    `synthetic:FAMILY`; default: the bundled training families), `max_steps=20`,
    `tool_timeout_s=2.0` (bound of sympy solving), `max_output_chars=2000`, `reveal_gold=False`.

    ## Version History
    - v0: initial version.
    """

    domain = Domain.MATH
    default_tasks = "synthetic:math_train"

    def make_tools(self) -> Sequence[Tool]:
        from lumos_envs.tools.math import MATH_TOOLS

        return MATH_TOOLS

    def score(self, answer: str, task: Task) -> dict[str, float]:
        return math_answer_metrics(answer, task.answer)
