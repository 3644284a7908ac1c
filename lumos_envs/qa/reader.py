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

Two LUMOS usages are handled on purpose: a comparison `Which ... earlier, A or B?` (options split
on "or") over a list of values (`QA([R3, R6], ...)` with one value per option, in order) or over
passages (the value stated about each option: a date, parsed with python-dateutil, when the
comparison is about time, else a quantity), and yes/no questions, answered `yes`/`no` as HotpotQA
writes them: over boolean results (`QA([R3, R6], Question: Can ...?)` with `True`/`False` values
from Calculator), and HotpotQA's comparisons `Were A and B of the same nationality?` (the value
stated about each of A and B: a demonym, a year, or a place or name; equal or not). Capitalised sentence openers are
told from names by general rules (NLTK's English stop words, and the truecasing rule: a word the
context also writes in lower case), not by word lists of any corpus. Numbers are
returned without thousands separators (`75000`), so Calculator can use them. When no candidate
of the expected type is found, the best sentence is returned, as LUMOS's QA tool does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
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
MAX_VALUE_WORDS = 8
"""a context item this short is a value (`QA([R3, R6], ...)`, one per option), not a passage"""


class Reader(Protocol):
    """Answers a question from context passages; the `QA` tool's back-end."""

    def answer(self, contexts: Sequence[str], question: str) -> str: ...


_STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being do does did "
    "what which who whom whose when where why how many much that this these those it its as into than "
    "has have had he she they his her their there then also about after before over under same".split()
)
_CONNECTORS = frozenset({"of", "the", "de", "da", "del", "van", "von", "la", "le", "du", "and", "&"})
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_PLACE_PREPOSITIONS = frozenset({"in", "at", "near", "from", "to", "of"})
_PERSON_PREPOSITIONS = frozenset({"by"})
_YES_NO_START = re.compile(
    r"^(is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|shall|may|might|must)\b", re.I)
_YEAR = re.compile(r"(?<![\d,.])(1\d{3}|20\d{2})(?!\d|,\d)")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w,]\d)")
_WORD = re.compile(r"[A-Z]\.(?:\s?[A-Z]\.)*|[A-Za-z\u00C0-\u024F][\w'’\-]*|\d[\d,.]*\d|\d|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<!\b[A-Z]\.)(?<=[.!?])\s+(?=[A-Z0-9\"'“])")  # not after an initial ("J. R. R. Tolkien")
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:an|ish|ese|ic|ss|ch)")
_SAME = re.compile(r"^(?:is|are|was|were|do|does|did|have|has|had)\s+(?P<pair>.+?)\s+the same\s+(?P<attribute>[a-z]+)", re.I)
"""`Were A and B (of|born in|located in) the same ATTRIBUTE?`"""
_NATIONALITY = frozenset({"nationality", "citizenship", "origin", "ethnicity"})
_DATED = frozenset({"year", "decade", "century"})
_PLACES = frozenset({"city", "town", "country", "state", "place", "region", "province", "county", "village", "continent"})
_SMALLER = re.compile(r"\b(earlier|earliest|first|older|oldest|before|sooner|fewer|smaller|smallest|less|lower|least|"
                      r"shorter|shortest|closer|closest|nearer|nearest|lighter|shallower|narrower)\b", re.I)
_LARGER = re.compile(r"\b(later|latest|last|younger|youngest|after|more|most|larger|largest|bigger|biggest|greater|higher|"
                     r"highest|longer|longest|newer|newest|taller|tallest|deeper|deepest|heavier|wider|farther|further)\b", re.I)
_TEMPORAL = re.compile(r"\b(earlier|earliest|first|older|oldest|before|sooner|later|latest|last|younger|youngest|after|newer|"
                       r"newest|born|died|founded|established|formed|released|published|opened|built|launched|when|year|date)\b", re.I)
"""a comparison over dates rather than quantities"""
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
           r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_MONTH = re.compile(_MONTHS)
_DATE_SPAN = re.compile(
    rf"(?<![\w,])(?:\d{{1,2}}\s+{_MONTHS}\s+\d{{3,4}}|{_MONTHS}\s+\d{{1,2}},?\s+\d{{3,4}}|{_MONTHS}\s+\d{{3,4}}|"
    rf"(?<![\d.,])1\d{{3}}(?!\d|,\d)|(?<![\d.,])20\d{{2}}(?!\d|,\d))")
"""date-shaped spans ("8 October 1970", "October 8, 1970", "December 1770", "1850"); dateutil parses them"""


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
        common = _lowercase_words(contexts)
        kind = answer_type(question)
        compared = self._compare(contexts, question)
        if compared is not None:
            return compared
        if kind == "boolean":
            same = self._same(contexts, question, common)
            return same if same is not None else self._yes_no(contexts, question)
        sentences = split_sentences(contexts)
        if not sentences:
            return ""
        ranked = self._rank_sentences(sentences, question)
        question_words = _content_stems(question)
        question_folded = _fold(question)
        bridged = self._bridge(contexts, question, kind, ranked[0][1], question_folded, common)
        if bridged is not None:
            return bridged
        best: _Candidate | None = None
        for rank, (sentence_score, sentence) in enumerate(ranked[:TOP_SENTENCES]):
            for candidate in _candidates(sentence, kind, question_words, question_folded, common):
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

    # -- bridge questions --------------------------------------------------------------------------

    def _bridge(self, contexts: Sequence[str], question: str, kind: AnswerType, first: str,
                question_folded: str, common: frozenset[str]) -> str | None:
        """A two-hop reading for HotpotQA-style bridge questions ("In which city was the composer
        of the Moonlight Sonata born?"): when the best sentence leaves some of the question's
        relation words unexplained (`born`), read the passages that mention a name from that
        sentence (`Ludwig van Beethoven`, the bridge entity) for a sentence that explains them,
        and take the answer from there. None when the best sentence explains the question."""
        if kind == "phrase":
            return None
        residual = _relation_stems(question) - _content_stems(first)
        if not residual:
            return None
        tokens = [(m.group(0), m.start()) for m in _WORD.finditer(first)]
        names = [text for text, start, end in _capitalised_spans(tokens, common)
                 if _fold(text) not in question_folded and not (start == end and _DEMONYM.fullmatch(text))]
        if not names:
            return None
        linked = [c for c in contexts if any(_fold(name) in _fold(c) for name in names)]
        second = [s for s in split_sentences(linked) if s != first]
        scored = [(len(residual & _content_stems(s)) / len(residual), s) for s in second]
        scored = [(score, s) for score, s in scored if score > 0]
        if not scored:
            return None
        best: _Candidate | None = None
        wanted = _content_stems(question)
        for score, sentence in sorted(scored, key=lambda pair: -pair[0])[:TOP_SENTENCES]:
            for candidate in _candidates(sentence, kind, wanted, question_folded, common):
                if _fold(candidate.text) in {_fold(n) for n in names}:
                    continue  # the bridge entity is the way to the answer, not the answer
                total = score + candidate.score
                if best is None or total > best.score:
                    best = _Candidate(candidate.text, total)
        return best.text if best is not None else None

    # -- comparisons and yes/no ------------------------------------------------------------------

    def _compare(self, contexts: Sequence[str], question: str) -> str | None:
        options = comparison_options(question)
        if options is None:
            return None
        smaller, larger = _SMALLER.search(question), _LARGER.search(question)
        if smaller is None and larger is None:
            return None
        temporal = _TEMPORAL.search(question) is not None
        items = _items(contexts)
        as_values = len(items) == len(options) and all(len(item.split()) <= MAX_VALUE_WORDS for item in items)
        values = [_first_value(item, temporal) for item in items] if as_values else []
        if len(values) != len(options) or any(v is None for v in values):
            values = [self._value_for(contexts, option, temporal) for option in options]
        if any(v is None for v in values):
            return None
        pick_min = smaller is not None and (larger is None or smaller.start() > larger.start())
        pairs = list(zip(values, options))
        chosen = min(pairs, key=lambda p: p[0]) if pick_min else max(pairs, key=lambda p: p[0])
        return chosen[1]

    def _value_for(self, contexts: Sequence[str], option: str, temporal: bool) -> float | None:
        """The first value stated about the option: in the sentence that names it or in the
        sentences after it in the same passage (they often say "It ..."); a passage that names
        the option first (its subject) is preferred. An option is named when all its words occur
        ("Marie Curie" in "Marie Salomea Skłodowska-Curie"), articles aside."""
        wanted = set(_fold(option).split()) - {"the", "a", "an"}
        if not wanted:
            return None
        found: list[tuple[int, float]] = []
        for context in contexts:
            sentences = split_sentences([context])
            for position, sentence in enumerate(sentences):
                if wanted <= set(_fold(sentence).split()):
                    for later in sentences[position:]:
                        value = _first_value(_without(later, option), temporal)
                        if value is not None:
                            found.append((position, value))
                            break
                    break
        return min(found, key=lambda pair: pair[0])[1] if found else None

    def _yes_no(self, contexts: Sequence[str], question: str) -> str:
        items = _items(contexts)
        booleans = [_boolean(item) for item in items]
        if items and all(b is not None for b in booleans):
            return "yes" if all(booleans) else "no"
        sentences = split_sentences(contexts)
        if not sentences:
            return "no"
        score, sentence = self._rank_sentences(sentences, question)[0]
        negated = re.search(r"\b(not|never|no|neither|nor)\b", sentence, re.I) is not None
        wanted = _content_stems(question)
        covered = len(wanted & _content_stems(sentence)) / max(1, len(wanted))
        return "yes" if covered >= 0.6 and not negated else "no"

    def _same(self, contexts: Sequence[str], question: str, common: frozenset[str]) -> str | None:
        """`yes`/`no` for `Were A and B of the same ATTRIBUTE?` from the value stated about each
        (in the first sentence naming it, or the sentences after it in its passage); None when the
        question is not of that shape or a value is not found."""
        match = _SAME.match(question.strip())
        if match is None or " and " not in match.group("pair"):
            return None
        first, _, second = match.group("pair").partition(" and ")
        words = second.split()
        while words and not _is_capitalised(words[-1]):  # "the British Museum located in" -> "the British Museum"
            words.pop()
        attribute = match.group("attribute").lower()
        values = [self._stated(contexts, option, attribute, question, common) for option in (first.strip(), " ".join(words))]
        if any(value is None for value in values):
            return None
        return "yes" if values[0] == values[1] else "no"

    def _stated(self, contexts: Sequence[str], option: str, attribute: str, question: str, common: frozenset[str]) -> str | None:
        """The value stated about `option`; a passage naming it in full wins over one naming its last word
        ("Ed Wood" is "Edward Davis Wood Jr." in his own article)."""
        words = [w for w in _fold(option).split() if w not in ("the", "a", "an")]
        if not words:
            return None
        for wanted in ({*words}, {words[-1]}):
            value = self._stated_about(contexts, option, wanted, attribute, question, common)
            if value is not None:
                return value
        return None

    def _stated_about(self, contexts: Sequence[str], option: str, wanted: set[str], attribute: str, question: str,
                      common: frozenset[str]) -> str | None:
        kind: AnswerType = "place" if attribute in _PLACES else "entity"
        question_words, question_folded = _content_stems(question), _fold(question)
        for context in contexts:
            sentences = split_sentences([context])
            for position, sentence in enumerate(sentences):
                if not wanted <= set(_fold(sentence).split()):
                    continue
                for later in sentences[position:]:
                    text = _without(later, option)
                    if attribute in _NATIONALITY:
                        found = [m.group(0) for m in _WORD.finditer(text) if _DEMONYM.fullmatch(m.group(0))]
                        value = found[0] if found else None
                    elif attribute in _DATED:
                        dates = parse_dates(text)
                        value = str(dates[0].year // {"year": 1, "decade": 10, "century": 100}[attribute]) if dates else None
                    else:
                        candidates = [c for c in _candidates(text, kind, question_words, question_folded, common)
                                      if not set(_fold(c.text).split()) & wanted]
                        value = _fold(max(candidates, key=lambda c: c.score).text) if candidates else None
                    if value is not None:
                        return value
                break
        return None


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
    if re.search(r"\b(in|at|from) (which|what) (city|town|country|place|province|region|village|state|nation|county)\b", q) \
            or re.search(r"\b(which|what) (city|town|country|place|province|region|village|state|nation|county)\b", q) \
            or re.match(r"^where\b", q) or re.search(r"\bwhere (was|is|did|were|does|are)\b", q):
        return "place"
    if re.match(r"^(who|whom|whose)\b", q) or re.search(r"\b(by whom|who)\b", q):
        return "person"
    if re.search(r"\b(which|what)\b", q):
        return "entity"
    return "phrase"


def comparison_options(question: str) -> list[str] | None:
    """The options of a comparison, split on "or" (and commas before it), else None.

    `Who was born first, A or B?` -> `["A", "B"]`; `Which is oldest: A, B or C?` -> three
    options; `Is A or B taller?` (no separator) -> the capitalised names around "or".
    """
    text = question.strip().rstrip("?").strip()
    first_or = re.search(r"\s+or\s+", text)
    if first_or is None:
        return None
    head = text[: first_or.start()]
    separators = list(re.finditer(r",\s*|:\s*|\bbetween\s+|\bthan\s+", head))
    if separators:
        # the list starts after the first comma/colon, or after the last "between"/"than"
        commas = [m for m in separators if m.group(0).strip() in (",", ":")]
        words = [m for m in separators if m.group(0).strip() not in (",", ":")]
        start = (commas[0] if commas else words[-1]).end()
        parts = [p.strip() for p in re.split(r",\s*(?:or\s+)?|\s+or\s+", text[start:]) if p.strip()]
    else:
        parts = _names_around_or(text, first_or)
    if len(parts) < 2 or any(len(p.split()) > 8 for p in parts):
        return None
    return parts


def _names_around_or(text: str, match: re.Match[str]) -> list[str]:
    """`Is Mont Blanc or the Matterhorn taller` -> the capitalised runs (with articles and
    connectors) that end just before and start just after "or"."""
    before = text[: match.start()].split()
    after = text[match.end() :].split()
    left: list[str] = []
    while before and (_is_capitalised(before[-1]) or (left and before[-1].lower() in _CONNECTORS)):
        left.insert(0, before.pop())
    if len(left) == len(text[: match.start()].split()) and left:
        left = left[1:]  # the question's first word ("Is", "Was") is no part of the option
    while left and left[0].lower() in _CONNECTORS:
        left.pop(0)
    right: list[str] = []
    for word in after:
        if _is_capitalised(word) or (word.lower() in _CONNECTORS and (not right or right[-1].lower() not in _CONNECTORS)):
            right.append(word)
        else:
            break
    while right and right[-1].lower() in _CONNECTORS:
        right.pop()
    if right and right[0].lower() in ("the", "a", "an") and len(right) == 1:
        right = []
    return [" ".join(left), " ".join(right)] if left and right else []


# ---------------------------------------------------------------------------------------------
# Candidates


def _candidates(sentence: str, kind: AnswerType, question_words: set[str], question_folded: str,
                common: frozenset[str] = frozenset()) -> list[_Candidate]:
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
        for text, start, end in _capitalised_spans(tokens, common):
            following = tokens[end + 1][0] if end + 1 < len(tokens) else ""
            # a lone demonym before a noun ("an American explorer") describes, it does not name
            adjective = start == end and _DEMONYM.fullmatch(text) is not None and following[:1].islower()
            add(text, start, end, 0.1 if adjective else 0.5)
    return found


def _capitalised_spans(tokens: list[tuple[str, int]], common: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
    """Runs of capitalised words ("Ludwig van Beethoven"); a leading word that is capitalised
    only as a sentence opener is left out: an English function word ("The", "In", "While", from
    NLTK's English stop-word list as bm25s ships it) or, at the start of the sentence, a word the context also
    writes in lower case ("Historians" when "historians" occurs), the truecasing rule."""
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
        while words and (words[0].lower() in _function_words() or (start == 0 and words[0].lower() in common)):
            words.pop(0)
            start += 1
        if words and not (len(words) == 1 and _MONTH.fullmatch(words[0])):  # "December 1770" names no one
            text = " ".join(words)
            text = re.sub(r"['’]s$", "", text)
            spans.append((text, start, end))
        i = end + 1
    return spans


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # NLTK's English stop words, shipped with bm25s

    return frozenset(STOPWORDS_EN_PLUS)


def _lowercase_words(contexts: Sequence[str]) -> frozenset[str]:
    """Words the contexts write in lower case (within the reader's reading budget)."""
    text = " ".join(contexts)[:MAX_CONTEXT_CHARS]
    return frozenset(re.findall(r"(?<![\w'’-])[a-z][a-z'’-]*", text))


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


def _first_value(text: str, temporal: bool = False) -> float | None:
    """The first date (as a proleptic ordinal day) when `temporal`, else the first quantity; a
    quantity prefers numbers that are not years ("As of the 2010 census ... 77,434")."""
    if len(text.split()) > 60:
        return None
    if temporal:
        dates = parse_dates(text)
        return float(dates[0].toordinal()) if dates else None
    numbers = [m for m in _NUMBER.finditer(text)]
    if not numbers:
        return None
    in_dates = [span.span() for span in _DATE_SPAN.finditer(text)]
    quantities = [m for m in numbers if not any(a <= m.start() < b for a, b in in_dates)]
    chosen = (quantities or numbers)[0]
    return float(chosen.group(1).replace(",", ""))


def parse_dates(text: str) -> list[date]:
    """Dates written in the text, in order, parsed by python-dateutil: "(born October 8, 1970)"
    is 1970-10-08, "December 1770" is 1770-12-01, a bare year its 1 January."""
    from dateutil import parser

    found: list[date] = []
    for match in _DATE_SPAN.finditer(text):
        try:
            found.append(parser.parse(match.group(0), default=_DATE_DEFAULT).date())
        except (ValueError, OverflowError):
            continue
    return found


_DATE_DEFAULT = datetime(1, 1, 1)


def _without(text: str, option: str) -> str:
    return re.sub(re.escape(option), " ", text, flags=re.IGNORECASE)


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


def _relation_stems(question: str) -> set[str]:
    """The question's lower-case content words but the wh-target noun ("city" in "In which city
    was ...", what the answer is, not what it says): the relations a supporting sentence states."""
    words = re.findall(r"[A-Za-z0-9]+", question)
    target: str | None = None
    for position, word in enumerate(words):
        if word.lower() in ("which", "what") and position + 1 < len(words):
            following = [w for w in words[position + 1 :] if w[:1].islower()]
            target = following[0].lower() if following else None
            break
    return {_stem(w.lower()) for w in words
            if w[:1].islower() and w.lower() not in _STOPWORDS and w.lower() != target}


def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))
