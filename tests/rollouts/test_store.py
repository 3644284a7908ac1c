"""The trajectory store: durable appends, resume, torn lines, locks, no silent overwrite, export."""

from __future__ import annotations

import pytest

from rollouts.store import (
    EpisodeKey,
    GenerationRecord,
    StepRecord,
    StoreError,
    Trajectory,
    TrajectoryWriter,
    export_parquet,
    read_trajectories,
    to_dataset,
)

CONFIG = {"env": "lumos/Math-v0", "agent": "oracle", "temperature": 0.0}


def _trajectory(task: str, sample: int = 0, success: bool = True) -> Trajectory:
    step = StepRecord(index=0, action="R1 = Calculator(1 + 1)", observation="R1 = 2", subgoal="Add.",
                      generations=[GenerationRecord("grounder", "R1 = Calculator(1 + 1)", [5, 6, 7], [-0.1, -0.2, -0.3])])
    return Trajectory(key=EpisodeKey("lumos/Math-v0", task, 0, sample), split="train", domain="math", question="1+1?",
                      steps=[step], final_answer="2", reward=float(success), success=success, metrics={"correct": float(success)})


def test_round_trip_and_properties(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG) as writer:
        writer.write(_trajectory("a"))
        writer.write(_trajectory("a", sample=1, success=False))
    header, trajectories = read_trajectories(path)
    assert header["config"] == CONFIG and header["schema_version"] == 2
    assert [t.key.sample for t in trajectories] == [0, 1]
    assert trajectories[0] == _trajectory("a")
    assert trajectories[0].num_tokens == 3 and trajectories[0].num_format_errors == 0


def test_existing_file_is_never_overwritten_silently(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG) as writer:
        writer.write(_trajectory("a"))
    with pytest.raises(StoreError, match="exists"):
        TrajectoryWriter(path, CONFIG)
    with TrajectoryWriter(path, CONFIG, overwrite=True):
        pass
    assert read_trajectories(path)[1] == []


def test_resume_skips_done_episodes_and_refuses_other_configs(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG) as writer:
        writer.write(_trajectory("a"))
    with TrajectoryWriter(path, CONFIG, resume=True) as writer:
        assert writer.is_done(EpisodeKey("lumos/Math-v0", "a", 0, 0))
        with pytest.raises(StoreError, match="already"):
            writer.write(_trajectory("a"))
        writer.write(_trajectory("b"))
    assert [t.key.task_id for t in read_trajectories(path)[1]] == ["a", "b"]
    with pytest.raises(StoreError, match="different config"):
        TrajectoryWriter(path, {**CONFIG, "temperature": 1.0}, resume=True)


def test_torn_last_line_is_dropped_and_cut_on_resume(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG) as writer:
        writer.write(_trajectory("a"))
    with path.open("a") as handle:
        handle.write('{"type": "episode", "key": {"env_id": "lumos/Ma')  # killed mid-write
    assert [t.key.task_id for t in read_trajectories(path)[1]] == ["a"]
    with TrajectoryWriter(path, CONFIG, resume=True) as writer:
        writer.write(_trajectory("b"))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(line.startswith("{") and line.endswith("}") for line in lines)


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG):
        with pytest.raises(StoreError, match="another process"):
            TrajectoryWriter(path, CONFIG, resume=True)


def test_export_to_dataset_and_parquet(tmp_path):
    path = tmp_path / "run.jsonl"
    with TrajectoryWriter(path, CONFIG) as writer:
        writer.write(_trajectory("a"))
        writer.write(_trajectory("b", success=False))
    dataset = to_dataset([path])
    assert dataset.num_rows == 2 and dataset["success"] == [True, False]
    out = export_parquet([path], tmp_path / "run.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows == 2
