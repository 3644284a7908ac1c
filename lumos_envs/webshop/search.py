"""Product search with BM25 (`bm25s`): one index per catalog, built once, cached on disk, shared.

WebShop searched with pyserini (Java); `bm25s` gives the same BM25 ranking in numpy. The index
covers each product's `search_text()` (title, description, first bullet point, option values),
stemmed with PyStemmer, and is saved under `$LUMOS_CACHE/webshop_index/<key>` with bm25s's own
numpy/JSON files (no pickle). Every env in a process shares the loaded index.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lumos_envs.cache import cached_build, content_key, shared_state
from lumos_envs.webshop.products import Catalog

logger = logging.getLogger(__name__)

INDEX_VERSION = "bm25s-1"
SEARCH_RETURN_N = 50
"""WebShop returns the top 50 products for a search (5 pages of 10)"""
_BATCH = 50_000


class ProductIndex:
    """BM25 over one catalog's products; `search` returns catalog indices, best first."""

    def __init__(self, folder: Path) -> None:
        import bm25s
        import Stemmer

        self.retriever = bm25s.BM25.load(str(folder), load_corpus=False, mmap=False)
        self.stemmer = Stemmer.Stemmer("english")
        self.size = int(np.load(folder / "size.npy", allow_pickle=False))

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[int]:
        """Catalog indices of the best `k` products for `query` (empty for an empty query)."""
        import bm25s

        tokens = bm25s.tokenize([query[:1000]], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(k, self.size)
        documents, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        # stable order: score descending, then catalog index (so ties do not depend on the backend)
        pairs = sorted(((-float(s), int(d)) for d, s in zip(documents[0], scores[0]) if s > 0))
        return [d for _, d in pairs]


def get_index(catalog: Catalog) -> ProductIndex:
    """The shared, disk-cached index of `catalog`."""
    key = content_key(catalog.spec, catalog.fingerprint, version=INDEX_VERSION)
    folder = cached_build("webshop_index", key, lambda tmp: build_index(catalog, tmp))
    return shared_state("webshop_index", key, lambda: ProductIndex(folder))


def build_index(catalog: Catalog, folder: Path) -> None:
    """Tokenize every product (in batches, to bound memory) and save a BM25 index to `folder`."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    vocabulary: dict[str, int] = {}
    corpus_ids: list[list[int]] = []
    for start in range(0, len(catalog), _BATCH):
        texts = [catalog[i].search_text().lower() for i in range(start, min(len(catalog), start + _BATCH))]
        tokenized = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        remap = {}
        for word, old_id in tokenized.vocab.items():
            remap[old_id] = vocabulary.setdefault(word, len(vocabulary))
        corpus_ids.extend([remap[t] for t in doc] for doc in tokenized.ids)
        logger.info("indexed %d/%d products", min(len(catalog), start + _BATCH), len(catalog))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=vocabulary), show_progress=False)
    retriever.save(str(folder))
    np.save(folder / "size.npy", np.asarray(len(catalog)), allow_pickle=False)
