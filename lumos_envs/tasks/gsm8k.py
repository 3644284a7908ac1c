"""GSM8K loader (`gsm8k:PATH`): grade-school word problems with gold LUMOS plans read off the rationale.

A GSM8K record (Cobbe et al. 2021, `grade_school_math/data/*.jsonl`) is `{"question", "answer"}`
where `answer` is a rationale whose calculations carry calculator marks `<<48/2=24>>` and whose
last line is `#### 72`. `load_gsm8k` turns every rationale line that computes something into a
subgoal ("Calculate the number of days left in the year.", never its result: the `= 185` parts
and numbers the plan computes are left out or written as their variables, so an observer of the
episode could write it; see `lumos_envs.gold_audit`) whose actions are one Calculator call
per mark and per unmarked calculation (`160-60 = 100`, `$4 + $2 = $6`). A number that repeats an
earlier result (and is not in the question) becomes a reference to that result's variable, so
plans chain like LUMOS plans (`R3 = Calculator(R2 * 2)`). The plan's answer is the last variable
equal to the `####` answer; failing that, general rules add one step (rounding, a standard unit
conversion, a percentage). A number the rationale types but the task never gives (worked out
in the writer's head) is computed first the way the rationale itself works it out, where it
does: its own arithmetic for that value (a mark, `15 x 30 = <<450=450>>450`, `86(2)`, `x =
45/3`), the steps of an equation it solves (`x + 4x` -> `1 + 4`, `5x + 7 = 52` -> `52 - 7`,
`5x = 45` -> `45 / 5`) or a quantity it restates in another unit (`0.5 hours` for the task's
`30 minutes` -> `30 / 60`); a `+ 0` term is left out. A number the rationale never works out
(world knowledge such as 2 wheels on a bike, or a product it only states) is not guessed at,
and a plan that breaks the observer rule is dropped (`plan_error="observer_leak"`). Items that
cannot be converted keep `plan=None` and a `metadata["plan_error"]` cause; they are returned
all the same and fail gold replay.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import AbstractSet as Set, Any, Iterable, Mapping, Sequence

from lumos_envs.domains import Domain
from lumos_envs.gold_audit import UNIT_CONVERSIONS, ObserverKnowledge, number_spans
from lumos_envs.jsonl import iter_jsonl
from lumos_envs.tasks.base import GoldPlan, Task, TaskList
from lumos_envs.tasks.splits import ContentIds, resolve_split
from lumos_envs.tasks.math_plans import (
    ArithToken,
    PlanBuilder,
    exact_value,
    format_number,
    formula_tokens_only,
    numbers_close,
    observer_leaks,
    parse_number,
    render_formula,
    shown_as,
    to_fraction,
    tokenize_arithmetic,
)

PLAN_ERRORS = ("final_answer_not_computed", "no_arithmetic", "mark_mismatch", "unparsable_expression", "observer_leak")
"""the causes `metadata["plan_error"]` can name; `observer_leak`: the only plan the rationale gives
breaks the observer rule (`lumos_envs.gold_audit`), e.g. it types a number worked out in the
writer's head that the rationale writes no calculation for (`8 * 3` for 8 pages per 20 minutes)
or a constant from world knowledge (4 legs on a dog)"""

MAX_WORDS_BETWEEN_OPERANDS = 6
"""words (units, descriptions) allowed between a number and the next operator in unmarked arithmetic"""

MAX_WORDS_AFTER_OPERATOR = 1
"""words allowed between an operator and the next number (`$12 - the $4 = ...` is rare)"""

UNIT_FACTORS: tuple[tuple[str, str, int], ...] = (*UNIT_CONVERSIONS, ("item", "dozen", 12))
"""standard factors (smaller unit, larger unit, how many smaller units make one larger one): the
audit's `UNIT_CONVERSIONS`, so a conversion step uses a constant the audit lets an observer type"""

_UNIT_FORMS = {
    "seconds": "second", "minutes": "minute", "mins": "minute", "min": "minute", "hours": "hour",
    "hrs": "hour", "hr": "hour", "days": "day", "weeks": "week", "years": "year", "months": "month",
    "decades": "decade", "centuries": "century", "inches": "inch", "feet": "foot", "ft": "foot",
    "yards": "yard", "miles": "mile", "millimeters": "millimeter", "mm": "millimeter",
    "centimeters": "centimeter", "cm": "centimeter", "meters": "meter", "m": "meter",
    "kilometers": "kilometer", "km": "kilometer", "ounces": "ounce", "oz": "ounce", "pounds": "pound",
    "lbs": "pound", "lb": "pound", "tons": "ton", "grams": "gram", "g": "gram", "kilograms": "kilogram",
    "kg": "kilogram", "milliliters": "milliliter", "ml": "milliliter", "liters": "liter", "l": "liter",
    "cups": "cup", "pints": "pint", "quarts": "quart", "gallons": "gallon", "cents": "cent",
    "pennies": "penny", "nickels": "nickel", "dimes": "dime", "quarters": "quarter", "dollars": "dollar",
    "dozens": "dozen",
}

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "dozen": 12,
}

_MARK_RE = re.compile(r"<<([^<>]*)>>")
_FINAL_LINE_RE = re.compile(r"^[ \t]*####[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_ROUNDING_WORDS_RE = re.compile(r"\b(round\w*|up|down|whole|nearest|full|complete|entire)\b", re.IGNORECASE)
_PERCENT_RE = re.compile(r"%|\bpercent", re.IGNORECASE)
_STATED_PERCENT_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Loading


def load_gsm8k(path: str | Path, split: str | None = None) -> TaskList:
    """Read a GSM8K jsonl file into tasks with gold plans.

    Args:
        path: a `.jsonl` file, one `{"question": ..., "answer": ...}` object per line (an `id`
            field, where present, is used as the task id).
        split: recorded on each task and used in generated ids; default: from the file name
            (`train.jsonl` -> train, `test_sample.jsonl` -> test; see `lumos_envs.tasks.splits`).
            GSM8K rows have no id, so ids are `gsm8k-{split}-{digest of question and answer}`.

    Returns:
        A `TaskList` named `gsm8k:{path}`; tasks whose rationale cannot be converted have
        `plan=None` and `metadata["plan_error"]` (one of `PLAN_ERRORS`).

    Raises:
        ValueError: naming the file, line and field, for invalid JSON, a missing or non-text
            `question`/`answer`, or an `answer` without a numeric `#### N` line; or a `split`
            that names no split.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="gsm8k")
    ids = ContentIds("gsm8k", chosen.split)
    tasks: list[Task] = []
    for number, record in iter_jsonl(path):
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        tasks.append(_task_from_record(record, where, number - 1, chosen.split, ids))
    return TaskList(chosen.label(tasks), name=f"gsm8k:{path}")


def gsm8k_plan_stats(tasks: Iterable[Task]) -> dict[str, int]:
    """Counts of convertible items and of each `plan_error` cause, plus `total`."""
    counts = Counter({"total": 0, "convertible": 0, **{cause: 0 for cause in PLAN_ERRORS}})
    for task in tasks:
        counts["total"] += 1
        if task.plan is not None:
            counts["convertible"] += 1
        else:
            counts[str(task.metadata.get("plan_error", "unknown"))] += 1
    return dict(counts)


def split_gsm8k_answer(answer: str) -> tuple[str, str]:
    """Split a GSM8K `answer` field into (rationale, final answer as a plain number text).

    Raises:
        ValueError: if there is no `#### N` line or N is not a number (commas and `$` are allowed).
    """
    matches = list(_FINAL_LINE_RE.finditer(answer))
    if not matches:
        raise ValueError("no final '#### N' line")
    final = matches[-1]
    raw = final.group(1)
    try:
        value = parse_number(raw)
    except ValueError:
        raise ValueError(f"final answer {raw!r} after '####' is not a number") from None
    if raw.strip().endswith("%"):
        value *= 100  # '#### 60%' means the number 60
    rationale = answer[: final.start()].rstrip()
    return rationale, format_number(value)


def gsm8k_plan(question: str, rationale: str, answer: str) -> tuple[GoldPlan | None, str | None]:
    """Derive a gold LUMOS plan from a GSM8K rationale.

    Returns:
        `(plan, None)`, or `(None, cause)` with a cause from `PLAN_ERRORS`.
    A plan that breaks the observer rule is not returned: `(None, "observer_leak")`.
    """
    converter = _RationaleConverter(question, answer)
    plan, error = converter.convert(rationale)
    if plan is not None and observer_leaks(question, plan, converter.values):
        return None, "observer_leak"
    return plan, error


def _task_from_record(record: dict, where: str, line_index: int, split: str, ids: ContentIds) -> Task:
    for name in ("question", "answer"):
        if name not in record:
            raise ValueError(f"{where}: missing field {name!r}")
        if not isinstance(record[name], str) or not record[name].strip():
            raise ValueError(f"{where}: field {name!r} must be non-empty text")
    try:
        rationale, answer = split_gsm8k_answer(record["answer"])
    except ValueError as error:
        raise ValueError(f"{where}: field 'answer': {error}") from None
    task_id = str(record["id"]) if record.get("id") not in (None, "") else ids(record["question"], record["answer"])
    question = record["question"].strip()
    plan, error = gsm8k_plan(question, rationale, answer)
    metadata = {"rationale": rationale, "line": line_index + 1}
    if error is not None:
        metadata["plan_error"] = error
    return Task(id=task_id, domain=Domain.MATH, source="gsm8k", split=split, question=question,
                answer=answer, plan=plan, metadata=metadata)


# ---------------------------------------------------------------------------------------------
# Rationale -> plan


@dataclass
class _Var:
    name: str
    exact: Fraction
    """the value the executor computes"""
    shown: Fraction
    """the value the rationale writes (may be rounded)"""
    subgoal_index: int


@dataclass
class _Computation:
    position: int
    tokens: list[ArithToken]
    shown_text: str
    is_mark: bool = False
    """a calculator mark, checked against its shown value when it is converted"""


@dataclass
class _Outcome:
    unparsable: list[str] = field(default_factory=list)
    """shown values of marks we could not parse"""
    mismatched: list[str] = field(default_factory=list)
    """shown values of marks whose expression does not give them"""


class _RationaleConverter:
    """One rationale's conversion; holds the variables computed so far."""

    def __init__(self, question: str, answer: str) -> None:
        self.answer = parse_number(answer)
        self.question = question
        self.question_values = _question_numbers(question)
        self.knowledge = ObserverKnowledge()
        self.knowledge.add(question)
        self.question_values |= self.knowledge.stated
        self.known_numbers = {v for v in self.question_values | self.knowledge.cued | {Fraction(1)}
                              if v != self.answer or v in self.question_values}
        """numbers a subgoal text may hold (the audit's stated and cued numbers and 1, the answer
        only where the question states it)"""
        self.builder = PlanBuilder()
        self.vars: list[_Var] = []
        self.values: dict[str, Fraction] = {}
        """the exact value of every variable the plan assigns, so the audit need not evaluate them again"""
        self.outcome = _Outcome()
        self.lines: list[tuple[str, list[ArithToken]]] = []
        self.rationale_lines: list[str] = []
        self.arithmetic: _RationaleArithmetic | None = None
        self.percent_cued = bool(_PERCENT_RE.search(question))
        """the task speaks of percents, so a percent and its fraction are one number (`_percent_restatements`)"""
        """every calculation the rationale writes, read when a number needs one (`_derivation`)"""

    def convert(self, rationale: str) -> tuple[GoldPlan | None, str | None]:
        self.rationale_lines = [line.strip() for line in rationale.split("\n") if line.strip()]
        for line in self.rationale_lines:
            self._convert_line(line)
        for var in reversed(self.vars):
            if numbers_close(var.exact, self.answer):
                return self.builder.build(var.name, truncate=True), None
        plan = self._rounding() or self._unit_conversion() or self._percentage()
        if plan is not None:
            return plan, None
        return None, self._failure_cause()

    # -- one line ------------------------------------------------------------------------------

    def _convert_line(self, line: str) -> None:
        cleaned, mark_spans = _strip_marks(line)
        tokens = tokenize_arithmetic(cleaned)
        self.lines.append((cleaned, tokens))
        computations: list[_Computation] = []
        for position, expr, shown in mark_spans:
            computation = self._mark_computation(position, expr, shown)
            if computation is not None:
                computations.append(computation)
        # a mark that only restates a value (`15 x 30 = <<450=450>>450`) leaves the text's own
        # arithmetic to be read as an unmarked calculation
        marked_positions = [position for position, expr, _ in mark_spans if not _restates_a_value(expr)]
        computations += self._unmarked_computations(tokens, marked_positions)
        computations.sort(key=lambda c: c.position)
        earlier = list(self.vars)
        line_vars: list[_Var] = []
        typed: set[Fraction] = set()
        for computation in computations:
            if not self.knowledge.has_number(Fraction(0)):
                # `5 + 8 + 0`: a zero term adds nothing, and an observer has no 0 to type
                computation.tokens = _without_zero_terms(computation.tokens)
                if not _has_operation(computation.tokens):
                    continue
            formula, exact = self._formula_with_references(computation)
            if formula is None or exact is None:
                continue
            if not line_vars:
                self.builder.subgoal(subgoal_text(cleaned))
            formula = self._observed_literals(formula, line_vars)
            typed.update(value for _, value, _, _ in number_spans(formula))
            name = self._action(formula, exact)
            line_vars.append(_Var(name, exact, parse_number(computation.shown_text), len(self.lines) - 1))
            self.vars.append(line_vars[-1])
        if line_vars:
            # the text is written from the sentence, then stripped of what the line computes
            # a cued constant that this line computes, not types, is its result: a variable in the text
            computed = {v for var in line_vars for v in (var.exact, var.shown)} - typed - self.question_values
            self.builder.retitle(subgoal_text(cleaned, known=self.known_numbers - computed, variables=earlier + line_vars))

    def _mark_computation(self, position: int, expr: str, shown: str) -> _Computation | None:
        tokens = tokenize_arithmetic(expr)
        try:
            parse_number(shown)
        except ValueError:
            self.outcome.unparsable.append(shown)
            return None
        if not tokens or not formula_tokens_only(tokens) or not any(t.kind == "num" for t in tokens):
            self.outcome.unparsable.append(shown)
            return None
        if not any(t.kind == "op" for t in tokens):
            return None  # `<<125=125>>` restates a value; nothing to compute
        return _Computation(position, tokens, shown, is_mark=True)

    def _unmarked_computations(self, tokens: Sequence[ArithToken], marked: Sequence[int]) -> list[_Computation]:
        """`a op b (op c)* = d` written without a mark, for each `=` whose right side is a plain number."""
        found: list[_Computation] = []
        segment_start = 0
        for e, token in enumerate(tokens):
            if token.kind != "eq":
                continue
            start, segment_start = segment_start, e + 1
            rhs = tokens[e + 1] if e + 1 < len(tokens) else None
            if rhs is None or rhs.kind != "num" or any(rhs.start <= p < rhs.end for p in marked):
                continue
            for chain in _candidate_chains(tokens, start, e):
                literal = _evaluate(render_formula(chain))
                if literal is not None and shown_as(literal, rhs.text):
                    found.append(_Computation(rhs.start, list(chain), rhs.text))
                    break
        return found

    def _formula_with_references(self, computation: _Computation) -> tuple[str | None, Fraction | None]:
        """The formula with earlier results as variables, and the value the executor will get.

        Tried in order: with references (exact earlier results), then all literals; a result the
        rationale shows as a whole number gets `floor`/`ceil`/`round` when that is what it did
        (`10/3 = 3` followed by `3 * 4`). A mark that none of these reproduces is a mismatch.
        """
        replacements: dict[int, str] = {}
        values: dict[str, Fraction] = {}
        for i, token in enumerate(computation.tokens):
            if token.kind != "num":
                continue
            value = token.value
            if value in self.question_values:
                continue
            # a percent is its result only as that fraction: `70%` after `100% - 30% = 70%` (0.7)
            var = self._var_with_exact(value) if token.is_percent else self._var_with_value(value)
            if var is not None:
                replacements[i] = var.name
                values[var.name] = var.exact
        shown = computation.shown_text
        candidates = [render_formula(computation.tokens, replacements)] if replacements else []
        candidates.append(render_formula(computation.tokens))
        evaluated: list[tuple[str, Fraction]] = []
        for formula in candidates:
            exact = _evaluate(_substitute(formula, values))
            if exact is None:
                continue
            if shown_as(exact, shown):
                return formula, exact
            evaluated.append((formula, exact))
        target = parse_number(shown)
        if target.denominator == 1:
            for formula, exact in evaluated:
                for name, rounder in (("floor", math.floor), ("ceil", math.ceil), ("round", _round_half_up)):
                    if abs(exact - target) < 1 and rounder(exact) == target:
                        return f"{name}({formula})", Fraction(target)
        if not evaluated:
            self.outcome.unparsable.append(shown)
        elif computation.is_mark:
            self.outcome.mismatched.append(shown)
        return None, None

    def _observed_literals(self, formula: str, line_vars: list[_Var]) -> str:
        """`formula` with each number an observer cannot type (worked out in the writer's head)
        computed first by the rationale's own arithmetic for it (`_derivation`): `x = 45/3`
        then `2*15` gives `R1 = Calculator(45 / 3)`, then `2 * R1`. A number the rationale
        never works out is left as it is (the plan then fails the audit and is dropped): a
        guessed operation that merely gives the value (`1.5 + 0.5` for 2) is no derivation."""
        pieces: list[str] = []
        last = 0
        for raw, value, start, end in number_spans(formula):
            if self.knowledge.has_number(value) or (start > 0 and formula[start - 1] == "R"):
                continue
            steps = self._derivation(value, frozenset())
            if steps is None:
                continue
            names: list[str] = []
            for tokens, references, step_value in steps:
                replacements = {i: ref if isinstance(ref, str) else names[ref] for i, ref in references.items()}
                names.append(self._action(render_formula(tokens, replacements), step_value))
                line_vars.append(_Var(names[-1], step_value, step_value, len(self.lines) - 1))
                self.vars.append(line_vars[-1])
            pieces += [formula[last:start], names[-1]]
            last = end
        return "".join(pieces) + formula[last:]

    def _derivation(self, value: Fraction, outer: frozenset[Fraction]) -> list[_Step] | None:
        """Calculator steps that compute `value` the way the rationale writes it, over numbers an
        observer knows and earlier results, or None.

        Candidates are the rationale's arithmetic whose exact value is `value`
        (`_RationaleArithmetic`: a calculator mark, a calculation in the text with or without
        its result, `15 x 30 = <<450=450>>450`, `x = 45/3`, `86(2)`; the steps of an equation
        it solves; a quantity it restates in another unit), the line being converted and the
        ones before it first. An operand that is itself worked out in the head gets its own
        steps first (`MAX_DERIVATION_DEPTH`). Nothing else is tried: an operation found by
        search over the task's numbers gives the value, not the reason (`1.5 + 0.5` for the 2
        wheels of a bike)."""
        if value in outer or len(outer) >= MAX_DERIVATION_DEPTH:
            return None
        for tokens in self._arithmetic_giving(value):
            steps: list[_Step] = []
            references: dict[int, str | int] = {}
            shown: dict[int, str] = {}
            for i, token in enumerate(tokens):
                if token.kind != "num":
                    continue
                operand = token.value
                if self.knowledge.has_number(operand * 100 if token.is_percent else operand):
                    continue  # `25%` is typed as 25
                var = next((v for v in reversed(self.vars) if v.exact == operand), None)
                if var is not None:
                    references[i], shown[i] = var.name, f"({var.exact})"
                    continue
                inner = None if token.is_percent else self._derivation(operand, outer | {value})
                if inner is None:
                    break
                base = len(steps)
                steps += [(t, {j: r if isinstance(r, str) else r + base for j, r in refs.items()}, v)
                          for t, refs, v in inner]
                references[i], shown[i] = len(steps) - 1, f"({operand})"
            else:
                if _evaluate(render_formula(tokens, shown)) == value:
                    return [*steps, (list(tokens), references, value)]
        return None

    def _arithmetic_giving(self, value: Fraction) -> Iterable[list[ArithToken]]:
        """The rationale's calculations (`_RationaleArithmetic`) whose value is `value`, those on
        the line being converted and before it first (nearest first), then later ones."""
        if self.arithmetic is None:
            self.arithmetic = _RationaleArithmetic(self.rationale_lines, self.question)
        current = len(self.lines) - 1
        found = self.arithmetic.by_value.get(value, [])
        order = sorted(found, key=lambda item: (item[0] > current, abs(item[0] - current)))
        for _, tokens in order:
            if not any(t.kind == "num" and t.value == value for t in tokens):  # `15 = 15 * 1` explains nothing
                yield tokens
        yield from self.arithmetic.with_company.get(value, [])
        yield from self.arithmetic.cents_as_dollars.get(value, [])
        if self.percent_cued:
            yield from self._percent_restatements(value)
            yield from self.arithmetic.percent_complements.get(value, [])

    def _percent_restatements(self, value: Fraction) -> Iterable[list[ArithToken]]:
        """A result restated between a percent and a fraction where the texts speak of percents:
        `.75` after `100 - 25 = 75` (%) is `75 / 100`; `30` after `100% - 70% = 30%` is `0.3 * 100`."""
        for var in reversed(self.vars):
            if var.exact == value * 100:
                yield tokenize_arithmetic(f"{format_number(var.exact)} / 100")
            elif var.exact * 100 == value:
                yield tokenize_arithmetic(f"{format_number(var.exact)} * 100")

    # -- when no variable equals the answer -----------------------------------------------------

    def _rounding(self) -> GoldPlan | None:
        text = " ".join([self.question, *(cleaned for cleaned, _ in self.lines)])
        words = {w.lower() for w in _ROUNDING_WORDS_RE.findall(text)}
        if not words:
            return None
        order = ["floor", "ceil", "round"] if "down" in words else ["ceil", "floor", "round"]
        rounders = {"ceil": math.ceil, "floor": math.floor, "round": _round_half_up}
        for var in reversed(self.vars):
            if var.exact.denominator == 1:
                continue
            for name in order:
                if rounders[name](var.exact) == self.answer:
                    direction = {"ceil": "up", "floor": "down", "round": "to the nearest"}[name]
                    self._truncate_to(var)
                    self.builder.subgoal(f"Round the result {direction} to a whole number.")
                    self._action(f"{name}({var.name})", Fraction(rounders[name](var.exact)))
                    return self.builder.build(self.builder.last_var)
        return None

    def _unit_conversion(self) -> GoldPlan | None:
        """`A unit1 = B unit2` (or `is`, `,`, `or`) in a line, with A a result and B the answer."""
        for _, tokens in self.lines:
            for j, target in enumerate(tokens):
                if target.kind != "num" or target.value != self.answer:
                    continue
                unit_to = _unit_after(tokens, j)
                if unit_to is None:
                    continue
                for i in range(j - 1, -1, -1):
                    source = tokens[i]
                    if source.kind != "num":
                        continue
                    unit_from = _unit_after(tokens, i)
                    var = self._var_with_value(source.value)
                    if unit_from is None or var is None:
                        continue
                    conversion = _conversion_formula(var.name, var.exact, unit_from, unit_to, self.answer)
                    if conversion is None:
                        continue
                    self._truncate_to(var)
                    self.builder.subgoal(f"Convert the result from {unit_from[1]} to {unit_to[1]}.")
                    self._action(*conversion)
                    return self.builder.build(self.builder.last_var)
        return None

    def _percentage(self) -> GoldPlan | None:
        text = " ".join([self.question, *(cleaned for cleaned, _ in self.lines)])
        if not _PERCENT_RE.search(text):
            return None
        for var in reversed(self.vars):
            if numbers_close(var.exact * 100, self.answer):
                self._truncate_to(var)
                self.builder.subgoal("Convert the result to a percentage.")
                self._action(f"{var.name} * 100", var.exact * 100)
                return self.builder.build(self.builder.last_var)
        return None

    def _action(self, formula: str, value: Fraction) -> str:
        """Append `R{n} = Calculator(formula)`, whose exact value is `value`; returns `R{n}`."""
        name = self.builder.action("Calculator", formula)
        self.values[name] = value
        return name

    def _var_with_exact(self, value: Fraction) -> _Var | None:
        return next((var for var in reversed(self.vars) if var.exact == value), None)

    def _var_with_value(self, value: Fraction) -> _Var | None:
        for var in reversed(self.vars):
            if var.shown == value or var.exact == value:
                return var
        return None

    def _truncate_to(self, var: _Var) -> None:
        """Forget the actions after `var`, so a rescue step follows the result it converts."""
        truncated = self.builder.build(var.name, truncate=True)
        builder = PlanBuilder()
        for subgoal in truncated.subgoals:
            builder.subgoal(subgoal.text)
            for action in subgoal.actions:
                builder.action("Calculator", action.split("Calculator(", 1)[1][:-1])
        self.builder = builder
        self.vars = [v for v in self.vars if int(v.name[1:]) <= int(var.name[1:])]
        self.values = {name: value for name, value in self.values.items() if int(name[1:]) <= int(var.name[1:])}

    def _failure_cause(self) -> str:
        answer_text = format_number(self.answer)
        if any(_same_number(s, answer_text) for s in self.outcome.unparsable):
            return "unparsable_expression"
        if any(_same_number(s, answer_text) for s in self.outcome.mismatched):
            return "mark_mismatch"
        if not self.vars:
            if self.outcome.mismatched:
                return "mark_mismatch"
            if self.outcome.unparsable:
                return "unparsable_expression"
            return "no_arithmetic"
        return "final_answer_not_computed"


_Step = tuple[list[ArithToken], dict[int, "str | int"], Fraction]
"""one derived Calculator step: its tokens, the numbers it takes from variables (token index ->
variable name, or the index of an earlier step) and its exact value"""

MAX_DERIVATION_DEPTH = 3
"""how deep `_derivation` follows numbers worked out in the head to compute one (`x = 45/3`
where 45 is itself `52 - 7`)"""

_EQUATION_RE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*\*?\s*([A-Za-z])(?:\s*([-+])\s*\$?(\d+(?:\.\d+)?))?\s*=\s*\$?(\d+(?:\.\d+)?)(?![\w.])"
)


_TERM = r"(?:\d+(?:\.\d+)?\s*\*?\s*)?[A-Za-z](?![A-Za-z])|\d+(?:\.\d+)?"
_LIKE_TERMS_RE = re.compile(rf"(?<![\w.])(?:{_TERM})(?:\s*[-+]\s*(?:{_TERM}))+")
_COMPANIONS = r"(?:\w+ )?(?:friends|brothers|sisters|siblings|children|kids|sons|daughters|cousins|classmates|teammates|roommates|coworkers|co-workers|colleagues)"
_COUNT = r"\d+|" + "|".join(w for w in ("one two three four five six seven eight nine ten eleven twelve").split())
_COMPANY_RE = re.compile(
    rf"\b(?:and|with) (?:his|her|their|my) (?P<n>{_COUNT}) {_COMPANIONS}\b"
    rf"|\b(?P<m>{_COUNT}) {_COMPANIONS}\b[^.?!]*[.?!]?[^.?!]*\bincluding (?:him|her|himself|herself|me|myself)\b",
    re.IGNORECASE,
)
"""a person with N named companions: the group is N + 1 (`and her 3 friends`, `4 friends ... including him`)"""
_DISTRIBUTED_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*\*?\s*\(([^()]*(?<![A-Za-z])[A-Za-z](?![A-Za-z])[^()]*)\)")
"""a number times a parenthesised expression in an unknown, `4(3+2x)`, `2(3x)`: multiplied out in the head"""
_LETTER_TERM_RE = re.compile(r"([-+])?\s*(?:(\d+(?:\.\d+)?)\s*\*?\s*)?(?<![A-Za-z])([A-Za-z])(?![A-Za-z])")


class _RationaleArithmetic:
    """Every calculation a rationale writes, by exact value: calculator marks, arithmetic in the
    text (each chain, whether or not a result follows it), the steps of an equation in one
    unknown that it solves (like terms collected, `x + 4x` -> `1 + 4`; a constant moved,
    `5x + 7 = 52` -> `52 - 7`; the coefficient divided out, `5x = 45` -> `45 / 5`), and a
    quantity it restates in another unit (`0.5 hours` after the task's or its own `30 minutes`
    -> `30 / 60`, `UNIT_FACTORS`; the audit still decides whether the factor is known)."""

    def __init__(self, lines: Sequence[str], question: str) -> None:
        self.by_value: dict[Fraction, list[tuple[int, list[ArithToken]]]] = {}
        self.percent_complements: dict[Fraction, list[list[ArithToken]]] = {}
        """the rest and the increased whole of each percent p the task states, worked out in the
        head: `100 - p`, `100 + p`, `1 - p / 100`, `1 + p / 100` (`60% ... the remaining 40%`;
        `a 20% raise` -> `* 1.2`), read only when no calculation of the rationale gives the value"""
        for p in dict.fromkeys(_STATED_PERCENT_RE.findall(question)):
            for formula in (f"100 - {p}", f"100 + {p}", f"1 - {p} / 100", f"1 + {p} / 100"):
                tokens = tokenize_arithmetic(formula)
                complement = _evaluate(formula)
                if complement is not None and complement > 0:
                    self.percent_complements.setdefault(complement, []).append(tokens)
        self.with_company: dict[Fraction, list[list[ArithToken]]] = {}
        """a person and the N companions the task names, counted in the head: `John and his two
        brothers` -> `2 + 1`, `7 friends ... including him` -> `7 + 1` (`_COMPANY_RE`)"""
        for match in _COMPANY_RE.finditer(question):
            count = match.group("n") or match.group("m")
            n = _NUMBER_WORDS.get(count.lower()) or int(count)
            self.with_company.setdefault(Fraction(n + 1), []).append(tokenize_arithmetic(f"{n} + 1"))
        quantities = _quantities(tokenize_arithmetic(question))
        self.cents_as_dollars: dict[Fraction, list[list[ArithToken]]] = {}
        """a price the task gives in cents, used in the dollars it also names (`$150 plus 50 cents
        a mile` -> `50 / 100`), where the rationale writes the dollars without a unit (`620*0.5`)"""
        if re.search(r"\$|\bdollars?\b", question, re.IGNORECASE):
            for given, unit in quantities:
                if unit == "cent":
                    self.cents_as_dollars.setdefault(given / 100, []).append(_binary_tokens(format_number(given), "/", "100"))
        for index, line in enumerate(lines):
            cleaned, marks = _strip_marks(line)
            line_quantities = _quantities(tokenize_arithmetic(cleaned))
            for k, (value, unit) in enumerate(line_quantities):  # `0.5 hours` for the task's `30 minutes`
                for given, given_unit in quantities + line_quantities[:k]:
                    conversion = _conversion_between(given, given_unit, unit, value)
                    if conversion is not None:
                        self._add(index, conversion)
            quantities += line_quantities
            for _, expr, _ in marks:
                tokens = tokenize_arithmetic(expr)
                if tokens and formula_tokens_only(tokens) and _has_operation(tokens):
                    self._add(index, tokens)
            tokens = tokenize_arithmetic(cleaned)
            for s in range(len(tokens)):
                continues = (s > 0 and tokens[s - 1].kind in ("op", "lparen")) or (
                    s > 1 and tokens[s - 1].kind == "word" and tokens[s - 2].kind == "op")
                if tokens[s].kind in ("num", "lparen") and not continues:  # whole chains, not their tails
                    chain = _chain_from(tokens, s, len(tokens))
                    if chain is not None:
                        self._add(index, chain[1])
            for match in _LIKE_TERMS_RE.finditer(cleaned):
                terms = [(sign or "+", coefficient or "1", unknown)
                         for sign, coefficient, unknown in _LETTER_TERM_RE.findall(match.group())]
                for unknown in {letter for _, _, letter in terms}:
                    same = [(sign, coefficient) for sign, coefficient, letter in terms if letter == unknown]
                    if len(same) > 1:  # `x + 3x` -> 1 + 3, `5*x + x` -> 5 + 1: the 4x and 6x it writes next
                        self._add(index, _sum_tokens(same))
            for match in _DISTRIBUTED_RE.finditer(cleaned):  # `4(3+2x)` -> 4 * 3 and 4 * 2: the 12 + 8x it writes next
                for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?", match.group(2)):
                    self._add(index, _binary_tokens(match.group(1), "*", number))
            for match in _EQUATION_RE.finditer(cleaned):
                coefficient, unknown, sign, constant, total = match.groups()
                if len(re.findall(rf"(?<![A-Za-z]){unknown}(?![A-Za-z])", "\n".join(lines))) < 2:
                    continue  # a letter the rationale names once is a unit (`10 m = ...`), not an unknown
                if sign:
                    self._add(index, _binary_tokens(total, "+" if sign == "-" else "-", constant))
                else:
                    self._add(index, _binary_tokens(total, "/", coefficient))

    def _add(self, index: int, tokens: list[ArithToken]) -> None:
        value = _evaluate(render_formula(tokens))
        if value is not None:
            self.by_value.setdefault(value, []).append((index, tokens))


def _quantities(tokens: Sequence[ArithToken]) -> list[tuple[Fraction, str]]:
    """(number, canonical unit) for each number followed by a unit of `UNIT_FACTORS`."""
    units = {unit for small, large, _ in UNIT_FACTORS for unit in (small, large)} - {"item"}
    found = []
    for i, token in enumerate(tokens):
        unit = _unit_after(tokens, i) if token.kind == "num" and not token.is_percent else None
        if unit is not None and unit[0] in units:
            found.append((token.value, unit[0]))
    return found


def _conversion_between(given: Fraction, given_unit: str, unit: str, value: Fraction) -> list[ArithToken] | None:
    """`given / factor` or `given * factor` when a direct factor turns `given` (in `given_unit`) into `value` (in `unit`)."""
    for small, large, factor in UNIT_FACTORS:
        if (given_unit, unit) == (small, large) and given / factor == value:
            return _binary_tokens(format_number(given), "/", str(factor))
        if (given_unit, unit) == (large, small) and given * factor == value:
            return _binary_tokens(format_number(given), "*", str(factor))
    return None


def _sum_tokens(terms: Sequence[tuple[str, str]]) -> list[ArithToken]:
    """`+ 5`, `- 0.25`, `+ 1` as tokens of `5 - 0.25 + 1` (a leading `+` dropped)."""
    tokens: list[ArithToken] = []
    for sign, coefficient in terms:
        if tokens or sign == "-":
            tokens.append(ArithToken("op", sign, 0, 0, op=sign))
        tokens.append(ArithToken("num", coefficient, 0, 0))
    return tokens


def _binary_tokens(left: str, op: str, right: str) -> list[ArithToken]:
    return [ArithToken("num", left, 0, 0), ArithToken("op", op, 0, 0, op=op), ArithToken("num", right, 0, 0)]


# ---------------------------------------------------------------------------------------------
# Subgoal text

_LEADING_CONNECTIVES_RE = re.compile(
    r"^(?:(?:so|thus|therefore|hence|then|and|next|now|finally|first|second|third|lastly|overall|"
    r"altogether|in total|in all|together|that means|this means|which means)\b,?\s*)+",
    re.IGNORECASE,
)
_COPULA_RE = re.compile(
    r"\s+(?:is|are|was|were|will be|would be|comes to|came to|comes out to|came out to|equals|totals)\s+"
    r"|\s*=\s*|:",
    re.IGNORECASE,
)
_DETERMINERS = {"the", "a", "an", "his", "her", "their", "its", "our", "my", "your", "each", "every",
                "this", "that", "these", "those", "total", "one"}
_IMPERATIVE_VERBS = {"find", "calculate", "compute", "figure", "determine", "multiply", "divide", "add",
                     "subtract", "double", "triple", "halve", "work", "count", "sum", "convert", "take"}
_ARITHMETIC_IN_TEXT_RE = re.compile(r"\d\s*[-+*/x×÷–]\s*\$?\d|=")
MAX_SUBGOAL_HEAD_WORDS = 16
"""longest noun phrase (in words) taken from a sentence for `Calculate <noun phrase>.`"""


def subgoal_text(sentence: str, *, known: Set[Fraction] | None = None, variables: Sequence[_Var] = ()) -> str:
    """A LUMOS-style subgoal from a rationale sentence (marks already removed), without results.

    `The number of days left in the year is 365 - 180 = 185` -> `Calculate the number of days left
    in the year.`; `First find the length of each piece: 6 + 2 = 8` -> `Find the length of each
    piece.`; anything else -> `Calculate: <sentence>.` with its `= result` parts removed
    (`Kael brought 5 x 2 = 10 apples.` -> `Calculate: Kael brought 5 x 2 apples.`).

    LUMOS subgoals say what is computed, never its value (the observer rule of
    `lumos_envs.gold_audit`). With `known` (the numbers the task text gives), every other number
    left in the text is a result: it becomes the variable that holds it (`variables`, the
    plan's results so far, this line's included) or, when no variable holds it, is dropped.
    """
    return _without_results(_subgoal_shape(sentence), known, variables)


def _subgoal_shape(sentence: str) -> str:
    text = re.sub(r"\s+", " ", sentence).strip().replace(";", ",")
    body = _LEADING_CONNECTIVES_RE.sub("", text)
    before_colon, colon, _ = body.partition(":")
    if colon and _is_imperative(before_colon):
        return _sentence(before_colon)
    head = _COPULA_RE.split(body, maxsplit=1)[0].strip(" ,.") if _COPULA_RE.search(body) else ""
    words = head.split()
    if (words and words[0].lower() in _DETERMINERS and len(words) <= MAX_SUBGOAL_HEAD_WORDS
            and not _ARITHMETIC_IN_TEXT_RE.search(head) and "$" not in head and "," not in head
            and not any(w.lower() in _CLAUSE_WORDS for w in words)):
        return f"Calculate {words[0].lower()} {' '.join(words[1:])}".rstrip() + "."
    clause = re.match(r"([A-Za-z][^:,=]*?)(?:,|\s+\$?\d|$)", body)
    if clause and _is_imperative(clause.group(1)) and not _ARITHMETIC_IN_TEXT_RE.search(clause.group(1)):
        return _sentence(clause.group(1))
    rest = body.rstrip(" .,:") or text.rstrip(" .,:")  # `So`, `Therefore,` ... say nothing to a planner
    return f"Calculate: {rest[:1].upper()}{rest[1:]}."


_SHOWN_RESULT_RE = re.compile(
    r"\s*=\s*\$?\s?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?!\d|\.\d)%?"
)


def _without_results(text: str, known: Set[Fraction] | None, variables: Sequence[_Var]) -> str:
    text = _SHOWN_RESULT_RE.sub("", text)
    if known is not None:
        pieces: list[str] = []
        last = 0
        for raw, value, start, end in number_spans(text):
            if value in known:
                continue
            var = next((v for v in reversed(variables) if value in (v.shown, v.exact)), None)
            dollar = start > 0 and text[start - 1] == "$"
            pieces.append(text[last: start - 1 if dollar else start])
            pieces.append(var.name if var is not None else "")
            last = end
        pieces.append(text[last:])
        text = "".join(pieces)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([.,:%])", r"\1", text).replace("( )", "").replace("()", "")
    text = re.sub(r"\s*[-+*/×÷–]\s*(?=[.,:](?!\d)|$)", "", text)  # an operator whose operand was dropped
    text = re.sub(r"\b([A-Za-z]+) \1\b", r"\1", text)  # `20 apples = 10 apples` left `20 apples apples`
    return text.strip()


_CLAUSE_WORDS = {"so", "because", "if", "since", "then", "do", "does", "did", "not", "need", "needs",
                 "must", "can", "will", "would", "should", "has", "have", "had", "when", "which", "who"}


def _is_imperative(clause: str) -> bool:
    words = clause.split()
    return len(words) > 1 and words[0].lower() in _IMPERATIVE_VERBS and not _ARITHMETIC_IN_TEXT_RE.search(clause)


def _sentence(clause: str) -> str:
    clause = clause.strip(" ,.")
    return clause[0].upper() + clause[1:] + "."


# ---------------------------------------------------------------------------------------------
# Helpers


def _strip_marks(line: str) -> tuple[str, list[tuple[int, str, str]]]:
    """The line without `<<expr=value>>` marks, and (position in the cleaned line, expr, value) per mark."""
    pieces: list[str] = []
    marks: list[tuple[int, str, str]] = []
    length = 0
    last = 0
    for match in _MARK_RE.finditer(line):
        piece = line[last: match.start()]
        pieces.append(piece)
        length += len(piece)
        content = match.group(1)
        expr, _, shown = content.rpartition("=")
        if not _:
            expr, shown = content, ""
        marks.append((length, expr.strip(), shown.strip()))
        last = match.end()
    pieces.append(line[last:])
    return "".join(pieces), marks


def _candidate_chains(tokens: Sequence[ArithToken], start: int, end: int) -> list[list[ArithToken]]:
    """Arithmetic chains in tokens[start:end], the one ending nearest `end` first, longest first.

    A chain is `operand (words) op (word) operand ...`; an operand is a number with any
    parentheses around it; words between a number and the next operator are units
    (`25 total cars – 20 cars`). Punctuation ends a chain.
    """
    chains: list[tuple[int, int, list[ArithToken]]] = []
    for s in range(start, end):
        if tokens[s].kind not in ("num", "lparen"):
            continue
        chain = _chain_from(tokens, s, end)
        if chain is not None:
            last_index, items = chain
            chains.append((last_index, s, items))
    chains.sort(key=lambda c: (-c[0], c[1]))
    return [items for _, _, items in chains]


def _chain_from(tokens: Sequence[ArithToken], s: int, end: int) -> tuple[int, list[ArithToken]] | None:
    """The longest chain starting at token s (before `end`): (index of its last number, its tokens)."""
    items: list[ArithToken] = []
    committed, last_number = 0, -1
    i = s
    while True:
        j = i
        while j < end and tokens[j].kind == "lparen":
            items.append(tokens[j])
            j += 1
        if j >= end or tokens[j].kind != "num":
            break
        items.append(tokens[j])
        last_number = j
        k, skipped = j + 1, 0
        while k < end:  # closing parentheses and unit words, in any order: `(2 apples + 3 apples) * 4`
            if tokens[k].kind == "rparen" and _depth(items) > 0:
                items.append(tokens[k])
            elif tokens[k].kind == "word" and skipped < MAX_WORDS_BETWEEN_OPERANDS:
                skipped += 1
            else:
                break
            k += 1
        committed = len(items)
        if skipped == 0 and k < end and tokens[k].kind == "lparen":
            i = k  # `2(16)`, `(1/2)(20)`: implicit multiplication, which render_formula writes as `2 * (16)`
            continue
        if k >= end or tokens[k].kind != "op":
            break
        op = tokens[k]
        k, skipped = k + 1, 0
        while k < end and tokens[k].kind == "word" and skipped < MAX_WORDS_AFTER_OPERATOR:
            k, skipped = k + 1, skipped + 1
        if k >= end or tokens[k].kind not in ("num", "lparen"):
            break
        items.append(op)
        i = k
    items = items[:committed]
    while _depth(items) > 0 and items and items[0].kind == "lparen":
        items.pop(0)  # an opening parenthesis whose partner lies outside the chain
    if _depth(items) != 0 or not _has_operation(items):
        return None
    return last_number, items


def _without_zero_terms(tokens: Sequence[ArithToken]) -> list[ArithToken]:
    """`tokens` without the terms `+ 0` and `- 0` (and a leading `0 +`), which change no value:
    a 0 that a product, quotient or power touches stays."""
    kept = list(tokens)
    i = 0
    while i < len(kept):
        token = kept[i]
        before = kept[i - 1] if i > 0 else None
        after = kept[i + 1] if i + 1 < len(kept) else None
        is_zero = token.kind == "num" and not token.is_percent and token.value == 0
        ends_term = after is None or after.kind == "rparen" or (after.kind == "op" and after.op in "+-")
        if is_zero and ends_term and before is not None and before.kind == "op" and before.op in "+-" and (
                i < 2 or kept[i - 2].kind in ("num", "rparen")):
            del kept[i - 1: i + 1]  # `a + 0` -> `a`
            i -= 1
        elif is_zero and (before is None or before.kind == "lparen") and after is not None and after.kind == "op" and after.op == "+":
            del kept[i: i + 2]  # `0 + a` -> `a`
        else:
            i += 1
    return kept


def _restates_a_value(expr: str) -> bool:
    """Whether a mark's expression is one number (`<<450=450>>`): it computes nothing."""
    tokens = tokenize_arithmetic(expr)
    return len(tokens) == 1 and tokens[0].kind == "num"


def _has_operation(items: Sequence[ArithToken]) -> bool:
    """Whether chain tokens hold an operator or an implicit product (`86(2)`, `2(6+12)`)."""
    return any(t.kind == "op" for t in items) or any(
        a.kind in ("num", "rparen") and b.kind == "lparen" for a, b in zip(items, items[1:]))


def _depth(items: Sequence[ArithToken]) -> int:
    return sum(1 if t.kind == "lparen" else -1 if t.kind == "rparen" else 0 for t in items)


def _evaluate(formula: str) -> Fraction | None:
    """Exact value of a Calculator formula (`math_plans.exact_value`), or None."""
    return exact_value(formula)


def _substitute(formula: str, values: dict[str, Fraction]) -> str:
    if not values:
        return formula
    return re.sub(r"\bR\d+\b", lambda m: f"({values[m.group()]})" if m.group() in values else m.group(), formula)


def _question_numbers(question: str) -> set[Fraction]:
    values: set[Fraction] = set()
    for token in tokenize_arithmetic(question):
        if token.kind == "num":
            values.add(token.value)
            if token.is_percent:
                values.add(token.value * 100)
        elif token.kind == "word" and token.text.lower() in _NUMBER_WORDS:
            values.add(Fraction(_NUMBER_WORDS[token.text.lower()]))
    return values


def _same_number(text: str, other: str) -> bool:
    try:
        return parse_number(text) == parse_number(other)
    except ValueError:
        return False


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _unit_after(tokens: Sequence[ArithToken], i: int) -> tuple[str, str] | None:
    """(canonical unit, as written) of the word right after number token i (any word: `eggs` can become `dozen`)."""
    if i + 1 >= len(tokens) or tokens[i + 1].kind != "word":
        return None
    word = tokens[i + 1].text
    lowered = word.lower()
    return _UNIT_FORMS.get(lowered, lowered), word


def _conversion_formula(name: str, value: Fraction, unit_from: tuple[str, str], unit_to: tuple[str, str],
                        answer: Fraction) -> tuple[str, Fraction] | None:
    """(formula converting variable `name` from one unit to the other, its exact value), when
    a standard factor turns `value` into `answer`."""
    for small, large, factor in UNIT_FACTORS:
        if (unit_from[0], unit_to[0]) == (small, large) and numbers_close(value / factor, answer):
            return f"{name} / {factor}", value / factor
        if (unit_from[0], unit_to[0]) == (large, small) and numbers_close(value * factor, answer):
            return f"{name} * {factor}", value * factor
    if unit_to[0] == "dozen" and unit_from[0] != "dozen" and numbers_close(value / 12, answer):
        return f"{name} / 12", value / 12
    return None


def gsm8k_task_from_row(row: Mapping[str, Any], index: int, split: str, ids: ContentIds | None = None) -> Task:
    """One GSM8K row read by `datasets` (`hf:` specs) as a task, exactly as `load_gsm8k` builds it
    (`ids`: one per split, so a repeated row is numbered as in a file)."""
    return _task_from_record(dict(row), f"row {index}", index, split, ids or ContentIds("gsm8k", split))
