"""Evaluation reports: summaries, the three files, comparison with an earlier report."""

from __future__ import annotations

import json

import pytest

from rollouts.report import summarize, write_report
from rollouts.store import EpisodeKey, GenerationRecord, StepRecord, Trajectory


def _trajectory(task: str, success: bool, format_error: bool = False) -> Trajectory:
    steps = [StepRecord(index=0, action="x", observation="y", format_error="bad" if format_error else None,
                        generations=[GenerationRecord("planner", "Subgoal 1: a", [1, 2])]),
             StepRecord(index=1, action="Answer(R1)", observation="Answer = 1")]
    return Trajectory(EpisodeKey("lumos/Math-v0", task, 0), "test", "math", "q", steps=steps,
                      reward=float(success), success=success, metrics={"correct": float(success)})


def test_summary_numbers():
    result = summarize("math/test", "lumos/Math-v0", "synthetic:math_train", "in-domain",
                       [_trajectory("a", True), _trajectory("b", False, format_error=True)])
    assert result.episodes == 2 and result.success_rate == 0.5 and result.mean_steps == 2
    assert result.format_error_rate == 0.25 and result.mean_tokens == 2 and result.metrics == {"correct": 0.5}
    with pytest.raises(ValueError, match="category"):
        summarize("x", "e", "t", "sideways", [])


def test_report_files_and_comparison(tmp_path):
    first = [summarize("math/test", "lumos/Math-v0", "s", "in-domain", [_trajectory("a", False)]),
             summarize("sql/unseen", "lumos/SQL-v0", "s", "unseen", [_trajectory("a", False)])]
    paths = write_report(first, tmp_path / "r1")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    second = [summarize("math/test", "lumos/Math-v0", "s", "in-domain", [_trajectory("a", True)])]
    paths = write_report(second, tmp_path / "r2", compare_to=tmp_path / "r1")
    data = json.loads(paths["json"].read_text())
    assert data["delta_success_rate"] == {"math/test": 1.0}
    assert "+100.0%" in paths["md"].read_text()
