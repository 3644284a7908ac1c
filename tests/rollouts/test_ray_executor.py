"""The Ray executor on a local Ray cluster (one per module): the same trajectories as the local
executor, an actor killed mid-run, a driver SIGKILLed and resumed, failures stored, one-line errors."""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from rollouts.cli import main
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.ray_executor import LOCAL_OBJECT_STORE_BYTES, LOCAL_SYSTEM_CONFIG
from rollouts.store import read_trajectories
from tests.rollouts.engine_policies import GoldLinePolicy

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e .[ray])")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ORACLE = functools.partial(make_agent, AgentConfig(agent="oracle"))


def _ray_processes(root: psutil.Process) -> dict[int, psutil.Process]:
    """Ray's processes under `root` (GCS, raylet, workers) and everything they started."""
    found: dict[int, psutil.Process] = {}
    for child in root.children(recursive=True):
        try:
            if "ray" in child.name() or any("ray" in part for part in child.cmdline()):
                found[child.pid] = child
                found.update({p.pid: p for p in child.children(recursive=True)})
        except psutil.Error:
            continue
    return found


def _alive(processes: dict[int, psutil.Process]) -> list[str]:
    alive = []
    for process in processes.values():
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{process.pid} {process.name()}")
        except psutil.Error:
            continue
    return alive


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster owned by this module: started once, shut down at the end, nothing left behind."""
    temp = tempfile.mkdtemp(prefix="lumos-ray-test-")  # short: Ray's socket paths must fit 107 bytes
    ray.init(num_cpus=2, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False, _temp_dir=temp,
             _system_config=LOCAL_SYSTEM_CONFIG, logging_level=logging.WARNING, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    processes = _ray_processes(psutil.Process())
    assert processes, "the cluster's processes were found (else the check below proves nothing)"
    ray.shutdown()
    deadline = time.monotonic() + 30
    while _alive(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    shutil.rmtree(temp, ignore_errors=True)
    assert not _alive(processes), f"Ray processes left behind: {_alive(processes)}"


def _math(tasks: str, limit: int | None = None) -> Job:
    # A fresh actor's first bounded tool call starts its worker pool (a process importing sympy):
    # past the default 2 s limit on a loaded machine. The limit is generous so outcomes are the task's.
    return Job("lumos/Math-v0", tasks, limit, env_kwargs=(("tool_timeout_s", 30.0),))


def _config(out: Path, **overrides) -> RolloutConfig:
    values = dict(jobs=[_math("synthetic:math_train?size=1"), _math("synthetic:math_heldout?size=2")],
                  samples=2, out=str(out), reveal_gold=True, num_envs=3, progress=False, agent_info={"agent": "test"})
    values.update(overrides)
    return RolloutConfig(**values)


def _essence(path: Path) -> list[tuple]:
    """What must not depend on the executor: keys, actions, observations, rewards, model outputs."""
    _, trajectories = read_trajectories(path)
    return sorted((t.key.as_tuple(), [s.action for s in t.steps], [s.observation for s in t.steps], [s.reward for s in t.steps],
                   [[(g.role, g.text, g.token_ids) for g in s.generations] for s in t.steps], t.final_answer, t.reward, t.success,
                   t.end_reason, t.failure) for t in trajectories)


def test_oracle_on_ray_gives_the_local_trajectories_and_resumes_across_executors(ray_cluster, tmp_path):
    from lumos_envs.tasks.synthetic_math import MATH_FAMILIES

    episodes = 2 * (sum(1 for info in MATH_FAMILIES.values() if info.split == "train") + 2)  # _config's jobs, 2 samples each
    local = run_rollouts(_config(tmp_path / "local.jsonl"), ORACLE)
    remote = run_rollouts(_config(tmp_path / "ray.jsonl", executor="ray", ray_actors=2), ORACLE)
    assert remote.episodes == local.episodes == episodes and remote.successes == episodes and remote.failures == 0
    assert _essence(tmp_path / "ray.jsonl") == _essence(tmp_path / "local.jsonl")
    assert len({key for key, *_ in _essence(tmp_path / "ray.jsonl")}) == episodes
    header_local, _ = read_trajectories(tmp_path / "local.jsonl")
    header_ray, _ = read_trajectories(tmp_path / "ray.jsonl")
    assert header_ray["config_hash"] == header_local["config_hash"], "the executor is not part of the run's identity"
    again = run_rollouts(_config(tmp_path / "ray.jsonl", resume=True), ORACLE)  # the local executor continues a Ray file
    assert again.episodes == 0 and again.skipped == episodes


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from agents.backends.tiny import TinyModelConfig, default_corpus, save_tiny

    path = tmp_path_factory.mktemp("tiny")
    return str(save_tiny(path, TinyModelConfig(vocab_size=512, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
                         corpus=default_corpus(("synthetic:math_train?size=1",))))


def test_tiny_model_at_batch_size_1_on_ray_gives_the_local_trajectories(ray_cluster, tmp_path, tiny_dir):
    agent = functools.partial(make_agent, AgentConfig(agent="lumos", model=tiny_dir, batch_size=1, max_new_tokens=12, max_subgoals=2))
    overrides = dict(jobs=[_math("synthetic:math_train?size=1", limit=3)], samples=1, max_steps=3)
    run_rollouts(_config(tmp_path / "local.jsonl", **overrides), agent)
    # One actor: each actor's start (torch, the model) costs seconds here; the oracle test covers sharding.
    remote = run_rollouts(_config(tmp_path / "ray.jsonl", executor="ray", ray_actors=1, **overrides), agent)
    assert remote.episodes == 3
    essence = _essence(tmp_path / "ray.jsonl")
    assert essence == _essence(tmp_path / "local.jsonl")
    assert any(g for row in essence for step in row[4] for g in step), "the model was called"


def test_killing_an_actor_mid_run_loses_nothing_and_duplicates_nothing(ray_cluster, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="rollouts.ray_executor")
    out = tmp_path / "killed.jsonl"
    config = _config(out, jobs=[_math("synthetic:shopping_total?size=8")], num_envs=2, executor="ray", ray_actors=2)
    outcome: dict = {}

    def drive() -> None:
        try:
            outcome["result"] = run_rollouts(config, functools.partial(GoldLinePolicy, delay_s=0.1))
        except BaseException as error:  # noqa: BLE001  (re-raised in the test thread below)
            outcome["error"] = error

    driver = threading.Thread(target=drive)
    driver.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and len(out.read_text().splitlines()) >= 3):
        time.sleep(0.02)
    actors = [name for name in ray.util.list_named_actors() if name.startswith("lumos-rollout-")]
    assert actors, "the run's actors are named"
    ray.kill(ray.get_actor(actors[0]))
    written_at_kill = len(read_trajectories(out)[1])
    driver.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    assert written_at_kill < 16, "the actor was killed mid-run"
    assert re.search(r"lost .*; [1-9]\d* episodes queued again", caplog.text), caplog.text
    _, trajectories = read_trajectories(out)
    keys = [t.key.as_tuple() for t in trajectories]
    assert len(keys) == 16 and len(set(keys)) == 16, "none lost, none written twice"
    assert all(t.success and t.end_reason != "failed" for t in trajectories), "re-queued episodes were played again"
    assert outcome["result"].episodes == 16


def test_resume_after_sigkill_of_the_driver(ray_cluster, tmp_path):
    out = tmp_path / "driver.jsonl"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "tests.rollouts.ray_driver", str(out), ray_cluster]
    process = subprocess.Popen([*command, "fresh"], cwd=PROJECT_ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 3:  # header + at least 2 episodes
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    _, before = read_trajectories(out)
    assert 2 <= len(before) < 12, "the driver was killed mid-run"
    subprocess.run([*command, "resume"], cwd=PROJECT_ROOT, env=env, check=True, timeout=300)
    _, after = read_trajectories(out)
    keys = [t.key.as_tuple() for t in after]
    assert len(keys) == 12 and len(set(keys)) == 12, "exactly the requested episodes, none twice"
    assert {t.key.as_tuple() for t in before} <= set(keys) and all(t.success for t in after)


def test_an_actor_stuck_in_a_call_is_killed_and_its_episodes_stored_as_failed(ray_cluster, tmp_path, monkeypatch):
    # Only stuck work in this run: a short hang limit cannot be mistaken for slowness on a loaded machine.
    from rollouts import ray_executor
    from tests.rollouts.ray_driver import HangingPolicy

    monkeypatch.setattr(ray_executor, "HANG_GRACE_S", 0.5)  # the driver reads it per run
    config = _config(tmp_path / "hang.jsonl", jobs=[_math("synthetic:shopping_total?size=1")], samples=2, episode_timeout_s=1.0,
                     executor="ray", ray_actors=1)
    result = run_rollouts(config, functools.partial(HangingPolicy, "synthetic-shopping_total-0-0"))
    _, trajectories = read_trajectories(tmp_path / "hang.jsonl")
    assert sorted(t.key.sample for t in trajectories) == [0, 1], "each stuck episode stored once"
    assert result.failures == 2 and all(t.end_reason == "failed" for t in trajectories)
    assert all("sent nothing for 1.5 s" in t.failure and "lost 2 times" in t.failure for t in trajectories), trajectories[0].failure


class _FailsOnOneTask(GoldLinePolicy):
    """Raises inside act_batch for one task, as a crashing model back-end would."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id

    def act_batch(self, observations, infos, slots=None):
        if any(info["task"]["id"] == self.task_id for info in infos):
            raise RuntimeError("backend exploded")
        return super().act_batch(observations, infos, slots)


def test_failed_and_timed_out_episodes_are_stored_with_their_cause(tmp_path):
    jobs = [_math("synthetic:shopping_total?size=3")]
    _, gold = read_trajectories(run_rollouts(_config(tmp_path / "gold.jsonl", jobs=jobs), GoldLinePolicy()).path)
    broken = gold[0].key.task_id
    result = run_rollouts(_config(tmp_path / "failing.jsonl", jobs=jobs, num_envs=1), _FailsOnOneTask(broken))
    _, trajectories = read_trajectories(tmp_path / "failing.jsonl")
    assert result.episodes == 6 and result.failures == 2
    failed = [t for t in trajectories if t.end_reason == "failed"]
    assert {t.key.task_id for t in failed} == {broken} and all("backend exploded" in t.failure for t in failed)
    assert all(t.success and t.failure is None for t in trajectories if t.key.task_id != broken)

    slow = run_rollouts(_config(tmp_path / "slow.jsonl", jobs=jobs, episode_timeout_s=0.01), functools.partial(GoldLinePolicy, delay_s=0.02))
    _, trajectories = read_trajectories(slow.path)
    assert slow.failures == 6 and all(t.end_reason == "failed" and t.failure.startswith("episode timeout") for t in trajectories)


def test_user_errors_are_one_line(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "r.jsonl")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh `lumos` process
    assert main(["rollout", "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", out]) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in error and "\n" not in error
    assert main(["rollout", "--ray-address", "127.0.0.1:1", "--out", out]) == 2
    assert "--executor ray" in capsys.readouterr().err
    with pytest.raises(ValueError, match="policy factory"):
        run_rollouts(_config(tmp_path / "x.jsonl", executor="ray"), GoldLinePolicy())
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    assert main(["rollout", "--executor", "ray", "--out", out]) == 2
    error = capsys.readouterr().err.strip()
    assert "pip install 'lumos[ray]'" in error and "\n" not in error
    assert not Path(out).exists(), "nothing was written"
