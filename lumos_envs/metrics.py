"""Answer metrics: the one place where lumos scores a final answer against the gold one.

Numeric answers follow the GSM8K convention (Cobbe et al., 2021, "Training Verifiers to Solve
Math Word Problems"; the gold answer is the number after `####`, thousands commas removed): the
predicted number is the whole prediction when it is a plain number, else the last number in its
text (as lm-evaluation-harness's `flexible-extract` for gsm8k), and the two are compared as
numbers, here with a small tolerance. Symbolic answers (`x - 3*y`, `2*p/5`) are equal when their
difference simplifies to zero. Numbers and formulas are read with `tools/mathexpr.py`, which
never evaluates Python.
"""

from __future__ import annotations

import math
import re

import sympy as sp
from sympy.core.relational import Relational

from lumos_envs.tools.mathexpr import (
    MathSyntaxError,
    Number,
    evaluate_number,
    has_huge_power,
    parse_math,
)

MAX_SIMPLIFY_OPS = 200
"""symbolic_match does not call `sympy.simplify` on a difference with more operations"""
MAX_SIMPLIFY_EXPONENT = 64
"""nor on one with an integer power larger than this"""

_NUMBER_IN_TEXT = re.compile(
    r"(?:(?<![\w)\]])[-\u2212])?"  # a minus sign, unless it is a subtraction ("5-3")
    r"\$?"
    r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"  # 1,234.5 or 1234.5
    r"(?:\s*/\s*\d+(?:\.\d+)?)?"  # 3/4
    r"%?"
    r"|(?<![\w.])\.\d+"  # .5
)


_PLAIN_NUMBER = re.compile(
    r"[-\u2212]?\$?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)%?"
    r"|[-\u2212]?(?P<num>\d+)\s*/\s*(?P<den>\d+)"
)


def extract_number(text: str) -> Number | None:
    """The number a text answers with: the whole text if it is a plain number, else its last number.

    `"$1,200"` gives 1200, `"The answer is 18."` gives 18, `"3/4 of them"` gives 3/4; a text with
    no number gives None. An answer is a number, never an expression to evaluate: `"48 + 24"`
    gives 24 (its last number), not 72, and a fraction counts only in lowest terms (`3/4`, not
    `48/2`), since `48/2` is a division the answer leaves undone.
    """
    whole = text.strip().rstrip(".").strip()
    if whole:
        value = _literal_value(whole)
        if value is not None:
            return value
    for match in reversed(_NUMBER_IN_TEXT.findall(text)):
        value = _literal_value(re.sub(r"\s+", "", match))
        if value is not None:
            return value
    return None


def _literal_value(text: str) -> Number | None:
    """The value of a number literal (`-$1,200.5`, `50%`, `.5`, `3/4`), None for anything else."""
    match = _PLAIN_NUMBER.fullmatch(text)
    if match is None:
        return None
    if match.group("den") is not None and math.gcd(int(match.group("num")), int(match.group("den"))) != 1:
        return None
    return evaluate_number(text.replace("\u2212", "-"))


def numeric_match(prediction: str, gold: str, *, rel_tol: float = 1e-4, abs_tol: float = 1e-4) -> bool:
    """Whether the prediction's number equals the gold number within tolerance (GSM8K convention).

    Args:
        prediction: the agent's answer text; its number is found by `extract_number`.
        gold: the gold answer, a plain number (`18`, `1,200`, `0.75`, `3/4`).
        rel_tol: allowed difference relative to the larger magnitude.
        abs_tol: allowed absolute difference.

    Returns:
        False when either side has no number.
    """
    gold_value = evaluate_number(gold.strip().rstrip(".").strip()) if gold.strip() else None
    if gold_value is None:
        return False
    predicted = extract_number(prediction)
    if predicted is None:
        return False
    difference = abs(predicted - gold_value)
    tolerance = max(sp.Float(rel_tol) * max(abs(predicted), abs(gold_value)), sp.Float(abs_tol))
    return bool(difference <= tolerance)


def symbolic_match(prediction: str, gold: str) -> bool:
    """Whether two formulas are equal: their difference simplifies to zero.

    Equations match when their `lhs - rhs` are equal or opposite; conditions (`x > 3`, `True`)
    must be the same. Work is bounded: both texts go through `parse_math`'s size limits, and
    large differences are only expanded, not simplified. Syntax errors give False.
    """
    try:
        first, second = parse_math(prediction), parse_math(gold)
    except MathSyntaxError:
        return False
    if has_huge_power(first) or has_huge_power(second):
        return first == second
    if isinstance(first, sp.Equality) and isinstance(second, sp.Equality):
        first_zero, second_zero = first.lhs - first.rhs, second.lhs - second.rhs
        return _is_zero(first_zero - second_zero) or _is_zero(first_zero + second_zero)
    if isinstance(first, sp.Expr) and isinstance(second, sp.Expr):
        return _is_zero(first - second)
    if isinstance(first, Relational) and isinstance(second, Relational):
        return first.canonical == second.canonical
    return first == second


def math_answer_metrics(prediction: str, gold: str) -> dict[str, float]:
    """Scores for one maths answer.

    Returns:
        `{"correct", "numeric_match", "symbolic_match"}` as 1.0/0.0, where `correct` is the
        numeric match when the gold answer is a number and the symbolic match otherwise.
    """
    numeric = numeric_match(prediction, gold)
    symbolic = symbolic_match(prediction, gold)
    gold_is_number = evaluate_number(gold.strip().rstrip(".").strip()) is not None if gold.strip() else False
    correct = numeric if gold_is_number else symbolic
    return {"correct": float(correct), "numeric_match": float(numeric), "symbolic_match": float(symbolic)}


def _is_zero(difference: sp.Expr) -> bool:
    if difference == 0:
        return True
    if difference.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return False
    if any(p.exp.is_Number and abs(p.exp) > MAX_SIMPLIFY_EXPONENT for p in difference.atoms(sp.Pow)):
        return False
    if sp.count_ops(difference) > MAX_SIMPLIFY_OPS:
        return sp.expand(difference) == 0
    return sp.simplify(difference) == 0
