"""Helpers shared by the maths task sources for writing gold LUMOS plans.

Numbers as plans write them (`format_number`), arithmetic text as tokens (`tokenize_arithmetic`,
which knows GSM8K's `$4 x 2`, `30 cars – 5 cars` and `2 GB/minute`), Calculator formulas rendered
from tokens with some numbers replaced by plan variables (`render_formula`), a fully parenthesised
expression split into one binary operation per action (`binary_operations`, for SVAMP), and
`PlanBuilder`, which numbers variables R1, R2, ... across a whole plan, and `observer_leaks`,
which audits a Calculator plan against the observer rule without an env. Used by `gsm8k.py`,
`svamp.py` and `synthetic_math.py`; values are computed exactly with `fractions.Fraction` or with
`lumos_envs.tools.mathexpr` (never `eval`).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, Mapping, Sequence

from lumos_envs.domains import Domain
from lumos_envs.execution.errors import ToolError
from lumos_envs.gold_audit import Leak, audit_gold_plan
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task

# ---------------------------------------------------------------------------------------------
# Numbers

MAX_DECIMALS = 6
"""decimal places `format_number` keeps for values that have no short exact decimal form"""


def to_fraction(value: Any) -> Fraction:
    """An exact Fraction for an int, Fraction, Decimal, float, decimal text or sympy number.

    Raises:
        ValueError: for values that are not finite real numbers.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(repr(value))  # the shortest decimal that round-trips, not the binary value
    if isinstance(value, str):
        return parse_number(value)
    # sympy numbers: Rational has p and q; Float converts through its decimal text
    if getattr(value, "is_Rational", False):
        return Fraction(int(value.p), int(value.q))
    if getattr(value, "is_Float", False) or getattr(value, "is_Number", False):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(repr(as_float))
    raise ValueError(f"not a number: {value!r}")


_PLAIN_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


@functools.lru_cache(maxsize=1 << 16)  # tokens read their value on every use
def parse_number(text: str) -> Fraction:
    """Exact value of a number as datasets write it: `$1,200`, `.5`, `16.00`, `-3`, `50%` (= 1/2).

    Raises:
        ValueError: if the text is not one number.
    """
    cleaned = text.strip().replace(",", "").replace("$", "").replace(" ", "")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    if not _PLAIN_NUMBER_RE.fullmatch(cleaned):
        raise ValueError(f"not a number: {text!r}")
    value = Fraction(cleaned)
    return value / 100 if percent else value


def format_number(value: Any) -> str:
    """A number as a plan or a gold answer writes it: `11`, `2.5`, `0.333333` (no `11.0`, no exponent)."""
    fraction = to_fraction(value)
    if fraction.denominator == 1:
        return str(fraction.numerator)
    quantized = round(Decimal(fraction.numerator) / Decimal(fraction.denominator), MAX_DECIMALS)
    if quantized == 0:
        return "0"
    text = format(quantized, "f").rstrip("0").rstrip(".")
    return text


def decimal_places(text: str) -> int:
    """Digits after the decimal point in a number's text (`16.00` -> 2, `$1,200` -> 0)."""
    cleaned = text.strip().rstrip("%")
    return len(cleaned.split(".", 1)[1]) if "." in cleaned else 0


def numbers_close(a: Any, b: Any, rel: float = 1e-4, abs_: float = 1e-4) -> bool:
    """Numeric match with the gold-answer tolerances (relative 1e-4 or absolute 1e-4)."""
    return math.isclose(float(to_fraction(a)), float(to_fraction(b)), rel_tol=rel, abs_tol=abs_)


def shown_as(value: Any, shown_text: str) -> bool:
    """Whether `shown_text` is `value` as a person would write it: equal, or rounded/truncated to its decimals.

    `33.33` shows `100/3`; `3` does not show `3.5` (integers must be exact, up to 1e-6 relative).
    """
    exact = to_fraction(value)
    shown = parse_number(shown_text)
    if exact == shown or math.isclose(float(exact), float(shown), rel_tol=1e-6, abs_tol=1e-9):
        return True
    places = decimal_places(shown_text)
    if places == 0:
        return False
    return abs(exact - shown) < Fraction(1, 10**places)


@functools.lru_cache(maxsize=1 << 16)
def exact_value(formula: str) -> Fraction | None:
    """The exact value of a Calculator formula, or None where `lumos_envs.tools.mathexpr` gives no
    number (a syntax error, a variable, a division by zero).

    Plain arithmetic (decimal numbers, `+ - * /`, unary minus and parentheses, as `render_formula`
    writes it) is worked out with `Fraction`s, which is what mathexpr's exact rationals give and
    many times faster; anything else (powers, percents, functions, very long numbers) and any
    doubt (a division by zero) goes to `mathexpr.evaluate_number`. Cached: converters evaluate
    the same candidate formulas again and again.
    """
    fast = _plain_arithmetic(formula)
    if fast is not None:
        return fast
    from lumos_envs.tools.mathexpr import evaluate_number  # lazy: sympy is heavy to import

    try:
        value = evaluate_number(formula)
        return to_fraction(value) if value is not None else None
    except (ValueError, TypeError, ArithmeticError, ToolError):
        return None


_PLAIN_TOKEN = re.compile(r"\s*(?:(\d{1,15}(?:\.\d{1,15})?)|([-+*/()]))")
MAX_PLAIN_FORMULA_CHARS = 300
"""longest formula `exact_value` works out itself (mathexpr's size and depth limits stay far off)"""


def _plain_arithmetic(formula: str) -> Fraction | None:
    """`formula`'s value when it is plain arithmetic that surely evaluates, else None (not known)."""
    if len(formula) > MAX_PLAIN_FORMULA_CHARS:
        return None
    tokens: list[str | Fraction] = []
    position, end = 0, len(formula.rstrip())
    while position < end:
        match = _PLAIN_TOKEN.match(formula, position)
        if match is None:
            return None
        number, symbol = match.groups()
        tokens.append(Fraction(number) if number is not None else symbol)
        position = match.end()
    parser = _PlainParser(tokens)
    try:
        value = parser.sum()
    except (IndexError, ValueError, ZeroDivisionError):
        return None
    return value if parser.pos == len(tokens) else None


class _PlainParser:
    """`sum := product (('+'|'-') product)*`, `product := unary (('*'|'/') unary)*`,
    `unary := '-' unary | number | '(' sum ')'`: the usual precedence, left-associative."""

    MAX_DEPTH = 20

    def __init__(self, tokens: Sequence[str | Fraction]) -> None:
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def sum(self) -> Fraction:
        value = self.product()
        while self.pos < len(self.tokens) and self.tokens[self.pos] in ("+", "-"):
            op = self.tokens[self.pos]
            self.pos += 1
            right = self.product()
            value = value + right if op == "+" else value - right
        return value

    def product(self) -> Fraction:
        value = self.unary()
        while self.pos < len(self.tokens) and self.tokens[self.pos] in ("*", "/"):
            op = self.tokens[self.pos]
            self.pos += 1
            right = self.unary()
            value = value * right if op == "*" else value / right
        return value

    def unary(self) -> Fraction:
        token = self.tokens[self.pos]
        self.pos += 1
        if isinstance(token, Fraction):
            return token
        if token == "-":
            return -self.unary()
        if token == "(" and self.depth < self.MAX_DEPTH:
            self.depth += 1
            value = self.sum()
            if self.tokens[self.pos] != ")":
                raise ValueError("unbalanced parentheses")
            self.pos += 1
            self.depth -= 1
            return value
        raise ValueError(f"unexpected {token!r}")


# ---------------------------------------------------------------------------------------------
# Arithmetic tokens

TokenKind = Literal["num", "op", "lparen", "rparen", "eq", "word", "punct"]


@dataclass(frozen=True)
class ArithToken:
    """One token of arithmetic prose; `op` tokens carry the normalised operator in `op`."""

    kind: TokenKind
    text: str
    start: int
    end: int
    op: str = ""

    @property
    def is_percent(self) -> bool:
        return self.kind == "num" and self.text.endswith("%")

    @property
    def value(self) -> Fraction:
        """Exact value of a `num` token (a percent counts as a hundredth)."""
        return parse_number(self.text)


_TOKEN_RE = re.compile(
    r"""
    (?P<num>\$?\s?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)%?)
  | (?P<pow>\*\*)
  | (?P<op>[+\-*/^×÷–−])
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<eq>=)
  | (?P<word>[A-Za-z][A-Za-z'’]*)
  | (?P<punct>[^\sA-Za-z0-9])
    """,
    re.VERBOSE,
)

_OPERATOR_NAMES = {"+": "+", "-": "-", "–": "-", "−": "-", "*": "*", "×": "*", "x": "*", "X": "*",
                   "/": "/", "÷": "/", "^": "^", "**": "^"}


def tokenize_arithmetic(text: str) -> list[ArithToken]:
    """Split prose with arithmetic into tokens.

    A `-` or `/` touching a letter is part of a word (`12-mile`, `2 GB/minute`, `hip-hop`); `x`, `X`
    and `×` are multiplication when a number, `$`, `(` or `.5` follows (`5 x 2`, `$2 x 2`, `5x2`);
    `–` (en dash) and `−` are minus; `**` and `^` are powers. A `$` inside a number is kept in its text.
    """
    return list(_tokens(text))


@functools.lru_cache(maxsize=1 << 15)  # a converter reads each line, mark and question more than once
def _tokens(text: str) -> tuple[ArithToken, ...]:
    tokens: list[ArithToken] = []
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        start, end, raw = match.start(), match.end(), match.group()
        before = text[start - 1] if start > 0 else " "
        after = text[end] if end < len(text) else " "
        if kind == "num":
            tokens.append(ArithToken("num", raw.replace(" ", ""), start, end))
        elif kind == "pow":
            tokens.append(ArithToken("op", raw, start, end, op="^"))
        elif kind == "op":
            if raw in "-/" and (before.isalpha() or after.isalpha()):
                tokens.append(ArithToken("word", raw, start, end))
            else:
                tokens.append(ArithToken("op", raw, start, end, op=_OPERATOR_NAMES[raw]))
        elif kind == "word":
            rest = text[end:].lstrip(" ")
            is_times = raw in ("x", "X") and bool(re.match(r"\$|\(|\d|\.\d", rest))
            if is_times:
                tokens.append(ArithToken("op", raw, start, end, op="*"))
            else:
                tokens.append(ArithToken("word", raw, start, end))
        else:
            tokens.append(ArithToken(kind, raw, start, end))  # type: ignore[arg-type]
    return tuple(tokens)


@functools.lru_cache(maxsize=1 << 16)
def normalize_number(text: str) -> str:
    """A number token as a Calculator formula writes it: no `$` or commas, `.5` -> `0.5`, `16.50` -> `16.5`, `%` kept."""
    cleaned = text.replace("$", "").replace(",", "").replace(" ", "")
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    return format_number(parse_number(cleaned)) + ("%" if percent else "")


def render_formula(tokens: Sequence[ArithToken], replacements: Mapping[int, str] | None = None) -> str:
    """Render arithmetic tokens as Calculator formula text, e.g. `3 * (16.5 + R2)`.

    Args:
        tokens: only `num`, `op`, `lparen` and `rparen` tokens.
        replacements: token index -> text to write instead (a plan variable such as `R2`).

    A number or `)` followed by `(` or a number gets an explicit `*` (`2(3+4)` -> `2 * (3 + 4)`).
    Binary operators get spaces; a leading or post-`(` minus is unary and gets none.
    """
    replacements = replacements or {}
    parts: list[str] = []
    previous: ArithToken | None = None
    for i, token in enumerate(tokens):
        if token.kind not in ("num", "op", "lparen", "rparen"):
            raise ValueError(f"cannot render {token.kind} token {token.text!r} in a formula")
        starts_operand = token.kind in ("num", "lparen")
        if starts_operand and previous is not None and previous.kind in ("num", "rparen"):
            parts.append(" * ")
        if token.kind == "num":
            parts.append(replacements.get(i, normalize_number(token.text)))
        elif token.kind == "op":
            unary = previous is None or previous.kind in ("op", "lparen")
            parts.append(token.op if unary else f" {token.op} ")
        else:
            parts.append(token.text)
        previous = token
    return "".join(parts)


def formula_tokens_only(tokens: Sequence[ArithToken]) -> bool:
    """Whether every token can be part of a Calculator formula (numbers, operators, parentheses)."""
    return all(t.kind in ("num", "op", "lparen", "rparen") for t in tokens)


# ---------------------------------------------------------------------------------------------
# Expressions split into binary operations (SVAMP's `( ( 8.0 + 10.0 ) - 7.0 )`)


@dataclass(frozen=True)
class BinaryStep:
    """One binary operation; an operand is a number's text or `("step", k)` for step k's result."""

    left: str | int
    op: str
    right: str | int


def binary_operations(expression: str) -> list[BinaryStep]:
    """Split an arithmetic expression into binary operations, innermost (and leftmost) first.

    Operands that are earlier steps are their step index (an int); numbers are their normalised
    text without a trailing `.0`. Precedence is the usual one (`* /` over `+ -`, `^` over both,
    right-associative), so partly parenthesised expressions work too.

    Raises:
        ValueError: for anything but numbers, `+ - * / ^` and balanced parentheses, or a bare number.
    """
    tokens = tokenize_arithmetic(expression)
    if not formula_tokens_only(tokens):
        bad = next(t.text for t in tokens if t.kind not in ("num", "op", "lparen", "rparen"))
        raise ValueError(f"unexpected {bad!r} in expression {expression!r}")
    parser = _BinaryParser(tokens, expression)
    result = parser.parse()
    if not parser.steps:
        raise ValueError(f"expression {expression!r} has no operation")
    if result != len(parser.steps) - 1:
        raise ValueError(f"expression {expression!r} did not reduce to one value")
    return parser.steps


class _BinaryParser:
    """Recursive descent over tokens, emitting a `BinaryStep` as each operation closes."""

    _PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 3}

    def __init__(self, tokens: Sequence[ArithToken], source: str) -> None:
        self.tokens, self.source, self.pos = list(tokens), source, 0
        self.steps: list[BinaryStep] = []

    def parse(self) -> str | int:
        value = self._expression(1)
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos].text!r} in expression {self.source!r}")
        return value

    def _expression(self, min_precedence: int) -> str | int:
        left = self._operand()
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == "op":
            op = self.tokens[self.pos].op
            precedence = self._PRECEDENCE[op]
            if precedence < min_precedence:
                break
            self.pos += 1
            right = self._expression(precedence if op == "^" else precedence + 1)
            self.steps.append(BinaryStep(left, op, right))
            left = len(self.steps) - 1
        return left

    def _operand(self) -> str | int:
        if self.pos >= len(self.tokens):
            raise ValueError(f"expression {self.source!r} ends early")
        token = self.tokens[self.pos]
        self.pos += 1
        if token.kind == "num":
            return format_number(token.value) if not token.is_percent else normalize_number(token.text)
        if token.kind == "op" and token.op == "-":  # a negative number
            nxt = self.tokens[self.pos] if self.pos < len(self.tokens) else None
            if nxt is not None and nxt.kind == "num" and not nxt.is_percent:
                self.pos += 1
                return format_number(-nxt.value)
        if token.kind == "lparen":
            value = self._expression(1)
            if self.pos >= len(self.tokens) or self.tokens[self.pos].kind != "rparen":
                raise ValueError(f"unbalanced parentheses in expression {self.source!r}")
            self.pos += 1
            return value
        raise ValueError(f"unexpected {token.text!r} in expression {self.source!r}")


# ---------------------------------------------------------------------------------------------
# Plans


class PlanBuilder:
    """Collects subgoals and actions, numbering output variables R1, R2, ... across the plan.

    >>> b = PlanBuilder()
    >>> r1 = b.calc("Calculate the cost of the apples.", "3 * 2")
    >>> r2 = b.calc("Calculate the change.", f"10 - {r1}")
    >>> b.build().subgoals[1].actions
    ('R2 = Calculator(10 - R1)',)
    """

    def __init__(self) -> None:
        self._subgoals: list[tuple[str, list[str]]] = []
        self._num_vars = 0

    @property
    def num_vars(self) -> int:
        return self._num_vars

    @property
    def last_var(self) -> str:
        if not self._num_vars:
            raise ValueError("the plan has no variables yet")
        return f"R{self._num_vars}"

    def subgoal(self, text: str) -> None:
        """Start a new subgoal; following actions belong to it."""
        if ";" in text:
            # LUMOS-O joins subgoals with "; ", so a semicolon inside one would split it.
            text = text.replace(";", ",")
        self._subgoals.append((text, []))

    def retitle(self, text: str) -> None:
        """Replace the current subgoal's text (once its actions show what it computes)."""
        if not self._subgoals:
            raise ValueError("call subgoal() before retitle()")
        self._subgoals[-1] = (text.replace(";", ","), self._subgoals[-1][1])

    def action(self, tool: str, argument: str) -> str:
        """Append `R{n} = tool(argument)` to the current subgoal and return `R{n}`."""
        if not self._subgoals:
            raise ValueError("call subgoal() before action()")
        self._num_vars += 1
        var = f"R{self._num_vars}"
        self._subgoals[-1][1].append(f"{var} = {tool}({argument})")
        return var

    def calc(self, text: str, formula: str) -> str:
        """A subgoal with one Calculator action; returns its variable."""
        self.subgoal(text)
        return self.action("Calculator", formula)

    def build(self, answer: str | None = None, *, truncate: bool = False) -> GoldPlan:
        """The plan, answering with `answer` (default: the last variable).

        Args:
            truncate: drop the actions (and then-empty subgoals) after the one that defines `answer`.
        """
        answer = answer or self.last_var
        subgoals: list[GoldSubgoal] = []
        for text, actions in self._subgoals:
            kept = list(actions)
            done = False
            if truncate:
                for j, action in enumerate(actions):
                    if action.startswith(f"{answer} = "):
                        kept, done = actions[: j + 1], True
                        break
            if kept:
                subgoals.append(GoldSubgoal(text, tuple(kept)))
            if done:
                break
        return GoldPlan(subgoals=tuple(subgoals), answer=answer)


# ---------------------------------------------------------------------------------------------
# The observer rule for a plan being written

_CALCULATOR_ACTION_RE = re.compile(r"(R\d+) = Calculator\((.*)\)")
_REF_RE = re.compile(r"\bR\d+\b")


def observer_leaks(question: str, plan: GoldPlan, values: Mapping[str, Fraction] | None = None) -> list[Leak]:
    """`lumos_envs.gold_audit`'s leaks for a Calculator-only plan, audited on the values its
    actions compute (exactly, shown as the Calculator shows them) instead of an env replay, so
    a loader can drop or repair a plan that an observer could not write.

    Args:
        values: the exact value of each variable, where the caller has computed it already (a
            converter that built the plan from known values); a variable not in it is evaluated
            here (`exact_value`).

    A plan whose values cannot be computed here is audited on the subgoals before that point.
    """
    given = values or {}
    computed: dict[str, Fraction] = {}
    observations: list[str] = []
    for subgoal in plan.subgoals:
        shown: list[str] = []
        for action in subgoal.actions:
            match = _CALCULATOR_ACTION_RE.fullmatch(action)
            if match is None:
                break
            name = match.group(1)
            exact = given.get(name)
            if exact is None:
                formula = _REF_RE.sub(lambda m: f"({computed[m.group()]})" if m.group() in computed else m.group(), match.group(2))
                exact = exact_value(formula)
            if exact is None:
                break
            computed[name] = exact
            shown.append(f"{name} = {_shown_value(exact)}")
        else:
            observations.append("; ".join(shown))
            continue
        break
    task = Task(id="plan", domain=Domain.MATH, source="plan", split="test", question=question, answer="0", plan=plan)
    return audit_gold_plan(task, observations)


@functools.lru_cache(maxsize=1 << 16)
def _shown_value(exact: Fraction) -> str:
    """How the Calculator shows an exact value (`mathexpr.format_value`), cached: plans repeat values."""
    from lumos_envs.tools.mathexpr import format_value  # lazy: sympy is heavy
    import sympy

    return format_value(sympy.Rational(exact.numerator, exact.denominator))
