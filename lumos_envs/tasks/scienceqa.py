"""ScienceQA loader (`scienceqa:PATH?image_root=DIR&split=test`): multiple choice with an image
context and a hint.

ScienceQA (Lu et al. 2022) ships `problems.json`, a dict `id -> {question, choices, answer
(index), hint, image ("image.png" or null), split, ...}` with images at
`{image_root}/{split}/{id}/image.png`; re-shared copies are lists or jsonl of the same rows with
an `id` and an `image` path relative to the data folder. Both are read. Items without an image
get a black image. Paths never leave the root. No gold plan is shipped (`plan_error="no_gold_plan"`).

Splits: a problem's own `split` labels it, and `split=` keeps only that split (`dev` and
`validation` mean ScienceQA's `val`; `minival`/`minitest` as written); a split no problem has
raises, naming those it has. Rows without a `split` take `?split=` or the file name's (see
`lumos_envs.tasks.splits`). Ids are `scienceqa-{problem id}`; a row without an id gets
`scienceqa-{split}-{digest of question, choices, answer, hint and image}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from lumos_envs.domains import Domain
from lumos_envs.jsonl import iter_jsonl
from lumos_envs.multimodal.images import ImageFileError, resolve_data_path
from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.splits import ContentIds, normalise_split, resolve_split
from lumos_envs.tasks.synthetic_multimodal import format_question


def load_scienceqa(path: str | Path, split: str | None = None, image_root: str | Path | None = None) -> TaskList:
    """Read ScienceQA problems.

    Raises:
        ValueError: a record misses a field or has the wrong type (file and id named), or its
            image is missing or outside the root.
    """
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    records = list(_records(path))
    present = sorted({str(r["split"]) for _, _, r in records if r.get("split")})
    wanted = _wanted_split(path, split, present) if present else None
    unlabelled = resolve_split(path, None if present else split, source="scienceqa", dev_name=DEV_NAME)
    ids: dict[str, ContentIds] = {}
    tasks = []
    for position, problem_id, record in records:
        record_split = str(record.get("split") or unlabelled.split)
        if wanted is not None and record_split != wanted:
            continue
        try:
            task_id = f"scienceqa-{problem_id}" if problem_id is not None else ids.setdefault(
                record_split, ContentIds("scienceqa", record_split))(
                record["question"], record["choices"], record["answer"], record.get("hint"), record.get("image"))
            tasks.append(_task(task_id, problem_id, record, record_split, root))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: problem {problem_id if problem_id is not None else f'at {position}'}: {error}") from None
    return TaskList(unlabelled.label(tasks), name=f"scienceqa:{path}")


DEV_NAME = "val"
"""ScienceQA's name for its validation split"""


def _wanted_split(path: Path, split: str | None, present: list[str]) -> str | None:
    """The record split `split=` keeps (None: all); ValueError names the splits the file has."""
    if split is None or str(split) == "":
        return None
    wanted = str(split) if str(split) in present else normalise_split(split, DEV_NAME)
    if wanted not in present:
        raise ValueError(f"unknown split {split!r} for scienceqa:{path}; its problems are in {', '.join(present)}")
    return wanted


def _records(path: Path) -> Iterator[tuple[int, str | None, dict[str, Any]]]:
    """(position, problem id or None, record) of every problem in the file."""
    if path.suffix == ".jsonl":
        rows: Any = [value for _, value in iter_jsonl(path)]
    else:
        rows = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(rows, dict):
        yield from ((p, str(k), v) for p, (k, v) in enumerate(rows.items()))
    elif isinstance(rows, list):
        for position, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValueError(f"{path}: problem at {position}: expected an object, got {type(row).__name__}")
            yield position, (str(row["id"]) if row.get("id") not in (None, "") else None), row
    else:
        raise ValueError(f"{path}: expected a dict or list of ScienceQA problems, got {type(rows).__name__}")


def _task(task_id: str, problem_id: str | None, record: dict[str, Any], split: str, root: Path) -> Task:
    question, choices, answer = record["question"], [str(c) for c in record["choices"]], int(record["answer"])
    if not isinstance(question, str) or not 0 <= answer < len(choices):
        raise ValueError(f"answer index {answer} out of range for {len(choices)} choices")
    hint = str(record.get("hint") or "").strip()
    metadata: dict[str, Any] = {"choices": choices, "correct_choice_idx": answer, "hint": hint, "raw_question": question,
                                "plan_error": "no_gold_plan", "question_type": "scienceqa"}
    image = record.get("image")
    if image:
        metadata["image_path"] = str(_image(root, problem_id, split, str(image)))
    return Task(id=task_id, domain=Domain.MULTIMODAL, source="scienceqa", split=split,
                question=format_question(question, choices, hint), answer=choices[answer], plan=None, metadata=metadata)


def _image(root: Path, problem_id: str | None, split: str, image: str) -> Path:
    nested = [f"{split}/{problem_id}/{image}", f"{problem_id}/{image}"] if problem_id is not None else []
    candidates = [image] if "/" in image or "\\" in image else [*nested, image]
    for relative in candidates:
        candidate = resolve_data_path(root, relative)
        if candidate.is_file():
            return candidate
    raise ImageFileError(f"image {image!r} of problem {problem_id} not found under {root}")
