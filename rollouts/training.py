"""Supervised fine-tuning of LUMOS modules with TRL's `SFTTrainer`, and the tiny CPU recipe.

`train(TrainConfig(...))` reads JSONL SFT records (`{"dataset", "id", "messages"}`, as
`agents.sft` and `rollouts.sft_data` write them), optionally keeps one module (`plan`/`ground`) or
some datasets, and trains a local causal LM (a `save_tiny` folder or any HF model folder) with
assistant-only loss, optionally through a LoRA adapter (peft). The same code path runs on CPU and
GPU: on CPU, TRL's bf16 and gradient checkpointing defaults are switched off. The output folder
holds safetensors weights and the tokenizer (plus the tiny back-end's `lumos_tiny.json`), so
`TransformersBackend.from_pretrained` / `load_tiny_backend` load it offline; `resume=True`
continues from the last checkpoint in it. `max_minutes` is a wall-clock budget: training stops
(and saves) when it is spent, and with `anneal_over_budget` the learning rate follows a cosine over
the budget instead of over the steps, so a run cut by time still ends at a low learning rate.

`TinyRecipe` is the default for CPU demos: gold LUMOS-I planner and grounder conversations of the
GSM8K-like synthetic families (OracleAgent episodes, real execution results), a ~1M-parameter
Llama (4 layers, width 128, head dim 32) per module whose tokenizer splits digits, reads the fixed
LUMOS phrases as single tokens (`LUMOS_PHRASES`: sequences half as long, text unchanged) and sees
the task's numbers as `N1, N2, ...` (`NumberPlaceholders`: copying one placeholder instead of
digits: the issue measured 0% grounder exact match for a naive tiny model, this recipe 96%); planner and grounder train at the same
time in two single-thread processes (separate models learn their one job much faster than a
unified model in the same time); AdamW at 3e-3 with warmup and a cosine over the time budget,
batches by length. `train_tiny(recipe, workdir)` builds the data and models and trains them.

Measured on the shared 2-core machine (`benchmarks/bench_training.py`, test split = the same
families at seed 1000, 50 tasks each = 200 tasks, each needing 2-5 calculator steps), 8 minutes
of training: 99% correct final answers end to end (shopping_total 96%, others 100%), ~916 steps
per model, ~7.2k tokens/s over both processes; teacher-forced turn exact match: planner 87%
(item names are its errors), grounder 96%. A 4-minute budget (~380 steps per model, machine
shared with other tests): 82.5% (shopping_total 50%). The 8-minute run with placeholders by value (a value
written twice shared one placeholder, shifting the template's numbering) under heavier load
(~580 steps per model): 78%. One unified model, 5 minutes in one process: 10%.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from transformers import TrainerCallback
from trl import SFTConfig

logger = logging.getLogger(__name__)

_GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass
class TrainConfig(SFTConfig):
    r"""TRL's `SFTConfig` plus what lumos needs to train a LUMOS module.

    Parameters that select the data:
        data_files (`list[str]`): JSONL files of SFT records `{"dataset", "id", "messages"}`.
        module (`str` or `None`, defaults to `None`): keep only `plan` or `ground` conversations
            (told apart by their first user turn); `None` keeps both (a unified model).
        datasets (`list[str]` or `None`): keep only records of these `dataset` names.
        max_records (`int` or `None`): use at most this many records (after filtering).

    Parameters that select the model:
        base_model (`str`): a local folder (`save_tiny` output or any HF causal LM).
        lora (`bool`, defaults to `False`): train a LoRA adapter (peft) instead of all weights; the
            saved model is the merged one (the adapter is kept under `adapter/`).
        lora_r, lora_alpha, lora_dropout, lora_target_modules: `peft.LoraConfig` options.
        number_placeholders (`bool` or `None`): train on conversations whose task numbers are
            `N1, N2, ...` (see `agents.backends.tiny.NumberPlaceholders`); `None` follows the base
            model folder's `lumos_tiny.json`. Recorded in the output folder.

    Parameters that bound the run:
        max_minutes (`float` or `None`): wall-clock budget; training stops and saves when spent.
        anneal_over_budget (`bool`, defaults to `True`): with `max_minutes`, multiply the learning
            rate by a cosine over the elapsed fraction of the budget.
        resume (`bool`, defaults to `False`): continue from the last checkpoint in `output_dir`.

    Changed TRL defaults: `assistant_only_loss=True`, `train_sampling_strategy="group_by_length"`,
    `save_total_limit=2` (TRL already defaults `report_to` to none); on CPU `use_cpu=True`, `bf16=False`, `fp16=False`,
    `gradient_checkpointing=False`.
    """

    data_files: list[str] = field(default_factory=list, metadata={"help": "JSONL files of SFT records."})
    base_model: str = field(default="", metadata={"help": "Local model folder (tiny or HF causal LM)."})
    module: Optional[str] = field(default=None, metadata={"help": "Keep only 'plan' or 'ground' conversations."})
    datasets: Optional[list[str]] = field(default=None, metadata={"help": "Keep only records of these datasets."})
    max_records: Optional[int] = field(default=None, metadata={"help": "Use at most this many records."})
    lora: bool = field(default=False, metadata={"help": "Train a LoRA adapter (peft) and save the merged model."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: Optional[list[str]] = field(default=None, metadata={"help": "LoRA target modules (peft's default when unset)."})
    number_placeholders: Optional[bool] = field(default=None, metadata={"help": "Mask task numbers as N1, N2, ... (None: follow the base model)."})
    max_minutes: Optional[float] = field(default=None, metadata={"help": "Wall-clock budget in minutes."})
    anneal_over_budget: bool = field(default=True, metadata={"help": "Cosine learning rate over the time budget."})
    resume: bool = field(default=False, metadata={"help": "Resume from the last checkpoint in output_dir."})
    assistant_only_loss: bool = field(default=True, metadata={"help": "Loss on assistant tokens only."})
    train_sampling_strategy: str = field(default="group_by_length", metadata={"help": "Batches of similar length."})
    save_total_limit: Optional[int] = field(default=2, metadata={"help": "Checkpoints kept."})

    def __post_init__(self) -> None:
        import torch

        if self.module not in (None, "plan", "ground"):
            raise ValueError(f"module must be 'plan', 'ground' or None, got {self.module!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {self.max_minutes}")
        if not torch.cuda.is_available():
            # TRL defaults to bf16 and gradient checkpointing; neither helps (or works well) on CPU.
            self.use_cpu, self.bf16, self.fp16, self.gradient_checkpointing = True, False, False, False
            if hasattr(self, "activation_checkpointing"):  # transformers 5's name for it
                self.activation_checkpointing = False
        elif self.bf16 is None:
            self.bf16 = torch.cuda.is_bf16_supported()
        super().__post_init__()


@dataclass
class TrainResult:
    """What a training run did."""

    output_dir: str
    steps: int
    """optimizer steps done (the checkpoint's step included when resumed)"""
    final_loss: float | None
    """last logged training loss"""
    wall_time_s: float
    stopped_by_budget: bool
    records: int
    """training conversations (or prompt-completion pairs in the fallback)"""
    tokens_per_step: float
    """mean tokens per optimizer step (batch x mean sequence length, padding excluded)"""
    resumed_from: str | None = None
    """the checkpoint training resumed from, if any"""
    losses: list[float] = field(default_factory=list)
    """every logged training loss, in order"""

    @property
    def tokens_per_s(self) -> float:
        return self.steps * self.tokens_per_step / self.wall_time_s if self.wall_time_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s}


class TimeBudgetCallback(TrainerCallback):
    """Stops training (saving a checkpoint) once `max_minutes` of wall time are spent.

    With `anneal`, the learning rate the scheduler set is multiplied by
    `0.5 * (1 + cos(pi * elapsed / budget))` (floored at `min_factor`) before each step, so the
    schedule follows time. (The trainer's logged `learning_rate` is the scheduler's, unscaled.)
    """

    def __init__(self, max_minutes: float, anneal: bool = True, min_factor: float = 0.05) -> None:
        self.budget_s = max_minutes * 60.0
        self.anneal = anneal
        self.min_factor = min_factor
        self.start: float | None = None
        self.stopped = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.start = time.monotonic()

    def _elapsed(self) -> float:
        return time.monotonic() - (self.start or time.monotonic())

    def on_step_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, lr_scheduler: Any = None, **kwargs: Any) -> None:
        if not self.anneal or optimizer is None or lr_scheduler is None:
            return
        fraction = min(1.0, self._elapsed() / self.budget_s)
        factor = self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * fraction))
        for group, lr in zip(optimizer.param_groups, lr_scheduler.get_last_lr()):
            group["lr"] = lr * factor

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._elapsed() >= self.budget_s:
            self.stopped = True
            control.should_training_stop = True
            control.should_save = True


# ---------------------------------------------------------------------------------------------
# data


def read_sft_records(files: Iterable[str | Path]) -> list[dict[str, Any]]:
    """SFT records from JSONL files (blank lines skipped; a torn last line is dropped)."""
    records: list[dict[str, Any]] = []
    for path in files:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines) - 1:
                    logger.warning("dropping a torn last line in %s", path)
                    continue
                raise ValueError(f"{path}:{number + 1}: not a JSON line")
            if "messages" not in record:
                raise ValueError(f"{path}:{number + 1}: an SFT record needs 'messages'")
            records.append(record)
    return records


def record_module(record: dict[str, Any]) -> str:
    """`plan`, `ground` or `other`, from the first user turn's LUMOS instruction."""
    from agents.prompts import GROUND_INSTRUCTION, PLAN_INSTRUCTION

    first = next((str(m["content"]) for m in record["messages"] if m["role"] == "user"), "")
    if first.startswith(PLAN_INSTRUCTION.strip()):
        return "plan"
    if first.startswith(GROUND_INSTRUCTION.strip()):
        return "ground"
    return "other"


def select_records(records: Sequence[dict[str, Any]], module: str | None = None, datasets: Sequence[str] | None = None, max_records: int | None = None) -> list[dict[str, Any]]:
    """Records of one module and/or some datasets, at most `max_records`."""
    kept = [r for r in records if (module is None or record_module(r) == module) and (datasets is None or r.get("dataset") in datasets)]
    return kept[:max_records] if max_records is not None else kept


def has_generation_markers(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template marks assistant text (`{% generation %}`)."""
    template = getattr(tokenizer, "chat_template", None) or ""
    return bool(_GENERATION_MARKER.search(template if isinstance(template, str) else json.dumps(template)))


def to_prompt_completion(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fallback for templates without generation markers: one prompt-completion pair per
    assistant turn (TRL then puts the loss on the completion only)."""
    pairs = []
    for record in records:
        messages = record["messages"]
        for i, message in enumerate(messages):
            if message["role"] == "assistant":
                pairs.append({"prompt": [dict(m) for m in messages[:i]], "completion": [dict(message)]})
    return pairs


# ---------------------------------------------------------------------------------------------
# training


@dataclass
class PreparedTraining:
    """An `SFTTrainer` ready to run, and what `train` needs to finish the job."""

    trainer: Any
    tokenizer: Any
    options: dict[str, Any]
    """the tiny back-end options to save with the model (`lumos_tiny.json`)"""
    budget: TimeBudgetCallback | None
    rows: int


def build_trainer(config: TrainConfig) -> PreparedTraining:
    """Read and filter the records, load the model and tokenizer, and build the `SFTTrainer`.

    Raises:
        ValueError: no data files, no base model, or no record left after filtering.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from agents.backends.tiny import mask_conversation, read_tiny_options

    if not config.data_files:
        raise ValueError("TrainConfig.data_files is empty")
    if not config.base_model:
        raise ValueError("TrainConfig.base_model is not set")
    records = select_records(read_sft_records(config.data_files), config.module, config.datasets, config.max_records)
    if not records:
        raise ValueError(f"no SFT records left after filtering (module={config.module}, datasets={config.datasets})")
    options = read_tiny_options(config.base_model)
    placeholders = bool(options.get("number_placeholders", False)) if config.number_placeholders is None else config.number_placeholders
    messages = [mask_conversation(r["messages"]) if placeholders else [dict(m) for m in r["messages"]] for r in records]

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.assistant_only_loss and not has_generation_markers(tokenizer):
        logger.warning("chat template of %s has no {%% generation %%} markers: training on prompt-completion pairs", config.base_model)
        config.assistant_only_loss = False
        config.completion_only_loss = True
        rows = to_prompt_completion([{"messages": m} for m in messages])
    else:
        rows = [{"messages": m} for m in messages]
    dataset = Dataset.from_list(rows)

    dtype = torch.bfloat16 if config.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(config.base_model, use_safetensors=True, dtype=dtype)
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules, task_type="CAUSAL_LM",
        )
    budget = TimeBudgetCallback(config.max_minutes, anneal=config.anneal_over_budget) if config.max_minutes is not None else None
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
        callbacks=[budget] if budget else None,
    )
    return PreparedTraining(trainer, tokenizer, {**options, "number_placeholders": placeholders}, budget, len(rows))


def train(config: TrainConfig) -> TrainResult:
    """Train `config.base_model` on `config.data_files`; returns where it went and how it went.

    Raises:
        ValueError: no data files, no base model, or no record left after filtering.
    """
    from transformers.trainer_utils import get_last_checkpoint

    from agents.backends.tiny import write_tiny_options

    prepared = build_trainer(config)
    trainer = prepared.trainer
    checkpoint = None
    if config.resume and Path(config.output_dir).is_dir():
        checkpoint = get_last_checkpoint(config.output_dir)
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.monotonic() - start

    out = Path(config.output_dir)
    final = trainer.model
    if config.lora:
        final.save_pretrained(out / "adapter")
        final = final.merge_and_unload()
    final.save_pretrained(out, safe_serialization=True)
    prepared.tokenizer.save_pretrained(out)
    write_tiny_options(out, prepared.options)

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
    batch = config.per_device_train_batch_size * config.gradient_accumulation_steps
    return TrainResult(
        output_dir=str(out),
        steps=int(trainer.state.global_step),
        final_loss=float(losses[-1]) if losses else None,
        wall_time_s=wall,
        stopped_by_budget=bool(prepared.budget and prepared.budget.stopped),
        records=prepared.rows,
        tokens_per_step=batch * (sum(lengths) / len(lengths)),
        resumed_from=checkpoint,
        losses=[float(x) for x in losses],
    )


# ---------------------------------------------------------------------------------------------
# the tiny CPU recipe


TINY_TRAIN_FAMILIES = ("shopping_total", "rate_time", "percent_change", "sharing")
"""The GSM8K-like synthetic families the tiny recipe trains on (and is measured on, other seeds)."""


@dataclass
class TinyRecipe:
    """The default tiny planner+grounder for CPU demos (one model trained on both modules).

    Measured on 2 CPU cores: 99% end to end on 200 test tasks after 8 minutes (module docstring,
    `benchmarks/bench_training.py`). Hand the two folders to `load_tiny_backend` (it reads the
    placeholder option saved beside each model).
    """

    families: tuple[str, ...] = TINY_TRAIN_FAMILIES
    """synthetic maths families whose gold conversations are the training data"""
    tasks_per_family: int = 300
    """training tasks per family (seed `seed`)"""
    seed: int = 0
    """task seed of the training split (evaluate on another, e.g. 1000)"""
    number_placeholders: bool = True
    """the model sees the task's numbers as N1, N2, ... (`NumberPlaceholders`)"""
    phrase_tokens: bool = True
    """the fixed LUMOS prompt phrases are single tokens (`agents.backends.tiny.LUMOS_PHRASES`):
    sequences are about half as long, the text unchanged"""
    vocab_size: int = 1024
    """tokenizer vocabulary"""
    hidden_size: int = 128
    """model width"""
    num_layers: int = 4
    """transformer blocks"""
    num_heads: int = 4
    """attention heads (head dim = hidden_size / num_heads)"""
    intermediate_size: int = 384
    """MLP width"""
    learning_rate: float = 3e-3
    """peak learning rate (AdamW)"""
    warmup_steps: int = 30
    """linear warmup"""
    batch_size: int = 16
    """conversations per step"""
    max_minutes: float = 8.0
    """wall-clock training budget of each model (they train at the same time; the learning rate
    follows a cosine over it)"""
    num_train_epochs: float = 50.0
    """upper bound; the time budget normally ends training first"""
    max_length: int = 1024
    """longest training sequence, in tokens"""
    separate_modules: bool = True
    """a planner and a grounder model (as LUMOS), trained at once in two single-thread processes"""
    torch_threads: int | None = 1
    """CPU threads for torch during training (None: torch's default). One thread is much faster
    than two on a busy 2-core machine (OpenMP threads spin against other processes)"""

    def model_config(self) -> Any:
        from agents.backends.tiny import TinyModelConfig

        return TinyModelConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            num_heads=self.num_heads, intermediate_size=self.intermediate_size, max_position_embeddings=self.max_length,
        )

    def task_specs(self, seed: int | None = None, size: int | None = None) -> list[str]:
        seed = self.seed if seed is None else seed
        size = self.tasks_per_family if size is None else size
        return [f"synthetic:{family}?size={size}&seed={seed}" for family in self.families]


def oracle_sft_records(task_specs: Sequence[str], env_id: str = "lumos/Math-v0", formulation: str = "iterative") -> list[dict[str, Any]]:
    """Gold LUMOS planner and grounder conversations, with real execution results, from running
    `OracleAgent` episodes (only successful episodes are kept)."""
    import gymnasium as gym

    import lumos_envs  # noqa: F401  (registers the env ids)
    from agents.oracle import OracleAgent

    records: list[dict[str, Any]] = []
    agent = OracleAgent(formulation=formulation)  # type: ignore[arg-type]
    for spec in task_specs:
        env = gym.make(env_id, disable_env_checker=True, tasks=spec, reveal_gold=True)
        try:
            for index in range(len(env.unwrapped.tasks)):
                observation, info = env.reset(options={"task_index": index})
                agent.reset(observation, info)
                reward, done = 0.0, False
                while not done:
                    (action,) = agent.act_batch([observation], [info])
                    observation, reward, terminated, truncated, info = env.step(action)
                    done = terminated or truncated
                if reward < 1:
                    continue
                task_id = str(info["task"].get("id", index))
                for module in ("planner", "grounder"):
                    calls = [c for c in agent.trace(0).calls if c.module == module]
                    if calls:
                        last = calls[-1]
                        messages = [dict(m) for m in last.messages] + [{"role": "assistant", "content": last.generation.text}]
                        records.append({"dataset": "maths", "id": f"{task_id}_{module}", "messages": messages})
        finally:
            env.close()
    return records


def rendered_corpus(records: Sequence[dict[str, Any]], placeholders: bool) -> list[str]:
    """The training conversations as the model will read them (for training the tokenizer)."""
    from agents.backends.tiny import mask_conversation
    from agents.prompts import tulu_prompt

    return [tulu_prompt(mask_conversation(r["messages"]) if placeholders else r["messages"], add_generation_prompt=False) for r in records]


@dataclass
class TinyTrainResult:
    """The tiny recipe's models: `planner` and `grounder` folders (the same folder for a unified model)."""

    planner_dir: str
    grounder_dir: str
    results: dict[str, TrainResult]
    """`plan`/`ground` (separate models) or `both` (one unified model)"""

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.results.values())

    @property
    def tokens_per_s(self) -> float:
        return sum(r.tokens_per_s for r in self.results.values())

    @property
    def wall_time_s(self) -> float:
        return max(r.wall_time_s for r in self.results.values())


def train_tiny(recipe: TinyRecipe, workdir: str | Path, *, records: Sequence[dict[str, Any]] | None = None, **overrides: Any) -> TinyTrainResult:
    """Build the recipe's data and tiny model(s) under `workdir` and train them.

    With `recipe.separate_modules`, a planner (`workdir/planner`) and a grounder
    (`workdir/grounder`) train at the same time in two processes, one thread each (two cores
    used fully, no OpenMP contention); otherwise one unified model trains in `workdir/model`.
    `records` replaces the recipe's gold maths conversations (e.g. a demo's multi-domain data);
    `overrides` are extra `TrainConfig` fields.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from agents.backends.tiny import LUMOS_PHRASES, save_tiny

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    records = list(records) if records is not None else oracle_sft_records(recipe.task_specs())
    data = workdir / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    base = save_tiny(
        workdir / "base", recipe.model_config(), rendered_corpus(records, False),
        number_placeholders=recipe.number_placeholders, phrases=LUMOS_PHRASES if recipe.phrase_tokens else (),
    )
    settings: dict[str, Any] = dict(
        data_files=[str(data)], base_model=str(base),
        learning_rate=recipe.learning_rate, warmup_steps=recipe.warmup_steps, lr_scheduler_type="constant_with_warmup",
        per_device_train_batch_size=recipe.batch_size, num_train_epochs=recipe.num_train_epochs,
        max_minutes=recipe.max_minutes, max_length=recipe.max_length, logging_steps=10,
        save_strategy="no", weight_decay=0.0, seed=recipe.seed, disable_tqdm=True,
    )
    settings.update(overrides)
    if not recipe.separate_modules:
        result = _train_in_process(dict(settings, output_dir=str(workdir / "model")), recipe.torch_threads)
        return TinyTrainResult(result.output_dir, result.output_dir, {"both": result})
    jobs = {
        "plan": dict(settings, output_dir=str(workdir / "planner"), module="plan"),
        "ground": dict(settings, output_dir=str(workdir / "grounder"), module="ground"),
    }
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {module: pool.submit(_train_in_process, job, recipe.torch_threads) for module, job in jobs.items()}
        results = {module: future.result() for module, future in futures.items()}
    return TinyTrainResult(results["plan"].output_dir, results["ground"].output_dir, results)


def _train_in_process(settings: dict[str, Any], threads: int | None) -> TrainResult:
    """`train` with torch limited to `threads` CPU threads (a process-pool entry point)."""
    import torch

    if threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(threads)
    return train(TrainConfig(**settings))
