"""Train the default tiny recipe (`rollouts.training.TinyRecipe`) and measure it end to end.

Trains one tiny planner+grounder model on gold LUMOS-I conversations of the GSM8K-like synthetic
families (seed 0), then runs a `LumosAgent` with it on `lumos/Math-v0` over the same families at
another seed (a disjoint test split) and counts correct final answers (reward 1). Prints one JSON
line: training steps, minutes, tokens/s, and accuracy per family and overall.

    .venv/bin/python benchmarks/bench_training.py --minutes 8 --eval-size 50
    .venv/bin/python benchmarks/bench_training.py --minutes 8 --number-placeholders false   # the ablation
    .venv/bin/python benchmarks/bench_training.py --minutes 8 --families shopping_total,rate_time,percent_change,sharing

With `--model NAME_OR_FOLDER` (e.g. `smollm2`) it instead measures fine-tuning a real model the
way `lumos train --lora` does: seconds per optimizer step at `--max-length` tokens (one
grounding conversation per step, its last `--max-length` tokens; the first step, which warms up, is reported
apart), then the adapter reloaded and the seconds per batched planner call (`--gen-batch`
conversations, `--max-new-tokens`), the two numbers that decide what a demo can fit.

    .venv/bin/python benchmarks/bench_training.py --model smollm2 --steps 6 --max-length 256
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
    """N1, N2, ... for the task's numbers (`--number-placeholders false` is the demo's ablation)"""
    families: str = ""
    """training families, comma-separated (default: the tiny recipe's), to measure which family helps held-out"""
    heldout: bool = True
    """also evaluate on the demo's held-out maths suites (svamp_like, linear_equation, the bundled GSM8K sample)"""
    separate_modules: bool = True
    """a planner and a grounder model trained at once (else one unified model)"""
    model: str = ""
    """a real model to fine-tune with LoRA instead of the tiny recipe (named model or folder)"""
    steps: int = 6
    """real model: optimizer steps measured (the first is reported apart)"""
    max_length: int = 256
    """real model: tokens per training sequence"""
    lora_r: int = 16
    """real model: LoRA rank"""
    gen_batch: int = 8
    """real model: conversations per timed planner call"""
    max_new_tokens: int = 32
    """real model: tokens generated per timed call"""


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
        out[_suite_name(spec)] = {"tasks": count, "accuracy": correct / count}
    total = sum(v["tasks"] for v in out.values())
    out["overall"] = sum(v["accuracy"] * v["tasks"] for v in out.values()) / total
    return out


def _suite_name(spec: str) -> str:
    loader, _, rest = spec.partition(":")
    return Path(rest).stem if loader == "gsm8k" else rest.split("?")[0]


def heldout_specs(seed: int, size: int) -> list[str]:
    """The demo's held-out maths suites (the families the tiny recipe never trains on, and GSM8K)."""
    from rollouts.demo import BUNDLED_GSM8K_SAMPLE

    return [f"synthetic:svamp_like?size={size}&seed={seed}", f"synthetic:linear_equation?size={size}&seed={seed}",
            f"gsm8k:{BUNDLED_GSM8K_SAMPLE}"]


class _StepTimer:
    """Wall time of each optimizer step (a TrainerCallback)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self._start = time.monotonic()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.times.append(time.monotonic() - self._start)


def bench_real_model(args: Args) -> dict[str, Any]:
    """LoRA fine-tuning of a real model on CPU (or GPU): seconds per step, then generation speed."""
    import statistics

    import torch
    from transformers import TrainerCallback

    from agents.backends.transformers import TransformersBackend
    from rollouts.training import TrainConfig, build_trainer, oracle_sft_records, save_trained

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lumos-bench-real-"))
    records = [r for r in oracle_sft_records(["synthetic:shopping_total?size=8&seed=0"]) if "ground" in r["id"]]
    data = workdir / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = TrainConfig(output_dir=str(workdir / "lora"), data_files=[str(data)], base_model=args.model, lora=True, lora_r=args.lora_r,
                         lora_alpha=2 * args.lora_r, max_steps=args.steps, max_length=args.max_length, per_device_train_batch_size=1,
                         learning_rate=1e-4, logging_steps=1, save_strategy="no", disable_tqdm=True, report_to="none", seed=0,
                         truncation_mode="keep_end")  # a grounding prompt alone is longer than 256 SmolLM2 tokens
    prepared = build_trainer(config)
    timer = _StepTimer()
    prepared.trainer.add_callback(type("StepTimer", (TrainerCallback,), {"on_step_begin": timer.on_step_begin, "on_step_end": timer.on_step_end}))
    lengths = [min(len(ids), args.max_length) for ids in prepared.trainer.train_dataset["input_ids"]]
    start = time.monotonic()
    prepared.trainer.train()
    train_s = time.monotonic() - start
    save_trained(prepared, config, Path(config.output_dir))
    backend = TransformersBackend.from_pretrained(config.output_dir, batch_size=args.gen_batch)
    conversations = [r["messages"][:1] for r in oracle_sft_records(["synthetic:shopping_total?size=2&seed=1"])][: 1] * args.gen_batch
    backend.generate_chat(conversations[:1], max_new_tokens=4)  # warm-up
    gen_start = time.monotonic()
    backend.generate_chat(conversations, max_new_tokens=args.max_new_tokens)
    gen_s = time.monotonic() - gen_start
    steady = timer.times[1:] or timer.times
    line = {
        "bench": "training_real_model_lora", "model": args.model, "device": "cuda" if torch.cuda.is_available() else "cpu",
        "torch_threads": torch.get_num_threads(), "max_length": args.max_length, "lora_r": args.lora_r,
        "tokens_per_step_mean": round(sum(lengths) / len(lengths), 1), "steps": len(timer.times),
        "first_step_s": round(timer.times[0], 2), "s_per_step_median": round(statistics.median(steady), 2),
        "s_per_step_min": round(min(steady), 2), "train_s": round(train_s, 1),
        "gen_batch": args.gen_batch, "gen_max_new_tokens": args.max_new_tokens, "gen_call_s": round(gen_s, 2),
        "load_average": list(__import__("os").getloadavg()),
    }
    print(json.dumps(line))
    return line


def main(args: Args) -> dict[str, Any]:
    if args.model:
        return bench_real_model(args)
    recipe = TinyRecipe(
        tasks_per_family=args.tasks_per_family, max_minutes=args.minutes, hidden_size=args.hidden_size,
        num_layers=args.num_layers, learning_rate=args.learning_rate, batch_size=args.batch_size,
        number_placeholders=args.number_placeholders, separate_modules=args.separate_modules,
        **({"families": tuple(f.strip() for f in args.families.split(",") if f.strip())} if args.families else {}),
    )
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="lumos-bench-train-"))
    start = time.monotonic()
    result = train_tiny(recipe, workdir)
    train_s = time.monotonic() - start
    eval_start = time.monotonic()
    accuracy = evaluate(result.planner_dir, result.grounder_dir, recipe.task_specs(seed=args.eval_seed, size=args.eval_size, part="test"), args.batch_envs)
    if args.heldout:
        accuracy["heldout"] = evaluate(result.planner_dir, result.grounder_dir, heldout_specs(args.eval_seed, args.eval_size), args.batch_envs)
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
