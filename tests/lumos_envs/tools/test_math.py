"""Tests for the LUMOS maths tools in lumos_envs/tools/math.py."""

from __future__ import annotations

import pytest

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool
from lumos_envs.tools.math import (
    MATH_TOOLS,
    calculator,
    code,
    count,
    define,
    set_equation,
    solve_equation,
    solve_inequality,
)
from lumos_envs.tools.mathexpr import evaluate_number, parse_math

MATHS_INTERFACES = (
    "Calculator(formula): Calculate the input formula; SetEquation(equation): Set up an equation to be solved; "
    "SolveEquation(equation): Solve the previous set equation; Count(list): Count the number of elements in the "
    "given list; SolveInequality(inequality): Solve the previous set inequality; Code(pseudo_code): Generate a "
    "Python function that corresponds to the pseudo code; Define(variable/number): Define a variable or a number "
    "for latter usage."
)


def test_math_tools_order_and_interfaces() -> None:
    assert [t.name for t in MATH_TOOLS] == [
        "Calculator", "SetEquation", "SolveEquation", "Count", "SolveInequality", "Code", "Define",
    ]
    assert all(isinstance(t, Tool) for t in MATH_TOOLS)
    assert "; ".join(t.interface for t in MATH_TOOLS) + "." == MATHS_INTERFACES
    substitutions = {t.name: t.substitution for t in MATH_TOOLS}
    assert substitutions["Code"] == substitutions["Count"] == "text"
    assert {substitutions[n] for n in ("Calculator", "SetEquation", "SolveEquation", "SolveInequality", "Define")} == {
        "math"
    }
    assert solve_equation.variadic and count.variadic


def test_calculator_runs_in_worker_only_when_not_cheap() -> None:
    assert not calculator.needs_worker(["100000 - 75000"])
    assert calculator.needs_worker(["9**9**9**9"])
    assert calculator.needs_worker(["(x-y) - (x+y)"])
    assert solve_equation.needs_worker(["x = 1"])
    assert not set_equation.needs_worker(["x = 1"])


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("(x-y) - (x+y)", "-2*y"),
        ("(x+y) + 2*(-2*y)", "x - 3*y"),
        ("(x+y) + 4*(-2*y)", "x - 7*y"),
        ("evalat((x - 7*y), (-9/8), (-3/5))", "3.075"),
        ("40% * p", "2*p/5"),
        ("15 / 25%", "60"),
        ("1 - 25%", "0.75"),
        ("28 * 1/7", "4"),
        ("(16) > (3)", "True"),
        ("(25000) < (0)", "False"),
        ("100000 - 75000", "25000"),
        ("2 - 0.5", "1.5"),
        ("1.5 / 0.25", "6"),
        ("1 - 2/5", "0.6"),
        ("1 - 1/3", "2/3"),
        ("18 + 1/2 * 18", "27"),
        ("(n - 2)^2", "n**2 - 4*n + 4"),
        ("evalat((n**2 - 4*n + 4), (64))", "3844"),
        ("141 % 3", "0"),
        ("sqrt(2)", "1.414213562"),
        ("2 + 3 = 5", "True"),
        ("sin(1)^2 + cos(1)^2 == 1", "True"),
    ],
)
def test_calculator(formula: str, expected: str) -> None:
    assert calculator.fn(formula) == expected


def test_calculator_symbolic_results_parse_back() -> None:
    for formula in ["(x+y) + 2*(-2*y)", "x/y + 1", "40% * p"]:
        result = calculator.fn(formula)
        assert parse_math(result) == parse_math(calculator.fn(result))


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("15 / 0", "division by zero"),
        ("x / 0", "division by zero"),
        ("9**9**9**9", "too large"),
        ("2^2000", "too large"),
        ("1 + ", "position"),
        ("__import__('os')", "position 0"),
    ],
)
def test_calculator_errors(formula: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        calculator.fn(formula)


def test_set_equation() -> None:
    assert set_equation.fn("(2*p/5) = ((p + 600)/4)") == "2*p/5 = p/4 + 150"
    assert set_equation.fn("2x + 3 = 11") == "2*x + 3 = 11"
    with pytest.raises(ToolError, match="="):
        set_equation.fn("2*x + 3")


@pytest.mark.parametrize(
    ("equations", "expected"),
    [
        (("(x - 3*y) = x*y", "(x - 5*y) = x/y"), ["-9/8", "-3/5"]),
        (("(n**2 - 4*n + 4) + (n**2) + (n**2 + 4*n + 4) = 12296",), ["64"]),
        (("(2*p/5) = ((p + 600)/4)",), ["1000"]),
        (("(60) + (50)",), ["110"]),
        (("2*x + 3 = 11",), ["4"]),
        (("2*x + 3 - 11",), ["4"]),
        (("(x + 2 = 5)",), ["3"]),
        (("x + y = 10", "x - y = 2"), ["6", "4"]),
        (("x^2 = 2",), ["sqrt(2)"]),
    ],
)
def test_solve_equation(equations: tuple[str, ...], expected: list[str]) -> None:
    result = solve_equation.fn(*equations)
    assert len(result) == len(expected)
    for got, want in zip(result, expected):
        assert evaluate_number(got) is not None
        assert abs(evaluate_number(got) - evaluate_number(want)) < 1e-9


def test_solve_equation_formats_values() -> None:
    assert solve_equation.fn("(x - 3*y) = x*y", "(x - 5*y) = x/y") == ["-1.125", "-0.6"]


def test_solve_equation_several_solutions() -> None:
    assert solve_equation.fn("x^2 - 5x + 6 = 0") == ["2, 3"]  # both positive: all values, one unknown
    assert solve_equation.fn("x^2 = 9") == ["3"]  # exactly one positive solution
    assert solve_equation.fn("x^2 + 2x = 0") == ["-2, 0"]
    with pytest.raises(ToolError, match="several solutions"):
        solve_equation.fn("x^2 + y^2 = 25", "x + y = 7")


def test_solve_equation_free_unknown_keeps_its_name() -> None:
    assert solve_equation.fn("x + y = 10") == ["10 - y", "y"]


@pytest.mark.parametrize(
    ("equations", "message"),
    [
        (("x + 1 = x",), "no solution"),
        (("x^2 = -4",), "no real solution"),
        (("x > 3",), "SolveInequality"),
        (("x = ",), "position"),
    ],
)
def test_solve_equation_errors(equations: tuple[str, ...], message: str) -> None:
    with pytest.raises(ToolError, match=message):
        solve_equation.fn(*equations)


@pytest.mark.parametrize(
    ("inequality", "expected"),
    [
        ("2*x + 1 > 7", "x > 3"),
        ("3x - 2 <= 10", "x <= 4"),
        ("x^2 < 4", "(-2 < x) & (x < 2)"),
        ("1 < x < 5", "(1 < x) & (x < 5)"),
        ("x^2 >= 4", "(x <= -2) | (x >= 2)"),
        ("x^2 >= 0", "True"),
        ("x^2 <= 0", "x = 0"),
        ("x/2 > 1/4", "x > 0.5"),
    ],
)
def test_solve_inequality(inequality: str, expected: str) -> None:
    assert solve_inequality.fn(inequality) == expected


def test_solve_inequality_results_parse() -> None:
    for inequality in ["x^2 < 4", "2*x + 1 > 7", "x^2 >= 4"]:
        result = solve_inequality.fn(inequality)
        assert parse_math(result).as_set() == parse_math(inequality).as_set()


@pytest.mark.parametrize(
    ("inequality", "message"),
    [("x^2 < 0", "no solution"), ("x + y > 1", "one unknown"), ("x + 1", "inequality")],
)
def test_solve_inequality_errors(inequality: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        solve_inequality.fn(inequality)


def test_count() -> None:
    assert count.fn("2^0", "2^1", "2^2", "2^3", "2^4", "2^5", "2^6") == "7"
    assert count.fn("2^0 * 3^2, 2^1 * 3^2, 2^2 * 3^2, 2^3 * 3^2") == "4"
    assert count.fn("[a, b, c]") == "3"
    assert count.fn("[f(1, 2), [3, 4]]") == "2"
    assert count.fn("3^4") == "1"
    assert count.fn("[]") == "0"


def test_define() -> None:
    assert define.fn("n-2") == "n - 2"
    assert define.fn("p") == "p"
    assert define.fn("0.5") == "0.5"
    with pytest.raises(ToolError, match="Calculator"):
        define.fn("9^9^9^9")
    with pytest.raises(ToolError, match="position"):
        define.fn("n -")


def test_code_is_not_supported() -> None:
    with pytest.raises(ToolError, match="Code is not supported in lumos.*Calculator"):
        code.fn("If R8 > 0, R8, -R8")


def test_solve_inequality_without_closed_form_is_an_error():
    with pytest.raises(ToolError, match="closed form"):
        solve_inequality.fn("sin(x) > x**3 - 2")
