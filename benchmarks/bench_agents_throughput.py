"""Planner + grounder calls per second of `LumosAgent` with the tiny model, at batch 1 and 16.

One `act_batch` over B fresh lumos/Math-v0 episodes makes one planner call and one grounder call
for B prompts each; we time those and report module calls (one per episode per module) per second.
Prints one JSON line.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from dataclasses import asdict, dataclass

import gymnasium as gym
import torch

import lumos_envs  # noqa: F401
from agents.agent import LumosAgent
from agents.backends.base import GenerationConfig
from agents.backends.tiny import TinyModelConfig, load_tiny_backend, save_tiny
from agents.grounder import Grounder
from agents.planner import Planner


@dataclass
class Args:
    """Benchmark settings."""

    batch_sizes: tuple[int, ...] = (1, 16)
    """episodes per act_batch"""
    max_new_tokens: int = 32
    """tokens per module call (the untrained model rarely stops early)"""
    repeats: int = 3
    """timed act_batch calls per batch size"""
    seed: int = 0
    """reset seeds start here"""
    threads: int = 2
    """torch CPU threads"""


def main(args: Args = Args()) -> dict:
    torch.set_num_threads(args.threads)
    path = save_tiny(tempfile.mkdtemp(prefix="lumos_tiny_"), TinyModelConfig())
    backend = load_tiny_backend(path, batch_size=max(args.batch_sizes))
    config = GenerationConfig(max_new_tokens=args.max_new_tokens)
    results = {}
    for batch in args.batch_sizes:
        envs = [gym.make("lumos/Math-v0") for _ in range(batch)]
        elapsed = 0.0
        for repeat in range(args.repeats + 1):
            agent = LumosAgent(Planner(backend, config), Grounder(backend, config), demonstrations={})
            observations, infos = [], []
            for slot, env in enumerate(envs):
                observation, info = env.reset(seed=args.seed + slot + repeat * batch)
                agent.reset(observation, info, slot)
                observations.append(observation)
                infos.append(info)
            start = time.perf_counter()
            agent.act_batch(observations, infos)
            if repeat:  # the first call warms up
                elapsed += time.perf_counter() - start
        calls = 2 * batch * args.repeats
        results[f"batch_{batch}"] = {"module_calls_per_s": calls / elapsed, "seconds_per_act_batch": elapsed / args.repeats}
        for env in envs:
            env.close()
    line = {
        "bench": "agents_throughput",
        "args": asdict(args),
        "params": sum(p.numel() for p in backend.model.parameters()),
        "hardware": {"machine": platform.machine(), "processor": platform.processor(), "torch_threads": torch.get_num_threads()},
        "results": results,
    }
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    main()
