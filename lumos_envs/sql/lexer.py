"""A small MySQL lexer: enough to split a dump into statements, rewrite literals, and find names.

Why not a regex: MySQL text holds `;` and quotes inside string literals (`'O\\'Brien; Jr'`),
backslash escapes, doubled quotes, backtick identifiers and `/* */` / `-- ` comments. Every
consumer (dump parsing, the SQLite literal rewrite, statement checks, gold-plan table lookup)
needs the same token boundaries, so they share this one scanner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

TokenKind = Literal["string", "dqstring", "ident", "quoted_ident", "number", "comment", "space", "punct", "word"]

_MYSQL_ESCAPES = {"0": "\x00", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "\\": "\\", "'": "'", '"': '"'}


class SqlLexError(ValueError):
    """Text that cannot be tokenised (an unterminated string or comment)."""


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    """the token exactly as written"""
    start: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def string_value(self) -> str:
        """The value of a string literal (`'it\\'s'` -> `it's`), MySQL escapes resolved."""
        return unquote_mysql(self.text)

    def ident_value(self) -> str:
        """An identifier's name without backticks."""
        if self.kind == "quoted_ident":
            return self.text[1:-1].replace("``", "`")
        return self.text


def tokenize(text: str) -> Iterator[Token]:
    """Yield MySQL tokens. `"..."` is a string (MySQL's default sql_mode, no ANSI_QUOTES).

    Raises:
        SqlLexError: for an unterminated string, identifier or comment.
    """
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            yield Token("space", text[i:j], i)
            i = j
        elif c in "'\"":
            j = _string_end(text, i)
            yield Token("string" if c == "'" else "dqstring", text[i : j + 1], i)
            i = j + 1
        elif c == "`":
            j = i + 1
            while True:
                j = text.find("`", j)
                if j == -1:
                    raise SqlLexError(f"unterminated `identifier at offset {i}")
                if text.startswith("``", j):
                    j += 2
                    continue
                break
            yield Token("quoted_ident", text[i : j + 1], i)
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                raise SqlLexError(f"unterminated /* comment at offset {i}")
            yield Token("comment", text[i : j + 2], i)
            i = j + 2
        elif c == "#" or (text.startswith("--", i) and (i + 2 == n or text[i + 2].isspace())):
            j = text.find("\n", i)
            j = n if j == -1 else j
            yield Token("comment", text[i:j], i)
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "."):
                j += 1
            # exponent sign: 1e-5
            while j < n and text[j] in "+-" and text[j - 1] in "eE" and j + 1 < n and text[j + 1].isdigit():
                j += 1
                while j < n and text[j].isdigit():
                    j += 1
            kind: TokenKind = "number" if _is_number(text[i:j]) else "word"
            yield Token(kind, text[i:j], i)
            i = j
        elif c.isalpha() or c in "_$@":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_$@"):
                j += 1
            yield Token("ident", text[i:j], i)
            i = j
        else:
            two = text[i : i + 2]
            if two in ("<=", ">=", "<>", "!=", "||", "&&", ":=", "<<", ">>"):
                yield Token("punct", two, i)
                i += 2
            else:
                yield Token("punct", c, i)
                i += 1


def split_statements(text: str) -> list[str]:
    """Split SQL text at top-level `;` (outside strings and comments); empty pieces dropped."""
    pieces: list[str] = []
    start = 0
    for token in tokenize(text):
        if token.kind == "punct" and token.text == ";":
            pieces.append(text[start : token.start])
            start = token.start + 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def significant(tokens: Iterator[Token] | list[Token]) -> list[Token]:
    """Tokens without spaces and comments."""
    return [t for t in tokens if t.kind not in ("space", "comment")]


def unquote_mysql(literal: str) -> str:
    """The value of a MySQL string literal: doubled quotes and backslash escapes resolved."""
    quote, body = literal[0], literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_MYSQL_ESCAPES.get(nxt, "\\" + nxt if nxt in "%_" else nxt))
            i += 2
        elif c == quote and body.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def quote_sqlite(value: str) -> str:
    """A SQLite string literal for `value` (only `'` needs doubling)."""
    return "'" + value.replace("'", "''") + "'"


def _string_end(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and text[j + 1] == quote:
                j += 2
                continue
            return j
        j += 1
    raise SqlLexError(f"unterminated string starting at offset {i}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.lower().startswith("0x") and all(ch in "0123456789abcdefABCDEF" for ch in text[2:]) and len(text) > 2
    return True
