"""The observer rule's holes (issue 25, section 4), each on a hand-written plan in a real dataset's style.

Each negative case passed the audit before these checks: a text value that was only a result,
the answer stated in a subgoal, the answer typed, a unit word making a number known on its
own, and the retyped constants 0, 2, 10 and 100. Positive cases show that the constants an
observer may type (a conversion between two units the task names, 100 for a percent, 2 for
`twice`) still pass. The last test converts a deterministic slice of GSM8K's training set and
checks that every plan the loader keeps passes the audit and replays to the gold answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lumos_envs.gold_audit import Leak, audit_gold_plan, known_numbers, make_env_for, replay_gold_plan
from lumos_envs.jsonl import iter_jsonl
from lumos_envs.metrics import numeric_match
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task
from lumos_envs.tasks.gsm8k import gsm8k_task_from_row

TRAIN_SLICE = slice(0, None, 25)
"""every 25th GSM8K training item (299 of 7,473): deterministic, spread over the file"""


def _task(domain: str, question: str, subgoals: list[tuple[str, list[str]]], answer: str = "R1") -> Task:
    plan = GoldPlan(tuple(GoldSubgoal(text, tuple(actions)) for text, actions in subgoals), answer)
    return Task(id=f"hand-{domain}", domain=domain, source="hand", split="test", question=question, answer="x", plan=plan)


def _found(leaks: list[Leak]) -> list[tuple[str, int | None, str]]:
    return [(leak.rule, leak.subgoal, leak.literal) for leak in leaks]


# ---------------------------------------------------------------------------------------------
# Text arguments of every tool


QA_QUESTION = "Where was the director of Film A born?"
QA_HOP_1 = ("Find who directed Film A.", ["R1 = KnowledgeQuery(Film A)", "R2 = ParagraphRetrieve(R1, Query: Who directed Film A?)",
                                           "R3 = QA([R2], Question: Who directed Film A?)"])
QA_OBSERVATIONS = ["R1 = WikipediaPage(Film A); R2 = Paragraph(Film A-0); R3 = Jo Kay",
                   "R4 = WikipediaPage(Jo Kay); R5 = Paragraph(Jo Kay-0); R6 = Town B"]


def _qa_plan(question: str, subgoal: str = "Find where the director was born.") -> Task:
    return _task("qa", QA_QUESTION, [QA_HOP_1, (subgoal, [
        "R4 = KnowledgeQuery(R3)", "R5 = ParagraphRetrieve(R4, Query: Where was R3 born?)",
        f"R6 = QA([R5], Question: {question})"])], "R6")


def test_a_qa_question_that_retypes_an_earlier_result_leaks() -> None:
    leaks = audit_gold_plan(_qa_plan("Where was Jo Kay born?"), QA_OBSERVATIONS)
    assert _found(leaks) == [("restated_result", 2, "Where was Jo Kay born?")]
    assert audit_gold_plan(_qa_plan("Where was R3 born?"), QA_OBSERVATIONS) == []


def test_a_qa_question_that_holds_a_result_not_yet_computed_leaks() -> None:
    leaks = audit_gold_plan(_qa_plan("Was Jo Kay born in Town B?"), QA_OBSERVATIONS)
    assert ("unobserved_literal", 2, "Town B") in _found(leaks)


def test_a_subgoal_that_names_a_text_result_before_it_is_computed_leaks() -> None:
    leaks = audit_gold_plan(_qa_plan("Where was R3 born?", subgoal="Confirm that R3 was born in Town B."), QA_OBSERVATIONS)
    assert _found(leaks) == [("subgoal_result", 2, "Town B")]
    # an earlier result is what the LUMOS-I planner was shown: it may name it
    assert audit_gold_plan(_qa_plan("Where was R3 born?", subgoal="Find where Jo Kay was born."), QA_OBSERVATIONS) == []


# ---------------------------------------------------------------------------------------------
# The answer stated or typed

EGGS = "A farmer collects 3 eggs a day from each of her 4 hens. How many eggs does she collect in a week?"


def test_a_subgoal_that_states_a_cued_answer_leaks() -> None:
    # 12 is a months-in-a-year constant here, so it passed as `known`; it is also the answer
    question = "Kim saves $5 a month from March on, and $10 a month once she turns 14. How many months are in a year?"
    leaky = _task("math", question, [("Calculate: there are 12 months in a year.", ["R1 = Calculator(5 + 10 - 3)"])])
    assert ("subgoal_result", 1, "12") in _found(audit_gold_plan(leaky, ["R1 = 12"]))
    per_day = _task("math", EGGS, [("Calculate the eggs a day.", ["R1 = Calculator(3 * 4)"]),
                                   ("Calculate: she collects 84 eggs in a week, R1 * 7.", ["R2 = Calculator(R1 * 7)"])], "R2")
    assert _found(audit_gold_plan(per_day, ["R1 = 12", "R2 = 84"])) == [("subgoal_result", 2, "84")]


def test_an_answer_that_is_a_typed_literal_leaks() -> None:
    typed = _task("math", EGGS, [("Calculate the eggs a day.", ["R1 = Calculator(3 * 4)"]),
                                 ("Calculate the eggs in a week.", ["R2 = Calculator(84)"])], "R2")
    assert _found(audit_gold_plan(typed, ["R1 = 12", "R2 = 84"])) == [
        ("unobserved_literal", 2, "84"), ("literal_answer", 2, "84")]
    # a cued number typed as the answer: 60 is known (minutes and hours), but not computed
    cued = _task("math", "Ravi runs for an hour. How many minutes does he run?",
                 [("Calculate the minutes he runs.", ["R1 = Calculator(60)"])])
    assert _found(audit_gold_plan(cued, ["R1 = 60"])) == [("literal_answer", 1, "60")]
    computed = _task("math", "Ravi runs for 2 hours. How many minutes does he run?",
                     [("Calculate the minutes he runs.", ["R1 = Calculator(2 * 60)"])])
    assert audit_gold_plan(computed, ["R1 = 120"]) == []


# ---------------------------------------------------------------------------------------------
# Unit words and constants


def test_a_unit_word_alone_makes_no_number_known() -> None:
    assert known_numbers("Omar earns 15 dollars a day.") == {15}  # no 24 hours, no 100 cents
    assert known_numbers("Omar is 9 years old.") == {9}  # no 12 months, 52 weeks or 365 days
    bad = _task("math", "Omar walks a dog 3 times every day. How much does he earn at 5 dollars a walk?",
                [("Calculate his pay.", ["R1 = Calculator(5 * 24)"])])
    assert _found(audit_gold_plan(bad, ["R1 = 120"])) == [("unobserved_literal", 1, "24")]
    cents = _task("math", "A pen costs 3 dollars. How much do 4 pens cost?", [("Calculate the cost.", ["R1 = Calculator(3 * 4 * 100)"])])
    assert _found(audit_gold_plan(cents, ["R1 = 1200"])) == [("unobserved_literal", 1, "100")]


def test_a_conversion_between_two_named_units_is_known() -> None:
    question = "Joy reads 8 pages in 20 minutes. How many pages does she read in 2 hours?"
    plan = _task("math", question, [("Calculate the minutes in 2 hours.", ["R1 = Calculator(2 * 60)"]),
                                    ("Calculate the pages.", ["R2 = Calculator(R1 / 20 * 8)"])], "R2")
    assert audit_gold_plan(plan, ["R1 = 120", "R2 = 48"]) == []
    # chained conversions: minutes in a day via hours
    assert {60, 24, 1440} <= known_numbers("He sleeps 480 minutes a day.")
    assert {100} <= known_numbers("A toy costs 75 cents. How many dollars do 4 toys cost?")
    assert {1000} <= known_numbers("A bar weighs 125 g. How many bars are in a 2 kg box?")


@pytest.mark.parametrize("constant", ["0", "2", "10", "100"])
def test_a_retyped_constant_nothing_justifies_leaks(constant: str) -> None:
    question = "Lena has 7 apples and buys 5 more. How many apples does she have?"
    plan = _task("math", question, [("Calculate the apples.", [f"R1 = Calculator(7 + 5 + {constant})"])])
    assert _found(audit_gold_plan(plan, ["R1 = 12"])) == [("unobserved_literal", 1, constant)]


def test_a_retyped_result_that_is_a_small_constant_leaks() -> None:
    question = "Lena has 12 apples and eats half of them. She shares the rest with 6 friends. How many does each get?"
    plan = _task("math", question, [("Calculate the apples left.", ["R1 = Calculator(12 / 2)"]),
                                    ("Calculate the share.", ["R2 = Calculator(R1 / 6)"]),
                                    ("Calculate the apples left after one share.", ["R3 = Calculator(R1 - 1)"])], "R3")
    assert audit_gold_plan(plan, ["R1 = 6", "R2 = 1", "R3 = 5"]) == [
        Leak("hand-math", "restated_result", 3, "R3 = Calculator(R1 - 1)", "1")]


def test_cued_constants_pass() -> None:
    twice = _task("math", "Omar has 14 stamps. Lena has twice as many. How many does Lena have?",
                  [("Calculate Lena's stamps.", ["R1 = Calculator(14 * 2)"])])
    assert audit_gold_plan(twice, ["R1 = 28"]) == []
    percent = _task("math", "A shirt costs $40 and is 25% off. What is the discount in dollars?",
                    [("Calculate the discount.", ["R1 = Calculator(40 * 25 / 100)"]),
                     ("Calculate the discount again.", ["R2 = Calculator(40 * 25 * 0.01)"])], "R2")
    assert audit_gold_plan(percent, ["R1 = 10", "R2 = 10"]) == []
    overtime = _task("math", "Tina earns $18 an hour and time and a half for overtime. What is her overtime rate?",
                     [("Calculate the overtime rate.", ["R1 = Calculator(18 * 1.5)"])])
    assert audit_gold_plan(overtime, ["R1 = 27"]) == []
    assert 500 in known_numbers("five hundred people came") and 25 in known_numbers("twenty-five cats")


def test_numbers_the_task_writes_in_words_or_as_fractions_are_stated() -> None:
    from fractions import Fraction

    assert known_numbers("Ten couples came to the dance.") == {10, 2}
    assert known_numbers("She stopped halfway up the hill.") == {2, Fraction(1, 2)}
    assert known_numbers("The race took four and half hours.") == {4, 2, Fraction(1, 2), Fraction(9, 2)}
    assert Fraction(3, 2) in known_numbers("Her shopping trip took an hour and a half.")
    assert Fraction(3, 2) in known_numbers("She bought a pound and half of cheese.")
    assert Fraction(1, 2) in known_numbers("Each person drinks 1/2 a gallon a day.")
    assert Fraction(1, 2) in known_numbers("The mower cuts fifty percent more grass.")
    # a fraction's value is stated; its parts and other words still are not more than they say
    assert known_numbers("He ran 3/4 of a mile.") == {3, 4, Fraction(3, 4)}
    assert known_numbers("They bought 2 for $18 and 3 more.") == {2, 18, 3}
    half = _task("math", "A tank holds 40 gallons. Each of 6 people drinks 1/2 a gallon. How much is left?",
                 [("Calculate the water drunk.", ["R1 = Calculator(6 * 0.5)"]),
                  ("Calculate the water left.", ["R2 = Calculator(40 - R1)"])], "R2")
    assert audit_gold_plan(half, ["R1 = 3", "R2 = 37"]) == []


# ---------------------------------------------------------------------------------------------
# The GSM8K loader keeps only observer plans


def test_gsm8k_train_plans_that_the_loader_keeps_pass_the_audit_and_replay(fixtures_dir: Path) -> None:
    rows = [row for _, row in iter_jsonl(fixtures_dir / "gsm8k" / "train.jsonl")][TRAIN_SLICE]
    tasks = [gsm8k_task_from_row(row, index, "train") for index, row in enumerate(rows)]
    kept = [task for task in tasks if task.plan is not None]
    assert len(kept) >= 0.85 * len(tasks)
    env = make_env_for("math", kept)
    try:
        for task in kept:
            trace = replay_gold_plan(task, env)
            assert audit_gold_plan(task, trace) == [], task.id
            assert all(error is None for error in trace.errors), task.id
            answer = next(values[task.plan.answer] for values in reversed(trace.results) if task.plan.answer in values)
            assert numeric_match(answer, task.answer), task.id
    finally:
        env.close()
