"""Train the default tiny recipe (`rollouts.training.TinyRecipe`) and measure it end to end.

Trains one tiny planner+grounder model on gold LUMOS-I conversations of the GSM8K-like synthetic
families (seed 0), then runs a `LumosAgent` with it on `lumos/Math-v0` over the same families at
another seed (a disjoint test split) and counts correct final answers (reward 1). Prints one JSON
line: training steps, minutes, tokens/s, and accuracy per family and overall.

    .venv/bin/python benchmarks/bench_training.py --minutes 8 --eval-size 50
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym

import lumos_envs  # noqa: F401  (registers the env ids)
from agents.agent import LumosAgent
from agents.backends.base import GenerationConfig
from agents.backends.tiny import load_tiny_backend
from agents.grounder import Grounder
from agents.planner import Planner
from rollouts.training import TinyRecipe, train_tiny


@dataclass
class Args:
    minutes: float = 8.0
    """training budget in minutes"""
    tasks_per_family: int = 300
    """training tasks per family (seed 0)"""
    eval_size: int = 50
    """test tasks per family"""
    eval_seed: int = 1000
    """seed of the test split"""
    batch_envs: int = 32
    """envs stepped together during evaluation"""
    workdir: str = ""
    """where to put data and models (a temp dir when empty)"""
    hidden_size: int = 128
    """model width"""
    num_layers: int = 4
    """transformer blocks"""
    learning_rate: float = 3e-3
    """peak learning rate"""
    batch_size: int = 16
    """conversations per step"""
    number_placeholders: bool = True
    """N1, N2, ... for the task's numbers"""
    separate_modules: bool = True
    """a planner and a grounder model trained at once (else one unified model)"""


def evaluate(planner_dir: str | Path, grounder_dir: str | Path, task_specs: Sequence[str], batch_envs: int = 32) -> dict[str, Any]:
    """Accuracy (reward 1) of a LumosAgent with the tiny planner and grounder, per spec."""
    plan_backend = load_tiny_backend(planner_dir, batch_size=batch_envs)
    ground_backend = plan_backend if str(grounder_dir) == str(planner_dir) else load_tiny_backend(grounder_dir, batch_size=batch_envs)
    generation = GenerationConfig(max_new_tokens=64)
    out: dict[str, Any] = {}
    for spec in task_specs:
        probe = gym.make("lumos/Math-v0", disable_env_checker=True, tasks=spec)
        count = len(probe.unwrapped.tasks)
        probe.close()
        correct = 0
        for start in range(0, count, batch_envs):
            indices = list(range(start, min(count, start + batch_envs)))
            envs = [gym.make("lumos/Math-v0", disable_env_checker=True, tasks=spec) for _ in indices]
            agent = LumosAgent(Planner(plan_backend, generation), Grounder(ground_backend, generation), max_subgoals=8, demonstrations={})
            observations, infos, live = [], [], []
            for slot, (env, index) in enumerate(zip(envs, indices)):
                observation, info = env.reset(options={"task_index": index})
                agent.reset(observation, info, slot)
                observations.append(observation)
                infos.append(info)
                live.append(slot)
            while live:
                actions = agent.act_batch([observations[s] for s in live], [infos[s] for s in live], live)
                still = []
                for slot, action in zip(live, actions):
                    observations[slot], reward, terminated, truncated, infos[slot] = envs[slot].step(action)
                    if terminated or truncated:
                        correct += int(reward >= 1)
                    else:
                        still.append(slot)
                live = still
            for env in envs:
                env.close()
        out[spec.split("?")[0].split(":")[1]] = {"tasks": count, "accuracy": correct / count}
    total = sum(v["tasks"] for v in out.values())
    out["overall"] = sum(v["accuracy"] * v["tasks"] for v in out.values()) / total
    return out


def main(args: Args) -> dict[str, Any]:
    recipe = TinyRecipe(
        tasks_per_family=args.tasks_per_family, max_minutes=args.minutes, hidden_size=args.hidden_size,
        num_layers=args.num_layers, learning_rate=args.learning_rate, batch_size=args.batch_size,
        number_placeholders=args.number_placeholders, separate_modules=args.separate_modules,
    )
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lumos-bench-train-"))
    start = time.monotonic()
    result = train_tiny(recipe, workdir)
    train_s = time.monotonic() - start
    eval_start = time.monotonic()
    accuracy = evaluate(result.planner_dir, result.grounder_dir, recipe.task_specs(seed=args.eval_seed, size=args.eval_size), args.batch_envs)
    line = {
        "bench": "training_tiny_recipe",
        "recipe": {f.name: getattr(recipe, f.name) for f in fields(recipe)},
        "train_minutes_total": round(train_s / 60, 2),
        "train_minutes_trainer": round(result.wall_time_s / 60, 2),
        "steps": result.steps,
        "steps_per_s": round(result.steps / result.wall_time_s, 3),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "final_loss": {k: r.final_loss for k, r in result.results.items()},
        "records": {k: r.records for k, r in result.results.items()},
        "eval_minutes": round((time.monotonic() - eval_start) / 60, 2),
        "accuracy": accuracy,
        "planner": result.planner_dir,
        "grounder": result.grounder_dir,
    }
    print(json.dumps(line))
    return line


def _parse() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(Args):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=f.default)
        else:
            kind = {"float": float, "int": int, "str": str}[str(f.type)]
            parser.add_argument(flag, type=kind, default=f.default)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(_parse())
