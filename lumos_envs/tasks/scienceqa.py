"""ScienceQA loader (`scienceqa:PATH?image_root=DIR&split=test`): multiple choice with an image
context and a hint.

ScienceQA (Lu et al. 2022) ships `problems.json`, a dict `id -> {question, choices, answer
(index), hint, image ("image.png" or null), split, ...}` with images at
`{image_root}/{split}/{id}/image.png`; re-shared copies are lists or jsonl of the same rows with
an `id` and an `image` path relative to the data folder. Both are read. `split=` keeps only that
split. Items without an image get a black image. Paths never leave the root. No gold plan is
shipped (`plan_error="no_gold_plan"`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from lumos_envs.domains import Domain
from lumos_envs.jsonl import iter_jsonl
from lumos_envs.multimodal.images import ImageFileError, resolve_data_path
from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.synthetic_multimodal import format_question


def load_scienceqa(path: str | Path, split: str | None = None, image_root: str | Path | None = None) -> TaskList:
    """Read ScienceQA problems.

    Raises:
        ValueError: a record misses a field or has the wrong type (file and id named), or its
            image is missing or outside the root.
    """
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    tasks = []
    for problem_id, record in _records(path):
        record_split = str(record.get("split") or split or "test")
        if split and record_split != split:
            continue
        try:
            tasks.append(_task(problem_id, record, record_split, root))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: problem {problem_id}: {error}") from None
    return TaskList(tasks, name=f"scienceqa:{path}")


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix == ".jsonl":
        rows: Any = [value for _, value in iter_jsonl(path)]
    else:
        rows = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(rows, dict):
        yield from ((str(k), v) for k, v in rows.items())
    elif isinstance(rows, list):
        for position, row in enumerate(rows):
            yield str(row.get("id", position)), row
    else:
        raise ValueError(f"{path}: expected a dict or list of ScienceQA problems, got {type(rows).__name__}")


def _task(problem_id: str, record: dict[str, Any], split: str, root: Path) -> Task:
    question, choices, answer = record["question"], [str(c) for c in record["choices"]], int(record["answer"])
    if not isinstance(question, str) or not 0 <= answer < len(choices):
        raise ValueError(f"answer index {answer} out of range for {len(choices)} choices")
    hint = str(record.get("hint") or "").strip()
    metadata: dict[str, Any] = {"choices": choices, "correct_choice_idx": answer, "hint": hint, "raw_question": question,
                                "plan_error": "no_gold_plan", "question_type": "scienceqa"}
    image = record.get("image")
    if image:
        metadata["image_path"] = str(_image(root, problem_id, split, str(image)))
    return Task(id=f"scienceqa-{problem_id}", domain=Domain.MULTIMODAL, source="scienceqa", split=split,
                question=format_question(question, choices, hint), answer=choices[answer], plan=None, metadata=metadata)


def _image(root: Path, problem_id: str, split: str, image: str) -> Path:
    candidates = [image] if "/" in image or "\\" in image else [f"{split}/{problem_id}/{image}", f"{problem_id}/{image}", image]
    for relative in candidates:
        candidate = resolve_data_path(root, relative)
        if candidate.is_file():
            return candidate
    raise ImageFileError(f"image {image!r} of problem {problem_id} not found under {root}")
