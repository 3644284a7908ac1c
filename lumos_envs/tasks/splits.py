"""The split a task file holds and the ids of rows that carry none: one rule for every file loader.

Split (`resolve_split`), in order:

1. `?split=` wins. It names a split as `train`/`training`, `test`/`testing`, or the validation
   split under any of its names (`dev`, `development`, `val`, `valid`, `validation`), recorded
   under the dataset's own name for it (`dev` for HotpotQA, MuSiQue, StrategyQA, Spider,
   GSM8K and SVAMP; `val` for A-OKVQA and ScienceQA). Any other value raises, except the label
   the file's name gives (rule 3). When it contradicts the file name (`gsm8k:train.jsonl?split=test`)
   it still wins: the user may know better (a file renamed on copy), but a warning is logged and
   every task's `metadata["file_split"]` keeps what the name said.
2. Else the file name: its stem cut into words at every character that is not a letter or
   digit. One split word gives the split (`train.jsonl`, `test_sample.jsonl`,
   `hotpot_dev_distractor_v1.json`, `musique_ans_v1.0_dev.jsonl`, `aokvqa_v1p0_val.json`); words
   naming two different splits (`train_test.jsonl`) raise.
3. A name that names no split (`SVAMP.json`, `mini.jsonl`) gives its stem, lower-cased (`svamp`,
   `mini`): a label that says which file the tasks came from, never a silent `test`. Write
   `?split=test` to call such a file the test split.

Ids: the dataset's own id where its schema has one (HotpotQA `_id`, StrategyQA `qid`, SVAMP `ID`,
MuSiQue `id`, A-OKVQA `question_id`, ScienceQA's problem id), which the dataset keeps unique across
its splits. A row without one gets `ContentIds`: `{source}-{split}-{digest}`, where the digest is
12 hex digits of the SHA-256 of the row's content (question and gold answer, plus the database or
image where those make the task). Content, not line number or file hash: a sample and the full
set give the same row the same id and different rows different ids, an id survives reordering or
appending rows, and two files of the same name in two folders share an id only for the same row.
The split stays in the id, so a row that is in both train and test gets two ids (and a gold
trajectory recorded on one is never looked up as the other). A row repeated in one file gets
`-2`, `-3`, ... after its digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from lumos_envs.tasks.base import Task

logger = logging.getLogger(__name__)

SPLIT_WORDS: dict[str, str] = {
    "train": "train", "training": "train",
    "test": "test", "testing": "test",
    "dev": "dev", "development": "dev", "val": "dev", "valid": "dev", "validation": "dev",
}
"""word -> the split it names; `dev` stands for the validation split, whatever the dataset calls it"""

DIGEST_HEX_DIGITS = 12
"""hex digits of SHA-256 in a content id: 48 bits, so ~1e-6 odds of a clash among 1e4 rows of a split"""

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FileSplit:
    """The split resolved for one task file."""

    split: str
    """recorded on every task (and in content ids)"""
    file_split: str | None = None
    """what the file name says, where `?split=` contradicted it; else None"""

    def label(self, tasks: Iterable[Task]) -> list[Task]:
        """The tasks, each with `metadata["file_split"]` where `?split=` contradicted the name."""
        if self.file_split is None:
            return list(tasks)
        return [dataclasses.replace(t, metadata={**t.metadata, "file_split": self.file_split}) for t in tasks]


def split_in_name(path: str | Path, dev_name: str = "dev") -> str | None:
    """The split a file's name names (rule 2), or None when it names none.

    Raises:
        ValueError: when the name names two different splits.
    """
    words = _WORD.findall(Path(path).stem.lower())
    named = sorted({SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS})
    if len(named) > 1:
        raise ValueError(f"{path}: the file name names {len(named)} splits ({', '.join(named)}); add ?split=NAME")
    if not named:
        return None
    return dev_name if named[0] == "dev" else named[0]


def name_label(path: str | Path) -> str:
    """Rule 3: the split label of a file whose name names no split (its stem, lower-cased)."""
    return re.sub(r"[^a-z0-9_.-]+", "-", Path(path).stem.lower()).strip("-") or "unsplit"


def normalise_split(split: str, dev_name: str = "dev") -> str | None:
    """A `?split=` value as the dataset names that split, or None when it names no split."""
    kind = SPLIT_WORDS.get(str(split).strip().lower())
    if kind is None:
        return None
    return dev_name if kind == "dev" else kind


def resolve_split(path: str | Path, split: str | None, *, source: str, dev_name: str = "dev") -> FileSplit:
    """The split of the tasks in `path`: `?split=` if given, else the file name (module docstring).

    Raises:
        ValueError: one line, for a `split` that names no split, or a name that names two.
    """
    in_name = split_in_name(path, dev_name)
    own = in_name or name_label(path)
    if split is None or str(split) == "":
        return FileSplit(own)
    chosen = normalise_split(split, dev_name)
    if chosen is None and str(split) == own:
        chosen = own
    if chosen is None:
        others = ", ".join(w for w, kind in SPLIT_WORDS.items() if kind == "dev" and w != dev_name)
        raise ValueError(f"unknown split {split!r} for {source}:{path}; use train, {dev_name} or test "
                         f"({dev_name} also as {others})")
    if in_name is not None and chosen != in_name:
        logger.warning("%s:%s: ?split=%s wins over the file name's split %r (kept as metadata file_split)",
                       source, path, chosen, in_name)
        return FileSplit(chosen, file_split=in_name)
    return FileSplit(chosen)


def content_digest(*content: object) -> str:
    """12 hex digits of SHA-256 over the JSON of `content` (stable across machines and runs)."""
    text = json.dumps(list(content), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_HEX_DIGITS]


class ContentIds:
    """Ids for the rows of one file (or hub split) that carry none: `{source}-{split}-{digest}`,
    numbered `-2`, `-3`, ... for a row repeated in the file."""

    def __init__(self, source: str, split: str) -> None:
        self.source, self.split = source, split
        self._seen: Counter[str] = Counter()

    def __call__(self, *content: object) -> str:
        base = f"{self.source}-{self.split}-{content_digest(*content)}"
        self._seen[base] += 1
        count = self._seen[base]
        return base if count == 1 else f"{base}-{count}"
