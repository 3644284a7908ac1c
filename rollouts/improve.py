"""`lumos improve`: the self-improvement loop (rejection-sampling fine-tuning) on LUMOS agents.

Each round, in its own folder `round_{k}/`: roll the current policy out on the training tasks,
several sampled attempts per task (`rollouts.jsonl`); keep the successful trajectories; turn them
into LUMOS SFT records of the loop's formulation with their real execution results (`sft.jsonl`; turns that
broke the format are left out and counted); fine-tune the current
model on them with TRL (`model/`); write the round's report (`report.md`, `report.json`,
`report.png`: success of the round's attempts). The next round starts from the new model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rollouts.engine import ExecutorOptions, Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.report import summarize, write_report
from rollouts.sft_data import ConversionStats, trajectory_records
from rollouts.store import read_trajectories


@dataclass
class ImproveConfig(AgentConfig, ExecutorOptions):
    """Improve a LUMOS agent in rounds: sample attempts on training tasks, keep the successful ones, fine-tune on them (the agent flags name the starting model)."""

    env: list[str] = field(default_factory=lambda: ["lumos/Math-v0"])
    """env ids of the training tasks"""
    tasks: list[str] = field(default_factory=lambda: ["synthetic:math_train?size=20"])
    """task spec per env"""
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
    num_envs: int = 16
    """episodes in flight"""
    out: str = "runs/improve"
    """one folder per round under it"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.agent != "lumos":
            raise ValueError("the improvement loop trains a LUMOS agent: use --agent lumos with --model")
        if self.rounds < 1 or self.samples < 1:
            raise ValueError("rounds and samples must be >= 1")
        if len(self.tasks) != len(self.env):
            raise ValueError(f"--tasks needs one spec per --env ({len(self.env)}), got {len(self.tasks)}")


def improve(config: ImproveConfig) -> list[dict[str, Any]]:
    """Run the rounds; returns one summary per round (also in each round's `report.json`)."""
    from dataclasses import asdict

    from rollouts.training import TrainConfig, train, write_run_manifest

    write_run_manifest(config.out, json.loads(json.dumps(asdict(config), default=str)),
                       seeds={"sample_seed": config.sample_seed, "rollout_seeds": [k * 100_000 for k in range(config.rounds)]})
    planner = config.planner_model or config.model
    grounder = config.grounder_model or config.model
    summaries = []
    for round_index in range(config.rounds):
        folder = Path(config.out) / f"round_{round_index}"
        folder.mkdir(parents=True, exist_ok=True)
        agent_config = AgentConfig(agent="lumos", planner_model=planner, grounder_model=grounder,
                                   formulation=config.formulation, temperature=config.improve_temperature,
                                   max_new_tokens=config.max_new_tokens, max_subgoals=config.max_subgoals,
                                   sample_seed=config.sample_seed if config.sample_seed is not None else round_index,
                                   batch_size=config.batch_size, torch_threads=config.torch_threads)
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
        summary: dict[str, Any] = {"round": round_index, "planner": planner, "grounder": grounder, "attempts": len(trajectories),
                                   "successes": sum(t.success for t in trajectories), "training_records": len(records),
                                   "formulation": config.formulation, "format_error_steps": stats.format_error_steps,
                                   "dropped_turns": stats.dropped_turns}
        if records:
            modules = {"both": (planner, None)} if planner == grounder else {"plan": (planner, "plan"), "ground": (grounder, "ground")}
            trained = {}
            for name, (base, module) in modules.items():
                result = train(TrainConfig(output_dir=str(folder / f"model_{name}"), base_model=base, module=module,
                                           data_files=[str(folder / "sft.jsonl")], max_minutes=config.train_minutes / len(modules),
                                           learning_rate=config.learning_rate, num_train_epochs=20, save_strategy="no",
                                           logging_steps=10, report_to="none", made_by="improve"),
                               provenance={"task_specs": list(config.tasks), "env_ids": list(config.env), "formulation": config.formulation,
                                           "round": round_index, "min_reward": config.min_reward})
                trained[name] = result
            if "both" in trained:
                planner = grounder = trained["both"].output_dir
            else:
                planner, grounder = trained["plan"].output_dir, trained["ground"].output_dir
            summary.update(train_steps={k: r.steps for k, r in trained.items()},
                           final_loss={k: r.final_loss for k, r in trained.items()},
                           new_models={k: r.output_dir for k, r in trained.items()})
        else:
            summary["note"] = "no successful attempt to train on; the models are kept"
        by_env = {}
        for trajectory in trajectories:
            by_env.setdefault(trajectory.key.env_id, []).append(trajectory)
        results = [summarize(f"round {round_index} {env}", env, "training tasks", "in-domain", ts) for env, ts in by_env.items()]
        write_report(results, folder, title=f"lumos improve: round {round_index}", meta=summary)
        summaries.append(summary)
    return summaries


def run_improve_command(config: ImproveConfig) -> int:
    for summary in improve(config):
        print(f"round {summary['round']}: {summary['successes']}/{summary['attempts']} attempts succeeded, "
              f"{summary['training_records']} records -> {summary.get('new_models', 'models kept')}")
    return 0
