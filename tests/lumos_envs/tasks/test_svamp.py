"""SVAMP loader: schema, failures with file/item/field, and equation plans replayed with the real Calculator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.lumos_envs.tasks.plan_runner import numeric_match, run_plan

from lumos_envs.domains import Domain
from lumos_envs.tasks.svamp import join_question, load_svamp, svamp_plan


@pytest.fixture(scope="module")
def sample_path(fixtures_dir: Path) -> Path:
    return fixtures_dir / "svamp" / "sample.json"


def test_fixture_items_follow_the_task_schema(sample_path: Path) -> None:
    records = json.loads(sample_path.read_text())
    tasks = load_svamp(sample_path)
    assert len(tasks) == len(records) > 0
    assert len({t.id for t in tasks}) == len(tasks)
    for task, record in zip(tasks, records):
        assert task.id == f"svamp-{record['ID']}"
        assert task.domain is Domain.MATH and task.source == "svamp" and task.split == "sample"  # the name names no split: its stem
        assert record["Question"].strip()[1:] in task.question and record["Body"].strip()[:-1] in task.question
        assert "  " not in task.question and task.question.endswith("?")
        assert not task.answer.endswith(".0") and float(task.answer) == pytest.approx(record["Answer"])
        assert task.metadata["Type"] == record["Type"] and task.metadata["Equation"] == record["Equation"]


def test_all_plans_replay_to_the_gold_answer(sample_path: Path) -> None:
    tasks = load_svamp(sample_path)
    ok = [t.plan is not None and numeric_match(run_plan(t.plan), t.answer) for t in tasks]
    print(f"SVAMP fixture replay success: {sum(ok)}/{len(ok)}")
    assert sum(ok) / len(ok) >= 0.99, [t.id for t, good in zip(tasks, ok) if not good]


def test_equation_is_split_innermost_first() -> None:
    plan = svamp_plan("( ( 8.0 + 10.0 ) - 7.0 )")
    assert [s.actions for s in plan.subgoals] == [("R1 = Calculator(8 + 10)",), ("R2 = Calculator(R1 - 7)",)]
    assert [s.text for s in plan.subgoals] == ["Calculate the sum of 8 and 10.", "Calculate the difference between R1 and 7."]
    assert plan.answer == "R2"
    plan = svamp_plan("( ( 4502.0 + 4276.0 ) / ( 2.5 * 2.0 ) )")
    assert [a for s in plan.subgoals for a in s.actions] == [
        "R1 = Calculator(4502 + 4276)", "R2 = Calculator(2.5 * 2)", "R3 = Calculator(R1 / R2)"]
    assert numeric_match(run_plan(plan), str((4502 + 4276) / 5))


def test_body_and_question_are_joined_as_text() -> None:
    assert join_question("He has 3 pens. If he buys 2 more", "How many pens does he have?") == \
        "He has 3 pens. If he buys 2 more, how many pens does he have?"
    assert join_question("He has 3 pens.", "How many?") == "He has 3 pens. How many?"
    assert join_question("Jason has 44 dollars", "Jason spent 4. How much is left?") == \
        "Jason has 44 dollars. Jason spent 4. How much is left?"


def _write(path: Path, records) -> Path:
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


def test_small_file_in_the_same_schema(tmp_path: Path) -> None:
    record = {"ID": 7, "Body": "A box has 12 eggs", "Question": "How many eggs are in 3 boxes?",
              "Equation": "( 12.0 * 3.0 )", "Answer": 36.0, "Type": "Multiplication"}
    wrong = {**record, "ID": "w-1", "Answer": 35.0}
    broken = {**record, "ID": "b-1", "Equation": "( 12.0 * x )"}
    tasks = load_svamp(_write(tmp_path / "mini.json", [record, wrong, broken]), split="dev")
    assert [t.id for t in tasks] == ["svamp-7", "svamp-w-1", "svamp-b-1"]
    assert tasks[0].answer == "36" and tasks[0].split == "dev" and numeric_match(run_plan(tasks[0].plan), "36")
    assert tasks[1].plan is None and tasks[1].metadata["plan_error"] == "equation_mismatch"
    assert tasks[2].plan is None and tasks[2].metadata["plan_error"] == "unparsable_expression"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"Body": None}, "'Body'"),
        ({"Answer": "eleven"}, "'Answer'"),
        ({"Question": ""}, "'Question'"),
        ({"ID": None}, "'ID'"),
    ],
)
def test_malformed_records_name_file_item_and_field(tmp_path: Path, change: dict, needle: str) -> None:
    good = {"ID": "a", "Body": "B", "Question": "Q?", "Equation": "( 1.0 + 1.0 )", "Answer": 2.0, "Type": "Addition"}
    path = _write(tmp_path / "bad.json", [good, {**good, "ID": "b", **change}])
    with pytest.raises(ValueError) as info:
        load_svamp(path)
    message = str(info.value)
    assert str(path) in message and "item 1" in message and needle in message


def test_missing_field_and_bad_files(tmp_path: Path) -> None:
    path = _write(tmp_path / "missing.json", [{"ID": "a", "Body": "B", "Question": "Q?", "Answer": 2.0}])
    with pytest.raises(ValueError, match=r"item 0.*'Equation'"):
        load_svamp(path)
    with pytest.raises(ValueError, match="JSON list"):
        load_svamp(_write(tmp_path / "dict.json", {"ID": "a"}))
    bad = tmp_path / "broken.json"
    bad.write_text('[\n {"ID": "a",\n')
    with pytest.raises(ValueError, match=rf"{re.escape(str(bad))}:\d+: invalid JSON"):
        load_svamp(bad)
