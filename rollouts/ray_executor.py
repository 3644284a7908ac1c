"""The Ray executor (`--executor ray`): the rollout engine's episode loop in Ray actors, with this
process the only writer of the trajectory store.

How the pieces fit:

- **The same engine.** Each actor (`RolloutWorker`) holds its own envs and its own policy, built in
  the actor from a picklable `PolicyFactory` (e.g. `functools.partial(make_agent, agent_config)`:
  the settings travel, never a loaded model), and runs `rollouts.engine.run_episodes`, the loop the
  local executor runs. A policy that is a client of a shared OpenAI-compatible server is built the
  same way; every actor then talks to that server.
- **Sharded by task.** The driver groups the episodes still to run by task (all samples of one task,
  a GRPO group, go to one actor together) and hands out chunks of groups, one chunk per idle actor.
  Each chunk comes back as a Ray streaming generator: trajectories arrive one by one as episodes end.
- **One writer.** Only the driver appends to the store (`TrajectoryWriter`), so no two processes
  share a file; episode keys come from `rollouts.engine._episodes`, as for the local executor, and
  the executor settings are not part of the run's identity, so `--resume` works across executors.
- **Failures.** An episode that raises or outlives `episode_timeout_s` is stored by the actor's loop
  as failed (`end_reason="failed"`, `failure` = cause). An actor that dies (killed, out of memory,
  its node gone) or stops answering for `episode_timeout_s + HANG_GRACE_S` loses only the episodes it
  had not sent back: they are queued again, for a replacement actor or another one, so none is lost
  and none written twice; an episode whose actor was lost `MAX_ATTEMPTS` times is stored as failed.

Ray is optional (`pip install 'lumos[ray]'`) and imported only here, when this executor runs.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rollouts.engine import (
    Job,
    Policy,
    PolicyFactory,
    RolloutConfig,
    RolloutResult,
    _Episode,
    _episodes,
    _progress,
    build_policy,
    failed_trajectory,
    is_failed,
    run_episodes,
)
from rollouts.store import Trajectory, TrajectoryWriter

logger = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 200 * 1024**2
"""object store of a local Ray instance: trajectories are small, and Ray's default (30% of RAM) would
take about 7 GB of a 24 GB machine"""
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}
"""Ray runs its workers at nice 15 by default, fine on a dedicated cluster but on a shared machine it
starves the actors (measured: 5x slower than the local executor beside other jobs); a local
instance is the user's foreground job, so its actors run at normal priority"""
MAX_ATTEMPTS = 2
"""an episode whose actor is lost under it this many times is stored as failed instead of queued again"""
HANG_GRACE_S = 60.0
"""an actor silent for `episode_timeout_s` plus this long is killed (its loop is stuck inside one call)"""
ACTOR_START_TIMEOUT_S = 600.0
"""how long actors may take to start (imports, model loading) before the run gives up"""
ACTOR_CPUS = 1.0
"""CPUs each actor reserves, so Ray places at most one actor per core"""


class RolloutWorker:
    """The state of one Ray actor: its policy (built here, from the factory), its envs, the engine loop."""

    def __init__(self, config: RolloutConfig, make_policy: PolicyFactory) -> None:
        self.config = config
        self.policy: Policy = build_policy(make_policy)
        self.envs: dict[tuple[int, Job], Any] = {}

    def ready(self) -> int:
        """Answers once the policy is built (the driver waits on it); returns the actor's pid."""
        return os.getpid()

    def run(self, episodes: list[_Episode]) -> Iterator[tuple[Trajectory, float, float] | None]:
        """Run `episodes`: first None (the chunk has started: the driver's hang clock starts now, not
        while a replacement actor is still loading its model), then (trajectory, env seconds, agent
        seconds since the last yield) per episode."""
        yield None
        timings = {"env": 0.0, "agent": 0.0}
        last = dict(timings)
        for trajectory in run_episodes(episodes, self.policy, self.config, self.envs, timings):
            yield trajectory, timings["env"] - last["env"], timings["agent"] - last["agent"]
            last = dict(timings)

    def close(self) -> None:
        """Close the envs (browsers, database connections) before the driver kills the actor."""
        for env in self.envs.values():
            env.close()
        self.envs.clear()


def run_rollouts_on_ray(config: RolloutConfig, agent: Policy | PolicyFactory) -> RolloutResult:
    """`run_rollouts` with `executor="ray"` (see the module docstring).

    Raises:
        ValueError: Ray is not installed, `ray_address` cannot be reached, `agent` is a built policy
            (actors need the factory), or an actor cannot build its policy.
    """
    if hasattr(agent, "act_batch") and not isinstance(agent, type):
        raise ValueError("the ray executor builds a policy in each actor: pass a policy factory "
                         "(a policy class, or functools.partial(make_agent, agent_config)), not a built policy")
    ray = import_ray()
    started = time.monotonic()
    connect(config)
    with TrajectoryWriter(config.out, config.identity(), resume=config.resume, overwrite=config.overwrite) as writer:
        episodes = list(_episodes(config, {}))
        pending = [e for e in episodes if not writer.is_done(e.key)]
        skipped = len(episodes) - len(pending)
        finished = successes = failures = 0
        timings = {"env": 0.0, "agent": 0.0}
        pool = _ActorPool(ray, config, agent, _group_by_task(pending)) if pending else None
        bar = _progress(len(pending), config.progress, config.progress_label)  # after the actors started: it times the episodes
        try:
            for trajectory, env_s, agent_s in pool.run() if pool else ():
                writer.write(trajectory)
                finished += 1
                successes += trajectory.success
                failures += is_failed(trajectory)
                timings["env"] += env_s
                timings["agent"] += agent_s
                bar.update(1)
                bar.set_postfix(success=f"{successes / finished:.0%}", refresh=False)
        finally:
            bar.close()
            if pool:
                pool.close()
    return RolloutResult(Path(config.out), finished, skipped, successes, time.monotonic() - started, timings["env"],
                         timings["agent"], failures)


def import_ray() -> Any:
    """The `ray` module, or a one-line error saying how to get it."""
    try:
        import ray
    except ImportError:
        raise ValueError("the ray executor needs Ray: pip install 'lumos[ray]' (or use --executor local)") from None
    return ray


def connect(config: RolloutConfig) -> bool:
    """Join `config.ray_address`, or start a small local Ray instance; True if this call connected.

    A process already connected (a test, a notebook, an earlier run) stays on its cluster. A local
    instance gets a small object store, no dashboard and its own temporary folder (its logs,
    removed at exit); it lives until this process exits (or `ray.shutdown()`), so a command with
    several runs (an evaluation's suites) starts Ray once.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    try:
        if config.ray_address:
            _check_reachable(config.ray_address)
            ray.init(address=config.ray_address, logging_level=logging.WARNING)
        else:
            temp = tempfile.mkdtemp(prefix="lumos-ray-")
            atexit.register(_shutdown_and_remove, temp)
            ray.init(num_cpus=os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False,
                     _temp_dir=temp, _system_config=LOCAL_SYSTEM_CONFIG, logging_level=logging.WARNING)
    except ConnectionError as error:
        # The address answered (checked above), so the likeliest cause is Ray's token authentication
        # (on by default for clusters started on this machine since Ray 2.59).
        hint = ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token and its token "
                "(RAY_AUTH_TOKEN, or ~/.ray/auth_token)") if config.ray_address and config.ray_address != "auto" else ""
        raise ValueError(f"cannot connect to Ray{' at ' + config.ray_address if config.ray_address else ''}: "
                         f"{str(error).splitlines()[0] if str(error) else type(error).__name__}{hint}") from None
    return True


def _shutdown_and_remove(temp: str) -> None:
    """At exit: stop the local instance first (its processes write logs until then), then remove its folder."""
    import ray

    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def _check_reachable(address: str) -> None:
    """Fail in seconds, with one line, where `ray.init` would retry an unreachable address for minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address must be HOST:PORT (as `ray start --head` prints it), ray://HOST:PORT or auto; got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5.0).close()
    except OSError as error:
        raise ValueError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}); "
                         "start one with `ray start --head` or leave out --ray-address") from None


def _group_by_task(episodes: list[_Episode]) -> list[list[_Episode]]:
    """Episodes grouped by (job, task), in run order: all samples of one task stay together."""
    groups: dict[tuple[Job, int], list[_Episode]] = {}
    for episode in episodes:
        groups.setdefault((episode.job, episode.task_index), []).append(episode)
    return list(groups.values())


@dataclass
class _Assignment:
    """A chunk an actor is running: its stream of results and the episodes not yet received."""

    stream: Any
    remaining: dict[tuple[str, str, int, int], _Episode]
    last_progress: float = field(default_factory=time.monotonic)
    started: bool = False
    """the actor began the chunk (so its start, model loading included, is over)"""
    kill_cause: str | None = None


class _ActorPool:
    """The actors of one run and the driver's side of the work queue."""

    def __init__(self, ray: Any, config: RolloutConfig, make_policy: PolicyFactory, groups: list[list[_Episode]]) -> None:
        self.ray, self.config, self.make_policy = ray, config, make_policy
        total = sum(len(g) for g in groups)
        wanted = config.ray_actors or max(1, int(ray.cluster_resources().get("CPU", 1) // ACTOR_CPUS))
        self.num_actors = max(1, min(wanted, len(groups)))
        # Two batches of episodes per chunk keep each actor's loop full, while small jobs still spread over every actor.
        target = max(1, min(2 * config.num_envs, math.ceil(total / self.num_actors)))
        self.queue: deque[list[_Episode]] = deque()
        for group in groups:
            if self.queue and len(self.queue[-1]) + len(group) <= target:
                self.queue[-1].extend(group)
            else:
                self.queue.append(list(group))
        self.attempts: dict[tuple[str, str, int, int], int] = {}
        self.token = uuid.uuid4().hex[:8]
        self.replacements = 0
        self.max_replacements = 2 * self.num_actors + 2
        self.remote_class = ray.remote(RolloutWorker)
        self.actors: list[Any] = [self._new_actor(i) for i in range(self.num_actors)]
        self._wait_ready()

    def _new_actor(self, index: int) -> Any:
        # Named, so that an operator (or a test) can find and kill one; the actor dies with this driver.
        name = f"lumos-rollout-{self.token}-{index}-{self.replacements}"
        return self.remote_class.options(num_cpus=ACTOR_CPUS, num_gpus=self.config.ray_gpus_per_actor, name=name,
                                         max_restarts=0).remote(self.config, self.make_policy)

    def _wait_ready(self) -> None:
        refs = [actor.ready.remote() for actor in self.actors]
        try:
            self.ray.get(refs, timeout=ACTOR_START_TIMEOUT_S)
        except self.ray.exceptions.GetTimeoutError:
            self.close()
            raise RuntimeError(f"{self.num_actors} rollout actors did not start within {ACTOR_START_TIMEOUT_S:g} s; "
                               f"the cluster has {self.ray.available_resources().get('CPU', 0):g} free CPUs "
                               f"and {self.ray.available_resources().get('GPU', 0):g} free GPUs; each actor reserves "
                               f"{ACTOR_CPUS:g} CPU and {self.config.ray_gpus_per_actor:g} GPU") from None
        except self.ray.exceptions.RayError as error:
            self.close()
            raise ValueError(f"a rollout actor could not build its policy: {_last_line(error)}") from None

    def run(self) -> Iterator[tuple[Trajectory, float, float]]:
        """Yield (trajectory, env s, agent s) for every episode of the queue, exactly once each."""
        ray = self.ray
        busy: dict[int, _Assignment] = {}
        hang_s = None if self.config.episode_timeout_s is None else self.config.episode_timeout_s + HANG_GRACE_S
        while self.queue or busy:
            for index in range(len(self.actors)):
                if index not in busy and self.queue:
                    chunk = self.queue.popleft()
                    stream = self.actors[index].run.options(num_returns="streaming").remote(chunk)
                    busy[index] = _Assignment(stream, {e.key.as_tuple(): e for e in chunk})
            by_stream = {id(a.stream): i for i, a in busy.items()}
            ready, _ = ray.wait([a.stream for a in busy.values()], num_returns=1, timeout=1.0)
            for stream in ready:
                index = by_stream[id(stream)]
                assignment = busy[index]
                try:
                    item = ray.get(next(stream))
                except StopIteration:
                    del busy[index]
                    if assignment.remaining:  # cannot happen with a well-behaved actor; never lose them
                        yield from self._requeue(assignment, "the actor's stream ended early")
                    continue
                except ray.exceptions.RayError as error:
                    del busy[index]
                    cause = assignment.kill_cause or _last_line(error)
                    logger.warning("rollout actor %d lost (%s); %d episodes queued again", index, cause, len(assignment.remaining))
                    yield from self._requeue(assignment, cause)
                    self._replace(index, cause)
                    continue
                assignment.last_progress = time.monotonic()
                if item is None:
                    assignment.started = True
                    continue
                trajectory, env_s, agent_s = item
                if assignment.remaining.pop(trajectory.key.as_tuple(), None) is None:
                    raise RuntimeError(f"actor {index} returned episode {trajectory.key} that it was not running")
                yield trajectory, env_s, agent_s
            now = time.monotonic()
            for index, assignment in busy.items():
                if assignment.kill_cause is not None:
                    continue
                if not assignment.started and now - assignment.last_progress > ACTOR_START_TIMEOUT_S:
                    assignment.kill_cause = f"actor did not start within {ACTOR_START_TIMEOUT_S:g} s (killed)"
                elif assignment.started and hang_s is not None and now - assignment.last_progress > hang_s:
                    assignment.kill_cause = f"actor sent nothing for {hang_s:g} s (killed)"
                else:
                    continue
                ray.kill(self.actors[index], no_restart=True)

    def _requeue(self, assignment: _Assignment, cause: str) -> Iterator[tuple[Trajectory, float, float]]:
        """Queue the lost episodes again, first, one chunk per task (its samples stay together, and a
        task that kills or hangs its actor no longer takes the tasks batched with it down again), or
        store those lost `MAX_ATTEMPTS` times as failed."""
        again = []
        for key, episode in assignment.remaining.items():
            self.attempts[key] = self.attempts.get(key, 0) + 1
            if self.attempts[key] >= MAX_ATTEMPTS:
                yield failed_trajectory(episode.key, episode.job.split_name, self.config,
                                        f"rollout actor lost {self.attempts[key]} times while running it: {cause}"), 0.0, 0.0
            else:
                again.append(episode)
        assignment.remaining.clear()
        self.queue.extendleft(reversed(_group_by_task(again)))

    def _replace(self, index: int, cause: str) -> None:
        # Killed first: an actor whose stream raised (a bug rather than a death) is still alive and holds its CPU.
        self.ray.kill(self.actors[index], no_restart=True)
        self.replacements += 1
        if self.replacements > self.max_replacements:
            raise RuntimeError(f"rollout actors were lost {self.replacements} times; last cause: {cause}")
        self.actors[index] = self._new_actor(index)

    def close(self) -> None:
        """Let live actors close their envs (bounded wait), then kill them all."""
        ray = self.ray
        closing = []
        for actor in self.actors:
            try:
                closing.append(actor.close.remote())
            except ray.exceptions.RayError:
                pass
        if closing:
            ray.wait(closing, num_returns=len(closing), timeout=30.0)
        for actor in self.actors:
            ray.kill(actor, no_restart=True)


def _last_line(error: BaseException) -> str:
    """One line saying what went wrong: for an exception raised inside an actor (its creation
    included), the exception's own last line, without Ray's traceback; else Ray's first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = str(error)
    remote = isinstance(error, _ray_task_error()) or "creation task" in text
    return lines[-1] if remote else lines[0]


def _ray_task_error() -> type:
    import ray

    return ray.exceptions.RayTaskError
