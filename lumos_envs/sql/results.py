"""Query results shared by both back-ends: normalised values, the row-limited text rendering.

Values are normalised so the same rows compare equal whichever engine produced them: MariaDB
returns `Decimal` for `SUM`/`AVG` and `datetime` for date columns where SQLite returns floats and
text. Integral numbers become `int`, other numbers `float` rounded to `NUMBER_DECIMALS` places
(MariaDB's `AVG` keeps 4 decimals: `div_precision_increment`), dates ISO text, bytes UTF-8 text.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from dataclasses import dataclass

NUMBER_DECIMALS = 4
"""decimals kept from non-integral numbers (MariaDB's default `div_precision_increment`)"""

Value = int | float | str | None
Row = tuple[Value, ...]


@dataclass(frozen=True)
class QueryResult:
    """Rows of one statement (at most the back-end's row cap) and whether more were cut."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    truncated: bool = False
    """True when the result had more rows or bytes than the cap; `rows` is then a prefix"""

    def render(self, max_rows: int) -> str:
        """Rows as text the way InterCode shows them (a list of tuples), with the row count.

        `[('Plaza Museum', 62), ('Capital Plaza Museum', 25)] (2 rows)`; at most `max_rows` rows,
        then `... (57 rows, first 20 shown)`.
        """
        count = len(self.rows)
        shown = ", ".join(_render_row(r) for r in self.rows[:max_rows])
        more = f"{count}{'+' if self.truncated else ''}"
        if count > max_rows or self.truncated:
            return f"[{shown}, ...] ({more} rows, first {min(count, max_rows)} shown)"
        return f"[{shown}] ({count} row{'' if count == 1 else 's'})"


def normalize_value(value: object) -> Value:
    """One engine value in the form both back-ends share (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return str(number)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return round(number, NUMBER_DECIMALS)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        seconds = int(value.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        return f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


def normalize_row(row: tuple[object, ...]) -> Row:
    return tuple(normalize_value(v) for v in row)


def value_size(value: Value) -> int:
    """Approximate bytes of a value, for the result-size cap."""
    return len(value) if isinstance(value, str) else 8


def _render_row(row: Row) -> str:
    inner = ", ".join(repr(v) if isinstance(v, str) else ("None" if v is None else str(v)) for v in row)
    return f"({inner},)" if len(row) == 1 else f"({inner})"
