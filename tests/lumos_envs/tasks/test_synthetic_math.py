"""Bundled maths generators: validation, determinism, item shape, plans that replay, held-out templates."""

from __future__ import annotations

import re

import pytest

from tests.lumos_envs.tasks.plan_runner import numeric_match, run_plan

from lumos_envs.domains import Domain
from lumos_envs.tasks.synthetic_math import (
    FAMILIES,
    MATH_FAMILIES,
    SyntheticMathConfig,
    build_item,
    load_family,
    load_synthetic_math,
)

GSM8K_LIKE = ("shopping_total", "rate_time", "percent_change", "sharing")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="size"):
        SyntheticMathConfig(family="sharing", size=0)
    with pytest.raises(ValueError, match="seed"):
        SyntheticMathConfig(family="sharing", seed=-1)
    with pytest.raises(ValueError, match="size"):
        SyntheticMathConfig(family="sharing", size="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shopping_total.*svamp_like|svamp_like.*shopping_total"):
        load_synthetic_math("no_such_family")


def test_families_and_splits() -> None:
    assert FAMILIES is MATH_FAMILIES and load_family is load_synthetic_math
    assert set(MATH_FAMILIES) == {"shopping_total", "rate_time", "percent_change", "sharing", "linear_equation",
                                  "counting", "svamp_like", "story_arithmetic"}
    assert {n for n, info in MATH_FAMILIES.items() if info.split == "heldout"} == {"svamp_like"}
    for name in GSM8K_LIKE:
        assert len(MATH_FAMILIES[name].templates) >= 3


def test_training_and_heldout_share_no_template() -> None:
    def sentences(text: str) -> set[str]:
        return {s.strip() for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()}

    train = [t for info in MATH_FAMILIES.values() if info.split == "train" for t in info.template_texts]
    heldout = [t for info in MATH_FAMILIES.values() if info.split == "heldout" for t in info.template_texts]
    assert train and heldout and not set(train) & set(heldout)
    train_sentences = set().union(*(sentences(t) for t in train))
    heldout_sentences = set().union(*(sentences(t) for t in heldout))
    assert not train_sentences & heldout_sentences


@pytest.mark.parametrize("family", sorted(MATH_FAMILIES))
def test_plans_replay_to_the_gold_answer(family: str) -> None:
    source = load_synthetic_math(family, size=50, seed=0)
    for i in range(len(source)):
        task = source[i]
        assert numeric_match(run_plan(task.plan), task.answer), (task.id, task.question, task.plan)


@pytest.mark.parametrize("family", sorted(MATH_FAMILIES))
def test_item_shape(family: str) -> None:
    source = load_synthetic_math(family, size=40, seed=3)
    tasks = [source[i] for i in range(len(source))]
    assert len({t.id for t in tasks}) == len(tasks)
    assert len({t.question for t in tasks}) > len(tasks) // 2
    for i, task in enumerate(tasks):
        assert task.id == f"synthetic-{family}-3-{i}"
        assert task.domain is Domain.MATH and task.source == f"synthetic:{family}"
        assert task.split == MATH_FAMILIES[family].split
        assert "{" not in task.question and "}" not in task.question
        assert re.fullmatch(r"-?\d+(\.\d{1,2})?", task.answer), task.answer
        names = [a.split(" = ", 1)[0] for s in task.plan.subgoals for a in s.actions]
        assert names == [f"R{k}" for k in range(1, len(names) + 1)] and task.plan.answer == names[-1]
        assert all(s.text.endswith(".") for s in task.plan.subgoals)
        if family in GSM8K_LIKE:
            assert 2 <= len(names) <= 5 and all(s.text.startswith("Calculate") for s in task.plan.subgoals)
    if family in GSM8K_LIKE:
        assert len({t.metadata["template"] for t in tasks}) >= 3


def test_determinism_and_seeds() -> None:
    for family in MATH_FAMILIES:
        first, again = load_synthetic_math(family, size=20, seed=5), load_synthetic_math(family, size=20, seed=5)
        assert [first[i] for i in reversed(range(20))] == [again[i] for i in reversed(range(20))]
        assert first[7] == build_item(family, 5, 7)
        other = load_synthetic_math(family, size=20, seed=6)
        assert [first[i].question for i in range(20)] != [other[i].question for i in range(20)]
    # families with the same seed draw different numbers
    assert load_synthetic_math("sharing")[0].question != load_synthetic_math("rate_time")[0].question


def test_source_indexing() -> None:
    source = load_synthetic_math("counting", size=10, seed=2)
    assert len(source) == 10 and source[-1] == source[9]
    assert source.index_of("synthetic-counting-2-4") == 4 and source[4].id == "synthetic-counting-2-4"
    for bad in ("synthetic-counting-3-4", "synthetic-counting-2-10", "synthetic-sharing-2-1", "nope"):
        with pytest.raises(KeyError):
            source.index_of(bad)
    with pytest.raises(IndexError):
        source[10]
    assert len(list(source)) == 10
