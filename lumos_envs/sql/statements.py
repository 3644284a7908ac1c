"""What the SQL env lets an agent run, checked before any back-end sees the statement.

The env is read-only: one statement per action, and only what sqlglot (MySQL dialect) parses as
a query (`SELECT`, `WITH ... SELECT`, `UNION`, a parenthesised select), `SHOW TABLES`,
`DESCRIBE t` (also `DESC t`, `EXPLAIN t`, `SHOW COLUMNS FROM t`) or `EXPLAIN` of such a query.
The decision is made on the parse tree, not on the words in the text, so
`SELECT REPLACE(name, 'a', 'b') FROM singer` or a column named `set` runs, while anything whose
tree holds a write, DDL, `SET`, `INTO` (`INTO OUTFILE`, `INTO @var`), a locking read or a call to
a function that waits, locks or reads files (`SLEEP`, `BENCHMARK`, `GET_LOCK`, `LOAD_FILE`) is
refused with a message that says why. Text the parser cannot read is refused too (fail closed),
and so are MySQL's executable comments (`/*! ... */`), which the server runs but a parser skips.

This check is for clear messages; it is not the only defence: the SQLite back-end also runs
under an authorizer on a read-only connection, and MariaDB under an account with SELECT only
(tests exercise both layers separately).
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Literal

from lumos_envs.execution.errors import ToolError
from lumos_envs.sql.lexer import SqlLexError, Token, significant, tokenize

StatementKind = Literal["select", "show_tables", "describe", "explain"]

MAX_STATEMENT_CHARS = 10_000
"""longer statements are refused (grounder output is one line)"""
MAX_NESTING = 40
"""deepest parenthesis nesting accepted (sqlglot's recursive parser overflows Python's stack
near 100; Spider's gold queries nest at most a few levels)"""

STATEMENT_STARTS = {"SELECT": "select", "WITH": "select", "(": "select", "SHOW": "show", "DESCRIBE": "describe",
                    "DESC": "describe", "EXPLAIN": "describe"}
"""the first word of each statement kind the env runs; anything else is refused before parsing"""

DENIED_FUNCTIONS = frozenset(
    {
        "SLEEP", "BENCHMARK", "LOAD_FILE", "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS", "IS_FREE_LOCK",
        "IS_USED_LOCK", "MASTER_POS_WAIT", "MASTER_GTID_WAIT", "SOURCE_POS_WAIT", "SYS_EXEC", "SYS_EVAL",
        "LOAD_EXTENSION", "READFILE", "WRITEFILE",
    }
)
"""functions refused where the parse tree *calls* them (a column named `sleep` is fine): they
wait, take server locks, or touch files"""

WRITE_HINT = "The database is read-only: use SELECT, SHOW TABLES or DESCRIBE table."


class StatementRefused(ToolError):
    """A statement the env does not run; the message is the agent's observation."""


@dataclass(frozen=True)
class Statement:
    """A checked statement: its kind, and the table (`describe`) or query (`explain`) it is about."""

    kind: StatementKind
    text: str
    """the statement without a trailing `;`"""
    table: str | None = None
    query: str | None = None
    """for `explain`: the query text after the EXPLAIN keyword"""


def check_statement(text: str) -> Statement:
    """Classify `text` or refuse it (see the module docstring).

    Raises:
        StatementRefused: for anything but one read-only statement, saying why.
    """
    text = text.strip()
    if len(text) > MAX_STATEMENT_CHARS:
        raise StatementRefused(f"statement is {len(text)} characters long; the limit is {MAX_STATEMENT_CHARS}")
    try:
        tokens = list(tokenize(text))
    except SqlLexError as error:
        raise StatementRefused(f"cannot read the statement: {error}") from None
    _refuse_executable_comments(tokens)
    words = significant(tokens)
    while words and words[-1].text == ";":
        text = text[: words[-1].start].rstrip()
        words.pop()
    if not words:
        raise StatementRefused("empty SQL statement; write e.g. SHOW TABLES or SELECT ... FROM ...")
    if any(t.text == ";" for t in words):
        raise StatementRefused("one statement per action: split them into R1 = ...; R2 = ...")
    first = words[0].upper if words[0].kind in ("ident", "punct") else words[0].text
    if first not in STATEMENT_STARTS:
        raise StatementRefused(f"{_short(first)} statements are not allowed. {WRITE_HINT}")
    # INTO is a reserved word in MySQL, so an unquoted INTO is always `SELECT ... INTO`, whose
    # OUTFILE/DUMPFILE forms sqlglot cannot even parse: say what is wrong rather than "cannot parse"
    if any(t.kind == "ident" and t.upper == "INTO" for t in words):
        raise StatementRefused(f"SELECT ... INTO is not allowed. {WRITE_HINT}")
    _refuse_deep_nesting(words)
    if STATEMENT_STARTS[first] == "show":
        return _check_show(text, words)
    tree = _parse_one(text)
    _refuse_unsafe_nodes(tree)
    return _classify(text, tree, words)


# -- helpers -----------------------------------------------------------------------------------


def _parse_one(text: str) -> Any:
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        with _quiet_sqlglot():
            trees = [t for t in sqlglot.parse(text, read="mysql") if t is not None]
    except SqlglotError as error:
        raise StatementRefused(f"cannot parse the statement: {_parse_message(error)}") from None
    except RecursionError:
        raise StatementRefused("the statement is nested too deeply") from None
    if len(trees) != 1:
        raise StatementRefused("one statement per action: split them into R1 = ...; R2 = ...")
    return trees[0]


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """Keep sqlglot from logging a warning per odd statement (`DESCRIBE show` "falls back to a
    Command"): agents write many, and the refusal message already says what is wrong."""
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _classify(text: str, tree: Any, words: list[Token]) -> Statement:
    from sqlglot import exp

    if isinstance(tree, exp.Query):
        return Statement("select", text)
    if isinstance(tree, exp.Describe):
        if tree.args.get("style") or tree.args.get("format") or tree.args.get("partition") or tree.args.get("expressions"):
            raise StatementRefused(f"only plain DESCRIBE table and EXPLAIN SELECT ... are supported. {WRITE_HINT}")
        target = tree.this
        if isinstance(target, exp.Table) and not target.args.get("db") and isinstance(target.this, exp.Identifier):
            return Statement("describe", text, target.name)
        if isinstance(target, exp.Query) and len(words) > 1:
            return Statement("explain", text, query=text[words[1].start :])
        raise StatementRefused(f"{words[0].upper} needs a table name or a SELECT query. {WRITE_HINT}")
    raise StatementRefused(f"{type(tree).__name__.upper()} statements are not allowed. {WRITE_HINT}")


def _check_show(text: str, words: list[Token]) -> Statement:
    """`SHOW TABLES` and `SHOW COLUMNS|FIELDS FROM t`, nothing else (the SQLite back-end emulates
    these two, and other SHOW forms tell about the server, not the task's database)."""
    from sqlglot import exp

    second = words[1].upper if len(words) > 1 else ""
    if second not in ("TABLES", "COLUMNS", "FIELDS"):
        raise StatementRefused(f"only SHOW TABLES and SHOW COLUMNS FROM table are supported. {WRITE_HINT}")
    # sqlglot knows SHOW COLUMNS but not its synonym SHOW FIELDS: parse the synonym's twin
    parse_text = text[: words[1].start] + "COLUMNS" + text[words[1].start + len(words[1].text) :] if second == "FIELDS" else text
    tree = _parse_one(parse_text)
    if not isinstance(tree, exp.Show):
        raise StatementRefused(f"only SHOW TABLES and SHOW COLUMNS FROM table are supported. {WRITE_HINT}")
    extras = sorted(k for k, v in tree.args.items() if v and k not in ("this", "target"))
    if extras:
        raise StatementRefused(f"only plain SHOW TABLES and SHOW COLUMNS FROM table are supported. {WRITE_HINT}")
    if tree.name.upper() == "TABLES" and tree.args.get("target") is None:
        return Statement("show_tables", text)
    target = tree.args.get("target")
    if tree.name.upper() == "COLUMNS" and target is not None:
        return Statement("describe", text, target.name)
    raise StatementRefused(f"only SHOW TABLES and SHOW COLUMNS FROM table are supported. {WRITE_HINT}")


def _refuse_unsafe_nodes(tree: Any) -> None:
    from sqlglot import exp

    unsafe = tuple(
        node_type
        for node_type in (getattr(exp, name, None) for name in _UNSAFE_NODES)
        if isinstance(node_type, type)
    )
    for node in tree.walk():
        if isinstance(node, unsafe):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else (
                "FOR UPDATE / FOR SHARE (a locking read)" if isinstance(node, exp.Lock) else type(node).__name__.upper())
            raise StatementRefused(f"{what} is not allowed. {WRITE_HINT}")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).upper()
            if name in DENIED_FUNCTIONS:
                raise StatementRefused(f"{name} is not allowed. {WRITE_HINT}")
        if isinstance(node, exp.Describe) and node is not tree:
            raise StatementRefused(f"DESCRIBE inside a statement is not allowed. {WRITE_HINT}")


_UNSAFE_NODES = (
    "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command",
    "Set", "Into", "Lock", "Pragma", "Use", "Transaction", "Commit", "Rollback", "LoadData", "Grant", "Revoke",
    "Copy", "Cache", "Uncache", "Refresh", "Analyze", "Kill",
)
"""sqlglot node classes refused anywhere in a statement (looked up by name: sqlglot versions
differ in which exist)"""


def _refuse_executable_comments(tokens: list[Token]) -> None:
    for token in tokens:
        if token.kind == "comment" and (token.text.startswith("/*!") or token.text.startswith("/*M!")):
            raise StatementRefused(f"executable comments (/*! ... */) are not allowed. {WRITE_HINT}")


def _refuse_deep_nesting(words: list[Token]) -> None:
    depth = 0
    for token in words:
        if token.text == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise StatementRefused(f"the statement nests parentheses deeper than {MAX_NESTING} levels")
        elif token.text == ")":
            depth -= 1


def _parse_message(error: Exception) -> str:
    """sqlglot's first error, without its ANSI-highlighted excerpt."""
    details = getattr(error, "errors", None) or []
    if details:
        first = details[0]
        where = f" (line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        return f"{_TOKEN_REPR.sub(_token_words, first.get('description') or 'syntax error')}{where}"
    return str(error).split("\n")[0]


_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: .*?>")


def _token_words(match: re.Match[str]) -> str:
    """sqlglot's `<Token token_type: ..., text: x, ...>` as `'x'` (or `the end of the statement`)."""
    return "the end of the statement" if match.group(1) == "SENTINEL" else repr(match.group(2))


def _short(word: str) -> str:
    return word if len(word) <= 30 else word[:27] + "..."
