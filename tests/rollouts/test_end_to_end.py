"""The whole LUMOS loop at tiny sizes: oracle trajectories -> SFT data -> TRL -> evaluation report,
then one round of the improvement loop from the trained models."""

from __future__ import annotations

import json

import pytest

from rollouts.demo import DemoConfig, run_demo
from rollouts.improve import ImproveConfig, improve


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_demo_then_improve_at_tiny_sizes(tmp_path, fixtures_dir):
    gsm8k = tmp_path / "gsm8k.jsonl"
    gsm8k.write_text("".join((fixtures_dir / "gsm8k" / "test_sample.jsonl").read_text().splitlines(keepends=True)[:2]))
    config = DemoConfig(out=str(tmp_path / "demo"), train_minutes=0.4, math_tasks_per_family=6, other_tasks=2,
                        test_tasks_per_family=2, heldout_tasks=3, num_envs=8, vqa_backend="oracle", gsm8k_file=str(gsm8k),
                        max_subgoals=3, max_new_tokens=32)
    summary = run_demo(config)
    report = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    categories = {suite["category"] for suite in report["suites"]}
    assert categories == {"in-template", "held-out", "unseen"}
    names = {suite["name"] for suite in report["suites"]}
    assert {"math/shopping_total", "math/gsm8k-sample", "qa/test", "multimodal/heldout", "webshop", "sql"} <= names
    assert report["demo"]["training"]["plan"]["steps"] > 0 and report["demo"]["training"]["ground"]["steps"] > 0
    assert (tmp_path / "demo" / "report" / "report.png").stat().st_size > 0
    assert summary["report"].endswith("report.md")
    assert report["demo"]["headline"]["gsm8k_like_test_tasks"] == 8 and 0.0 <= report["demo"]["headline"]["gsm8k_like_test_success"] <= 1.0

    trained = tmp_path / "demo" / "tiny"
    rounds = improve(ImproveConfig(agent="lumos", planner_model=str(trained / "planner"), grounder_model=str(trained / "grounder"),
                                   env=["lumos/Math-v0"], tasks=["synthetic:sharing?size=2&seed=5"], rounds=1, samples=2,
                                   min_reward=0.0, train_minutes=0.2, num_envs=4, max_subgoals=3, max_new_tokens=32,
                                   out=str(tmp_path / "improve")))
    (round_0,) = rounds
    assert round_0["attempts"] == 4
    assert set(round_0.get("new_models", {"plan": 1, "ground": 1})) == {"plan", "ground"}
    assert (tmp_path / "improve" / "round_0" / "report.md").exists()
