"""The multimodal domain's LUMOS tools: `VQA(image, question)`, `QA(context, query)`, `Calculator`.

`VQA` needs the episode's image, so `make_multimodal_tools(get_query)` builds it as a closure
over a callable that returns the current image as a `VQAQuery`; it runs in-process
(`bounded=False`) because every back-end's inference is bounded by construction (a fixed-size
CNN forward pass, a lookup, or one `generate` of at most `max_new_tokens`), and a model does not
fit the bounded worker. `QA` reads its context plus the bundled knowledge table
(`multimodal/knowledge.py`) on lumos's own tasks; on real questions (A-OKVQA, ScienceQA) it is a
QA reader, the same choice as the QA env's `reader=` (`reader_qa`). `Calculator` is the maths
domain's tool.

Interface strings: `QA` and `Calculator` are verbatim from LUMOS's complex_qa block; the spec at
hand does not give LUMOS's multimodal `VQA` wording, so `VQA_INTERFACE` follows the same pattern
and must be replaced with the verbatim string if the LUMOS multimodal data shows another one.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, tool
from lumos_envs.multimodal.backends import VQAQuery
from lumos_envs.multimodal.knowledge import KNOWLEDGE, fact
from lumos_envs.qa.reader import Reader

VQA_INTERFACE = "VQA(image, question): Given the image, answer the given question"
QA_INTERFACE = "QA(context, query): Given context, answer the given query"
IMAGE_NAMES = frozenset({"image", "img", "the image", "picture", "the picture", "photo", "env"})
"""what the first VQA argument may say (case-insensitive, brackets and quotes ignored)"""
MAX_QUESTION_CHARS = 500

_LABEL = re.compile(r"^\s*(question|query|context|image|text)\s*:\s*", re.IGNORECASE)
_WORDS = re.compile(r"[a-z]+")


def strip_label(text: str) -> str:
    """`Question: How many?` -> `How many?` (LUMOS writes inline argument labels)."""
    return _LABEL.sub("", text, count=1).strip()


def make_multimodal_tools(get_query: Callable[[str], VQAQuery], answer: Callable[[VQAQuery], str],
                          reader: Reader | None = None) -> Sequence[Tool]:
    """The tools of one env: `get_query(question)` gives the current image, `answer` the back-end;
    `QA` is the knowledge-table tool when `reader` is None, else `reader_qa(reader)`."""

    @tool(name="VQA", interface=VQA_INTERFACE, bounded=False)
    def vqa(image: str, question: str) -> str:
        """Answer a question about the episode's image with the env's VQA back-end.

        `image` names the image (`image`, `IMG`, `[IMG]`, ...); `question` may carry a
        `Question:` label. Raises ToolError for another first argument, an empty or overlong
        question, or a question the back-end cannot answer.
        """
        name = strip_label(image).strip("[]()'\" ").lower()
        if name not in IMAGE_NAMES:
            raise ToolError(f"the first argument of VQA is the image (write VQA([IMG], Question: ...)), got {image[:40]!r}")
        question = strip_label(question)
        if not question or len(question) > MAX_QUESTION_CHARS:
            raise ToolError(f"the question must have 1 to {MAX_QUESTION_CHARS} characters")
        return answer(get_query(question))

    return (vqa, qa if reader is None else reader_qa(reader), _calculator())


def reader_qa(reader: Reader) -> Tool:
    """`QA(context, query)` answered by a QA reader (the QA env's choice: extractive, `llm:...`,
    `openai:...`), for real questions, which the bundled knowledge table cannot answer. The
    reader runs in-process under its own `reader_timeout_s` (`lumos_envs.qa.llm`)."""

    @tool(name="QA", interface=QA_INTERFACE, bounded=False)
    def qa_with_reader(context: str, query: str) -> str:
        """Answer the query from its context (e.g. what VQA said about the image) with the env's
        reader. Raises ToolError for an empty query or context."""
        question, text = strip_label(query), strip_label(context).strip()
        if not question:
            raise ToolError("QA needs a question, e.g. QA([R1], Question: What is it used for?)")
        if not text.strip("[]() "):
            raise ToolError("QA needs a context, e.g. QA([R1], Question: ...) with R1 from VQA")
        answer = reader.answer([text], question)
        return answer if answer.strip() else "unknown"

    return qa_with_reader


def _calculator() -> Tool:
    from lumos_envs.tools.math import calculator

    return calculator


@tool(name="QA", interface=QA_INTERFACE, bounded=False)
def qa(context: str, query: str) -> str:
    """Answer a query from its context and the bundled knowledge table.

    Reads which relation is asked (`used for`, `made of`, `magnetic`) and the items named in the
    query or, failing that, in the context (`[cup, key]`, the result of a VQA call); a query
    naming a value (`Which object is used for drinking?`) returns the items that have it.
    Raises ToolError when neither the context nor the table answers.
    """
    query_text, context_text = _words(strip_label(query)), _words(strip_label(context).strip("[]"))
    relation = _relation(query_text)
    query_items = [w for w in query_text.split() if w in KNOWLEDGE]
    context_items = [w for w in context_text.split() if w in KNOWLEDGE]
    if relation is not None:
        wanted = _value_named(query_text, relation)
        if wanted is not None:  # "which object is made of iron" -> the items with that value
            pool = context_items or list(KNOWLEDGE)
            hits = [i for i in dict.fromkeys(pool) if fact(i, relation) == wanted]
            if hits:
                return ", ".join(hits)
            raise ToolError(f"none of {', '.join(pool)} has {relation.replace('_', ' ')} {wanted}")
        items = query_items or context_items
        if relation == "magnetic" and not query_items and len(set(context_items)) > 1:
            hits = [i for i in dict.fromkeys(context_items) if fact(i, "magnetic") == "yes"]
            return ", ".join(hits) if hits else "none"
        if items:
            return fact(items[0], relation)
    raise ToolError("QA found no answer in the context or the knowledge table; ask what an object is used for, "
                    "what it is made of, or whether a magnet attracts it")


def _words(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def _relation(text: str) -> str | None:
    if "magnet" in text:
        return "magnetic"
    if "made of" in text or "material" in text:
        return "material"
    if "used for" in text or " use " in f" {text} " or "used to" in text or "purpose" in text:
        return "used_for"
    return None


def _value_named(text: str, relation: str) -> str | None:
    if relation == "magnetic":
        return "yes" if text.startswith(("which", "what object", "what item")) else None
    values = {entry[relation] for entry in KNOWLEDGE.values()}
    for value in sorted(values, key=len, reverse=True):
        if f" {value} " in f" {text} " and text.startswith(("which", "what object", "what item")):
            return value
    return None
