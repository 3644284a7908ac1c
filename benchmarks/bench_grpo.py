"""GRPO (`rollouts.grpo`) end to end: SmolLM2 steps on CPU, and the SFT-then-GRPO experiment.

`--part smollm2`: a few GRPO steps of SmolLM2-135M-Instruct on CPU on a GSM8K-like family; prints
the time per step, split into rollout (episodes through the engine) and the rest (TRL's scoring
forward, loss, backward, optimizer).

`--part experiment`: the experiment of issue 16. (1) Train the demo's tiny SFT agent (the
`TinyRecipe`: a separate planner and grounder, as `lumos demo` trains them) or reuse one with
`--sft-dir`. (2) Evaluate it greedily on each in-template family's test split (seed 1000) and pick
the weakest family. (3) For each training seed: GRPO for a fixed wall-clock budget on that family's
training split (seed 0), training the planner (`module="planner"`, the SFT grounder frozen; the
tiny recipe's planner is its weaker module). (4) Evaluate before and after on the family's test
split and the held-out maths suites: Wilson intervals and an exact paired McNemar test per suite
and seed. Prints one JSON object. `--alternate` measures design (a) instead: two trainers in turn,
the planner for half the budget (SFT grounder frozen), then the grounder for the other half (the
new planner frozen).

    .venv/bin/python benchmarks/bench_grpo.py --part smollm2 --steps 3
    .venv/bin/python benchmarks/bench_grpo.py --part experiment --sft-dir runs/demo/tiny --grpo-minutes 5 --seeds 0 1 2
    .venv/bin/python benchmarks/bench_grpo.py --part experiment --sft-minutes 1.5 --sft-tasks 100 --grpo-minutes 4 [--alternate]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from rollouts.grpo import GrpoConfig, LumosRollouts, grpo

HELDOUT = ("svamp_like", "linear_equation")


def timed_rollouts() -> dict[str, float]:
    """Wrap `LumosRollouts.__call__` to add up the seconds spent playing episodes."""
    spent = {"rollout_s": 0.0, "calls": 0}
    original = LumosRollouts.__call__

    def call(self: LumosRollouts, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        tick = time.monotonic()
        try:
            return original(self, prompts, trainer)
        finally:
            spent["rollout_s"] += time.monotonic() - tick
            spent["calls"] += 1

    LumosRollouts.__call__ = call  # type: ignore[method-assign]
    return spent


def bench_smollm2(args: argparse.Namespace) -> dict[str, Any]:
    spent = timed_rollouts()
    out = Path(args.workdir or tempfile.mkdtemp(prefix="bench-grpo-")) / "smollm2"
    config = GrpoConfig(model="smollm2", tasks=f"synthetic:{args.family}?size=4&seed=0", output_dir=str(out),
                        episodes_per_task=args.episodes, max_subgoals=args.max_subgoals, max_new_tokens=args.max_new_tokens,
                        train_steps=args.steps, learning_rate=1e-6, torch_threads=args.threads, progress=False)
    result = grpo(config)
    last = [e for e in result.log_history if "reward" in e]
    return {
        "part": "smollm2", "steps": result.steps, "seconds_per_step": result.seconds_per_step,
        "rollout_s_per_step": spent["rollout_s"] / max(1, spent["calls"]),
        "rows_per_step": config.num_generations * config.tasks_per_step, "episodes": result.episodes,
        "mean_reward": result.mean_reward, "constant_groups": f"{result.constant_groups}/{result.groups}",
        "clipped_ratio": [e.get("completions/clipped_ratio") for e in last],
        "mean_length": [e.get("completions/mean_length") for e in last], "threads": args.threads,
    }


# ---------------------------------------------------------------------------------------------
# the experiment


def evaluate(planner: str, grounder: str, spec: str, max_subgoals: int = 6, max_new_tokens: int = 96) -> dict[str, bool]:
    """Greedy success of each task of `spec` (task id -> success)."""
    from rollouts.engine import Job, RolloutConfig, _episodes, run_episodes
    from rollouts.policies import AgentConfig, make_agent

    agent = make_agent(AgentConfig(agent="lumos", planner_model=planner, grounder_model=grounder, temperature=0.0,
                                   max_subgoals=max_subgoals, max_new_tokens=max_new_tokens, batch_size=32))
    config = RolloutConfig(jobs=[Job("lumos/Math-v0", spec)], num_envs=32, progress=False)
    envs: dict = {}
    try:
        return {t.key.task_id: bool(t.success) for t in run_episodes(list(_episodes(config, envs)), agent, config, envs,
                                                                     {"env": 0.0, "agent": 0.0})}
    finally:
        for env in envs.values():
            env.close()


def wilson(successes: int, trials: int) -> list[float] | None:
    from scipy import stats

    if not trials:
        return None
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return [round(float(ci.low), 3), round(float(ci.high), 3)]


def paired(before: dict[str, bool], after: dict[str, bool]) -> dict[str, Any]:
    """Success rates with Wilson intervals, and the exact McNemar p-value over the paired tasks."""
    from scipy import stats

    ids = sorted(set(before) & set(after))
    gained = sum(after[i] and not before[i] for i in ids)
    lost = sum(before[i] and not after[i] for i in ids)
    p = 1.0 if gained + lost == 0 else float(min(1.0, stats.binomtest(gained, gained + lost, 0.5).pvalue))
    b, a = sum(before[i] for i in ids), sum(after[i] for i in ids)
    return {"tasks": len(ids), "before": b / len(ids), "before_ci": wilson(b, len(ids)), "after": a / len(ids),
            "after_ci": wilson(a, len(ids)), "gained": gained, "lost": lost, "mcnemar_p": p}


def experiment(args: argparse.Namespace) -> dict[str, Any]:
    from rollouts.training import TINY_TRAIN_FAMILIES, TinyRecipe, train_tiny

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-grpo-"))
    report: dict[str, Any] = {"part": "experiment"}
    if args.sft_dir:
        planner, grounder = str(Path(args.sft_dir) / "planner"), str(Path(args.sft_dir) / "grounder")
    else:
        tick = time.monotonic()
        trained = train_tiny(TinyRecipe(max_minutes=args.sft_minutes, tasks_per_family=args.sft_tasks), work / "sft")
        planner, grounder = trained.planner_dir, trained.grounder_dir
        report["sft"] = {"minutes": args.sft_minutes, "steps": trained.steps, "wall_s": time.monotonic() - tick}
    test = {f: f"synthetic:{f}?size={args.eval_size}&seed=1000" for f in TINY_TRAIN_FAMILIES}
    heldout = {f: f"synthetic:{f}?size={args.eval_size}&seed=1000" for f in HELDOUT}
    tick = time.monotonic()
    before = {name: evaluate(planner, grounder, spec) for name, spec in {**test, **heldout}.items()}
    rates = {f: sum(before[f].values()) / max(1, len(before[f])) for f in test}
    weakest = args.family or min(rates, key=rates.get)  # type: ignore[arg-type]
    report.update(sft_rates=rates, weakest=weakest, eval_s=time.monotonic() - tick)
    runs = []

    def train(module: str, model: str, frozen: str, out: Path, minutes: float, seed: int) -> Any:
        return grpo(GrpoConfig(
            model=model, frozen_model=frozen, module=module, tasks=f"synthetic:{weakest}?size={args.grpo_tasks}&seed=0",  # type: ignore[arg-type]
            output_dir=str(out), episodes_per_task=args.episodes, tasks_per_step=args.tasks_per_step, max_subgoals=6,
            max_new_tokens=96, temperature=args.temperature, learning_rate=args.learning_rate, train_steps=100_000,
            max_minutes=minutes, seed=seed, progress=False, torch_threads=args.threads,
        ))

    for seed in args.seeds:
        out = work / f"grpo-seed{seed}"
        if args.alternate:  # design (a): two trainers in turn, each module trained while the other is frozen
            first = train("planner", planner, grounder, out / "planner", args.grpo_minutes / 2, seed)
            second = train("grounder", grounder, str(out / "planner"), out / "grounder", args.grpo_minutes / 2, seed)
            new_planner, new_grounder = str(out / "planner"), str(out / "grounder")
            result_steps = {"planner": first.steps, "grounder": second.steps}
            result = first if first.mean_reward is not None else second
            mean_reward = {"planner": first.mean_reward, "grounder": second.mean_reward}
            constant = f"{first.constant_groups + second.constant_groups}/{first.groups + second.groups}"
            seconds = {"planner": first.seconds_per_step, "grounder": second.seconds_per_step}
        else:  # the planner trained, the SFT grounder frozen
            result = train("planner", planner, grounder, out, args.grpo_minutes, seed)
            new_planner, new_grounder = str(out), grounder
            result_steps, mean_reward, seconds = result.steps, result.mean_reward, result.seconds_per_step
            constant = f"{result.constant_groups}/{result.groups}"
        suites = {weakest: test[weakest], **heldout}
        after = {name: evaluate(new_planner, new_grounder, spec) for name, spec in suites.items()}
        runs.append({"seed": seed, "design": "a (alternating)" if args.alternate else "planner only", "steps": result_steps,
                     "seconds_per_step": seconds, "train_mean_reward": mean_reward, "constant_groups": constant,
                     "suites": {name: paired(before[name], after[name]) for name in suites}})
        print(json.dumps(runs[-1]), flush=True)
    report["runs"] = runs
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["smollm2", "experiment"], default="smollm2")
    parser.add_argument("--workdir", default="")
    parser.add_argument("--steps", type=int, default=3, help="smollm2: GRPO steps")
    parser.add_argument("--family", default="", help="smollm2: task family; experiment: skip the search for the weakest")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per task (the group)")
    parser.add_argument("--max-subgoals", type=int, default=2, help="smollm2: planning limit (sets the row slots)")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="smollm2: longest module turn")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: OpenMP threads spin against other processes on a shared machine)")
    parser.add_argument("--sft-dir", default="", help="experiment: a train_tiny folder (planner/, grounder/) to start from")
    parser.add_argument("--sft-minutes", type=float, default=8.0)
    parser.add_argument("--sft-tasks", type=int, default=300, help="SFT training tasks per family")
    parser.add_argument("--grpo-minutes", type=float, default=5.0, help="GRPO wall-clock budget per seed")
    parser.add_argument("--grpo-tasks", type=int, default=100, help="GRPO training tasks (seed 0)")
    parser.add_argument("--tasks-per-step", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--temperature", type=float, default=0.5,
                        help="experiment: GRPO sampling temperature (at 1.0 the tiny SFT agent's groups were 95%% constant)")
    parser.add_argument("--eval-size", type=int, default=50, help="test tasks per suite (seed 1000)")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--alternate", action="store_true",
                        help="experiment: design (a), planner then grounder, each for half the budget, the other frozen")
    args = parser.parse_args(argv)
    if args.part == "smollm2":
        args.family = args.family or "shopping_total"
        report = bench_smollm2(args)
    else:
        report = experiment(args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
