"""The base class of every lumos environment: tasks in, LUMOS actions executed, answer scored.

A domain env declares its tools, its default task set and its metric; the base class does the
rest the same way for every domain (`spec/contract.md`, "One step" and "`info` keys"):

- `reset(seed=..., options={"task_index": i} | {"task_id": ...})` picks a task (from the seed
  when no option is given) and returns its question;
- `step(text)` runs one grounder output through the `Executor`; `Answer(x)` ends the episode
  (`terminated=True`) and the reward is the task metric's headline value; `max_steps` truncates;
- a malformed or failing action is an observation with `info["invalid_action"] = True`, never
  an exception.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import gymnasium as gym

from lumos_envs.domains import Domain
from lumos_envs.execution.executor import FINAL_ACTION, ExecutionOutcome, Executor, ExecutorConfig
from lumos_envs.execution.tool import Tool
from lumos_envs.spaces import MAX_ACTION_CHARS, MAX_OBSERVATION_CHARS, text_space
from lumos_envs.tasks.base import Task, TaskList, TaskSource, find_task_index

TaskArgument = TaskSource | Sequence[Task] | str | None
"""What `tasks=` accepts: a task source, a list of tasks, a task spec string, or None (default)."""


class LumosEnv(gym.Env[str, str]):
    """Shared machinery of the lumos envs; subclasses set the class attributes and `score`.

    Subclasses document their own observation, action, reward, episode end and `info` keys in
    the Gymnasium headings; the common `info` keys are:

    - every step: `task` (`id`, `domain`, `split`, `question`), `tools` (list of `name` and
      LUMOS `interface`), `final_action` (`"Answer"`), `results` (this step's variable → value),
      `last_result`, `variables` (all so far), `invalid_action`, `last_error`, `step`;
    - at the end: `metrics` (the metric's parts), `success`, `answer` (the submitted text);
    - with `reveal_gold=True`: `gold` (`answer`, `plan`, `plan_error`).
    """

    domain: ClassVar[Domain]
    default_tasks: ClassVar[str]
    """task spec used when `tasks` is None, so `gym.make(id)` works with no arguments"""
    headline_metric: ClassVar[str] = "correct"
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        tasks: TaskArgument = None,
        *,
        max_steps: int = 20,
        tool_timeout_s: float = 2.0,
        max_output_chars: int = 2000,
        reveal_gold: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.tasks = resolve_tasks(tasks if tasks is not None else self.default_tasks)
        if len(self.tasks) == 0:
            raise ValueError(f"{type(self).__name__} needs at least one task")
        self.max_steps = max_steps
        self.reveal_gold = reveal_gold
        self.render_mode = render_mode
        self.executor = Executor(
            self.make_tools(),
            domain=self.domain,
            config=ExecutorConfig(timeout_s=tool_timeout_s, max_output_chars=max_output_chars),
        )
        self.tool_infos = [{"name": t.name, "interface": t.interface} for t in self.executor.tools.values()]
        self.observation_space = text_space(MAX_OBSERVATION_CHARS)
        self.action_space = text_space(MAX_ACTION_CHARS)
        self._task: Task | None = None
        self._variables: dict[str, str] = {}
        self._steps = 0
        self._done = True
        self._last_observation = ""

    # -- what a domain declares ----------------------------------------------------------------

    def make_tools(self) -> Sequence[Tool]:
        """The tools of this domain, in the LUMOS action-list order."""
        raise NotImplementedError

    def score(self, answer: str, task: Task) -> dict[str, float]:
        """The metric's parts for a submitted answer; `headline_metric` is the reward."""
        raise NotImplementedError

    def make_observation(self, text: str) -> Any:
        """The observation for this step's text; envs with richer observations (an image) override
        it together with `observation_space`."""
        return text

    # -- Gymnasium API ---------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "task_index" in options:
            index = int(options["task_index"])
            if not 0 <= index < len(self.tasks):
                raise IndexError(f"task_index {index} out of range for {len(self.tasks)} tasks")
        elif "task_id" in options:
            index = find_task_index(self.tasks, str(options["task_id"]))
        else:
            index = int(self.np_random.integers(len(self.tasks)))
        self._task = self.tasks[index]
        self._variables = {}
        self._steps = 0
        self._done = False
        text = self._fit(self._task.question)
        self._last_observation = text
        return self.make_observation(text), self._info(ExecutionOutcome())

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            outcome = ExecutionOutcome(error="The episode is over; call reset() to start a new one.")
            return self.make_observation(outcome.observation), 0.0, True, False, self._info(outcome)
        self._steps += 1
        outcome = self.executor.run(action, self._variables)
        terminated = outcome.answer is not None
        truncated = not terminated and self._steps >= self.max_steps
        info = self._info(outcome)
        reward = 0.0
        if terminated:
            metrics = self.score(outcome.answer or "", self._task)
            reward = float(metrics[self.headline_metric])
            info.update(metrics=metrics, success=reward >= 1.0, answer=outcome.answer)
        elif truncated:
            info.update(metrics={self.headline_metric: 0.0}, success=False, answer=None)
        self._done = terminated or truncated
        text = self._fit(outcome.observation)
        self._last_observation = text
        return self.make_observation(text), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_observation
        return None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def task(self) -> Task | None:
        """The current episode's task (None before the first reset)."""
        return self._task

    def _info(self, outcome: ExecutionOutcome) -> dict[str, Any]:
        assert self._task is not None
        info: dict[str, Any] = {
            "task": self._task.public_dict(),
            "tools": self.tool_infos,
            "final_action": FINAL_ACTION,
            "results": dict(outcome.results),
            "last_result": outcome.last_result,
            "variables": dict(self._variables),
            "invalid_action": outcome.error is not None,
            "last_error": outcome.error,
            "step": self._steps,
        }
        if self.reveal_gold:
            info["gold"] = self._task.gold_dict()
        return info

    def _fit(self, text: str) -> str:
        if len(text) <= MAX_OBSERVATION_CHARS:
            return text
        note = " ... [observation truncated]"
        return text[: MAX_OBSERVATION_CHARS - len(note)] + note


def resolve_tasks(tasks: TaskArgument) -> TaskSource:
    """Turn `tasks=` into a task source: a spec string goes through the task registry."""
    if isinstance(tasks, str):
        from lumos_envs.tasks.registry import load_tasks

        return load_tasks(tasks)
    if isinstance(tasks, TaskSource):
        return tasks
    if isinstance(tasks, Sequence):
        return TaskList(list(tasks))
    raise TypeError(f"tasks must be a task source, a list of Task or a spec string, got {type(tasks).__name__}")
