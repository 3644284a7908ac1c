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
from typing import Any, Literal, Mapping

from lumos_envs.actions import parse_annotation

from agents.prompts import (
    GROUNDING_WITH_RESULTS,
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
    task = str(record["task"])
    plan = str(record["subgoal_plan"])
    subgoals = parse_annotation(plan, domain)
    lines = _raw_subgoal_lines(plan)
    if len(lines) != len(subgoals):  # defensive: the parser and the line scan disagree
        lines = [subgoal_line(s.index, s.text) for s in subgoals]
    last_lines = _last_action_lines(plan)
    if module == "plan":
        messages: list[Message] = [{"role": "user", "content": plan_first_turn(task)}]
        if formulation == "onetime":
            messages.append({"role": "assistant", "content": SUBGOAL_SEPARATOR.join(lines)})
            return messages
        style = "web" if domain == "web_agent" else "result"
        for number, subgoal in enumerate(subgoals, start=1):
            if not subgoal.actions:
                raise ValueError(f"subgoal {subgoal.index} has no actions")
            line = lines[number - 1]
            messages.append({"role": "assistant", "content": line if number == 1 else KEEP_PLANNING + line})
            result = subgoal.results[-1] if subgoal.results and subgoal.results[-1] is not None else ""
            messages.append({"role": "user", "content": plan_feedback_turn(number, result, style, subgoal.text)})
        messages.append({"role": "assistant", "content": STOP_PLANNING})
        return messages
    if domain not in LUMOS_BLOCKS:
        raise ValueError(f"LUMOS has no grounding action block for domain {domain!r}")
    block = LUMOS_BLOCKS[domain]
    if formulation == "onetime":
        actions = "; ".join(s.action_line() for s in subgoals)
        return [
            {"role": "user", "content": ground_first_turn(block, task, lines)},
            {"role": "assistant", "content": actions},
        ]
    messages = []
    results: list[tuple[int, str]] = []
    for number, (subgoal, line) in enumerate(zip(subgoals, lines), start=1):
        if not subgoal.actions:
            raise ValueError(f"subgoal {subgoal.index} has no actions")
        if number == 1:
            user = ground_first_turn(block, task, line)
        else:
            user = ground_later_turn(line, results if domain in GROUNDING_WITH_RESULTS else None)
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": subgoal.action_line()})
        last = subgoal.results[-1] if subgoal.results else None
        results.append((subgoal.index, _raw_result(last_lines[number - 1] if number <= len(last_lines) else "", last)))
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
