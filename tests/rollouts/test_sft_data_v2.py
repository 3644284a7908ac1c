"""SFT data from schema-v2 trajectories: records follow the formulation (LUMOS-O gives one-time
records only), turns that broke the format are left out and counted, DPO pairs from a success and
a failure on the same task."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from agents.oracle import OracleAgent
from agents.prompts import GROUND_INSTRUCTION, PLAN_INSTRUCTION
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.sft_data import (
    ConversionStats,
    SftDataConfig,
    build_sft_data,
    dpo_pairs,
    flagged_modules,
    plan_steps,
    trajectory_formulation,
    trajectory_records,
)
from rollouts.store import read_trajectories

TASKS = "synthetic:shopping_total?size=2&seed=5"


def _run(tmp_path_factory: pytest.TempPathFactory, formulation: str) -> Path:
    out = tmp_path_factory.mktemp(formulation) / "oracle.jsonl"
    run_rollouts(RolloutConfig(jobs=[Job("lumos/Math-v0", TASKS)], out=str(out), reveal_gold=True, progress=False,
                               agent_info={"agent": "oracle", "formulation": formulation}), OracleAgent(formulation=formulation))
    return out


@pytest.fixture(scope="module")
def onetime_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory, "onetime")


@pytest.fixture(scope="module")
def iterative_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory, "iterative")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_lumos_o_trajectory_gives_one_time_records_only(onetime_run: Path, tmp_path: Path) -> None:
    _, trajectories = read_trajectories(onetime_run)
    assert all(trajectory_formulation(t) == "onetime" for t in trajectories)
    assert all(plan_steps(t) is None for t in trajectories), "a one-time plan is not one iterative subgoal"
    unmarked = copy.deepcopy(trajectories[0])
    unmarked.agent = {}
    assert trajectory_formulation(unmarked) == "onetime"  # read from the steps where the agent is not recorded
    paths = build_sft_data(SftDataConfig(trajectories=[str(onetime_run)], out=str(tmp_path)))
    assert set(paths) == {"maths_plan_onetime", "maths_ground_onetime", "unified_plan_onetime", "unified_ground_onetime"}
    plans, grounds = _read(paths["maths_plan_onetime"]), _read(paths["maths_ground_onetime"])
    assert len(plans) == len(grounds) == 2
    for trajectory, plan, ground in zip(trajectories, plans, grounds):
        first = trajectory.steps[0]
        assert [m["role"] for m in plan["messages"]] == ["user", "assistant"]
        assert plan["messages"][0]["content"].startswith(PLAN_INSTRUCTION)
        assert plan["messages"][1]["content"] == first.subgoal and "; Subgoal 2: " in first.subgoal
        assert [m["role"] for m in ground["messages"]] == ["user", "assistant"]
        assert ground["messages"][0]["content"].startswith(GROUND_INSTRUCTION)
        assert ground["messages"][0]["content"].endswith(f"Subgoals to be grounded: {first.subgoal}\n")
        assert ground["messages"][1]["content"] == first.action
    stats = json.loads((tmp_path / "sft_stats.json").read_text())
    assert stats["kept"] == 2 and stats["formulations"] == {"onetime": 2} and stats["dropped_turns"] == 0


def test_format_errors_and_truncated_turns_are_dropped_and_counted(iterative_run: Path) -> None:
    _, trajectories = read_trajectories(iterative_run)
    clean = trajectories[0]
    steps = plan_steps(clean)
    assert steps is not None and len(steps) >= 2
    broken = copy.deepcopy(clean)
    broken.steps[1].format_error = "planner: 2 subgoals in one turn"
    next(g for g in broken.steps[0].generations if g.role == "grounder").finish_reason = "truncated"
    assert flagged_modules(broken.steps[1]) == {"plan"} and flagged_modules(broken.steps[0]) == {"ground"}
    stats = ConversionStats()
    sets = trajectory_records([clean, broken], stats=stats)
    (clean_plan, broken_plan) = sets["maths_plan_iterative"]
    assert len(broken_plan["messages"]) == 2  # the first subgoal only: the second planner turn broke the format
    assert broken_plan["messages"][1]["content"] == clean_plan["messages"][1]["content"]
    assert len(sets["maths_ground_iterative"]) == 1, "a truncated first grounding turn leaves no grounding record"
    assert len(sets["maths_integrated"]) == 1 and len(sets["maths_cot"]) == 1
    assert stats.format_error_steps == 2
    assert stats.dropped_turns == (len(steps) + 1 - 1) + len(steps)  # planner turns from step 2 on (stop included), every grounder turn
    assert stats.kept == 2 and stats.formulations == {"iterative": 2}


def test_dpo_pairs_from_a_success_and_a_failure_on_the_same_task(iterative_run: Path, tmp_path: Path) -> None:
    _, trajectories = read_trajectories(iterative_run)
    success = trajectories[0]
    failure = copy.deepcopy(success)
    failure.key = type(success.key)(success.key.env_id, success.key.task_id, success.key.seed, sample=1)
    failure.reward, failure.success, failure.end_reason = 0.0, False, "answered"
    next(g for g in failure.steps[1].generations if g.role == "grounder").text = "R2 = Calculator(R1 + 1000)"
    other_task_failure = copy.deepcopy(trajectories[1])
    other_task_failure.reward = 0.0  # a failure with no success on its task gives no pair
    pairs = dpo_pairs([success, failure, other_task_failure])
    assert set(pairs) == {"maths_ground_iterative_dpo"}, "the planner turns are the same: no planner pair"
    (pair,) = pairs["maths_ground_iterative_dpo"]
    assert pair["task_id"] == success.key.task_id
    assert [m["role"] for m in pair["prompt"]] == ["user", "assistant", "user"]
    assert pair["prompt"][1]["content"] == success.steps[0].action
    assert pair["chosen"] == [{"role": "assistant", "content": success.steps[1].action}]
    assert pair["rejected"] == [{"role": "assistant", "content": "R2 = Calculator(R1 + 1000)"}]
    # written by build_sft_data beside the SFT records, in TRL's conversational preference format
    from rollouts.store import TrajectoryWriter

    path = tmp_path / "mixed.jsonl"
    with TrajectoryWriter(path, {"run": "dpo-test"}) as writer:
        for trajectory in (success, failure):
            writer.write(trajectory)
    paths = build_sft_data(SftDataConfig(trajectories=[str(path)], out=str(tmp_path / "sft")))
    assert _read(paths["maths_ground_iterative_dpo"])[0]["rejected"] == pair["rejected"]
    assert json.loads((tmp_path / "sft" / "sft_stats.json").read_text())["dpo_pairs"] == 1
