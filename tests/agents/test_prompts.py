"""LUMOS prompt strings against the spec and against LUMOS's own conversion of the annotation fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from agents import prompts as P
from agents.sft import annotation_messages, sft_record


SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "lumos_formats.md"
"""the LUMOS formats spec, beside the checkout in ../shared"""


@pytest.fixture(scope="module")
def spec_text() -> str:
    assert SPEC.is_file(), f"the LUMOS formats spec is missing at {SPEC.resolve()}"  # a missing spec fails, never skips
    return SPEC.read_text(encoding="utf-8")


def _spec_block(spec: str, label: str) -> tuple[str, str]:
    match = re.search(rf"^- {re.escape(label)}: `([^`]*)`;\n\s+`([^`]*)`", spec, re.MULTILINE)
    assert match, f"spec has no block for {label}"
    return match.group(1), match.group(2)


@pytest.mark.parametrize("label, block", [("maths", P.MATHS_BLOCK), ("complex_qa", P.COMPLEX_QA_BLOCK), ("web_agent (Mind2Web)", P.WEB_AGENT_BLOCK)])
def test_action_blocks_match_the_spec_verbatim(spec_text, label, block):
    action_list, interfaces = _spec_block(spec_text, label)
    assert block.action_list == action_list
    assert block.interfaces == interfaces


def test_planner_and_grounder_strings_match_the_spec(spec_text):
    assert "`" + P.plan_first_turn("{task}").replace("\n", "\\n") + "`" in spec_text
    assert "`" + P.plan_feedback_turn(7, "{result}").replace("7", "{k}") + "`" in spec_text
    assert f"`{P.STOP_PLANNING}`" in spec_text and f"`{P.KEEP_PLANNING}`" in spec_text
    assert P.GROUND_INSTRUCTION.replace("\n", "\\n") in spec_text
    qa_later = P.ground_later_turn("{subgoal}", [(1, "{r1}"), (2, "{r2}")])
    assert "`" + qa_later.replace("\n", "\\n") + "`" in spec_text
    assert "`" + P.ground_later_turn("{subgoal}").replace("\n", "\\n") + "`" in spec_text
    first = P.ground_first_turn(P.MATHS_BLOCK, "T", "Subgoal 1: S")
    assert first == (P.GROUND_INSTRUCTION + "The available action list is " + P.MATHS_BLOCK.action_list + ".\n" + P.MATHS_BLOCK.interfaces + "\n\nTask: T \nSubgoal to be grounded: Subgoal 1: S\n")
    assert P.ground_first_turn(P.MATHS_BLOCK, "T", ["Subgoal 1: A", "Subgoal 2: B"]).endswith("Task: T \nSubgoals to be grounded: Subgoal 1: A; Subgoal 2: B\n")


def test_tulu_serialisation_matches_the_spec_and_open_instruct():
    messages = [{"role": "user", "content": "u1\n"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]
    assert P.tulu_prompt(messages) == "<|user|>\nu1\n<|assistant|>\na1</s>\n<|user|>\nu2\n<|assistant|>\n"
    assert P.tulu_prompt(messages[:2], add_generation_prompt=False) == "<|user|>\nu1\n<|assistant|>\na1</s>\n"
    with pytest.raises(ValueError):
        P.tulu_prompt([{"role": "tool", "content": "x"}])


def test_math_env_tools_select_the_verbatim_maths_block():
    env = gym.make("lumos/Math-v0")
    _, info = env.reset(seed=0)
    env.close()
    block = P.action_block_for_tools(info["tools"])
    assert block is P.MATHS_BLOCK
    for t in info["tools"]:
        assert t["interface"] in block.interfaces
        assert f"'{t['name']}'" in block.action_list


def test_unknown_tools_get_a_block_built_from_their_interfaces():
    tools = [{"name": "SQL", "interface": "SQL(statement): Run a statement"}, {"name": "Look", "interface": "Look(x): Look at x."}]
    block = P.action_block_for_tools(tools)
    assert block.render() == "The available action list is 'SQL' and 'Look'.\nSQL(statement): Run a statement; Look(x): Look at x.\n\n"
    assert P.format_action_list(["A", "B", "C"]) == "'A', 'B', and 'C'"


@pytest.mark.parametrize(
    "text, subgoals, stop, error",
    [
        ("Subgoal 1: Add the numbers.", ((1, "Add the numbers."),), False, None),
        ("No, I will keep planning. Subgoal 2: Halve it.", ((2, "Halve it."),), False, None),
        ("Subgoal 1: A.; Subgoal 2: B.", ((1, "A."), (2, "B.")), False, None),
        ("Yes, I will stop planning.", (), True, None),
        ("garbage", (), False, "no 'Subgoal k: ...' found"),
        ("", (), False, "no 'Subgoal k: ...' found"),
    ],
)
def test_parse_plan_turn(text, subgoals, stop, error):
    out = P.parse_plan_turn(text)
    assert (out.subgoals, out.stop, out.error) == (subgoals, stop, error)


def _annotations(fixtures_dir):
    path = Path(fixtures_dir) / "lumos" / "annotations.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rename_output(messages):
    """lumos renames `Output` in every action line (the spec's rule); LUMOS only in iterative data."""
    out = []
    for m in messages:
        content = m["content"]
        if m["role"] == "assistant" and "Output = " in content:
            highest = max(int(v) for v in re.findall(r"\bR(\d+)\b", content.split("Output = ")[0]))
            content = content.replace("Output", f"R{highest + 1}")
        out.append({"role": m["role"], "content": content})
    return out


MATHS_GROUNDING = (
    "Please ground the given subgoal to corresponding executable actions for solving the given task. "
    "The grounded actions must be the one in available action list.\n\n"
    "The available action list is 'Calculator', 'SetEquation', 'SolveEquation', 'Count', 'SolveInequality', 'Code', and 'Define'.\n"
    "Calculator(formula): Calculate the input formula; SetEquation(equation): Set up an equation to be solved; "
    "SolveEquation(equation): Solve the previous set equation; Count(list): Count the number of elements in the given list; "
    "SolveInequality(inequality): Solve the previous set inequality; Code(pseudo_code): Generate a Python function that "
    "corresponds to the pseudo code; Define(variable/number): Define a variable or a number for latter usage.\n\n"
)
"""The spec's grounding instruction and maths block, written out by hand from spec/lumos_formats.md."""


def _soda(fixtures_dir):
    (record,) = [r for r in _annotations(fixtures_dir) if "Calculator(R1 / 0.25)" in r["subgoal_plan"]]
    return record


def test_sft_conversations_match_the_spec_written_out_by_hand(fixtures_dir):
    record = _soda(fixtures_dir)
    task = record["task"]
    s1 = "Subgoal 1: Calculate how much the soda costs in total."
    s2 = "Subgoal 2: Calculate the ounces of soda the price per ounch."
    plan_first = f"Please provide a reasonable subgoal-based plan to solve the given task.\nTask: {task}; Initial Environment Description: None."
    assert annotation_messages(record, "plan", "iterative") == [
        {"role": "user", "content": plan_first},
        {"role": "assistant", "content": s1},
        {"role": "user", "content": "The executed result for Subgoal 1 is 1.5. Should we stop planning?"},
        {"role": "assistant", "content": f"No, I will keep planning. {s2}"},
        {"role": "user", "content": "The executed result for Subgoal 2 is 6. Should we stop planning?"},
        {"role": "assistant", "content": "Yes, I will stop planning."},
    ]
    assert annotation_messages(record, "plan", "onetime") == [
        {"role": "user", "content": plan_first},
        {"role": "assistant", "content": f"{s1}; {s2}"},
    ]
    assert annotation_messages(record, "ground", "iterative") == [
        {"role": "user", "content": f"{MATHS_GROUNDING}Task: {task} \nSubgoal to be grounded: {s1}\n"},
        {"role": "assistant", "content": "R1 = Calculator(2 - 0.5)"},
        {"role": "user", "content": f"Subgoal to be grounded: {s2}\n"},
        {"role": "assistant", "content": "R2 = Calculator(R1 / 0.25)"},
    ]
    assert annotation_messages(record, "ground", "onetime") == [
        {"role": "user", "content": f"{MATHS_GROUNDING}Task: {task} \nSubgoals to be grounded: {s1}; {s2}\n"},
        {"role": "assistant", "content": "R1 = Calculator(2 - 0.5); R2 = Calculator(R1 / 0.25)"},
    ]


@pytest.mark.parametrize("module", ["plan", "ground"])
@pytest.mark.parametrize("formulation", ["iterative", "onetime"])
def test_every_runnable_annotation_converts(fixtures_dir, module, formulation):
    checked = 0
    for record in _annotations(fixtures_dir):
        if record["domain"] in ("intercode_bash",) or (module == "ground" and record["domain"] not in P.LUMOS_BLOCKS):
            continue
        messages = annotation_messages(record, module, formulation)
        assert [m["role"] for m in messages][::2] == ["user"] * ((len(messages) + 1) // 2)
        assert messages[-1]["role"] == "assistant" and all(m["content"] for m in messages)
        if module == "ground":
            assert messages[0]["content"].startswith(P.GROUND_INSTRUCTION)
        checked += 1
    assert checked >= 10


def test_sft_record_shape(fixtures_dir):
    record = sft_record(_annotations(fixtures_dir)[4], 3, "plan", "iterative")
    assert record["dataset"] == "maths" and record["id"] == "maths_3"
    roles = [m["role"] for m in record["messages"]]
    assert roles[0] == "user" and roles[-1] == "assistant" and record["messages"][-1]["content"] == P.STOP_PLANNING
    assert record["messages"][2]["content"] == "The executed result for Subgoal 1 is 1.5. Should we stop planning?"
    assert record["messages"][1]["content"] == "Subgoal 1: Calculate how much the soda costs in total."
