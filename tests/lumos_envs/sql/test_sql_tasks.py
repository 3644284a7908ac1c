"""SQL task sources: the spider loader's schema handling and the bundled generator."""

from __future__ import annotations

import json

import pytest

from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.spider import load_spider
from lumos_envs.tasks.sql_tasks import sql_gold_plan, tables_used


def test_spider_loader_reads_the_schema(spider_spec):
    tasks = load_tasks(spider_spec)
    assert len(tasks) == 40 and len({t.id for t in tasks}) == 40
    for task in tasks:
        assert task.question and task.metadata["gold_sql"] and task.metadata["dump"].startswith("file:")
        steps = [a for s in task.plan.subgoals for a in s.actions]
        assert steps[0] == "R1 = SHOW TABLES" and steps[-1].endswith(task.metadata["gold_sql"])
        assert task.plan.answer == steps[-1].split(" = ")[0]


def test_spider_loader_errors_name_the_problem(tmp_path):
    (tmp_path / "tasks.json").write_text(json.dumps([{"db": "x", "query": "q"}]))
    (tmp_path / "d.sql").write_text("CREATE DATABASE x;")
    with pytest.raises(ValueError, match="item 0: field 'gold'"):
        load_spider(tmp_path / "tasks.json")
    (tmp_path / "d.sql").unlink()
    with pytest.raises(ValueError, match="no MySQL dump"):
        load_spider(tmp_path / "tasks.json")


def test_gold_plan_describes_the_tables_used():
    assert tables_used("SELECT * FROM Dogs AS T1 JOIN `owners` ON x = 'Sizes'", ["Dogs", "Owners", "Sizes"]) == ["Dogs", "Owners"]
    plan = sql_gold_plan("SELECT count(*) FROM Dogs", ["Dogs", "Owners"])
    assert [s.action_line() for s in plan.subgoals] == ["R1 = SHOW TABLES", "R2 = DESCRIBE Dogs", "R3 = SELECT count(*) FROM Dogs"]
    assert plan.answer == "R3"
    # a table named by a reserved word (Spider's orchestra.show) is described in backticks
    assert sql_gold_plan("SELECT avg(Attendance) FROM `show`", ["show"]).subgoals[1].actions == ("R2 = DESCRIBE `show`",)


def test_synthetic_sql_is_deterministic_and_split():
    first, again = load_tasks("synthetic:sql_train?size=10&seed=3"), load_tasks("synthetic:sql_train?size=10&seed=3")
    assert [first[i] for i in range(len(first))] == [again[i] for i in range(len(again))]
    assert {load_tasks("synthetic:sql_heldout?size=5")[i].split for i in range(5)} == {"heldout"}
