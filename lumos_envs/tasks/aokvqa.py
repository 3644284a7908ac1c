"""A-OKVQA loader (`aokvqa:PATH?image_root=DIR`): knowledge-based VQA in its own schema.

An A-OKVQA file (Schwenk et al. 2022, `aokvqa_v1p0_{split}.json`) is a JSON list of records with
`question_id`, `question`, `choices`, `correct_choice_idx`, `direct_answers` (10 strings),
`image_id` (a COCO id) and `split`. The image is COCO's `{split}2017/{image_id:012d}.jpg` under
the user's COCO folder (`image_root`, default the task file's folder); a flat folder of
`{image_id:012d}.jpg` also works. Paths never leave the root. The test split has no answers:
such items keep `answer=""` and score 0. No gold plan is shipped (A-OKVQA's rationales are
prose), so `plan=None` with `plan_error="no_gold_plan"`.

The split is `?split=` (`dev`/`validation` mean A-OKVQA's `val`), else the records' `split`, else
the file name's (`aokvqa_v1p0_val.json` -> val; see `lumos_envs.tasks.splits`); the COCO folder
follows the record's own split where it has one. Ids are the `question_id`; a record without one
gets `aokvqa-{split}-{digest of image id, question and choices}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lumos_envs.domains import Domain
from lumos_envs.multimodal.images import ImageFileError, resolve_data_path
from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.splits import ContentIds, resolve_split
from lumos_envs.tasks.synthetic_multimodal import format_question


def load_aokvqa(path: str | Path, split: str | None = None, image_root: str | Path | None = None) -> TaskList:
    """Read an A-OKVQA json file.

    Raises:
        ValueError: a record misses a field or has the wrong type (file and position named), or
            its image is missing or outside `image_root`.
    """
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    chosen = resolve_split(path, split, source="aokvqa", dev_name=DEV_NAME)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of A-OKVQA records, got {type(records).__name__}")
    ids: dict[str, ContentIds] = {}
    tasks = []
    for position, record in enumerate(records):
        where = f"{path}: record {position}"
        try:
            task_split = chosen.split if split else str(record.get("split") or chosen.split)
            tasks.append(_task(record, task_split, root, ids.setdefault(task_split, ContentIds("aokvqa", task_split))))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
    return TaskList(chosen.label(tasks), name=f"aokvqa:{path}")


DEV_NAME = "val"
"""A-OKVQA's name for its validation split"""


def _task(record: dict[str, Any], split: str, root: Path, ids: ContentIds) -> Task:
    question = record["question"]
    choices = [str(c) for c in record["choices"]]
    if not isinstance(question, str) or not choices:
        raise ValueError("question must be text and choices non-empty")
    record_split = str(record.get("split") or split)
    correct = record.get("correct_choice_idx")
    if correct is not None and not 0 <= int(correct) < len(choices):
        raise ValueError(f"correct_choice_idx {correct} out of range for {len(choices)} choices")
    direct = [str(d) for d in record.get("direct_answers") or []]
    image_path = _coco_image(root, int(record["image_id"]), record_split)
    return Task(
        id=str(record.get("question_id") or ids(record["image_id"], question, choices)),
        domain=Domain.MULTIMODAL, source="aokvqa", split=split,
        question=format_question(question, choices),
        answer=choices[int(correct)] if correct is not None else "",
        plan=None,
        metadata={"choices": choices, "correct_choice_idx": None if correct is None else int(correct),
                  "direct_answers": direct, "image_path": str(image_path), "plan_error": "no_gold_plan",
                  "raw_question": question, "question_type": "aokvqa"},
    )


def _coco_image(root: Path, image_id: int, split: str) -> Path:
    name = f"{image_id:012d}.jpg"
    for relative in (f"{split}2017/{name}", name):
        candidate = resolve_data_path(root, relative)
        if candidate.is_file():
            return candidate
    raise ImageFileError(f"COCO image {name} not found under {root} (looked in {split}2017/ and the folder itself)")
