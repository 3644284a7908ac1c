"""Reading JSON Lines files: one place for the loop and for errors that name the file and line.

Task loaders, corpora, annotation files and tokenizer corpora all read JSONL; a malformed line
must say where it is (`path:line: invalid JSON (...)`) whichever of them reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed value) for each non-blank line of `path`, read lazily.

    Raises:
        ValueError: `path:line: invalid JSON (...)` at the first line that is not JSON.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: invalid JSON ({error.msg} at column {error.colno})") from None


def read_jsonl_objects(path: str | Path) -> list[dict[str, Any]]:
    """Every line of `path` as a JSON object.

    Raises:
        ValueError: naming the file and line of invalid JSON or of a value that is not an object.
    """
    records = []
    for number, value in iter_jsonl(path):
        if not isinstance(value, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
        records.append(value)
    return records
