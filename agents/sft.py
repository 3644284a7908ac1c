"""LUMOS SFT conversations from annotation records (`task`, `subgoal_plan`), for both modules and formulations.

This is LUMOS's `data/process_for_train.py` conversion rebuilt on lumos's parser
(`lumos_envs.actions.parse_annotation`) and prompt strings (`agents.prompts`), so training data
and inference prompts cannot drift apart. Records come out as
`{"dataset": domain, "id": f"{domain}_{i}", "messages": [...]}` (`spec/lumos_formats.md`).

One deliberate difference: LUMOS renames a final `Output` variable to `R{last+1}` only in its
iterative grounding data; lumos renames it everywhere (as the spec says), so every action line is
executable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from lumos_envs.actions import parse_annotation

from agents.prompts import (
    GROUNDING_WITH_RESULTS,
    ActionBlock,
    LUMOS_BLOCKS,
    STOP_PLANNING,
    Message,
    ground_first_turn,
    ground_later_turn,
    KEEP_PLANNING,
    SUBGOAL_SEPARATOR,
    plan_feedback_turn,
    plan_first_turn,
    subgoal_line,
)

_SUBGOAL_LINE = re.compile(r"\s*Subgoal\s+\d+\s*:")

Module = Literal["plan", "ground"]
Formulation = Literal["iterative", "onetime"]


@dataclass(frozen=True)
class PlanStep:
    """One subgoal of a finished plan, as the LUMOS conversations need it."""

    index: int
    """the subgoal's number k"""
    line: str
    """`Subgoal k: ...` as the planner wrote it"""
    text: str
    """the subgoal text alone (the web feedback turn quotes it)"""
    action_line: str
    """the grounded actions joined by `; `"""
    result: str
    """the executed result of the subgoal's last action, for the planner's feedback turn"""
    grounding_result: str = ""
    """the result as complex-QA grounding turns quote it (defaults to `result`)"""


def annotation_messages(record: Mapping[str, Any], module: Module, formulation: Formulation) -> list[Message]:
    """The LUMOS conversation for one annotation record.

    Args:
        record: `{"domain" (LUMOS name, e.g. maths), "task", "subgoal_plan", ...}`.
        module: `plan` or `ground`.
        formulation: `iterative` (LUMOS-I) or `onetime` (LUMOS-O).

    Raises:
        ValueError: for a grounding conversation in a domain LUMOS has no action block for, or a
            record whose subgoal plan does not parse (the message names why).
    """
    domain = str(record.get("domain", "maths"))
    plan = str(record["subgoal_plan"])
    subgoals = parse_annotation(plan, domain)
    lines = _raw_subgoal_lines(plan)
    if len(lines) != len(subgoals):  # defensive: the parser and the line scan disagree
        lines = [subgoal_line(s.index, s.text) for s in subgoals]
    last_lines = _last_action_lines(plan)
    steps = []
    for number, (subgoal, line) in enumerate(zip(subgoals, lines), start=1):
        if not subgoal.actions:
            raise ValueError(f"subgoal {subgoal.index} has no actions")
        last = subgoal.results[-1] if subgoal.results else None
        steps.append(PlanStep(
            index=subgoal.index, line=line, text=subgoal.text, action_line=subgoal.action_line(),
            result=last if last is not None else "",
            grounding_result=_raw_result(last_lines[number - 1] if number <= len(last_lines) else "", last),
        ))
    return plan_messages(domain, str(record["task"]), steps, module, formulation)


def plan_messages(
    domain: str, task: str, steps: Sequence[PlanStep], module: Module, formulation: Formulation, block: ActionBlock | None = None
) -> list[Message]:
    """The LUMOS planning or grounding conversation of a finished plan (annotated or executed).

    Args:
        domain: LUMOS data-domain name (`maths`, `complex_qa`, `web_agent`, `webshop`, ...).
        block: the grounding action block; default: LUMOS's block for `domain`.

    Raises:
        ValueError: for a grounding conversation without an action block.
    """
    if module == "plan":
        messages: list[Message] = [{"role": "user", "content": plan_first_turn(task)}]
        if formulation == "onetime":
            messages.append({"role": "assistant", "content": SUBGOAL_SEPARATOR.join(s.line for s in steps)})
            return messages
        style = "web" if domain == "web_agent" else "webshop" if domain == "webshop" else "result"
        for number, step in enumerate(steps, start=1):
            messages.append({"role": "assistant", "content": step.line if number == 1 else KEEP_PLANNING + step.line})
            messages.append({"role": "user", "content": plan_feedback_turn(number, step.result, style, step.text)})
        messages.append({"role": "assistant", "content": STOP_PLANNING})
        return messages
    if block is None:
        if domain not in LUMOS_BLOCKS:
            raise ValueError(f"LUMOS has no grounding action block for domain {domain!r}")
        block = LUMOS_BLOCKS[domain]
    if formulation == "onetime":
        return [
            {"role": "user", "content": ground_first_turn(block, task, [s.line for s in steps])},
            {"role": "assistant", "content": "; ".join(s.action_line for s in steps)},
        ]
    messages = []
    results: list[tuple[int, str]] = []
    for number, step in enumerate(steps, start=1):
        if number == 1:
            user = ground_first_turn(block, task, step.line)
        else:
            user = ground_later_turn(step.line, results if domain in GROUNDING_WITH_RESULTS else None)
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": step.action_line})
        results.append((step.index, step.grounding_result or step.result))
    return messages


def sft_record(record: Mapping[str, Any], index: int, module: Module, formulation: Formulation) -> dict[str, Any]:
    """One SFT record: `{"dataset", "id", "messages"}` as LUMOS's training sets have them."""
    domain = str(record.get("domain", "maths"))
    return {"dataset": domain, "id": f"{domain}_{index}", "messages": annotation_messages(record, module, formulation)}


def _raw_subgoal_lines(plan: str) -> list[str]:
    """The `Subgoal k: ...` lines exactly as annotated (LUMOS keeps their trailing spaces in its data)."""
    return [line for line in plan.splitlines() if _SUBGOAL_LINE.match(line)]


def _last_action_lines(plan: str) -> list[str]:
    """The last action line of each subgoal block, as annotated."""
    last: list[str] = []
    for line in plan.splitlines():
        if _SUBGOAL_LINE.match(line):
            last.append("")
        elif line.strip() and last:
            last[-1] = line
    return last


def _raw_result(line: str, parsed: str | None) -> str:
    """The annotated result as written: the parser drops a trailing period, LUMOS's grounding data keeps it."""
    if parsed is None:
        return ""
    stripped = line.strip()
    for suffix in (".",):
        if stripped.endswith(parsed + suffix):
            return parsed + suffix
    return parsed
