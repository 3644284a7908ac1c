"""Generated families: seeds are independent draws, items rebuild alone, and parts share no question.

Item `i` of seed `s` once came from `Random(salt + s + i)`, so seed 1000's item 0 was seed 0's item
1000 and a "test seed" sat inside a training seed. These tests fail on that seeding, and check the
`part=train|validation|test` choice every family has: parts share no question with its numbers
masked, which is how a model sees it (`lumos_envs.tasks.question_keys`).
"""

from __future__ import annotations

import importlib

import pytest

from lumos_envs.multimodal.vqa_model import training_specs
from lumos_envs.tasks.base import PARTS, item_rng, part_of
from lumos_envs.tasks.question_keys import masked_key
from lumos_envs.tasks.registry import SYNTHETIC_MODULES, load_tasks
from lumos_envs.tasks.synthetic_math import MATH_FAMILIES, SyntheticMathConfig, chosen_templates

FAMILIES = [name for module in SYNTHETIC_MODULES.values() for name in importlib.import_module(module).FAMILIES]
UNFILLABLE = {("sql_aggregate", "test")}
"""parts a family's masked question space cannot fill: sql_aggregate has 6 masked questions, none in
the test buckets (its `n most expensive` and per-city questions mask to one question each)"""
NUM_ITEMS = 12


def _source(family: str, seed: int = 0, size: int = 2000, part: str = "all", **options: object):
    query = "&".join(f"{k}={v}" for k, v in {"size": size, "seed": seed, "part": part, **options}.items())
    return load_tasks(f"synthetic:{family}?{query}")


def test_item_streams_never_meet_across_seeds_and_indices() -> None:
    """With `Random(seed + i)` this grid holds 61 distinct streams, not 961."""
    firsts = {item_rng("rate_time", seed, index).random() for seed in range(31) for index in range(31)}
    assert len(firsts) == 31 * 31
    assert item_rng("rate_time", 0, 5, 1).random() != item_rng("rate_time", 0, 5, 0).random()
    assert item_rng("rate_time", 0, 5).random() != item_rng("sharing", 0, 5).random()


@pytest.mark.parametrize("family", FAMILIES)
def test_seed_1000_is_not_seed_0_shifted(family: str) -> None:
    """Seed 1000's first items are not seed 0's items 1000, 1001, ..., where sums put them. Families
    with few questions repeat some by chance (sql_aggregate has about ten, one of them a third of all
    draws: a position matches with chance 0.22), so this counts matching positions rather than asking
    for disjoint question sets, and allows up to three quarters of them."""
    seed_0, seed_1000 = _source(family, 0), _source(family, 1000)
    same = [i for i in range(NUM_ITEMS)
            if (seed_1000[i].question, seed_1000[i].answer) == (seed_0[1000 + i].question, seed_0[1000 + i].answer)]
    assert len(same) <= 3 * NUM_ITEMS // 4, f"{family}: seed 1000 repeats seed 0 at items {same}"


@pytest.mark.parametrize("family", FAMILIES)
def test_an_item_is_a_pure_function_of_seed_part_and_index(family: str) -> None:
    forward = _source(family, 7, size=6, part="validation")
    backward = _source(family, 7, size=6, part="validation")
    assert [forward[i] for i in range(6)] == [backward[i] for i in reversed(range(6))][::-1]
    assert _source(family, 7, size=6, part="validation")[4] == forward[4]  # rebuilt alone
    assert _source(family, 7, size=6)[4] == _source(family, 7, size=6)[4]


@pytest.mark.parametrize("family", FAMILIES)
def test_parts_share_no_masked_question_and_ids_name_the_part(family: str) -> None:
    keys: dict[str, set[str]] = {}
    ids: set[str] = set()
    for part in ("train", "validation", "test"):
        source = _source(family, 0, size=NUM_ITEMS, part=part)
        if (family, part) in UNFILLABLE:
            with pytest.raises(ValueError, match=f"synthetic:{family} cannot fill part '{part}'") as raised:
                source[0]
            assert "\n" not in str(raised.value)
            continue
        tasks = [source[i] for i in range(NUM_ITEMS)]
        assert {t.metadata["part"] for t in tasks} == {part} and {part_of(t.question) for t in tasks} == {part}
        assert all(f"-{part}_part-0-" in t.id for t in tasks)
        assert source.index_of(tasks[3].id) == 3
        keys[part] = {masked_key(t.question) for t in tasks}
        ids |= {t.id for t in tasks}
    assert len(ids) == NUM_ITEMS * len(keys)
    assert ids.isdisjoint(_source(family, 0, size=NUM_ITEMS)[i].id for i in range(NUM_ITEMS))
    parts = list(keys)
    assert all(keys[a].isdisjoint(keys[b]) for a in parts for b in parts if a < b)


def test_parts_and_template_halves_combine() -> None:
    info = MATH_FAMILIES["story_arithmetic"]
    held_out = {t.key for t in chosen_templates(info, "test")}
    source = _source("story_arithmetic", 0, size=20, part="validation", templates="test")
    tasks = [source[i] for i in range(20)]
    assert {t.metadata["template"] for t in tasks} <= held_out
    assert {part_of(t.question) for t in tasks} == {"validation"}
    prefixes = {_source("story_arithmetic", 0, size=1, part=p, templates=t).id_prefix
                for p in PARTS for t in ("all", "train", "test")}
    assert len(prefixes) == len(PARTS) * 3


def test_a_bad_part_is_a_one_line_error() -> None:
    for spec in ("synthetic:rate_time?part=dev", "synthetic:qa_train?part=heldout", "synthetic:sql_join?part="):
        with pytest.raises(ValueError, match="unknown part") as raised:
            load_tasks(spec)
        assert "\n" not in str(raised.value) and "train, validation, test, all" in str(raised.value)
    with pytest.raises(ValueError, match="unknown part 'dev' for synthetic:sharing"):
        SyntheticMathConfig(family="sharing", part="dev")


def test_the_vqa_models_images_are_their_own_stream() -> None:
    """Training images once came from `Random(10**6 + seed + i)` and held-out ones from
    `Random(2 * 10**6 + seed + i)`: seed 1's images were seed 0's shifted by one."""
    seed_0, seed_1 = training_specs(21, 0.35, 0), training_specs(20, 0.35, 1)
    assert sum(a == b for a, b in zip(seed_0[1:], seed_1)) <= 2
    holdout = training_specs(20, 0.35, 0, stream="holdout")
    assert sum(a == b for a, b in zip(seed_0, holdout)) <= 2
