"""GSM8K loader: schema, failures with file/line/field, and gold plans replayed with the real Calculator."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from tests.lumos_envs.tasks.plan_runner import numeric_match, replays, run_plan

from lumos_envs.actions import parse_actions
from lumos_envs.domains import Domain
from lumos_envs.tasks.gsm8k import PLAN_ERRORS, gsm8k_plan, gsm8k_plan_stats, load_gsm8k, subgoal_text


@pytest.fixture(scope="module")
def fixture_tasks(fixtures_dir: Path):
    return load_gsm8k(fixtures_dir / "gsm8k" / "test_sample.jsonl")


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


# -- schema --------------------------------------------------------------------------------------


def test_fixture_items_follow_the_task_schema(fixtures_dir: Path, fixture_tasks) -> None:
    lines = [line for line in (fixtures_dir / "gsm8k" / "test_sample.jsonl").read_text().splitlines() if line.strip()]
    assert len(fixture_tasks) == len(lines) > 0
    ids = [t.id for t in fixture_tasks]
    assert len(set(ids)) == len(ids)
    for task in fixture_tasks:
        assert re.fullmatch(r"gsm8k-test-[0-9a-f]{12}", task.id)  # split from the file name, digest of the row
        assert task.domain is Domain.MATH and task.source == "gsm8k" and task.split == "test"
        assert task.question and "####" not in task.question
        assert re.fullmatch(r"-?\d+(\.\d+)?", task.answer), task.answer
        assert "####" not in task.metadata["rationale"] and task.metadata["rationale"]


def test_every_fixture_item_has_a_plan_or_a_cause(fixture_tasks) -> None:
    stats = gsm8k_plan_stats(fixture_tasks)
    print("GSM8K fixture plan stats:", stats)
    for task in fixture_tasks:
        if task.plan is None:
            assert task.metadata["plan_error"] in PLAN_ERRORS
        else:
            assert "plan_error" not in task.metadata
    assert stats["total"] == len(fixture_tasks)
    assert stats["convertible"] + sum(stats[c] for c in PLAN_ERRORS) == stats["total"]


def test_fixture_plans_replay_to_the_gold_answer(fixture_tasks) -> None:
    results = {task.id: replays(task) for task in fixture_tasks}
    failures = [task_id for task_id, ok in results.items() if not ok]
    rate = sum(results.values()) / len(results)
    print(f"GSM8K fixture replay success: {rate:.1%}; failures: {failures}")
    assert rate >= 0.95, failures


def test_plan_shape_follows_lumos(fixture_tasks) -> None:
    for task in fixture_tasks:
        if task.plan is None:
            continue
        names = [a.split(" = ", 1)[0] for s in task.plan.subgoals for a in s.actions]
        assert names == [f"R{i}" for i in range(1, len(names) + 1)]
        assert task.plan.answer == names[-1]
        for subgoal in task.plan.subgoals:
            assert subgoal.text.endswith(".") and ";" not in subgoal.text
            for action in subgoal.actions:
                (parsed,) = parse_actions(action)
                assert parsed.tool == "Calculator", action
                formula = parsed.arg_text
                # the answer is computed, never a copied constant
                assert re.search(r"[-+*/^]|\w\(", formula), action


def test_plans_reference_earlier_results() -> None:
    question = "Ann has 12 apples. She buys 3 bags with 4 apples each. How many apples does she have?"
    rationale = "The bags hold 3*4=<<3*4=12>>12 apples.\nShe has 12+12=<<12+12=24>>24 apples."
    plan, error = gsm8k_plan(question, rationale, "24")
    assert error is None
    actions = [a for s in plan.subgoals for a in s.actions]
    # 12 is in the question, so both stay literal: numbers from the question are never references
    assert actions == ["R1 = Calculator(3 * 4)", "R2 = Calculator(12 + 12)"]
    plan, _ = gsm8k_plan("Bo has 5 boxes of 7 pens and gives away 9.", "He has 5*7=<<5*7=35>>35 pens.\n"
                         "He keeps 35-9=<<35-9=26>>26 pens.", "26")
    assert [a for s in plan.subgoals for a in s.actions][-1] == "R2 = Calculator(R1 - 9)"


# -- unmarked arithmetic and the general rescue rules --------------------------------------------


@pytest.mark.parametrize(
    ("line", "formula"),
    [
        ("there were 160-60 = 100 girls", "R2 = Calculator(R1 - 60)"),
        ("You save $4 + $2 = $6 in all.", "R2 = Calculator(R1 + 2)"),
        ("there were 160 total cars – 60 cars that left in the final 15 minutes = 100 cars", "R2 = Calculator(R1 - 60)"),
        ("he has 160 x 2 = 320 marbles", "R2 = Calculator(R1 * 2)"),
        ("the price is 3 * (160 + 2) = 486 dollars", "R2 = Calculator(3 * (R1 + 2))"),
    ],
)
def test_unmarked_arithmetic_becomes_an_action(line: str, formula: str) -> None:
    question = "A question with the numbers 2, 3, 60, 80 and 9."
    first = "First, 80*2=<<80*2=160>>160." if "$4" not in line else "First, 2*2=<<2*2=4>>4."
    answer = line.split("=")[-1].split()[0].strip("$")
    plan, error = gsm8k_plan(question, f"{first}\n{line}", answer)
    assert error is None, error
    actions = [a for s in plan.subgoals for a in s.actions]
    assert actions[-1] == formula
    assert numeric_match(run_plan(plan), answer)


def test_rounding_rule_adds_ceil() -> None:
    plan, error = gsm8k_plan("27 students need 2 sticks; packs hold 8.", "They need 27*2=<<27*2=54>>54 sticks.\n"
                             "That is 54/8=<<54/8=6.75>>6.75 packs, so round up to 7 whole packs.", "7")
    assert error is None
    assert plan.subgoals[-1].actions == ("R3 = Calculator(ceil(R2))",)
    assert numeric_match(run_plan(plan), "7")


def test_unit_conversion_rule_uses_standard_factors() -> None:
    plan, error = gsm8k_plan("They drank 30 quarts and 18 quarts. How many gallons?",
                             "In all 30+18=<<30+18=48>>48 quarts.\n48 quarts = 12 gallons", "12")
    assert error is None
    assert plan.subgoals[-1].actions == ("R2 = Calculator(R1 / 4)",)
    plan, error = gsm8k_plan("It takes 50 minutes and 40 minutes. How many hours?",
                             "Total 50+40=<<50+40=90>>90 minutes, which is 1.5 hours", "1.5")
    assert error is None and numeric_match(run_plan(plan), "1.5")


def test_percentage_rule() -> None:
    plan, error = gsm8k_plan("12 of 20 students chose hip-hop. What percentage?",
                             "This is 12/20 x 100% = 60% of the students.", "60")
    assert error is None and numeric_match(run_plan(plan), "60")


@pytest.mark.parametrize(
    ("rationale", "answer", "cause"),
    [
        ("Let x be the price. Then .75X = $19.50, so X = $26.", "26", "no_arithmetic"),
        ("He has 2*3=<<2*3=7>>7 apples.", "7", "mark_mismatch"),
        ("He has <<2*y=6>>6 apples.", "6", "unparsable_expression"),
        ("He has 2*3=<<2*3=6>>6 apples and then some more, 10 in all.", "10", "final_answer_not_computed"),
    ],
)
def test_unconvertible_items_name_their_cause(rationale: str, answer: str, cause: str) -> None:
    plan, error = gsm8k_plan("A question with 2 and 3.", rationale, answer)
    assert plan is None and error == cause


def test_subgoal_text_rewrites_common_sentence_shapes() -> None:
    assert subgoal_text("The number of days left in the year is 365 - 180 = 185") == \
        "Calculate the number of days left in the year."
    assert subgoal_text("First find the length of each piece of fabric: 6 feet + 2 feet = 8 feet") == \
        "Find the length of each piece of fabric."
    # LUMOS subgoals say what is computed, never the result
    assert subgoal_text("Kael brought 5 x 2 = 10 apples.") == "Calculate: Kael brought 5 x 2 apples."


def test_subgoal_text_turns_computed_numbers_into_variables() -> None:
    plan, error = gsm8k_plan(
        "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes with four. She sells the rest "
        "for $2 per egg. How much does she make every day?",
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.",
        "18",
    )
    assert error is None and plan is not None
    assert [s.text for s in plan.subgoals] == [
        "Calculate: Janet sells 16 - 3 - 4 duck eggs a day.",
        "Calculate: She makes R1 * 2 every day.",
    ]
    assert plan.subgoals[1].actions == ("R2 = Calculator(R1 * 2)",)


# -- files in the GSM8K schema -------------------------------------------------------------------


def test_small_file_in_the_same_schema(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "mini.jsonl", [
        {"question": "Tom has 1,000 coins and spends 250. How many are left?",
         "answer": "He has 1,000-250=<<1000-250=750>>750 left.\n#### 750"},
        "",
        {"id": "custom-7", "question": "A cake costs $12 and a pie $8. Total?",
         "answer": "Together 12+8=$<<12+8=20>>20\n#### $20"},
        {"question": "Nine people share 1,800 dollars equally. How much each?",
         "answer": "Each gets 1800/9=<<1800/9=200>>200 dollars\n#### 200"},
    ])
    tasks = load_gsm8k(path, split="train")
    assert tasks[1].id == "custom-7" and all(re.fullmatch(r"gsm8k-train-[0-9a-f]{12}", tasks[i].id) for i in (0, 2))
    assert [t.answer for t in tasks] == ["750", "20", "200"]
    assert all(t.split == "train" and replays(t) for t in tasks)
    assert tasks.index_of("custom-7") == 1
    assert gsm8k_plan_stats(tasks)["convertible"] == 3


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"answer": "1+1=<<1+1=2>>2\n#### 2"}), "'question'"),
        (json.dumps({"question": "q?"}), "'answer'"),
        (json.dumps({"question": "q?", "answer": "no final line"}), "'answer'"),
        (json.dumps({"question": "q?", "answer": "x\n#### two"}), "'answer'"),
        (json.dumps({"question": 5, "answer": "x\n#### 2"}), "'question'"),
        (json.dumps([1, 2]), "JSON object"),
    ],
)
def test_malformed_lines_name_file_line_and_field(tmp_path: Path, line: str, needle: str) -> None:
    good = json.dumps({"question": "q?", "answer": "1+1=<<1+1=2>>2\n#### 2"})
    path = _write_jsonl(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(ValueError) as info:
        load_gsm8k(path)
    message = str(info.value)
    assert f"{path}:2" in message and needle in message


# -- numbers worked out in the head: computed the way the rationale writes them ------------------


def _actions(plan) -> list[str]:
    return [a for s in plan.subgoals for a in s.actions]


def test_an_implicit_product_in_the_text_is_an_action() -> None:
    # `64(2)=128` has no operator sign and no mark; 128 was typed in the next line's mark
    plan, error = gsm8k_plan("Ravi read 64 pages on Monday and twice as many on Tuesday. How many pages did he read?",
                             "Monday: 64 pages\nTuesday: 64(2)=128\nIn all 64+128=<<64+128=192>>192 pages", "192")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(64 * (2))", "R2 = Calculator(64 + R1)"]
    assert numeric_match(run_plan(plan), "192")


def test_a_mark_that_restates_a_value_leaves_the_text_arithmetic() -> None:
    # `<<360=360>>` computes nothing; the sentence's own `12 x 30` is the operation
    plan, error = gsm8k_plan("A shelf holds 12 boxes of 30 nails. A carpenter uses 4 nails per chair. How many chairs?",
                             "The shelf has 360 nails because 12 x 30 = <<360=360>>360\n"
                             "That makes 360 / 4 = <<360/4=90>>90 chairs", "90")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(12 * 30)", "R2 = Calculator(R1 / 4)"]


def test_a_zero_term_is_left_out() -> None:
    # no 0 in the task: `+ 0` is not something an observer types, and it changes nothing
    plan, error = gsm8k_plan("A hiker walks 7 km, then 9 km, then rests. The route is 25 km. How far is left?",
                             "She has walked 7 + 9 + 0 = <<7+9+0=16>>16 km.\nShe has 25 - 16 = <<25-16=9>>9 km left.", "9")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(7 + 9)", "R2 = Calculator(25 - R1)"]


def test_a_solved_equation_becomes_its_steps() -> None:
    # `b=<<8=8>>8` was solved in the head: like terms (b + 3b -> 1 + 3), the constant moved
    # (3b + 6 = 38 -> 38 - 6) and the coefficient divided out (4b = 32 -> 32 / 4)
    question = "Ada has 6 more stickers than 3 times as many as Ben. Together they have 38 stickers. How many does Ada have?"
    rationale = ("Let b be the number of stickers Ben has.\nAda has 3b+6 stickers.\nb+3b+6=38\n4b=32\n"
                 "b=<<8=8>>8\nAda has 3*8+6=<<3*8+6=30>>30 stickers.")
    plan, error = gsm8k_plan(question, rationale, "30")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(38 - 6)", "R2 = Calculator(1 + 3)", "R3 = Calculator(R1 / R2)",
                              "R4 = Calculator(3 * R3 + 6)"]
    assert numeric_match(run_plan(plan), "30")


def test_a_quantity_restated_in_another_unit_is_converted() -> None:
    # `0.5 hours` is the task's 30 minutes (both units are named, so 60 is known), not `3 - 2.5`,
    # which also gives 0.5
    plan, error = gsm8k_plan("Lena cycles 3 days a week, each ride with 2.5 miles of hills. Today she rides at "
                             "18 miles per hour for 30 minutes. How far does she go today?",
                             "She cycles 18 * 0.5 = <<18*0.5=9>>9 miles in 0.5 hours.", "9")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(30 / 60)", "R2 = Calculator(18 * R1)"]


def test_a_number_the_rationale_never_works_out_is_not_guessed() -> None:
    # 2 tires per bike is world knowledge; `1.5 + 0.5` gives 2 for the wrong reason, so the plan is dropped
    plan, error = gsm8k_plan("Tom rents 3 bikes. A tire costs $1.5 and a valve $0.5. How much do the tires cost?",
                             "Each bike has 2 tires, so he needs 3*2=<<3*2=6>>6 tires.\nThey cost 6*1.5=$<<6*1.5=9>>9.", "9")
    assert plan is None and error == "observer_leak"


def test_exact_values_agree_with_the_calculator(fixture_tasks) -> None:
    # the converter and its audit work out plain formulas with Fractions instead of mathexpr
    from lumos_envs.tasks.math_plans import exact_value, to_fraction
    from lumos_envs.tools.mathexpr import evaluate_number

    formulas = ["2 * (3 + 4)", "-3 - -2", "(3/2) * 4 - 0.25", "10 / 4 / 5", "7 - (2 - (1 / 3))", "1.05 * 100"]
    formulas += [a.split("Calculator(", 1)[1][:-1] for t in fixture_tasks if t.plan for a in _actions(t.plan)
                 if "R" not in a.split("Calculator(", 1)[1]]
    for formula in formulas:
        assert exact_value(formula) == to_fraction(evaluate_number(formula)), formula
    assert exact_value("5 / 0") is None and exact_value("2 ^ 10") == 1024 and exact_value("50%") == Fraction(1, 2)


def test_the_rest_or_the_raised_whole_of_a_stated_percent_is_worked_out() -> None:
    # the task states 35%; `* 0.65` is the rest (1 - 35 / 100) and `* 1.1` a 10% raise, both in the head
    plan, error = gsm8k_plan("A farm grows 400 trees and 35% of them are apples. The rest are pears. Next year the "
                             "pears grow by 10%. How many pears are there next year?",
                             "There are 400 * 0.65 = <<400*0.65=260>>260 pears.\n"
                             "Next year there are 260 * 1.1 = <<260*1.1=286>>286 pears.", "286")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(1 - 35 / 100)", "R2 = Calculator(400 * R1)",
                              "R3 = Calculator(1 + 10 / 100)", "R4 = Calculator(R2 * R3)"]
    assert numeric_match(run_plan(plan), "286")


def test_a_percent_result_restated_as_a_fraction_is_that_result() -> None:
    # `75%` is computed (100 - 25), then written `.75`; `70%` after `100% - 30% = 70%` is that result
    plan, error = gsm8k_plan("Only 25% of the 60 fish in a pond are at the surface. How many are below it?",
                             "75% of the fish are below because 100 - 25 = <<100-25=75>>75\n"
                             "There are 60 x .75 = <<60*.75=45>>45 fish below.", "45")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(100 - 25)", "R2 = Calculator(R1 / 100)", "R3 = Calculator(60 * R2)"]
    plan, error = gsm8k_plan("A coin lands heads 30% of the time and a die shows six 50% of the time. How likely, in "
                             "percent, is no heads and a six?",
                             "No heads: 100% - 30% = 70%\nBoth: 70% * 50% = 35%\nIn percent: 0.35 * 100 = 35", "35")
    assert error is None, error
    assert _actions(plan)[:2] == ["R1 = Calculator(100% - 30%)", "R2 = Calculator(R1 * 50%)"]


def test_products_of_parentheses_and_multiplied_out_terms_are_read() -> None:
    # `(1/2)(20)` is a product like `2(16)`; `2(3x)` multiplied out is the 6x the like terms then use
    plan, error = gsm8k_plan("Ana has half as many shells as Ben, who has 20. Cy has 2 more than triple Ana's. How many has Cy?",
                             "Ana has (1/2)(20)=10 shells\nCy has 2+3(10)=32 shells", "32")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator((1 / 2) * (20))", "R2 = Calculator(2 + 3 * (R1))"]
    question = ("A 1000 mile trip: Mo drives 3 times as far as Kai, and Tia 20 miles more than twice Mo. "
                "How far does Mo drive?")
    rationale = ("Let x be Kai's miles\nMo:3x\nTia:20+2(3x)=20+6x\nTotal:x+3x+20+6x=1000\n10x+20=1000\n10x=980\n"
                 "x=<<98=98>>98 miles\n3(98)=<<3*98=294>>294 miles")
    plan, error = gsm8k_plan(question, rationale, "294")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(1000 - 20)", "R2 = Calculator(2 * 3)", "R3 = Calculator(1 + 3 + R2)",
                              "R4 = Calculator(R1 / R3)", "R5 = Calculator(3 * R4)"]
    assert numeric_match(run_plan(plan), "294")


def test_a_person_and_named_companions_are_counted_with_the_person() -> None:
    # `her 3 friends` and herself are 4 people; the rationale divides by 4 without writing 3 + 1
    plan, error = gsm8k_plan("Mia shares 48 stickers equally between herself and her 3 friends. How many does each get?",
                             "Each gets 48 / 4 = <<48/4=12>>12 stickers.", "12")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(3 + 1)", "R2 = Calculator(48 / R1)"]
    # with no companions named, 4 stays a number the rationale never works out
    plan, error = gsm8k_plan("Mia shares 48 stickers equally with her friends. How many does each get?",
                             "Each gets 48 / 4 = <<48/4=12>>12 stickers.", "12")
    assert plan is None and error == "observer_leak"


def test_a_price_in_cents_used_in_dollars_is_converted() -> None:
    # the task names cents and dollars, so `0.5` is its 50 cents as dollars (50 / 100)
    plan, error = gsm8k_plan("A van costs $40 a day plus 50 cents for each mile. Ida drives 120 miles in a day. "
                             "How many dollars does she pay?",
                             "The miles cost 120*0.5 = <<120*0.5=60>>60 dollars.\nShe pays 40+60 = <<40+60=100>>100 dollars.",
                             "100")
    assert error is None, error
    assert _actions(plan) == ["R1 = Calculator(50 / 100)", "R2 = Calculator(120 * R1)", "R3 = Calculator(40 + R2)"]
