"""MuSiQue task files (`musique:PATH`): multi-hop questions with their paragraphs and decompositions.

Records (MuSiQue-Ans / -Full `.jsonl`) have `id`, `question`, `answer`, `answer_aliases`,
`answerable`, `paragraphs` (`idx`, `title`, `paragraph_text`, `is_supporting`) and
`question_decomposition` (`id`, `question` with `#k` references to earlier answers, `answer`,
`paragraph_support_idx`). The corpus is the union of the file's paragraphs. Each decomposition
step becomes one LUMOS hop: `KnowledgeQuery(<title of its supporting paragraph>)`,
`ParagraphRetrieve(R, Query: <step question with #k replaced by that step's variable>)`,
`QA([R], Question: ...)`; the last step's variable is the answer. Unanswerable records and
steps without a supporting paragraph get `plan=None` with `plan_error`. Ids are the record's
`id` (`musique-{split}-{digest of question and answer}` without one); the split is `?split=` or
the file name's (`musique_ans_v1.0_dev.jsonl` -> dev; see `lumos_envs.tasks.splits`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lumos_envs.domains import Domain
from lumos_envs.qa.corpus import Corpus, Document
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task
from lumos_envs.tasks.qa_files import QATaskList, field, load_corpus_option, read_records
from lumos_envs.tasks.splits import ContentIds, resolve_split

_REF = re.compile(r"#(\d+)")


def load_musique(path: str | Path, split: str | None = None, corpus: str | None = None) -> QATaskList:
    """Tasks (and corpus) of a MuSiQue file.

    Raises:
        ValueError: naming the file, record and field of the first malformed record.
    """
    path = Path(path)
    chosen = resolve_split(path, split, source="musique")
    ids = ContentIds("musique", chosen.split)
    tasks, documents = [], []
    for index, record in enumerate(read_records(path)):
        task, docs = musique_task_from_row(record, index, chosen.split, where=f"{path}: record {index}", ids=ids)
        tasks.append(task)
        documents.extend(docs)
    collection = load_corpus_option(corpus) or (Corpus(documents, name=f"musique:{path}") if documents else None)
    return QATaskList(chosen.label(tasks), collection, name=f"musique:{path}")


def musique_task_from_row(record: dict[str, Any], index: int, split: str, where: str = "",
                          ids: ContentIds | None = None) -> tuple[Task, list[Document]]:
    """One MuSiQue record as a `Task` (with a gold plan from its decomposition) and its documents
    (`ids` names records without an `id`)."""
    where = where or f"record {index}"
    question = field(record, "question", str, where).strip()
    answer = field(record, "answer", str, where).strip()
    paragraphs = field(record, "paragraphs", list, where)
    by_idx: dict[int, tuple[str, str]] = {}
    documents = []
    for position, paragraph in enumerate(paragraphs):
        if not isinstance(paragraph, dict):
            raise ValueError(f"{where}: paragraphs[{position}] must be an object")
        title = field(paragraph, "title", str, f"{where}: paragraphs[{position}]").strip()
        text = " ".join(field(paragraph, "paragraph_text", str, f"{where}: paragraphs[{position}]").split())
        by_idx[int(paragraph.get("idx", position))] = (title, text)
        if title and text:
            documents.append(Document(title, (text,)))
    plan, plan_error, gold = _plan(record.get("question_decomposition") or [], by_idx,
                                bool(record.get("answerable", True)), question)
    task = Task(
        id=str(record.get("id") or (ids or ContentIds("musique", split))(question, answer)),
        domain=Domain.QA,
        source="musique",
        split=split,
        question=question,
        answer=answer,
        plan=plan,
        metadata={"answer_aliases": tuple(record.get("answer_aliases") or ()), "plan_error": plan_error,
                  "gold_paragraphs": gold, "num_hops": len(record.get("question_decomposition") or [])},
    )
    return task, documents


def _plan(steps: list[Any], by_idx: dict[int, tuple[str, str]], answerable: bool, question: str) -> tuple[GoldPlan | None, str | None, tuple[str, ...]]:
    if not answerable:
        return None, "unanswerable record", ()
    if not steps:
        return None, "no question_decomposition", ()
    subgoals, answers, gold = [], [], []
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict) or not isinstance(step.get("question"), str):
            return None, f"decomposition step {number} has no question", ()
        support = step.get("paragraph_support_idx")
        if support is None or int(support) not in by_idx:
            return None, f"decomposition step {number} has no supporting paragraph", ()
        title, _ = by_idx[int(support)]
        bad = [int(k) for k in _REF.findall(step["question"]) if not 1 <= int(k) < number]
        if bad:
            return None, f"decomposition step {number} refers to a later step #{bad[0]}", ()
        text = _REF.sub(lambda m: answers[int(m.group(1)) - 1], step["question"]).strip()
        base = 3 * (number - 1)
        page, paragraph, result = f"R{base + 1}", f"R{base + 2}", f"R{base + 3}"
        query = _page_query(title, question, step["question"], steps[: number - 1], answers)
        subgoals.append(GoldSubgoal(f"Answer: {text}", (
            f"{page} = KnowledgeQuery({query})",
            f"{paragraph} = ParagraphRetrieve({page}, Query: {text})",
            f"{result} = QA([{paragraph}], Question: {text})",
        )))
        answers.append(result)
        gold.append(f"{title}-0")
    return GoldPlan(tuple(subgoals), answers[-1]), None, tuple(gold)


def _page_query(title: str, question: str, step_question: str, earlier: list[Any], answers: list[str]) -> str:
    """What hop k looks up, written as an observer of the episode could write it.

    The supporting paragraph's title when the question names it (`Film A`, or `Green` for
    `Green (film)`); else, for a step about an earlier answer (`Where was #1 born?`), the variable
    holding that answer (`R3`), never the gold answer itself, which the plan has not computed
    yet; else the title as it stands (the observer audit reports such a plan).
    """
    if _normalise(title) in _normalise(question):
        return title
    refs = [int(k) for k in _REF.findall(step_question)]
    if refs:
        # the referenced step whose gold answer names the page; the first reference otherwise
        named = [k for k in refs if _normalise(str(earlier[k - 1].get("answer", ""))) == _normalise(title)]
        return answers[(named or refs)[0] - 1]
    short = re.sub(r"\s*\([^()]*\)\s*$", "", title).strip()
    if short and _normalise(short) in _normalise(question):
        return short
    return title


def _normalise(text: str) -> str:
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split()) + " "
