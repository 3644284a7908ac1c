"""A-OKVQA loader (`aokvqa:PATH?image_root=DIR`): knowledge-based VQA in its own schema.

An A-OKVQA file (Schwenk et al. 2022, `aokvqa_v1p0_{split}.json`) is a JSON list of records with
`question_id`, `question`, `choices`, `correct_choice_idx`, `direct_answers` (10 strings),
`image_id` (a COCO id) and `split`. The image is COCO's `{split}2017/{image_id:012d}.jpg` under
the user's COCO folder (`image_root`, default the task file's folder); a flat folder of
`{image_id:012d}.jpg` also works. Paths never leave the root. The test split has no answers:
such items keep `answer=""` and score 0. No gold plan is shipped (A-OKVQA's rationales are
prose), so `plan=None` with `plan_error="no_gold_plan"`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lumos_envs.domains import Domain
from lumos_envs.multimodal.images import ImageFileError, resolve_data_path
from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.synthetic_multimodal import format_question


def load_aokvqa(path: str | Path, split: str | None = None, image_root: str | Path | None = None) -> TaskList:
    """Read an A-OKVQA json file.

    Raises:
        ValueError: a record misses a field or has the wrong type (file and position named), or
            its image is missing or outside `image_root`.
    """
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    records = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of A-OKVQA records, got {type(records).__name__}")
    tasks = []
    for position, record in enumerate(records):
        where = f"{path}: record {position}"
        try:
            tasks.append(_task(record, split, root))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
    return TaskList(tasks, name=f"aokvqa:{path}")


def _task(record: dict[str, Any], split: str | None, root: Path) -> Task:
    question = record["question"]
    choices = [str(c) for c in record["choices"]]
    if not isinstance(question, str) or not choices:
        raise ValueError("question must be text and choices non-empty")
    record_split = str(record.get("split") or split or "val")
    correct = record.get("correct_choice_idx")
    if correct is not None and not 0 <= int(correct) < len(choices):
        raise ValueError(f"correct_choice_idx {correct} out of range for {len(choices)} choices")
    direct = [str(d) for d in record.get("direct_answers") or []]
    image_path = _coco_image(root, int(record["image_id"]), record_split)
    return Task(
        id=str(record.get("question_id") or f"aokvqa-{record['image_id']}-{abs(hash(question))}"),
        domain=Domain.MULTIMODAL, source="aokvqa", split=split or record_split,
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
