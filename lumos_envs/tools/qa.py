"""The LUMOS complex-QA tools over an offline corpus: KnowledgeQuery, ParagraphRetrieve, QA.

Tools need the env's corpus, indexes and reader, so they are bound methods of a `QAToolbox`
(declared with `@tool`-equivalent `tool(...)(method)`, `bounded=False`: every call is an index
lookup or a reader pass over a capped context, fast and size-limited in-process). Values are
text in the variable table, following LUMOS's annotations:

- `KnowledgeQuery(Julius Caesar)` -> `WikipediaPage(Julius Caesar)`: the page whose title is the
  query (case-insensitive) if there is one, else the `max_pages` best BM25 pages joined by `, `.
- `ParagraphRetrieve(R1, Query: ...)` -> `Paragraph(Julius Caesar-75)`: the `max_paragraphs`
  best paragraphs (dense MiniLM ranking, BM25 fallback) of the pages named in the context,
  handles joined by `, `. The handle is what LUMOS's annotations show; `QA` reads its text.
- `QA([R2], Question: ...)` -> the answer: paragraph handles in the context are replaced by
  their text (page handles by the page's paragraphs); anything else is read as it is (values such
  as `[1843, 1850]`). The reader is the env's `reader=` choice (`lumos_envs.qa.readers`): the
  bundled extractive one by default, or an LLM reader, which runs in-process too (a model does
  not fit the bounded worker) under its own limit `reader_timeout_s`; a call past it is an
  error observation.

`Calculator` and `Code` are the maths tools (`lumos_envs.tools.math`); Calculator already
decides comparisons (`R7 < R8` -> `True`). `QA_TOOL_NAMES` is the complex_qa action-list order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, tool
from lumos_envs.qa.corpus import Corpus
from lumos_envs.qa.index import PageIndex, ParagraphIndex, page_index, paragraph_index
from lumos_envs.qa.reader import Reader

KNOWLEDGE_QUERY_INTERFACE = "KnowledgeQuery(query): Capture the relevant webpages according to the query"
PARAGRAPH_RETRIEVE_INTERFACE = (
    "ParagraphRetrieve(context, query): Given a query, retrieve the most relevant paragraphs from the given context"
)
QA_INTERFACE = "QA(context, query): Given context, answer the given query"
QA_TOOL_NAMES = ("KnowledgeQuery", "ParagraphRetrieve", "QA", "Calculator", "Code")
"""LUMOS's complex_qa action list (the spec's interface block repeats Calculator; declared once)"""


@dataclass(frozen=True)
class QAToolConfig:
    """Limits and sizes of the QA tools."""

    max_pages: int = 2
    """pages KnowledgeQuery returns when no title equals the query"""
    max_paragraphs: int = 2
    """paragraphs ParagraphRetrieve returns (LUMOS's own tool passed its 5 best to QA; 2 keeps the
    context short, and the reader, not retrieval, decides which one holds the answer)"""
    max_context_pages: int = 5
    """pages of a context ParagraphRetrieve searches, and QA reads when given page handles"""
    max_context_chars: int = 8000
    """characters of context text QA passes to its reader"""
    dense: bool = True
    """rank paragraphs with MiniLM embeddings; False ranks with BM25 only"""
    device: str = "cpu"
    """where MiniLM embeds (`cpu`, `cuda`, `cuda:1`, `mps`): ParagraphRetrieve and the extractive reader"""
    reader_timeout_s: float = 60.0
    """limit of one LLM reader call in seconds (its own limit: `tool_timeout_s` bounds worker tools)"""

    def __post_init__(self) -> None:
        for name in ("max_pages", "max_paragraphs", "max_context_pages", "max_context_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.reader_timeout_s > 0:
            raise ValueError(f"reader_timeout_s must be > 0, got {self.reader_timeout_s}")


class QAToolbox:
    """The QA tools of one env, bound to a corpus and a reader; indexes load on first use."""

    def __init__(self, corpus: Corpus, reader: Reader | Callable[[], Reader], config: QAToolConfig | None = None) -> None:
        self.corpus = corpus
        self.config = config or QAToolConfig()
        self._reader = reader
        self._pages: PageIndex | None = None
        self._paragraphs: ParagraphIndex | None = None

    @property
    def reader(self) -> Reader:
        if callable(self._reader) and not hasattr(self._reader, "answer"):
            self._reader = self._reader()
        return self._reader  # type: ignore[return-value]

    @property
    def pages(self) -> PageIndex:
        if self._pages is None:
            self._pages = page_index(self.corpus)
        return self._pages

    @property
    def paragraphs(self) -> ParagraphIndex:
        if self._paragraphs is None:
            self._paragraphs = paragraph_index(self.corpus, dense=self.config.dense, device=self.config.device)
        return self._paragraphs

    def tools(self) -> tuple[Tool, ...]:
        """KnowledgeQuery, ParagraphRetrieve, QA, Calculator, Code, in LUMOS's order."""
        from lumos_envs.tools.math import calculator, code

        return (
            tool(name="KnowledgeQuery", interface=KNOWLEDGE_QUERY_INTERFACE)(self.knowledge_query),
            tool(name="ParagraphRetrieve", interface=PARAGRAPH_RETRIEVE_INTERFACE)(self.paragraph_retrieve),
            tool(name="QA", interface=QA_INTERFACE)(self.qa),
            calculator,
            code,
        )

    # -- the tools -------------------------------------------------------------------------------

    def knowledge_query(self, query: str) -> str:
        """Pages about the query: the exact-title page, else the best BM25 pages (`WikipediaPage(T)`, ...).

        Raises:
            ToolError: empty query, or no page shares a word with it.
        """
        query = query.strip()
        if not query:
            raise ToolError("KnowledgeQuery needs a query, e.g. KnowledgeQuery(Julius Caesar)")
        exact = self.corpus.find_title(query)
        pages = [exact] if exact is not None else self.pages.search(query, self.config.max_pages)
        if not pages:
            raise ToolError(f"no page matches {query[:80]!r}; try the name of a person, place, work or organisation")
        return ", ".join(self.corpus.page_handle(p) for p in pages)

    def paragraph_retrieve(self, context: str, query: str) -> str:
        """The most relevant paragraphs of the context's pages for the query (`Paragraph(T-k)`, ...).

        The context is KnowledgeQuery's result (page handles), page titles, or paragraph handles.

        Raises:
            ToolError: the context names no page or paragraph of the corpus, or the query is empty.
        """
        if not query.strip():
            raise ToolError("ParagraphRetrieve needs a query, e.g. ParagraphRetrieve(R1, Query: When was X born?)")
        rows = self.corpus.paragraph_rows_in(context)
        if not rows:
            pages = self.corpus.pages_in(context)[: self.config.max_context_pages]
            rows = [row for page in pages for row in self.corpus.paragraph_rows(page)]
        if not rows:
            raise ToolError(
                f"the context {context[:80]!r} names no page; pass KnowledgeQuery's result, "
                "e.g. R1 = KnowledgeQuery(X); R2 = ParagraphRetrieve(R1, Query: ...)"
            )
        best = self.paragraphs.rank(query, rows, self.config.max_paragraphs)
        return ", ".join(self.corpus.paragraph_handle(row) for row in best)

    def qa(self, context: str, query: str) -> str:
        """Answer the query from the context (paragraph or page handles are read as their text).

        Raises:
            ToolError: empty query or empty context.
        """
        if not query.strip():
            raise ToolError("QA needs a question, e.g. QA([R2], Question: When was X born?)")
        passages = self.context_passages(context)
        if not passages:
            raise ToolError("QA needs a context, e.g. QA([R2], Question: ...) with R2 from ParagraphRetrieve")
        answer = self.reader.answer(passages, query.strip())
        return answer if answer.strip() else "unknown"

    def context_passages(self, context: str) -> list[str]:
        """The texts a QA context stands for, within `max_context_chars`."""
        rows = self.corpus.paragraph_rows_in(context)
        if not rows and ("WikipediaPage(" in context):
            pages = self.corpus.pages_in(context)[: self.config.max_context_pages]
            rows = [row for page in pages for row in self.corpus.paragraph_rows(page)]
        texts = [self.corpus.paragraphs[row].text for row in rows] if rows else [context.strip()]
        passages, budget = [], self.config.max_context_chars
        for text in texts:
            if budget <= 0:
                break
            passages.append(text[:budget])
            budget -= len(text)
        return [p for p in passages if p.strip()]
