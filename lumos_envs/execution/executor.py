"""The LUMOS execution module: run one grounder output against a tool registry and a variable table.

An env owns one `Executor` and one variable table per episode. `Executor.run` parses the action
text, substitutes variable references, binds arguments to the tool's parameters, runs each tool
(in-process when the call is cheap, in a killable worker process otherwise), caps the output, and
stores results. Every failure (syntax, unknown tool, wrong arguments, undefined variable, tool
error, timeout) becomes an `ExecutionOutcome` with an error message; nothing raises out of `run`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Mapping, MutableMapping, Sequence

from lumos_envs.actions import (
    OUTPUT_ALIAS,
    Action,
    ActionSyntaxError,
    UndefinedVariableError,
    is_variable,
    parse_actions,
    substitute_refs,
)
from lumos_envs.domains import Domain
from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, ToolResult

logger = logging.getLogger(__name__)

FINAL_ACTION = "Answer"
"""The final-answer action of every env: `Answer(R7)` or `Answer(some text)`."""

_ATOM = re.compile(r"\d+(\.\d+)?|[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ExecutorConfig:
    """Limits of the execution module."""

    timeout_s: float = 2.0
    """wall-time limit of one bounded tool call, seconds"""
    max_output_chars: int = 2000
    """longest value a tool may return; longer values are cut and marked"""
    max_actions_per_step: int = 32
    """actions beyond this in one step are refused"""

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_output_chars < 16:
            raise ValueError(f"max_output_chars must be >= 16, got {self.max_output_chars}")
        if self.max_actions_per_step < 1:
            raise ValueError(f"max_actions_per_step must be >= 1, got {self.max_actions_per_step}")


@dataclass
class ExecutionOutcome:
    """What one step's actions did."""

    results: dict[str, str] = field(default_factory=dict)
    """variable -> value text, for this step's actions, in execution order"""
    last_result: str | None = None
    """value of the last action that ran (LUMOS feeds it back to the planner)"""
    error: str | None = None
    """why the step stopped early, or None"""
    answer: str | None = None
    """the submitted final answer, when the step ran `Answer(...)`"""
    actions: list[Action] = field(default_factory=list)
    """the parsed actions (empty on a syntax error)"""

    @property
    def observation(self) -> str:
        """The rendered results (`R1 = 18; R2 = 36`), then the error if any."""
        parts = [f"{name} = {value}" for name, value in self.results.items()]
        if self.answer is not None:
            parts.append(f"Answer = {self.answer}")
        if self.error is not None:
            parts.append(self.error)
        return "; ".join(parts) if parts else "No result."


class Executor:
    """Runs LUMOS actions with a fixed set of tools."""

    def __init__(
        self,
        tools: Sequence[Tool],
        *,
        domain: Domain | str | None = None,
        config: ExecutorConfig | None = None,
    ) -> None:
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate tool names: {names}")
        if FINAL_ACTION in names:
            raise ValueError(f"{FINAL_ACTION!r} is the final-answer action and cannot be a tool")
        self.tools: dict[str, Tool] = {t.name: t for t in tools}
        self.domain = domain
        self.config = config or ExecutorConfig()

    def run(self, text: object, variables: MutableMapping[str, str]) -> ExecutionOutcome:
        """Execute one grounder output; updates `variables` with each result as it is made."""
        outcome = ExecutionOutcome()
        if not isinstance(text, str):
            outcome.error = f"Invalid action: expected text, got {type(text).__name__}."
            return outcome
        try:
            actions = parse_actions(text, self.domain)
        except ActionSyntaxError as error:
            outcome.error = f"Invalid action: {error}. Write actions like R1 = Calculator(2 + 3); R2 = Calculator(R1 * 4)."
            return outcome
        if len(actions) > self.config.max_actions_per_step:
            outcome.error = f"Invalid action: {len(actions)} actions in one step; the limit is {self.config.max_actions_per_step}."
            return outcome
        outcome.actions = actions
        for position, action in enumerate(actions, start=1):
            where = f"action {position} ({_short(action.render())})" if len(actions) > 1 else f"{_short(action.render())}"
            try:
                if action.tool == FINAL_ACTION:
                    outcome.answer = self._resolve_answer(action, variables)
                    return outcome
                names, values = self._execute(action, variables)
            except (ToolError, UndefinedVariableError, _BindError) as error:
                outcome.error = f"Error in {where}: {error}"
                return outcome
            except Exception as error:  # a tool bug must not take the env down; report it as data
                logger.exception("tool %s failed unexpectedly", action.tool)
                outcome.error = f"Error in {where}: internal tool error ({type(error).__name__}: {error})"
                return outcome
            for name, value in zip(names, values):
                variables[name] = value
                outcome.results[name] = value
            outcome.last_result = values[-1] if values else outcome.last_result
        return outcome

    # -----------------------------------------------------------------------------------------

    def _resolve_answer(self, action: Action, variables: Mapping[str, str]) -> str:
        text = action.arg_text.strip()
        if is_variable(text):
            if text not in variables:
                raise UndefinedVariableError(text, sorted(variables, key=_order))
            return variables[text]
        if not text:
            raise _BindError("Answer needs a value, e.g. Answer(R3) or Answer(42)")
        return self._within_cap(substitute_refs(text, variables), text, "the answer")

    def _execute(self, action: Action, variables: Mapping[str, str]) -> tuple[list[str], list[str]]:
        tool = self.tools.get(action.tool)
        if tool is None:
            available = ", ".join(self.tools) + f", and {FINAL_ACTION}"
            raise _BindError(f"unknown tool {action.tool!r}; available: {available}")
        args = self._bind(tool, action, variables)
        raw = self._call(tool, args)
        values = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        names = self._output_names(action, variables)
        if len(values) != len(names):
            if len(names) == 1:
                values = [", ".join(values)]
            else:
                raise _BindError(f"{tool.name} gave {len(values)} value(s) but {len(names)} output variables were given")
        return names, [self._cap(v) for v in values]

    def _output_names(self, action: Action, variables: Mapping[str, str]) -> list[str]:
        highest = max((int(n[1:]) for n in variables if is_variable(n)), default=0)
        highest = max([highest] + [int(n[1:]) for n in action.outputs if is_variable(n)])
        names = []
        for name in action.outputs or (OUTPUT_ALIAS,):
            if name == OUTPUT_ALIAS:
                highest += 1
                name = f"R{highest}"
            names.append(name)
        return names

    def _bind(self, tool: Tool, action: Action, variables: Mapping[str, str]) -> list[str]:
        if tool.substitution == "math":
            fill = lambda text: substitute_refs(text, variables, wrap=_wrap_math, apply_call=_apply_math)  # noqa: E731
        else:
            fill = lambda text: substitute_refs(text, variables)  # noqa: E731
        args = [fill(arg.text) for arg in action.args]
        self._within_cap("".join(args), "".join(arg.text for arg in action.args), f"the arguments of {tool.name}")
        if tool.variadic:
            fixed = len(tool.params) - 1
            if len(args) < fixed:
                raise _BindError(f"{tool.name} takes at least {fixed} argument(s); interface: {tool.interface}")
            return args
        wanted = len(tool.params)
        if wanted == 1 and action.arg_text.strip():
            return args if len(action.args) == 1 else [fill(action.arg_text)]
        if len(args) > wanted:  # free text with commas belongs to the last parameter
            args = args[: wanted - 1] + [", ".join(args[wanted - 1 :])]
        if len(args) != wanted:
            raise _BindError(f"{tool.name} takes {wanted} argument(s), got {len(args)}; interface: {tool.interface}")
        return args

    def _call(self, tool: Tool, args: list[str]) -> ToolResult:
        if not tool.needs_worker(args):
            return tool.fn(*args)
        from lumos_envs.execution.worker import get_worker_pool  # lazy: most steps never need it

        return get_worker_pool().call(
            tool.target, args, timeout_s=self.config.timeout_s, max_output_chars=self.config.max_output_chars * 8
        )

    def _within_cap(self, text: str, written: str, what: str) -> str:
        """Refuse text that variable substitution blew up past `max_output_chars` (text that was
        written that long is bounded by the action length limit instead).

        Each value is capped when it is made, but references multiply it: an 18 KB
        `Answer(R1 R1 ...)` with a 2,000-character R1 would expand to 12 MB and flow into scoring,
        `info` and the trajectory file. The error is an observation, like any failing action.
        """
        limit = self.config.max_output_chars
        if len(text) > max(limit, len(written)):
            raise _BindError(
                f"{what} would be {len(text)} characters after substituting variables; the limit is "
                f"{limit} (max_output_chars). Refer to fewer or shorter values."
            )
        return text

    def _cap(self, value: str) -> str:
        limit = self.config.max_output_chars
        if len(value) <= limit:
            return value
        return value[:limit] + f" ... [truncated {len(value) - limit} characters]"


class _BindError(ToolError):
    """Arguments that do not fit the tool."""


def _wrap_math(value: str) -> str:
    value = value.strip()
    return value if _ATOM.fullmatch(value) or "=" in value else f"({value})"


def _apply_math(value: str) -> str:
    return f"evalat(({value.strip()}), "


def _order(name: str) -> tuple[int, str]:
    return (int(name[1:]), name) if is_variable(name) else (1 << 30, name)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
