"""QA answer metrics: HotpotQA answer normalisation, exact match and F1, StrategyQA accuracy.

Normalisation, EM and F1 follow the official HotpotQA evaluation script (`hotpot_evaluate_v1.py`,
itself the SQuAD v1.1 script): lowercase, drop punctuation and the articles a/an/the, collapse
whitespace; F1 over whitespace tokens, and 0 when either side is `yes`, `no` or `noanswer` and
the two differ. StrategyQA answers are booleans; accuracy compares yes/no readings.

LUMOS's QA tool and Calculator write booleans as `True`/`False`, so before scoring a prediction
against a yes/no gold answer, `True`/`False` read as `yes`/`no` (`as_yes_no`). Nothing else is
rewritten, so scores on non-boolean answers equal the official script's.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
_YES_NO_NOANSWER = ("yes", "no", "noanswer")
_YES = {"yes", "true"}
_NO = {"no", "false"}


def normalize_answer(text: str) -> str:
    """HotpotQA's `normalize_answer`: lowercase, remove punctuation, articles and extra whitespace."""
    lowered = text.lower()
    without_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    without_articles = _ARTICLES.sub(" ", without_punctuation)
    return " ".join(without_articles.split())


def as_yes_no(text: str) -> str | None:
    """`yes`/`no` for a boolean answer (`yes`, `True`, `false.`, ...), else None."""
    word = normalize_answer(text)
    if word in _YES:
        return "yes"
    if word in _NO:
        return "no"
    return None


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised texts are equal (HotpotQA `exact_match_score`)."""
    prediction, gold = _boolean_view(prediction, gold)
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token F1 of the normalised texts with HotpotQA's yes/no/noanswer rule."""
    prediction, gold = _boolean_view(prediction, gold)
    predicted, expected = normalize_answer(prediction), normalize_answer(gold)
    if predicted in _YES_NO_NOANSWER and predicted != expected:
        return 0.0
    if expected in _YES_NO_NOANSWER and predicted != expected:
        return 0.0
    predicted_tokens, expected_tokens = predicted.split(), expected.split()
    common = Counter(predicted_tokens) & Counter(expected_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted_tokens)
    recall = overlap / len(expected_tokens)
    return 2 * precision * recall / (precision + recall)


def yes_no_accuracy(prediction: str, gold: str) -> float:
    """StrategyQA accuracy: 1.0 when both read as the same boolean (`True` = `yes`)."""
    expected = as_yes_no(gold)
    return float(expected is not None and as_yes_no(prediction) == expected)


def qa_answer_metrics(prediction: str, gold: str) -> dict[str, float]:
    """All QA scores for one answer: `em` (the reward), `f1`, and `accuracy` for yes/no gold answers
    (equal to `em` otherwise)."""
    em = exact_match(prediction, gold)
    accuracy = yes_no_accuracy(prediction, gold) if as_yes_no(gold) is not None else em
    return {"em": em, "f1": f1_score(prediction, gold), "accuracy": accuracy}


def _boolean_view(prediction: str, gold: str) -> tuple[str, str]:
    """Read `True`/`False` as `yes`/`no` when the gold answer is boolean."""
    gold_bool = as_yes_no(gold)
    if gold_bool is None:
        return prediction, gold
    predicted_bool = as_yes_no(prediction)
    return (predicted_bool or prediction), gold_bool
