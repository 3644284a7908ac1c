"""Episodes per second of the Ray executor with 1 and 2 actors against the local executor, same job,
and what Ray costs to start.

The job is model-bound CPU work: a LUMOS-I agent on an untrained tiny model (`agents.backends.tiny`,
one torch thread per process), so each Ray actor is one more process generating in parallel. Start-up
costs are reported apart: `ray.init` of a local instance, and the start of the actors
(a fresh worker process each, importing torch and loading the model). Each executor runs N and 2N
episodes: `episodes_per_s` is what a user sees for N (start included), `marginal_episodes_per_s`
(N over the difference of the two walls) the rate a long run approaches, and `fixed_cost_s` what is
left of the first wall (actor start and model load, for the local run the model load alone).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass

from agents.backends.tiny import TinyModelConfig, save_tiny
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.ray_executor import connect


@dataclass
class Args:
    """Benchmark settings."""

    episodes: int = 32
    """N: each executor runs N and then 2N episodes (one sample per task)"""
    num_envs: int = 8
    """episodes in flight per process (the local run, each actor)"""
    max_subgoals: int = 3
    """LUMOS-I subgoal limit (an untrained model never stops by itself)"""
    max_new_tokens: int = 24
    """tokens per module call"""
    actors: tuple[int, ...] = (1, 2)
    """actor counts to measure"""
    seed: int = 0


def _config(args: Args, out: str, episodes: int, **executor) -> RolloutConfig:
    return RolloutConfig(jobs=[Job("lumos/Math-v0", f"synthetic:shopping_total?size={episodes}", episodes)], num_envs=args.num_envs,
                         out=out, overwrite=True, seed=args.seed, progress=False, max_steps=args.max_subgoals + 2, **executor)


def _measure(args: Args, agent: functools.partial, folder: str, name: str, **executor) -> dict:
    """Walls of N and 2N episodes; their difference cancels the fixed costs (actor start, model load)."""
    walls = []
    for episodes in (args.episodes, 2 * args.episodes):
        start = time.perf_counter()
        result = run_rollouts(_config(args, os.path.join(folder, f"{name}{episodes}.jsonl"), episodes, **executor), agent)
        walls.append(time.perf_counter() - start)
        if result.episodes != episodes or result.failures:
            raise RuntimeError(f"{name}: {result.episodes} episodes, {result.failures} failed; expected {episodes}")
    marginal = args.episodes / (walls[1] - walls[0]) if walls[1] > walls[0] else float("nan")
    return {"wall_s": [round(w, 2) for w in walls], "episodes_per_s": round(args.episodes / walls[0], 3),
            "marginal_episodes_per_s": round(marginal, 3), "fixed_cost_s": round(walls[0] - args.episodes / marginal, 2)}


def main(args: Args = Args()) -> dict:
    import ray

    with tempfile.TemporaryDirectory() as folder:
        model = str(save_tiny(os.path.join(folder, "tiny"), TinyModelConfig(seed=args.seed)))
        agent = functools.partial(make_agent, AgentConfig(agent="lumos", model=model, max_subgoals=args.max_subgoals,
                                                          max_new_tokens=args.max_new_tokens, torch_threads=1))
        local = _measure(args, agent, folder, "local")
        tick = time.perf_counter()
        connect(RolloutConfig(executor="ray"))  # the local instance `--executor ray` starts
        ray_init_s = time.perf_counter() - tick
        try:
            runs = {f"ray_{n}_actors": _measure(args, agent, folder, f"ray{n}_", executor="ray", ray_actors=n) for n in args.actors}
        finally:
            ray.shutdown()
    report = {"benchmark": "ray_executor", "args": asdict(args),
              "hardware": {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2), "machine": platform.machine(),
                           "python": platform.python_version(), "ray": ray.__version__},
              "ray_init_s": round(ray_init_s, 2), "local": local, **runs}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
