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
        self._vocab: dict[str, int] = dict(self.retriever.vocab_dict)
        """stemmed word -> the index's token id (words the catalog never uses score nothing)"""

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[int]:
        """Catalog indices of the best `k` products for `query` (empty for an empty query): BM25
        score descending, then catalog index, products scoring 0 left out.

        Scores come from bm25s (`get_scores_from_ids`, a vectorised sum over the query terms'
        postings). The selection is ours: `BM25.retrieve` selects with `np.argpartition(scores,
        -k)` over every product, which on a mostly-zero score array took 30-50 ms at 100k products
        (its faster selection back ends need jax or numba, neither a dependency), and breaks ties
        at the k-th place arbitrarily. Selecting among the products that score above 0 takes
        well under a millisecond there, and a tie at the k-th place goes to the lower index.
        """
        scores = self.scores(query)
        if scores is None or k <= 0:
            return []
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            # the k-th best score, then every product at least that good (ties included)
            threshold = -np.partition(-scores[candidates], k - 1)[k - 1]
            candidates = candidates[scores[candidates] >= threshold]
        order = np.lexsort((candidates, -scores[candidates]))  # last key first: score, then index
        return [int(d) for d in candidates[order[:k]]]

    def scores(self, query: str) -> np.ndarray | None:
        """Every product's BM25 score for `query` (None when no query word is in the index)."""
        import bm25s

        tokens = bm25s.tokenize([query[:1000]], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return None
        words = {i: w for w, i in tokens.vocab.items()}
        known = [self._vocab[words[i]] for i in tokens.ids[0] if words[i] in self._vocab]
        return self.retriever.get_scores_from_ids(known) if known else None

    def search_bm25s_retrieve(self, query: str, k: int = SEARCH_RETURN_N) -> list[int]:
        """The ranking as `BM25.retrieve` gives it (the implementation before `search`; kept so a
        test can check the two agree). Slow at scale; see `search`."""
        import bm25s

        tokens = bm25s.tokenize([query[:1000]], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(k, self.size)
        documents, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=0)
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
