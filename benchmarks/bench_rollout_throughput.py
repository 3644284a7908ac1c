"""Episodes per second of the rollout engine: 16 envs batched against one at a time, same tiny agent.

Also reports where wall time goes: inside env.step (tools included) versus inside the agent
(model calls), from the engine's own timers. The agent is a LUMOS-I agent on an untrained tiny
model (`agents.backends.tiny`), so episodes run to the subgoal limit: this measures the engine and
batching, not task success.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass

from agents.backends.tiny import TinyModelConfig, save_tiny
from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent


@dataclass
class Args:
    """Benchmark settings."""

    episodes: int = 32
    """episodes per measurement"""
    batched_envs: int = 16
    """envs in flight for the batched run"""
    max_subgoals: int = 3
    """LUMOS-I subgoal limit (an untrained model never stops by itself)"""
    max_new_tokens: int = 24
    """tokens per module call"""
    threads: int = 1
    """torch threads of the model back-end"""
    seed: int = 0


def _run(args: Args, model: str, num_envs: int, out: str) -> dict:
    agent = make_agent(AgentConfig(agent="lumos", model=model, max_subgoals=args.max_subgoals, max_new_tokens=args.max_new_tokens,
                                   torch_threads=args.threads))
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", f"synthetic:shopping_total?size={args.episodes}", args.episodes)],
                           num_envs=num_envs, out=out, overwrite=True, seed=args.seed, progress=False, max_steps=args.max_subgoals + 2)
    start = time.perf_counter()
    result = run_rollouts(config, agent)
    wall = time.perf_counter() - start
    return {"num_envs": num_envs, "episodes": result.episodes, "wall_s": round(wall, 2),
            "episodes_per_s": round(result.episodes / wall, 3),
            "env_share": round(result.env_s / wall, 3), "agent_share": round(result.agent_s / wall, 3)}


def main(args: Args = Args()) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        model = str(save_tiny(os.path.join(folder, "tiny"), TinyModelConfig(seed=args.seed)))
        one = _run(args, model, 1, os.path.join(folder, "one.jsonl"))
        batched = _run(args, model, args.batched_envs, os.path.join(folder, "batched.jsonl"))
    report = {"benchmark": "rollout_throughput", "args": asdict(args),
              "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
              "one_at_a_time": one, "batched": batched,
              "speedup": round(batched["episodes_per_s"] / one["episodes_per_s"], 2) if one["episodes_per_s"] else None}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
