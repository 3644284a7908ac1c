"""Task records and task sources: what every environment consumes, whatever the dataset.

A `Task` is one problem (question, gold answer, optional gold LUMOS plan). A task source is any
sequence of tasks (`__len__` and `__getitem__`); loaders parse a dataset's own schema once, at the
edge, and generators build item `i` from `Random(f"{family}/{seed}/{i}/{attempt}")` so any item can
be rebuilt alone and no two seeds share an item (with `Random(seed + i)`, seed 1000's item 0 would
be seed 0's item 1000).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterator, Literal, Mapping, Protocol, Sequence, get_args, runtime_checkable

from lumos_envs.domains import Domain
from lumos_envs.tasks.question_keys import masked_bucket

Part = Literal["train", "validation", "test", "all"]
"""which part of a generated family a source draws from; `all` keeps every draw"""

PARTS: tuple[str, ...] = get_args(Part)

MAX_PART_ATTEMPTS = 1000
"""draws an item of a part may make before its family is judged unable to fill the part (the
rarest part of a bundled family that has one holds about 2% of draws, so 1,000 never run out)"""


@dataclass(frozen=True)
class GoldSubgoal:
    """One subgoal of a gold plan: its text and its grounded actions, each one LUMOS action line."""

    text: str
    """the subgoal as the planner would write it, e.g. `Calculate the total cost.`"""
    actions: tuple[str, ...]
    """action texts, e.g. `("R1 = Calculator(2 * 3)",)`; no annotated results"""

    def action_line(self) -> str:
        """The grounder's output for this subgoal: all actions joined by `; `."""
        return "; ".join(self.actions)


@dataclass(frozen=True)
class GoldPlan:
    """A gold LUMOS plan: subgoals with actions, and the variable that holds the final answer."""

    subgoals: tuple[GoldSubgoal, ...]
    answer: str
    """the variable (e.g. `R5`) whose value is submitted with `Answer(...)`"""

    def __post_init__(self) -> None:
        if not self.subgoals:
            raise ValueError("a gold plan needs at least one subgoal")

    def to_dict(self) -> dict[str, Any]:
        return {
            "subgoals": [{"text": s.text, "actions": list(s.actions)} for s in self.subgoals],
            "answer": self.answer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "GoldPlan":
        return cls(
            subgoals=tuple(GoldSubgoal(s["text"], tuple(s["actions"])) for s in data["subgoals"]),
            answer=data["answer"],
        )


@dataclass(frozen=True)
class Task:
    """One task. `question` fills LUMOS's `Task: {task}`; `answer` is the gold answer as text."""

    id: str
    domain: Domain
    source: str
    """loader or generator name, e.g. `gsm8k`, `synthetic:shopping_total`"""
    split: str
    """`train`, `dev`, `test`, or `heldout` for held-out generator families"""
    question: str
    answer: str
    plan: GoldPlan | None = None
    """gold LUMOS plan, or None where the item's annotation cannot be converted (see metadata)"""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """source-specific extras; `plan_error` names why `plan` is None"""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Task.id must be non-empty")
        object.__setattr__(self, "domain", Domain(self.domain))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def public_dict(self) -> dict[str, Any]:
        """What an agent may see (`info["task"]`): no answer, no plan."""
        return {"id": self.id, "domain": self.domain.value, "split": self.split, "question": self.question}

    def gold_dict(self) -> dict[str, Any]:
        """Gold answer and plan (`info["gold"]`, only with `reveal_gold=True`)."""
        return {
            "answer": self.answer,
            "plan": self.plan.to_dict() if self.plan is not None else None,
            "plan_error": self.metadata.get("plan_error"),
        }


@runtime_checkable
class TaskSource(Protocol):
    """Anything indexable that yields tasks; every env's `tasks=` argument accepts one."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Task: ...


class TaskList(Sequence[Task]):
    """An in-memory task source; refuses duplicate ids so `task_id` lookups are unambiguous."""

    def __init__(self, tasks: Sequence[Task] | Iterator[Task], name: str = "tasks") -> None:
        self._tasks = list(tasks)
        self.name = name
        self._index_by_id: dict[str, int] = {}
        for i, task in enumerate(self._tasks):
            if task.id in self._index_by_id:
                raise ValueError(f"duplicate task id {task.id!r} in {name}")
            self._index_by_id[task.id] = i

    def __len__(self) -> int:
        return len(self._tasks)

    def __getitem__(self, index: int) -> Task:  # type: ignore[override]
        return self._tasks[index]

    def index_of(self, task_id: str) -> int:
        """Position of the task with this id; KeyError names the id if it is absent."""
        try:
            return self._index_by_id[task_id]
        except KeyError:
            raise KeyError(f"no task with id {task_id!r} in {self.name}") from None


def find_task_index(tasks: TaskSource, task_id: str) -> int:
    """Index of `task_id` in any task source (fast path for sources with `index_of`)."""
    index_of = getattr(tasks, "index_of", None)
    if callable(index_of):
        return int(index_of(task_id))
    for i in range(len(tasks)):
        if tasks[i].id == task_id:
            return i
    raise KeyError(f"no task with id {task_id!r}")


class ConcatTaskSource:
    """Several task sources read as one, in order (e.g. all training families of a domain)."""

    def __init__(self, sources: Sequence[TaskSource], name: str = "tasks") -> None:
        if not sources:
            raise ValueError("ConcatTaskSource needs at least one source")
        self.sources = list(sources)
        self.name = name
        self._offsets = [0]
        for source in self.sources:
            self._offsets.append(self._offsets[-1] + len(source))

    def __len__(self) -> int:
        return self._offsets[-1]

    def __getitem__(self, index: int) -> Task:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"task index {index} out of range for {len(self)} tasks")
        for source, start, end in zip(self.sources, self._offsets, self._offsets[1:]):
            if index < end:
                return source[index - start]
        raise AssertionError("unreachable")

    def index_of(self, task_id: str) -> int:
        for source, start in zip(self.sources, self._offsets):
            try:
                return start + find_task_index(source, task_id)
            except KeyError:
                continue
        raise KeyError(f"no task with id {task_id!r} in {self.name}")


def part_of(question: str) -> str:
    """The part a question belongs to: `validation` for masked buckets 0-9, `test` for 10-29,
    `train` for the rest. Keyed on the masked question, so parts never share a question as a model
    sees it, even where two draws differ only in their numbers."""
    bucket = masked_bucket(question, 100)
    return "validation" if bucket < 10 else "test" if bucket < 30 else "train"


def check_part(family: str, part: str) -> None:
    """Raises ValueError (one line, naming the family) unless `part` is one of `PARTS`."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r} for synthetic:{family}; known: {', '.join(PARTS)}")


def item_rng(family: str, seed: int, index: int, attempt: int = 0) -> random.Random:
    """The generator of one draw. A string seed is hashed (sha512, the same in every process), so
    (family, seed, index, attempt) never meet another tuple's stream as sums `seed + index` do."""
    return random.Random(f"{family}/{seed}/{index}/{attempt}")


class GeneratedTaskSource:
    """Base of the bundled generators' task sources: item `i` is a pure function of (family config,
    seed, part, i), built on first use and cached; ids are `{id_prefix}{i}`, so `index_of` needs no
    search and any item can be rebuilt alone.

    Item `i` of part `train`, `validation` or `test` redraws (attempt 0, 1, ...; see `item_rng`)
    until `part_of` its question is the part, so parts share no masked question; `all` keeps attempt
    0. Subclasses implement `_draw` (and `_finish` for work only an accepted draw needs).
    """

    def __init__(self, family: str, size: int, seed: int, id_head: str, part: str = "all") -> None:
        """`id_head` starts every id (e.g. `synthetic-rate_time-`); the part and seed follow it."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be an integer >= 1, got {size!r}")
        check_part(family, part)
        self.name = f"synthetic:{family}"
        self.family, self.size, self.seed, self.part = family, size, seed, part
        self.id_prefix = f"{id_head}{'' if part == 'all' else f'{part}_part-'}{seed}-"
        self._cache: dict[int, Task] = {}

    def _draw(self, rng: random.Random, index: int) -> Task:
        """One candidate for item `index` (id `{id_prefix}{index}`), drawn from `rng` only."""
        raise NotImplementedError

    def _finish(self, task: Task) -> Task:
        """The accepted candidate with what rejected ones need not pay for (default: as drawn)."""
        return task

    def _build(self, index: int) -> Task:
        attempts = 1 if self.part == "all" else MAX_PART_ATTEMPTS
        for attempt in range(attempts):
            task = self._draw(item_rng(self.family, self.seed, index, attempt), index)
            if self.part in ("all", part_of(task.question)):
                task = self._finish(task)
                return replace(task, metadata={**task.metadata, "part": self.part})
        raise ValueError(f"synthetic:{self.family} cannot fill part {self.part!r}: item {index} drew no question of it "
                         f"in {attempts} draws (its masked question space is too small)")

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Task:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"task index must be an integer, got {type(index).__name__}")
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"task index {index} out of range for {self.name} of size {self.size}")
        if index not in self._cache:
            self._cache[index] = self._build(index)
        return self._cache[index]

    def index_of(self, task_id: str) -> int:
        """Position of the task with this id; KeyError names the id if it is not in this source."""
        rest = task_id[len(self.id_prefix):] if task_id.startswith(self.id_prefix) else ""
        if not rest.isdigit() or int(rest) >= self.size:
            raise KeyError(f"no task with id {task_id!r} in {self.name} (size {self.size})")
        return int(rest)
