"""Retrieval over a corpus: BM25 page search (KnowledgeQuery) and dense paragraph search
(ParagraphRetrieve), built once per corpus and shared.

`PageIndex` ranks pages with `bm25s` over title and text (the title counted `TITLE_WEIGHT`
times, so a page about the query outranks pages that mention it). `ParagraphIndex` holds one
all-MiniLM-L6-v2 embedding per paragraph (`lumos_envs.embedding.default_embedder()`), each
paragraph embedded with its page title, and ranks the paragraphs of the pages it is given by
cosine similarity; without an embedder it ranks them with BM25 instead.

Both are built once per corpus content: on disk under `$LUMOS_CACHE` (bm25s's own `save`
format; embeddings as a `.npy` array; no pickle), keyed by `Corpus.fingerprint()`, and in
memory through `shared_state`, so every env instance in a process uses the same arrays.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lumos_envs.cache import cached_build, content_key, shared_state
from lumos_envs.protocols import Embedder
from lumos_envs.qa.corpus import Corpus

logger = logging.getLogger(__name__)

INDEX_VERSION = "1"
"""bump when index contents change meaning (invalidates the disk cache)"""
TITLE_WEIGHT = 3
"""times a page title is repeated in its BM25 document"""
MAX_PAGE_TEXT_CHARS = 4000
"""characters of page text that go into its BM25 document (the lead is what identifies a page)"""
LEXICAL_WEIGHT = 0.5
"""weight of the (max-scaled) BM25 score added to the cosine similarity in paragraph ranking"""
BOOST = 0.5
"""weight of the caller's `boost(text)` score (0 to about 1) in paragraph ranking"""
MAX_QUERY_CHARS = 500
"""longer queries are cut before tokenising (model output can be long; queries are not)"""


def _stemmer():  # noqa: ANN202 - PyStemmer has no types
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased, stop-worded, stemmed tokens (bm25s's tokenizer with the English Snowball stemmer)."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class Bm25:
    """A bm25s index with a safe query path (unknown tokens dropped, empty queries allowed)."""

    def __init__(self, retriever) -> None:  # noqa: ANN001 - bm25s.BM25
        self.retriever = retriever
        self.vocab = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], folder: Path) -> None:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False), show_progress=False)
        retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> "Bm25":
        import bm25s

        return cls(bm25s.BM25.load(str(folder)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query token is indexed)."""
        tokens = [t for t in tokenize([query[:MAX_QUERY_CHARS]])[0] if t in self.vocab]
        if not tokens:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)


@dataclass
class PageIndex:
    """BM25 over pages (title and text) of one corpus."""

    corpus: Corpus
    bm25: Bm25

    def search(self, query: str, k: int) -> list[int]:
        """The best `k` pages for the query, best first; pages with score 0 are left out."""
        scores = self.bm25.scores(query)
        return _top(scores, k)


@dataclass
class ParagraphIndex:
    """Dense embeddings of every paragraph of one corpus (rows as in `Corpus.paragraphs`)."""

    corpus: Corpus
    embeddings: np.ndarray | None
    """(num_paragraphs, dim) float32, L2-normalised; None when ranking falls back to BM25"""
    embedder: Embedder | None
    bm25: Bm25

    def rank(self, query: str, rows: Sequence[int], k: int, boost: Callable[[str], float] | None = None) -> list[int]:
        """The best `k` of the given paragraph rows for the query, best first.

        The score is the cosine similarity plus `LEXICAL_WEIGHT` times the BM25 score scaled to
        [0, 1] over the candidates (BM25 alone without embeddings), plus `BOOST` times `boost(text)`
        (the QA tool passes how well the paragraph holds an answer of the expected type).
        """
        if not rows:
            return []
        candidates = np.asarray(rows, dtype=np.int64)
        lexical = self.bm25.scores(query)[candidates]
        if lexical.max(initial=0.0) > 0:
            lexical = lexical / lexical.max()
        if self.embeddings is not None and self.embedder is not None:
            vector = self.embedder.embed([query[:MAX_QUERY_CHARS]])[0]
            scores = np.asarray(self.embeddings[candidates] @ vector, dtype=np.float32) + LEXICAL_WEIGHT * lexical
        else:
            scores = lexical
        if boost is not None:
            scores = scores + BOOST * np.array([boost(self.corpus.paragraphs[r].text) for r in candidates], dtype=np.float32)
        order = np.argsort(-scores, kind="stable")[:k]
        return [int(candidates[i]) for i in order]


def page_index(corpus: Corpus) -> PageIndex:
    """The shared BM25 page index of a corpus (built or loaded once per process)."""

    def load() -> PageIndex:
        key = content_key(corpus.fingerprint(), f"title_weight={TITLE_WEIGHT}", version=f"pages-{INDEX_VERSION}")
        folder = cached_build("qa_page_bm25", key, lambda tmp: Bm25.build(_page_texts(corpus), tmp))
        return PageIndex(corpus, Bm25.load(folder))

    return shared_state("qa_page_index", corpus.fingerprint(), load)


def paragraph_index(corpus: Corpus, *, dense: bool = True) -> ParagraphIndex:
    """The shared paragraph index of a corpus: dense (MiniLM) when `dense`, else BM25 only."""
    embedder: Embedder | None = None
    if dense:  # loaded outside `load`: `shared_state` calls must not nest
        from lumos_envs.embedding import default_embedder

        embedder = default_embedder()

    def load() -> ParagraphIndex:
        texts = paragraph_texts(corpus)
        key = content_key(corpus.fingerprint(), version=f"paragraphs-{INDEX_VERSION}")
        bm25 = Bm25.load(cached_build("qa_paragraph_bm25", key, lambda tmp: Bm25.build(texts, tmp)))
        if embedder is None:
            return ParagraphIndex(corpus, None, None, bm25)
        folder = cached_build("qa_paragraph_dense", key, lambda tmp: _build_dense(embedder, texts, tmp))
        embeddings = np.load(folder / "embeddings.npy", mmap_mode="r")
        return ParagraphIndex(corpus, embeddings, embedder, bm25)

    return shared_state("qa_paragraph_index", f"{corpus.fingerprint()}-dense={dense}", load)


def paragraph_texts(corpus: Corpus) -> list[str]:
    """What is embedded for each paragraph: `Title: text` (a paragraph often names its subject
    only by pronoun, so the title carries who or what it is about)."""
    return [f"{corpus.documents[ref.doc].title}: {ref.text}" for ref in corpus.paragraphs]


def _build_dense(embedder: Embedder, texts: list[str], folder: Path) -> None:
    logger.info("embedding %d paragraphs", len(texts))
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    np.save(folder / "embeddings.npy", vectors)
    (folder / "meta.json").write_text(json.dumps({"rows": len(texts), "dim": int(vectors.shape[1])}))


def _page_texts(corpus: Corpus) -> list[str]:
    return [
        " ".join([d.title] * TITLE_WEIGHT) + " " + " ".join(d.paragraphs)[:MAX_PAGE_TEXT_CHARS]
        for d in corpus.documents
    ]


def _top(scores: np.ndarray, k: int) -> list[int]:
    if k <= 0 or scores.size == 0:
        return []
    k = min(k, scores.size)
    candidates = np.argpartition(-scores, k - 1)[:k]
    ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [int(i) for i in ordered if scores[i] > 0]
