"""StrategyQA task files (`strategyqa:PATH?corpus=DOCS.jsonl`): yes/no questions over a user's collection.

Records have `question` and a boolean `answer` (the full release adds `qid`, `term`,
`description`, `facts`, `decomposition`, `evidence`; see `fixtures/strategyqa/sample.json`).
Gold answers become `yes`/`no`, scored by StrategyQA accuracy (`True` counts as `yes`). The
questions are answered over the collection given with `corpus=` (JSONL of `{"title", "text"}`).
StrategyQA has no LUMOS plan, so `plan=None` with `plan_error`. Ids are the record's `qid`;
records without one get `strategyqa-{split}-{digest of question and answer}`. The split is
`?split=` or the file name's (`strategyqa_train.json` -> train; see `lumos_envs.tasks.splits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumos_envs.domains import Domain
from lumos_envs.tasks.base import Task
from lumos_envs.tasks.qa_files import QATaskList, field, load_corpus_option, read_records
from lumos_envs.tasks.splits import ContentIds, resolve_split

PLAN_ERROR = "strategyqa records carry no LUMOS plan"


def load_strategyqa(path: str | Path, split: str | None = None, corpus: str | None = None) -> QATaskList:
    """Tasks of a StrategyQA file, with the collection named by `corpus` (None: give one to the env).

    Raises:
        ValueError: naming the file, record and field of the first malformed record.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="strategyqa")
    ids = ContentIds("strategyqa", chosen.split)
    tasks = [strategyqa_task_from_row(r, i, chosen.split, where=f"{path}: record {i}", ids=ids)
             for i, r in enumerate(read_records(path))]
    return QATaskList(chosen.label(tasks), load_corpus_option(corpus), name=f"strategyqa:{path}")


def strategyqa_task_from_row(record: dict[str, Any], index: int, split: str, where: str = "",
                             ids: ContentIds | None = None) -> Task:
    """One StrategyQA record as a `Task` with a `yes`/`no` answer (`ids` names records without a `qid`)."""
    where = where or f"record {index}"
    question = field(record, "question", str, where).strip()
    answer = field(record, "answer", (bool, str), where)
    if isinstance(answer, str):
        folded = answer.strip().lower()
        if folded not in ("yes", "no", "true", "false"):
            raise ValueError(f"{where}: field 'answer' must be a boolean, got {answer!r}")
        answer = folded in ("yes", "true")
    decomposition = record.get("decomposition")
    return Task(
        id=str(record.get("qid") or (ids or ContentIds("strategyqa", split))(question, answer)),
        domain=Domain.QA,
        source="strategyqa",
        split=split,
        question=question,
        answer="yes" if answer else "no",
        plan=None,
        metadata={"plan_error": PLAN_ERROR, "term": record.get("term"),
                  "decomposition": tuple(decomposition) if isinstance(decomposition, list) else None},
    )
