"""Answer a question about an image spec: the symbolic half of the VQA back-ends.

A question is read by keywords, as in neuro-symbolic VQA (Yi et al. 2018, NS-VQA): the kind of
question (`how many`, `what color`, `what shape`, `what size`, `label`, `where`, a spatial
relation, `which ... highest`, a bar's value, a list of objects) and the object it refers to
(colour, shape, size and label words, e.g. "the small red triangle", "the object labelled key").
The program runs over a spec: the true one for the `oracle` back-end, the one the learned scene
parser predicts from pixels for the `learned` back-end, so both read questions identically and
their gap measures perception alone. Unreadable questions and missing objects raise `ToolError`.
"""

from __future__ import annotations

import re
from typing import Callable

from lumos_envs.execution.errors import ToolError
from lumos_envs.multimodal.scene import (
    COLORS, LABELS, SHAPES, SIZES, Chart, ImageSpec, Scene, SceneObject, position_name,
)

_WORD = re.compile(r"[a-z]+")
_PLURALS = {f"{s}s": s for s in SHAPES} | {"circles": "circle", "squares": "square"}
_RELATIONS = (
    ("to the left of", lambda a, b: a.col < b.col), ("left of", lambda a, b: a.col < b.col),
    ("to the right of", lambda a, b: a.col > b.col), ("right of", lambda a, b: a.col > b.col),
    ("above", lambda a, b: a.row < b.row), ("below", lambda a, b: a.row > b.row),
)
_HIGH = ("highest", "most", "largest", "tallest", "biggest", "greatest")
_LOW = ("lowest", "least", "smallest", "shortest", "fewest")


def answer_question(spec: ImageSpec, question: str) -> str:
    """The answer text for `question` about `spec`.

    Raises:
        ToolError: the question is not one this reader understands, or names no visible object.
    """
    text = " ".join(_WORD.findall(question.lower()))
    if not text:
        raise ToolError("the question is empty; ask e.g. VQA(image, Question: How many red objects are there?)")
    if isinstance(spec, Chart):
        return _answer_chart(spec, text)
    return _answer_scene(spec, text)


# -- scenes ------------------------------------------------------------------------------------


def _answer_scene(scene: Scene, text: str) -> str:
    for phrase, holds in _RELATIONS:
        if f" {phrase} " in f" {text} ":
            left, _, right = text.partition(phrase)
            a, b = _one(scene, left), _one(scene, right)
            return "yes" if holds(a, b) else "no"
    if "how many" in text or text.startswith("count") or "number of" in text:
        return str(len(_matching(scene, text)))
    if "color" in text or "colour" in text:
        return _one(scene, text).color
    if "shape" in text:
        return _one(scene, text).shape
    if "size" in text or "big or small" in text or "small or large" in text or "large or small" in text:
        return _one(scene, text).size
    if "where" in text or "position" in text:
        return position_name(_one(scene, text))
    if any(w in text for w in ("what objects", "which objects", "what items", "which items", "list", "what labels")):
        objects = _matching(scene, text)
        if not objects:
            raise ToolError("no such objects are visible in the image")
        return ", ".join(o.label for o in _reading_order(objects))
    if any(w in text for w in ("label", "written", "name", "what is the", "what object")):
        return _one(scene, text).label
    raise ToolError(f"cannot read the question {text!r}; ask about a count, color, shape, size, label, position "
                    "or a relation such as 'Is the red circle left of the blue square?'")


def _filters(text: str) -> list[Callable[[SceneObject], bool]]:
    filters: list[Callable[[SceneObject], bool]] = []
    for w in text.split():
        if w in COLORS:
            filters.append(lambda o, w=w: o.color == w)
        elif w in SIZES:
            filters.append(lambda o, w=w: o.size == w)
        elif w in SHAPES or w in _PLURALS:
            shape = _PLURALS.get(w, w)
            filters.append(lambda o, s=shape: o.shape == s)
        elif w in LABELS:
            filters.append(lambda o, w=w: o.label == w)
    return filters


def _matching(scene: Scene, text: str) -> list[SceneObject]:
    filters = _filters(text)
    return [o for o in scene.objects if all(f(o) for f in filters)]


def _one(scene: Scene, text: str) -> SceneObject:
    found = _matching(scene, text)
    if not found:
        raise ToolError(f"no object in the image matches {text.strip()!r}")
    return _reading_order(found)[0]


def _reading_order(objects: list[SceneObject]) -> list[SceneObject]:
    return sorted(objects, key=lambda o: (o.row, o.col))


# -- charts ------------------------------------------------------------------------------------


def _answer_chart(chart: Chart, text: str) -> str:
    bars = chart.present
    if not bars:
        raise ToolError("the chart shows no bars")
    named = [b for b in bars if b.label in text.split()]
    if any(w in text.split() for w in _HIGH):
        return max(bars, key=lambda b: b.value).label
    if any(w in text.split() for w in _LOW):
        return min(bars, key=lambda b: b.value).label
    if "how many bars" in text or ("how many" in text and not named):
        return str(len(bars))
    if ("color" in text or "colour" in text) and named:
        return named[0].color
    if any(w in text for w in ("what categories", "which categories", "what labels", "list", "what fruits")):
        return ", ".join(b.label for b in bars)
    if named:
        return str(named[0].value)
    raise ToolError(f"cannot read the question {text!r} about this chart; ask for a bar's value "
                    "(What is the value of apple?) or which bar is highest or lowest")


def question_kind(question: str) -> str:
    """A coarse type of a VQA question (for per-type accuracy reports)."""
    text = " ".join(_WORD.findall(question.lower()))
    if any(f" {p} " in f" {text} " for p, _ in _RELATIONS):
        return "relation"
    if any(w in text.split() for w in _HIGH + _LOW):
        return "extreme"
    if "value of" in text:
        return "value"
    if "how many" in text:
        return "count"
    for kind in ("color", "shape", "label"):
        if kind in text:
            return kind
    if "what objects" in text:
        return "list"
    return "other"
