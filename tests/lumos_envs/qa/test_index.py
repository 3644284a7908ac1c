"""ParagraphRetrieve's index embeds pages on demand, caches them on disk by content, and ranks as
embeddings of the whole corpus computed up front would."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lumos_envs.cache import clear_shared_state
from lumos_envs.qa import index as index_module
from lumos_envs.qa.corpus import Corpus, Document
from lumos_envs.qa.index import ParagraphIndex, paragraph_index, paragraph_texts

PAGES = {
    "Ludwig van Beethoven": ("Ludwig van Beethoven was a German composer and pianist.", "He was born in Bonn in 1770.",
                             "He died in Vienna in 1827."),
    "Vienna": ("Vienna is the capital of Austria.", "It lies on the Danube.", "Its population is about two million."),
    "Bonn": ("Bonn is a city on the Rhine in Germany.", "It was the seat of government of West Germany."),
    "Danube": ("The Danube is the second-longest river in Europe.", "It flows into the Black Sea."),
    "Mount Kenya": ("Mount Kenya is the highest mountain in Kenya.", "Its summit rises to 5,199 metres."),
}
QUERIES = ("Where was Beethoven born?", "When did he die?", "Which river flows through Vienna?",
           "How high is the mountain?", "What is the capital of Austria?")


class HashEmbedder:
    """A deterministic stand-in for MiniLM (vectors from a hash of the text, word-overlap aware),
    counting the texts it embeds; loading the real model would cost more than these tests."""

    cache_id = "hash-embedder-v1"

    def __init__(self) -> None:
        self.num_texts = 0

    def embed(self, texts):
        self.num_texts += len(texts)
        rows = []
        for text in texts:
            vector = np.zeros(64, dtype=np.float32)
            for word in text.lower().replace("?", " ").replace(".", " ").split():
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
            rows.append(vector / max(float(np.linalg.norm(vector)), 1e-9))
        return np.stack(rows)


@pytest.fixture()
def embedder(monkeypatch):
    fake = HashEmbedder()
    import lumos_envs.embedding

    monkeypatch.setattr(lumos_envs.embedding, "default_embedder", lambda device="cpu": fake)
    clear_shared_state(["qa_paragraph_index"])
    yield fake
    clear_shared_state(["qa_paragraph_index"])


def _corpus(name: str = "test") -> Corpus:
    return Corpus([Document(t, p) for t, p in PAGES.items()], name=name)


def test_on_demand_ranking_equals_whole_corpus_ranking_and_embeds_only_given_pages(embedder):
    corpus = _corpus()
    index = paragraph_index(corpus)
    assert index.pages_embedded == 0 and embedder.num_texts == 0  # building the index embeds nothing
    full = ParagraphIndex(corpus, embedder.embed(paragraph_texts(corpus)), embedder, index.bm25)
    beethoven, vienna = corpus.find_title("Ludwig van Beethoven"), corpus.find_title("Vienna")
    rows = [*corpus.paragraph_rows(beethoven), *corpus.paragraph_rows(vienna)]
    embedder.num_texts = 0
    for query in QUERIES:
        assert index.rank(query, rows, 3) == full.rank(query, rows, 3)
    assert index.pages_embedded == 2  # only the pages asked about, each once
    assert embedder.num_texts == 2 * len(QUERIES) + len(rows)  # each index embeds the queries
    all_rows = list(range(corpus.num_paragraphs))
    for query in QUERIES:
        assert index.rank(query, all_rows, 4) == full.rank(query, all_rows, 4)
    np.testing.assert_allclose(index.vectors(all_rows), full.embeddings, atol=1e-5)
    assert index.pages_embedded == len(PAGES)


def test_page_vectors_come_from_the_disk_cache_in_a_new_index(embedder):
    first = paragraph_index(_corpus())
    rows = list(first.corpus.paragraph_rows(first.corpus.find_title("Danube")))
    first.rank("Where does the Danube flow?", rows, 1)
    clear_shared_state(["qa_paragraph_index"])
    # another corpus holding the same page: its vectors are found by content
    other = Corpus([Document("Danube", PAGES["Danube"]), Document("Elsewhere", ("Nothing here.",))], name="other")
    second = paragraph_index(other)
    danube = list(other.paragraph_rows(other.find_title("Danube")))
    assert second.rank("Where does the Danube flow?", danube, 1) == [danube[1]]
    assert second.pages_embedded == 0
    np.testing.assert_array_equal(second.vectors(danube), first.vectors(rows))
    assert list((index_module.cache_root() / index_module.PAGE_VECTORS_KIND).iterdir())  # plain .npy folders


def test_bm25_only_index_needs_no_embedder():
    index = paragraph_index(_corpus(), dense=False)
    rows = list(index.corpus.paragraph_rows(index.corpus.find_title("Mount Kenya")))
    assert index.embedder is None and index.rank("How many metres is the summit?", rows, 1) == [rows[1]]


# A page whose answer paragraph is longer than its distractors (a second sentence pads it) and
# states the fact with another inflection than the query's ("worked" for "work").
EMPLOYMENT_PAGES = {
    "Ada Quellrin": ("Ada Quellrin was a poet from Norvale.", "Ada Quellrin died in 1901.",
                     "Ada Quellrin worked for Harrow Press for many years. Historians still debate several details "
                     "of this account."),
    "Harrow Press": ("Harrow Press is a publisher based in Lisk.", "Roughly 300 people work for Harrow Press."),
    "Tomas Verell": ("Tomas Verell was a painter.", "Tomas Verell worked for Lisk Mills.", "Tomas Verell died in 1950."),
    "Lisk": ("Lisk is a city in Norvale.", "Lisk was founded in 1200."),
}


@pytest.mark.parametrize("dense", [False, True], ids=["bm25", "dense+bm25"])
def test_an_inflected_verb_finds_the_other_inflection_over_shorter_paragraphs_about_the_same_subject(dense, embedder):
    corpus = Corpus([Document(t, p) for t, p in EMPLOYMENT_PAGES.items()], name="employment")
    index = paragraph_index(corpus, dense=dense)
    ada = list(corpus.paragraph_rows(corpus.find_title("Ada Quellrin")))
    assert index.rank("Which organisation did Ada Quellrin work for?", ada, 1) == [ada[2]]
    assert index.rank("Where did Ada Quellrin work?", ada, 1) == [ada[2]]
    assert index.rank("When did Ada Quellrin die?", ada, 1) == [ada[1]]
    # across two pages the subject's name still tells them apart
    both = [*ada, *corpus.paragraph_rows(corpus.find_title("Tomas Verell"))]
    assert index.rank("Which organisation did Tomas Verell work for?", both, 1) == [both[4]]


def test_bm25_cache_keys_follow_the_tokeniser(monkeypatch):
    corpus = _corpus("tokeniser")
    keys = {index_module.bm25_cache_key(corpus, "paragraphs"), index_module.bm25_cache_key(corpus, "pages")}
    monkeypatch.setattr(index_module, "STEMMER_LANGUAGE", "porter")
    changed = {index_module.bm25_cache_key(corpus, "paragraphs"), index_module.bm25_cache_key(corpus, "pages")}
    assert len(keys) == len(changed) == 2 and not keys & changed
