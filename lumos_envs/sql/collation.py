"""MySQL's default text comparison (`utf8mb4_general_ci`) for the SQLite back-end.

Its own module so that `sqlite_backend` (which registers it as a collation) and `mysql_groups`
(which orders scan keys with it) both import it without importing each other.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def mysql_text_key(text: str) -> str:
    """The comparison key of MySQL's `utf8mb4_general_ci`: case and accents ignored, trailing
    spaces ignored (PAD SPACE)."""
    decomposed = unicodedata.normalize("NFKD", text.rstrip(" "))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def mysql_collation(left: str, right: str) -> int:
    a, b = mysql_text_key(left), mysql_text_key(right)
    return (a > b) - (a < b)
