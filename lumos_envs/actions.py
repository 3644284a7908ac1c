"""The LUMOS action language: parse grounder output and annotation records into `Action`s.

LUMOS grounding modules write one line of actions joined by `; `, e.g.
`R1 = KnowledgeQuery(Julius Caesar); R2 = ParagraphRetrieve(R1, Query: How many kids?)`.
Annotation records add `Action i-j:` prefixes and the annotated result after ` = `. SQL actions
are raw statements bound to variables (`R1 = SHOW TABLES`). This module is the only parser of
that language in lumos (`spec/contract.md`); the execution module and every env call it.

The grammar is implemented by a small scanner rather than `split`/`find` chains, because the
arguments are free text: they hold commas (`KnowledgeQuery(Albany, Georgia)`), apostrophes
(`grey seal's hearing`), nested calls (`Calculator(R4(R5, R6))`), brackets (`QA([R2, R3], ...)`)
and `=` signs (`SolveEquation(R2=xy)`). The scanner tracks quotes and bracket depth, so `;` and
`,` split only at the top level. A quote opens a string only at a word boundary and only when it
is closed later on, so apostrophes in prose stay literal.

    action     := [outputs "="] call [annotation] ["."]
    outputs    := VAR ("," VAR)*                  VAR := "R" digits | "Output"
    call       := NAME "(" args ")" | NAME "[" text "]" | raw_sql
    args       := arg ("," arg)*                  arg := [LABEL ":"] text
    annotation := "=" text                         (annotation records only)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Mapping

from lumos_envs.domains import Domain

ActionStyle = Literal["call", "bracket", "raw"]
"""`call`: `Tool(args)`; `bracket`: WebShop's `search[text]`; `raw`: a raw SQL statement."""

SQL_TOOL = "SQL"
"""Tool name that raw SQL statements parse to (`R1 = SHOW TABLES` -> tool `SQL`)."""

OUTPUT_ALIAS = "Output"
"""Raw annotations sometimes name the last variable `Output`; it is renamed `R{last+1}`."""

MAX_ACTION_CHARS = 20_000
"""Longer action text is refused before scanning (model output is one line)."""

_VARIABLE = re.compile(r"R\d+")
_REF = re.compile(r"(?<![A-Za-z0-9_])R\d+(?![A-Za-z0-9_])")
_OUTPUTS = re.compile(r"\s*((?:R\d+|Output)(?:\s*,\s*(?:R\d+|Output))*)\s*=(?!=)\s*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"([A-Za-z][A-Za-z_]{0,23}):\s")
_ACTION_PREFIX = re.compile(r"\s*Action\s+\d+\s*-\s*\d+\s*:\s*")
_SUBGOAL_LINE = re.compile(r"\s*Subgoal\s+(\d+)\s*:\s*(.*)")
_SQL_START = re.compile(
    r"(SELECT|SHOW|DESCRIBE|DESC|WITH|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|PRAGMA|ATTACH|"
    r"DETACH|EXPLAIN|REPLACE|TRUNCATE|GRANT|SET|USE|LOAD|VALUES|CALL|HANDLER|DO)\b",
    re.IGNORECASE,
)
_SQL_ANNOTATED = re.compile(r"((?:SHOW\s+TABLES)|(?:DESC(?:RIBE)?\s+[`\"\w.]+))\s*=\s*(.*)", re.IGNORECASE | re.DOTALL)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_QUOTES = "'\"`"


class ActionSyntaxError(ValueError):
    """Action text that does not follow the LUMOS action syntax.

    The message says what is wrong and where (a column and the text around it), because it is
    shown to the agent as the observation.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.position = position
        if position is not None and text:
            start = max(0, position - 20)
            snippet = text[start : position + 20].replace("\n", " ")
            message = f"{message} at column {position + 1}: ...{snippet}..."
        super().__init__(message)


class UndefinedVariableError(KeyError):
    """An action refers to a variable that no earlier action set."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        known_text = ", ".join(known) if known else "none yet"
        super().__init__(f"variable {name} is not defined (defined so far: {known_text})")

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass(frozen=True)
class Arg:
    """One argument of a tool call: an optional inline label and free text."""

    text: str
    """the argument without its label, e.g. `How many kids did Julius Caesar have?`"""
    label: str | None = None
    """inline label as written (`Query`, `Question`, `QUERY`, `TEXT`, `Item_names`), or None"""
    refs: tuple[str, ...] = ()
    """variables the text references (`R2`), in order of first use"""

    @property
    def is_list(self) -> bool:
        """Whether the argument is a bracketed list such as `[R2, R3]`."""
        text = self.text.strip()
        return text.startswith("[") and text.endswith("]") and _closing_index(text, 0) == len(text) - 1

    @property
    def items(self) -> list[str]:
        """The elements of a bracketed list (or the text itself as one item)."""
        if not self.is_list:
            return [self.text]
        inner = self.text.strip()[1:-1]
        return [piece.strip() for piece, _ in _split_top_level(inner, ",") if piece.strip()]

    def render(self) -> str:
        return f"{self.label}: {self.text}" if self.label else self.text


@dataclass(frozen=True)
class Action:
    """One parsed action, e.g. `R5, R6 = SolveEquation(R2=xy, R3=x/y)`.

    `arg_text` is the text between the parentheses exactly as written (tools with one free-text
    parameter read it whole, so `Calculator(1,200 + 5)` keeps its thousands comma); `args` is the
    same text split at top-level commas, with labels separated.
    """

    outputs: tuple[str, ...]
    tool: str
    args: tuple[Arg, ...]
    arg_text: str = ""
    style: ActionStyle = "call"

    @property
    def refs(self) -> tuple[str, ...]:
        """All variables referenced by the arguments, in order of first use."""
        seen: dict[str, None] = {}
        for arg in self.args:
            for ref in arg.refs:
                seen.setdefault(ref, None)
        return tuple(seen)

    def render(self) -> str:
        """The action as LUMOS writes it; parsing the result gives an equal `Action`."""
        lhs = f"{', '.join(self.outputs)} = " if self.outputs else ""
        if self.style == "raw":
            return f"{lhs}{self.arg_text}"
        if self.style == "bracket":
            return f"{lhs}{self.tool}[{self.arg_text}]"
        return f"{lhs}{self.tool}({self.arg_text})"

    @classmethod
    def call(cls, tool: str, arg_text: str, outputs: tuple[str, ...] = ()) -> "Action":
        """Build a call action from its parts (the arguments are parsed like model output)."""
        return cls(outputs=tuple(outputs), tool=tool, args=_parse_args(arg_text, 0), arg_text=arg_text.strip())


@dataclass(frozen=True)
class Subgoal:
    """One subgoal of an annotation record with its actions and their annotated results."""

    index: int
    text: str
    actions: tuple[Action, ...]
    results: tuple[str | None, ...] = field(default=())
    """annotated result of each action (`1.5`), None where the record gives none"""

    def action_line(self) -> str:
        """The grounder's output for this subgoal: the actions rendered and joined by `; `."""
        return "; ".join(action.render() for action in self.actions)


# ---------------------------------------------------------------------------------------------
# public API


def parse_actions(text: str, domain: Domain | str | None = None) -> list[Action]:
    """Parse one grounder output (actions joined by `; `) into actions.

    Args:
        text: e.g. `R1 = Calculator(2 - 0.5); R2 = Calculator(R1 / 0.25)`.
        domain: `sql` (or LUMOS's `intercode_sql`) reads right-hand sides as raw SQL statements;
            any other domain, or None, expects tool calls (raw SQL is still recognised by its
            leading keyword when the domain is None).

    Raises:
        ActionSyntaxError: for anything that is not valid action syntax, with the position.
    """
    if not isinstance(text, str):
        raise ActionSyntaxError(f"actions must be text, got {type(text).__name__}")
    if len(text) > MAX_ACTION_CHARS:
        raise ActionSyntaxError(f"action text is {len(text)} characters long; the limit is {MAX_ACTION_CHARS}")
    if "\x00" in text:
        raise ActionSyntaxError("action text contains a NUL character", text, text.index("\x00"))
    is_sql = _is_sql_domain(domain)
    actions = []
    for segment, start in split_actions(text, split_newlines=not is_sql):
        action, result = _parse_action(segment, start, text, is_sql=is_sql, annotated=False)
        actions.append(action)
    if not actions:
        raise ActionSyntaxError("no action found; write e.g. R1 = Calculator(2 + 3)")
    return actions


def parse_annotation(subgoal_plan: str, domain: Domain | str | None = None) -> list[Subgoal]:
    """Parse an annotation record's `subgoal_plan` into subgoals with actions and results.

    Handles the `Action i-j:` prefixes, annotated results after ` = `, trailing periods, and the
    `Output` alias (renamed to `R{last+1}`, where last is the highest variable so far).

    Raises:
        ActionSyntaxError: naming the line that is malformed.
    """
    is_sql = _is_sql_domain(domain)
    subgoals: list[Subgoal] = []
    text: str | None = None
    index = 0
    actions: list[Action] = []
    results: list[str | None] = []
    highest = 0

    def flush() -> None:
        if text is not None:
            subgoals.append(Subgoal(index, text, tuple(actions), tuple(results)))

    for line_no, line in enumerate(subgoal_plan.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SUBGOAL_LINE.match(line)
        if match:
            flush()
            index, text = int(match.group(1)), match.group(2).strip()
            actions, results = [], []
            continue
        prefix = _ACTION_PREFIX.match(line)
        if text is None or not prefix:
            raise ActionSyntaxError(f"line {line_no} is neither 'Subgoal k: ...' nor 'Action k-j: ...'", line, 0)
        try:
            action, result = _parse_action(line[prefix.end() :], 0, line[prefix.end() :], is_sql=is_sql, annotated=True)
        except ActionSyntaxError as error:
            raise ActionSyntaxError(f"line {line_no}: {error.reason}", line, None) from error
        if OUTPUT_ALIAS in action.outputs:
            renamed = []
            for name in action.outputs:
                if name == OUTPUT_ALIAS:
                    highest += 1
                    name = f"R{highest}"
                renamed.append(name)
            action = Action(tuple(renamed), action.tool, action.args, action.arg_text, action.style)
        for name in action.outputs:
            highest = max(highest, int(name[1:]))
        actions.append(action)
        results.append(result)
    flush()
    if not subgoals:
        raise ActionSyntaxError("no 'Subgoal k: ...' line found in the subgoal plan")
    return subgoals


def split_actions(text: str, *, split_newlines: bool = True) -> list[tuple[str, int]]:
    """Split action text at top-level `;` (and newlines), respecting quotes and brackets.

    Returns (segment, start offset) pairs, empty segments dropped.

    Raises:
        ActionSyntaxError: for an unclosed or unmatched bracket.
    """
    separators = ";\n" if split_newlines else ";"
    return [(piece, start) for piece, start in _split_top_level(text, separators) if piece.strip()]


def substitute_refs(
    text: str,
    values: Mapping[str, str],
    *,
    wrap: Callable[[str], str] | None = None,
    apply_call: Callable[[str], str] | None = None,
) -> str:
    """Replace variable references (whole tokens `R\\d+`, outside quotes) by their values.

    `R1` never matches inside `R10` or `xR1`. A reference directly followed by `(` is a function
    application (`R4(R5, R6)`); with `apply_call` given, `R4(` becomes `apply_call(value)` + `(`
    rest, so the math tools can read it as `evalat(...)`.

    Raises:
        UndefinedVariableError: for a reference to a variable not in `values`.
    """
    out: list[str] = []
    last = 0
    for match in _iter_refs(text):
        name = match.group(0)
        if name not in values:
            raise UndefinedVariableError(name, sorted(values, key=_variable_order))
        value = values[name]
        out.append(text[last : match.start()])
        after = match.end()
        if apply_call is not None and text.startswith("(", after):
            out.append(apply_call(value))
            last = after + 1
            continue
        out.append(wrap(value) if wrap else value)
        last = after
    out.append(text[last:])
    return "".join(out)


def find_refs(text: str) -> tuple[str, ...]:
    """Variables referenced in `text` (whole tokens outside quotes), in order of first use."""
    return tuple(dict.fromkeys(m.group(0) for m in _iter_refs(text)))


def is_variable(name: str) -> bool:
    """Whether `name` is a LUMOS variable name (`R` followed by digits)."""
    return bool(_VARIABLE.fullmatch(name))


# ---------------------------------------------------------------------------------------------
# scanner


def _is_sql_domain(domain: Domain | str | None) -> bool:
    if domain is None:
        return False
    value = domain.value if isinstance(domain, Domain) else str(domain)
    return value in ("sql", "intercode_sql")


def _variable_order(name: str) -> tuple[int, str]:
    return (int(name[1:]), name) if is_variable(name) else (1 << 30, name)


def _quote_end(text: str, i: int) -> int | None:
    """If text[i] opens a quoted string, the index of its closing quote, else None.

    A quote opens a string only at a word boundary (not in `seal's`) and only when it is closed
    later on; SQL's doubled quotes (`'O''Brien'`) read as two adjacent strings.
    """
    quote = text[i]
    if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        return None
    end = text.find(quote, i + 1)
    return end if end != -1 else None


def _scan(text: str) -> Iterator[tuple[int, str, int]]:
    """Yield (index, char, depth) for characters outside quoted strings.

    Raises ActionSyntaxError for a closing bracket that does not match, or an unclosed one.
    """
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _QUOTES:
            end = _quote_end(text, i)
            if end is not None:
                i = end + 1
                continue
        if char in _OPEN:
            yield i, char, len(stack)
            stack.append((char, i))
        elif char in _CLOSE:
            if not stack or stack[-1][0] != _CLOSE[char]:
                raise ActionSyntaxError(f"unmatched '{char}'", text, i)
            stack.pop()
            yield i, char, len(stack)
        else:
            yield i, char, len(stack)
        i += 1
    if stack:
        char, position = stack[-1]
        raise ActionSyntaxError(f"'{char}' is never closed", text, position)


def _split_top_level(text: str, separators: str) -> list[tuple[str, int]]:
    pieces: list[tuple[str, int]] = []
    start = 0
    for i, char, depth in _scan(text):
        if depth == 0 and char in separators:
            if char == "," and _is_thousands_comma(text, i):
                continue
            pieces.append((text[start:i], start))
            start = i + 1
    pieces.append((text[start:], start))
    return pieces


def _is_thousands_comma(text: str, i: int) -> bool:
    """`1,200`: a comma between a digit and exactly three digits is part of a number."""
    if i == 0 or not text[i - 1].isdigit():
        return False
    digits = text[i + 1 : i + 5]
    return len(digits) >= 3 and digits[:3].isdigit() and (len(digits) == 3 or not digits[3].isdigit())


def _closing_index(text: str, open_index: int) -> int | None:
    """Index of the bracket closing the one at `open_index` (scan from there), else None."""
    for i, char, depth in _scan_from(text, open_index):
        if char in _CLOSE and depth == 0:
            return i
    return None


def _scan_from(text: str, start: int) -> Iterator[tuple[int, str, int]]:
    try:
        for i, char, depth in _scan(text[start:]):
            yield start + i, char, depth
    except ActionSyntaxError as error:
        raise ActionSyntaxError(error.reason, text, None if error.position is None else start + error.position) from None


def _iter_refs(text: str) -> Iterator[re.Match[str]]:
    """References outside quoted strings."""
    i, n = 0, len(text)
    plain_start = 0
    while i < n:
        if text[i] in _QUOTES:
            end = _quote_end(text, i)
            if end is not None:
                yield from _REF.finditer(text, plain_start, i)
                i = plain_start = end + 1
                continue
        i += 1
    yield from _REF.finditer(text, plain_start, n)


def _parse_args(arg_text: str, offset: int) -> tuple[Arg, ...]:
    """Split call arguments at top-level commas; unlabeled pieces after a labeled argument
    continue it (`QUERY: Choose Atlanta, GA (ATL)` is one argument)."""
    if not arg_text.strip():
        return ()
    args: list[tuple[str | None, str]] = []
    for piece, _ in _split_top_level(arg_text, ","):
        stripped = piece.strip()
        label_match = _LABEL.match(stripped + " ") if ":" in stripped else None
        if label_match:
            args.append((label_match.group(1), stripped[label_match.end() :].strip()))
        elif args and args[-1][0] is not None:
            label, text = args[-1]
            args[-1] = (label, f"{text}, {stripped}")
        else:
            args.append((None, stripped))
    return tuple(Arg(text=text, label=label, refs=find_refs(text)) for label, text in args)


def _parse_action(segment: str, offset: int, full: str, *, is_sql: bool, annotated: bool) -> tuple[Action, str | None]:
    """Parse one action; returns it and its annotated result (annotation records only)."""

    def fail(message: str, at: int) -> ActionSyntaxError:
        return ActionSyntaxError(message, full, offset + at)

    body = segment.rstrip()
    position = len(body) - len(body.lstrip())
    if not annotated and _ACTION_PREFIX.match(body):
        raise fail("'Action i-j:' prefixes belong to annotation records; write only the action", position)
    outputs: tuple[str, ...] = ()
    match = _OUTPUTS.match(body)
    if match:
        outputs = tuple(name.strip() for name in match.group(1).split(","))
        if len(set(outputs)) != len(outputs):
            raise fail("the same variable is assigned twice", position)
        position = match.end()
    rhs = body[position:]
    if not rhs.strip():
        raise fail("nothing after '='; write e.g. R1 = Calculator(2 + 3)", position)

    name_match = _NAME.match(rhs)
    opener = rhs[name_match.end()] if name_match and name_match.end() < len(rhs) else ""
    is_answer = bool(name_match and name_match.group(0) == "Answer" and opener == "(")
    if is_sql and not is_answer:
        return _parse_sql(rhs, outputs, fail, position, annotated)
    if not name_match or opener not in ("(", "["):
        if _SQL_START.match(rhs) and not annotated:
            return _parse_sql(rhs, outputs, fail, position, annotated)
        if not name_match:
            raise fail("expected a tool call such as Calculator(2 + 3)", position)
        raise fail(f"expected '(' after the tool name {name_match.group(0)!r}", position + name_match.end())
    tool = name_match.group(0)
    open_at = name_match.end()
    close_at = _closing_index(rhs, open_at)
    if close_at is None:  # _scan raises for unclosed brackets; this is defensive
        raise fail(f"'{opener}' is never closed", position + open_at)
    inner = rhs[open_at + 1 : close_at]
    rest = rhs[close_at + 1 :].strip()
    result: str | None = None
    if rest.startswith("=") and annotated:
        result = _clean_result(rest[1:])
    elif rest not in ("", "."):
        hint = " (annotated results are not part of an action)" if rest.startswith("=") else ""
        raise fail(f"unexpected text after the action: {rest[:40]!r}{hint}", position + close_at + 1)
    if opener == "[":
        action = Action(outputs, tool, (Arg(text=inner.strip(), refs=find_refs(inner)),), inner.strip(), "bracket")
    else:
        action = Action(outputs, tool, _parse_args(inner, offset + position + open_at + 1), inner.strip(), "call")
    return action, result


def _parse_sql(rhs: str, outputs: tuple[str, ...], fail: Callable[[str, int], ActionSyntaxError], position: int, annotated: bool) -> tuple[Action, str | None]:
    statement = rhs.strip()
    result: str | None = None
    if annotated:
        match = _SQL_ANNOTATED.fullmatch(statement)
        if match:
            statement, result = match.group(1), _clean_result(match.group(2))
    if statement.endswith("."):
        statement = statement[:-1].rstrip()
    statement = statement.rstrip(";").rstrip()
    if not statement:
        raise fail("empty SQL statement", position)
    return Action(outputs, SQL_TOOL, (Arg(text=statement, refs=find_refs(statement)),), statement, "raw"), result


def _clean_result(text: str) -> str:
    text = text.strip()
    return text[:-1].rstrip() if text.endswith(".") else text
