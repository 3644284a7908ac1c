"""HotpotQA task files (`hotpotqa:PATH`): the distractor/dev schema, or LUMOS's question-only list.

Distractor/dev records have `_id`, `question`, `answer`, `supporting_facts` (`[title, sent_id]`),
`context` (`[title, [sentences]]`), `type`, `level`; the corpus is the union of the file's
context paragraphs (one page per title, one paragraph each). Question-only records
(`question`, `answer`, `type`, as in `fixtures/hotpotqa/questions_sample.json`) need a document
collection: `hotpotqa:questions.json?corpus=docs.jsonl`. HotpotQA has no LUMOS plan, so tasks have
`plan=None` with `plan_error`; metadata keeps `type`, `level` and the gold paragraphs
(`Title-0` for each supporting title) for retrieval recall. Ids are the record's `_id` (or `id`);
records without one (the question-only list) get `hotpotqa-{split}-{digest of question and answer}`.
The split is `?split=` or the file name's (`hotpot_dev_distractor_v1.json` -> dev; see
`lumos_envs.tasks.splits`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lumos_envs.domains import Domain
from lumos_envs.qa.corpus import Document
from lumos_envs.tasks.base import Task
from lumos_envs.tasks.qa_files import QATaskList, field, load_corpus_option, read_records
from lumos_envs.tasks.splits import ContentIds, resolve_split
from lumos_envs.qa.corpus import Corpus

PLAN_ERROR = "hotpotqa records carry no LUMOS plan"


def load_hotpotqa(path: str | Path, split: str | None = None, corpus: str | None = None) -> QATaskList:
    """Tasks (and corpus) of a HotpotQA file.

    Raises:
        ValueError: naming the file, record and field of the first malformed record.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="hotpotqa")
    records = read_records(path)
    ids = ContentIds("hotpotqa", chosen.split)
    tasks, documents = [], []
    for index, record in enumerate(records):
        where = f"{path}: record {index}"
        task, docs = hotpotqa_task_from_row(record, index, chosen.split, where=where, ids=ids)
        tasks.append(task)
        documents.extend(docs)
    collection = load_corpus_option(corpus)
    if collection is None and documents:
        collection = Corpus(documents, name=f"hotpotqa:{path}")
    return QATaskList(chosen.label(tasks), collection, name=f"hotpotqa:{path}")


def hotpotqa_task_from_row(record: dict[str, Any], index: int, split: str, where: str = "",
                           ids: ContentIds | None = None) -> tuple[Task, list[Document]]:
    """One HotpotQA record as a `Task`, with the documents of its `context` (empty when absent);
    `ids` names records without an `_id` (one per file, so repeated records are numbered)."""
    where = where or f"record {index}"
    question = field(record, "question", str, where).strip()
    answer = field(record, "answer", (str, bool), where)
    answer = ("yes" if answer else "no") if isinstance(answer, bool) else answer.strip()
    documents: list[Document] = []
    for position, entry in enumerate(record.get("context") or []):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
                and isinstance(entry[1], list) and all(isinstance(s, str) for s in entry[1])):
            raise ValueError(f"{where}: context[{position}] must be [title, [sentences]]")
        text = " ".join("".join(entry[1]).split())
        if text:
            documents.append(Document(entry[0].strip(), (text,)))
    support = []
    for position, fact in enumerate(record.get("supporting_facts") or []):
        if not (isinstance(fact, (list, tuple)) and len(fact) == 2 and isinstance(fact[0], str)):
            raise ValueError(f"{where}: supporting_facts[{position}] must be [title, sentence_id]")
        support.append(fact[0].strip())
    task = Task(
        id=str(record.get("_id") or record.get("id") or (ids or ContentIds("hotpotqa", split))(question, answer)),
        domain=Domain.QA,
        source="hotpotqa",
        split=split,
        question=question,
        answer=answer,
        plan=None,
        metadata={"type": record.get("type"), "level": record.get("level"), "plan_error": PLAN_ERROR,
                  "gold_paragraphs": tuple(f"{t}-0" for t in dict.fromkeys(support))},
    )
    return task, documents
