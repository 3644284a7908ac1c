"""In-context demonstrations: the chat turns prepended to a domain's planner and grounder prompts.

LUMOS evaluates its checkpoints on WebShop, a task they never trained on, with two worked
examples in front of every planner and grounder conversation (`spec/lumos_formats.md`). Those
examples ship with lumos (`agents/data/webshop_examplars.json`, LUMOS's own data) and are turned
here into the turns LUMOS's evaluation shows the models:

- planner (LUMOS-I): the first planning turn for the example's instruction, then for each
  subgoal an assistant turn `Subgoal k: ...` and a user turn
  `The execution result for Subgoal k is {result}.` (LUMOS's demonstration wording: `execution`,
  a period, no question);
- grounder (LUMOS-I): the first grounding turn for subgoal 1, then for each subgoal an assistant
  turn with its actions (the `Action i-j: ` labels removed, joined by `; `) and the next
  `Subgoal to be grounded: ...` turn.

LUMOS-O gets the same examples in one-time form (all subgoals in one turn; all actions in one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping

from agents.prompts import (
    SUBGOAL_SEPARATOR,
    WEBSHOP_BLOCK,
    ActionBlock,
    Message,
    ground_first_turn,
    ground_later_turn,
    plan_first_turn,
)

Formulation = Literal["iterative", "onetime"]

RESULT_MARK = " || Results: "
"""Separates a subgoal from its result in LUMOS's planning examples."""

ACTION_LABEL = re.compile(r"^Action \d+-\d+:\s*")
SUBGOAL_START = re.compile(r"(?:^|; )(?=Subgoal \d+: )")
ACTION_GROUP_START = re.compile(r"(?:^|; )(?=Action \d+-1: )")


@dataclass(frozen=True)
class Demonstrations:
    """The turns prepended to one domain's planner and grounder conversations."""

    plan: tuple[Message, ...] = ()
    ground: tuple[Message, ...] = ()


@dataclass(frozen=True)
class WorkedExample:
    """One LUMOS demonstration: an instruction, its subgoals with results, and each subgoal's actions."""

    instruction: str
    subgoals: tuple[tuple[str, str], ...]
    """(`Subgoal k: text`, result) in order"""
    actions: tuple[tuple[str, ...], ...]
    """the actions of subgoal k, `Action i-j: ` labels removed"""


def parse_examplars(data: Mapping[str, Any]) -> list[WorkedExample]:
    """LUMOS's `{"PLAN_EXAMPLARS": [...], "GROUND_EXAMPLARS": [...]}` as worked examples.

    Raises:
        ValueError: the two lists disagree (instruction or number of subgoals) or a part is missing.
    """
    plans, grounds = data.get("PLAN_EXAMPLARS"), data.get("GROUND_EXAMPLARS")
    if not isinstance(plans, list) or not isinstance(grounds, list) or len(plans) != len(grounds):
        raise ValueError("examplars need PLAN_EXAMPLARS and GROUND_EXAMPLARS lists of the same length")
    examples = []
    for number, (plan, ground) in enumerate(zip(plans, grounds), 1):
        instruction = str(plan["instruction"]).strip()
        if instruction != str(ground["instruction"]).strip():
            raise ValueError(f"examplar {number}: the planning and grounding instructions differ")
        subgoals = []
        for part in SUBGOAL_START.split(str(plan["subgoals"]).strip()):
            if not part:
                continue
            if RESULT_MARK not in part:
                raise ValueError(f"examplar {number}: subgoal without {RESULT_MARK.strip()!r}: {part[:60]!r}")
            subgoal, result = part.split(RESULT_MARK, 1)
            subgoals.append((subgoal.strip(), result.strip()))
        actions = []
        for group in ACTION_GROUP_START.split(str(ground["actions"]).strip()):
            if group:
                actions.append(tuple(ACTION_LABEL.sub("", a.strip()) for a in group.split(" || ")))
        if len(actions) != len(subgoals):
            raise ValueError(f"examplar {number}: {len(subgoals)} subgoals but {len(actions)} action groups")
        examples.append(WorkedExample(instruction, tuple(subgoals), tuple(actions)))
    return examples


def plan_turns(example: WorkedExample, formulation: Formulation = "iterative") -> list[Message]:
    """The planner conversation of one worked example."""
    turns: list[Message] = [{"role": "user", "content": plan_first_turn(example.instruction)}]
    if formulation == "onetime":
        turns.append({"role": "assistant", "content": SUBGOAL_SEPARATOR.join(s for s, _ in example.subgoals)})
        return turns
    for index, (subgoal, result) in enumerate(example.subgoals, 1):
        turns.append({"role": "assistant", "content": subgoal})
        turns.append({"role": "user", "content": f"The execution result for Subgoal {index} is {result.strip('.')}."})
    return turns


def ground_turns(example: WorkedExample, block: ActionBlock, formulation: Formulation = "iterative") -> list[Message]:
    """The grounder conversation of one worked example."""
    subgoals = [s for s, _ in example.subgoals]
    if formulation == "onetime":
        return [
            {"role": "user", "content": ground_first_turn(block, example.instruction, subgoals)},
            {"role": "assistant", "content": SUBGOAL_SEPARATOR.join(a for group in example.actions for a in group)},
        ]
    turns: list[Message] = []
    for index, (subgoal, actions) in enumerate(zip(subgoals, example.actions)):
        content = ground_first_turn(block, example.instruction, subgoal) if index == 0 else ground_later_turn(subgoal)
        turns.append({"role": "user", "content": content})
        turns.append({"role": "assistant", "content": SUBGOAL_SEPARATOR.join(actions)})
    return turns


def demonstrations_from(examples: list[WorkedExample], block: ActionBlock, formulation: Formulation) -> Demonstrations:
    """All worked examples, in order, as one domain's demonstrations."""
    plan = [turn for example in examples for turn in plan_turns(example, formulation)]
    ground = [turn for example in examples for turn in ground_turns(example, block, formulation)]
    return Demonstrations(tuple(plan), tuple(ground))


def load_examplars(path: str | Path | None = None) -> list[WorkedExample]:
    """Worked examples from a LUMOS examplars JSON file (default: WebShop's, bundled)."""
    if path is None:
        text = resources.files("agents").joinpath("data/webshop_examplars.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_examplars(json.loads(text))


@lru_cache(maxsize=None)
def lumos_demonstrations(formulation: Formulation = "iterative") -> Mapping[str, Demonstrations]:
    """The demonstrations LUMOS's evaluation uses, by LUMOS data domain (WebShop only); read-only,
    since every agent shares the cached mapping."""
    return MappingProxyType({"webshop": demonstrations_from(load_examplars(), WEBSHOP_BLOCK, formulation)})
