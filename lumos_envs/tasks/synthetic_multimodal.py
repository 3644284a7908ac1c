"""Bundled multimodal task families (`synthetic:FAMILY`): rendered images, A-OKVQA- and
ScienceQA-style questions, gold LUMOS plans.

Item `i` of a family comes from `Random(f"{family}/{seed}/{i}/{attempt}")` (`base.item_rng`;
reasoning-gym style, and two seeds never share an item; `part=train|validation|test` keeps a
masked-question-disjoint part): an
image spec (`multimodal/scene.py`, stored in `metadata["image_spec"]` and rendered by the env),
a question whose answer needs perception plus a reasoning or knowledge step, 4 choices (2 for
yes/no) with `correct_choice_idx`, 10 `direct_answers` as A-OKVQA has, and a gold plan of
`VQA` / `QA` / `Calculator` actions. Gold answers are computed by running the question reader over
the true spec, so plan and answer agree by construction.

Training families: `scene_count` (counting, differences of counts), `scene_attribute` (colour
or shape of an object found through a knowledge fact), `scene_knowledge` (what a seen object is
used for or made of), `chart_value` (bar values, differences and sums). Held-out families ask
other question types: `scene_spatial` (spatial relations), `chart_extreme` (highest/lowest bar),
`science_magnet` (ScienceQA-style multiple choice with a hint: which object a magnet attracts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Literal

from lumos_envs.domains import Domain
from lumos_envs.multimodal.knowledge import KNOWLEDGE, fact
from lumos_envs.multimodal.questions import answer_question
from lumos_envs.multimodal.sampling import random_chart, random_scene
from lumos_envs.multimodal.scene import (
    CHART_LABELS, COLORS, ITEM_LABELS, MAX_BAR_VALUE, SHAPES, Chart, ImageSpec, Scene, SceneObject,
)
from lumos_envs.tasks.base import GeneratedTaskSource, GoldPlan, GoldSubgoal, Task

IMG = "[IMG]"
"""how gold plans name the image in VQA calls"""
NUM_DIRECT_ANSWERS = 10
MAX_DRAWS = 500


@dataclass(frozen=True)
class _Item:
    """A filled template before it becomes a Task."""

    spec: ImageSpec
    question: str
    answer: str
    choices: tuple[str, ...]
    subgoals: tuple[GoldSubgoal, ...]
    question_type: str
    hint: str = ""


@dataclass(frozen=True)
class MultimodalFamilyInfo:
    name: str
    split: Literal["train", "heldout"]
    description: str
    make: Callable[[random.Random], _Item | None]
    """fills the family's template; None when the draw misses a constraint (redrawn)"""


# -- helpers ----------------------------------------------------------------------------------


def _vqa(out: str, question: str) -> str:
    return f"{out} = VQA({IMG}, Question: {question})"


def _choices(rng: random.Random, answer: str, pool: list[str], count: int = 4) -> tuple[str, ...]:
    others = [p for p in dict.fromkeys(pool) if p != answer]
    picked = rng.sample(others, min(count - 1, len(others))) + [answer]
    rng.shuffle(picked)
    return tuple(picked)


def _number_pool(answer: int, low: int = 0, high: int = 12) -> list[str]:
    return [str(n) for n in range(max(low, answer - 4), min(high, answer + 4) + 1)]


def _ref(obj: SceneObject, scene: Scene) -> str | None:
    """A unique colour-shape description of an object, or None if another object shares it."""
    same = [o for o in scene.objects if o.color == obj.color and o.shape == obj.shape]
    return f"{obj.color} {obj.shape}" if len(same) == 1 else None


def _check(spec: ImageSpec, question: str, expected: str) -> None:
    got = answer_question(spec, question)
    if got != expected:  # a generator bug; never silently write a wrong gold answer
        raise AssertionError(f"gold mismatch for {question!r}: reader says {got!r}, generator {expected!r}")


# -- training families -------------------------------------------------------------------------


def _scene_count(rng: random.Random) -> _Item | None:
    scene = random_scene(rng, 3, 7)
    if rng.random() < 0.5:
        color = rng.choice(COLORS)
        q = f"How many {color} objects are there?"
        n = answer_question(scene, q)
        return _Item(scene, f"How many {color} objects are in the picture?", n,
                     _choices(rng, n, _number_pool(int(n))), (GoldSubgoal(f"Count the {color} objects in the image.", (_vqa("R1", q),)),),
                     "count")
    a, b = rng.sample(SHAPES, 2)
    qa, qb = f"How many {a}s are there?", f"How many {b}s are there?"
    na, nb = int(answer_question(scene, qa)), int(answer_question(scene, qb))
    if na <= nb:
        return None
    diff = str(na - nb)
    return _Item(scene, f"How many more {a}s than {b}s are in the picture?", diff, _choices(rng, diff, _number_pool(na - nb, 1)),
                 (GoldSubgoal(f"Count the {a}s in the image.", (_vqa("R1", qa),)),
                  GoldSubgoal(f"Count the {b}s in the image.", (_vqa("R2", qb),)),
                  GoldSubgoal(f"Calculate how many more {a}s there are than {b}s.", ("R3 = Calculator(R1 - R2)",))),
                 "count_difference")


def _scene_attribute(rng: random.Random) -> _Item | None:
    scene = random_scene(rng, 2, 6)
    target = rng.choice(scene.objects)
    use = KNOWLEDGE[target.label]["used_for"]
    attribute = rng.choice(("color", "shape"))
    answer = getattr(target, attribute)
    pool = list(COLORS if attribute == "color" else SHAPES)
    list_q = "What objects are shown?"
    labels = answer_question(scene, list_q)
    return _Item(scene, f"What {attribute} is the object that is used for {use}?", answer, _choices(rng, answer, pool),
                 (GoldSubgoal("Identify the objects in the image.", (_vqa("R1", list_q),)),
                  GoldSubgoal(f"Find which object is used for {use}.", (f"R2 = QA([R1], Question: Which object is used for {use}?)",)),
                  GoldSubgoal(f"Identify the {attribute} of that object.", (_vqa("R3", f"What {attribute} is the object labelled R2?"),))),
                 f"attribute_{attribute}") if labels else None


def _scene_knowledge(rng: random.Random) -> _Item | None:
    scene = random_scene(rng, 2, 6)
    target = rng.choice(scene.objects)
    ref = _ref(target, scene)
    if ref is None:
        return None
    relation = rng.choice(("used_for", "material"))
    answer = fact(target.label, relation)
    pool = [entry[relation] for entry in KNOWLEDGE.values()]
    asked = "used for" if relation == "used_for" else "made of"
    q = f"What is the label of the {ref}?"
    return _Item(scene, f"What is the {ref} in the picture {asked}?", answer, _choices(rng, answer, pool),
                 (GoldSubgoal(f"Identify what the {ref} is.", (_vqa("R1", q),)),
                  GoldSubgoal(f"Find out what that object is {asked}.", (f"R2 = QA([R1], Question: What is this object {asked}?)",))),
                 f"knowledge_{relation}")


def _chart_value(rng: random.Random) -> _Item | None:
    chart = random_chart(rng)
    bars = chart.present
    if rng.random() < 0.35:
        bar = rng.choice(bars)
        q = f"What is the value of {bar.label}?"
        return _Item(chart, f"According to the chart, how many {bar.label}s were counted?", str(bar.value),
                     _choices(rng, str(bar.value), [str(v) for v in range(1, MAX_BAR_VALUE + 1)]),
                     (GoldSubgoal(f"Read the value of {bar.label} from the chart.", (_vqa("R1", q),)),), "chart_value")
    a, b = rng.sample(bars, 2)
    if rng.random() < 0.5:
        if a.value == b.value:
            return None
        a, b = (a, b) if a.value > b.value else (b, a)
        question, op, result, kind = f"How many more {a.label}s than {b.label}s does the chart show?", "-", a.value - b.value, "chart_difference"
    else:
        question, op, result, kind = f"How many {a.label}s and {b.label}s are there in total according to the chart?", "+", a.value + b.value, "chart_sum"
    answer = str(result)
    return _Item(chart, question, answer, _choices(rng, answer, _number_pool(result, 0, 2 * MAX_BAR_VALUE)),
                 (GoldSubgoal(f"Read the value of {a.label} from the chart.", (_vqa("R1", f"What is the value of {a.label}?"),)),
                  GoldSubgoal(f"Read the value of {b.label} from the chart.", (_vqa("R2", f"What is the value of {b.label}?"),)),
                  GoldSubgoal("Calculate the answer from the two values.", (f"R3 = Calculator(R1 {op} R2)",))), kind)


# -- held-out families -------------------------------------------------------------------------


def _scene_spatial(rng: random.Random) -> _Item | None:
    scene = random_scene(rng, 2, 6)
    a, b = rng.sample(scene.objects, 2)
    ra, rb = _ref(a, scene), _ref(b, scene)
    if ra is None or rb is None:
        return None
    options = [(p, t) for p, t in (("to the left of", a.col < b.col), ("to the right of", a.col > b.col),
                                     ("above", a.row < b.row), ("below", a.row > b.row))
               if (p in ("above", "below") and a.row != b.row) or (p not in ("above", "below") and a.col != b.col)]
    if not options:
        return None
    phrase, holds = rng.choice(options)
    q = f"Is the {ra} {phrase} the {rb}?"
    answer = "yes" if holds else "no"
    return _Item(scene, q, answer, ("yes", "no"),
                 (GoldSubgoal(f"Check whether the {ra} is {phrase} the {rb}.", (_vqa("R1", q),)),), "spatial")


def _chart_extreme(rng: random.Random) -> _Item | None:
    chart = random_chart(rng, 3, distinct_values=True)
    word = rng.choice(("highest", "lowest"))
    q = f"Which fruit has the {word} value?"
    answer = answer_question(chart, q)
    return _Item(chart, f"Which fruit has the {word} count in the chart?", answer,
                 _choices(rng, answer, [b.label for b in chart.present] + list(CHART_LABELS)),
                 (GoldSubgoal(f"Find the fruit with the {word} value in the chart.", (_vqa("R1", q),)),), "chart_extreme")


def _science_magnet(rng: random.Random) -> _Item | None:
    scene = random_scene(rng, 2, 4)
    labels = [o.label for o in scene.objects]
    iron = [label for label in labels if fact(label, "magnetic") == "yes"]
    if len(iron) != 1:
        return None
    answer = iron[0]
    list_q = "What objects are shown?"
    return _Item(scene, "Which object in the picture would a magnet attract?", answer,
                 tuple(rng.sample(labels, len(labels))),
                 (GoldSubgoal("Identify the objects in the image.", (_vqa("R1", list_q),)),
                  GoldSubgoal("Find which of these objects a magnet attracts.", ("R2 = QA([R1], Question: Which of these objects is magnetic?)",))),
                 "science_magnet", hint="Magnets attract objects made of iron.")


FAMILIES: dict[str, MultimodalFamilyInfo] = {
    info.name: info for info in (
        MultimodalFamilyInfo("scene_count", "train", "count objects by colour, or the difference of two shape counts", _scene_count),
        MultimodalFamilyInfo("scene_attribute", "train", "colour or shape of the object a knowledge fact picks out", _scene_attribute),
        MultimodalFamilyInfo("scene_knowledge", "train", "what a seen object is used for or made of (knowledge table)", _scene_knowledge),
        MultimodalFamilyInfo("chart_value", "train", "bar-chart values, differences and sums", _chart_value),
        MultimodalFamilyInfo("scene_spatial", "heldout", "yes/no spatial relations between two objects", _scene_spatial),
        MultimodalFamilyInfo("chart_extreme", "heldout", "which bar of a chart is highest or lowest", _chart_extreme),
        MultimodalFamilyInfo("science_magnet", "heldout", "ScienceQA-style: which object a magnet attracts (with a hint)", _science_magnet),
    )
}


def format_question(question: str, choices: tuple[str, ...] | list[str], hint: str = "") -> str:
    """One line: `[Hint: ...] question Options: (A) x (B) y ...` (the text that fills `Task: {task}`)."""
    options = " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices))
    text = f"{question} Options: {options}" if choices else question
    return f"Hint: {hint} {text}" if hint else text


class SyntheticMultimodalSource(GeneratedTaskSource):
    """`size` tasks of one family; item i is rebuilt from `base.item_rng(family, seed, i, attempt)` on demand."""

    def __init__(self, family: str, size: int = 200, seed: int = 0, part: str = "all") -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown multimodal family {family!r}; known: {', '.join(FAMILIES)}")
        super().__init__(family, size, seed, f"{family}-", part)
        self.info = FAMILIES[family]

    def _draw(self, rng: random.Random, index: int) -> Task:
        for _ in range(MAX_DRAWS):
            item = self.info.make(rng)
            if item is not None:
                break
        else:
            raise RuntimeError(f"family {self.info.name} met no constraints in {MAX_DRAWS} draws")
        plan = GoldPlan(item.subgoals, answer=f"R{sum(len(s.actions) for s in item.subgoals)}")
        metadata: dict[str, Any] = {
            "image_spec": item.spec.to_dict(), "choices": list(item.choices),
            "correct_choice_idx": item.choices.index(item.answer), "direct_answers": [item.answer] * NUM_DIRECT_ANSWERS,
            "question_type": item.question_type, "family": self.info.name, "raw_question": item.question, "hint": item.hint,
        }
        return Task(id=f"{self.id_prefix}{index}", domain=Domain.MULTIMODAL, source=self.name,
                    split=self.info.split, question=format_question(item.question, item.choices, item.hint),
                    answer=item.answer, plan=plan, metadata=metadata)


def load_family(name: str, size: int = 200, seed: int = 0, part: str = "all") -> SyntheticMultimodalSource:
    """What `synthetic:NAME?size=&seed=&part=` builds for a multimodal family."""
    return SyntheticMultimodalSource(name, size=size, seed=seed, part=part)
