"""`lumos improve`: the self-improvement loop (rejection-sampling fine-tuning) on LUMOS agents.

Each round, in its own folder `round_{k}/`: roll the current policy out on the training tasks,
several sampled attempts per task (`rollouts.jsonl`); keep the successful trajectories; turn them
into LUMOS SFT records of the loop's formulation with their real execution results (`sft.jsonl`;
turns that broke the format are left out and counted); fine-tune on them with TRL (`model_*/`, TRL's
log in `train.log`);
evaluate the new models greedily on held-out suites (`heldout/`, an evaluation report paired
episode by episode with the previous models' one); write the round's report (`report.md`,
`report.json`, `report.png`: success of the round's attempts).

Why held-out suites every round: the attempts' success on the round's own training tasks rises as
the model memorises them, so it cannot tell learning from memorising. What the round gained on
tasks it never trained on (`heldout_gain`: the change in pooled held-out success, with the paired
McNemar test per suite) can. Before round 0 the starting models are evaluated the same way
(`base_heldout/`), so round 0's gain is measured too.

Two AgentEvol choices (Xi et al. 2024, "AgentGym") are flags: `accumulate` trains each round on
the records of every round so far, `restart_from_base` fine-tunes each round from the starting
models instead of the previous round's (the rollouts always use the newest models). Both on is
AgentEvol; `--no-accumulate --no-restart-from-base` is the earlier loop (each round fine-tunes the
previous round's models on its own records only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rollouts.categories import category_label, task_provenance, training_questions
from rollouts.engine import ExecutorOptions, Job, RolloutConfig, run_rollouts
from rollouts.evaluation import EvalConfig, Suite, evaluate, refuse_overlap, suite_overlaps, suites_from_json
from rollouts.policies import AgentConfig, AgentKind, make_agent
from rollouts.report import summarize, write_report
from rollouts.sft_data import ConversionStats, trajectory_records
from rollouts.stats import wilson_interval
from rollouts.store import read_trajectories


@dataclass
class ImproveConfig(AgentConfig, ExecutorOptions):
    """Improve a LUMOS agent in rounds: sample attempts on training tasks, keep the successful ones, fine-tune on them (the agent flags name the starting model)."""

    agent: AgentKind = "lumos"
    """the loop trains a LUMOS planner and grounder, so lumos is the only agent it takes"""
    env: list[str] = field(default_factory=lambda: ["lumos/Math-v0"])
    """env ids of the training tasks"""
    tasks: list[str] = field(default_factory=lambda: ["synthetic:math_train?size=20&part=train"])
    """task spec per env (each round's records come from them; recorded in every round's models)"""
    rounds: int = 2
    """rounds of rollout -> filter -> SFT"""
    samples: int = 4
    """sampled attempts per task and round"""
    improve_temperature: float = 0.7
    """sampling temperature of the attempts"""
    min_reward: float = 1.0
    """attempts kept for training"""
    train_minutes: float = 2.0
    """training budget per round"""
    learning_rate: float = 5e-4
    """fine-tuning learning rate"""
    accumulate: bool = True
    """train each round on the records of every round so far (AgentEvol); off: the round's own records only"""
    restart_from_base: bool = True
    """fine-tune each round from the starting models (AgentEvol); off: from the previous round's models"""
    heldout_suites: str = ""
    """suites evaluated after every round, as a JSON list of {name, env_id, tasks, kind, limit, env_kwargs}
    (as `lumos eval --suites`); default: the validation parts of the demo's held-out maths families
    (svamp-like, linear-equation; `part=validation`), since rounds are watched and stopped on these
    numbers and choices are made on validation, never on test (the GSM8K test sample is left out);
    '[]' evaluates nothing"""
    heldout_size: int = 50
    """tasks per default held-out suite"""
    heldout_seed: int = 2000
    """task seed of the default held-out suites (validation parts; the demo tests on seed 1000's test parts)"""
    num_envs: int = 16
    """episodes in flight"""
    out: str = "runs/improve"
    """one folder per round under it"""

    def __post_init__(self) -> None:
        if self.agent != "lumos":  # before the base checks, so `--agent oracle` gets this line and nothing else
            raise ValueError(f"lumos improve trains a LUMOS planner and grounder; --agent {self.agent} cannot be improved: "
                             "use --agent lumos (the default) with --model")
        super().__post_init__()
        if self.rounds < 1 or self.samples < 1:
            raise ValueError("rounds and samples must be >= 1")
        if self.heldout_size < 1:
            raise ValueError(f"heldout_size must be >= 1, got {self.heldout_size}")
        if len(self.tasks) != len(self.env):
            raise ValueError(f"--tasks needs one spec per --env ({len(self.env)}), got {len(self.tasks)}")
        if self.heldout_suites:
            self.suites()  # a malformed list is refused before any round runs

    def suites(self) -> list[Suite]:
        """The held-out suites evaluated after every round."""
        if self.heldout_suites:
            try:
                return suites_from_json(self.heldout_suites)
            except ValueError as error:
                raise ValueError(str(error).replace("--suites", "--heldout-suites", 1)) from None
        from rollouts.demo import heldout_maths_suites

        return [suite for suite in heldout_maths_suites(self.heldout_size, self.heldout_seed, part="validation")
                if suite.tasks.startswith("synthetic:")]


def improve(config: ImproveConfig) -> list[dict[str, Any]]:
    """Run the rounds; returns one summary per round (also in each round's `report.json`)."""
    from dataclasses import asdict

    from rollouts.demo import output_to
    from rollouts.training import TrainConfig, train, write_run_manifest

    suites = config.suites()
    if suites:  # before anything runs: a held-out suite that repeats the training tasks' questions measures memory
        refuse_overlap(suite_overlaps(suites, training_questions(task_provenance(zip(config.env, config.tasks))["task_specs"])), flag=None)
    write_run_manifest(config.out, json.loads(json.dumps(asdict(config), default=str)),
                       seeds={"sample_seed": config.sample_seed, "rollout_seeds": [k * 100_000 for k in range(config.rounds)]})
    base_planner = planner = config.planner_model or config.model
    base_grounder = grounder = config.grounder_model or config.model
    previous = _heldout(config, suites, planner, grounder, Path(config.out) / "base_heldout", None) if suites else None
    data_files: list[str] = []
    data_rounds: list[int] = []
    summaries = []
    for round_index in range(config.rounds):
        folder = Path(config.out) / f"round_{round_index}"
        folder.mkdir(parents=True, exist_ok=True)
        agent_config = _agent(config, planner, grounder, temperature=config.improve_temperature,
                              sample_seed=config.sample_seed if config.sample_seed is not None else round_index)
        rollout = RolloutConfig(jobs=[Job(env, spec) for env, spec in zip(config.env, config.tasks)], samples=config.samples,
                                seed=round_index * 100_000, num_envs=config.num_envs, out=str(folder / "rollouts.jsonl"),
                                resume=(folder / "rollouts.jsonl").exists(), agent_info=agent_config.info(), progress=False,
                                **config.executor_options())
        run_rollouts(rollout, partial(make_agent, agent_config))
        _, trajectories = read_trajectories(folder / "rollouts.jsonl")
        stats = ConversionStats()
        sets = trajectory_records(trajectories, min_reward=config.min_reward, stats=stats)
        kinds = (f"_plan_{config.formulation}", f"_ground_{config.formulation}")  # the loop keeps its formulation
        records = [r for name, rs in sets.items() if name.endswith(kinds) for r in rs]
        (folder / "sft.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        if records:
            data_files = [*data_files, str(folder / "sft.jsonl")] if config.accumulate else [str(folder / "sft.jsonl")]
            data_rounds = [*data_rounds, round_index] if config.accumulate else [round_index]
        successes = sum(t.success for t in trajectories)
        summary: dict[str, Any] = {"round": round_index, "planner": planner, "grounder": grounder, "attempts": len(trajectories),
                                   "successes": successes,
                                   "training_success": _rate(successes, len(trajectories)),
                                   "training_records": len(records), "formulation": config.formulation,
                                   "format_error_steps": stats.format_error_steps, "dropped_turns": stats.dropped_turns,
                                   "accumulate": config.accumulate, "restart_from_base": config.restart_from_base,
                                   "data_files": list(data_files)}
        if records:
            start_planner, start_grounder = (base_planner, base_grounder) if config.restart_from_base else (planner, grounder)
            modules = ({"both": (start_planner, None)} if start_planner == start_grounder
                       else {"plan": (start_planner, "plan"), "ground": (start_grounder, "ground")})
            trained = {}
            for name, (base, module) in modules.items():
                with output_to(folder / "train.log"):  # TRL's loss dictionaries, not the terminal's
                    result = train(TrainConfig(output_dir=str(folder / f"model_{name}"), base_model=base, module=module,
                                               data_files=list(data_files), max_minutes=config.train_minutes / len(modules),
                                               learning_rate=config.learning_rate, num_train_epochs=20, save_strategy="no",
                                               logging_steps=10, report_to="none", made_by="improve"),
                                   provenance=round_provenance(config, round_index, data_rounds))
                trained[name] = result
            if "both" in trained:
                planner = grounder = trained["both"].output_dir
            else:
                planner, grounder = trained["plan"].output_dir, trained["ground"].output_dir
            summary.update(train_steps={k: r.steps for k, r in trained.items()},
                           final_loss={k: r.final_loss for k, r in trained.items()},
                           new_models={k: r.output_dir for k, r in trained.items()})
            if suites:
                heldout = _heldout(config, suites, planner, grounder, folder / "heldout", previous)
                summary.update(heldout=heldout, heldout_gain=heldout["pooled"]["success_rate"] - previous["pooled"]["success_rate"])  # type: ignore[index]
                previous = heldout
        else:
            summary["note"] = "no successful attempt to train on; the models are kept"
            if previous is not None:
                summary.update(heldout=previous, heldout_gain=0.0)
        by_env: dict[str, list] = {}
        for trajectory in trajectories:
            by_env.setdefault(trajectory.key.env_id, []).append(trajectory)
        results = [summarize(f"round {round_index} {env}", env, "training tasks", "seen", ts, decided_by="lumos improve",
                             reason="the round's own training tasks: the round trains on them (and from round 1 on, so did the sampling models)")
                   for env, ts in by_env.items()]
        write_report(results, folder, title=f"lumos improve: round {round_index}",
                     meta={k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in summary.items()})
        (folder / "round.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        summaries.append(summary)
    return summaries


def round_provenance(config: ImproveConfig, round_index: int, data_rounds: list[int]) -> dict[str, Any]:
    """What a round's models are trained on, for their `lumos_model.json`: the training tasks' specs,
    families and domains (`rollouts.categories.task_provenance`), and each round whose records
    the round's data holds (`rounds`: every round so far with `accumulate`) with its tasks."""
    tasks = task_provenance(zip(config.env, config.tasks))
    return {**tasks, "formulation": config.formulation, "round": round_index, "min_reward": config.min_reward,
            "rounds": [{"round": k, "task_specs": list(tasks["task_specs"]), "env_ids": list(tasks["env_ids"])} for k in data_rounds],
            "accumulated_rounds": len(data_rounds), "restart_from_base": config.restart_from_base}


def _agent(config: ImproveConfig, planner: str | None, grounder: str | None, *, temperature: float, sample_seed: int | None) -> AgentConfig:
    return AgentConfig(agent="lumos", planner_model=planner, grounder_model=grounder, device=config.device, dtype=config.dtype,
                       formulation=config.formulation, temperature=temperature, max_new_tokens=config.max_new_tokens,
                       max_subgoals=config.max_subgoals, sample_seed=sample_seed, batch_size=config.batch_size,
                       torch_threads=config.torch_threads)


def _heldout(config: ImproveConfig, suites: list[Suite], planner: str | None, grounder: str | None, out: Path,
             previous: dict[str, Any] | None) -> dict[str, Any]:
    """Greedy evaluation of the models on `suites` into `out` (paired with `previous`'s report when given):
    per suite and pooled, successes with the Wilson interval, the paired change and McNemar p."""
    agent_config = _agent(config, planner, grounder, temperature=0.0, sample_seed=None)
    result = evaluate(EvalConfig(suites=suites, out=str(out), num_envs=config.num_envs, progress=False,
                                 compare_to=previous["report"] if previous else None,
                                 title=f"lumos improve: held-out suites of {planner}", agent_info=agent_config.info(),
                                 **config.executor_options()),
                      partial(make_agent, agent_config))
    per_suite = {}
    for suite in result.results:
        entry = {"category": suite.category, **_rate(int(suite.successes or 0), suite.episodes)}
        if suite.comparison is not None:
            entry.update(paired_diff=suite.comparison.success_diff, mcnemar_p=suite.comparison.mcnemar_p)
        per_suite[suite.name] = entry
    episodes = sum(s.episodes for s in result.results)
    return {"report": str(result.report["json"]), "suites": per_suite,
            "pooled": _rate(sum(int(s.successes or 0) for s in result.results), episodes)}


def _rate(successes: int, trials: int) -> dict[str, Any]:
    return {"successes": successes, "episodes": trials, "success_rate": successes / trials if trials else 0.0,
            "success_ci": wilson_interval(successes, trials)}


def _pct(rate: dict[str, Any]) -> str:
    low, high = rate["success_ci"] or (0.0, 0.0)
    return f"{rate['successes']}/{rate['episodes']} = {rate['success_rate']:.1%} [{low:.1%}, {high:.1%}]"


def round_line(summary: dict[str, Any]) -> str:
    """One line per round: sampled success on its own training tasks beside what it gained held out."""
    line = f"round {summary['round']}: own training tasks (sampled) {_pct(summary['training_success'])}"
    if "heldout" in summary:
        gain = summary["heldout_gain"]
        line += f"; held-out {_pct(summary['heldout']['pooled'])}, gain {gain * 100:+.1f} points"
    line += f"; {summary['training_records']} records"
    return line + (f" -> {', '.join(summary['new_models'].values())}" if "new_models" in summary else ", models kept")


def run_improve_command(config: ImproveConfig) -> int:
    for summary in improve(config):
        print(round_line(summary))
        for name, suite in summary.get("heldout", {}).get("suites", {}).items():
            paired = f", paired change {suite['paired_diff'] * 100:+.1f} points (McNemar p={suite['mcnemar_p']:.2f})" if "paired_diff" in suite else ""
            print(f"  {name:24s} {category_label(suite['category']):10s} {_pct(suite)}{paired}")
    print(f"reports: {config.out}/round_*/report.md, held-out: {config.out}/round_*/heldout/report.md")
    return 0
