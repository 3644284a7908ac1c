"""Evaluation reports: summaries with intervals, end reasons and pass@k, the three files, per-category pools, paired comparison (McNemar)."""

from __future__ import annotations

import json

import pytest

from rollouts.report import summarize, write_report
from rollouts.store import EpisodeKey, GenerationRecord, StepRecord, Trajectory, read_trajectories


def _trajectory(task: str, success: bool, format_error: bool = False) -> Trajectory:
    steps = [StepRecord(index=0, action="x", observation="y", format_error="bad" if format_error else None,
                        generations=[GenerationRecord("planner", "Subgoal 1: a", [1, 2])]),
             StepRecord(index=1, action="Answer(R1)", observation="Answer = 1")]
    return Trajectory(EpisodeKey("lumos/Math-v0", task, 0), "test", "math", "q", steps=steps,
                      reward=float(success), success=success, metrics={"correct": float(success)})


def test_summary_numbers():
    result = summarize("math/test", "lumos/Math-v0", "synthetic:math_train", "in-template",
                       [_trajectory("a", True), _trajectory("b", False, format_error=True)])
    assert result.episodes == 2 and result.success_rate == 0.5 and result.mean_steps == 2
    assert result.format_error_rate == 0.25 and result.mean_tokens == 2 and result.metrics == {"correct": 0.5}
    with pytest.raises(ValueError, match="category"):
        summarize("x", "e", "t", "sideways", [])


def test_report_files_and_comparison(tmp_path):
    first = [summarize("math/test", "lumos/Math-v0", "s", "in-template", [_trajectory("a", False)]),
             summarize("sql/unseen", "lumos/SQL-v0", "s", "unseen", [_trajectory("a", False)])]
    paths = write_report(first, tmp_path / "r1")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    second = [summarize("math/test", "lumos/Math-v0", "s", "in-template", [_trajectory("a", True)])]
    paths = write_report(second, tmp_path / "r2", compare_to=tmp_path / "r1")
    data = json.loads(paths["json"].read_text())
    assert data["delta_success_rate"] == {"math/test": 1.0}
    assert "+100.0%" in paths["md"].read_text()


def _episode(task: str, success: bool, *, seed: int = 0, sample: int = 0, end_reason: str = "answered",
             reward: float | None = None) -> Trajectory:
    return Trajectory(EpisodeKey("lumos/Math-v0", task, seed, sample), "test", "math", "q", reward=float(success) if reward is None else reward,
                      success=success, end_reason=end_reason)


def test_intervals_and_end_reasons():
    from rollouts.stats import bootstrap_interval, wilson_interval

    episodes = [_episode("a", True), _episode("b", False, end_reason="step_limit", reward=0.25), _episode("c", True),
                _episode("d", False, end_reason="planner_stopped", reward=0.5)]
    result = summarize("s", "lumos/Math-v0", "t", "held-out", episodes, seed=7)
    assert result.successes == 2 and result.success_ci == wilson_interval(2, 4)
    assert result.reward_ci == bootstrap_interval([1.0, 0.25, 1.0, 0.5], seed=7)
    assert result.end_reasons == {"answered": 2, "planner_stopped": 1, "step_limit": 1}
    assert result.samples == 1 and result.pass_at_k == {} and result.mean_at_k is None
    assert summarize("s", "e", "t", "in-domain", []).category == "in-template", "the older name still reads"


def test_pass_at_k_over_tasks():
    # task a: 1 of 3 samples succeed, task b: none
    episodes = [_episode("a", i == 0, seed=i, sample=i) for i in range(3)] + [_episode("b", False, seed=3 + i, sample=i) for i in range(3)]
    result = summarize("s", "lumos/Math-v0", "t", "in-template", episodes)
    assert result.samples == 3 and result.num_tasks == 2
    assert result.pass_at_k["1"] == pytest.approx((1 / 3 + 0) / 2)
    assert result.pass_at_k["2"] == pytest.approx((1 - 1 / 3) / 2)  # 1 - C(2,2)/C(3,2) for a
    assert result.pass_at_k["3"] == pytest.approx(0.5)
    assert result.mean_at_k == pytest.approx(1 / 6) and set(result.pass_at_k_ci) == {"1", "2", "3"}


def _write(path, outcomes):
    from rollouts.store import TrajectoryWriter

    with TrajectoryWriter(path, {"test": True}) as writer:
        for index, success in enumerate(outcomes):
            writer.write(_episode(f"t{index}", success, seed=index))


def test_paired_comparison_with_mcnemar(tmp_path):
    before = [True, True, False, False, False, False, False, False, True, False]
    after = [True, False, True, True, True, True, True, True, True, False]  # 1 lost, 6 gained
    for name, outcomes in (("r1", before), ("r2", after)):
        (tmp_path / name / "trajectories").mkdir(parents=True)
        _write(tmp_path / name / "trajectories" / "math.jsonl", outcomes)
    first = summarize("math", "lumos/Math-v0", "synthetic:x", "in-template", read_trajectories(tmp_path / "r1" / "trajectories" / "math.jsonl")[1],
                      path="trajectories/math.jsonl")
    write_report([first], tmp_path / "r1")
    second = summarize("math", "lumos/Math-v0", "synthetic:x", "in-template", read_trajectories(tmp_path / "r2" / "trajectories" / "math.jsonl")[1],
                       path="trajectories/math.jsonl")
    paths = write_report([second], tmp_path / "r2", compare_to=tmp_path / "r1")
    comparison = json.loads(paths["json"].read_text())["suites"][0]["comparison"]
    assert (comparison["pairs"], comparison["only_before"], comparison["only_after"], comparison["both"]) == (10, 1, 6, 2)
    assert comparison["success_diff"] == pytest.approx(0.5) and comparison["mcnemar_p"] == pytest.approx(0.125)
    assert "p=0.125" in paths["md"].read_text()
    other = summarize("math", "lumos/Math-v0", "synthetic:y", "in-template", [], path="trajectories/math.jsonl")
    with pytest.raises(ValueError, match="needs the same tasks"):
        write_report([other], tmp_path / "r3", compare_to=tmp_path / "r1")


def test_categories_pooled_with_intervals(tmp_path):
    from rollouts.stats import wilson_interval

    results = [summarize("a", "lumos/Math-v0", "s", "held-out", [_episode("x", True), _episode("y", False)]),
               summarize("b", "lumos/Math-v0", "s", "held-out", [_episode("z", True)]),
               summarize("c", "lumos/SQL-v0", "s", "unknown", [_episode("w", False)])]
    paths = write_report(results, tmp_path, category_provenance={"source": "model records (planner: p)", "derived": True})
    data = json.loads(paths["json"].read_text())
    assert data["categories"]["held-out"]["successes"] == 2 and data["categories"]["held-out"]["episodes"] == 3
    assert data["categories"]["held-out"]["success_ci"] == list(wilson_interval(2, 3))
    assert data["category_provenance"]["derived"] and set(data["categories"]) == {"held-out", "unknown"}
    text = paths["md"].read_text()
    assert "- held-out: 66.7% [" in text and "categories from: model records (planner: p)" in text


def test_overlap_with_training_is_shown_and_warned(tmp_path):
    result = summarize("math/x", "lumos/Math-v0", "s", "in-template", [_episode("a", True)])
    result.training_overlap = {"questions": 1, "exact_duplicates": 1, "masked_duplicates": 1, "training_specs": ["synthetic:x"],
                               "skipped_specs": {"gsm8k:train.jsonl": "no such file"}}
    text = write_report([result], tmp_path)["md"].read_text()
    assert "| math/x | 1 | 1 | 1 |" in text and "training questions repeated in math/x (1 exact, 1 masked)" in text
    assert "not checked against gsm8k:train.jsonl: no such file" in text


def test_seen_and_template_disjoint_suites_are_pooled_alone(tmp_path):
    """`seen` suites stand in their own table and pool; template-disjoint ones get their own label and pool."""
    results = [summarize("math/test", "lumos/Math-v0", "s", "in-template", [_episode("a", True)]),
               summarize("math/templates", "lumos/Math-v0", "s", "held-out-template", [_episode("b", False)]),
               summarize("math/svamp", "lumos/Math-v0", "s", "held-out", [_episode("c", False)]),
               summarize("math/train", "lumos/Math-v0", "s", "seen", [_episode("d", True), _episode("e", True)])]
    paths = write_report(results, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert {c: d["suites"] for c, d in data["categories"].items()} == {
        "in-template": ["math/test"], "held-out-template": ["math/templates"], "held-out": ["math/svamp"], "seen": ["math/train"]}
    assert data["categories"]["held-out-template"]["label"] == "held-out (template-disjoint)"
    assert data["categories"]["in-template"]["episodes"] == 1, "seen episodes never join the in-template pool"
    text = paths["md"].read_text()
    main_table, _, seen_table = text.partition("Seen suites:")
    assert "| math/templates | held-out (template-disjoint) |" in main_table and "| math/train |" not in main_table
    assert "| math/train | seen |" in seen_table.split("Per category")[0]
    assert "- held-out (template-disjoint): 0.0%" in text and "- seen: 100.0%" in text
