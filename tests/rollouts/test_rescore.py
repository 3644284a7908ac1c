"""`lumos rescore`: stored trajectories re-scored with another metric, the agent never rerun."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import pytest

import lumos_envs  # noqa: F401  (registers the env ids)
from rollouts.cli import COMMANDS
from rollouts.engine import Job, RolloutConfig
from rollouts.rescore import METRICS, RescoreConfig, rescore_file, rescore_report, run_rescore
from rollouts.store import EpisodeKey, StepRecord, StoreError, Trajectory, TrajectoryWriter, read_trajectories

SQL_TASKS = "synthetic:sql_lookup?size=8&seed=0"
MATH_TASKS = "synthetic:sharing?size=2&seed=0"


def _gold_of_template(template: str) -> tuple[int, str]:
    """The first task of SQL_TASKS drawn from `template`, and its gold query (found, not hard-coded,
    so the test holds whatever the generator draws)."""
    from lumos_envs.tasks.registry import load_tasks

    tasks = load_tasks(SQL_TASKS)
    index = next(i for i in range(len(tasks)) if tasks[i].metadata["template"] == template)
    return index, str(tasks[index].metadata["gold_sql"])


def _episode(env_id: str, tasks: str, index: int, actions: list[str]) -> Trajectory:
    """Run `actions` through a fresh env as an agent would have, and store what happened."""
    env = gym.make(env_id, tasks=tasks, disable_env_checker=True)
    _, info = env.reset(seed=index, options={"task_index": index})
    steps = []
    reward, terminated = 0.0, False
    for action in actions:
        observation, reward, terminated, _, info = env.step(action)
        steps.append(StepRecord(index=len(steps), action=action, observation=str(observation), reward=float(reward)))
        if terminated:
            break
    env.close()
    task = info["task"]
    return Trajectory(EpisodeKey(env_id, task["id"], index), "test", task["domain"], task["question"], steps=steps,
                      final_answer=info.get("answer"), reward=float(reward), success=bool(info.get("success")),
                      metrics={k: float(v) for k, v in (info.get("metrics") or {}).items()}, terminated=terminated,
                      end_reason="answered" if terminated else "step_limit")


def _write(path, jobs: list[Job], trajectories: list[Trajectory]) -> None:
    config = RolloutConfig(jobs=jobs, progress=False, out=str(path)).identity()
    with TrajectoryWriter(path, config, overwrite=True) as writer:
        for trajectory in trajectories:
            writer.write(trajectory)


@pytest.fixture(scope="module")
def sql_file(tmp_path_factory):
    """Three SQL episodes: the gold rows in reverse order, the gold rows as the gold gives them, no answer."""
    path = tmp_path_factory.mktemp("rescore") / "sql.jsonl"
    many, many_gold = _gold_of_template("customers_in")  # several rows, no ORDER BY
    one, one_gold = _gold_of_template("price_of")
    reversed_rows = _episode("lumos/SQL-v0", SQL_TASKS, many, [f"R1 = {many_gold} ORDER BY id DESC", "Answer(R1)"])
    gold_rows = _episode("lumos/SQL-v0", SQL_TASKS, one, [f"R1 = {one_gold}", "Answer(R1)"])
    no_answer = _episode("lumos/SQL-v0", SQL_TASKS, many, ["R1 = SHOW TABLES"])
    no_answer = replace(no_answer, key=EpisodeKey("lumos/SQL-v0", no_answer.key.task_id, 7))
    _write(path, [Job("lumos/SQL-v0", SQL_TASKS)], [reversed_rows, gold_rows, no_answer])
    return path


def test_sql_episodes_are_replayed_under_intercodes_reward(sql_file, tmp_path):
    _, (reversed_rows, gold_rows, _) = read_trajectories(sql_file)
    # the run scored with lumos's reward (order ignored without ORDER BY); the env also computed InterCode's
    assert reversed_rows.reward == 1.0 and reversed_rows.metrics["reward_intercode"] < 1.0
    result = rescore_file(sql_file, "intercode", tmp_path)
    assert (result.episodes, result.rescored, result.kept) == (3, 3, {})
    header, rescored = read_trajectories(result.out)
    assert header["config"]["rescored"] == {"metric": "intercode", "from": str(sql_file)}
    assert header["config"]["jobs"][0]["tasks"] == SQL_TASKS
    first, second, third = rescored
    assert first.reward == reversed_rows.metrics["reward_intercode"] and not first.success
    assert first.extra["original_score"] == {"reward": 1.0, "success": True, "metrics": reversed_rows.metrics}
    assert second.reward == 1.0 and second.success
    assert third.reward == 0.0 and third.metrics == {"reward": 0.0}
    assert result.mean_reward_after < result.mean_reward_before
    back = rescore_file(result.out, "sql-lumos", tmp_path / "back")  # and back: the original rewards
    assert [t.reward for t in read_trajectories(back.out)[1]] == [1.0, 1.0, 0.0]
    assert read_trajectories(back.out)[1][0].extra["original_score"]["reward"] == 1.0, "the first original score is kept"
    with pytest.raises(StoreError, match="exists"):
        rescore_file(sql_file, "intercode", tmp_path)


def test_a_diverging_replay_keeps_its_score(sql_file, tmp_path):
    header, trajectories = read_trajectories(sql_file)
    tampered = tmp_path / "tampered.jsonl"
    with TrajectoryWriter(tampered, header["config"]) as writer:
        writer.write(replace(trajectories[1], final_answer="not what the query returned", reward=0.5))
    result = rescore_file(tampered, "intercode")
    assert result.rescored == 0 and list(result.kept) == ["replay diverged (the replayed answer differs from the stored one)"]
    assert read_trajectories(result.out)[1][0].reward == 0.5


def test_answer_metrics_need_only_the_task(tmp_path, capsys):
    right = _episode("lumos/Math-v0", MATH_TASKS, 0, [])
    env = gym.make("lumos/Math-v0", tasks=MATH_TASKS, reveal_gold=True, disable_env_checker=True)
    _, info = env.reset(options={"task_index": 0})
    gold = info["gold"]["answer"]
    env.close()
    right = replace(right, final_answer=f"{gold}.0", reward=0.0, success=False, metrics={"correct": 0.0})  # scored 0 by some other rule
    wrong = replace(right, key=EpisodeKey("lumos/Math-v0", right.key.task_id, 1), final_answer="-1")
    path = tmp_path / "math.jsonl"
    _write(path, [Job("lumos/Math-v0", MATH_TASKS)], [right, wrong])
    assert run_rescore(RescoreConfig(files=[str(path)], metric="numeric_match")) == 0
    assert "2/2 episodes re-scored with numeric_match" in capsys.readouterr().out
    rescored = read_trajectories(path.with_name("math.rescored-numeric_match.jsonl"))[1]
    assert [t.reward for t in rescored] == [1.0, 0.0] and rescored[0].metrics["numeric_match"] == 1.0
    with pytest.raises(ValueError, match="applies to lumos/SQL-v0"):
        rescore_file(path, "intercode")


def test_rescore_command_and_its_errors():
    assert COMMANDS["rescore"] == ("rollouts.rescore:RescoreConfig", "rollouts.rescore:run_rescore", ("files",))
    with pytest.raises(ValueError, match="unknown metric 'bleu'.*intercode"):
        RescoreConfig(files=["x.jsonl"], metric="bleu")
    with pytest.raises(ValueError, match="at least one"):
        RescoreConfig(files=[])
    with pytest.raises(ValueError, match="no such trajectory file"):
        rescore_file("missing.jsonl", "em")
    assert {m.how for m in METRICS.values()} == {"answer", "replay"}


def test_an_evaluation_folder_gets_a_rescored_report(tmp_path, capsys):
    import json

    from rollouts.commands import EvalCommand, run_eval_command

    suites = [{"name": "sql", "env_id": "lumos/SQL-v0", "tasks": SQL_TASKS},
              {"name": "math", "env_id": "lumos/Math-v0", "tasks": MATH_TASKS, "kind": "heldout"}]
    run_eval_command(EvalCommand(agent="oracle", suites=json.dumps(suites), trained_domains=["math"], out=str(tmp_path / "eval")))
    assert run_rescore(RescoreConfig(files=[str(tmp_path / "eval")], metric="intercode")) == 0
    assert "report:" in capsys.readouterr().out
    out = tmp_path / "eval-rescored-intercode"
    report = json.loads((out / "report.json").read_text())
    assert [(s["name"], s["category"], s["episodes"]) for s in report["suites"]] == [("sql", "unseen", 8), ("math", "held-out", 2)]
    assert "intercode" in report["meta"]["re-scored with"] and report["category_provenance"]["derived"] is False
    header, _ = read_trajectories(out / "trajectories" / "sql.jsonl")
    assert header["config"]["rescored"]["metric"] == "intercode"
    assert "rescored" not in read_trajectories(out / "trajectories" / "math.jsonl")[0]["config"], "other suites are copied"
    with pytest.raises(StoreError, match="--overwrite"):
        rescore_report(tmp_path / "eval", "intercode")
    with pytest.raises(ValueError, match="no evaluation folder"):
        rescore_report(tmp_path, "intercode")
