"""What the SQL env lets an agent run, checked before any back-end sees the statement.

The env is read-only: one statement per action, and only `SELECT`/`WITH` queries, `SHOW TABLES`
and `DESCRIBE t` (also `DESC t`, `SHOW COLUMNS FROM t`). Writes, `ATTACH`, `PRAGMA`, `SET`,
`SLEEP`/`BENCHMARK`, `INTO OUTFILE` and `LOAD_FILE` are refused here with a message that says
why. This check is for clear messages; it is not the only defence: the SQLite back-end also runs
under an authorizer on a read-only connection, and MariaDB under an account with SELECT only
(tests exercise both layers separately).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lumos_envs.execution.errors import ToolError
from lumos_envs.sql.lexer import SqlLexError, significant, tokenize

StatementKind = Literal["select", "show_tables", "describe"]

MAX_STATEMENT_CHARS = 10_000
"""longer statements are refused (grounder output is one line)"""

FORBIDDEN_WORDS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "REPLACE", "DROP", "CREATE", "ALTER", "TRUNCATE", "RENAME",
        "GRANT", "REVOKE", "ATTACH", "DETACH", "PRAGMA", "VACUUM", "REINDEX", "ANALYZE", "LOCK",
        "UNLOCK", "HANDLER", "CALL", "DO", "SET", "LOAD", "OUTFILE", "DUMPFILE", "INTO", "SLEEP",
        "BENCHMARK", "LOAD_FILE", "LOAD_EXTENSION", "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS",
        "MASTER_POS_WAIT", "MASTER_GTID_WAIT", "SYS_EXEC", "SYS_EVAL", "READLINE", "WRITEFILE",
    }
)
"""unquoted words refused anywhere in a statement (quoted names such as `` `Set` `` are fine)"""

WRITE_HINT = "The database is read-only: use SELECT, SHOW TABLES or DESCRIBE table."


class StatementRefused(ToolError):
    """A statement the env does not run; the message is the agent's observation."""


@dataclass(frozen=True)
class Statement:
    """A checked statement: its kind and, for `describe`, the table."""

    kind: StatementKind
    text: str
    """the statement without a trailing `;`"""
    table: str | None = None


def check_statement(text: str) -> Statement:
    """Classify `text` or refuse it.

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
    words = significant(tokens)
    while words and words[-1].text == ";":
        text = text[: words[-1].start].rstrip()
        words.pop()
    if not words:
        raise StatementRefused("empty SQL statement; write e.g. SHOW TABLES or SELECT ... FROM ...")
    if any(t.text == ";" for t in words):
        raise StatementRefused("one statement per action: split them into R1 = ...; R2 = ...")
    for token in words:
        if token.kind == "ident" and token.upper in FORBIDDEN_WORDS:
            raise StatementRefused(f"{token.upper} is not allowed. {WRITE_HINT}")
    first = words[0].upper
    upper = [t.upper for t in words]
    if first in ("SELECT", "WITH", "(", "VALUES"):
        return Statement("select", text)
    if upper == ["SHOW", "TABLES"]:
        return Statement("show_tables", text)
    if first in ("DESCRIBE", "DESC", "EXPLAIN") and len(words) == 2 and words[1].kind in ("ident", "quoted_ident"):
        return Statement("describe", text, words[1].ident_value())
    if upper[:3] in (["SHOW", "COLUMNS", "FROM"], ["SHOW", "FIELDS", "FROM"]) and len(words) == 4:
        return Statement("describe", text, words[3].ident_value())
    raise StatementRefused(f"{first} statements are not supported. {WRITE_HINT}")
