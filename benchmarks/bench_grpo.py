"""GRPO (`rollouts.grpo`) end to end: SmolLM2 steps on CPU, and the SFT-then-GRPO experiment.

`--part smollm2`: a few GRPO steps of SmolLM2-135M-Instruct on CPU on a GSM8K-like family; prints
the time per step, split into rollout (episodes through the engine) and the rest (TRL's scoring
forward, loss, backward, optimizer).

`--part experiment`: the SFT-then-GRPO experiment, chosen on validation and reported on test.
(1) Train the demo's tiny SFT agent (`TinyRecipe`, a separate planner and grounder, on `part=train`
seed 0; 1.5 minutes by default, a weaker agent with headroom) or reuse one with `--sft-dir`.
(2) Pick the weakest in-template family on its validation split (seed 2000, `part=validation`)
among those the agent solves at least `--min-validation-success` of (a family it never solves
gives GRPO constant groups, so no gradient).
(3) Try each temperature and learning rate of the grid with one selection seed, GRPO on that
family's `part=train` split for a fixed number of steps, and keep the best on validation.
(4) Train the chosen setting with each of `--seeds` and evaluate once, before and after, on test
splits (seed 1000, `part=test`) of the family and the held-out maths families: Wilson intervals and
an exact paired McNemar test per suite and seed. Test questions share no masked question with any
SFT or GRPO training prompt (checked, and recorded as `masked_overlap_with_training`); parts are
disjoint by construction (`lumos_envs.tasks.question_keys`). `--alternate` trains design (a): the
planner for half the steps (SFT grounder frozen), then the grounder (the new planner frozen).

    .venv/bin/python benchmarks/bench_grpo.py --part smollm2 --steps 3
    .venv/bin/python benchmarks/bench_grpo.py --part experiment --results-dir benchmarks/results/grpo [--alternate]
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


def suite_spec(family: str, part: str, seed: int, size: int) -> str:
    """A family's evaluation split: `part` keeps its questions apart from every training question
    once numbers are masked (`lumos_envs.tasks.question_keys`), the seed makes the draw new."""
    return f"synthetic:{family}?size={size}&seed={seed}&part={part}"


def masked_overlap(suites: dict[str, str], training_specs: Sequence[str]) -> dict[str, int]:
    """Per suite, how many of its questions equal a training question once numbers are masked (the
    check `lumos eval` refuses suites by, `rollouts.categories.training_overlap`)."""
    from rollouts.categories import training_overlap, training_questions

    questions = training_questions(training_specs)
    return {name: training_overlap("lumos/Math-v0", spec, questions)["masked_duplicates"] for name, spec in suites.items()}


def experiment(args: argparse.Namespace) -> dict[str, Any]:
    """Choose on validation, report on test: the family, the temperature and the learning rate are
    chosen from validation splits (seed 2000, `part=validation`) with one selection seed; the chosen
    setting is then trained with each of `--seeds` and evaluated once on test splits (seed 1000,
    `part=test`) that share no masked question with any SFT or GRPO training prompt."""
    from rollouts.training import TINY_TRAIN_FAMILIES, TinyRecipe, train_tiny

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-grpo-"))
    results = Path(args.results_dir) if args.results_dir else None
    if results:
        results.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"part": "experiment", "argv": vars(args)}
    recipe = TinyRecipe(max_minutes=args.sft_minutes, tasks_per_family=args.sft_tasks)
    if args.sft_dir:
        planner, grounder = str(Path(args.sft_dir) / "planner"), str(Path(args.sft_dir) / "grounder")
    else:
        tick = time.monotonic()
        trained = train_tiny(recipe, work / "sft")
        planner, grounder = trained.planner_dir, trained.grounder_dir
        report["sft"] = {"minutes": args.sft_minutes, "steps": trained.steps, "wall_s": time.monotonic() - tick,
                         "task_specs": recipe.task_specs()}
    families = tuple(TINY_TRAIN_FAMILIES)
    validation = {f: suite_spec(f, "validation", 2000, args.eval_size) for f in families + HELDOUT}
    test = {f: suite_spec(f, "test", 1000, args.eval_size) for f in families + HELDOUT}

    # (1) the family, on validation
    tick = time.monotonic()
    sft_validation = {f: evaluate(planner, grounder, validation[f]) for f in families}
    rates = {f: sum(v.values()) / max(1, len(v)) for f, v in sft_validation.items()}
    # a family the agent never solves gives GRPO constant groups (no gradient): the weakest family
    # with at least --min-validation-success, or the weakest of all when none reaches it
    candidates = {f: r for f, r in rates.items() if r >= args.min_validation_success} or rates
    family = args.family or min(candidates, key=candidates.get)  # type: ignore[arg-type]
    print(json.dumps({"sft_validation_rates": rates, "family": family}), flush=True)
    grpo_spec = f"synthetic:{family}?size={args.grpo_tasks}&seed=0&part=train"
    training_specs = recipe.task_specs() + [grpo_spec]
    report.update(family=family, sft_validation_rates=rates, family_rule=f"weakest with validation success >= {args.min_validation_success}",
                  grpo_tasks=grpo_spec,
                  masked_overlap_with_training={"validation": masked_overlap(validation, training_specs),
                                                "test": masked_overlap(test, training_specs)})
    if any(report["masked_overlap_with_training"]["test"].values()):
        raise SystemExit(f"test suites overlap the training prompts: {report['masked_overlap_with_training']['test']}")

    def train(out: Path, temperature: float, learning_rate: float, seed: int) -> tuple[str, str, dict[str, Any]]:
        """GRPO of the planner (the SFT grounder frozen), or with `--alternate` design (a): the
        planner for half the steps, then the grounder for the other half with the new planner frozen."""
        def run(module: str, model: str, frozen: str, folder: Path, steps: int) -> Any:
            return grpo(GrpoConfig(
                model=model, frozen_model=frozen, module=module, tasks=grpo_spec, output_dir=str(folder),  # type: ignore[arg-type]
                episodes_per_task=args.episodes, tasks_per_step=args.tasks_per_step, max_subgoals=6, max_new_tokens=96,
                temperature=temperature, learning_rate=learning_rate, train_steps=steps,
                max_minutes=args.grpo_max_minutes, seed=seed, progress=False, torch_threads=args.threads,
            ))

        if not args.alternate:
            result = run("planner", planner, grounder, out, args.grpo_steps)
            return str(out), grounder, {"steps": result.steps, "seconds_per_step": result.seconds_per_step,
                                        "train_mean_reward": result.mean_reward,
                                        "constant_groups": f"{result.constant_groups}/{result.groups}"}
        half = max(1, args.grpo_steps // 2)
        first = run("planner", planner, grounder, out / "planner", half)
        second = run("grounder", grounder, str(out / "planner"), out / "grounder", half)
        return str(out / "planner"), str(out / "grounder"), {
            "steps": {"planner": first.steps, "grounder": second.steps},
            "seconds_per_step": {"planner": first.seconds_per_step, "grounder": second.seconds_per_step},
            "train_mean_reward": {"planner": first.mean_reward, "grounder": second.mean_reward},
            "constant_groups": f"{first.constant_groups + second.constant_groups}/{first.groups + second.groups}"}

    # (2) temperature and learning rate, on validation, with the selection seed
    selected_suites = [family, *HELDOUT]
    sft_selected = {name: sft_validation.get(name) or evaluate(planner, grounder, validation[name]) for name in selected_suites}
    grid = []
    for temperature in args.temperatures:
        for learning_rate in args.learning_rates:
            out = work / f"select-T{temperature}-lr{learning_rate}"
            new_planner, new_grounder, info = train(out, temperature, learning_rate, args.selection_seed)
            after = {name: evaluate(new_planner, new_grounder, validation[name]) for name in selected_suites}
            row = {"temperature": temperature, "learning_rate": learning_rate, "seed": args.selection_seed, **info,
                   "validation": {name: paired(sft_selected[name], after[name]) for name in selected_suites}}
            grid.append(row)
            print(json.dumps({"selection": row}), flush=True)
    best = max(grid, key=lambda r: (r["validation"][family]["after"],
                                    sum(r["validation"][h]["after"] for h in HELDOUT), -r["learning_rate"]))
    report["selection"] = {"grid": grid, "chosen": {"temperature": best["temperature"], "learning_rate": best["learning_rate"]},
                           "rule": "highest validation success on the family, then on held-out maths, then the lower lr"}
    report["selection_s"] = time.monotonic() - tick
    if results:
        (results / "selection.json").write_text(json.dumps(report, indent=1) + "\n")

    # (3) test, once, with each training seed
    test_suites = [family, *HELDOUT]
    sft_test = {name: evaluate(planner, grounder, test[name]) for name in test_suites}
    runs = []
    for seed in args.seeds:
        out = work / f"grpo-seed{seed}"
        new_planner, new_grounder, info = train(out, best["temperature"], best["learning_rate"], seed)
        after = {name: evaluate(new_planner, new_grounder, test[name]) for name in test_suites}
        run = {"seed": seed, "family": family, "design": "a (alternating)" if args.alternate else "planner only",
               "temperature": best["temperature"], "learning_rate": best["learning_rate"], **info,
               "test_specs": {name: test[name] for name in test_suites},
               "test": {name: paired(sft_test[name], after[name]) for name in test_suites},
               "per_task": {name: {"before": sft_test[name], "after": after[name]} for name in test_suites}}
        runs.append(run)
        if results:
            (results / f"seed{seed}.json").write_text(json.dumps(run, indent=1) + "\n")
        print(json.dumps({k: v for k, v in run.items() if k != "per_task"}), flush=True)
    report["runs"] = [{k: v for k, v in run.items() if k != "per_task"} for run in runs]
    if results:
        (results / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
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
    parser.add_argument("--sft-minutes", type=float, default=1.5, help="experiment: SFT budget (1.5: the weaker agent with headroom)")
    parser.add_argument("--sft-tasks", type=int, default=100, help="SFT training tasks per family (seed 0, part=train)")
    parser.add_argument("--grpo-steps", type=int, default=100, help="experiment: GRPO optimizer steps per run (a fixed count, so load does not change it)")
    parser.add_argument("--grpo-max-minutes", type=float, default=15.0, help="experiment: wall-clock cap per GRPO run")
    parser.add_argument("--grpo-tasks", type=int, default=100, help="GRPO training tasks (seed 0, part=train)")
    parser.add_argument("--tasks-per-step", type=int, default=2)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 1.0], help="experiment: sampling temperatures tried on validation")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[3e-5, 1e-4], help="experiment: learning rates tried on validation")
    parser.add_argument("--min-validation-success", type=float, default=0.1,
                        help="experiment: the family is the weakest whose SFT validation success reaches this (below it GRPO's groups are constant)")
    parser.add_argument("--selection-seed", type=int, default=100, help="experiment: training seed of the validation grid (not among --seeds)")
    parser.add_argument("--eval-size", type=int, default=50, help="tasks per validation or test suite")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="experiment: training seeds of the test runs")
    parser.add_argument("--results-dir", default="", help="experiment: write selection.json, seed{N}.json and summary.json here")
    parser.add_argument("--alternate", action="store_true",
                        help="experiment: design (a), planner then grounder, each for half the steps, the other frozen")
    args = parser.parse_args(argv)
    if args.part == "smollm2":
        args.family = args.family or "shopping_total"
        report = bench_smollm2(args)
    else:
        report = experiment(args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
