"""The bundled extractive reader: the offline default behind the `QA` tool, no LLM needed.

It reads prose the way pre-neural QA systems did (answer typing, sentence selection, candidate
extraction), and knows nothing about the bundled world's sentence patterns:

1. the question's expected answer type comes from its wh-phrase (`when`/`what year` -> a year,
   `how many`/`population` -> a number, `who` -> a person, `where`/`in which city` -> a place,
   `which <noun>` -> a named entity, otherwise a phrase);
2. sentences are ranked by stemmed word overlap with the question plus, when an embedder is
   available, MiniLM cosine similarity (so `born` finds `birthplace`);
3. candidates of the expected type are taken from the best sentences (years, numbers, runs of
   capitalised words), leaving out what the question already names, and scored by their
   sentence, the preposition before them (`in`/`at` suits places, `by` suits people) and their
   distance to the question's other content words.

Two LUMOS usages are handled on purpose: a comparison `Which ... earlier, A or B?` over a list of
values (`QA([R3, R6], ...)` with one value per option, in order), and yes/no questions over
boolean results (`QA([R3, R6], Question: Can ...?)` with `True`/`False` values). Numbers are
returned without thousands separators (`75000`), so Calculator can use them. When no candidate
of the expected type is found, the best sentence is returned, as LUMOS's QA tool does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol, Sequence

import numpy as np

from lumos_envs.protocols import Embedder

AnswerType = Literal["year", "number", "person", "place", "entity", "boolean", "phrase"]

MAX_CONTEXT_CHARS = 20_000
"""context beyond this is not read (a QA call must stay fast)"""
MAX_SENTENCES = 200
"""sentences beyond this are not read"""
TOP_SENTENCES = 3
"""candidates are drawn from this many best sentences"""


class Reader(Protocol):
    """Answers a question from context passages; the `QA` tool's back-end."""

    def answer(self, contexts: Sequence[str], question: str) -> str: ...


_STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being do does did "
    "what which who whom whose when where why how many much that this these those it its as into than "
    "has have had he she they his her their there then also about after before over under same".split()
)
_CAPITAL_STOP = frozenset(
    "A An The In On At It He She They His Her Their Its As For By From Born Located Some Among After "
    "Before During When While This That These Those Roughly About Readers Settlers Historians Local "
    "Remembered Like Unlike Although Though However Since Until Today Later Early Its Both Each".split()
)
_CONNECTORS = frozenset({"of", "the", "de", "da", "del", "van", "von", "la", "le", "du", "and", "&"})
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_PLACE_PREPOSITIONS = frozenset({"in", "at", "near", "from", "to", "of"})
_PERSON_PREPOSITIONS = frozenset({"by"})
_YES_NO_START = re.compile(
    r"^(is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|shall|may|might|must)\b", re.I)
_YEAR = re.compile(r"(?<![\d,.])(1\d{3}|20\d{2})(?![\d,])")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w,]\d)")
_WORD = re.compile(r"[A-Z]\.(?:\s?[A-Z]\.)*|[A-Za-z\u00C0-\u024F][\w'’\-]*|\d[\d,.]*\d|\d|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[A-Z0-9\"'“])")  # not after an initial ("J. R. R. Tolkien")
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:an|ish|ese|ic|ss|ch)")
_SMALLER = re.compile(r"\b(earlier|earliest|first|older|oldest|before|sooner|fewer|smaller|smallest|less|lower|least|shorter)\b", re.I)
_LARGER = re.compile(r"\b(later|latest|last|younger|youngest|after|more|most|larger|largest|bigger|biggest|greater|higher|longer|newer)\b", re.I)


@dataclass(frozen=True)
class _Candidate:
    text: str
    score: float


class ExtractiveReader:
    """The rule-and-embedding reader described in the module docstring.

    Args:
        embedder: sentence embedder used for sentence ranking; None ranks by word overlap only.
            `ExtractiveReader.default()` uses the packaged all-MiniLM-L6-v2.
        dense_weight: weight of the cosine similarity against the word-overlap score.
    """

    def __init__(self, embedder: Embedder | None = None, dense_weight: float = 1.0) -> None:
        self.embedder = embedder
        self.dense_weight = dense_weight

    @classmethod
    def default(cls) -> "ExtractiveReader":
        from lumos_envs.embedding import default_embedder

        return cls(default_embedder())

    def answer(self, contexts: Sequence[str], question: str) -> str:
        """The answer text (possibly a sentence); `""` when the context is empty."""
        question = " ".join(question.split())[:1000]
        contexts = [c for c in contexts if c.strip()]
        if not contexts:
            return ""
        kind = answer_type(question)
        compared = self._compare(contexts, question)
        if compared is not None:
            return compared
        if kind == "boolean":
            return self._yes_no(contexts, question)
        sentences = split_sentences(contexts)
        if not sentences:
            return ""
        ranked = self._rank_sentences(sentences, question)
        question_words = _content_stems(question)
        question_folded = _fold(question)
        best: _Candidate | None = None
        for rank, (sentence_score, sentence) in enumerate(ranked[:TOP_SENTENCES]):
            for candidate in _candidates(sentence, kind, question_words, question_folded):
                total = sentence_score + candidate.score - 0.05 * rank
                if best is None or total > best.score:
                    best = _Candidate(candidate.text, total)
        if best is not None:
            return best.text
        return ranked[0][1]

    # -- sentence ranking ------------------------------------------------------------------------

    def _rank_sentences(self, sentences: list[str], question: str) -> list[tuple[float, str]]:
        wanted = _content_stems(question)
        lexical = np.array(
            [len(wanted & _content_stems(s)) / max(1, len(wanted)) for s in sentences], dtype=np.float32)
        scores = lexical
        if self.embedder is not None:
            vectors = self.embedder.embed([question] + sentences)
            scores = lexical + self.dense_weight * (vectors[1:] @ vectors[0])
        order = np.argsort(-scores, kind="stable")
        return [(float(scores[i]), sentences[i]) for i in order]

    # -- comparisons and yes/no ------------------------------------------------------------------

    def _compare(self, contexts: Sequence[str], question: str) -> str | None:
        options = comparison_options(question)
        if options is None:
            return None
        items = _items(contexts)
        values = [_first_value(item) for item in items] if len(items) == len(options) else []
        if len(values) != len(options) or any(v is None for v in values):
            values = [self._value_for(contexts, option) for option in options]
        if any(v is None for v in values):
            return None
        smaller, larger = _SMALLER.search(question), _LARGER.search(question)
        if smaller is None and larger is None:
            return None
        pick_min = smaller is not None and (larger is None or smaller.start() > larger.start())
        pairs = list(zip(values, options))
        chosen = min(pairs, key=lambda p: p[0]) if pick_min else max(pairs, key=lambda p: p[0])
        return chosen[1]

    def _value_for(self, contexts: Sequence[str], option: str) -> float | None:
        folded = _fold(option)
        for sentence in split_sentences(contexts):
            if folded in _fold(sentence):
                value = _first_value(sentence.replace(option, " "))
                if value is not None:
                    return value
        return None

    def _yes_no(self, contexts: Sequence[str], question: str) -> str:
        items = _items(contexts)
        booleans = [_boolean(item) for item in items]
        if items and all(b is not None for b in booleans):
            return "True" if all(booleans) else "False"
        sentences = split_sentences(contexts)
        if not sentences:
            return "False"
        score, sentence = self._rank_sentences(sentences, question)[0]
        negated = re.search(r"\b(not|never|no|neither|nor)\b", sentence, re.I) is not None
        wanted = _content_stems(question)
        covered = len(wanted & _content_stems(sentence)) / max(1, len(wanted))
        return "True" if covered >= 0.6 and not negated else "False"


def answer_fit(text: str, question: str) -> float:
    """How well the text can answer the question: the best score of a candidate of the expected
    answer type (a year for `when`, a name after `by` for `who`, ...), 0.0 when there is none;
    0.5 for phrase and yes/no questions, which any text may answer."""
    kind = answer_type(question)
    if kind in ("phrase", "boolean"):
        return 0.5
    words, folded = _content_stems(question), _fold(question)
    scores = [c.score for sentence in split_sentences([text]) for c in _candidates(sentence, kind, words, folded)]
    return max(scores, default=0.0)


# ---------------------------------------------------------------------------------------------
# Question analysis


def answer_type(question: str) -> AnswerType:
    """The expected answer type of a question, from its wh-phrase."""
    q = question.strip().lower()
    if _YES_NO_START.match(q) and comparison_options(question) is None:
        return "boolean"
    if re.search(r"\b(when|what year|which year|what date|which decade|what century)\b", q):
        return "year"
    if re.search(r"\b(how many|how much|how large|how old|population|number of|how long|how high|how tall|how deep|how far|how big|how heavy)\b", q):
        return "number"
    if re.search(r"\b(in|at|from) (which|what) (city|town|country|place|province|region|village|state|nation)\b", q) \
            or re.search(r"\b(which|what) (city|town|country|place|province|region|village|state|nation)\b", q) \
            or re.match(r"^where\b", q) or re.search(r"\bwhere (was|is|did|were|does|are)\b", q):
        return "place"
    if re.match(r"^(who|whom|whose)\b", q) or re.search(r"\b(by whom|who)\b", q):
        return "person"
    if re.search(r"\b(which|what)\b", q):
        return "entity"
    return "phrase"


def comparison_options(question: str) -> list[str] | None:
    """`["A", "B"]` for `..., A or B?`, else None."""
    text = question.strip().rstrip("?").strip()
    head, sep, second = text.rpartition(" or ")
    if not sep:
        return None
    first = re.split(r",\s*|:\s*|\bbetween\s+|\bthan\s+", head)[-1].strip()
    if not first or not second.strip() or len(first.split()) > 8 or len(second.split()) > 8:
        return None
    return [first, second.strip()]


# ---------------------------------------------------------------------------------------------
# Candidates


def _candidates(sentence: str, kind: AnswerType, question_words: set[str], question_folded: str) -> list[_Candidate]:
    tokens = [(m.group(0), m.start()) for m in _WORD.finditer(sentence)]
    anchors = [i for i, (t, _) in enumerate(tokens) if _stem(t.lower()) in question_words and t[:1].islower()]
    found: list[_Candidate] = []

    def add(text: str, start_token: int, end_token: int, bonus: float) -> None:
        if not text or _fold(text) in question_folded:
            return
        distance = min((abs(a - start_token) for a in anchors), default=12)
        previous = tokens[start_token - 1][0].lower() if start_token > 0 else ""
        score = bonus - 0.01 * min(distance, 12)
        if kind == "place":
            score += 0.3 if previous in _PLACE_PREPOSITIONS else 0.0
            score -= 0.3 if previous in _PERSON_PREPOSITIONS else 0.0
        if kind == "person":
            score += 0.3 if previous in _PERSON_PREPOSITIONS else 0.0
            score -= 0.3 if previous in _PLACE_PREPOSITIONS else 0.0
        found.append(_Candidate(text, score))

    if kind == "year":
        for i, (token, _) in enumerate(tokens):
            if _YEAR.fullmatch(token):
                add(token, i, i, 0.5)
            elif re.fullmatch(r"[1-9]\d{2}", token) and i > 0 and tokens[i - 1][0].lower() in ("in", "since", "of", "by"):
                add(token, i, i, 0.3)  # an early year ("founded in 982")
    elif kind == "number":
        for i, (token, _) in enumerate(tokens):
            word = token.lower()
            if _NUMBER.fullmatch(token):
                year_like = _YEAR.fullmatch(token) is not None
                add(token.replace(",", ""), i, i, 0.1 if year_like else 0.5)
            elif word in _NUMBER_WORDS:
                add(str(_NUMBER_WORDS[word]), i, i, 0.5)
    elif kind in ("person", "place", "entity"):
        for text, start, end in _capitalised_spans(tokens):
            following = tokens[end + 1][0] if end + 1 < len(tokens) else ""
            # a lone demonym before a noun ("an American explorer") describes, it does not name
            adjective = start == end and _DEMONYM.fullmatch(text) is not None and following[:1].islower()
            add(text, start, end, 0.1 if adjective else 0.5)
    return found


def _capitalised_spans(tokens: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    i = 0
    while i < len(tokens):
        word = tokens[i][0]
        if not _is_capitalised(word):
            i += 1
            continue
        start = i
        end = i
        j = i + 1
        while j < len(tokens):
            token = tokens[j][0]
            if _is_capitalised(token):
                end = j
                j += 1
            elif token in _CONNECTORS and j + 1 < len(tokens) and _is_capitalised(tokens[j + 1][0]):
                j += 1
            else:
                break
        words = [t for t, _ in tokens[start : end + 1]]
        while words and words[0] in _CAPITAL_STOP:
            words.pop(0)
            start += 1
        if words:
            text = " ".join(words)
            text = re.sub(r"['’]s$", "", text)
            spans.append((text, start, end))
        i = end + 1
    return spans


def _is_capitalised(token: str) -> bool:
    return token[:1].isupper() and token[:1].isalpha()


# ---------------------------------------------------------------------------------------------
# Text helpers


def split_sentences(contexts: Sequence[str]) -> list[str]:
    """Sentences of the contexts, in order (at most `MAX_SENTENCES`, reading `MAX_CONTEXT_CHARS`)."""
    sentences: list[str] = []
    budget = MAX_CONTEXT_CHARS
    for context in contexts:
        text = " ".join(context[:budget].split())
        budget -= len(text)
        sentences.extend(s for s in _SENTENCE_END.split(text) if s.strip())
        if budget <= 0 or len(sentences) >= MAX_SENTENCES:
            break
    return sentences[:MAX_SENTENCES]


def _items(contexts: Sequence[str]) -> list[str]:
    """Context values as a list: several contexts as they are, one context split at `, `."""
    if len(contexts) > 1:
        return [c.strip() for c in contexts]
    return [part.strip() for part in re.split(r",\s+", contexts[0].strip().strip("[]")) if part.strip()]


def _first_value(text: str) -> float | None:
    if len(text.split()) > 40:
        return None
    match = _NUMBER.search(text)
    if match is None:
        return None
    return float(match.group(1).replace(",", ""))


def _boolean(text: str) -> bool | None:
    word = text.strip().strip(".").lower()
    return True if word in ("true", "yes") else False if word in ("false", "no") else None


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - PyStemmer has no types
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def _content_stems(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))
