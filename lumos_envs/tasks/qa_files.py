"""Shared pieces of the QA file loaders: reading JSON/JSONL task files, the `corpus=` option, and
the task source type that carries its corpus.

A QA task source has a `corpus` attribute the env searches (`envs/qa.py: resolve_corpus`). File
schemas that carry their own paragraphs (HotpotQA distractor/dev, MuSiQue) build it from the union
of the file's paragraphs; question-only schemas (StrategyQA, LUMOS's HotpotQA question list) need
a user-supplied collection, `?corpus=DOCS.jsonl` (`{"title", "text"}` per line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from lumos_envs.jsonl import iter_jsonl
from lumos_envs.qa.corpus import Corpus, load_jsonl_corpus
from lumos_envs.tasks.base import Task, TaskList


class QATaskList(TaskList):
    """A task list with the corpus its questions are asked over (None: the user must give one)."""

    def __init__(self, tasks: Sequence[Task], corpus: Corpus | None, name: str) -> None:
        super().__init__(tasks, name=name)
        self._corpus = corpus

    @property
    def corpus(self) -> Corpus | None:
        return self._corpus

    @property
    def needs_corpus(self) -> bool:
        """True for question-only files loaded without `corpus=`."""
        return self._corpus is None


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records of a `.json` list (or `{"data": [...]}`) or a `.jsonl` file.

    Raises:
        ValueError: naming the file (and line) when it is not in one of those shapes.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    records: Any
    if path.suffix == ".jsonl" or (text.lstrip()[:1] == "{" and "\n{" in text.strip()):
        records = [value for _, value in iter_jsonl(path)]
    else:
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error})") from None
        if isinstance(records, dict) and isinstance(records.get("data"), list):
            records = records["data"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected a list of objects")
    return records


def load_corpus_option(corpus: str | Path | None) -> Corpus | None:
    """The collection named by a `corpus=` option (a JSONL path), or None."""
    if corpus is None or str(corpus) == "":
        return None
    return load_jsonl_corpus(corpus)


def field(record: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`record[name]`, checked to be of `kind`.

    Raises:
        ValueError: naming the file, record and field when it is missing or of the wrong type.
    """
    if name not in record:
        raise ValueError(f"{where}: missing field {name!r}")
    value = record[name]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{where}: field {name!r} must be {expected}, got {type(value).__name__}")
    return value
