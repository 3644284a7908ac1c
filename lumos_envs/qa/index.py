"""Retrieval over a corpus: BM25 page search (KnowledgeQuery) and dense paragraph search
(ParagraphRetrieve), built once per corpus and shared.

`PageIndex` ranks pages with `bm25s` over title and text (the title counted `TITLE_WEIGHT`
times, so a page about the query outranks pages that mention it). `ParagraphIndex` ranks the
paragraphs of the pages it is given by all-MiniLM-L6-v2 cosine similarity
(`lumos_envs.embedding.default_embedder(device)`, each paragraph embedded with its page title)
plus BM25 over the query terms that tell the candidates apart (not the terms every candidate
contains, such as the page's subject); it embeds a page the first time one of its paragraphs is
ranked, never the whole corpus up front. Without an embedder it ranks with BM25 alone.

The BM25 indexes are built once per corpus content and tokeniser, on disk under `$LUMOS_CACHE`
(bm25s's own `save` format) keyed by `Corpus.fingerprint()` and `tokenizer_id()`; page
embeddings are cached on disk per page content (`.npy`; no pickle). In memory, `shared_state`
gives every env instance in a process the same indexes.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from lumos_envs.cache import cache_root, cached_build, content_key, shared_state
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
PAGE_VECTORS_KIND = "qa_page_vectors"
"""cache folder of per-page paragraph embeddings"""
MAX_QUERY_CHARS = 500
"""longer queries are cut before tokenising (model output can be long; queries are not)"""
STOPWORDS = "en"
"""bm25s's stop-word list dropped from documents and queries"""
STEMMER_LANGUAGE = "english"
"""Snowball stemmer (PyStemmer) applied to document and query tokens, so `worked` matches `work`"""


def _stemmer():  # noqa: ANN202 - PyStemmer has no types
    import Stemmer

    return Stemmer.Stemmer(STEMMER_LANGUAGE)


def _tokenize(texts: Sequence[str], *, return_ids: bool):  # noqa: ANN202 - bm25s.Tokenized or token lists
    import bm25s

    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=return_ids,
                          show_progress=False)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased, stop-worded, stemmed tokens: what both index and queries are made of."""
    return _tokenize(texts, return_ids=False)


def tokenizer_id() -> str:
    """What decides the tokens, library versions included (an upgrade may change the stemming or
    the token pattern); part of every BM25 cache key, so a changed tokeniser rebuilds the indexes."""
    return (f"stopwords={STOPWORDS};stemmer=snowball-{STEMMER_LANGUAGE};"
            f"bm25s={package_version('bm25s')};PyStemmer={package_version('PyStemmer')}")


def bm25_cache_key(corpus: Corpus, documents: Literal["pages", "paragraphs"]) -> str:
    """The disk-cache key of a corpus's BM25 index over its pages or its paragraphs."""
    parts = [corpus.fingerprint(), tokenizer_id()]
    if documents == "pages":
        parts.append(f"title_weight={TITLE_WEIGHT}")
    return content_key(*parts, version=f"{documents}-{INDEX_VERSION}")


class Bm25:
    """A bm25s index with a safe query path (unknown tokens dropped, empty queries allowed)."""

    def __init__(self, retriever) -> None:  # noqa: ANN001 - bm25s.BM25
        self.retriever = retriever
        self.vocab = retriever.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], folder: Path) -> None:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(_tokenize(texts, return_ids=True), show_progress=False)
        retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> "Bm25":
        import bm25s

        return cls(bm25s.BM25.load(str(folder)))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no query token is indexed)."""
        tokens = self._query_tokens(query)
        if not tokens:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)

    def discriminating_scores(self, query: str, rows: np.ndarray) -> np.ndarray:
        """BM25 scores of documents `rows` over the query terms that some of these documents lack.

        A term that every candidate contains cannot order them: it only adds its weight times a
        factor that BM25's length normalisation makes larger for shorter documents. When the
        candidates are the paragraphs of one page, every one of them contains the page's subject
        (`paragraph_texts` prefixes its title), a rare name of high IDF whose length term then
        outweighs the one term that matters (`work` in "Which organisation did X work for?").
        Such terms are left out (an IDF taken over the candidates would weigh them near zero).
        Zeros when no term tells the candidates apart.
        """
        tokens = self._query_tokens(query)
        if not tokens:
            return np.zeros(len(rows), dtype=np.float32)
        # bm25s scores sum over terms; a Lucene-IDF term scores > 0 exactly where it occurs
        per_term = np.stack([np.asarray(self.retriever.get_scores([t]), dtype=np.float32)[rows] for t in tokens])
        telling = ~(per_term > 0).all(axis=1)
        return per_term[telling].sum(axis=0, dtype=np.float32)

    def _query_tokens(self, query: str) -> list[str]:
        return [t for t in tokenize([query[:MAX_QUERY_CHARS]])[0] if t in self.vocab]


@dataclass
class PageIndex:
    """BM25 over pages (title and text) of one corpus."""

    corpus: Corpus
    bm25: Bm25

    def search(self, query: str, k: int) -> list[int]:
        """The best `k` pages for the query, best first; pages with score 0 are left out."""
        scores = self.bm25.scores(query)
        return _top(scores, k)


class ParagraphIndex:
    """Paragraph ranking within given pages of one corpus: dense (MiniLM) plus BM25, or BM25 only.

    Dense vectors are made on demand: a `rank` call embeds the paragraphs of the candidates'
    pages that are not embedded yet (one batch), keeps them in memory and on disk under
    `$LUMOS_CACHE/qa_page_vectors/<key>/` (key: the embedder's `cache_id`, the page title and
    its paragraphs, so an unchanged page is never embedded twice, in any corpus or process).
    A Wikipedia-sized corpus thus costs nothing before the first call, and each call embeds at
    most `max_context_pages` pages. The ranking is the same as over embeddings of the whole
    corpus computed up front (`embeddings=`, still accepted, e.g. from a benchmark).

    Args:
        corpus: the collection.
        embeddings: optional precomputed `(num_paragraphs, dim)` rows; None embeds on demand.
        embedder: the sentence embedder; None ranks with BM25 only.
        bm25: BM25 over every paragraph (`paragraph_texts`).
    """

    def __init__(self, corpus: Corpus, embeddings: np.ndarray | None, embedder: Embedder | None, bm25: Bm25) -> None:
        self.corpus = corpus
        self.embeddings = embeddings
        self.embedder = embedder
        self.bm25 = bm25
        self.pages_embedded = 0
        """pages this index embedded itself (the disk cache missed), for tests and benchmarks"""
        self._page_vectors: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def rank(self, query: str, rows: Sequence[int], k: int) -> list[int]:
        """The best `k` of the given paragraph rows for the query, best first.

        The score is the cosine similarity plus `LEXICAL_WEIGHT` times the BM25 score scaled to
        [0, 1] over the candidates (BM25 alone without an embedder); BM25 counts only the query
        terms that some candidates lack (`Bm25.discriminating_scores`). It reads the query and
        the paragraphs only, never a reader's notion of what answers the query.
        """
        if not rows:
            return []
        candidates = np.asarray(rows, dtype=np.int64)
        lexical = self.bm25.discriminating_scores(query, candidates)
        if lexical.max(initial=0.0) > 0:
            lexical = lexical / lexical.max()
        if self.embedder is not None:
            vector = self.embedder.embed([query[:MAX_QUERY_CHARS]])[0]
            scores = np.asarray(self.vectors(candidates) @ vector, dtype=np.float32) + LEXICAL_WEIGHT * lexical
        else:
            scores = lexical
        order = np.argsort(-scores, kind="stable")[:k]
        return [int(candidates[i]) for i in order]

    def vectors(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The embeddings of these paragraph rows, embedding their pages where needed."""
        if self.embeddings is not None:
            return np.asarray(self.embeddings[np.asarray(rows, dtype=np.int64)])
        if self.embedder is None:
            raise RuntimeError("this paragraph index has no embedder")
        refs = [self.corpus.paragraphs[int(r)] for r in rows]
        self._ensure_pages(list(dict.fromkeys(ref.doc for ref in refs)))
        return np.stack([self._page_vectors[ref.doc][ref.number] for ref in refs])

    def _ensure_pages(self, docs: list[int]) -> None:
        assert self.embedder is not None
        with self._lock:
            missing = [d for d in docs if d not in self._page_vectors]
            if not missing:
                return
            cache_id = getattr(self.embedder, "cache_id", None)
            keys = {d: _page_key(self.corpus, d, cache_id) for d in missing} if cache_id else {}
            to_embed = []
            for doc in missing:
                folder = cache_root() / PAGE_VECTORS_KIND / keys[doc] if doc in keys else None
                if folder is not None and (folder / "embeddings.npy").is_file():
                    self._page_vectors[doc] = np.load(folder / "embeddings.npy")
                else:
                    to_embed.append(doc)
            if not to_embed:
                return
            texts = [text for doc in to_embed for text in _page_paragraph_texts(self.corpus, doc)]
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            self.pages_embedded += len(to_embed)
            position = 0
            for doc in to_embed:
                count = len(self.corpus.documents[doc].paragraphs)
                page = vectors[position : position + count]
                position += count
                self._page_vectors[doc] = page
                if doc in keys:
                    cached_build(PAGE_VECTORS_KIND, keys[doc], lambda tmp, page=page: np.save(tmp / "embeddings.npy", page))


def page_index(corpus: Corpus) -> PageIndex:
    """The shared BM25 page index of a corpus (built or loaded once per process)."""

    def load() -> PageIndex:
        key = bm25_cache_key(corpus, "pages")
        folder = cached_build("qa_page_bm25", key, lambda tmp: Bm25.build(_page_texts(corpus), tmp))
        return PageIndex(corpus, Bm25.load(folder))

    return shared_state("qa_page_index", corpus.fingerprint(), load)


def paragraph_index(corpus: Corpus, *, dense: bool = True, device: str = "cpu") -> ParagraphIndex:
    """The shared paragraph index of a corpus: dense (MiniLM on `device`, embedded on demand) when
    `dense`, else BM25 only. Building it embeds nothing."""
    embedder: Embedder | None = None
    if dense:  # loaded outside `load`: `shared_state` calls must not nest
        from lumos_envs.embedding import default_embedder

        embedder = default_embedder(device)

    def load() -> ParagraphIndex:
        texts = paragraph_texts(corpus)
        key = bm25_cache_key(corpus, "paragraphs")
        bm25 = Bm25.load(cached_build("qa_paragraph_bm25", key, lambda tmp: Bm25.build(texts, tmp)))
        return ParagraphIndex(corpus, None, embedder, bm25)

    suffix = f"dense@{device}" if dense else "bm25"
    return shared_state("qa_paragraph_index", f"{corpus.fingerprint()}-{suffix}", load)


def paragraph_texts(corpus: Corpus) -> list[str]:
    """What is embedded for each paragraph: `Title: text` (a paragraph often names its subject
    only by pronoun, so the title carries who or what it is about)."""
    return [f"{corpus.documents[ref.doc].title}: {ref.text}" for ref in corpus.paragraphs]


def _page_paragraph_texts(corpus: Corpus, doc: int) -> list[str]:
    title = corpus.documents[doc].title
    return [f"{title}: {text}" for text in corpus.documents[doc].paragraphs]


def _page_key(corpus: Corpus, doc: int, cache_id: str) -> str:
    document = corpus.documents[doc]
    return content_key(cache_id, json.dumps([document.title, list(document.paragraphs)], ensure_ascii=False),
                       version=f"page-vectors-{INDEX_VERSION}")


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
