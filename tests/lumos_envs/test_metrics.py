"""Tests for the answer metrics in lumos_envs/metrics.py."""

from __future__ import annotations

import time

import pytest

from lumos_envs.metrics import extract_number, math_answer_metrics, numeric_match, symbolic_match


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("18", "18"),
        ("The answer is 18.", "18"),
        ("$1,200", "1200"),
        ("1200.0", "1,200"),
        ("It costs $1,200 in total", "1200"),
        ("3/4", "0.75"),
        ("0.75", "3/4"),
        ("50%", "0.5"),
        ("x = 5", "5"),
        ("5 - 3 = 2 apples", "2"),
        ("-3", "-3"),
        ("It was -3 degrees", "-3"),
        ("3.075", "123/40"),
        ("18.00001", "18"),
    ],
)
def test_numeric_match(prediction: str, gold: str) -> None:
    assert numeric_match(prediction, gold)


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [
        ("17", "18"),
        ("no idea", "5"),
        ("", "5"),
        ("18", "eighteen"),
        ("5-3", "-3"),
        ("18.01", "18"),
        ("9**9**9**9", "387420489"),
    ],
)
def test_numeric_mismatch(prediction: str, gold: str) -> None:
    assert not numeric_match(prediction, gold)


def test_numeric_match_tolerance_arguments() -> None:
    assert not numeric_match("18.5", "18")
    assert numeric_match("18.5", "18", abs_tol=1.0)
    assert numeric_match("105", "100", rel_tol=0.1)


@pytest.mark.parametrize(
    ("answer", "gold"),
    [("48 + 24", "72"), ("48+24", "72"), ("144/2", "72"), ("8 * 9", "72"), ("(70 + 2)", "72"), ("2^6 + 8", "72")],
)
def test_an_answer_is_a_number_not_an_expression_to_evaluate(answer: str, gold: str) -> None:
    # `Answer(48 + 24)` used to score correct for 72: the metric evaluated the arithmetic
    assert not numeric_match(answer, gold)
    assert math_answer_metrics(answer, gold)["correct"] == 0.0


def test_numbers_written_as_numbers_still_match() -> None:
    assert numeric_match("72", "72") and numeric_match("$72.00", "72") and numeric_match("-72", "-72")
    assert numeric_match("3/4", "0.75") and numeric_match("It is 48 + 24 = 72.", "72")
    assert extract_number("48 + 24") == 24 and extract_number("144/2") is None


def test_extract_number() -> None:
    assert extract_number("The answer is 18.") == 18
    assert extract_number("1, 2, 3") == 3
    assert extract_number("nothing") is None


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("2*p/5", "0.4*p", True),
        ("x - 3*y", "-3y + x", True),
        ("(x+1)^2", "x^2 + 2x + 1", True),
        ("x = 3", "3 = x", True),
        ("x > 3", "3 < x", True),
        ("True", "True", True),
        ("x - 3*y", "x - 2*y", False),
        ("x +", "x", False),
        ("x", "__import__('os')", False),
    ],
)
def test_symbolic_match(prediction: str, gold: str, expected: bool) -> None:
    assert symbolic_match(prediction, gold) is expected


def test_symbolic_match_is_bounded() -> None:
    start = time.perf_counter()
    assert not symbolic_match("9**9**9**9", "9**9**9**8")
    assert not symbolic_match("(x+1)^1000", "x^1000")
    assert time.perf_counter() - start < 5.0


def test_math_answer_metrics() -> None:
    assert math_answer_metrics("The answer is 1,200.", "1200") == {
        "correct": 1.0, "numeric_match": 1.0, "symbolic_match": 0.0,
    }
    assert math_answer_metrics("x - 3*y", "-3*y + x") == {
        "correct": 1.0, "numeric_match": 0.0, "symbolic_match": 1.0,
    }
    assert math_answer_metrics("17", "18")["correct"] == 0.0
