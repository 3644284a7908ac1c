"""A safe parser for arithmetic and algebra as people (and LUMOS annotations) write it.

The maths tools (`tools/math.py`) and the answer metrics (`metrics.py`) read formulas through
this module only. Text is tokenized and parsed by a small recursive-descent parser into a tiny
AST of tuples; limits (length, node count, nesting depth, literal size) are checked on that AST,
and only then are sympy objects built. Nothing here evaluates Python: no `eval`, no
`sympy.sympify`, no `parse_expr`. Powers whose value would be huge (`9**9**9**9`) are built
unevaluated, so parsing stays fast; `is_cheap` tells whether evaluating a formula is surely
instant, which decides whether a Calculator call may skip the killable worker process.

Accepted syntax: numbers `12`, `0.25`, `.5`, `1,200`, `$5`, `2e3`; `50%` (percent) and `a % b`
(modulo, when an operand follows); `+ - * / ^ **` and `× · ÷ – −`; `5 x 2` (x between two numbers
multiplies); implicit multiplication `2y`, `2(3+1)`, `(a+b)c`, `xy` (short letter runs are split
into single-letter symbols); `n!`; comparisons `< > <= >= == !=` (chained ones are joined with
"and"); `&` and `|` on conditions; one `=` for an equation; the constants `pi`, `E`, `True`,
`False`; the functions in `FUNCTIONS`, among them `evalat(expr, v1, v2, ...)`, which substitutes
the free variables of `expr`, sorted by name, with `v1, v2, ...`.
"""

from __future__ import annotations

import functools
from typing import Union

import mpmath
import sympy as sp
from sympy.logic.boolalg import Boolean, BooleanAtom

from lumos_envs.execution.errors import ToolError

MAX_TEXT_CHARS = 2000
"""longest formula accepted, in characters"""
MAX_NODES = 500
"""most AST nodes in one formula"""
MAX_DEPTH = 50
"""deepest nesting of parentheses, unary signs and powers"""
MAX_LITERAL_DIGITS = 30
"""most digits in the integer part (and, separately, the fraction) of a number literal"""
MAX_SCIENTIFIC_EXPONENT = 100
"""largest |n| in a literal like `2e5`"""
MAX_POWER_BITS = 20_000
"""powers of exact numbers whose result would need more bits are left unevaluated"""
MAX_SYMBOLIC_EXPONENT = 1000
"""powers of irrational constants with a larger exponent are left unevaluated"""
MAX_FACTORIAL = 1000
"""largest integer `factorial` accepts"""
MAX_RESULT_CHARS = 300
"""`format_value` refuses integers whose text would be longer"""
SIGNIFICANT_DIGITS = 10
"""significant digits shown for irrational results"""

# is_cheap's stricter bounds: evaluating a formula within them takes well under a millisecond.
_CHEAP_MAX_EXPONENT = 64
_CHEAP_MAX_BASE_NODES = 10
_CHEAP_MAX_FACTORIAL = 100
_CHEAP_MAX_VALUE_NODES = 10

FUNCTIONS = frozenset(
    {
        "sqrt", "abs", "Abs", "floor", "ceil", "ceiling", "round", "min", "Min", "max", "Max",
        "log", "ln", "exp", "sin", "cos", "tan", "factorial", "gcd", "lcm", "Mod", "evalat",
    }
)
"""names that must be followed by an argument list (`Abs`, `Min`, `Max`, `Mod` and `ceiling`
are sympy's spellings, accepted so that `format_value` output parses back)"""

_CONSTANTS = {"pi": sp.pi, "\u03c0": sp.pi, "E": sp.E}
_BOOLEANS = {"True": sp.true, "False": sp.false}
_PYTHON_KEYWORDS = frozenset(
    {
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with",
        "yield", "None",
    }
)
_MAX_SPLIT_LETTERS = 3  # `xy` is x*y; a longer unknown word is more likely a mistake than a product

_SYMBOL_OPS = [  # longest first
    ("**", "^"), ("<=", "<="), (">=", ">="), ("==", "=="), ("!=", "!="),
    ("\u2264", "<="), ("\u2265", ">="), ("\u2260", "!="),
    ("+", "+"), ("-", "-"), ("\u2013", "-"), ("\u2212", "-"), ("*", "*"), ("\u00d7", "*"),
    ("\u00b7", "*"), ("\u22c5", "*"), ("/", "/"), ("\u00f7", "/"), ("^", "^"), ("%", "%"),
    ("!", "!"), ("(", "("), (")", ")"), ("[", "["), ("]", "]"), (",", ","), ("<", "<"),
    (">", ">"), ("=", "="), ("&", "&"), ("|", "|"),
]
_SUPERSCRIPTS = {"\u00b2": 2, "\u00b3": 3}
_COMPARISONS = frozenset({"<", ">", "<=", ">=", "==", "!="})
_CLOSING = {"(": ")", "[": "]"}

Node = tuple
"""AST node: `(kind, position, *children)`; see `_Parser` for the kinds."""


class MathSyntaxError(ToolError):
    """A formula could not be parsed or built; the message says what and where.

    Attributes:
        position: 0-based character index in the formula where the problem was found.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.position = position
        if position is not None:
            start = max(position - 15, 0)
            snippet = text[start : position + 15]
            message = f"{message} at position {position} (near {snippet!r})"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# Tokenizer


class _Token:
    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind: str, value: object, pos: int):
        self.kind = kind  # "num", "name", "const", "bool", "func", "op", "end"
        self.value = value
        self.pos = pos

    def __repr__(self) -> str:
        return f"_Token({self.kind!r}, {self.value!r}, {self.pos})"

    def describe(self) -> str:
        if self.kind == "end":
            return "end of formula"
        if self.kind == "num":
            return f"number {self.value[1]!r}"
        return repr(self.value)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    brackets: list[str] = []  # "call" or "group": commas are thousands separators only in groups
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "$":
            i += 1
            continue
        if ch.isascii() and ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            in_call = bool(brackets) and brackets[-1] == "call"
            value, literal, i = _read_number(text, i, allow_thousands=not in_call)
            tokens.append(_Token("num", (value, literal), i - len(literal)))
            continue
        if ch.isascii() and ch.isalpha() or ch == "\u03c0":
            start = i
            while i < n and (text[i].isascii() and text[i].isalpha() or text[i] == "\u03c0"):
                i += 1
            tokens.extend(_name_tokens(text, start, i, tokens))
            continue
        if ch in _SUPERSCRIPTS:
            tokens.append(_Token("op", "^", i))
            tokens.append(_Token("num", (sp.Integer(_SUPERSCRIPTS[ch]), ch), i))
            i += 1
            continue
        for symbol, op in _SYMBOL_OPS:
            if text.startswith(symbol, i):
                if op in "([":
                    previous = tokens[-1] if tokens else None
                    brackets.append("call" if previous is not None and previous.kind == "func" else "group")
                elif op in ")]" and brackets:
                    brackets.pop()
                tokens.append(_Token("op", op, i))
                i += len(symbol)
                break
        else:
            if ch == "_" or ch == ".":
                raise MathSyntaxError(f"unexpected {ch!r} (attributes and Python names are not supported)", text, i)
            if ch in "'\"`":
                raise MathSyntaxError("quotes are not supported (formulas hold numbers and variables only)", text, i)
            raise MathSyntaxError(f"unexpected character {ch!r}", text, i)
    tokens.append(_Token("end", None, n))
    return tokens


def _read_number(text: str, i: int, *, allow_thousands: bool) -> tuple[sp.Rational, str, int]:
    """Read a number literal at `i`; return its exact value, its text and the index after it."""
    start, n = i, len(text)
    int_digits = ""
    while i < n and text[i].isascii() and text[i].isdigit():
        int_digits += text[i]
        i += 1
    # Thousands separators: `\d{1,3}(,\d{3})+`, never followed by a further digit ("1,2345").
    if allow_thousands and 1 <= len(int_digits) <= 3:
        j, groups = i, ""
        while text[j : j + 1] == "," and _is_digits(text[j + 1 : j + 4], 3):
            groups += text[j + 1 : j + 4]
            j += 4
        if groups and not _is_digits(text[j : j + 1], 1):
            int_digits += groups
            i = j
    frac_digits = ""
    if i < n and text[i] == ".":
        j = i + 1
        while j < n and text[j].isascii() and text[j].isdigit():
            frac_digits += text[j]
            j += 1
        # "2." is 2 (a sentence-final period), but "a.b"-style attribute access never reaches here.
        i = j
    exponent = 0
    if i + 1 < n and text[i] in "eE":
        j = i + 1
        if text[j] in "+-" and j + 1 < n:
            j += 1
        if text[j].isascii() and text[j].isdigit():
            k = j
            while k < n and text[k].isascii() and text[k].isdigit():
                k += 1
            exponent = int(text[i + 1 : k])
            if abs(exponent) > MAX_SCIENTIFIC_EXPONENT:
                raise MathSyntaxError(f"exponent of number literal larger than {MAX_SCIENTIFIC_EXPONENT}", text, start)
            i = k
    if len(int_digits.lstrip("0")) > MAX_LITERAL_DIGITS or len(frac_digits) > MAX_LITERAL_DIGITS:
        raise MathSyntaxError(f"number literal longer than {MAX_LITERAL_DIGITS} digits", text, start)
    scale = 10 ** len(frac_digits)
    value = sp.Rational(int(int_digits or "0") * scale + int(frac_digits or "0"), scale)
    value *= sp.Rational(10) ** exponent
    return value, text[start:i], i


def _is_digits(chunk: str, length: int) -> bool:
    return len(chunk) == length and chunk.isascii() and chunk.isdigit()


def _name_tokens(text: str, start: int, end: int, previous: list[_Token]) -> list[_Token]:
    word = text[start:end]
    if word in FUNCTIONS:
        return [_Token("func", word, start)]
    if word in _CONSTANTS:
        return [_Token("const", word, start)]
    if word in _BOOLEANS:
        return [_Token("bool", word, start)]
    if word in _PYTHON_KEYWORDS:
        raise MathSyntaxError(f"Python syntax is not supported ({word!r})", text, start)
    if word in ("x", "X") and previous and previous[-1].kind == "num" and _number_follows(text, end):
        return [_Token("op", "*", start)]  # "5 x 2"
    if len(word) > _MAX_SPLIT_LETTERS:
        raise MathSyntaxError(
            f"unknown name {word!r} (variables are single letters; functions are {', '.join(sorted(FUNCTIONS))})",
            text,
            start,
        )
    return [_Token("name", letter, start + k) for k, letter in enumerate(word)]


def _number_follows(text: str, i: int) -> bool:
    while i < len(text) and (text[i].isspace() or text[i] == "$"):
        i += 1
    return i < len(text) and (text[i].isdigit() or (text[i] == "." and text[i + 1 : i + 2].isdigit()))


# ---------------------------------------------------------------------------------------------
# Parser: text -> AST of tuples


class _Parser:
    """Recursive descent, lowest precedence first.

    Node kinds: ("num", pos, Rational), ("sym", pos, name), ("const", pos, name),
    ("bool", pos, name), ("neg", pos, a), ("add", pos, [terms]), ("mul", pos, a, [(op, b)...])
    with op in `* / %`, ("pow", pos, base, exp), ("pct", pos, a), ("fact", pos, a),
    ("call", pos, name, [args]), ("cmp", pos, op, a, b), ("and", pos, [conds]),
    ("or", pos, [conds]), ("eq", pos, lhs, rhs).
    """

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.num_nodes = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.index]

    def _is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def _advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _error(self, message: str, token: _Token | None = None) -> MathSyntaxError:
        token = token or self.tok
        return MathSyntaxError(message, self.text, token.pos)

    def _node(self, *parts: object) -> Node:
        self.num_nodes += 1
        if self.num_nodes > MAX_NODES:
            raise self._error(f"formula too long (more than {MAX_NODES} parts)")
        return tuple(parts)

    def _starts_operand(self, token: _Token) -> bool:
        return token.kind in ("num", "name", "const", "bool", "func") or (
            token.kind == "op" and token.value in ("(", "[")
        )

    # grammar
    def parse(self) -> Node:
        node = self._equation()
        if self.tok.kind != "end":
            raise self._unexpected()
        return node

    def _unexpected(self) -> MathSyntaxError:
        token = self.tok
        if token.kind == "op" and token.value in (")", "]"):
            return self._error(f"unmatched {token.value!r}")
        if token.kind == "op" and token.value == ",":
            return self._error("unexpected ',' (commas separate function arguments only)")
        if token.kind == "op" and token.value == "=":
            return self._error("more than one '=' (write one equation per formula)")
        if self._starts_operand(token):
            return self._error(f"missing operator before {token.describe()}")
        return self._error(f"unexpected {token.describe()}")

    def _equation(self) -> Node:
        lhs = self._or()
        if self._is_op("="):
            token = self._advance()
            rhs = self._or()
            return self._node("eq", token.pos, lhs, rhs)
        return lhs

    def _or(self) -> Node:
        conds = [self._and()]
        pos = self.tok.pos
        while self._is_op("|"):
            self._advance()
            conds.append(self._and())
        return conds[0] if len(conds) == 1 else self._node("or", pos, conds)

    def _and(self) -> Node:
        conds = [self._comparison()]
        pos = self.tok.pos
        while self._is_op("&"):
            self._advance()
            conds.append(self._comparison())
        return conds[0] if len(conds) == 1 else self._node("and", pos, conds)

    def _comparison(self) -> Node:
        operands = [self._sum()]
        comparisons = []
        while self.tok.kind == "op" and self.tok.value in _COMPARISONS:
            token = self._advance()
            operands.append(self._sum())
            comparisons.append(self._node("cmp", token.pos, token.value, operands[-2], operands[-1]))
        if not comparisons:
            return operands[0]
        if len(comparisons) == 1:
            return comparisons[0]
        return self._node("and", comparisons[0][1], comparisons)  # 1 < x < 5

    def _sum(self) -> Node:
        pos = self.tok.pos
        terms = [self._product()]
        while self._is_op("+", "-"):
            token = self._advance()
            term = self._product()
            terms.append(self._node("neg", token.pos, term) if token.value == "-" else term)
        return terms[0] if len(terms) == 1 else self._node("add", pos, terms)

    def _product(self) -> Node:
        pos = self.tok.pos
        first = self._unary()
        rest: list[tuple[str, Node]] = []
        while True:
            if self._is_op("*", "/", "%"):
                token = self._advance()
                rest.append((token.value, self._unary()))
            elif self._starts_operand(self.tok) and self.tok.kind != "num":
                rest.append(("*", self._power()))  # implicit multiplication: 2y, 2(3+1), (a+b)c
            else:
                break
        return first if not rest else self._node("mul", pos, first, rest)

    def _unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"formula nested too deeply (more than {MAX_DEPTH} levels)")
        try:
            if self._is_op("-"):
                token = self._advance()
                return self._node("neg", token.pos, self._unary())
            if self._is_op("+"):
                self._advance()
                return self._unary()
            return self._power()
        finally:
            self.depth -= 1

    def _power(self) -> Node:
        base = self._postfix()
        if self._is_op("^"):
            token = self._advance()
            exponent = self._unary()  # right-associative, and 2^-1 is allowed
            return self._node("pow", token.pos, base, exponent)
        return base

    def _postfix(self) -> Node:
        node = self._primary()
        num_postfix = 0
        while True:
            if self._is_op("!"):
                token = self._advance()
                node = self._node("fact", token.pos, node)
            elif self._is_op("%") and not self._starts_operand(self.tokens[self.index + 1]):
                token = self._advance()  # `50%`: an operand after `%` would make it modulo
                node = self._node("pct", token.pos, node)
            else:
                return node
            num_postfix += 1
            if self.depth + num_postfix > MAX_DEPTH:
                raise self._error(f"formula nested too deeply (more than {MAX_DEPTH} levels)", token)

    def _primary(self) -> Node:
        token = self.tok
        if token.kind == "num":
            self._advance()
            return self._node("num", token.pos, token.value[0])
        if token.kind in ("name", "const", "bool"):
            self._advance()
            return self._node("sym" if token.kind == "name" else token.kind, token.pos, token.value)
        if token.kind == "func":
            self._advance()
            if not self._is_op("("):
                raise self._error(f"expected '(' after function {token.value!r}")
            self._advance()
            args = [self._equation()]
            while self._is_op(","):
                self._advance()
                args.append(self._equation())
            if not self._is_op(")"):
                raise self._error(f"expected ',' or ')' in the arguments of {token.value!r}")
            self._advance()
            return self._node("call", token.pos, token.value, args)
        if self._is_op("(", "["):
            self._advance()
            if self._is_op(_CLOSING[token.value]):
                raise self._error(f"empty {token.value}{_CLOSING[token.value]}")
            inner = self._equation()
            if not self._is_op(_CLOSING[token.value]):
                if self.tok.kind == "end":
                    raise MathSyntaxError(f"unclosed {token.value!r}", self.text, token.pos)
                if self._is_op(",") and token.value == "[":
                    raise self._error("lists are not supported in formulas")
                raise self._unexpected()
            self._advance()
            return inner
        if token.kind == "end":
            raise self._error("formula ends too early (expected a number, variable or '(')")
        raise self._error(f"expected a number, variable or '(' but found {token.describe()}")


def _parse_ast(text: str) -> Node:
    if not isinstance(text, str):
        raise MathSyntaxError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise MathSyntaxError(f"formula longer than {MAX_TEXT_CHARS} characters")
    if not text.strip():
        raise MathSyntaxError("empty formula")
    return _Parser(text).parse()


def _children(node: Node) -> list[Node]:
    kind = node[0]
    if kind in ("neg", "pct", "fact"):
        return [node[2]]
    if kind in ("add", "and", "or"):
        return list(node[2])
    if kind == "mul":
        return [node[2]] + [b for _, b in node[3]]
    if kind in ("pow", "eq"):
        return [node[2], node[3]]
    if kind == "cmp":
        return [node[3], node[4]]
    if kind == "call":
        return list(node[3])
    return []


def _free_names(node: Node) -> set[str]:
    """Variable names left free in the formula (`evalat` binds the first ones of its expression)."""
    if node[0] == "sym":
        return {node[2]}
    if node[0] == "call" and node[2] == "evalat":
        inner = sorted(_free_names(node[3][0]))
        values = node[3][1:]
        names = set(inner[len(values) :])
        for value in values:
            names |= _free_names(value)
        return names
    names: set[str] = set()
    for child in _children(node):
        names |= _free_names(child)
    return names


def _count_nodes(node: Node) -> int:
    return 1 + sum(_count_nodes(child) for child in _children(node))


def _contains(node: Node, kinds: tuple[str, ...]) -> bool:
    if node[0] in kinds or (node[0] == "call" and "call" in kinds):
        return True
    return any(_contains(child, kinds) for child in _children(node))


# ---------------------------------------------------------------------------------------------
# Builder: AST -> sympy


def _power_is_safe(base: sp.Basic, exponent: sp.Basic) -> bool:
    """Whether sympy may evaluate `base ** exponent` without building a huge number."""
    if base.free_symbols or exponent.free_symbols or not exponent.is_Number:
        return True
    if base.is_zero or base == 1 or base == -1:
        return True
    p, q = (abs(int(exponent.p)), int(exponent.q)) if exponent.is_Rational else (None, None)
    if p is None:  # a Float exponent
        return abs(exponent) <= MAX_SYMBOLIC_EXPONENT
    if base.is_Rational:
        bits = max(int(base.p).bit_length(), int(base.q).bit_length())
        return bits * p <= MAX_POWER_BITS and q <= MAX_SYMBOLIC_EXPONENT
    return p <= MAX_SYMBOLIC_EXPONENT * q and q <= MAX_SYMBOLIC_EXPONENT


def has_huge_power(value: sp.Basic) -> bool:
    """Whether `value` holds a power left unevaluated because its value would be huge.

    Evaluating such a value (simplify, evalf, substituting) could take unbounded time or memory.
    """
    if not isinstance(value, sp.Basic):
        return False
    for sub in sp.preorder_traversal(value):
        if isinstance(sub, sp.Pow) and not _power_is_safe(sub.base, sub.exp):
            return True
    return False


Built = tuple  # (sympy value, whether it holds a huge unevaluated power)


class _Builder:
    def __init__(self, text: str):
        self.text = text

    def error(self, message: str, node: Node) -> MathSyntaxError:
        return MathSyntaxError(message, self.text, node[1])

    def expr(self, built: Built, node: Node) -> sp.Expr:
        value = built[0]
        if not isinstance(value, sp.Expr):
            what = "True/False" if isinstance(value, BooleanAtom) else "a comparison or equation"
            raise self.error(f"cannot use {what} as a number", node)
        return value

    def boolean(self, built: Built, node: Node) -> Boolean:
        value = built[0]
        if not isinstance(value, Boolean):
            raise self.error("expected a condition (comparison or True/False) around '&' or '|'", node)
        return value

    def apply(self, make, huge: bool, node: Node) -> Built:
        try:
            if huge:
                with sp.evaluate(False):
                    return make(), True
            return make(), False
        except (TypeError, ValueError, ArithmeticError, AttributeError, NotImplementedError) as exc:
            raise self.error(f"cannot evaluate this part ({exc})", node) from exc

    def build(self, node: Node, env: dict[str, sp.Basic]) -> Built:
        kind = node[0]
        if kind == "num":
            return node[2], False
        if kind == "sym":
            if node[2] in env:
                return env[node[2]], has_huge_power(env[node[2]])
            return sp.Symbol(node[2]), False
        if kind == "const":
            return _CONSTANTS[node[2]], False
        if kind == "bool":
            return _BOOLEANS[node[2]], False
        if kind == "neg":
            inner = self.build(node[2], env)
            value = self.expr(inner, node[2])
            return self.apply(lambda: -value, inner[1], node)
        if kind == "pct":
            inner = self.build(node[2], env)
            value = self.expr(inner, node[2])
            return self.apply(lambda: value / 100, inner[1], node)
        if kind == "add":
            built = [self.build(term, env) for term in node[2]]
            terms = [self.expr(b, term) for b, term in zip(built, node[2])]
            return self.apply(lambda: sp.Add(*terms), any(b[1] for b in built), node)
        if kind == "mul":
            return self._product(node, env)
        if kind == "pow":
            base_built, exp_built = self.build(node[2], env), self.build(node[3], env)
            base, exponent = self.expr(base_built, node[2]), self.expr(exp_built, node[3])
            huge = base_built[1] or exp_built[1] or not _power_is_safe(base, exponent)
            return self.apply(lambda: sp.Pow(base, exponent), huge, node)
        if kind == "fact":
            return self._call("factorial", [node[2]], node, env)
        if kind == "call":
            return self._call(node[2], node[3], node, env)
        if kind == "cmp":
            return self._comparison(node, env)
        if kind in ("and", "or"):
            built = [self.build(cond, env) for cond in node[2]]
            conds = [self.boolean(b, cond) for b, cond in zip(built, node[2])]
            make = sp.And if kind == "and" else sp.Or
            return self.apply(lambda: make(*conds), any(b[1] for b in built), node)
        if kind == "eq":
            lhs_built, rhs_built = self.build(node[2], env), self.build(node[3], env)
            lhs, rhs = lhs_built[0], rhs_built[0]
            if not isinstance(lhs, sp.Expr) or not isinstance(rhs, sp.Expr):
                raise self.error("an equation's sides must be numbers or expressions", node)
            return self.apply(lambda: sp.Eq(lhs, rhs, evaluate=False), lhs_built[1] or rhs_built[1], node)
        raise AssertionError(f"unknown node kind {kind!r}")

    def _product(self, node: Node, env: dict[str, sp.Basic]) -> Built:
        acc_built = self.build(node[2], env)
        acc, huge = self.expr(acc_built, node[2]), acc_built[1]
        for op, operand in node[3]:
            built = self.build(operand, env)
            value, huge = self.expr(built, operand), huge or built[1]
            if op == "*":
                acc, huge = self.apply(lambda: acc * value, huge, node)
            elif op == "/":
                acc, huge = self.apply(lambda: acc / value, huge, node)
            else:
                acc, huge = self.apply(lambda: sp.Mod(acc, value), huge, node)
        return acc, huge

    def _comparison(self, node: Node, env: dict[str, sp.Basic]) -> Built:
        op = node[2]
        lhs_built, rhs_built = self.build(node[3], env), self.build(node[4], env)
        huge = lhs_built[1] or rhs_built[1]
        if op in ("==", "!="):
            lhs, rhs = lhs_built[0], rhs_built[0]
            if not isinstance(lhs, (sp.Expr, BooleanAtom)) or not isinstance(rhs, (sp.Expr, BooleanAtom)):
                raise self.error(f"cannot compare conditions with {op!r}", node)
            if isinstance(lhs, BooleanAtom) or isinstance(rhs, BooleanAtom):
                same = lhs == rhs
                return sp.true if same == (op == "==") else sp.false, False
            make = sp.Eq if op == "==" else sp.Ne
        else:
            lhs, rhs = self.expr(lhs_built, node[3]), self.expr(rhs_built, node[4])
            make = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge}[op]
        return self.apply(lambda: make(lhs, rhs), huge, node)

    def _call(self, name: str, arg_nodes: list[Node], node: Node, env: dict[str, sp.Basic]) -> Built:
        if name == "evalat":
            return self._evalat(arg_nodes, node, env)
        built = [self.build(arg, env) for arg in arg_nodes]
        args = [self.expr(b, arg) for b, arg in zip(built, arg_nodes)]
        huge = any(b[1] for b in built)
        arity = {"round": (1, 2), "log": (1, 2), "min": (1, None), "Min": (1, None), "max": (1, None),
                 "Max": (1, None), "gcd": (2, None), "lcm": (2, None), "Mod": (2, 2)}.get(name, (1, 1))
        low, high = arity
        if len(args) < low or (high is not None and len(args) > high):
            expected = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise self.error(f"{name} takes {expected} argument(s), got {len(args)}", node)
        if huge and name in ("round", "gcd", "lcm", "factorial"):
            raise self.error(f"number too large for {name}", node)
        if name == "factorial":
            (arg,) = args
            if arg.is_Integer and arg > MAX_FACTORIAL:
                raise self.error(f"factorial argument larger than {MAX_FACTORIAL}", node)
            return self.apply(lambda: sp.factorial(arg), huge, node)
        if name == "round":
            return self._round(args, node), False
        if name in ("gcd", "lcm"):
            if not all(arg.is_Rational for arg in args):
                raise self.error(f"{name} needs whole numbers", node)
            combine = sp.gcd if name == "gcd" else sp.lcm
            return self.apply(lambda: functools.reduce(combine, args), False, node)
        simple = {
            "sqrt": sp.sqrt, "abs": sp.Abs, "Abs": sp.Abs, "floor": sp.floor, "ceil": sp.ceiling,
            "ceiling": sp.ceiling, "min": sp.Min, "Min": sp.Min, "max": sp.Max, "Max": sp.Max,
            "log": sp.log, "ln": sp.log, "exp": sp.exp, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
            "Mod": sp.Mod,
        }
        make = simple[name]
        return self.apply(lambda: make(*args), huge, node)

    def _round(self, args: list[sp.Expr], node: Node) -> sp.Expr:
        value = args[0]
        digits = args[1] if len(args) == 2 else sp.Integer(0)
        if not digits.is_Integer or abs(digits) > MAX_LITERAL_DIGITS:
            raise self.error(f"round's second argument must be an integer up to {MAX_LITERAL_DIGITS}", node)
        if value.free_symbols or not value.is_number:
            raise self.error("round needs a number, not an expression with variables", node)
        if not value.is_Rational:
            approx = value.evalf(60)
            if not approx.is_real or not approx.is_finite:
                raise self.error("round needs a real number", node)
            value = sp.Rational(approx)
        scale = sp.Integer(10) ** int(digits)
        scaled = abs(value) * scale
        rounded = sp.floor(scaled + sp.Rational(1, 2))  # half away from zero, as people round
        return sp.sign(value) * rounded / scale

    def _evalat(self, arg_nodes: list[Node], node: Node, env: dict[str, sp.Basic]) -> Built:
        if len(arg_nodes) < 2:
            raise self.error("evalat needs an expression and at least one value", node)
        names = sorted(_free_names(arg_nodes[0]))
        values = [self.build(arg, env) for arg in arg_nodes[1:]]
        for built, arg in zip(values, arg_nodes[1:]):
            self.expr(built, arg)
        if len(values) > len(names):
            raise self.error(
                f"evalat got {len(values)} value(s) but the expression has {len(names)} variable(s) {names}", node
            )
        inner = dict(env)
        inner.update((name, built[0]) for name, built in zip(names, values))
        return self.build(arg_nodes[0], inner)


def parse_math(text: str) -> sp.Basic:
    """Parse a formula into a sympy expression, relational, boolean or (for `=`) an unevaluated Eq.

    Numbers are exact (`0.25` is 1/4); powers whose value would be huge stay unevaluated (see
    `has_huge_power`), so parsing takes milliseconds whatever the input.

    Raises:
        MathSyntaxError: the text is not a supported formula, breaks a size limit, or does
            something undefined such as arithmetic on True/False.
    """
    ast = _parse_ast(text)
    return _Builder(text).build(ast, {})[0]


def is_cheap(text: str, *, allow_symbols: bool = False) -> bool:
    """Whether evaluating `text` in-process is surely instant (well under a millisecond).

    True when the text parses, has no free variables (unless `allow_symbols`), every power has a
    literal integer exponent of at most 64 over a small base without powers, and every factorial
    a literal argument of at most 100. False on syntax errors too: the bounded worker reports them.
    """
    try:
        ast = _parse_ast(text)
    except MathSyntaxError:
        return False
    if not allow_symbols and _free_names(ast):
        return False
    return _cheap(ast)


def _literal_integer(node: Node) -> int | None:
    if node[0] == "neg":
        inner = _literal_integer(node[2])
        return None if inner is None else -inner
    if node[0] == "num" and node[2].is_Integer:
        return int(node[2])
    return None


def _cheap(node: Node) -> bool:
    kind = node[0]
    if kind == "pow":
        exponent = _literal_integer(node[3])
        base = node[2]
        if exponent is None or abs(exponent) > _CHEAP_MAX_EXPONENT:
            return False
        if _contains(base, ("pow", "fact", "call")) or _count_nodes(base) > _CHEAP_MAX_BASE_NODES:
            return False
        return True
    if kind == "fact":
        argument = _literal_integer(node[2])
        return argument is not None and 0 <= argument <= _CHEAP_MAX_FACTORIAL
    if kind == "call" and node[2] == "evalat":
        for value in node[3][1:]:
            if _contains(value, ("pow", "fact", "call")) or _count_nodes(value) > _CHEAP_MAX_VALUE_NODES:
                return False
    if kind == "call" and node[2] == "factorial":
        argument = _literal_integer(node[3][0]) if len(node[3]) == 1 else None
        return argument is not None and 0 <= argument <= _CHEAP_MAX_FACTORIAL
    return all(_cheap(child) for child in _children(node))


# ---------------------------------------------------------------------------------------------
# Formatting and plain numbers


def format_value(value: sp.Basic) -> str:
    """Show a result to an agent.

    Rules: integers as `60`; rationals whose decimal expansion terminates as decimals (`0.75`,
    `-1.125`); other rationals as `p/q` (`2/3`); irrational numbers to 10 significant digits with
    trailing zeros trimmed (`1.414213562`); booleans as `True`/`False`; expressions with variables
    as sympy's text (`x - 3*y`, parseable by `parse_math`); equations as `lhs = rhs`. A
    non-integer whose exact text would be longer than `MAX_RESULT_CHARS` is shown to 10
    significant digits instead.

    Raises:
        ToolError: the result is undefined (division by zero), not real, holds a huge unevaluated
            power, or its text would be longer than `MAX_RESULT_CHARS` characters.
    """
    if isinstance(value, BooleanAtom):
        return "True" if value else "False"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        value = sp.Integer(value)
    if not isinstance(value, sp.Basic):
        raise ToolError(f"cannot format a {type(value).__name__}")
    if has_huge_power(value):
        raise ToolError("result too large")
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ToolError("undefined result (division by zero?)")
    if isinstance(value, sp.Equality):
        text = f"{format_value(value.lhs)} = {format_value(value.rhs)}"
    elif not isinstance(value, sp.Expr) or value.free_symbols:
        text = str(value)
    elif value.is_Integer:
        text = str(value)
    elif value.is_Rational:
        text = _format_rational(value)
        if len(text) > MAX_RESULT_CHARS and abs(value) < sp.Integer(10) ** MAX_RESULT_CHARS:
            text = _format_approx(value)
    else:
        text = _format_approx(value)
    if len(text) > MAX_RESULT_CHARS:
        raise ToolError(f"result too large (more than {MAX_RESULT_CHARS} characters)")
    return text


def _format_rational(value: sp.Rational) -> str:
    p, q = int(value.p), int(value.q)
    twos = fives = 0
    rest = q
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{p}/{q}"
    places = max(twos, fives)
    scaled = abs(p) * 10**places // q
    digits = str(scaled).rjust(places + 1, "0")
    whole, fraction = digits[:-places], digits[-places:].rstrip("0")
    sign = "-" if p < 0 else ""
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _format_approx(value: sp.Expr) -> str:
    approx = value.evalf(SIGNIFICANT_DIGITS + 5)
    if not isinstance(approx, sp.Float):
        real, imag = approx.as_real_imag()
        if imag != 0 and abs(imag) > abs(real) * sp.Float("1e-12"):
            raise ToolError(f"result is not a real number: {value}")
        approx = real
        if not isinstance(approx, (sp.Float, sp.Integer)):
            raise ToolError(f"cannot evaluate {value} to a number")
    text = mpmath.nstr(mpmath.mpf(approx._mpf_ if isinstance(approx, sp.Float) else int(approx)), SIGNIFICANT_DIGITS)
    mantissa, _, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    return f"{mantissa}e{exponent}" if exponent else mantissa


Number = Union[sp.Rational, sp.Float]


def evaluate_number(text: str) -> Number | None:
    """The exact value of text that should be a plain number as people write it, else None.

    Accepts what `parse_math` does (`$1,200`, `50%`, `1/7`, `2^3`, `0.25`, `-3`, `1,234.5`) as
    long as it has no variables and is cheap to evaluate (`is_cheap`). Rationals come back exact;
    irrational values as a 30-digit Float.
    """
    if not is_cheap(text):
        return None
    try:
        value = parse_math(text)
    except MathSyntaxError:  # e.g. `5 % 0` or `True + 1`: well-formed but not a number
        return None
    if not isinstance(value, sp.Expr) or not value.is_number or value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return None
    if value.is_Rational:
        return value
    approx = value.evalf(30)
    return approx if isinstance(approx, sp.Float) else None  # complex values are not answers
