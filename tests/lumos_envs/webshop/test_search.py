"""`ProductIndex.search` ranks as `BM25.retrieve` did (lumos_envs/webshop/search.py)."""

from __future__ import annotations

import random

import pytest

from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.webshop.search import SEARCH_RETURN_N, get_index


def _queries(catalog, n: int = 200) -> list[str]:
    """Queries as agents write them: a product type with an attribute, title words, an option
    value, repeated and unknown words, stopwords, and text with punctuation."""
    rng = random.Random(0)
    queries = []
    for i in range(n):
        product = catalog[rng.randrange(len(catalog))]
        other = catalog[rng.randrange(len(catalog))]
        title = product.title.split()
        kind = i % 5
        if kind == 0:
            queries.append(f"{product.query} {other.attributes[0] if other.attributes else ''}")
        elif kind == 1:
            queries.append(" ".join(rng.sample(title, min(3, len(title)))))
        elif kind == 2:
            values = [v for vs in product.options.values() for v in vs] or ["blue"]
            queries.append(f"{rng.choice(values)} {product.query} under 30 dollars")
        elif kind == 3:
            queries.append(f"the {title[0]} {title[0]} zzqx-unknown, and a {other.query}!")
        else:
            queries.append(" ".join(rng.sample(other.title.split() + product.title.split(), 4)))
    return queries


@pytest.fixture(scope="module")
def index_and_catalog():
    catalog = get_catalog(None)
    return get_index(catalog), catalog


def test_top_10_equals_bm25s_retrieve_on_200_queries(index_and_catalog):
    index, catalog = index_and_catalog
    queries = _queries(catalog)
    assert len(queries) == 200 and len(set(queries)) > 190
    differing, fully_compared = 0, 0
    for query in queries:
        new, old = index.search(query), index.search_bm25s_retrieve(query)
        assert new, query
        scores = _scores(index, query)
        assert [scores[d] for d in new] == [scores[d] for d in old], query  # equally good, in order
        if new[:10] != old[:10]:
            differing += 1
        if len(old) < SEARCH_RETURN_N or int((scores >= scores[old[-1]]).sum()) == len(old):
            assert new[:10] == old[:10], query
            assert new == old, query
            fully_compared += 1
    # only a tie from the 10th to past the 50th place could make the two differ (retrieve then
    # picks among the tied products arbitrarily); these queries have none
    assert differing == 0
    assert fully_compared > 100  # most queries have a fully determined top 50, compared whole


def _scores(index, query: str):
    """Every product's BM25 score for `query` (a tie at the 50th place that leaves an equally
    good product out makes `retrieve`'s choice arbitrary; then only scores are compared)."""
    import bm25s

    tokens = bm25s.tokenize([query], stopwords="en", stemmer=index.stemmer, show_progress=False)
    words = {i: w for w, i in tokens.vocab.items()}
    ids = [index.retriever.vocab_dict[words[i]] for i in tokens.ids[0] if words[i] in index.retriever.vocab_dict]
    return index.retriever.get_scores_from_ids(ids)


def test_search_edge_cases(index_and_catalog):
    index, catalog = index_and_catalog
    assert index.search("") == [] and index.search("the and of") == [] and index.search("zzqx qqzx") == []
    assert index.search(catalog[0].title, k=0) == []
    top = index.search(catalog[0].title, k=5)
    assert len(top) == 5 and 0 in top
    assert index.search(catalog[0].title, k=len(catalog) + 10) == index.search_bm25s_retrieve(catalog[0].title, k=len(catalog) + 10)
