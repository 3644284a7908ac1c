"""The text space every lumos env uses for actions and observations.

Gymnasium's `spaces.Text` defaults to an alphanumeric charset and `min_length=1`, so a question
with a space or an empty observation fails `contains`. Real model output and real data are any
Unicode, and listing all of Unicode as a charset costs megabytes per space, so `UnicodeText`
accepts any string up to `max_length` and samples from a wide printable charset.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium import spaces

SAMPLE_CHARSET = (
    string.ascii_letters + string.digits + string.punctuation + " "
    + "àéîõüßçñ€£°±×÷–—‘’“”…αβγπΣ中文字日本語한국어😀"
)
"""Characters `sample()` draws from: ASCII printables plus a spread of non-ASCII ones."""

MAX_ACTION_CHARS = 20_000
"""Longest action text the action space admits (matches the parser's limit)."""

MAX_OBSERVATION_CHARS = 200_000
"""Longest observation; envs cut longer ones (web pages, SQL results) to fit."""


class UnicodeText(spaces.Text):
    """`spaces.Text` that contains every `str` (any Unicode) of length `min_length..max_length`."""

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, UnicodeText) and (self.min_length, self.max_length) == (other.min_length, other.max_length)


def text_space(max_length: int = MAX_OBSERVATION_CHARS) -> UnicodeText:
    """A Unicode text space with `min_length=0`."""
    return UnicodeText(max_length, min_length=0, charset=SAMPLE_CHARSET)
