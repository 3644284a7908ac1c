"""LUMOS's WebShop in-context examples: parsed from the bundled file, turned into the turns LUMOS shows."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401
from agents.agent import LumosAgent
from agents.backends.scripted import ScriptedBackend
from agents.demonstrations import load_examplars, lumos_demonstrations, parse_examplars, plan_turns
from agents.grounder import Grounder
from agents.planner import Planner
from agents.prompts import STOP_PLANNING
from lumos_envs.actions import parse_actions

FIXTURE = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "lumos" / "webshop_examplars.json"
SHIRT = ("Find me slim fit, loose fit women's tops, tees & blouses with long sleeve, short sleeve with color: "
         "a01#black, and size: large, and price lower than 50.00 dollars")


def test_bundled_examplars_are_lumos_file():
    bundled = Path(__file__).resolve().parents[2] / "agents" / "data" / "webshop_examplars.json"
    assert json.loads(bundled.read_text()) == json.loads(FIXTURE.read_text())


def test_examplars_parse_into_five_subgoals_with_their_actions():
    examples = load_examplars()
    assert [e.instruction for e in examples][0] == SHIRT
    assert [len(e.subgoals) for e in examples] == [5, 5]
    first = examples[0]
    assert first.subgoals[3] == ("Subgoal 4: Pick up the most related one from the two relevant items according to the product names and their features.", "b094q7b3ss")
    assert first.actions[2] == ("R4 = Click(< prev)", "R5 = Click(b094q7b3ss)", f"R6 = FeatureRetrieve(R5, Query: {SHIRT})")
    assert first.actions[4][-1] == "R13 = Click(buy now)."
    for example in examples:  # every demonstrated action is valid LUMOS action text for lumos's parser
        for group in example.actions:
            for action in group:
                assert parse_actions(action.rstrip("."))


def test_planner_turns_read_as_in_lumos_webshop_evaluation():
    turns = plan_turns(load_examplars()[0])
    assert turns[0] == {"role": "user", "content": (
        "Please provide a reasonable subgoal-based plan to solve the given task.\n"
        f"Task: {SHIRT}; Initial Environment Description: None.")}
    assert turns[1] == {"role": "assistant", "content": "Subgoal 1: Search two relevant items and the product names according to the instruction."}
    assert turns[2]["content"].startswith("The execution result for Subgoal 1 is b09s3bn15c - Mens Linen Shirt,")
    assert turns[6] == {"role": "user", "content": "The execution result for Subgoal 3 is black, large, x-large."}
    assert turns[-1] == {"role": "user", "content": "The execution result for Subgoal 5 is Done."}
    assert len(turns) == 11
    onetime = plan_turns(load_examplars()[0], "onetime")
    assert len(onetime) == 2 and onetime[1]["content"].count("; Subgoal ") == 4


def test_grounder_turns_read_as_in_lumos_webshop_evaluation():
    ground = lumos_demonstrations("iterative")["webshop"].ground
    assert ground[0]["content"] == (
        "Please ground the given subgoal to corresponding executable actions for solving the given task. "
        "The grounded actions must be the one in available action list.\n\n"
        "The available action list is 'Search', 'FeatureRetrieve', 'Pick' and 'Click'.\n"
        "Search(Query): Search related items according to the Query; FeatureRetrieve(Feature_list, Query): Select the "
        "most relevant features from Feature_list according to Query; Pick(Item_names, Item_features, Query): Pick the "
        "most relevant item from Item_names according to Query, Item_names and Item_features; Click(Item): Click the "
        "Item to check more information.\n\n"
        f"Task: {SHIRT} \nSubgoal to be grounded: Subgoal 1: Search two relevant items and the product names according to the instruction.\n")
    assert ground[1] == {"role": "assistant", "content": f"R1 = Search({SHIRT})."}
    assert ground[2] == {"role": "user", "content": "Subgoal to be grounded: Subgoal 2: Select the most relevant features of item b09s3bn15c.\n"}
    assert ground[3]["content"] == f"R2 = Click(b09s3bn15c); R3 = FeatureRetrieve(R2, Query: {SHIRT})."
    assert len(ground) == 20  # two examples, five subgoals each, a user and an assistant turn per subgoal


@pytest.mark.parametrize("broken", [
    {"PLAN_EXAMPLARS": [], "GROUND_EXAMPLARS": [{"instruction": "x", "actions": "Action 1-1: R1 = Search(x)"}]},
    {"PLAN_EXAMPLARS": [{"instruction": "x", "subgoals": "Subgoal 1: Search."}],
     "GROUND_EXAMPLARS": [{"instruction": "x", "actions": "Action 1-1: R1 = Search(x)"}]},
    {"PLAN_EXAMPLARS": [{"instruction": "x", "subgoals": "Subgoal 1: Search. || Results: a; Subgoal 2: Buy. || Results: b"}],
     "GROUND_EXAMPLARS": [{"instruction": "x", "actions": "Action 1-1: R1 = Search(x)"}]},
    {"PLAN_EXAMPLARS": [{"instruction": "x", "subgoals": "Subgoal 1: Search. || Results: a"}],
     "GROUND_EXAMPLARS": [{"instruction": "y", "actions": "Action 1-1: R1 = Search(y)"}]},
])
def test_inconsistent_examplars_are_refused(broken):
    with pytest.raises(ValueError):
        parse_examplars(broken)


def _first_requests(demonstrations):
    planner = ScriptedBackend(lambda conversation: STOP_PLANNING)
    agent = LumosAgent(Planner(planner), Grounder(ScriptedBackend([])), demonstrations=demonstrations)
    requests = {}
    for env_id in ("lumos/WebShop-v0", "lumos/Math-v0"):
        env = gym.make(env_id)
        observation, info = env.reset(seed=0)
        agent.reset(observation, info)
        agent.act_batch([observation], [info])
        requests[env_id] = planner.requests[-1]
        env.close()
    return requests


def test_agent_shows_the_examples_before_webshop_prompts_only():
    requests = _first_requests(None)
    shown = lumos_demonstrations("iterative")["webshop"].plan
    webshop = requests["lumos/WebShop-v0"]
    assert webshop[: len(shown)] == list(shown)
    assert webshop[len(shown)]["content"].startswith("Please provide a reasonable subgoal-based plan")
    assert len(webshop) == len(shown) + 1
    assert len(requests["lumos/Math-v0"]) == 1


def test_agent_without_demonstrations_shows_none():
    requests = _first_requests({})
    assert len(requests["lumos/WebShop-v0"]) == 1
