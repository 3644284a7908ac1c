"""Task specs: parsing, the loader table, synthetic families and aliases."""

from __future__ import annotations

import pytest

from lumos_envs.tasks.synthetic_math import MATH_FAMILIES
from lumos_envs.tasks.registry import (
    TASK_LOADERS,
    TaskLoaderEntry,
    load_tasks,
    parse_task_spec,
    register_task_loader,
    synthetic_families,
)


def test_spec_parsing():
    assert parse_task_spec("gsm8k:/data/test.jsonl") == ("gsm8k", "/data/test.jsonl", {})
    assert parse_task_spec("synthetic:sharing?size=5&seed=2") == ("synthetic", "sharing", {"size": "5", "seed": "2"})
    assert parse_task_spec("hf:openai/gsm8k?config=main&split=test") == ("hf", "openai/gsm8k", {"config": "main", "split": "test"})
    with pytest.raises(ValueError, match="unknown task loader 'nope'"):
        parse_task_spec("nope:x")
    with pytest.raises(ValueError, match="LOADER:PATH"):
        parse_task_spec("gsm8k")


def test_synthetic_specs_and_aliases():
    families = synthetic_families()
    assert {"math_train", "math_heldout"} <= set(families)
    train = load_tasks("synthetic:math_train?size=3")
    heldout = load_tasks("synthetic:math_heldout?size=3")
    assert {t.split for t in train} == {"train"} and {t.split for t in heldout} == {"heldout"}
    assert len(train) == 3 * sum(1 for info in MATH_FAMILIES.values() if info.split == "train")
    first = train[0]
    assert train.index_of(first.id) == 0
    with pytest.raises(ValueError, match="must be an integer"):
        load_tasks("synthetic:sharing?size=lots")
    with pytest.raises(ValueError, match="unknown synthetic family"):
        load_tasks("synthetic:nope")


def test_duplicate_loader_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_task_loader(TaskLoaderEntry("gsm8k", "x:y", "file", "math", "dup"))
    assert TASK_LOADERS["gsm8k"].target.endswith(":load_gsm8k")
