"""Online RL from the environment's reward: GRPO (TRL's `GRPOTrainer`) over the rollout engine.

`grpo(GrpoConfig(...))` trains a LUMOS agent's model(s) from what its episodes earn. Each step,
TRL's sampler hands `rollout_func` every task of the step repeated `num_generations` times; the
function plays `episodes_per_task` episodes of each task through `rollouts.engine.run_episodes`
(in memory, no store) with the model being trained behind a `TransformersBackend`, and returns one
GRPO row per prompt it received. The env's reward is the headline reward; an optional format term
(minus the share of the episode's module calls that broke the LUMOS format) has `format_weight`.

Design: (b) one shared model, rows carrying `module`, extended to fixed *row slots*. A LUMOS
episode makes several planner calls and several grounder calls, and the prompts of a module's next
call re-tokenise the previous turn from text (measured on a tiny model: the next prompt and the
previous prompt+sampled ids part at the first token of the completion), so one row per module per
episode could not be token-exact. Each module *call* is therefore one row: prompt = the exact ids
the back-end was fed (rebuilt from the schema-v2 deltas with `prompt_ids_of`), completion = the
ids as sampled. To give TRL the fixed number of rows it needs, every episode owns
`planner_slots + grounder_slots` rows (`num_generations = episodes_per_task x slots`); slots an
episode does not use are empty rows (one EOS, mask 0: no loss). Every row of an episode carries
the episode's reward and every episode has the same number of rows, so TRL's group mean and std
over rows equal those over episodes: planner and grounder rows share the episode's advantage.
Why (b): TRL trains one model per trainer and LUMOS's unified shape (one model for both modules,
`make_agent`'s default) fits in one trainer with no alternation of optimiser states; with separate
planner and grounder models, `module="planner"` (or `"grounder"`) trains that one while the other
is a frozen back-end (one half of design (a); alternating is running `lumos grpo` twice). The
alternating two-trainer variant itself is not measured here.

Masks (`env_mask`, TRL's tool mask: 1 model tokens, 0 others): feedback turns (`The executed
result for Subgoal k is ...`) and observations live in the rows' prompts, never in their
completions, so they are never trained on. A LUMOS turn ends at the `\\n` stop string, not EOS, so
an EOS is appended to every completion that stopped (mask 0 on it, log-probability 0): TRL's
`clipped_ratio` then counts only generations cut by `max_new_tokens` (kept without EOS, so
`mask_truncated_completions=True` drops exactly those). The sampled tokens themselves, the one
completing `\\n` included, have mask 1.

Generation runs inside `trl.models.unwrap_model_for_generation`, with plain `generate` through
the back-end (which calls `model.eval()`); the model goes back to train mode afterwards. A new
back-end is built every step so its prompt-prefix KV cache never outlives the weights. Episode
keys carry the policy step (`<task id>@step<k>`).

Subclassed narrowly: `_LumosGRPOTrainer` only adds per-module KL logging when `beta > 0` (TRL's
public API logs one KL for the batch and has no hook that sees both the rows' modules and the
reference log-probabilities).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

logger = logging.getLogger(__name__)

MODULES = ("planner", "grounder")
_MANAGED_TRL_ARGS = frozenset({
    "num_generations", "per_device_train_batch_size", "gradient_accumulation_steps", "temperature", "beta", "learning_rate",
    "weight_decay", "max_steps", "seed", "report_to", "output_dir", "reward_weights", "remove_unused_columns",
})
"""GRPOConfig fields `GrpoConfig` sets itself (rows per group must match the rollout function's)."""


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass
class GrpoConfig:
    """Train a LUMOS agent with GRPO from the environment's reward (TRL's GRPOTrainer)."""

    model: str = ""
    """model to train: a named model (smollm2) or a local folder (a tiny model, any causal LM, a lumos train output)"""
    frozen_model: str | None = None
    """with --module planner or grounder: the other module's model (frozen); default: --model"""
    module: Literal["both", "planner", "grounder"] = "both"
    """both: one shared model trains as planner and grounder; planner / grounder: only that module's calls train"""
    env: str = "lumos/Math-v0"
    """env id"""
    tasks: str | None = None
    """task spec (e.g. synthetic:shopping_total?size=50&seed=0); default: the env's bundled tasks"""
    limit: int | None = None
    """use only the first N tasks"""
    output_dir: str = "runs/grpo"
    """checkpoints, the trained model, lumos_model.json and run_manifest.json"""
    episodes_per_task: int = 4
    """G: episodes per task and step (the GRPO group); must be >= 2"""
    tasks_per_step: int = 1
    """tasks (groups) per optimizer step"""
    max_subgoals: int = 4
    """LUMOS-I planning limit; also sets the row slots (planner max_subgoals + 1, grounder max_subgoals)"""
    max_steps: int = 20
    """env step limit per episode"""
    max_new_tokens: int = 48
    """longest module output, tokens"""
    temperature: float = 1.0
    """sampling temperature (TRL recomputes log-probabilities under the same one). TRL's default;
    for a small SFT agent 1.0 is often too hot: in `benchmarks/bench_grpo.py` the tiny agent's groups
    earned 1-3% at 1.0 (95% constant, no gradient) and 35% at 0.5, where GRPO gained"""
    learning_rate: float = 1e-5
    """AdamW learning rate"""
    weight_decay: float = 0.0
    """AdamW weight decay"""
    beta: float = 0.0
    """KL coefficient against the initial model; > 0 also logs the KL per module"""
    format_weight: float = 0.0
    """weight of the format reward (minus the share of module calls that broke the LUMOS format); logged even at 0"""
    train_steps: int = 10
    """optimizer steps"""
    max_minutes: float | None = None
    """wall-clock budget in minutes; training stops and saves when spent"""
    save_steps: int = 0
    """save a checkpoint every N steps (0: only at the end)"""
    resume: bool = False
    """continue from the last checkpoint in output_dir"""
    seed: int = 0
    """trainer and sampling seed"""
    batch_size: int = 16
    """prompts per forward pass of generation"""
    report_to: str = "none"
    """where TRL reports metrics: none, tensorboard, wandb, ..."""
    logging_steps: int = 1
    """log every N steps"""
    progress: bool = True
    """show a progress bar with the reward so far"""
    torch_threads: int | None = None
    """CPU threads for torch (None: torch's default)"""
    trl_args: str = "{}"
    """more GRPOConfig fields as a JSON object, e.g. '{"loss_type": "grpo", "mask_truncated_completions": true}'"""

    def __post_init__(self) -> None:
        if self.episodes_per_task < 2:
            raise ValueError(f"episodes_per_task must be >= 2 (a group of one episode has no advantage), got {self.episodes_per_task}")
        if self.module not in ("both", "planner", "grounder"):
            raise ValueError(f"module must be both, planner or grounder, got {self.module!r}")
        for name in ("tasks_per_step", "max_subgoals", "max_new_tokens", "train_steps", "batch_size", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (GRPO samples), got {self.temperature}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {self.max_minutes}")
        if self.frozen_model and self.module == "both":
            raise ValueError("frozen_model needs --module planner or grounder")
        self.extra_trl_args()  # validate the JSON now

    def extra_trl_args(self) -> dict[str, Any]:
        try:
            extra = json.loads(self.trl_args or "{}")
        except ValueError as error:
            raise ValueError(f"--trl-args must be a JSON object: {error}") from None
        if not isinstance(extra, dict):
            raise ValueError("--trl-args must be a JSON object")
        if extra.get("num_generations", 2) is not None and int(extra.get("num_generations", 2)) < 2:
            raise ValueError("num_generations=1 is refused: a group of one row has no advantage (lumos sets num_generations "
                             "= episodes_per_task x row slots; use --episodes-per-task >= 2)")
        managed = sorted(set(extra) & _MANAGED_TRL_ARGS)
        if managed:
            raise ValueError(f"--trl-args may not set {', '.join(managed)}: lumos sets them from its own flags "
                             f"(num_generations = episodes_per_task x row slots)")
        return extra

    @property
    def trained_modules(self) -> tuple[str, ...]:
        return MODULES if self.module == "both" else (self.module,)

    @property
    def slots(self) -> dict[str, int]:
        """Rows per episode for each trained module (planner: one call per subgoal plus the stop turn)."""
        limits = {"planner": self.max_subgoals + 1, "grounder": self.max_subgoals}
        return {m: limits[m] for m in self.trained_modules}

    @property
    def num_generations(self) -> int:
        """TRL's `num_generations`: rows per group = episodes per task x row slots per episode."""
        return self.episodes_per_task * sum(self.slots.values())


# ---------------------------------------------------------------------------------------------
# rows


@dataclass
class EpisodeRows:
    """One episode's GRPO rows (its slots, in order) and what it earned."""

    rows: list[dict[str, Any]]
    env_reward: float
    format_score: float
    success: bool
    dropped_calls: int = 0
    """module calls beyond the slots (not trained)"""


def require_token_ids(generation: Any, where: str = "") -> None:
    """Refuse a generation without the ids the model sampled (a chat-mode server back-end)."""
    if not getattr(generation, "token_ids", None) or getattr(generation, "prompt_ids", None) is None and getattr(generation, "prompt_token_ids", None) is None:
        raise ValueError(f"GRPO needs the exact prompt and sampled token ids of every module call; {where or 'the back-end'} "
                         f"returned none (a chat-mode or generic server cannot be trained on; use a local model)")


def format_errors_by_module(trajectory: Any) -> Counter:
    """Format errors of an episode per module, from the steps' `format_error` (`module: reason; ...`)."""
    counts: Counter = Counter()
    for step in trajectory.steps:
        for part in (step.format_error or "").split("; "):
            module = part.split(":", 1)[0].strip()
            if part and module:
                counts[module] += 1
    return counts


def episode_rows(trajectory: Any, slots: dict[str, int], eos_id: int, pad_prompt: Sequence[int]) -> EpisodeRows:
    """The episode's rows: each trained module's calls in order, one row each, then empty rows.

    A row: `prompt_ids` (the whole prompt as fed, rebuilt from the stored deltas), `completion_ids`
    (the sampled ids, plus EOS when the generation stopped), `logprobs` (the back-end's, 0 for the
    added EOS), `env_mask` (1 sampled, 0 added EOS), `module`. Empty rows: `pad_prompt`, one EOS,
    mask 0, module `pad`.

    Raises:
        ValueError: a module call without token ids (see `require_token_ids`).
    """
    from rollouts.store import prompt_ids_of

    calls = Counter()
    rows: list[dict[str, Any]] = []
    dropped = 0
    errors = format_errors_by_module(trajectory)
    for module, count in slots.items():
        generations = [g for step in trajectory.steps for g in step.generations if g.role == module]
        for g in generations:
            require_token_ids(g, f"the {module} back-end")
        prompts = prompt_ids_of(generations)
        calls[module] = len(generations)
        module_rows = []
        for g, prompt in zip(generations, prompts):
            ids = list(g.token_ids)
            logprobs = list(g.logprobs) if g.logprobs is not None else [0.0] * len(ids)
            mask = [1] * len(ids)
            if g.finish_reason == "stop" and ids[-1] != eos_id:
                ids, logprobs, mask = ids + [eos_id], logprobs + [0.0], mask + [0]
            module_rows.append({"prompt_ids": list(prompt), "completion_ids": ids, "logprobs": logprobs, "env_mask": mask,
                                "module": module})
        dropped += max(0, len(module_rows) - count)
        module_rows = module_rows[:count]
        while len(module_rows) < count:
            module_rows.append({"prompt_ids": list(pad_prompt), "completion_ids": [eos_id], "logprobs": [0.0], "env_mask": [0],
                                "module": "pad"})
        rows.extend(module_rows)
    total_calls = sum(1 for step in trajectory.steps for g in step.generations if g.role in MODULES)
    format_score = -min(1.0, sum(errors[m] for m in MODULES) / total_calls) if total_calls else 0.0
    return EpisodeRows(rows, float(trajectory.reward), format_score, bool(trajectory.success), dropped)


# ---------------------------------------------------------------------------------------------
# the rollout function


class LumosRollouts:
    """TRL's `rollout_func`: plays the step's episodes with the model being trained and returns its rows.

    Called as `rollouts(prompts, trainer)`; `prompts` are task keys (`task:<index>`), each repeated
    `num_generations` times in a row. Keeps its envs across steps (`close()` them at the end).
    """

    def __init__(self, config: GrpoConfig, tokenizer: Any, tasks: list[str], *, tiny_options: dict[str, Any] | None,
                 prompt_style: str, frozen_backend: Any = None) -> None:
        from rollouts.engine import Job

        self.config = config
        self.tokenizer = tokenizer
        self.task_ids = tasks
        self.tiny_options = dict(tiny_options or {})
        self.tiny = tiny_options is not None
        """a lumos tiny model (no in-context demonstrations; number placeholders when its options say so)"""
        self.prompt_style = prompt_style
        self.frozen_backend = frozen_backend
        self.job = Job(config.env, config.tasks, config.limit)
        self.envs: dict = {}
        self.constant_groups = 0
        """groups whose episodes all earned the same reward (no gradient), so far"""
        self.groups = 0
        self.rewards: list[float] = []
        """every episode's env reward, in order"""
        self.last_modules: list[str] = []
        """the module of each row of the last call (for per-module KL)"""
        eos = tokenizer.eos_token_id
        self.eos_id = int(eos)
        bos = tokenizer.bos_token_id
        self.pad_prompt = [int(bos if bos is not None else eos)]

    def backend(self, model: Any) -> Any:
        """A back-end over the model being trained (new every step: its prefix cache must not outlive the weights)."""
        from agents.backends.tiny import NumberPlaceholders
        from agents.backends.transformers import TransformersBackend

        backend = TransformersBackend(model, self.tokenizer, batch_size=self.config.batch_size, prompt_style=self.prompt_style,  # type: ignore[arg-type]
                                      name=self.config.model)
        return NumberPlaceholders(backend) if self.tiny_options.get("number_placeholders") else backend

    def agent(self, backend: Any, step: int) -> Any:
        from agents.agent import LumosAgent
        from agents.backends.base import GenerationConfig
        from agents.grounder import Grounder
        from agents.planner import Planner

        generation = GenerationConfig(max_new_tokens=self.config.max_new_tokens, temperature=self.config.temperature,
                                      seed=self.config.seed * 100_003 + step)
        planner_backend = backend if "planner" in self.config.trained_modules else self.frozen_backend
        grounder_backend = backend if "grounder" in self.config.trained_modules else self.frozen_backend
        return LumosAgent(Planner(planner_backend, generation), Grounder(grounder_backend, generation),
                          max_subgoals=self.config.max_subgoals, demonstrations={} if self.tiny else None)

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        from trl.models import unwrap_model_for_generation

        from rollouts.engine import RolloutConfig, _Episode, run_episodes
        from rollouts.store import EpisodeKey

        n = self.config.num_generations
        g = self.config.episodes_per_task
        if len(prompts) % n:
            raise ValueError(f"rollout_func got {len(prompts)} prompts, not a multiple of num_generations={n}")
        step = int(trainer.state.global_step)
        episodes = []
        for group in range(len(prompts) // n):
            chunk = prompts[group * n : (group + 1) * n]
            if len(set(map(str, chunk))) != 1:
                raise ValueError("rollout_func expects each prompt repeated num_generations times in a row")
            index = int(str(chunk[0]).split(":", 1)[1])
            for sample in range(g):
                seed = self.config.seed + (step * len(prompts) // n + group) * g + sample
                episodes.append(_Episode(EpisodeKey(self.job.env_id, f"{self.task_ids[index]}@step{step}", seed, sample), self.job, index))
        rollout = RolloutConfig(jobs=[self.job], max_steps=self.config.max_steps, num_envs=len(episodes), progress=False,
                                episode_timeout_s=None)
        try:
            with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as unwrapped:
                agent = self.agent(self.backend(unwrapped), step)
                finished = {t.key: t for t in run_episodes(episodes, agent, rollout, self.envs, {"env": 0.0, "agent": 0.0})}
        finally:
            trainer.model.train()  # the back-end put it in eval mode
        out: dict[str, list[Any]] = {k: [] for k in ("prompt_ids", "completion_ids", "logprobs", "env_mask", "module",
                                                      "env_reward", "format_score", "constant_group", "dropped_calls")}
        per_group: list[list[EpisodeRows]] = []
        for group in range(len(prompts) // n):
            per_group.append([episode_rows(finished[e.key], self.config.slots, self.eos_id, self.pad_prompt)
                              for e in episodes[group * g : (group + 1) * g]])
        constant = 0
        for built in per_group:
            totals = [b.env_reward + self.config.format_weight * b.format_score for b in built]
            flat = max(totals) - min(totals) < 1e-9
            constant += flat
            for b in built:
                self.rewards.append(b.env_reward)
                for row in b.rows:
                    for key in ("prompt_ids", "completion_ids", "logprobs", "env_mask", "module"):
                        out[key].append(row[key])
                    out["env_reward"].append(b.env_reward)
                    out["format_score"].append(b.format_score)
                    out["constant_group"].append(float(flat))
                    out["dropped_calls"].append(b.dropped_calls)
        self.groups += len(per_group)
        self.constant_groups += constant
        if constant:
            logger.warning("GRPO step %d: %d of %d groups earned the same reward in every episode (no gradient; %d of %d so far)",
                           step, constant, len(per_group), self.constant_groups, self.groups)
        self.last_modules = list(out["module"])
        return out

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs.clear()


# ---------------------------------------------------------------------------------------------
# reward functions (TRL calls them with every extra row field as a keyword)


def _per_module(values: Sequence[float], modules: Sequence[str]) -> dict[str, float]:
    out = {}
    for module in MODULES:
        picked = [v for v, m in zip(values, modules) if m == module]
        if picked:
            out[module] = sum(picked) / len(picked)
    return out


def env_reward(completions: list[Any], env_reward: list[float], module: list[str], log_metric: Any = None,
               constant_group: list[float] | None = None, dropped_calls: list[int] | None = None, **kwargs: Any) -> list[float]:
    """The env's reward of each row's episode (the headline); logs it per module, and the constant groups."""
    if log_metric is not None:
        for name, value in _per_module(env_reward, module).items():
            log_metric(f"rewards/env/{name}", value)
        if constant_group:
            log_metric("grpo/constant_reward_group_frac", sum(constant_group) / len(constant_group))
        if dropped_calls:
            log_metric("grpo/dropped_calls_per_row", sum(dropped_calls) / len(dropped_calls))
        real = [m for m in module if m != "pad"]
        log_metric("grpo/used_slot_frac", len(real) / max(1, len(module)))
    return [float(r) for r in env_reward]


def format_reward(completions: list[Any], format_score: list[float], module: list[str], log_metric: Any = None, **kwargs: Any) -> list[float]:
    """Minus the share of the episode's module calls that broke the LUMOS format; logged per module."""
    if log_metric is not None:
        for name, value in _per_module(format_score, module).items():
            log_metric(f"rewards/format/{name}", value)
    return [float(s) for s in format_score]


# ---------------------------------------------------------------------------------------------
# training


def _trainer_class() -> type:
    from trl import GRPOTrainer

    class _LumosGRPOTrainer(GRPOTrainer):
        """`GRPOTrainer` plus per-module KL logging when `beta > 0` (see the module docstring)."""

        lumos_rollouts: LumosRollouts | None = None

        def _generate_and_score_completions(self, inputs: Any) -> Any:
            import torch

            output = super()._generate_and_score_completions(inputs)
            ref = output.get("ref_per_token_logps")
            rollouts = self.lumos_rollouts
            if ref is None or rollouts is None:
                return output
            logps = output.get("old_per_token_logps", output.get("sampling_per_token_logps"))
            if logps is None:
                return output
            mask = output["completion_mask"] * output.get("tool_mask", torch.ones_like(output["completion_mask"]))
            kl = torch.exp(ref - logps) - (ref - logps) - 1  # TRL's k3 estimator, at sampling time
            modules = rollouts.last_modules[: kl.shape[0]]
            for name in MODULES:
                rows = torch.tensor([m == name for m in modules], device=kl.device)
                if rows.any():
                    m = mask[rows].float()
                    self._metrics["train"][f"kl/{name}"].append(((kl[rows] * m).sum() / m.sum().clamp(min=1)).item())
            return output

    return _LumosGRPOTrainer


class RewardProgress:
    """A progress bar over optimizer steps showing the mean env reward so far (a TrainerCallback)."""

    def __new__(cls, total: int, rollouts: LumosRollouts) -> Any:
        from tqdm import tqdm
        from transformers import TrainerCallback

        class _Callback(TrainerCallback):
            def __init__(self) -> None:
                self.bar: Any = None

            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                self.bar = tqdm(total=total, initial=state.global_step, unit="step", desc="grpo", dynamic_ncols=True)

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                self.bar.update(state.global_step - self.bar.n)
                if rollouts.rewards:
                    self.bar.set_postfix(reward=f"{sum(rollouts.rewards) / len(rollouts.rewards):.2f}",
                                         constant=f"{rollouts.constant_groups}/{rollouts.groups}", refresh=False)

            def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if self.bar is not None:
                    self.bar.close()

        return _Callback()


@dataclass
class GrpoResult:
    """What a GRPO run did."""

    output_dir: str
    steps: int
    wall_time_s: float
    stopped_by_budget: bool
    episodes: int
    mean_reward: float
    """mean env reward over every episode played"""
    constant_groups: int
    groups: int
    resumed_from: str | None = None
    log_history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds_per_step(self) -> float:
        return self.wall_time_s / self.steps if self.steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds_per_step": self.seconds_per_step}


@dataclass
class PreparedGrpo:
    """A GRPO trainer ready to run, and what `grpo` needs to finish the job."""

    trainer: Any
    rollouts: LumosRollouts
    tokenizer: Any
    base_path: str
    base_record: Any
    budget: Any


def task_ids_of(config: GrpoConfig) -> list[str]:
    """The ids of the tasks the run trains on (the env's task list, `limit` applied)."""
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    kwargs = {"tasks": config.tasks} if config.tasks is not None else {}
    env = gym.make(config.env, disable_env_checker=True, **kwargs)
    try:
        tasks = env.unwrapped.tasks
        count = len(tasks) if config.limit is None else min(config.limit, len(tasks))
        return [str(tasks[i].id) for i in range(count)]
    finally:
        env.close()


def trl_config(config: GrpoConfig) -> Any:
    """TRL's `GRPOConfig` for the run (CPU: `use_cpu`, no bf16, no gradient checkpointing)."""
    import torch
    from trl import GRPOConfig

    cpu = not torch.cuda.is_available()
    settings: dict[str, Any] = dict(
        output_dir=config.output_dir, num_generations=config.num_generations,
        per_device_train_batch_size=config.num_generations * config.tasks_per_step, gradient_accumulation_steps=1,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, beta=config.beta, temperature=config.temperature,
        max_steps=config.train_steps, logging_steps=config.logging_steps, seed=config.seed, report_to=config.report_to,
        save_strategy="steps" if config.save_steps else "no", save_steps=config.save_steps or 500, disable_tqdm=True,
        use_cpu=cpu, bf16=False if cpu else torch.cuda.is_bf16_supported(), fp16=False, remove_unused_columns=False,
    )
    # TRL turns gradient checkpointing on by default; off here (transformers 5 calls it activation_checkpointing)
    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    settings["activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"] = False
    settings.update(config.extra_trl_args())
    return GRPOConfig(**settings)


def build_grpo(config: GrpoConfig) -> PreparedGrpo:
    """Load the model and tokenizer, the task list and the frozen module, and build the trainer.

    Raises:
        ValueError: no model, a model that cannot be loaded, or no tasks.
    """
    import os

    import torch
    from datasets import Dataset

    from agents.backends.serialise import record_prompt_style
    from agents.backends.transformers import load_tokenizer
    from agents.models import read_model_record, resolve_model
    from rollouts.training import TimeBudgetCallback, load_training_model

    if not config.model:
        raise ValueError("GrpoConfig.model is not set (--model)")
    if config.model.startswith(("http://", "https://")):
        raise ValueError("GRPO needs the exact prompt and sampled token ids of every module call; a server back-end cannot be "
                         "trained on here; use a local model folder or a named model")
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is experimental in TRL; this module pins its use
    base_path = resolve_model(config.model)
    base_record = read_model_record(base_path) if Path(base_path).is_dir() else None
    tiny = dict(base_record.tiny) if base_record is not None and base_record.tiny is not None else None
    tokenizer = load_tokenizer(base_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise ValueError(f"the tokenizer of {config.model} has no EOS token (GRPO appends one to every stopped turn)")
    prompt_style = "template" if tiny is not None else (record_prompt_style(base_record) or "auto")
    args = trl_config(config)
    model, _ = load_training_model(base_path, dtype=torch.bfloat16 if args.bf16 else torch.float32, lora=False)
    frozen = None
    if config.module != "both":
        from rollouts.policies import AgentConfig, load_module_backend

        agent_config = AgentConfig(agent="lumos", model=config.frozen_model or config.model, batch_size=config.batch_size,
                                   torch_threads=config.torch_threads or torch.get_num_threads())
        frozen, _ = load_module_backend(agent_config.module("grounder" if config.module == "planner" else "planner"), agent_config)
    task_ids = task_ids_of(config)
    if not task_ids:
        raise ValueError(f"no tasks in {config.tasks or config.env}")
    rollouts = LumosRollouts(config, tokenizer, task_ids, tiny_options=tiny, prompt_style=prompt_style, frozen_backend=frozen)
    dataset = Dataset.from_list([{"prompt": f"task:{i}"} for i in range(len(task_ids))])
    budget = TimeBudgetCallback(config.max_minutes, anneal=False) if config.max_minutes is not None else None
    callbacks: list[Any] = [c for c in (budget,) if c is not None]
    if config.progress:
        callbacks.append(RewardProgress(config.train_steps, rollouts))
    reward_funcs = [env_reward, format_reward]
    args.reward_weights = [1.0, config.format_weight]
    trainer = _trainer_class()(model=model, reward_funcs=reward_funcs, args=args, train_dataset=dataset, processing_class=tokenizer,
                               rollout_func=rollouts, callbacks=callbacks)
    trainer.lumos_rollouts = rollouts
    return PreparedGrpo(trainer, rollouts, tokenizer, base_path, base_record, budget)


def grpo(config: GrpoConfig) -> GrpoResult:
    """Train `config.model` with GRPO on `config.env`'s tasks; returns where it went and how it went.

    Raises:
        ValueError: see `build_grpo`, and a back-end without token ids.
    """
    from transformers.trainer_utils import get_last_checkpoint

    from rollouts.training import config_dict, write_run_manifest

    started = time.time()
    prepared = build_grpo(config)
    trainer = prepared.trainer
    checkpoint = None
    if config.resume and Path(config.output_dir).is_dir():
        checkpoint = get_last_checkpoint(config.output_dir)
    start = time.monotonic()
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    finally:
        prepared.rollouts.close()
    wall = time.monotonic() - start
    out = Path(config.output_dir)
    rollouts = prepared.rollouts
    result = GrpoResult(
        output_dir=str(out), steps=int(trainer.state.global_step), wall_time_s=wall,
        stopped_by_budget=bool(prepared.budget and prepared.budget.stopped), episodes=len(rollouts.rewards),
        mean_reward=sum(rollouts.rewards) / len(rollouts.rewards) if rollouts.rewards else 0.0,
        constant_groups=rollouts.constant_groups, groups=rollouts.groups, resumed_from=checkpoint,
        log_history=[dict(e) for e in trainer.state.log_history],
    )
    save_grpo_model(prepared, config, out, result)
    write_run_manifest(out, asdict(config), seeds={"seed": config.seed},
                       extra={"result": result.to_dict(), "trl_config": config_dict(trainer.args), "started_at": started,
                              "finished_at": time.time(), "base_model": prepared.base_path})
    return result


def save_grpo_model(prepared: PreparedGrpo, config: GrpoConfig, out: Path, result: GrpoResult) -> None:
    """The trained weights, the tokenizer and `lumos_model.json` (`grpo_record`)."""
    from agents.models import write_model_record

    out.mkdir(parents=True, exist_ok=True)
    model = prepared.trainer.accelerator.unwrap_model(prepared.trainer.model)
    model.save_pretrained(out, safe_serialization=True)
    prepared.tokenizer.save_pretrained(out)
    write_model_record(out, grpo_record(config, result, prepared.base_record))


def grpo_record(config: GrpoConfig, result: GrpoResult, base: Any = None) -> Any:
    """The GRPO output's `ModelRecord` (`made_by="grpo"`): the base's provenance and format, and a
    training record with the run's settings and what it trained on (`task_specs`, `families`,
    `domains` from `rollouts.categories.task_provenance`), and `trained_from` the base, whose own
    record evaluation follows (an SFT start's tasks count as trained too)."""
    from agents.models import ModelRecord
    from rollouts.categories import task_provenance

    training = {
        "method": "grpo", "trained_from": config.model, "env": config.env, "tasks": config.tasks, "limit": config.limit,
        **task_provenance([(config.env, config.tasks)]),
        "module": config.module, "episodes_per_task": config.episodes_per_task, "tasks_per_step": config.tasks_per_step,
        "steps": result.steps, "episodes": result.episodes, "mean_reward": result.mean_reward,
        "format_weight": config.format_weight, "beta": config.beta, "temperature": config.temperature,
        "learning_rate": config.learning_rate, "seed": config.seed,
    }
    return ModelRecord(
        base_model=(base.base_model if base is not None and base.base_model else config.model),
        revision=base.revision if base is not None else None,
        source_sha256=base.source_sha256 if base is not None else None,
        chat_format=base.chat_format if base is not None else "auto",
        prompt_style=base.prompt_style if base is not None else "auto",
        tiny=dict(base.tiny) if base is not None and base.tiny is not None else None,
        training=training, made_by="grpo",
    )


def run_grpo_command(config: GrpoConfig) -> int:
    """`lumos grpo`: train, then print one summary line."""
    result = grpo(config)
    print(f"grpo: {result.steps} steps in {result.wall_time_s:.0f} s ({result.seconds_per_step:.1f} s/step), "
          f"{result.episodes} episodes, mean env reward {result.mean_reward:.3f}, "
          f"{result.constant_groups}/{result.groups} constant-reward groups; model in {result.output_dir}")
    return 0
