"""The LUMOS action language: parsing, rendering, annotations, splitting and substitution."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumos_envs.actions import (
    Action,
    ActionSyntaxError,
    UndefinedVariableError,
    find_refs,
    parse_actions,
    parse_annotation,
    split_actions,
    substitute_refs,
)

LUMOS_RUN_DOMAINS = ("maths", "complex_qa", "web_agent", "intercode_sql")


def _annotations(fixtures_dir):
    with open(fixtures_dir / "lumos" / "annotations.jsonl") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_every_fixture_annotation_of_the_run_domains_parses_and_round_trips(fixtures_dir):
    records = [r for r in _annotations(fixtures_dir) if r["domain"] in LUMOS_RUN_DOMAINS]
    assert {r["domain"] for r in records} == set(LUMOS_RUN_DOMAINS)
    for record in records:
        subgoals = parse_annotation(record["subgoal_plan"], record["domain"])
        assert subgoals, record["task"]
        num_lines = sum(1 for line in record["subgoal_plan"].splitlines() if line.strip().startswith("Action"))
        assert sum(len(s.actions) for s in subgoals) == num_lines
        for subgoal in subgoals:
            assert subgoal.text and subgoal.actions
            line = subgoal.action_line()
            again = parse_actions(line, record["domain"])
            assert again == list(subgoal.actions)
            assert "; ".join(a.render() for a in again) == line


def test_annotation_results_prefixes_and_output_alias_are_handled():
    plan = (
        "Subgoal 1: Calculate how much the soda costs in total.\n"
        "Action 1-1: R1 = Calculator(2 - 0.5) = 1.5 \n\n"
        "Subgoal 2: Solve x and y.\n"
        "Action 2-1: R2, R3 = SolveEquation(R1=xy, R1=x/y) = -9/8, -3/5 \n"
        "Action 2-2: Output = Calculator(R2(R3)) = 123/40"
    )
    first, second = parse_annotation(plan)
    assert first.index == 1 and first.text == "Calculate how much the soda costs in total."
    assert first.actions[0].render() == "R1 = Calculator(2 - 0.5)"
    assert first.results == ("1.5",)
    assert second.actions[0].outputs == ("R2", "R3")
    assert second.results == ("-9/8, -3/5", "123/40")
    assert second.actions[1].outputs == ("R4",), "Output is renamed R{last+1}"


def test_sql_annotations_split_results_only_after_show_and_describe():
    plan = (
        "Subgoal 1: Find all the related tables.\n"
        "Action 1-1: R1 = SHOW TABLES = country. \n\n"
        "Subgoal 2: Describe.\n"
        "Action 2-1: R2 = DESCRIBE country = Code (type: CHAR(3)), Name (type: CHAR(52)). \n\n"
        "Subgoal 3: Condition.\n"
        'Action 3-1: R3 = GovernmentForm = "US Territory".'
    )
    subgoals = parse_annotation(plan, "intercode_sql")
    show, describe, condition = (s.actions[0] for s in subgoals)
    assert (show.tool, show.arg_text, subgoals[0].results) == ("SQL", "SHOW TABLES", ("country",))
    assert describe.arg_text == "DESCRIBE country"
    assert subgoals[1].results[0].startswith("Code (type: CHAR(3))")
    assert condition.arg_text == 'GovernmentForm = "US Territory"' and subgoals[2].results == (None,)


def test_raw_sql_actions_parse_to_the_sql_tool():
    (action,) = parse_actions("R1 = SHOW TABLES", domain="sql")
    assert action == Action(("R1",), "SQL", action.args, "SHOW TABLES", "raw")
    (select,) = parse_actions("R7 = SELECT a FROM t WHERE b = 'x;y';", domain="sql")
    assert select.arg_text == "SELECT a FROM t WHERE b = 'x;y'"
    (answer,) = parse_actions("Answer(R7)", domain="sql")
    assert answer.tool == "Answer"


def test_labels_lists_and_free_text_commas():
    (qa,) = parse_actions("R3 = QA([R2, R5], Question: How many kids did Julius Caesar have?)")
    assert [a.label for a in qa.args] == [None, "Question"]
    assert qa.args[0].is_list and qa.args[0].items == ["R2", "R5"]
    assert qa.refs == ("R2", "R5")
    (click,) = parse_actions("R4 = CLICK(R3, QUERY: Choose the option Atlanta, GA (ATL))")
    assert click.args[1].text == "Choose the option Atlanta, GA (ATL)"
    (typed,) = parse_actions("R3 = TYPE(R2, QUERY: Type Atlanta, TEXT: Atlanta)")
    assert [(a.label, a.text) for a in typed.args] == [(None, "R2"), ("QUERY", "Type Atlanta"), ("TEXT", "Atlanta")]
    (query,) = parse_actions("R1 = KnowledgeQuery(Albany, Georgia)")
    assert query.arg_text == "Albany, Georgia"
    (money,) = parse_actions("R1 = Calculator($1,200 + 5)")
    assert len(money.args) == 1, "a thousands comma does not split arguments"


def test_apostrophes_stay_literal_but_quotes_protect_separators():
    actions = parse_actions("R1 = KnowledgeQuery(grey seal's hearing); R2 = QA([R1], Question: Is dog's hearing better?)")
    assert [a.tool for a in actions] == ["KnowledgeQuery", "QA"]
    (quoted,) = parse_actions("R1 = Search('a; b')")
    assert quoted.arg_text == "'a; b'"


def test_split_respects_quotes_and_brackets():
    with pytest.raises(ActionSyntaxError):
        split_actions("R1 = F((a; b)")
    assert [p.strip() for p, _ in split_actions("R1 = F([a; b]); R2 = G('x;y')")] == ["R1 = F([a; b])", "R2 = G('x;y')"]


def test_trailing_period_and_bracket_style():
    (click,) = parse_actions("R1 = CLICK(Env, QUERY: Enter the site).")
    assert click.render() == "R1 = CLICK(Env, QUERY: Enter the site)"
    search, buy = parse_actions("search[3 ounce bottle]; click[Buy Now]")
    assert (search.tool, search.style, search.arg_text, buy.render()) == ("search", "bracket", "3 ounce bottle", "click[Buy Now]")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("R1 = Calculator((2+3)", "never closed"),
        ("R1 = Calculator(2))", "unmatched ')'"),
        ("R1 = ", "nothing after '='"),
        ("R1 = Calculator(2) = 2", "annotated results"),
        ("Action 1-1: R1 = Calculator(2)", "annotation records"),
        ("R1 = just some words", "expected '(' after the tool name"),
        ("= Calculator(2)", "expected a tool call"),
        ("", "no action found"),
        ("R1, R1 = F(x)", "assigned twice"),
    ],
)
def test_syntax_errors_say_what_and_where(text, fragment):
    with pytest.raises(ActionSyntaxError) as info:
        parse_actions(text)
    assert fragment in str(info.value)


def test_error_message_has_a_column():
    with pytest.raises(ActionSyntaxError, match=r"column \d+"):
        parse_actions("R1 = Calculator(2 + (3)")


def test_substitution_is_by_whole_tokens():
    values = {"R1": "7", "R10": "100", "R2": "x - 1"}
    assert substitute_refs("R1 + R10 + xR1 + R1a", values) == "7 + 100 + xR1 + R1a"
    assert substitute_refs("R2 * 2", values, wrap=lambda v: f"({v})") == "(x - 1) * 2"
    assert substitute_refs("R2(R1)", values, apply_call=lambda v: f"evalat(({v}), ") == "evalat((x - 1), 7)"
    assert substitute_refs("name = 'R1'", values) == "name = 'R1'", "quoted text is not substituted"
    with pytest.raises(UndefinedVariableError, match="R3 is not defined"):
        substitute_refs("R3 + 1", values)
    assert find_refs("R1 + R10 - R1") == ("R1", "R10")


_action_text = st.builds(
    lambda outs, tool, args: f"{', '.join(outs)} = {tool}({', '.join(args)})",
    st.lists(st.from_regex(r"R[1-9][0-9]?", fullmatch=True), min_size=1, max_size=2, unique=True),
    st.from_regex(r"[A-Z][A-Za-z]{0,10}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9 +*/.-]{1,12}|\[R[1-9](, R[1-9])?\]|Query: [a-z ?]{1,12}", fullmatch=True), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_action_text, min_size=1, max_size=4))
def test_parse_render_parse_is_stable(texts):
    line = "; ".join(texts)
    try:
        first = parse_actions(line)
    except ActionSyntaxError:
        return
    rendered = "; ".join(a.render() for a in first)
    assert parse_actions(rendered) == first


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parser_raises_only_action_syntax_errors(text):
    try:
        parse_actions(text)
    except ActionSyntaxError:
        pass
