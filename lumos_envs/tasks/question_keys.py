"""Questions as a model sees them: the keys that decide whether two tasks are the same question.

A test question that equals a training question, or equals one once its numbers are masked (the
tiny model reads numbers as placeholders N1, N2, ...; a larger model still sees the same template
and entities), measures memory, not generalisation. The generators use `masked_key` to put every
item in one part (`train`, `validation` or `test`) so that parts never share a masked question, and
`lumos eval` uses the same keys to refuse suites that overlap a model's training records.
"""

from __future__ import annotations

import re
import zlib

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
"""any run of digits with inner `.` or `,` groups: `12`, `3.50`, `1,200`"""


def normalise_question(text: str) -> str:
    """The question with runs of whitespace collapsed: the exact-duplicate key."""
    return " ".join(str(text).split())


def mask_numbers(text: str) -> str:
    """Every number (`12`, `3.50`, `1,200`) as `N`: what is left is the question's template and
    entities. Coarser than the tiny model's numbered placeholders (N1, N2, ...), so two questions
    that differ here also differ to the model."""
    return _NUMBER.sub("N", text)


def masked_key(text: str) -> str:
    """The masked-duplicate key: whitespace-normalised, numbers masked."""
    return mask_numbers(normalise_question(text))


def masked_bucket(text: str, buckets: int = 100) -> int:
    """A stable bucket in `range(buckets)` for the question's masked key (crc32, the same on every
    machine and process, unlike `hash`)."""
    return zlib.crc32(masked_key(text).encode("utf-8")) % buckets
