"""Read a MySQL dump (`mysqldump` output, as InterCode-SQL ships the Spider dev databases).

`parse_dump(text)` returns each database's table definitions (columns with their MySQL types,
primary, unique and foreign keys) and its rows as Python values, plus the dump's own
`CREATE TABLE` / `INSERT` statements for loading a real MySQL-family server. Only those
statement kinds are kept: the dump's `CREATE USER`/`GRANT` lines (InterCode's admin account),
`SET`, `LOCK TABLES` and conditional comments are skipped, so loading a dump never creates an
account or changes server settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lumos_envs.sql.lexer import SqlLexError, Token, significant, split_statements, tokenize

DUMP_PARSER_VERSION = "1"
"""bump when parsing changes what a dump yields (it keys the cached SQLite builds)"""


class DumpError(ValueError):
    """A dump that cannot be read; the message names the database, table and statement."""


@dataclass(frozen=True)
class Column:
    """One column as the dump declares it."""

    name: str
    mysql_type: str
    """the type as written, lower case, e.g. `varchar(20)`, `int`, `float(10,2)`"""
    nullable: bool = True
    default: str | None = None
    """default value text (`NULL` is None)"""
    auto_increment: bool = False

    @property
    def base_type(self) -> str:
        """`varchar(20)` -> `varchar`."""
        return self.mysql_type.split("(")[0].split()[0]


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table definition: columns, keys, and the dump's own `CREATE TABLE` text."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    create_sql: str = ""


@dataclass
class Database:
    """One database of a dump: its tables in dump order, their rows, and its MySQL statements."""

    name: str
    tables: list[Table] = field(default_factory=list)
    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    """table name -> rows (int, float, str or None values) in dump order"""
    statements: list[str] = field(default_factory=list)
    """`CREATE TABLE` and `INSERT` statements as the dump writes them (for MariaDB)"""

    def table(self, name: str) -> Table:
        """The table called `name` (case-insensitive, as MySQL with lower_case_table_names=1)."""
        for table in self.tables:
            if table.name.lower() == name.lower():
                return table
        raise KeyError(f"no table {name!r} in database {self.name!r}")


@dataclass
class Dump:
    databases: dict[str, Database] = field(default_factory=dict)


def read_dump(path: Path) -> Dump:
    """Parse the dump file at `path`."""
    return parse_dump(Path(path).read_text(encoding="utf-8"), source=str(path))


def parse_dump(text: str, source: str = "<dump>") -> Dump:
    """Parse dump text into databases.

    Raises:
        DumpError: naming the source and statement for anything it cannot read.
    """
    dump = Dump()
    current: Database | None = None
    try:
        statements = split_statements(text)
    except SqlLexError as error:
        raise DumpError(f"{source}: {error}") from None
    for number, statement in enumerate(statements, start=1):
        tokens = significant(tokenize(statement))
        if not tokens:
            continue
        words = [t.upper for t in tokens[:3]]
        where = f"{source}: statement {number} ({statement[:60]!r})"
        if words[:2] == ["CREATE", "DATABASE"]:
            name = _name_after(tokens, 2, skip=("IF", "NOT", "EXISTS"))
            current = dump.databases.setdefault(name, Database(name))
        elif words[0] == "USE":
            name = tokens[1].ident_value()
            current = dump.databases.setdefault(name, Database(name))
        elif words[:2] == ["CREATE", "TABLE"]:
            if current is None:
                raise DumpError(f"{where}: CREATE TABLE before any CREATE DATABASE/USE")
            try:
                table = _parse_create_table(tokens, statement)
            except (IndexError, ValueError) as error:
                raise DumpError(f"{where}: cannot read table definition: {error}") from None
            current.tables = [t for t in current.tables if t.name != table.name] + [table]
            current.rows.setdefault(table.name, [])
            current.statements.append(statement)
        elif words[0] == "INSERT":
            if current is None:
                raise DumpError(f"{where}: INSERT before any CREATE DATABASE/USE")
            try:
                table_name, rows = _parse_insert(tokens, current)
            except (IndexError, ValueError, KeyError) as error:
                raise DumpError(f"{where}: cannot read INSERT: {error}") from None
            current.rows[table_name].extend(rows)
            current.statements.append(statement)
        # everything else (SET, LOCK/UNLOCK TABLES, DROP TABLE IF EXISTS, CREATE USER, GRANT,
        # FLUSH, conditional comments) is deliberately not carried over
    if not dump.databases:
        raise DumpError(f"{source}: no CREATE DATABASE or USE statement found; is this a MySQL dump?")
    return dump


def _name_after(tokens: list[Token], start: int, skip: tuple[str, ...] = ()) -> str:
    i = start
    while tokens[i].upper in skip:
        i += 1
    return tokens[i].ident_value()


def _parse_create_table(tokens: list[Token], statement: str) -> Table:
    i = 2
    while tokens[i].upper in ("IF", "NOT", "EXISTS"):
        i += 1
    name = tokens[i].ident_value()
    if tokens[i + 1].text != "(":
        raise ValueError("expected '(' after the table name")
    items = _split_items(tokens[i + 2 :])
    columns: list[Column] = []
    primary: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = []
    indexes: list[tuple[str, ...]] = []
    fks: list[ForeignKey] = []
    for item in items:
        head = item[0].upper
        if head == "PRIMARY":
            primary = _paren_names(item)
        elif head == "UNIQUE":
            uniques.append(_paren_names(item))
        elif head in ("KEY", "INDEX", "FULLTEXT", "SPATIAL"):
            indexes.append(_paren_names(item))
        elif head in ("CONSTRAINT", "FOREIGN"):
            if "FOREIGN" in [t.upper for t in item]:
                fks.append(_foreign_key(item))
        elif head == "CHECK":
            continue
        else:
            columns.append(_column(item))
    return Table(name, tuple(columns), primary, tuple(uniques), tuple(indexes), tuple(fks), statement)


def _split_items(tokens: list[Token]) -> list[list[Token]]:
    """Split the body of `CREATE TABLE t (...)` at top-level commas, up to the closing `)`."""
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            if depth == 0:
                break
            depth -= 1
        if token.text == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(token)
    return [item for item in items if item]


def _paren_names(item: list[Token]) -> tuple[str, ...]:
    start = next(i for i, t in enumerate(item) if t.text == "(")
    names: list[str] = []
    depth = 0
    for token in item[start + 1 :]:
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and token.kind in ("ident", "quoted_ident"):
            names.append(token.ident_value())
    return tuple(names)


def _foreign_key(item: list[Token]) -> ForeignKey:
    fk_at = next(i for i, t in enumerate(item) if t.upper == "FOREIGN")
    ref_at = next(i for i, t in enumerate(item) if t.upper == "REFERENCES")
    return ForeignKey(_paren_names(item[fk_at:]), item[ref_at + 1].ident_value(), _paren_names(item[ref_at + 1 :]))


def _column(item: list[Token]) -> Column:
    name = item[0].ident_value()
    type_parts = [item[1].text.lower()]
    i = 2
    if i < len(item) and item[i].text == "(":
        close = next(j for j in range(i, len(item)) if item[j].text == ")")
        type_parts.append("(" + "".join(t.text for t in item[i + 1 : close]) + ")")
        i = close + 1
    while i < len(item) and item[i].upper in ("UNSIGNED", "ZEROFILL", "SIGNED"):
        type_parts.append(" " + item[i].text.lower())
        i += 1
    words = [t.upper for t in item[i:]]
    nullable = not any(a == "NOT" and b == "NULL" for a, b in zip(words, words[1:]))
    default = None
    for j, word in enumerate(words[:-1]):
        if word == "DEFAULT":
            token = item[i + j + 1]
            if token.upper != "NULL":
                default = token.string_value() if token.kind in ("string", "dqstring") else token.text
    return Column(name, "".join(type_parts), nullable, default, "AUTO_INCREMENT" in words)


def _parse_insert(tokens: list[Token], database: Database) -> tuple[str, list[tuple[object, ...]]]:
    i = 1
    while tokens[i].upper in ("IGNORE", "INTO", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
        i += 1
    table = database.table(tokens[i].ident_value())
    i += 1
    order: list[int] | None = None
    if tokens[i].text == "(":
        names = _paren_names(tokens[i:])
        lookup = {c.name.lower(): k for k, c in enumerate(table.columns)}
        order = [lookup[n.lower()] for n in names]
        i = next(j for j in range(i, len(tokens)) if tokens[j].text == ")") + 1
    if tokens[i].upper not in ("VALUES", "VALUE"):
        raise ValueError("only INSERT ... VALUES is supported")
    rows: list[tuple[object, ...]] = []
    row: list[object] = []
    i += 1
    negative = False
    while i < len(tokens):
        token = tokens[i]
        text = token.text
        if text == "(":
            row = []
        elif text == ")":
            if order is not None:
                full: list[object] = [None] * len(table.columns)
                for k, value in zip(order, row):
                    full[k] = value
                row = full
            if len(row) != len(table.columns):
                raise ValueError(f"a row of {table.name} has {len(row)} values for {len(table.columns)} columns")
            rows.append(tuple(row))
        elif text == "-":
            negative = True
        elif text in (",", "+"):
            pass
        else:
            value = _literal(token)
            if isinstance(value, _Introducer):
                i += 1
                continue
            if negative:
                value = -value  # type: ignore[operator]
                negative = False
            row.append(value)
        i += 1
    return table.name, rows


def _literal(token: Token) -> object:
    if token.kind in ("string", "dqstring"):
        return token.string_value()
    if token.kind == "number":
        text = token.text
        if text.lower().startswith("0x"):
            return bytes.fromhex(text[2:]).decode("utf-8", errors="replace")
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)
    if token.upper == "NULL":
        return None
    if token.upper in ("TRUE", "FALSE"):
        return int(token.upper == "TRUE")
    if token.kind == "ident" and token.text.startswith("_"):  # charset introducer (_binary 'x')
        return _Introducer()
    raise ValueError(f"unsupported value {token.text!r}")


class _Introducer:
    """Placeholder never stored: an introducer is followed by its literal."""
