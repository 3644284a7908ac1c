"""The LUMOS maths tools: Calculator, SetEquation, SolveEquation, Count, SolveInequality, Code, Define.

Each tool is a plain function over text (variables are already substituted by the executor)
declared with `@tool` and the LUMOS interface string, verbatim. Formulas are read by the safe
parser in `tools/mathexpr.py` and results are shown with its `format_value`. Tools that may do
unbounded sympy work (simplifying, solving) run in the killable worker process; the cheap ones
stay in-process. `MATH_TOOLS` lists them in the LUMOS action-list order.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean, BooleanAtom

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, tool
from lumos_envs.tools.mathexpr import format_value, has_huge_power, is_cheap, parse_math

MAX_EXPAND_EXPONENT = 64
"""symbolic results with a larger integer power are not expanded"""
MAX_SIMPLIFY_OPS = 100
"""symbolic results with more operations than this are returned without `sympy.simplify`"""
MAX_LISTED_SOLUTIONS = 10
"""how many solutions an ambiguity error lists"""


@tool(
    name="Calculator",
    interface="Calculator(formula): Calculate the input formula",
    substitution="math",
    bounded=lambda formula: not is_cheap(formula),
)
def calculator(formula: str) -> str:
    """Evaluate or simplify a formula and return the result as text.

    Accepts what `mathexpr.parse_math` does: numbers as people write them (`$1,200`, `25%`),
    `+ - * / ^`, comparisons (`R1 > 0` gives True/False), variables (`(x+y) + 2*(-2*y)` gives
    `x - 3*y`) and `evalat(expr, v1, ...)` for LUMOS's `R4(R5, R6)`. Polynomials are expanded,
    other symbolic results simplified. Results are shown by `mathexpr.format_value`.

    Raises:
        ToolError: syntax errors (with the position), division by zero, results too large.
    """
    return format_value(_evaluate(parse_math(formula)))


@tool(
    name="SetEquation",
    interface="SetEquation(equation): Set up an equation to be solved",
    substitution="math",
    bounded=False,
)
def set_equation(equation: str) -> str:
    """Check that the text is an equation and return it normalised as `lhs = rhs`.

    Only parses (no solving), so it runs in-process; SolveEquation does the work later.

    Raises:
        ToolError: the text does not parse or has no `=`.
    """
    parsed = parse_math(equation)
    if not isinstance(parsed, sp.Equality):
        raise ToolError(f"SetEquation needs an equation with '=', e.g. 2*x + 3 = 11; got {equation!r}")
    return format_value(parsed)


@tool(
    name="SolveEquation",
    interface="SolveEquation(equation): Solve the previous set equation",
    substitution="math",
    bounded=True,
)
def solve_equation(*equations: str) -> list[str]:
    """Solve one equation or a system; return one value per unknown, unknowns sorted by name.

    Each argument is an equation `a = b`, or an expression meaning `= 0`. When no argument has a
    variable, each one is simply evaluated, as LUMOS annotations also use `SolveEquation(R2 + R4)`
    like a calculator.

    Choosing among several solutions: complex ones are dropped; if exactly one of the rest has
    all values positive, it is returned (counts and prices are positive); otherwise, with one
    unknown, all its values are returned joined by `, ` as one value (`-64, 64`); with several
    unknowns this is an error listing the solutions. An unknown the equations leave free keeps
    its own name as its value, and the others are given in terms of it.

    Raises:
        ToolError: syntax errors, inequalities (use SolveInequality), no (real) solution,
            several solutions of a system, or equations sympy cannot solve.
    """
    if not equations:
        raise ToolError("SolveEquation needs at least one equation")
    parsed = [parse_math(text) for text in equations]
    if not any(_free_symbols(value) for value in parsed):
        return [format_value(_evaluate(value)) for value in parsed]
    expressions = []
    for text, value in zip(equations, parsed):
        if has_huge_power(value):
            raise ToolError(f"numbers too large in {text!r}")
        if isinstance(value, sp.Equality):
            expressions.append(value.lhs - value.rhs)
        elif isinstance(value, sp.Expr):
            expressions.append(value)
        elif value == sp.false:
            raise ToolError(f"no solution: {text!r} is false")
        elif value != sp.true:
            raise ToolError(f"{text!r} is not an equation; use SolveInequality for inequalities")
    unknowns = sorted(set().union(*(e.free_symbols for e in expressions)), key=lambda s: s.name)
    try:
        solutions = sp.solve(expressions, unknowns, dict=True)
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise ToolError(f"could not solve {', '.join(equations)}: {exc}") from exc
    real = [s for s in solutions if all(v.is_real is not False for v in s.values())]
    if not real:
        raise ToolError("no real solution" if solutions else "no solution")
    chosen = _choose_solution(real, unknowns)
    if chosen is None:  # one unknown, several values
        (unknown,) = unknowns
        values = sorted((s[unknown] for s in real), key=_sort_key)
        return [", ".join(format_value(_simplify(v)) for v in values)]
    return [format_value(_simplify(chosen.get(u, u))) for u in unknowns]


@tool(
    name="Count",
    interface="Count(list): Count the number of elements in the given list",
    substitution="text",
    bounded=False,
)
def count(*items: str) -> str:
    """Count elements: of a bracketed or comma-separated list given as one argument, else the arguments.

    `Count([a, b, c])` and `Count(a, b, c)` both give `3`; commas inside parentheses or brackets
    do not separate elements; `Count([])` gives `0`.
    """
    if len(items) != 1:
        return str(len(items))
    text = items[0].strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    parts = [part for part in _split_top_level(text) if part.strip()]
    return str(len(parts))


@tool(
    name="SolveInequality",
    interface="SolveInequality(inequality): Solve the previous set inequality",
    substitution="math",
    bounded=True,
)
def solve_inequality(inequality: str) -> str:
    """Solve an inequality in one unknown over the reals.

    Returns the solution set as conditions: `x > 3`, `x <= -1`, `(2 < x) & (x < 5)`, unions
    joined by ` | `, `True` when every real number is a solution.

    Raises:
        ToolError: syntax errors, no or several unknowns, no solution, or unsupported forms.
    """
    condition = parse_math(inequality)
    if isinstance(condition, BooleanAtom):
        return format_value(condition)
    if not isinstance(condition, Boolean):
        raise ToolError(f"SolveInequality needs an inequality such as 2*x + 1 > 7; got {inequality!r}")
    if has_huge_power(condition):
        raise ToolError(f"numbers too large in {inequality!r}")
    unknowns = sorted(condition.free_symbols, key=lambda s: s.name)
    if len(unknowns) != 1:
        names = ", ".join(s.name for s in unknowns)
        raise ToolError(f"SolveInequality solves for exactly one unknown; found {len(unknowns)} ({names})")
    try:
        solution = condition.as_set()
    except (NotImplementedError, ValueError, TypeError) as exc:
        raise ToolError(f"could not solve {inequality!r}: {exc}") from exc
    if isinstance(solution, sp.ConditionSet):
        raise ToolError(f"could not solve {inequality!r} in closed form; try a polynomial or rational inequality")
    return _format_set(solution, unknowns[0].name)


@tool(
    name="Code",
    interface="Code(pseudo_code): Generate a Python function that corresponds to the pseudo code",
    substitution="text",
    bounded=False,
)
def code(pseudo_code: str) -> str:
    """Not supported: lumos never runs generated code. Always raises a ToolError saying what to use."""
    raise ToolError(
        "Code is not supported in lumos: generated programs are not run. Use Calculator instead "
        "(e.g. comparisons like R1 > 0 give True/False, 141 % 3 gives the remainder, "
        "abs(R1), max(R1, R2), round(R1))"
    )


@tool(
    name="Define",
    interface="Define(variable/number): Define a variable or a number for latter usage",
    substitution="math",
    bounded=False,
)
def define(value: str) -> str:
    """Return a variable, number or short expression as text (`n-2` gives `n - 2`, `0.5` gives `0.5`).

    Only sympy's automatic simplification is applied. Runs in-process, so input that is not
    cheap to evaluate (see `mathexpr.is_cheap`) is refused.

    Raises:
        ToolError: syntax errors, or input too expensive to evaluate in-process.
    """
    parsed = parse_math(value)
    if not is_cheap(value, allow_symbols=True):
        raise ToolError("Define takes a variable, a number or a short expression; use Calculator for heavy formulas")
    return format_value(parsed)


MATH_TOOLS: tuple[Tool, ...] = (calculator, set_equation, solve_equation, count, solve_inequality, code, define)
"""The maths tools in LUMOS's action-list order."""


def _free_symbols(value: sp.Basic) -> set[sp.Symbol]:
    return value.free_symbols if isinstance(value, sp.Basic) else set()


def _evaluate(value: sp.Basic) -> sp.Basic:
    """What Calculator shows for a parsed formula: numbers evaluated, relations decided, expressions simplified."""
    if isinstance(value, BooleanAtom):
        return value
    if has_huge_power(value):
        raise ToolError("result too large")
    if isinstance(value, sp.Expr):
        if value.has(sp.zoo, sp.nan):
            raise ToolError("division by zero (or another undefined operation)")
        return _simplify(value)
    if isinstance(value, Relational):
        if value.lhs.has(sp.zoo, sp.nan) or value.rhs.has(sp.zoo, sp.nan):
            raise ToolError("division by zero (or another undefined operation)")
        if not value.free_symbols:
            return _decide(value)
        return value.func(_simplify(value.lhs), _simplify(value.rhs), evaluate=False)
    return value


def _decide(relation: Relational) -> BooleanAtom:
    """Truth of a relation between numbers that sympy left undecided (e.g. `sin(1)**2 + cos(1)**2 = 1`)."""
    difference = (relation.lhs - relation.rhs).evalf(50)
    if not difference.is_real:
        if isinstance(relation, (sp.Equality, sp.Unequality)):
            return sp.false if isinstance(relation, sp.Equality) else sp.true
        raise ToolError("cannot compare numbers that are not real")
    if abs(difference) < sp.Float("1e-40"):
        difference = sp.Integer(0)
    sign = sp.sign(difference)
    truth = {
        sp.Equality: sign == 0, sp.Unequality: sign != 0, sp.StrictLessThan: sign < 0,
        sp.StrictGreaterThan: sign > 0, sp.LessThan: sign <= 0, sp.GreaterThan: sign >= 0,
    }[type(relation)]
    return sp.true if truth else sp.false


def _simplify(value: sp.Basic) -> sp.Basic:
    """Expand polynomials (as LUMOS annotations write them: `n**2 - 4*n + 4`); simplify other small expressions."""
    if not isinstance(value, sp.Expr) or not value.free_symbols:
        return value
    big_power = any(
        p.exp.is_Number and abs(p.exp) > MAX_EXPAND_EXPONENT for p in value.atoms(sp.Pow)
    )
    if big_power:
        return value
    if value.is_polynomial():
        return sp.expand(value)
    if sp.count_ops(value) <= MAX_SIMPLIFY_OPS:
        return sp.simplify(value)
    return value


def _choose_solution(solutions: list[dict], unknowns: list[sp.Symbol]) -> dict | None:
    if len(solutions) == 1:
        return solutions[0]
    positive = [
        s for s in solutions if len(s) == len(unknowns) and all(v.is_positive for v in s.values())
    ]
    if len(positive) == 1:
        return positive[0]
    if len(unknowns) == 1:
        return None
    listed = "; ".join(
        ", ".join(f"{u} = {format_value(s.get(u, u))}" for u in unknowns) for s in solutions[:MAX_LISTED_SOLUTIONS]
    )
    raise ToolError(f"several solutions ({listed}); add a condition to pick one")


def _sort_key(value: sp.Expr) -> tuple:
    if value.is_number and value.is_real:
        return (0, float(value.evalf()), "")
    return (1, 0.0, str(value))


def _format_set(solution: sp.Set, name: str) -> str:
    if solution is sp.S.EmptySet:
        raise ToolError("no solution")
    if solution == sp.S.Reals:
        return "True"
    if isinstance(solution, sp.Interval):
        low, high = solution.start, solution.end
        low_op = "<=" if not solution.left_open else "<"
        high_op = "<=" if not solution.right_open else "<"
        if low == -sp.oo:
            return f"{name} {high_op} {format_value(high)}"
        if high == sp.oo:
            return f"{name} {'>=' if low_op == '<=' else '>'} {format_value(low)}"
        return f"({format_value(low)} {low_op} {name}) & ({name} {high_op} {format_value(high)})"
    if isinstance(solution, sp.FiniteSet):
        parts = [f"{name} = {format_value(v)}" for v in sorted(solution, key=_sort_key)]
        return parts[0] if len(parts) == 1 else " | ".join(f"({part})" for part in parts)
    if isinstance(solution, sp.Union):
        parts = [_format_set(part, name) for part in solution.args]
        return " | ".join(f"({part})" for part in parts)
    return str(solution)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth > 0:
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
