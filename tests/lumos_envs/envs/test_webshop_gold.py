"""WebShop gold plans an observer could write (lumos_envs/envs/webshop/gold.py, lumos_envs/webshop/observer.py)."""

from __future__ import annotations

import re

import pytest

from lumos_envs import gold_audit as audit
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task
from lumos_envs.tasks.registry import load_tasks
from lumos_envs.webshop.observer import (
    ShownItem, ShownResult, choose_options, fits, price_cap, product_text, rank_results, search_query,
)

FAMILIES = ("synthetic:shop_synthetic?size=15", "synthetic:shop_human?size=15", "synthetic:shop_heldout?size=10")


def test_instruction_reading():
    text = "Find me low carb frozen with dietary fiber with flavor name: lemon, and size: 12 ounce, and price lower than 50.00 dollars"
    assert price_cap(text) == 50.0 and price_cap("i need a red shirt") is None
    assert search_query(text) == "Find me low carb frozen with dietary fiber with flavor name: lemon, and size: 12 ounce"
    assert product_text(text) == "find me low carb frozen with dietary fiber"
    assert product_text("i need travel size bottles, color white and size 8 ounce") == "i need travel size bottles"


def test_options_are_read_as_whole_values():
    sizes = {"size": ("large", "x-large", "6", "6.5")}
    assert choose_options("a shirt with size: x-large", sizes) == {"size": "x-large"}
    assert choose_options("pumps, size 6.5 and color red", sizes) == {"size": "6.5"}
    assert choose_options("pumps, size 6", sizes) == {"size": "6"}
    # a group named with a value it lacks gets none, even if another of its values is in the text
    assert choose_options("candy & chocolate, flavor name lemon", {"flavor name": ("chocolate", "mint")}) == {}
    assert choose_options("candy & chocolate", {"flavor name": ("chocolate", "mint")}) == {"flavor name": "chocolate"}


def test_fit_and_ranking_use_only_what_pages_show():
    item = ShownItem("Acme Cotton Shirt", "$12.99", {"color": ("red", "blue"), "size": ("small",)})
    assert fits("a cotton shirt with color: red, and size: small", item)
    assert not fits("a cotton shirt with color: green", item)
    assert not fits("a cotton shirt with pattern name: plaid", item)
    assert not fits("a cotton shirt, and price lower than 10.00 dollars", item)
    assert not fits("a cotton shirt, style slim and color red", item)  # names a group the item lacks
    assert fits("a cotton shirt in travel size", ShownItem("Acme Cotton Shirt", "$1", {}))  # `travel size` is no option
    results = [ShownResult("B1", "Acme Wool Hat", "$5.00"), ShownResult("B2", "Acme Cotton Shirt", "$30.00"),
               ShownResult("B3", "Bolt Cotton Shirt Long Sleeve", "$9.00"), ShownResult("B4", "Bolt Cotton Shirt", "$9.00")]
    ranked = rank_results("i want a cotton shirt, and price lower than 20.00 dollars", results)
    assert [r.asin for r in ranked] == ["B4", "B3", "B1"]  # B2 is over the cap


@pytest.mark.parametrize("spec", FAMILIES)
def test_gold_plans_never_name_the_hidden_target(spec):
    tasks = load_tasks(spec)
    for index in range(len(tasks)):
        task = tasks[index]
        actions = [a for s in task.plan.subgoals for a in s.actions]
        search = re.fullmatch(r"R1 = Search\((.*)\)", actions[0]).group(1)
        words = set(re.findall(r"[a-z0-9]+", task.question.lower()))
        assert set(re.findall(r"[a-z0-9]+", search.lower())) <= words
        assert task.metadata["goal"]["name"] not in " ".join(actions)
    assert audit.audit_task_source(tasks) == []


def test_audit_catches_a_plan_that_searches_the_hidden_title():
    audit_gold_plan, replay_gold_plan = audit.audit_gold_plan, audit.replay_gold_plan
    task = load_tasks("synthetic:shop_synthetic?size=3")[1]
    goal = task.metadata["goal"]
    title = re.sub(r"[^A-Za-z0-9 &-]", " ", goal["name"])
    leaky = GoldPlan((
        GoldSubgoal("Search relevant items according to the instruction.", (f"R1 = Search({title})",)),
        GoldSubgoal("Select the item that fits the instruction.", (f"R2 = Click({goal['asin'].lower()})",)),
        GoldSubgoal("Buy this item.", ("R3 = Click(buy now)",)),
    ), answer="R3")
    leaky_task = Task(task.id, task.domain, task.source, task.split, task.question, task.answer, leaky, task.metadata)
    trace = replay_gold_plan(leaky_task, env=_env_over(leaky_task))
    leaks = audit_gold_plan(leaky_task, trace)
    assert any(leak.rule == "unobserved_literal" and leak.subgoal == 1 for leak in leaks), leaks
    # an id clicked before any page showed it is a leak too, whatever the search was
    blind = GoldPlan((GoldSubgoal("Select the target.", (f"R1 = Click({goal['asin'].lower()})",)),), answer="R1")
    blind_task = Task(task.id, task.domain, task.source, task.split, task.question, task.answer, blind, task.metadata)
    assert any(leak.rule == "unobserved_literal" for leak in audit_gold_plan(blind_task, observations=["x"]))
    # the shipped plan of the same task is clean
    assert audit_gold_plan(task, env=_env_over(task)) == []


def _env_over(task: Task):
    return audit.make_env_for(task.domain, [task])


def test_webshop_folder_goals_replay(tmp_path):
    from lumos_envs.webshop.catalog import get_catalog
    from lumos_envs.webshop.files import export_webshop_files
    from rollouts.replay import replay_gold

    export_webshop_files(get_catalog("generated?size=150&seed=4"), tmp_path)
    for kind in ("synthetic", "human"):
        result = replay_gold("lumos/WebShop-v0", f"webshop:{tmp_path}?split=test&goals={kind}", limit=25)
        assert result.episodes == 25 and result.success_rate >= 0.9, result.to_dict()


def test_observer_plans_stay_clean_on_goals_never_seen():
    # goals drawn fresh from WebShop's schema (a product, some of its attributes, one value per
    # option, a cap): any seed and index, not only the bundled families' first items
    from hypothesis import HealthCheck, given, settings, strategies as st

    from lumos_envs.tasks.webshop import GeneratedGoalSource

    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["shop_synthetic", "shop_human", "shop_heldout"]), st.integers(0, 10**6), st.integers(0, 10**6))
    def check(family, seed, index):
        source = GeneratedGoalSource(family, 10**6 + 1, seed)
        task = source[index]
        assert task.plan is not None
        env = _env_over(task)
        try:
            assert audit.audit_gold_plan(task, env=env) == []
        finally:
            env.close()

    check()
