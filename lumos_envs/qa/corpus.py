"""Document collections the QA tools search: pages (a title and paragraphs) and their handles.

LUMOS's complex-QA tools pass handles, not text: `KnowledgeQuery` returns `WikipediaPage(Title)`
(several joined by `, `), `ParagraphRetrieve` returns `Paragraph(Title-k)` (`k` the 0-based
paragraph index on the page), and `QA` reads the text behind paragraph handles. A `Corpus` maps
handles to text both ways. Titles may hold commas and parentheses (`Albany, Georgia`,
`Depression (mood)`), so handles are found by scanning for balanced parentheses, then checked
against the corpus's titles.

Sources: the bundled world (`lumos_envs.qa.world`), the union of a HotpotQA/MuSiQue file's
paragraphs, or a user's JSONL of `{"title", "text"}` (paragraphs split at blank lines, or at
single newlines when the text has no blank line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from lumos_envs.cache import content_key
from lumos_envs.jsonl import iter_jsonl

CORPUS_VERSION = "1"
"""bump when the fingerprint's inputs change meaning"""
MAX_DOCUMENT_CHARS = 2_000_000
"""longer `text` fields in a JSONL collection are refused (a broken dump, not an article)"""

_PAGE_OPEN = "WikipediaPage("
_PARAGRAPH_OPEN = "Paragraph("
_PARAGRAPH_ID = re.compile(r"^(.*)-(\d+)$", re.DOTALL)


@dataclass(frozen=True)
class Document:
    """One page: a unique title and its paragraphs, in order."""

    title: str
    paragraphs: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a document needs a non-empty title")


@dataclass(frozen=True)
class ParagraphRef:
    """Where a paragraph sits: page number, paragraph number, and its text."""

    doc: int
    number: int
    text: str


class Corpus:
    """An immutable collection of documents with title lookup and a flat paragraph table.

    Duplicate titles are merged (paragraphs appended, repeats dropped), as HotpotQA files repeat
    the same page across questions.
    """

    def __init__(self, documents: Iterable[Document], name: str = "corpus") -> None:
        merged: dict[str, list[str]] = {}
        for document in documents:
            paragraphs = merged.setdefault(document.title, [])
            for paragraph in document.paragraphs:
                if paragraph.strip() and paragraph not in paragraphs:
                    paragraphs.append(paragraph)
        self.name = name
        self.documents: tuple[Document, ...] = tuple(Document(t, tuple(p)) for t, p in merged.items() if p)
        if not self.documents:
            raise ValueError(f"corpus {name!r} has no document with text")
        self._by_title = {d.title: i for i, d in enumerate(self.documents)}
        self._by_folded_title: dict[str, int] = {}
        for i, d in enumerate(self.documents):
            self._by_folded_title.setdefault(d.title.casefold(), i)
        self.paragraphs: tuple[ParagraphRef, ...] = tuple(
            ParagraphRef(i, k, text) for i, d in enumerate(self.documents) for k, text in enumerate(d.paragraphs)
        )
        self._first_paragraph: list[int] = []
        position = 0
        for d in self.documents:
            self._first_paragraph.append(position)
            position += len(d.paragraphs)
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return len(self.documents)

    @property
    def num_paragraphs(self) -> int:
        return len(self.paragraphs)

    def fingerprint(self) -> str:
        """Content hash of titles and paragraphs: the cache key of every index built on this corpus."""
        if self._fingerprint is None:
            parts = [json.dumps([d.title, list(d.paragraphs)], ensure_ascii=False) for d in self.documents]
            self._fingerprint = content_key("\n".join(parts), version=CORPUS_VERSION)
        return self._fingerprint

    def find_title(self, title: str) -> int | None:
        """Page number of an exact title (case-insensitive as a fallback), or None."""
        index = self._by_title.get(title)
        if index is None:
            index = self._by_folded_title.get(title.strip().casefold())
        return index

    def paragraph_rows(self, doc: int) -> range:
        """Rows of `self.paragraphs` that belong to page `doc`."""
        start = self._first_paragraph[doc]
        return range(start, start + len(self.documents[doc].paragraphs))

    def paragraph_id(self, row: int) -> str:
        """`Title-k` for a paragraph row."""
        ref = self.paragraphs[row]
        return f"{self.documents[ref.doc].title}-{ref.number}"

    def row_of_paragraph_id(self, paragraph_id: str) -> int | None:
        """The paragraph row of `Title-k`, or None when there is no such paragraph."""
        match = _PARAGRAPH_ID.match(paragraph_id.strip())
        if match is None:
            return None
        doc = self.find_title(match.group(1))
        if doc is None:
            return None
        number = int(match.group(2))
        if number >= len(self.documents[doc].paragraphs):
            return None
        return self._first_paragraph[doc] + number

    # -- handles ---------------------------------------------------------------------------------

    def page_handle(self, doc: int) -> str:
        return f"{_PAGE_OPEN}{self.documents[doc].title})"

    def paragraph_handle(self, row: int) -> str:
        return f"{_PARAGRAPH_OPEN}{self.paragraph_id(row)})"

    def pages_in(self, text: str) -> list[int]:
        """Pages named by `WikipediaPage(...)` handles in the text, else the text read as titles
        (a whole title, or a comma-separated list of titles); unknown titles are skipped."""
        pages = [i for i in (self.find_title(t) for t in handle_bodies(text, _PAGE_OPEN)) if i is not None]
        if pages:
            return _unique(pages)
        stripped = text.strip().strip("[]").strip()
        whole = self.find_title(stripped)
        if whole is not None:
            return [whole]
        return _unique(i for i in (self.find_title(part) for part in stripped.split(",")) if i is not None)

    def paragraph_rows_in(self, text: str) -> list[int]:
        """Paragraph rows named by `Paragraph(Title-k)` handles in the text."""
        rows = [self.row_of_paragraph_id(body) for body in handle_bodies(text, _PARAGRAPH_OPEN)]
        return _unique(r for r in rows if r is not None)


def handle_bodies(text: str, opener: str) -> list[str]:
    """The text inside each `opener...)` with balanced parentheses (`Paragraph(Depression (mood)-13)`)."""
    bodies: list[str] = []
    start = text.find(opener)
    while start != -1:
        depth, position = 1, start + len(opener)
        while position < len(text) and depth:
            if text[position] == "(":
                depth += 1
            elif text[position] == ")":
                depth -= 1
            position += 1
        if depth == 0:
            bodies.append(text[start + len(opener) : position - 1])
        start = text.find(opener, position if depth == 0 else start + len(opener))
    return bodies


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of an article: blank-line separated, or line separated when there is no blank line."""
    blocks = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    return [" ".join(block.split()) for block in blocks if block.strip()]


def load_jsonl_corpus(path: str | Path, name: str | None = None) -> Corpus:
    """A corpus from a JSONL file of `{"title": ..., "text": ...}` (e.g. a converted Wikipedia dump).

    Raises:
        ValueError: naming the file, line and field of the first malformed record.
    """
    path = Path(path)
    documents = []
    for number, record in iter_jsonl(path):
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected an object with title and text")
        title, text = record.get("title"), record.get("text")
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"{path}:{number}: field 'title' must be a non-empty string")
        if isinstance(text, list) and all(isinstance(t, str) for t in text):
            text = "\n\n".join(text)
        if not isinstance(text, str):
            raise ValueError(f"{path}:{number}: field 'text' must be a string (or a list of paragraph strings)")
        if len(text) > MAX_DOCUMENT_CHARS:
            raise ValueError(f"{path}:{number}: field 'text' is longer than {MAX_DOCUMENT_CHARS} characters")
        documents.append(Document(title.strip(), tuple(split_paragraphs(text))))
    return Corpus(documents, name=name or str(path))


def _unique(values: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(values))


def join_texts(texts: Sequence[str]) -> str:
    """Paragraph texts as one context string for a reader."""
    return "\n\n".join(texts)
