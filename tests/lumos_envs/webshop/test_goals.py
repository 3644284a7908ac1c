"""Goal task sources: generated families, WebShop's files, splits (lumos_envs/tasks/webshop.py)."""

from __future__ import annotations

from lumos_envs.tasks.registry import load_tasks
from lumos_envs.webshop.goals import PRICE_RANGE, is_heldout_type, split_of
from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.metrics_webshop import NO_PRICE_CAP

from .test_catalog import write_webshop_files


def test_generated_goals_are_deterministic_and_consistent():
    one, two = load_tasks("synthetic:shop_synthetic?size=50&seed=1"), load_tasks("synthetic:shop_synthetic?size=50&seed=1")
    assert [one[i] for i in range(50)] == [two[i] for i in range(50)]
    catalog = get_catalog(None)
    for i in range(50):
        task = one[i]
        goal = task.metadata["goal"]
        product = catalog[catalog.index_of(goal["asin"])]
        assert task.question.startswith("Find me ") and product.query in task.question
        assert set(goal["attributes"]) <= set(product.attributes)
        assert all(product.options[k] and v in product.options[k] for k, v in goal["options"].items())
        assert goal["price_upper"] == NO_PRICE_CAP or (goal["price_upper"] in PRICE_RANGE and goal["price_upper"] > product.price)
        assert ("price lower than" in task.question) == (goal["price_upper"] < NO_PRICE_CAP)
        assert task.plan is not None and not is_heldout_type(product.query)
        assert one.index_of(task.id) == i


def test_human_style_and_heldout_families():
    human = load_tasks("synthetic:shop_human?size=20")
    assert all(not human[i].question.startswith("Find me ") or human[i].question.startswith("find me") for i in range(20))
    heldout = load_tasks("synthetic:webshop_heldout?size=20")
    catalog = get_catalog(None)
    types = {catalog[catalog.index_of(heldout[i].answer)].query for i in range(len(heldout))}
    assert types and all(is_heldout_type(t) for t in types)
    assert {heldout[i].split for i in range(len(heldout))} == {"heldout"}


def test_webshop_index_splits():
    assert [split_of(i) for i in (0, 499, 500, 1499, 1500)] == ["test", "test", "dev", "dev", "train"]


def test_webshop_file_goals_human_and_synthetic(tmp_path):
    write_webshop_files(tmp_path)
    human = load_tasks(f"webshop:{tmp_path}?split=all&goals=human")
    assert len(human) == 6
    goal = human[0].metadata["goal"]
    assert goal["attributes"] == ["machine wash"] and set(goal["options"].values()) == {"red", "large"}
    synthetic = load_tasks(f"webshop:{tmp_path}?split=test&goals=synthetic")
    assert len(synthetic) == 6 * 4  # every option combination of every product, as WebShop
    assert all(" with color: " in synthetic[i].question for i in range(len(synthetic)))
