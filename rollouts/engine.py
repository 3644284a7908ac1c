"""The rollout engine: the one loop that steps lumos envs with an agent and stores trajectories.

Many envs (of one or several domains) are stepped together: at each step every episode in flight
gets its next action from one `agent.act_batch` call (which batches all planner prompts into one
back-end call, then all grounder prompts into another), then the envs step — in parallel worker
threads when `num_workers > 0`, for slow envs such as WebShop's browser mode. Finished episodes
go to the trajectory store at once (flushed and fsynced), so a killed run resumes with `resume`.
Domain differences live in envs and agents, never here.

With `overlap_groups > 1` the episodes in flight are split into that many groups, each running
the same act-then-step loop in its own thread: while one group's envs step, another group's
generation is under way, and a slow env holds up only its own group. Where every model back-end
of the agent is remote (`remote = True`, as `OpenAICompatBackend`), the groups' `act_batch` calls
run at once, keeping the server busy; otherwise (a local model) they take turns, and only env
steps overlap generation. An episode's trajectory does not depend on the grouping as long as a
back-end's answer for a row does not depend on the other rows of its batch (a server at
temperature 0, or seeded sampling per row).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Protocol, Sequence

import gymnasium as gym

import lumos_envs  # noqa: F401  (registers the lumos env ids)
from rollouts.store import delta_of, EpisodeKey, GenerationRecord, StepRecord, Trajectory, TrajectoryWriter

logger = logging.getLogger(__name__)


class Policy(Protocol):
    """What the engine needs from an agent (`LumosAgent`, `OracleAgent`, the baselines)."""

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None: ...

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]: ...


PolicyFactory = Callable[[], Policy]
"""A zero-argument callable that builds a policy (a policy class, `functools.partial(make_agent,
agent_config)`): what the Ray executor sends to each actor, which builds its own policy."""


def build_policy(agent: Policy | PolicyFactory) -> Policy:
    """`agent` itself if it is a built policy, else what calling it builds."""
    if isinstance(agent, type) or not hasattr(agent, "act_batch"):
        return agent()  # type: ignore[operator]
    return agent  # type: ignore[return-value]


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
class ExecutorOptions:
    """Where episodes run: in this process, or in Ray actors (`rollouts/ray_executor.py`). None of
    these settings is part of a run's identity, so `--resume` continues a file whichever executor
    (and however many actors) wrote it."""

    executor: Literal["local", "ray"] = "local"
    """local: this process; ray: Ray actors, each with its own envs and policy (pip install 'lumos[ray]')"""
    ray_address: str | None = None
    """Ray cluster to join (HOST:PORT printed by `ray start --head`, or auto); default: start a local Ray instance"""
    ray_actors: int | None = None
    """rollout actors of the ray executor; default: one per CPU of the cluster"""
    ray_gpus_per_actor: float = 0.0
    """GPUs each actor reserves (e.g. 1 for a local model on CUDA, 0.5 for two small ones per GPU); Ray hides GPUs from actors that reserve none"""
    episode_timeout_s: float | None = 1800.0
    """an episode still running after this many seconds is stored as failed, with its cause (None in code: no limit)"""
    overlap_groups: int = 1
    """split the episodes in flight into this many groups, each stepping and generating in its own thread, so generation overlaps env steps (for server back-ends; raise api_max_concurrency to match); 1: one batch in lockstep"""

    def __post_init__(self) -> None:
        if self.executor not in ("local", "ray"):
            raise ValueError(f"executor must be 'local' or 'ray', got {self.executor!r}")
        if self.overlap_groups < 1:
            raise ValueError(f"overlap_groups must be >= 1, got {self.overlap_groups}")
        if self.ray_actors is not None and self.ray_actors < 1:
            raise ValueError(f"ray_actors must be >= 1, got {self.ray_actors}")
        if self.ray_gpus_per_actor < 0:
            raise ValueError(f"ray_gpus_per_actor must be >= 0, got {self.ray_gpus_per_actor}")
        if self.episode_timeout_s is not None and self.episode_timeout_s <= 0:
            raise ValueError(f"episode_timeout_s must be > 0, got {self.episode_timeout_s}")
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError("ray_address needs executor='ray' (--executor ray)")

    def executor_options(self) -> dict[str, Any]:
        """These settings alone, to hand on to the `RolloutConfig`s a command builds."""
        return {f.name: getattr(self, f.name) for f in fields(ExecutorOptions)}


@dataclass
class RolloutConfig(ExecutorOptions):
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
    """show a progress bar (episodes done, episodes/s, ETA, success so far)"""
    progress_label: str = "rollouts"
    """the progress bar's label (evaluation shows the suite's name)"""

    def __post_init__(self) -> None:
        super().__post_init__()
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
        for name in ("out", "resume", "overwrite", "progress", "progress_label", "num_envs", "num_workers", *(f.name for f in fields(ExecutorOptions))):
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
    failures: int = 0
    """episodes stored with `end_reason="failed"` (an exception or the episode timeout)"""

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
    contexts: dict[str, list[int]] = field(default_factory=dict)
    """per module: its last prompt's ids followed by its last completion's (schema v2 deltas)"""


def run_rollouts(config: RolloutConfig, agent: Policy | PolicyFactory) -> RolloutResult:
    """Roll out `agent` on every episode of `config.jobs` and append the trajectories to `config.out`.

    `agent` is a policy or a `PolicyFactory`; `executor="ray"` needs the factory (each actor builds
    its own policy from it) and runs in `rollouts.ray_executor`, with this process the only writer.
    """
    if config.executor == "ray":
        from rollouts.ray_executor import run_rollouts_on_ray

        return run_rollouts_on_ray(config, agent)
    policy = build_policy(agent)
    started = time.monotonic()
    timings = {"env": 0.0, "agent": 0.0}
    envs: dict[tuple[int, Job], gym.Env] = {}
    with TrajectoryWriter(config.out, config.identity(), resume=config.resume, overwrite=config.overwrite) as writer:
        episodes = list(_episodes(config, envs))
        pending = [e for e in episodes if not writer.is_done(e.key)]
        skipped = len(episodes) - len(pending)
        successes = finished = failures = 0
        bar = _progress(len(pending), config.progress, config.progress_label)
        try:
            for trajectory in run_episodes(pending, policy, config, envs, timings):
                writer.write(trajectory)
                finished += 1
                successes += trajectory.success
                failures += is_failed(trajectory)
                bar.update(1)
                bar.set_postfix(success=f"{successes / finished:.0%}", refresh=False)
        finally:
            bar.close()
            for env in envs.values():
                env.close()
    return RolloutResult(Path(config.out), finished, skipped, successes, time.monotonic() - started, timings["env"],
                         timings["agent"], failures)


def run_episodes(episodes: Iterable[_Episode], agent: Policy, config: RolloutConfig, envs: dict[tuple[int, Job], gym.Env],
                 timings: dict[str, float]) -> Iterator[Trajectory]:
    """Step `episodes` with `agent`, `config.num_envs` in flight, and yield each trajectory as it ends.

    The loop without the store, so that the local executor and each Ray actor run the same code: the
    caller writes (or sends) what is yielded. `envs` maps (slot, job) to the caller's envs, kept across
    calls and closed by the caller; `timings` gets the seconds spent in `env` and `agent` added
    (summed over groups with `overlap_groups > 1`, so they may exceed the wall time).
    An episode whose reset, step or agent call raises, or that outlives `config.episode_timeout_s`
    (checked after each step), is yielded as failed (`end_reason="failed"`, `failure` = the cause)
    rather than ending the run: one broken task must not cost the other episodes.
    """
    pending = deque(episodes)
    num_slots = min(config.num_envs, max(1, len(pending)))
    groups = min(config.overlap_groups, num_slots)
    pool = ThreadPoolExecutor(config.num_workers) if config.num_workers else None
    try:
        if groups == 1:
            yield from _lockstep(list(range(num_slots)), pending, agent, config, envs, timings, pool)
        else:
            yield from _overlapped(groups, num_slots, pending, agent, config, envs, timings, pool)
    finally:
        if pool:
            pool.shutdown()


def _overlapped(groups: int, num_slots: int, pending: deque, agent: Policy, config: RolloutConfig, envs: dict,
                timings: dict[str, float], pool: ThreadPoolExecutor | None) -> Iterator[Trajectory]:
    """`groups` lockstep loops over disjoint slots, one thread each, drawing from one queue of
    episodes; their trajectories are yielded here, in this thread, as they end."""
    done: queue.Queue = queue.Queue()
    stop = threading.Event()
    lock = threading.Lock()  # guards `timings` and `envs`
    turn = contextlib.nullcontext() if calls_may_overlap(agent) else threading.Lock()  # a local model: one call at a time

    def group(slot_ids: list[int]) -> None:
        try:
            for trajectory in _lockstep(slot_ids, pending, agent, config, envs, timings, pool, turn, lock, stop):
                done.put(trajectory)
        except BaseException as error:  # noqa: BLE001  (handed to the consuming thread, which raises it)
            done.put(error)
        finally:
            done.put(None)

    threads = [threading.Thread(target=group, args=(list(range(g, num_slots, groups)),), name=f"rollout-group-{g}", daemon=True)
               for g in range(groups)]
    for thread in threads:
        thread.start()
    try:
        running = groups
        while running:
            item = done.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def calls_may_overlap(agent: Policy) -> bool:
    """Whether `agent.act_batch` may run in several threads at once (on disjoint slots): the agent
    says so (`concurrent_act_batch`), or every model back-end of its modules is remote (`remote`),
    where a call is an HTTP request and concurrent calls are what keeps a server busy."""
    declared = getattr(agent, "concurrent_act_batch", None)
    if declared is not None:
        return bool(declared)
    backends = [getattr(getattr(agent, module, None), "backend", None) for module in ("planner", "grounder")]
    backends = [b for b in backends if b is not None]
    return bool(backends) and all(getattr(b, "remote", False) is True for b in backends)


def _take(pending: deque) -> _Episode | None:
    try:
        return pending.popleft()  # atomic: groups share the queue
    except IndexError:
        return None


def _lockstep(slot_ids: list[int], pending: deque, agent: Policy, config: RolloutConfig, envs: dict, timings: dict[str, float],
              pool: ThreadPoolExecutor | None, turn: Any = contextlib.nullcontext(), lock: Any = contextlib.nullcontext(),
              stop: threading.Event | None = None) -> Iterator[Trajectory]:
    """One batch in lockstep over the slots `slot_ids`: one `act_batch` call for every episode in
    flight, then every env steps; a slot whose episode ends takes the next pending one. `turn` is
    held around the agent's calls, `lock` around the shared `envs` and `timings`; `stop` ends the
    loop between steps (the consumer went away)."""
    slots: dict[int, _Running | None] = {slot: None for slot in slot_ids}

    def spent(key: str, since: float) -> None:
        with lock:
            timings[key] += time.monotonic() - since

    while (pending or any(slots.values())) and not (stop is not None and stop.is_set()):
        for slot in slot_ids:
            while slots[slot] is None and (episode := _take(pending)) is not None:  # a failed reset frees the slot
                try:
                    slots[slot] = _start(episode, slot, agent, config, envs, lock, turn)
                except Exception as error:  # noqa: BLE001  (any failure of one episode is stored, see docstring)
                    _drop_env(envs, slot, episode.job, lock)
                    yield _failed(episode, None, config, f"reset failed: {_cause(error)}")
        active = [i for i in slot_ids if slots[i] is not None]
        if not active:
            continue
        tick = time.monotonic()
        try:
            with turn:
                actions = agent.act_batch([slots[i].observation for i in active], [slots[i].info for i in active], slots=active)
        except Exception as error:  # noqa: BLE001  (the call served all of them, so all of them fail)
            spent("agent", tick)
            for i in active:
                yield _failed(slots[i].episode, slots[i], config, f"agent failed on a batch of {len(active)}: {_cause(error)}")
                slots[i] = None
            continue
        spent("agent", tick)
        tick = time.monotonic()
        step = lambda pair: _step_or_error(slots[pair[0]], pair[1])  # noqa: E731
        outcomes = list(pool.map(step, zip(active, actions)) if pool else map(step, zip(active, actions)))
        spent("env", tick)
        for slot, outcome in zip(active, outcomes):
            running = slots[slot]
            if isinstance(outcome, Exception):
                _drop_env(envs, slot, running.episode.job, lock)
                yield _failed(running.episode, running, config, f"env.step failed: {_cause(outcome)}")
                slots[slot] = None
                continue
            _record_agent_trace(agent, slot, running)
            if outcome:
                yield _trajectory(running, config, agent, slot)
                slots[slot] = None
            elif config.episode_timeout_s is not None and time.monotonic() - running.started > config.episode_timeout_s:
                yield _failed(running.episode, running, config,
                              f"episode timeout: still running after {config.episode_timeout_s:g} s ({len(running.steps)} steps)")
                slots[slot] = None


def is_failed(trajectory: Trajectory) -> bool:
    """Whether an episode was stored as failed rather than played to its end."""
    return getattr(trajectory, "end_reason", "") == "failed"


def failed_trajectory(key: EpisodeKey, split: str, config: RolloutConfig, cause: str, steps: list[StepRecord] | None = None,
                      task: dict[str, Any] | None = None, wall_s: float = 0.0) -> Trajectory:
    """The stored form of an episode that could not be played to its end (the Ray driver uses it
    for episodes whose actor died too often)."""
    task = task or {}
    logger.warning("episode %s failed: %s", key, cause)
    return Trajectory(key=key, split=split or task.get("split", ""), domain=task.get("domain", ""), question=task.get("question", ""),
                      steps=list(steps or []), agent=dict(config.agent_info), wall_s=wall_s, end_reason="failed", failure=cause)


def _failed(episode: _Episode, running: _Running | None, config: RolloutConfig, cause: str) -> Trajectory:
    if running is None:
        return failed_trajectory(episode.key, episode.job.split_name, config, cause)
    return failed_trajectory(episode.key, episode.job.split_name, config, cause, running.steps, running.info.get("task"),
                             time.monotonic() - running.started)


def _drop_env(envs: dict[tuple[int, Job], gym.Env], slot: int, job: Job, lock: Any = contextlib.nullcontext()) -> None:
    """Close and forget an env that raised: its state is unknown, the slot's next episode gets a new one."""
    with lock:
        env = envs.pop((slot, job), None)
    if env is not None:
        try:
            env.close()
        except Exception as error:  # noqa: BLE001  (the env is being discarded for a failure already)
            logger.warning("closing a failed env raised %s", _cause(error))


def _cause(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


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


def _start(episode: _Episode, slot: int, agent: Policy, config: RolloutConfig, envs: dict, lock: Any = contextlib.nullcontext(),
           turn: Any = contextlib.nullcontext()) -> _Running:
    with lock:
        env = envs.get((slot, episode.job))
    if env is None:
        env = _make_env(episode.job, config)
        with lock:
            envs[(slot, episode.job)] = env
    observation, info = env.reset(seed=episode.key.seed, options={"task_index": episode.task_index})
    with turn:
        agent.reset(observation, info, slot)
    running = _Running(episode, env, observation, info)
    _record_agent_trace(agent, slot, running)  # reset-time records are not part of any step
    return running


def _step_or_error(running: _Running, action: str) -> bool | Exception:
    try:
        return _step(running, action)
    except Exception as error:  # noqa: BLE001  (returned to the loop, which stores the episode as failed)
        return error


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
        keep, prompt_ids = 0, None
        prompt = getattr(generation, "prompt_token_ids", None)
        if prompt is not None:
            keep, prompt_ids = delta_of(running.contexts.get(call.module, []), list(prompt))
            running.contexts[call.module] = [*prompt, *generation.token_ids]
        else:
            running.contexts.pop(call.module, None)
        step.generations.append(GenerationRecord(
            role=call.module, text=generation.text, token_ids=list(generation.token_ids),
            logprobs=list(generation.logprobs) if generation.logprobs is not None else None,
            finish_reason=generation.finish_reason, prompt_ids=prompt_ids, prompt_ids_keep=keep,
            stop_text=getattr(generation, "stop_text", ""),
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
        end_reason=end_reason(running.steps, getattr(getattr(agent, "trace", lambda _slot: None)(slot), "stop_reason", ""),
                              terminated=running.terminated, answer=info.get("answer")),
    )


_TIMEOUT = re.compile(r"\btime(?:d)? ?out\b|time limit", re.I)
_NO_ANSWER = {"", "unknown", "none"}


def end_reason(steps: Sequence[StepRecord], stop_reason: str, *, terminated: bool, answer: Any) -> str:
    """Why an episode ended (`rollouts.store.END_REASONS`), from its steps and the agent's stop reason.

    The most specific cause wins: a tool timeout on the last step, a generation cut by its length
    limit, another format error that ended planning, the subgoal limit, the env's step limit, the
    planner stopping with nothing to submit; otherwise the agent answered.
    """
    last = steps[-1] if steps else None
    if last is not None and last.error and _TIMEOUT.search(last.error) and not terminated:
        return "tool_timeout"
    generations = [g for s in steps for g in s.generations]
    if generations and generations[-1].finish_reason in ("truncated", "length"):
        return "truncated"
    if stop_reason == "format_error":
        return "format_error"
    if stop_reason == "max_subgoals":
        return "subgoal_limit"
    if not terminated:
        return "step_limit"
    if stop_reason in ("planner_stop", "no_plan") and str(answer or "").strip().lower() in _NO_ANSWER:
        return "planner_stopped"
    return "answered"


def _text(observation: Any) -> str:
    return str(observation.get("text", "")) if isinstance(observation, dict) else str(observation)


class _NoBar:
    def update(self, n: int) -> None: ...

    def set_postfix(self, **kwargs: Any) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, enabled: bool, label: str = "rollouts") -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="ep", desc=label, dynamic_ncols=True, mininterval=1.0)
