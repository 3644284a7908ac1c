"""Tests for the safe formula parser in lumos_envs/tools/mathexpr.py."""

from __future__ import annotations

import time

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from lumos_envs.execution.errors import ToolError
from lumos_envs.tools.mathexpr import (
    MathSyntaxError,
    evaluate_number,
    format_value,
    has_huge_power,
    is_cheap,
    parse_math,
)

x, y, p = sp.symbols("x y p")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", sp.Integer(12)),
        ("0.25", sp.Rational(1, 4)),
        (".5", sp.Rational(1, 2)),
        ("2.", sp.Integer(2)),
        ("1,200", sp.Integer(1200)),
        ("1,234,567", sp.Integer(1234567)),
        ("1,234.5", sp.Rational(2469, 2)),
        ("$1,200", sp.Integer(1200)),
        ("$5", sp.Integer(5)),
        ("50%", sp.Rational(1, 2)),
        ("15 / 25%", sp.Integer(60)),
        ("1 - 25%", sp.Rational(3, 4)),
        ("7 % 3", sp.Integer(1)),
        ("1/7", sp.Rational(1, 7)),
        ("28 * 1/7", sp.Integer(4)),
        ("2^3", sp.Integer(8)),
        ("2**3", sp.Integer(8)),
        ("2^3^2", sp.Integer(512)),
        ("-2^2", sp.Integer(-4)),
        ("2^-1", sp.Rational(1, 2)),
        ("3\u00b2", sp.Integer(9)),
        ("5 x 2", sp.Integer(10)),
        ("6 \u00d7 7", sp.Integer(42)),
        ("10 \u00f7 4", sp.Rational(5, 2)),
        ("5 \u2013 3", sp.Integer(2)),
        ("5 \u2212 3", sp.Integer(2)),
        ("-(-3)", sp.Integer(3)),
        ("+4", sp.Integer(4)),
        ("2(3+1)", sp.Integer(8)),
        ("[2 + 3] * 2", sp.Integer(10)),
        ("1e3", sp.Integer(1000)),
        ("5!", sp.Integer(120)),
        ("0.1 + 0.2", sp.Rational(3, 10)),
        ("2y", 2 * y),
        ("(x+y)p", p * (x + y)),
        ("xy", x * y),
        ("40% * p", 2 * p / 5),
        ("(x-y) - (x+y)", -2 * y),
        ("pi", sp.pi),
        ("2pi", 2 * sp.pi),
        ("sqrt(8)", 2 * sp.sqrt(2)),
        ("abs(-3)", sp.Integer(3)),
        ("floor(2.5) + ceil(2.1)", sp.Integer(5)),
        ("round(2.5)", sp.Integer(3)),
        ("round(-2.5)", sp.Integer(-3)),
        ("round(3.14159, 2)", sp.Rational(157, 50)),
        ("min(3, 1, 2) + max(1,200)", sp.Integer(201)),
        ("gcd(12, 18) + lcm(4, 6)", sp.Integer(18)),
        ("log(8, 2)", sp.Integer(3)),
        ("ln(1) + exp(0)", sp.Integer(1)),
        ("sin(pi/6)", sp.Rational(1, 2)),
        ("factorial(5)", sp.Integer(120)),
        ("evalat((x - 7*y), (-9/8), (-3/5))", sp.Rational(123, 40)),
        ("evalat((n - 2), (64))", sp.Integer(62)),
        ("(16) > (3)", sp.true),
        ("3 == 3", sp.true),
        ("3 != 3", sp.false),
        ("2 <= 1", sp.false),
        ("True", sp.true),
        ("False", sp.false),
    ],
)
def test_parse_math_values(text: str, expected: sp.Basic) -> None:
    assert parse_math(text) == expected


def test_comma_inside_function_call_separates_arguments() -> None:
    assert parse_math("max(1,200)") == 200
    assert parse_math("(1,200)") == 1200


def test_equation_is_unevaluated_eq() -> None:
    equation = parse_math("2*p/5 = (p + 600)/4")
    assert isinstance(equation, sp.Equality)
    assert equation.lhs == 2 * p / 5
    numeric = parse_math("2 + 3 = 5")
    assert isinstance(numeric, sp.Equality)  # not evaluated to True


def test_chained_comparison_and_conditions() -> None:
    assert parse_math("1 < x < 5") == sp.And(sp.Lt(1, x), sp.Lt(x, 5))
    assert parse_math("(x < 1) | (x > 3)") == sp.Or(x < 1, x > 3)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "().__class__",
        "lambda: 1",
        "a.b",
        "[x for x in y]",
        "'abc'",
        '"1 + 1"',
        "`ls`",
        "x; y",
        "1 +",
        "(1 + 2",
        "1 + 2)",
        "(]",
        "()",
        "x 2",
        "1 2",
        "1 = 2 = 3",
        "(1, 2)",
        "[1, 2]",
        "1,2345",
        "sqrt 4",
        "cost * 3",
        "True + 1",
        "(x > 1) + 2",
        "1 & 2",
        "factorial(1001)",
        "evalat(x, 1, 2)",
        "round(x)",
        "9" * 31,
        "1e1000",
        "",
        "   ",
        "x" * 2001,
        "(" * 60 + "1" + ")" * 60,
        "-" * 60 + "1",
        "3" + "!" * 60,
        "+".join(["1"] * 600),
    ],
)
def test_rejects_with_math_syntax_error(text: str) -> None:
    with pytest.raises(MathSyntaxError):
        parse_math(text)


def test_error_says_where() -> None:
    with pytest.raises(MathSyntaxError, match="position 4") as info:
        parse_math("1 + )")
    assert info.value.position == 4
    assert isinstance(info.value, ToolError)
    with pytest.raises(MathSyntaxError, match=r"unexpected '_'.*position 0"):
        parse_math("__import__('os')")


def test_huge_power_parses_fast_without_computing() -> None:
    start = time.perf_counter()
    value = parse_math("9**9**9**9")
    assert time.perf_counter() - start < 1.0
    assert has_huge_power(value)
    assert not is_cheap("9**9**9**9")
    assert not is_cheap("9^387420489")
    with pytest.raises(ToolError, match="too large"):
        format_value(value)


@pytest.mark.parametrize(
    ("text", "cheap"),
    [
        ("1 + 2", True),
        ("2^64", True),
        ("(1.05)^10 * 1000", True),
        ("evalat((x - 7*y), (-9/8), (-3/5))", True),
        ("50! / 48!", True),
        ("2^65", False),
        ("2^(1/2)", False),
        ("(2^3)^4", False),
        ("101!", False),
        ("x + 1", False),
        ("1 +", False),
    ],
)
def test_is_cheap(text: str, cheap: bool) -> None:
    assert is_cheap(text) is cheap


def test_is_cheap_allow_symbols() -> None:
    assert is_cheap("n - 2", allow_symbols=True)
    assert not is_cheap("x^(10^30)", allow_symbols=True)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (sp.Integer(60), "60"),
        (sp.Integer(-7), "-7"),
        (sp.Rational(3, 4), "0.75"),
        (sp.Rational(27, 4), "6.75"),
        (sp.Rational(-9, 8), "-1.125"),
        (sp.Rational(123, 40), "3.075"),
        (sp.Rational(1, 20), "0.05"),
        (sp.Rational(2, 3), "2/3"),
        (sp.Rational(-1, 7), "-1/7"),
        (sp.sqrt(2), "1.414213562"),
        (sp.pi * 10**20, "3.141592654e+20"),
        (sp.log(8) / sp.log(2) * 0 + sp.sqrt(4), "2"),
        (sp.true, "True"),
        (sp.false, "False"),
        (x - 3 * y, "x - 3*y"),
        (2 * p / 5, "2*p/5"),
        (sp.Eq(x, 3, evaluate=False), "x = 3"),
        (sp.Eq(2 * x, sp.Rational(1, 2), evaluate=False), "2*x = 0.5"),
    ],
)
def test_format_value(value: sp.Basic, text: str) -> None:
    assert format_value(value) == text


def test_format_value_round_trips_symbolic_results() -> None:
    for formula in ["x - 3*y", "2*p/5", "(x + y)/y", "x**2 - 4*x + 4", "sqrt(x)*E + Abs(y)", "Max(x, 2)"]:
        value = parse_math(formula)
        assert parse_math(format_value(value)) == value


def test_format_value_limits() -> None:
    with pytest.raises(ToolError, match="too large"):
        format_value(sp.Integer(2) ** 2000)
    with pytest.raises(ToolError, match="undefined"):
        format_value(parse_math("1/0"))
    with pytest.raises(ToolError, match="not a real number"):
        format_value(sp.sqrt(-2))
    # A long exact non-integer falls back to 10 significant digits.
    assert format_value(sp.Rational(1, 3) ** 700) == format_value(sp.Float(sp.Rational(1, 3) ** 700, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,200", sp.Integer(1200)),
        ("50%", sp.Rational(1, 2)),
        ("1/7", sp.Rational(1, 7)),
        ("2^3", sp.Integer(8)),
        ("0.25", sp.Rational(1, 4)),
        ("-3", sp.Integer(-3)),
        ("1,234.5", sp.Rational(2469, 2)),
        ("18.", sp.Integer(18)),
    ],
)
def test_evaluate_number(text: str, expected: sp.Rational) -> None:
    value = evaluate_number(text)
    assert value == expected
    assert isinstance(value, sp.Rational)


def test_evaluate_number_irrational_and_not_numbers() -> None:
    value = evaluate_number("sqrt(2)")
    assert isinstance(value, sp.Float)
    assert abs(value - sp.sqrt(2)) < 1e-25
    for text in ["x + 1", "1 +", "apples", "x = 3", "1/0", "9**9**9**9", "True"]:
        assert evaluate_number(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parse_math_only_raises_math_syntax_error(text: str) -> None:
    try:
        parse_math(text)
    except MathSyntaxError:
        pass


_FORMULA_ALPHABET = st.sampled_from(list("0123456789xy+-*/^%!()[],.=<>&| $") + ["**", "sqrt(", "evalat(", "pi", "True"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_FORMULA_ALPHABET, max_size=30).map("".join))
def test_parse_math_formula_like_text_only_raises_math_syntax_error(text: str) -> None:
    start = time.perf_counter()
    try:
        parse_math(text)
    except MathSyntaxError:
        pass
    assert time.perf_counter() - start < 2.0
