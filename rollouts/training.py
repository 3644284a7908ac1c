"""Fine-tuning of LUMOS modules with TRL (`SFTTrainer`, `DPOTrainer`), and the tiny CPU recipe.

`train(TrainConfig(...))` reads JSONL records (SFT: `{"dataset", "id", "messages"}` as
`agents.sft` and `rollouts.sft_data` write them; DPO: `{"prompt", "chosen", "rejected"}` pairs
from `rollouts.sft_data.dpo_pairs`), optionally keeps one module (`plan`/`ground`) or some
datasets, and trains a causal LM: a named model (`smollm2`), any local folder (a `save_tiny`
folder, an `ai2lumos` checkpoint, a LoRA adapter folder lumos wrote) or, where the hub is
reachable, a hub id; all through `agents.models.resolve_model`. The same code runs on CPU and GPU:
on CPU, TRL's bf16 and gradient checkpointing defaults are switched off.

Training sees exactly the string inference sees: `rollouts.chat_format` picks the Tulu template
with `{% generation %}` markers for tokenizers without a chat template (the LUMOS checkpoints), the
model's own template otherwise (markers inserted where it has none), and conversations are
tokenised here, with the special tokens inference adds (BOS for the Tulu style), the loss on
assistant content and end tokens only. The choice is recorded in the output's `lumos_model.json`.

Output folder: the weights (safetensors) or, with `lora` and without `merge_lora`, only the LoRA
adapter (its base in the record's `lora_base`; `TransformersBackend.from_pretrained` loads it over
that base); the tokenizer; `lumos_model.json` (base, chat format, tiny options when the base was
a tiny model, what it was trained on); and `run_manifest.json` (git commit, package versions,
seeds, command line, resolved config). `resume=True` continues from the last checkpoint in it.
`max_minutes` is a wall-clock budget: training stops (and saves) when it is spent, and with
`anneal_over_budget` the learning rate follows a cosine over the budget instead of over the steps.

`TinyRecipe` is the default for CPU demos: gold LUMOS-I planner and grounder conversations of the
GSM8K-like synthetic families (OracleAgent episodes, real execution results), a ~1M-parameter
Llama (4 layers, width 128, head dim 32) per module whose tokenizer splits digits, reads the fixed
LUMOS phrases as single tokens (`LUMOS_PHRASES`: sequences half as long, text unchanged) and sees
the task's numbers as `N1, N2, ...` (`NumberPlaceholders`: copying one placeholder instead of
digits: the issue measured 0% grounder exact match for a naive tiny model, this recipe 96%); planner and grounder train at the same
time in two single-thread processes (separate models learn their one job much faster than a
unified model in the same time); AdamW at 3e-3 with warmup and a cosine over the time budget,
batches by length. `train_tiny(recipe, workdir)` builds the data and models and trains them.

Until stop 24 this recipe was measured on a test split (seed 1000) that repeated training questions once
numbers are masked (the model reads numbers as N1, N2, ...), so they measured memory. On the
`part=test` split, which repeats none (`lumos_envs.tasks.question_keys`), the demo's 9-minute
recipe (300 `part=train` tasks a family) solves 156/200 = 78.0% [71.8, 83.2] on an idle machine
(1,048 / 814 steps; shopping_total 84%, rate_time 98%, percent_change 98%, sharing 32%) and
117/200 = 58.5% [51.6, 65.1] with other jobs running (840 / 644 steps; `lumos demo`, stop 24):
the wall-clock budget makes it depend on the machine's load.
Earlier measurements on the overlapping split, kept for comparison only: 8 minutes 99%
(~916 steps per model, ~7.2k tokens/s over both processes; teacher-forced turn exact match:
planner 87%, grounder 96%); a 4-minute budget 82.5%; the 8-minute run with placeholders by value
(~580 steps per model): 78%. One unified model, 5 minutes in one process: 10%.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

from transformers import TrainerCallback
from trl import SFTConfig

from rollouts.chat_format import ChatFormat, has_generation_markers as _template_has_markers
from rollouts.chat_format import resolve_chat_format, tokenize_conversation, tokenize_preference

if TYPE_CHECKING:
    from agents.models import ModelRecord

logger = logging.getLogger(__name__)

METHODS = ("sft", "dpo")
MANIFEST_FILE = "run_manifest.json"
MANIFEST_PACKAGES = ("lumos", "torch", "transformers", "trl", "peft", "datasets", "accelerate", "tokenizers", "sentencepiece")


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass
class TrainConfig(SFTConfig):
    r"""TRL's `SFTConfig` plus what lumos needs to train a LUMOS module.

    Parameters that select the data:
        data_files (`list[str]`): JSONL files of SFT records `{"dataset", "id", "messages"}` (or
            DPO pairs `{"prompt", "chosen", "rejected"}` with `method="dpo"`).
        module (`str` or `None`, defaults to `None`): keep only `plan` or `ground` conversations
            (told apart by their first user turn); `None` keeps both (a unified model).
        datasets (`list[str]` or `None`): keep only records of these `dataset` names.
        max_records (`int` or `None`): use at most this many records (after filtering).

    Parameters that select the model and the method:
        base_model (`str`): a named model (`smollm2`), a local folder (tiny, HF causal LM, ai2lumos
            checkpoint, LoRA adapter folder) or a hub id.
        method (`str`, defaults to `"sft"`): `sft` (SFTTrainer) or `dpo` (DPOTrainer on preference pairs).
        beta (`float`, defaults to `0.1`): DPO's beta.
        lora (`bool`, defaults to `False`): train a LoRA adapter (peft) instead of all weights; the
            output folder holds the adapter and records its base (`lora_base`).
        merge_lora (`bool`, defaults to `False`): with `lora`, save the merged model instead (the
            adapter is kept under `adapter/`).
        lora_r, lora_alpha, lora_dropout, lora_target_modules: `peft.LoraConfig` options.
        number_placeholders (`bool` or `None`): train on conversations whose task numbers are
            `N1, N2, ...` (see `agents.backends.tiny.NumberPlaceholders`); `None` follows the base
            model's recorded tiny options. Recorded in the output folder.
        made_by (`str`, defaults to `"train"`): the lumos command recorded in `lumos_model.json`.

    Parameters that bound the run:
        max_minutes (`float` or `None`): wall-clock budget; training stops and saves when spent.
        anneal_over_budget (`bool`, defaults to `True`): with `max_minutes`, multiply the learning
            rate by a cosine over the elapsed fraction of the budget.
        resume (`bool`, defaults to `False`): continue from the last checkpoint in `output_dir`.

    Changed TRL defaults: `assistant_only_loss=True` (lumos tokenises and masks the conversations
    itself, see the module docstring), `train_sampling_strategy="group_by_length"`,
    `save_total_limit=2`; `report_to` passes through to TRL (TRL defaults it to none; tensorboard
    or wandb when installed); on CPU `use_cpu=True`, `bf16=False`, `fp16=False`,
    `gradient_checkpointing=False`.
    """

    data_files: list[str] = field(default_factory=list, metadata={"help": "JSONL files of SFT records (or DPO pairs)."})
    base_model: str = field(default="", metadata={"help": "Named model (smollm2), local model folder or hub id."})
    method: str = field(default="sft", metadata={"help": "sft or dpo."})
    beta: float = field(default=0.1, metadata={"help": "DPO beta."})
    module: Optional[str] = field(default=None, metadata={"help": "Keep only 'plan' or 'ground' conversations."})
    datasets: Optional[list[str]] = field(default=None, metadata={"help": "Keep only records of these datasets."})
    max_records: Optional[int] = field(default=None, metadata={"help": "Use at most this many records."})
    lora: bool = field(default=False, metadata={"help": "Train a LoRA adapter (peft); the output folder holds the adapter."})
    merge_lora: bool = field(default=False, metadata={"help": "With --lora, save the merged model (adapter kept under adapter/)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: Optional[list[str]] = field(default=None, metadata={"help": "LoRA target modules (peft's default when unset)."})
    number_placeholders: Optional[bool] = field(default=None, metadata={"help": "Mask task numbers as N1, N2, ... (None: follow the base model)."})
    made_by: str = field(default="train", metadata={"help": "The lumos command recorded in lumos_model.json."})
    task_specs: Optional[list[str]] = field(default=None, metadata={"help": (
        "Task specs the records came from, recorded in lumos_model.json: evaluation derives each suite's category from them "
        "and refuses suites that repeat their questions (without them, only the records' LUMOS datasets are known).")})
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
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {self.max_minutes}")
        if self.merge_lora and not self.lora:
            raise ValueError("merge_lora needs lora")
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
    """training conversations (or preference pairs)"""
    tokens_per_step: float
    """mean tokens per optimizer step (batch x mean sequence length, padding excluded)"""
    resumed_from: str | None = None
    """the checkpoint training resumed from, if any"""
    losses: list[float] = field(default_factory=list)
    """every logged training loss, in order"""
    method: str = "sft"

    @property
    def tokens_per_s(self) -> float:
        return self.steps * self.tokens_per_step / self.wall_time_s if self.wall_time_s > 0 else 0.0

    @property
    def seconds_per_step(self) -> float:
        return self.wall_time_s / self.steps if self.steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s, "seconds_per_step": self.seconds_per_step}


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


def read_sft_records(files: Iterable[str | Path], required: Sequence[str] = ("messages",)) -> list[dict[str, Any]]:
    """Records from JSONL files (blank lines skipped; a torn last line is dropped).

    Raises:
        ValueError: a line that is not JSON (other than the last), or a record without `required` keys.
    """
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
            missing = [key for key in required if key not in record]
            if missing:
                what = "an SFT record" if tuple(required) == ("messages",) else "a preference pair"
                raise ValueError(f"{path}:{number + 1}: {what} needs {', '.join(repr(k) for k in missing)}")
            records.append(record)
    return records


def _first_user_turn(record: Mapping[str, Any]) -> str:
    messages = record.get("messages") or record.get("prompt") or []
    return next((str(m["content"]) for m in messages if m["role"] == "user"), "")


def record_module(record: Mapping[str, Any]) -> str:
    """`plan`, `ground` or `other`, from the first user turn's LUMOS instruction."""
    from agents.prompts import GROUND_INSTRUCTION, PLAN_INSTRUCTION

    first = _first_user_turn(record)
    if first.startswith(PLAN_INSTRUCTION.strip()):
        return "plan"
    if first.startswith(GROUND_INSTRUCTION.strip()):
        return "ground"
    return "other"


def record_formulation(record: Mapping[str, Any]) -> str:
    """`iterative`, `onetime` or `unknown`: a one-time plan is one assistant turn; a one-time
    grounding turn grounds `Subgoals` (plural)."""
    module = record_module(record)
    messages = list(record.get("messages") or record.get("prompt") or [])
    if module == "plan":
        if "prompt" in record and "messages" not in record:
            return "unknown"
        return "onetime" if sum(m["role"] == "assistant" for m in messages) == 1 else "iterative"
    if module == "ground":
        return "onetime" if "Subgoals to be grounded:" in _first_user_turn(record) else "iterative"
    return "unknown"


def select_records(records: Sequence[dict[str, Any]], module: str | None = None, datasets: Sequence[str] | None = None, max_records: int | None = None) -> list[dict[str, Any]]:
    """Records of one module and/or some datasets, at most `max_records`."""
    kept = [r for r in records if (module is None or record_module(r) == module) and (datasets is None or r.get("dataset") in datasets)]
    return kept[:max_records] if max_records is not None else kept


def has_generation_markers(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template marks assistant text (`{% generation %}`)."""
    return _template_has_markers(getattr(tokenizer, "chat_template", None) or "")


def to_prompt_completion(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One prompt-completion pair per assistant turn (for tools that want that shape)."""
    pairs = []
    for record in records:
        messages = record["messages"]
        for i, message in enumerate(messages):
            if message["role"] == "assistant":
                pairs.append({"prompt": [dict(m) for m in messages[:i]], "completion": [dict(message)]})
    return pairs


# ---------------------------------------------------------------------------------------------
# models


def load_training_model(path: str, *, dtype: Any, lora: bool) -> tuple[Any, str | None]:
    """The model to train from a resolved folder (or hub id), and the base of a LoRA adapter folder.

    A LoRA adapter folder loads over its base: with `lora`, the adapter keeps training (trainable);
    without, it is merged and all weights train.
    """
    from transformers import AutoModelForCausalLM

    from agents.backends.transformers import lora_base_of

    folder = Path(path)
    base_of_adapter = lora_base_of(folder) if folder.is_dir() else None
    source = base_of_adapter or path
    source_folder = Path(source)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if source_folder.is_dir():
        kwargs["use_safetensors"] = any(p.suffix == ".safetensors" for p in source_folder.iterdir())
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as error:
        raise ValueError(f"cannot load the base model {source}: {str(error).strip().splitlines()[0]}") from None
    if base_of_adapter is None:
        return model, None
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, str(folder), is_trainable=lora)
    if not lora:
        return model.merge_and_unload(), None
    return model, base_of_adapter


# ---------------------------------------------------------------------------------------------
# training


@dataclass
class PreparedTraining:
    """A TRL trainer ready to run, and what `train` needs to finish the job."""

    trainer: Any
    tokenizer: Any
    options: dict[str, Any]
    """the tiny back-end options to save with the model (empty for other models)"""
    budget: TimeBudgetCallback | None
    rows: int
    chat: ChatFormat | None = None
    """how conversations were serialised"""
    base_path: str = ""
    """the resolved base model folder (or hub id)"""
    base_record: Any = None
    """the base folder's `ModelRecord`, if any"""
    lora_base: str | None = None
    """the base of the adapter being trained (LoRA)"""
    original_template: Any = None
    """the tokenizer's chat template before training (saved as it was)"""
    provenance: dict[str, Any] = field(default_factory=dict)
    """what the records are: datasets, modules, formulations"""


def build_trainer(config: TrainConfig) -> PreparedTraining:
    """Read and filter the records, load the model and tokenizer, and build the TRL trainer.

    Raises:
        ValueError: no data files, no base model, no record left after filtering, or a base model
            that cannot be loaded.
    """
    import torch
    from datasets import Dataset

    from agents.backends.tiny import mask_conversation
    from agents.backends.transformers import load_tokenizer
    from agents.models import NAMED_MODELS, read_model_record, resolve_model

    if not config.data_files:
        raise ValueError("TrainConfig.data_files is empty")
    if not config.base_model:
        raise ValueError("TrainConfig.base_model is not set")
    for path in config.data_files:
        if not Path(path).is_file():
            raise ValueError(f"no such data file: {path}")
    dpo = config.method == "dpo"
    required = ("prompt", "chosen", "rejected") if dpo else ("messages",)
    records = select_records(read_sft_records(config.data_files, required), config.module, config.datasets, config.max_records)
    if not records:
        raise ValueError(f"no records left after filtering (module={config.module}, datasets={config.datasets})")
    base_path = resolve_model(config.base_model)
    base_folder = Path(base_path)
    base_record = read_model_record(base_folder) if base_folder.is_dir() else None
    options = dict(base_record.tiny) if base_record is not None and base_record.tiny is not None else {}
    placeholders = bool(options.get("number_placeholders", False)) if config.number_placeholders is None else config.number_placeholders
    mask = mask_conversation if placeholders else (lambda messages: [dict(m) for m in messages])

    tokenizer = load_tokenizer(base_path)
    original_template = getattr(tokenizer, "chat_template", None)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat = resolve_chat_format(tokenizer, base_record, config.base_model if config.base_model in NAMED_MODELS else base_path)
    provenance = {
        "records": len(records),
        "datasets": dict(Counter(str(r.get("dataset", "")) for r in records)),
        "modules": dict(Counter(record_module(r) for r in records)),
        "formulations": dict(Counter(record_formulation(r) for r in records)),
    }

    if dpo:
        rows = []
        for r in records:
            prompt = mask(r["prompt"])
            prompt_ids, chosen = tokenize_preference(tokenizer, chat, prompt, mask(r["chosen"]))
            _, rejected = tokenize_preference(tokenizer, chat, prompt, mask(r["rejected"]))
            rows.append({"prompt_ids": prompt_ids, "chosen_ids": chosen, "rejected_ids": rejected})
    else:
        rows = [tokenize_conversation(tokenizer, chat, mask(r["messages"])) for r in records]
        if not config.assistant_only_loss:
            rows = [{"input_ids": row["input_ids"]} for row in rows]
    dataset = Dataset.from_list(rows)

    dtype = torch.bfloat16 if config.bf16 else torch.float32
    model, lora_base = load_training_model(base_path, dtype=dtype, lora=config.lora)
    peft_config = None
    if config.lora and lora_base is None:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules, task_type="CAUSAL_LM",
        )
        lora_base = config.base_model if config.base_model in NAMED_MODELS else base_path
    budget = TimeBudgetCallback(config.max_minutes, anneal=config.anneal_over_budget) if config.max_minutes is not None else None
    callbacks = [budget] if budget else None
    if dpo:
        trainer = _pretokenized_dpo_trainer()(model=model, args=dpo_config(config), train_dataset=dataset, processing_class=tokenizer,
                             peft_config=peft_config, callbacks=callbacks)
    else:
        from trl import SFTTrainer

        # the conversations are tokenised and masked above (assistant_masks); TRL's own conversational
        # path would tokenise without the special tokens inference adds (BOS for the Tulu format)
        config.assistant_only_loss = False
        config.completion_only_loss = False
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=peft_config, callbacks=callbacks)
    if len(trainer.train_dataset) == 0:
        raise ValueError(f"no record keeps an assistant token within max_length={config.max_length} "
                         f"(truncation_mode={config.truncation_mode}); raise --max-length (a LUMOS grounding prompt alone can pass 256 tokens)")
    if len(trainer.train_dataset) < len(rows):
        logger.warning("%d of %d records lost every assistant token to max_length=%s and were dropped",
                       len(rows) - len(trainer.train_dataset), len(rows), config.max_length)
    return PreparedTraining(trainer, tokenizer, {**options, "number_placeholders": placeholders} if options or placeholders else {},
                            budget, len(rows), chat=chat, base_path=base_path, base_record=base_record, lora_base=lora_base,
                            original_template=original_template, provenance=provenance)


def _pretokenized_dpo_trainer() -> type:
    """`DPOTrainer` over pairs lumos tokenised itself (`prompt_ids`, `chosen_ids`, `rejected_ids`):
    TRL's own preparation tokenises text with the tokenizer's special tokens whatever the prompt
    style, so a template model would see a BOS in training it never sees at inference."""
    from trl import DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            if "prompt_ids" not in dataset.column_names:
                return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if args.max_length is not None and args.truncation_mode == "keep_start":  # as TRL: a prompt that fills max_length teaches nothing
                dataset = dataset.filter(lambda example: len(example["prompt_ids"]) < args.max_length)
            return dataset

    return PretokenizedDPOTrainer


def dpo_config(config: TrainConfig) -> Any:
    """TRL's `DPOConfig` with the run's `TrainingArguments` settings (output, steps, learning rate,
    seeds, `report_to`, device), `max_length` and `beta` (length grouping becomes random sampling)."""
    from dataclasses import fields

    from transformers import TrainingArguments
    from trl import DPOConfig

    shared = {f.name for f in fields(TrainingArguments) if f.init}
    settings = {name: getattr(config, name) for name in shared if hasattr(config, name)}
    for name in ("logging_dir",):  # derived in __post_init__; let DPOConfig derive its own
        settings.pop(name, None)
    dpo_fields = {f.name for f in fields(DPOConfig) if f.init}
    settings = {k: v for k, v in settings.items() if k in dpo_fields}
    settings.update(beta=config.beta, max_length=config.max_length)
    if settings.get("train_sampling_strategy") == "group_by_length":
        settings["train_sampling_strategy"] = "random"  # pairs have no input_ids column to group by
    return DPOConfig(**settings)


def train(config: TrainConfig, provenance: Mapping[str, Any] | None = None, command_line: Sequence[str] | None = None) -> TrainResult:
    """Train `config.base_model` on `config.data_files`; returns where it went and how it went.

    `provenance` (task specs, families, template ids, env ids, ...) is added to the output's
    `lumos_model.json` training record; `command_line` goes into `run_manifest.json` (default: `sys.argv`).

    Raises:
        ValueError: no data files, no base model, no record left after filtering, or a base model
            that cannot be loaded.
    """
    from transformers.trainer_utils import get_last_checkpoint

    started = time.time()
    prepared = build_trainer(config)
    trainer = prepared.trainer
    checkpoint = None
    if config.resume and Path(config.output_dir).is_dir():
        checkpoint = get_last_checkpoint(config.output_dir)
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.monotonic() - start

    out = Path(config.output_dir)
    save_trained(prepared, config, out, provenance)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    columns = trainer.train_dataset.column_names
    if "input_ids" in columns:
        lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
    else:
        lengths = [sum(len(row[c]) for c in ("prompt_ids", "chosen_ids", "rejected_ids") if c in row) for row in trainer.train_dataset]
    batch = config.per_device_train_batch_size * config.gradient_accumulation_steps
    result = TrainResult(
        output_dir=str(out),
        steps=int(trainer.state.global_step),
        final_loss=float(losses[-1]) if losses else None,
        wall_time_s=wall,
        stopped_by_budget=bool(prepared.budget and prepared.budget.stopped),
        records=prepared.rows,
        tokens_per_step=batch * (sum(lengths) / max(1, len(lengths))),
        resumed_from=checkpoint,
        losses=[float(x) for x in losses],
        method=config.method,
    )
    write_run_manifest(out, config_dict(config), seeds={"seed": config.seed, "data_seed": config.data_seed},
                       command_line=command_line, extra={"result": result.to_dict(), "started_at": started, "finished_at": time.time(),
                              "base_model": prepared.base_path})
    return result


def save_trained(prepared: PreparedTraining, config: TrainConfig, out: Path, provenance: Mapping[str, Any] | None = None) -> None:
    """Weights (or the adapter), the tokenizer as it was, and `lumos_model.json`."""
    from agents.models import write_model_record

    model = prepared.trainer.model
    out.mkdir(parents=True, exist_ok=True)
    if config.lora and not config.merge_lora:
        model.save_pretrained(out)  # adapter_config.json + adapter_model.safetensors
    else:
        if config.lora:
            model.save_pretrained(out / "adapter")
            model = model.merge_and_unload()
        model.save_pretrained(out, safe_serialization=True)
    prepared.tokenizer.chat_template = prepared.original_template
    prepared.tokenizer.save_pretrained(out)
    write_model_record(out, training_record(prepared, config, provenance))


def training_record(prepared: PreparedTraining, config: TrainConfig, provenance: Mapping[str, Any] | None = None) -> ModelRecord:
    """The output's `ModelRecord` (SFT and DPO alike): the base's provenance and format, and the
    training record: the data's counts, `trained_from` (so evaluation follows the base's own
    record), and what the caller's `provenance` or `config.task_specs` say the records came from
    (`rollouts.categories.task_provenance`: task specs, families, domains)."""
    from agents.models import ModelRecord
    from rollouts.categories import task_provenance

    base = prepared.base_record
    declared = task_provenance(("", spec) for spec in config.task_specs) if config.task_specs else {}
    training = {
        "method": config.method, "data_files": [str(p) for p in config.data_files], "module": config.module,
        **prepared.provenance, "chat_template": prepared.chat.to_json() if prepared.chat else None,
        "lora": config.lora, "merged": bool(config.lora and config.merge_lora), "trained_from": config.base_model,
        **declared, **dict(provenance or {}),
    }
    return ModelRecord(
        base_model=(base.base_model if base is not None and base.base_model else config.base_model),
        revision=base.revision if base is not None else None,
        source_sha256=base.source_sha256 if base is not None else None,
        chat_format=prepared.chat.chat_format if prepared.chat else "auto",
        prompt_style=prepared.chat.prompt_style if prepared.chat else "auto",
        tiny=dict(prepared.options) if base is not None and base.tiny is not None else None,
        training=training, lora_base=prepared.lora_base if config.lora and not config.merge_lora else None, made_by=config.made_by,
    )


# ---------------------------------------------------------------------------------------------
# run manifests


def config_dict(config: Any) -> dict[str, Any]:
    """A JSON-safe dict of a config (TrainingArguments' own `to_dict` where there is one)."""
    data = config.to_dict() if hasattr(config, "to_dict") else asdict(config)
    return json.loads(json.dumps(data, default=str))


def git_commit(start: str | Path | None = None) -> dict[str, Any] | None:
    """`{"commit", "dirty"}` of the git checkout holding lumos's code, or None where there is none."""
    folder = Path(start) if start is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def package_versions(names: Sequence[str] = MANIFEST_PACKAGES) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def write_run_manifest(folder: str | Path, config: Mapping[str, Any], *, seeds: Mapping[str, Any],
                       command_line: Sequence[str] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write `run_manifest.json`: git commit, package versions, seeds, command line, config, host."""
    import torch

    manifest = {
        "git": git_commit(), "packages": package_versions(), "seeds": dict(seeds),
        "command_line": list(sys.argv if command_line is None else command_line),
        "python": sys.version.split()[0], "platform": platform.platform(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "config": dict(config), **dict(extra or {}),
    }
    path = Path(folder) / MANIFEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# the tiny CPU recipe


TINY_TRAIN_FAMILIES = ("shopping_total", "rate_time", "percent_change", "sharing")
"""The GSM8K-like synthetic families the tiny recipe trains on (and is measured on, other seeds).
Adding `story_arithmetic` was measured and reverted: in the 9-minute demo budget in-template maths
fell to 30.8% and held-out stayed at 0.8% (closing note of stop 22)."""


@dataclass
class TinyRecipe:
    """The default tiny planner+grounder for CPU demos (one model trained on both modules).

    Measured on 2 CPU cores: 78% end to end on 200 `part=test` tasks after 9 minutes, idle (module docstring,
    `benchmarks/bench_training.py`). Hand the two folders to `load_tiny_backend` (it reads the
    placeholder option saved beside each model).
    """

    families: tuple[str, ...] = TINY_TRAIN_FAMILIES
    """synthetic maths families whose gold conversations are the training data"""
    tasks_per_family: int = 300
    """training tasks per family (seed `seed`)"""
    seed: int = 0
    """task seed of the training split (evaluate on another, e.g. 1000)"""
    part: str = "train"
    """the families' part trained on (`lumos_envs.tasks.question_keys`): `train`, so that `part=validation`
    and `part=test` splits share no question with training once numbers are masked"""
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

    def task_specs(self, seed: int | None = None, size: int | None = None, part: str | None = None) -> list[str]:
        """The families' task specs: the training split by default; `part="test"` with another seed for
        an evaluation split that repeats no training question."""
        seed = self.seed if seed is None else seed
        size = self.tasks_per_family if size is None else size
        return [f"synthetic:{family}?size={size}&seed={seed}&part={part or self.part}" for family in self.families]


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


def train_tiny(recipe: TinyRecipe, workdir: str | Path, *, records: Sequence[dict[str, Any]] | None = None,
               provenance: Mapping[str, Any] | None = None, **overrides: Any) -> TinyTrainResult:
    """Build the recipe's data and tiny model(s) under `workdir` and train them.

    With `recipe.separate_modules`, a planner (`workdir/planner`) and a grounder
    (`workdir/grounder`) train at the same time in two processes, one thread each (two cores
    used fully, no OpenMP contention); otherwise one unified model trains in `workdir/model`.
    `records` replaces the recipe's gold maths conversations (e.g. a demo's multi-domain data);
    `overrides` are extra `TrainConfig` fields. `provenance` (task specs, families, domains) goes
    into each model's `lumos_model.json`; by default it names the recipe's own task specs.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from agents.backends.tiny import LUMOS_PHRASES, save_tiny

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if provenance is None and records is None:
        from rollouts.categories import task_provenance

        provenance = task_provenance(("lumos/Math-v0", spec) for spec in recipe.task_specs())
    provenance = dict(provenance or {})
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
        result = _train_in_process(dict(settings, output_dir=str(workdir / "model")), recipe.torch_threads, provenance)
        return TinyTrainResult(result.output_dir, result.output_dir, {"both": result})
    jobs = {
        "plan": dict(settings, output_dir=str(workdir / "planner"), module="plan"),
        "ground": dict(settings, output_dir=str(workdir / "grounder"), module="ground"),
    }
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {module: pool.submit(_train_in_process, job, recipe.torch_threads, provenance) for module, job in jobs.items()}
        results = {module: future.result() for module, future in futures.items()}
    return TinyTrainResult(results["plan"].output_dir, results["ground"].output_dir, results)


def _train_in_process(settings: dict[str, Any], threads: int | None, provenance: Mapping[str, Any] | None = None) -> TrainResult:
    """`train` with torch limited to `threads` CPU threads (a process-pool entry point)."""
    import torch

    if threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(threads)
    return train(TrainConfig(**settings), provenance)
