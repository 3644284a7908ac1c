"""The observer rule over every loader and bundled family: a gold plan is one an observer could write.

`lumos_envs.gold_audit` replays each plan through its env and checks that subgoal text states no
result before it is computed, that every literal argument was in the task text or an earlier
observation, and that the answer is a computed variable. This file runs it over the loaders'
fixture data (GSM8K, SVAMP, HotpotQA, StrategyQA, hand-written MuSiQue rows), the first items of
every bundled maths, QA and multimodal family (WebShop and SQL families are audited in their own
test files), and over hypothesis-generated items in GSM8K's and MuSiQue's own schemas. Today's
leaks are written out by hand as negative cases, so the audit is shown to catch them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumos_envs.gold_audit import Leak, audit_gold_plan, audit_task_source, make_env_for, replay_gold_plan
from lumos_envs.metrics import numeric_match
from lumos_envs.qa.corpus import Corpus
from lumos_envs.qa.reader import ExtractiveReader
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal, Task
from lumos_envs.tasks.gsm8k import gsm8k_task_from_row
from lumos_envs.tasks.musique import musique_task_from_row
from lumos_envs.tasks.qa_files import QATaskList
from lumos_envs.tasks.registry import load_tasks, synthetic_families

FIRST_N = 5
"""items audited per bundled family"""

MULTIMODAL_ENV = {"vqa_backend": "oracle"}
"""VQA answered from the scene's own record: observations without training the scene parser"""

QA_ENV = {"dense": False, "reader": ExtractiveReader(None)}
"""the bundled extractive reader ranking by word overlap, and BM25 pages: no model to load"""


def _rules(leaks: list[Leak]) -> set[str]:
    return {leak.rule for leak in leaks}


# ---------------------------------------------------------------------------------------------
# Loaders with fixture data


@pytest.mark.parametrize("spec", ["gsm8k:gsm8k/test_sample.jsonl", "svamp:svamp/sample.json"])
def test_maths_loaders_write_observer_plans(fixtures_dir: Path, spec: str) -> None:
    loader, _, path = spec.partition(":")
    tasks = load_tasks(f"{loader}:{fixtures_dir / path}")
    assert sum(t.plan is not None for t in tasks) >= 0.9 * len(tasks)
    assert audit_task_source(tasks) == []


def test_qa_loaders_without_plans_have_nothing_to_leak(fixtures_dir: Path) -> None:
    # HotpotQA and StrategyQA records carry no LUMOS plan: no gold plan, so no leak (and no env)
    for spec in (f"hotpotqa:{fixtures_dir / 'hotpotqa' / 'questions_sample.json'}",
                 f"strategyqa:{fixtures_dir / 'strategyqa' / 'sample.json'}"):
        tasks = load_tasks(spec)
        assert all(t.plan is None for t in tasks)
        assert audit_task_source(tasks) == []


MUSIQUE_ROWS = [
    {"id": "2hop_0", "question": "Where was the director of Film A born?", "answer": "Town B", "answer_aliases": [],
     "answerable": True, "paragraphs": [
         {"idx": 0, "title": "Film A", "paragraph_text": "Film A was directed by Jo Kay.", "is_supporting": True},
         {"idx": 1, "title": "Jo Kay", "paragraph_text": "Jo Kay was born in Town B.", "is_supporting": True},
         {"idx": 2, "title": "Other", "paragraph_text": "Unrelated text.", "is_supporting": False}],
     "question_decomposition": [
         {"id": 1, "question": "Who directed Film A?", "answer": "Jo Kay", "paragraph_support_idx": 0},
         {"id": 2, "question": "Where was #1 born?", "answer": "Town B", "paragraph_support_idx": 1}]},
    {"id": "3hop_1", "question": "In which country is the birthplace of the author of Green Rivers?",
     "answer": "Norland", "answer_aliases": [], "answerable": True, "paragraphs": [
         {"idx": 0, "title": "Green Rivers (novel)", "paragraph_text": "Green Rivers is a novel written by Ada Moss.",
          "is_supporting": True},
         {"idx": 1, "title": "Ada Moss", "paragraph_text": "Ada Moss was born in Port Vell.", "is_supporting": True},
         {"idx": 2, "title": "Port Vell", "paragraph_text": "Port Vell is a harbour town in Norland.", "is_supporting": True}],
     "question_decomposition": [
         {"id": 1, "question": "Who wrote Green Rivers?", "answer": "Ada Moss", "paragraph_support_idx": 0},
         {"id": 2, "question": "Where was #1 born?", "answer": "Port Vell", "paragraph_support_idx": 1},
         {"id": 3, "question": "#2 >> country", "answer": "Norland", "paragraph_support_idx": 2}]},
]


def test_musique_plans_look_up_what_earlier_hops_found(tmp_path: Path) -> None:
    path = tmp_path / "musique.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in MUSIQUE_ROWS))
    tasks = load_tasks(f"musique:{path}")
    queries = [a for t in tasks for s in t.plan.subgoals for a in s.actions if "KnowledgeQuery" in a]
    assert queries == ["R1 = KnowledgeQuery(Film A)", "R4 = KnowledgeQuery(R3)",
                       "R1 = KnowledgeQuery(Green Rivers)", "R4 = KnowledgeQuery(R3)", "R7 = KnowledgeQuery(R6)"]
    assert audit_task_source(tasks, **QA_ENV) == []


# ---------------------------------------------------------------------------------------------
# Bundled families (webshop and sql: their own test files)

FAMILIES = sorted(name for name, info in synthetic_families().items()
                  if info["domain"] in ("math", "qa", "multimodal") and not name.endswith(("_train", "_heldout")))


@pytest.mark.parametrize("family", FAMILIES)
def test_bundled_families_write_observer_plans(family: str) -> None:
    tasks = load_tasks(f"synthetic:{family}?size={FIRST_N}")
    kwargs = {"qa": QA_ENV, "multimodal": MULTIMODAL_ENV}.get(tasks[0].domain.value, {})
    assert all(t.plan is not None for t in tasks)
    assert audit_task_source(tasks, **kwargs) == []


# ---------------------------------------------------------------------------------------------
# Generated items in the datasets' own schemas

_NAMES = ("Janet", "Omar", "Lena", "Ravi", "Sofia")
_THINGS = ("apples", "stamps", "marbles", "eggs", "shells")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


@st.composite
def gsm8k_records(draw: st.DrawFn) -> dict[str, str]:
    """A GSM8K-schema record: question numbers, then rationale lines chaining earlier results,
    with `<<a*b=c>>` marks or without, in several sentence shapes, and a final `#### N`."""
    name, thing = draw(st.sampled_from(_NAMES)), draw(st.sampled_from(_THINGS))
    given = draw(st.lists(st.integers(2, 40), min_size=2, max_size=4, unique=True))
    question = f"{name} has {given[0]} {thing}. " + " ".join(
        f"{draw(st.sampled_from(['A box holds', 'A friend brings', 'A bag has']))} {n} {thing}." for n in given[1:]
    ) + f" How many {thing} does {name} end up with?"
    results: list[int] = []
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        pool = results + given
        left = results[-1] if results and draw(st.booleans()) else draw(st.sampled_from(pool))
        right = draw(st.sampled_from(given))
        op = draw(st.sampled_from(sorted(_OPS)))
        if op == "-" and left <= right:
            left, right = right, left
        if op == "-" and left == right:
            op = "+"
        value = _OPS[op](left, right)
        shown_op = {"*": draw(st.sampled_from(["*", "x"])), "+": "+", "-": "-"}[op]
        expr = f"{left} {shown_op} {right}"
        mark = f"<<{left}{op}{right}={value}>>"
        shape = draw(st.integers(0, 3))
        lines.append([
            f"{name} has {expr} = {mark}{value} {thing} now.",
            f"So there are {expr} = {value} {thing} in all.",
            f"The number of {thing} is {expr} = {mark}{value}.",
            f"Then {name} counts {expr} = ${mark}{value}.",
        ][shape])
        results.append(value)
    return {"question": question, "answer": "\n".join(lines) + f"\n#### {results[-1]}"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gsm8k_records())
def test_generated_gsm8k_rationales_give_observer_plans(record: dict[str, str]) -> None:
    task = gsm8k_task_from_row(record, 0, "test")
    assert task.plan is not None, task.metadata.get("plan_error")
    trace = replay_gold_plan(task)
    assert audit_gold_plan(task, trace) == []
    assert all(error is None for error in trace.errors)
    answer = next(values[task.plan.answer] for values in trace.results if task.plan.answer in values)
    assert numeric_match(answer, task.answer)


_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "ni", "bu")
_RELATIONS = (  # step question (with #k), paragraph sentence
    ("Who created {e}?", "{e} was created by {a}."),
    ("Where was {e} born?", "{e} was born in {a}."),
    ("Who founded {e}?", "{e} was founded by {a}."),
)


@st.composite
def musique_records(draw: st.DrawFn) -> dict:
    """A MuSiQue-schema record: a 2-4 hop chain whose hop k asks about hop k-1's answer (`#k`)."""
    def name() -> str:
        return " ".join(
            "".join(draw(st.lists(st.sampled_from(_SYLLABLES), min_size=2, max_size=3))).capitalize() for _ in range(2)
        )

    hops = draw(st.integers(2, 4))
    entities = draw(st.lists(st.builds(lambda: None).map(lambda _: name()), min_size=hops + 1, max_size=hops + 1))
    if len(set(entities)) < len(entities):
        entities = [f"{e} {i}" for i, e in enumerate(entities)]
    suffix = draw(st.sampled_from(["", " (film)", " (company)"]))
    paragraphs, steps = [], []
    for k in range(hops):
        ask, say = draw(st.sampled_from(_RELATIONS))
        subject = entities[0] if k == 0 else f"#{k}"
        title = entities[k] + (suffix if k == 0 else "")
        paragraphs.append({"idx": k, "title": title, "paragraph_text": say.format(e=entities[k], a=entities[k + 1]),
                           "is_supporting": True})
        steps.append({"id": k + 1, "question": ask.format(e=subject), "answer": entities[k + 1], "paragraph_support_idx": k})
    paragraphs.append({"idx": hops, "title": "Elsewhere", "paragraph_text": "A page about nothing.", "is_supporting": False})
    return {"id": f"{hops}hop_gen", "question": f"What is at the end of the chain that starts at {entities[0]}?",
            "answer": entities[-1], "answer_aliases": [], "answerable": True, "paragraphs": paragraphs,
            "question_decomposition": steps}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(musique_records())
def test_generated_musique_decompositions_give_observer_plans(record: dict) -> None:
    task, documents = musique_task_from_row(record, 0, "dev")
    assert task.plan is not None
    gold_answers = {step["answer"] for step in record["question_decomposition"]}
    queries = [a.split("KnowledgeQuery(", 1)[1][:-1] for s in task.plan.subgoals for a in s.actions if "KnowledgeQuery(" in a]
    assert not gold_answers & set(queries)
    env = make_env_for("qa", QATaskList([task], Corpus(documents), name="generated"), **QA_ENV)
    try:
        assert audit_gold_plan(task, env=env) == []
    finally:
        env.close()


# ---------------------------------------------------------------------------------------------
# Today's leaks, written out by hand: the audit must catch each one

JANET = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
         "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
         "egg. How much in dollars does she make every day at the farmers' market?")


def _task(domain: str, question: str, subgoals: list[tuple[str, list[str]]], answer: str, gold: str = "x") -> Task:
    plan = GoldPlan(tuple(GoldSubgoal(text, tuple(actions)) for text, actions in subgoals), answer)
    return Task(id=f"hand-{domain}", domain=domain, source="hand", split="test", question=question, answer=gold, plan=plan)


def test_a_gsm8k_subgoal_that_states_its_result_leaks() -> None:
    leaky = _task("math", JANET, [("Calculate: Janet sells 16 - 3 - 4 = 9 duck eggs a day.", ["R1 = Calculator(16 - 3 - 4)"]),
                                  ("Calculate: She makes 9 * 2 = $18 every day.", ["R2 = Calculator(R1 * 2)"])], "R2", "18")
    leaks = audit_gold_plan(leaky, ["R1 = 9", "R2 = 18"])
    assert [(leak.rule, leak.subgoal, leak.literal) for leak in leaks] == [
        ("subgoal_result", 1, "9"), ("subgoal_result", 2, "18")]
    clean = _task("math", JANET, [("Calculate the number of duck eggs Janet sells a day.", ["R1 = Calculator(16 - 3 - 4)"]),
                                  ("Calculate: She makes R1 * 2 every day.", ["R2 = Calculator(R1 * 2)"])], "R2", "18")
    assert audit_gold_plan(clean, ["R1 = 9", "R2 = 18"]) == []
    assert audit_gold_plan(clean) == []  # replayed through lumos/Math-v0


def test_a_retyped_result_and_an_unseen_number_leak() -> None:
    retyped = _task("math", JANET, [("Calculate the eggs sold.", ["R1 = Calculator(16 - 3 - 4)"]),
                                    ("Calculate the money made.", ["R2 = Calculator(9 * 2)"])], "R2", "18")
    assert [(leak.rule, leak.literal) for leak in audit_gold_plan(retyped, ["R1 = 9", "R2 = 18"])] == [("restated_result", "9")]
    unseen = _task("math", JANET, [("Calculate the money made.", ["R1 = Calculator(9 * 2)"])], "R1", "18")
    assert [(leak.rule, leak.literal) for leak in audit_gold_plan(unseen, ["R1 = 18"])] == [("unobserved_literal", "9")]


def test_a_literal_answer_leaks() -> None:
    literal = _task("math", "Tom has 48 red and 24 blue pens. How many pens does he have?",
                    [("Calculate the number of pens.", ["R1 = Calculator(48 + 24)"])], "72", "72")
    assert [(leak.rule, leak.literal) for leak in audit_gold_plan(literal, ["R1 = 72"])] == [("literal_answer", "72")]
    in_subgoal = _task("math", "Tom has 48 red and 24 blue pens. How many pens does he have?",
                       [("Calculate the number of pens.", ["R1 = Calculator(48 + 24)", "Answer(72)"])], "R1", "72")
    assert "literal_answer" in _rules(audit_gold_plan(in_subgoal, ["R1 = 72"]))


MUSIQUE_QUESTION = "Where was the director of Film A born?"
HOP_1 = ("Answer: Who directed Film A?", ["R1 = KnowledgeQuery(Film A)", "R2 = ParagraphRetrieve(R1, Query: Who directed Film A?)",
                                          "R3 = QA([R2], Question: Who directed Film A?)"])


def test_a_musique_lookup_of_the_previous_gold_answer_leaks() -> None:
    def plan(page: str) -> Task:
        return _task("qa", MUSIQUE_QUESTION, [HOP_1, ("Answer: Where was R3 born?", [
            f"R4 = KnowledgeQuery({page})", "R5 = ParagraphRetrieve(R4, Query: Where was R3 born?)",
            "R6 = QA([R5], Question: Where was R3 born?)"])], "R6", "Town B")

    hop_1 = "R1 = WikipediaPage(Film A); R2 = Paragraph(Film A-0); R3 = {}"
    hop_2 = "R4 = WikipediaPage(Jo Kay); R5 = Paragraph(Jo Kay-0); R6 = Town B"
    # the reader found Jo Kay: typing it again is knowing the value before the plan computed it
    leaks = audit_gold_plan(plan("Jo Kay"), [hop_1.format("Jo Kay"), hop_2])
    assert [(leak.rule, leak.subgoal, leak.literal) for leak in leaks] == [("restated_result", 2, "Jo Kay")]
    # the reader answered something else: the gold answer was never observed at all
    leaks = audit_gold_plan(plan("Jo Kay"), [hop_1.format("Kay Studios"), hop_2])
    assert [(leak.rule, leak.literal) for leak in leaks] == [("unobserved_literal", "Jo Kay")]
    assert audit_gold_plan(plan("R3"), [hop_1.format("Jo Kay"), hop_2]) == []


WEBSHOP_GOAL = "i need high heel open toe pumps for women with a rubber sole, and price lower than 50.00 dollars"
RESULTS_PAGE = ("[Back to Search] Page 1 (Total results: 50) [Next >] [B09PB8DJ2Q] Oxulsun Open Toe Women s Pumps "
                "VS-5649 - High Heel, Rubber Outsole $36.99 [B07XYZ1234] Strappy Block Heel Sandal $24.99")


def test_a_webshop_search_for_the_hidden_target_title_leaks() -> None:
    def plan(search: str, item: str) -> Task:
        return _task("webshop", WEBSHOP_GOAL, [
            ("Search relevant items according to the instruction.", [f"R1 = Search({search})"]),
            ("Select the item that fits the instruction best.", [f"R2 = Click({item})"]),
            ("Buy this item.", ["R3 = Click(buy now)"])], "R3")

    pages = [RESULTS_PAGE, "[Back to Search] [< Prev] Oxulsun Open Toe Women s Pumps ... Price: $36.99 [Buy Now]",
             "Thank you for shopping with us!"]
    leaky = audit_gold_plan(plan("Oxulsun Open Toe Women s Pumps VS-5649 - High Heel, Rubber Outsole", "B09PB8DJ2Q"), pages)
    assert {leak.literal for leak in leaky if leak.rule == "unobserved_literal"} >= {"oxulsun", "5649", "outsole"}
    assert all(leak.subgoal == 1 for leak in leaky)
    # the instruction as the query, then an id the results page showed: an observer's plan
    assert audit_gold_plan(plan("high heel open toe pumps for women with a rubber sole", "B09PB8DJ2Q"), pages) == []
    # an id that no page has shown yet is a leak too
    unseen = audit_gold_plan(plan("high heel open toe pumps for women", "B0HIDDEN99"), pages)
    assert [(leak.rule, leak.subgoal, leak.literal) for leak in unseen] == [("unobserved_literal", 2, "B0HIDDEN99")]
