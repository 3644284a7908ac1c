"""SQL gold plans against the observer rule (`lumos_envs.gold_audit`), on Spider and the bundled families.

A SQL gold plan is SHOW TABLES -> DESCRIBE the tables it uses -> the gold query -> Answer(Rk).
Two checks over the replayed episodes:

- the shared audit: the answer is a variable the plan computed, and every value the query
  writes (quoted strings, numbers) appears in the question or an earlier observation;
- the names: every table and column the gold query names was shown by SHOW TABLES or DESCRIBE
  before the query ran (aliases the query defines itself are the writer's own).

On Spider some values exist only in the database (`country = 'France'` for "French singers",
`pettype = 'cat'` for "cats"): an observer would have to look them up first. They are listed
here, not hidden: `SPIDER_DATABASE_ONLY_VALUES`.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from lumos_envs.gold_audit import ReplayTrace, audit_gold_plan, make_env_for, replay_gold_plan
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task
from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.synthetic_sql import FAMILIES

FAMILY_ITEMS = 15
"""first items audited per bundled family"""

SPIDER_DATABASE_ONLY_VALUES = {
    (8, "France"),  # "French singers": the value is only in the database
}
# Observer-writable since the audit matches plurals to their singular and ignores LIKE wildcards:
# item 4 '%computer%' ("has the word computer"), item 13 'cat'/'dog' ("cats and dogs").
"""(item's position in the fixture file, value) of the Spider fixture's gold values that are in neither the question nor an
earlier observation, measured: 4 values in 3 of the 40 tasks"""

_QUOTED_IN_ROWS = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _replayed(spec: str) -> list[tuple[Task, ReplayTrace]]:
    tasks = load_tasks(spec)
    env = make_env_for("sql", tasks)
    try:
        return [(tasks[i], replay_gold_plan(tasks[i], env)) for i in range(len(tasks))]
    finally:
        env.close()


@pytest.fixture(scope="module")
def spider_episodes(spider_spec):
    return _replayed(spider_spec)


@pytest.fixture(scope="module")
def family_episodes():
    return {name: _replayed(f"synthetic:{name}?size={FAMILY_ITEMS}") for name in FAMILIES}


def query_names(sql: str) -> tuple[set[str], set[str]]:
    """(tables, columns) a query names, lower-cased, without the CTEs and aliases it defines."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="mysql")
    own = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    tables = {t.name.lower() for t in tree.find_all(exp.Table)} - own
    columns = {c.name.lower() for c in tree.find_all(exp.Column) if not isinstance(c.this, exp.Star)} - aliases
    return tables, columns


def unobserved_names(task: Task, trace: ReplayTrace) -> set[str]:
    """Names the gold query uses that no observation before it showed."""
    assert task.plan is not None
    query_step = next(k for k, s in enumerate(task.plan.subgoals) if any(task.metadata["gold_sql"] in a for a in s.actions))
    shown = {name.lower() for text in trace.observations[:query_step] for name in _QUOTED_IN_ROWS.findall(text)}
    tables, columns = query_names(task.metadata["gold_sql"])
    return (tables | columns) - shown


def test_bundled_sql_families_pass_the_observer_rule(family_episodes):
    for name, episodes in family_episodes.items():
        assert len(episodes) == FAMILY_ITEMS
        for task, trace in episodes:
            assert not any(trace.errors), (task.id, trace.errors)
            assert audit_gold_plan(task, trace) == [], task.id
            assert unobserved_names(task, trace) == set(), task.id


def test_spider_gold_plans_pass_but_for_values_only_the_database_holds(spider_episodes):
    assert len(spider_episodes) == 40
    leaks = [leak for task, trace in spider_episodes for leak in audit_gold_plan(task, trace)]
    assert {leak.rule for leak in leaks} <= {"unobserved_literal"}, [str(l) for l in leaks]
    position = {task.id: task.metadata["index"] for task, _ in spider_episodes}  # ids are content digests
    assert {(position[leak.task_id], leak.literal) for leak in leaks} == SPIDER_DATABASE_ONLY_VALUES
    for task, trace in spider_episodes:
        assert not any(trace.errors), (task.id, trace.errors)
        assert task.plan is not None and task.plan.answer == task.plan.subgoals[-1].actions[-1].split(" = ")[0]
        assert unobserved_names(task, trace) == set(), task.id


def test_the_name_check_and_the_audit_catch_leaky_sql_plans():
    gold = "SELECT price FROM products WHERE name = 'kettle'"
    task = Task(id="t", domain="sql", source="test", split="test", question="What does the kettle cost?", answer=gold,
                plan=GoldPlan((GoldSubgoal("Show the tables.", ("R1 = SHOW TABLES",)),
                               GoldSubgoal("Run the query.", (f"R2 = {gold}",))), answer="R2"),
                metadata={"db": "lumos_shop", "dump": "synthetic:lumos_shop", "gold_sql": gold})
    shown = ReplayTrace(task.question, ("R1 = [('customers',), ('orders',), ('products',)] (3 rows)", "R2 = [(33.65,)] (1 row)"))
    assert unobserved_names(task, shown) == {"price", "name"}  # no DESCRIBE: the columns were never shown
    hidden_value = dataclasses.replace(task, question="What does the cheapest kitchen item cost?")
    hidden_trace = dataclasses.replace(shown, task_text=hidden_value.question)
    assert [(l.rule, l.literal) for l in audit_gold_plan(hidden_value, hidden_trace)] == [("unobserved_literal", "kettle")]
    typed_answer = dataclasses.replace(task, plan=GoldPlan(task.plan.subgoals, answer="33.65"))
    assert [l.rule for l in audit_gold_plan(typed_answer, shown)] == ["literal_answer"]
    assert query_names("WITH c AS (SELECT id AS k FROM t) SELECT k, T1.x FROM c JOIN u AS T1") == ({"t", "u"}, {"id", "x"})
