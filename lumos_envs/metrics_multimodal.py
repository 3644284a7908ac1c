"""Multimodal answer metrics: multiple-choice accuracy and A-OKVQA direct-answer soft accuracy.

Answers are compared after VQA-style normalisation (lower case, articles and punctuation
dropped, number words to digits), as the A-OKVQA evaluation does for direct answers. Soft accuracy
is `min(1, #annotators who gave the answer / 3)` over the 10 direct answers (A-OKVQA, Schwenk et
al. 2022, following VQA v2). A multiple-choice answer counts when it is the correct choice's text
or its letter (`B`, `(B)`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

_ARTICLES = {"a", "an", "the"}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_PUNCT = re.compile(r"[^\w\s]")
_LETTER = re.compile(r"^\(?([A-Za-z])\)?[.:]?$")


def normalize_answer(text: str) -> str:
    """Lower-case, strip punctuation and articles, map number words to digits."""
    words = _PUNCT.sub(" ", text.lower()).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words if w not in _ARTICLES)


def choice_index(answer: str, choices: Sequence[str]) -> int | None:
    """Which choice an answer picks: by normalised text, or by letter; None if neither."""
    normalized = normalize_answer(answer)
    for i, choice in enumerate(choices):
        if normalize_answer(choice) == normalized:
            return i
    letter = _LETTER.match(answer.strip())
    if letter is not None:
        index = ord(letter.group(1).upper()) - 65
        if 0 <= index < len(choices):
            return index
    return None


def mc_accuracy(answer: str, choices: Sequence[str], correct_choice_idx: int) -> float:
    """1.0 when the answer picks the correct choice, else 0.0."""
    return 1.0 if choice_index(answer, choices) == correct_choice_idx else 0.0


def direct_answer_soft_accuracy(answer: str, direct_answers: Sequence[str]) -> float:
    """A-OKVQA direct-answer accuracy: min(1, matching annotator answers / 3)."""
    normalized = normalize_answer(answer)
    matches = sum(normalize_answer(d) == normalized for d in direct_answers)
    return min(1.0, matches / 3.0)


def multimodal_metrics(answer: str, gold: str, metadata: Mapping[str, Any]) -> dict[str, float]:
    """`correct` (the reward) is MC accuracy when the task has choices, else direct-answer soft
    accuracy when it has direct answers, else normalised exact match with `gold`."""
    exact = 1.0 if normalize_answer(answer) == normalize_answer(gold) else 0.0
    metrics = {"exact_match": exact}
    choices = metadata.get("choices") or []
    if choices and metadata.get("correct_choice_idx") is not None:
        metrics["mc_accuracy"] = mc_accuracy(answer, choices, int(metadata["correct_choice_idx"]))
    direct = metadata.get("direct_answers") or []
    if direct:
        metrics["da_soft_accuracy"] = direct_answer_soft_accuracy(answer, direct)
    metrics["correct"] = metrics.get("mc_accuracy", metrics.get("da_soft_accuracy", exact))
    return metrics
