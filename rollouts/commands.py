"""The functions behind `lumos rollout`, `lumos sft-data` and `lumos eval`: flat configs (one flag
per field) mapped onto the library's typed configs, and one-line summaries printed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from functools import partial

from rollouts.categories import category_label
from rollouts.engine import ExecutorOptions, Job, RolloutConfig, run_rollouts
from rollouts.evaluation import EvalConfig, default_suites, evaluate, suites_from_json
from rollouts.policies import AgentConfig, make_agent
from rollouts.sft_data import SftDataConfig, build_sft_data


@dataclass
class RolloutCommand(AgentConfig, ExecutorOptions):
    """Roll an agent out in envs and store the trajectories."""

    env: list[str] = field(default_factory=lambda: ["lumos/Math-v0"])
    """env ids (one job per env)"""
    tasks: list[str] = field(default_factory=list)
    """task spec per env, in the same order (omit for the envs' bundled tasks)"""
    limit: int | None = None
    """first N tasks of each job"""
    samples: int = 1
    """attempts per task"""
    seed: int = 0
    """reset seeds start here"""
    max_steps: int = 20
    """env step limit"""
    num_envs: int = 16
    """episodes in flight at once"""
    num_workers: int = 0
    """threads stepping slow envs in parallel"""
    out: str = "runs/rollouts.jsonl"
    """trajectory file"""
    resume: bool = False
    """continue `out`"""
    overwrite: bool = False
    """replace `out`"""
    env_kwargs: str = "{}"
    """extra env arguments as a JSON object"""


def run_rollout_command(command: RolloutCommand) -> int:
    if command.tasks and len(command.tasks) != len(command.env):
        raise ValueError(f"--tasks needs one spec per --env ({len(command.env)}), got {len(command.tasks)}")
    extra = tuple(sorted(_json_object(command.env_kwargs, "--env-kwargs").items()))
    tasks = command.tasks or [None] * len(command.env)
    agent_config = _agent_config(command)
    config = RolloutConfig(
        jobs=[Job(env, spec, command.limit, env_kwargs=extra) for env, spec in zip(command.env, tasks)],
        samples=command.samples, seed=command.seed, max_steps=command.max_steps, num_envs=command.num_envs,
        num_workers=command.num_workers, out=command.out, resume=command.resume, overwrite=command.overwrite,
        reveal_gold=command.agent == "oracle", agent_info=agent_config.info(), **command.executor_options(),
    )
    # The settings, not a built agent: the ray executor builds one in each actor (local builds it once).
    result = run_rollouts(config, partial(make_agent, agent_config))
    failed = f", {result.failures} failed" if result.failures else ""
    print(f"{result.episodes} episodes ({result.skipped} already done{failed}), success {result.success_rate:.1%}, "
          f"{result.episodes_per_s:.2f} episodes/s; env {result.env_s:.1f} s, agent {result.agent_s:.1f} s -> {result.path}")
    return 0


def run_sft_data_command(config: SftDataConfig) -> int:
    paths = build_sft_data(config)
    for name, path in paths.items():
        count = sum(1 for _ in path.open())
        print(f"{count:7d}  {name:32s} {path}")
    return 0


@dataclass
class EvalCommand(AgentConfig, ExecutorOptions):
    """Evaluate an agent on suites of tasks and write a report (success rates with Wilson intervals, why episodes ended,
    each suite's category derived from the models' training records)."""

    suites: str = ""
    """suites as a JSON list of {name, env_id, tasks, kind, limit, env_kwargs}; default: lumos's bundled suite"""
    size: int = 50
    """tasks per default suite (split over families)"""
    samples: int = 1
    """attempts per task; above 1 the report adds pass@k and mean@k"""
    trained_domains: list[str] = field(default_factory=list)
    """only for models without a training record: the domains to call trained (categories are then
    asserted, and the report says so); default: such models' suites are unknown"""
    out: str = "runs/eval"
    """report folder"""
    overwrite: bool = False
    """replace an earlier evaluation in `out`"""
    resume: bool = False
    """continue an earlier evaluation in `out` (same settings), running only its missing episodes"""
    num_envs: int = 16
    """episodes in flight at once"""
    max_steps: int = 20
    """env step limit"""
    seed: int = 0
    """reset seeds start here"""
    compare_to: str | None = None
    """an earlier report (folder or report.json): pairs episodes by task and seed, McNemar test on success"""
    allow_overlap: bool = False
    """evaluate suites that repeat questions the model trained on (its lumos_model.json's task specs, exactly or
    with numbers masked), labelled seen; default: such a suite is refused before any episode runs"""


def run_eval_command(command: EvalCommand) -> int:
    suites = suites_from_json(command.suites) if command.suites else default_suites(command.size)
    agent_config = _agent_config(command)
    config = EvalConfig(suites=suites, trained_domains=command.trained_domains or None, out=command.out,
                        samples=command.samples, num_envs=command.num_envs, max_steps=command.max_steps, seed=command.seed,
                        overwrite=command.overwrite, resume=command.resume, compare_to=command.compare_to,
                        allow_overlap=command.allow_overlap, agent_info=agent_config.info(), **command.executor_options())
    result = evaluate(config, partial(make_agent, agent_config), reveal_gold=command.agent == "oracle")
    for suite in result.results:
        low, high = suite.success_ci or (0.0, 0.0)
        print(f"{suite.name:24s} {category_label(suite.category):11s} {suite.episodes:4d} episodes  success {suite.success_rate:6.1%} "
              f"[{low:.1%}, {high:.1%}]")
    print(f"categories from {result.category_provenance.get('source', '?')}")
    print(f"report: {result.report['md']}")
    return 0


def _agent_config(command: AgentConfig) -> AgentConfig:
    names = {f.name for f in fields(AgentConfig)}
    return AgentConfig(**{name: getattr(command, name) for name in names})


def _json_object(text: str, flag: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{flag} must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object")
    return value




def run_train_argv(argv: list[str]) -> int:
    """`lumos train FLAGS`: TRL's SFTConfig flags plus lumos's (`--data-files`, `--base-model`, `--lora`,
    `--merge-lora`, `--method sft|dpo`, ...); bad values raise ValueError (one line in `lumos.cli.main`)."""
    from transformers import HfArgumentParser

    from rollouts.training import TrainConfig, train

    parser = HfArgumentParser(TrainConfig, prog="lumos train", description="Fine-tune a model on LUMOS SFT records (or DPO pairs) with TRL.")
    (config,) = parser.parse_args_into_dataclasses(args=argv)
    result = train(config, command_line=["lumos", "train", *argv])
    what = "LoRA adapter" if config.lora and not config.merge_lora else "model"
    print(f"{config.method}: {result.steps} steps in {result.wall_time_s / 60:.1f} min ({result.seconds_per_step:.2f} s/step), "
          f"final loss {result.final_loss}, {result.tokens_per_s:.0f} tokens/s -> {what} in {result.output_dir}")
    return 0
