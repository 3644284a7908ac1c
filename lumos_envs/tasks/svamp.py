"""SVAMP loader (`svamp:PATH`): one-to-three-step word problems with gold plans from their equations.

A SVAMP file (Patel et al. 2021, `SVAMP.json`) is a JSON list of `{"ID", "Body", "Question",
"Equation", "Answer", "Type"}`; `Equation` is fully parenthesised, e.g. `( ( 8.0 + 10.0 ) - 7.0 )`.
The gold plan has one subgoal per binary operation, innermost first
(`R1 = Calculator(8 + 10)`, `R2 = Calculator(R1 - 7)`), and answers with the last variable.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from lumos_envs.domains import Domain
from lumos_envs.tasks.base import GoldPlan, Task, TaskList
from lumos_envs.tasks.splits import resolve_split
from lumos_envs.tasks.math_plans import (
    BinaryStep,
    PlanBuilder,
    binary_operations,
    format_number,
    numbers_close,
    observer_leaks,
    parse_number,
)

REQUIRED_FIELDS = ("ID", "Body", "Question", "Equation", "Answer")

_SUBGOAL_TEMPLATES = {
    "+": "Calculate the sum of {a} and {b}.",
    "-": "Calculate the difference between {a} and {b}.",
    "*": "Calculate the product of {a} and {b}.",
    "/": "Calculate the quotient of {a} divided by {b}.",
    "^": "Calculate {a} to the power of {b}.",
}


def load_svamp(path: str | Path, split: str | None = None) -> TaskList:
    """Read a SVAMP JSON file into tasks with gold plans.

    Args:
        path: a JSON list of SVAMP records.
        split: recorded on each task; default: from the file name, and for a name that names
            none (`SVAMP.json`) its stem, lower-cased (`svamp`; see `lumos_envs.tasks.splits`).

    Returns:
        A `TaskList` named `svamp:{path}`, ids `svamp-{ID}`. A record whose `Equation` cannot be
        split into operations, or does not give its `Answer`, gets `plan=None` and
        `metadata["plan_error"]` (`unparsable_expression` or `equation_mismatch`; `observer_leak`
        when the plan breaks the observer rule of `lumos_envs.gold_audit`).

    Raises:
        ValueError: naming the file, item (and its line) and field, for invalid JSON, a top level
            that is not a list, or a record with a missing or ill-typed field.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="svamp")
    text = path.read_text(encoding="utf-8")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of SVAMP records, got {type(records).__name__}")
    item_lines = _item_start_lines(text, len(records))
    tasks = []
    for index, record in enumerate(records):
        where = f"{path}:{item_lines[index]}: item {index}" if item_lines else f"{path}: item {index}"
        tasks.append(_task_from_record(record, where, chosen.split))
    return TaskList(chosen.label(tasks), name=f"svamp:{path}")


def svamp_plan(equation: str) -> GoldPlan:
    """One Calculator subgoal per binary operation of `equation`, innermost first.

    Raises:
        ValueError: if the equation is not arithmetic over numbers with at least one operation.
    """
    steps = binary_operations(equation)
    builder = PlanBuilder()
    names: list[str] = []
    for step in steps:
        left, right = _operand(step.left, names), _operand(step.right, names)
        builder.subgoal(_SUBGOAL_TEMPLATES[step.op].format(a=left, b=right))
        names.append(builder.action("Calculator", f"{left} {step.op} {right}"))
    return builder.build(names[-1])


def join_question(body: str, question: str) -> str:
    """SVAMP's `Body` and `Question` as one task text.

    SVAMP bodies often end in an unfinished condition (`... If 40 alligators were hiding`) that
    the question completes, so such a body is joined with a comma and a lower-cased question word
    (`..., how many alligators were not hiding?`); any other body without final punctuation gets
    a period.
    """
    body, question = body.strip(), question.strip()
    if not body:
        return question
    if body[-1] in ".!?":
        return f"{body} {question}"
    last_sentence = re.split(r"(?<=[.!?])\s+", body)[-1]
    first_word = question.split(" ", 1)[0].lower()
    if last_sentence.split(" ", 1)[0].lower().strip(",") in _CONDITION_WORDS and first_word in _QUESTION_WORDS:
        return f"{body.rstrip(',;:')}, {question[:1].lower()}{question[1:]}"
    return f"{body.rstrip(',;:')}. {question}"


_CONDITION_WORDS = {"if", "when", "after", "since", "as", "given", "once", "suppose", "assuming"}
_QUESTION_WORDS = {"how", "what", "which", "who", "whom", "whose", "when", "where", "why", "find"}


def _task_from_record(record: Any, where: str, split: str) -> Task:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for name in REQUIRED_FIELDS:
        if name not in record:
            raise ValueError(f"{where}: missing field {name!r}")
    for name in ("Body", "Question", "Equation"):
        if not isinstance(record[name], str):
            raise ValueError(f"{where}: field {name!r} must be text, got {type(record[name]).__name__}")
    if not record["Question"].strip():
        raise ValueError(f"{where}: field 'Question' is empty")
    answer = _answer_value(record["Answer"], where)
    record_id = record["ID"]
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool) or str(record_id) == "":
        raise ValueError(f"{where}: field 'ID' must be a non-empty string or integer")
    metadata: dict[str, Any] = {"Type": record.get("Type"), "Equation": record["Equation"]}
    plan: GoldPlan | None
    try:
        plan = svamp_plan(record["Equation"])
    except ValueError as error:
        plan = None
        metadata["plan_error"] = "unparsable_expression"
        metadata["plan_error_detail"] = str(error)
    else:
        computed = _plan_value(record["Equation"])
        if computed is None or not numbers_close(computed, answer):
            plan = None
            metadata["plan_error"] = "equation_mismatch"
        elif observer_leaks(join_question(record["Body"], record["Question"]), plan):
            plan = None  # the equation types a number the problem never gives (the observer rule)
            metadata["plan_error"] = "observer_leak"
    return Task(
        id=f"svamp-{record_id}",
        domain=Domain.MATH,
        source="svamp",
        split=split,
        question=join_question(record["Body"], record["Question"]),
        answer=format_number(answer),
        plan=plan,
        metadata=metadata,
    )


def _answer_value(raw: Any, where: str) -> Fraction:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"{where}: field 'Answer' must be a number, got {raw!r}")
    try:
        if isinstance(raw, str):
            return parse_number(raw)
        return Fraction(repr(raw)) if isinstance(raw, float) else Fraction(raw)  # repr: 0.1 stays 1/10
    except ValueError:
        raise ValueError(f"{where}: field 'Answer' must be a number, got {raw!r}") from None


def _operand(operand: str | int, names: list[str]) -> str:
    return names[operand] if isinstance(operand, int) else operand


def _plan_value(equation: str) -> Fraction | None:
    """The exact value of the equation, step by step as the plan computes it."""
    values: list[Fraction] = []
    for step in binary_operations(equation):
        a = values[step.left] if isinstance(step.left, int) else parse_number(step.left)
        b = values[step.right] if isinstance(step.right, int) else parse_number(step.right)
        value = _apply(step, a, b)
        if value is None:
            return None
        values.append(value)
    return values[-1]


def _apply(step: BinaryStep, a: Fraction, b: Fraction) -> Fraction | None:
    if step.op == "+":
        return a + b
    if step.op == "-":
        return a - b
    if step.op == "*":
        return a * b
    if step.op == "/":
        return a / b if b != 0 else None
    if b.denominator == 1 and abs(b) <= 64 and (b >= 0 or a != 0):
        return a ** int(b)
    return None  # a fractional power has no exact value; SVAMP has none


def _item_start_lines(text: str, count: int) -> list[int]:
    """1-based line of each top-level list item, for error messages (empty if the layout is unusual)."""
    lines: list[int] = []
    depth, line, in_string, escaped = 0, 1, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            if depth == 1:
                lines.append(line)
        elif char in "[{":
            if depth == 1:
                lines.append(line)
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "\n":
            line += 1
    return lines if len(lines) == count else []


def svamp_task_from_row(row: Mapping[str, Any], index: int, split: str, ids: object = None) -> Task:
    """One SVAMP row read by `datasets` (`hf:` specs) as a task, exactly as `load_svamp` builds it.
    (`ids` is the hub's `ContentIds`, unused: SVAMP rows carry their own `ID`.)"""
    return _task_from_record(dict(row), f"row {index}", split)
