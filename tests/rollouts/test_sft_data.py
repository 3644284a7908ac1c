"""Training data from trajectories (real execution results) and from LUMOS annotation records."""

from __future__ import annotations

import json

import pytest

from agents.oracle import OracleAgent
from agents.prompts import GROUND_INSTRUCTION, STOP_PLANNING
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.sft_data import SftDataConfig, build_sft_data
from rollouts.store import read_trajectories


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "oracle.jsonl"
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:shopping_total?size=3")], out=str(out),
                           reveal_gold=True, progress=False)
    run_rollouts(config, OracleAgent())
    return out


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trajectories_become_lumos_records_with_real_results(oracle_run, tmp_path):
    paths = build_sft_data(SftDataConfig(trajectories=[str(oracle_run)], out=str(tmp_path)))
    assert {"maths_plan_iterative", "maths_ground_iterative", "unified_plan_iterative", "maths_integrated", "maths_cot"} <= set(paths)
    assert not any(name.endswith("_onetime") for name in paths), "LUMOS-I trajectories give LUMOS-I records"
    crossed = build_sft_data(SftDataConfig(trajectories=[str(oracle_run)], out=str(tmp_path / "cross"), cross_formulation=True))
    assert "maths_ground_onetime" in crossed
    _, trajectories = read_trajectories(oracle_run)
    plan = _read(paths["maths_plan_iterative"])
    assert len(plan) == 3 and plan[0]["dataset"] == "maths" and plan[0]["id"] == "maths_0"
    messages = plan[0]["messages"]
    first_result = trajectories[0].steps[0].result
    assert messages[2]["content"] == f"The executed result for Subgoal 1 is {first_result}. Should we stop planning?"
    assert messages[-1]["content"] == STOP_PLANNING
    ground = _read(paths["maths_ground_iterative"])[0]["messages"]
    assert ground[0]["content"].startswith(GROUND_INSTRUCTION)
    assert ground[1]["content"] == trajectories[0].steps[0].action
    unified = _read(paths["unified_plan_iterative"])
    assert {r["dataset"] for r in unified} == {"unified"} and len(unified) == 3
    assert _read(paths["maths_cot"])[0]["messages"][1]["content"].endswith(f"Answer is {trajectories[0].final_answer}.")


def test_failed_trajectories_are_filtered(oracle_run, tmp_path):
    paths = build_sft_data(SftDataConfig(trajectories=[str(oracle_run)], out=str(tmp_path), min_reward=2.0))
    assert paths == {}


def test_annotation_records_convert_like_lumos(fixtures_dir, tmp_path):
    paths = build_sft_data(SftDataConfig(annotations=[str(fixtures_dir / "lumos" / "annotations.jsonl")], out=str(tmp_path)))
    assert "maths_plan_iterative" in paths and "complex_qa_ground_iterative" in paths
    assert "intercode_sql_ground_iterative" not in paths, "LUMOS has no grounding block for SQL"
    assert len(_read(paths["maths_plan_onetime"])) == 10
