"""The rollout engine: the one loop that steps lumos envs with an agent and stores trajectories.

Many envs (of one or several domains) are stepped together: at each step every episode in flight
gets its next action from one `agent.act_batch` call (which batches all planner prompts into one
back-end call, then all grounder prompts into another), then the envs step — in parallel worker
threads when `num_workers > 0`, for slow envs such as WebShop's browser mode. Finished episodes
go to the trajectory store at once (flushed and fsynced), so a killed run resumes with `resume`.
Domain differences live in envs and agents, never here.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import gymnasium as gym

import lumos_envs  # noqa: F401  (registers the lumos env ids)
from rollouts.store import EpisodeKey, GenerationRecord, StepRecord, Trajectory, TrajectoryWriter

logger = logging.getLogger(__name__)


class Policy(Protocol):
    """What the engine needs from an agent (`LumosAgent`, `OracleAgent`, the baselines)."""

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None: ...

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]: ...


@dataclass(frozen=True)
class Job:
    """One (env, task set) to roll out: every task, `samples` attempts each."""

    env_id: str
    tasks: str | None = None
    """task spec; None for the env's bundled default"""
    limit: int | None = None
    """only the first N tasks"""
    split_name: str = ""
    """a label stored with each trajectory (e.g. `train`, `heldout`); default: the task's own split"""
    env_kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass
class RolloutConfig:
    """Settings of one rollout run."""

    # what to run
    jobs: list[Job] = field(default_factory=lambda: [Job("lumos/Math-v0")])
    """(env, task set) pairs"""
    samples: int = 1
    """attempts per task (sample index 0..samples-1)"""
    seed: int = 0
    """episode e of a job resets with seed + e"""
    max_steps: int = 20
    """env step limit per episode"""
    # how
    num_envs: int = 16
    """episodes in flight at once (one batched agent call per step covers all of them)"""
    num_workers: int = 0
    """threads stepping envs in parallel (0: step in this thread)"""
    # where
    out: str = "runs/rollouts.jsonl"
    """trajectory file"""
    resume: bool = False
    """continue `out`, skipping episodes already written (refused if the config differs)"""
    overwrite: bool = False
    """replace `out` if it exists"""
    reveal_gold: bool = False
    """make envs with `reveal_gold=True` (needed by the oracle agent)"""
    agent_info: dict[str, Any] = field(default_factory=dict)
    """agent name, model and sampling settings, stored with each trajectory and in the config hash"""
    progress: bool = True
    """show a progress bar"""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if not self.jobs:
            raise ValueError("jobs must name at least one env")

    def identity(self) -> dict[str, Any]:
        """The parts of the config that decide which episodes exist and how they are produced
        (what `resume` compares); where and how fast they are produced is left out."""
        data = asdict(self)
        for name in ("out", "resume", "overwrite", "progress", "num_envs", "num_workers"):
            data.pop(name)
        return data


@dataclass
class RolloutResult:
    """Summary of a run (the trajectories themselves are in the store)."""

    path: Path
    episodes: int
    skipped: int
    successes: int
    wall_s: float
    env_s: float
    """time spent inside env.step (tools included)"""
    agent_s: float
    """time spent inside agent.act_batch (model calls included)"""

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.wall_s if self.wall_s else 0.0


@dataclass
class _Episode:
    key: EpisodeKey
    job: Job
    task_index: int


@dataclass
class _Running:
    episode: _Episode
    env: gym.Env
    observation: Any
    info: dict[str, Any]
    steps: list[StepRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    calls_seen: int = 0
    errors_seen: int = 0
    terminated: bool = False
    truncated: bool = False


def run_rollouts(config: RolloutConfig, agent: Policy) -> RolloutResult:
    """Roll out `agent` on every episode of `config.jobs` and append the trajectories to `config.out`."""
    started = time.monotonic()
    timings = {"env": 0.0, "agent": 0.0}
    envs: dict[tuple[int, Job], gym.Env] = {}
    with TrajectoryWriter(config.out, config.identity(), resume=config.resume, overwrite=config.overwrite) as writer:
        episodes = list(_episodes(config, envs))
        pending = deque(e for e in episodes if not writer.is_done(e.key))
        skipped = len(episodes) - len(pending)
        slots: list[_Running | None] = [None] * min(config.num_envs, max(1, len(pending)))
        successes = finished = 0
        bar = _progress(len(pending), config.progress)
        pool = ThreadPoolExecutor(config.num_workers) if config.num_workers else None
        try:
            while pending or any(slots):
                for slot, running in enumerate(slots):
                    if running is None and pending:
                        slots[slot] = _start(pending.popleft(), slot, agent, config, envs)
                active = [i for i, r in enumerate(slots) if r is not None]
                tick = time.monotonic()
                actions = agent.act_batch([slots[i].observation for i in active], [slots[i].info for i in active], slots=active)
                timings["agent"] += time.monotonic() - tick
                tick = time.monotonic()
                step = lambda pair: _step(slots[pair[0]], pair[1])  # noqa: E731
                outcomes = list(pool.map(step, zip(active, actions)) if pool else map(step, zip(active, actions)))
                timings["env"] += time.monotonic() - tick
                for slot, done in zip(active, outcomes):
                    running = slots[slot]
                    _record_agent_trace(agent, slot, running)
                    if done:
                        trajectory = _trajectory(running, config, agent, slot)
                        writer.write(trajectory)
                        finished += 1
                        successes += trajectory.success
                        slots[slot] = None
                        bar.update(1)
                        bar.set_postfix(success=f"{successes / finished:.0%}", refresh=False)
        finally:
            bar.close()
            if pool:
                pool.shutdown()
            for env in envs.values():
                env.close()
    return RolloutResult(Path(config.out), finished, skipped, successes, time.monotonic() - started, timings["env"], timings["agent"])


def _episodes(config: RolloutConfig, envs: dict) -> Iterator[_Episode]:
    for job in config.jobs:
        probe = _make_env(job, config)
        try:
            tasks = probe.unwrapped.tasks
            count = len(tasks) if job.limit is None else min(job.limit, len(tasks))
            for index in range(count):
                task_id = tasks[index].id
                for sample in range(config.samples):
                    seed = config.seed + index * config.samples + sample
                    yield _Episode(EpisodeKey(job.env_id, task_id, seed, sample), job, index)
        finally:
            probe.close()


def _make_env(job: Job, config: RolloutConfig) -> gym.Env:
    kwargs = dict(job.env_kwargs)
    if job.tasks is not None:
        kwargs["tasks"] = job.tasks
    kwargs.setdefault("max_steps", config.max_steps)
    if config.reveal_gold:
        kwargs["reveal_gold"] = True
    return gym.make(job.env_id, disable_env_checker=True, **kwargs)


def _start(episode: _Episode, slot: int, agent: Policy, config: RolloutConfig, envs: dict) -> _Running:
    env = envs.get((slot, episode.job))
    if env is None:
        env = envs[(slot, episode.job)] = _make_env(episode.job, config)
    observation, info = env.reset(seed=episode.key.seed, options={"task_index": episode.task_index})
    agent.reset(observation, info, slot)
    running = _Running(episode, env, observation, info)
    _record_agent_trace(agent, slot, running)  # reset-time records are not part of any step
    return running


def _step(running: _Running, action: str) -> bool:
    tick = time.monotonic()
    observation, reward, terminated, truncated, info = running.env.step(action)
    running.steps.append(StepRecord(
        index=len(running.steps), action=action, observation=_text(observation), reward=float(reward),
        error=info.get("last_error"), result=info.get("last_result"), latency_s=time.monotonic() - tick,
    ))
    running.observation, running.info = observation, info
    running.terminated, running.truncated = bool(terminated), bool(truncated)
    return running.terminated or running.truncated


def _record_agent_trace(agent: Policy, slot: int, running: _Running) -> None:
    """Attach the agent's new module calls and format errors since the last look to the last step."""
    trace_of: Callable[[int], Any] | None = getattr(agent, "trace", None)
    if trace_of is None:
        return
    trace = trace_of(slot)
    calls, errors = trace.calls[running.calls_seen :], trace.format_errors[running.errors_seen :]
    running.calls_seen, running.errors_seen = len(trace.calls), len(trace.format_errors)
    if not running.steps:
        return
    step = running.steps[-1]
    for call in calls:
        generation = call.generation
        step.generations.append(GenerationRecord(
            role=call.module, text=generation.text, token_ids=list(generation.token_ids),
            logprobs=list(generation.logprobs) if generation.logprobs is not None else None,
            finish_reason=generation.finish_reason,
        ))
        if call.module in ("planner", "integrated", "cot"):
            step.subgoal = generation.text
    if errors:
        step.format_error = "; ".join(f"{e.module}: {e.reason}" for e in errors)


def _trajectory(running: _Running, config: RolloutConfig, agent: Policy, slot: int) -> Trajectory:
    info = running.info
    task = info["task"]
    return Trajectory(
        key=running.episode.key,
        split=running.episode.job.split_name or task.get("split", ""),
        domain=task.get("domain", ""),
        question=task.get("question", ""),
        steps=running.steps,
        final_answer=info.get("answer"),
        reward=float(running.steps[-1].reward if running.steps else 0.0),
        success=bool(info.get("success", False)),
        metrics={k: float(v) for k, v in (info.get("metrics") or {}).items()},
        agent=dict(config.agent_info),
        terminated=running.terminated,
        truncated=running.truncated,
        wall_s=time.monotonic() - running.started,
    )


def _text(observation: Any) -> str:
    return str(observation.get("text", "")) if isinstance(observation, dict) else str(observation)


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="ep", desc="rollouts", dynamic_ncols=True)
