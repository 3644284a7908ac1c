"""Tiny causal LMs for CPU: a byte-level BPE tokenizer trained on lumos's own text and a small Llama.

Nothing is downloaded: the tokenizer is trained on the LUMOS prompt strings, tasks and gold plans
of lumos task sources, and any annotation files given; the model is built from a config with
seeded random weights. Digits are split into single tokens (numbers are what the maths tools
read). The chat template is the Tulu format with `{% generation %}` markers, so TRL's
assistant-only loss can train it. `save_tiny` writes a folder that `AutoTokenizer` and
`AutoModelForCausalLM` (or `TransformersBackend.from_pretrained`) load offline, safetensors only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from lumos_envs.jsonl import read_jsonl_objects

from agents import prompts as P

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
CHAT_TOKENS = ("<|user|>", "<|assistant|>", "<|system|>")


@dataclass(frozen=True)
class TinyModelConfig:
    """Size of the tiny model and its tokenizer (defaults: about 1M parameters)."""

    vocab_size: int = 1024
    """BPE vocabulary size, special tokens and the 256 byte symbols included"""
    hidden_size: int = 128
    """model width"""
    num_layers: int = 4
    """transformer blocks"""
    num_heads: int = 4
    """attention heads"""
    intermediate_size: int = 256
    """MLP width"""
    max_position_embeddings: int = 4096
    """longest sequence (LUMOS-I conversations grow with every subgoal)"""
    seed: int = 0
    """seed of the random weights"""

    def __post_init__(self) -> None:
        if self.vocab_size < 300:
            raise ValueError(f"vocab_size must be >= 300 (256 bytes + specials), got {self.vocab_size}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")


def default_corpus(task_specs: Sequence[str] = ("synthetic:math_train?size=200",), annotation_files: Sequence[str | Path] = ()) -> list[str]:
    """lumos's own text: the LUMOS prompt strings, tasks and gold plans, and annotation records."""
    texts = [
        P.PLAN_INSTRUCTION, P.GROUND_INSTRUCTION, P.KEEP_PLANNING, P.STOP_PLANNING,
        *(block.render() for block in P.LUMOS_BLOCKS.values()),
        "The executed result for Subgoal 1 is 2. Should we stop planning?",
        "Subgoal to be grounded: Subgoal 1: The grounding could be based on the following results:",
        "Answer(R1) Initial Environment Description: None.",
    ]
    from lumos_envs.tasks.registry import load_tasks

    for spec in task_specs:
        source = load_tasks(spec)
        for i in range(len(source)):
            task = source[i]
            texts.append(task.question)
            if task.plan is not None:
                for k, sub in enumerate(task.plan.subgoals, start=1):
                    texts.append(P.subgoal_line(k, sub.text))
                    texts.append(sub.action_line())
    for path in annotation_files:
        for record in read_jsonl_objects(path):
            texts.extend(str(record.get(key, "")) for key in ("task", "subgoal_plan"))
    return texts


LUMOS_PHRASES: tuple[str, ...] = (
    P.GROUND_INSTRUCTION + P.MATHS_BLOCK.render() + "Task: ",
    *(P.GROUND_INSTRUCTION + block.render() + "Task: " for name, block in P.LUMOS_BLOCKS.items() if name != "maths"),
    P.PLAN_INSTRUCTION + "Task: ",
    "; Initial Environment Description: None.",
    " \nSubgoal to be grounded: Subgoal ",
    "Subgoal to be grounded: Subgoal ",
    "The executed result for Subgoal ",
    ". Should we stop planning?",
    P.KEEP_PLANNING + "Subgoal ",
    P.STOP_PLANNING,
)
"""Fixed LUMOS prompt text that `train_tokenizer(phrases=LUMOS_PHRASES)` makes single tokens: the
text is unchanged, a tiny model just reads (and writes) each phrase as one token."""


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, *, merge_across_words: bool = False, phrases: Sequence[str] = ()
) -> Any:
    """A byte-level BPE `PreTrainedTokenizerFast` with single-digit tokens and the Tulu template.

    With `merge_across_words`, BPE may merge across spaces, so text repeated in every prompt (the
    LUMOS instructions and action block) compresses into a few long tokens when the corpus holds
    whole rendered conversations; digits stay single tokens either way.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, UNK, *CHAT_TOKENS]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=not merge_across_words)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        additional_special_tokens=list(CHAT_TOKENS), padding_side="left", model_max_length=4096,
    )
    if phrases:
        from tokenizers import AddedToken

        fast.add_tokens([AddedToken(p, normalized=False, special=False) for p in phrases])
    fast.chat_template = P.TULU_CHAT_TEMPLATE
    return fast


def build_tiny_model(tokenizer: Any, config: TinyModelConfig = TinyModelConfig()) -> Any:
    """A randomly initialised (seeded) `LlamaForCausalLM` sized by `config`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    return LlamaForCausalLM(model_config).eval()


def save_tiny(
    path: str | Path,
    config: TinyModelConfig = TinyModelConfig(),
    corpus: Iterable[str] | None = None,
    *,
    number_placeholders: bool = False,
    merge_across_words: bool = False,
    phrases: Sequence[str] = (),
) -> Path:
    """Build the tokenizer and model and save both (safetensors) in `path`; returns the path.

    `merge_across_words` and `phrases` are `train_tokenizer` options. `number_placeholders` is recorded in the folder's `lumos_model.json` (its `tiny` options) so that training and
    `load_tiny_backend` put the model behind `NumberPlaceholders` (see there).
    """
    path = Path(path)
    texts = list(default_corpus() if corpus is None else corpus)
    if number_placeholders:
        texts = [mask_text(t) for t in texts]
    tokenizer = train_tokenizer(texts, config.vocab_size, merge_across_words=merge_across_words, phrases=phrases)
    model = build_tiny_model(tokenizer, config)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path, safe_serialization=True)
    write_tiny_options(path, {"number_placeholders": number_placeholders})
    return path


TINY_OPTIONS_FILE = "lumos_tiny.json"
"""The older marker of a tiny model folder (still read, as a record with tiny options); new folders
carry their options in `lumos_model.json` (`agents.models.ModelRecord.tiny`)."""


def read_tiny_options(path: str | Path) -> dict[str, Any]:
    """The options saved with a tiny model (`{}` for a folder without them, e.g. any HF model)."""
    from agents.models import read_model_record

    record = read_model_record(path) if Path(path).is_dir() else None
    return dict(record.tiny) if record is not None and record.tiny is not None else {}


def write_tiny_options(path: str | Path, options: dict[str, Any], made_by: str = "save_tiny") -> None:
    """Record a tiny model's options in its folder's `lumos_model.json` (other record fields kept)."""
    from agents.models import ModelRecord, read_model_record, write_model_record

    record = read_model_record(path) or ModelRecord(base_model="lumos-tiny", chat_format="template", made_by=made_by)
    record.tiny = dict(options)
    write_model_record(path, record)


def load_tiny_backend(path: str | Path, *, batch_size: int = 16, number_placeholders: bool | None = None,
                      conversation_cache_size: int = 64, conversation_cache_mb: float | None = 2048, batching: str = "padded") -> Any:
    """A `TransformersBackend` over a saved tiny model (its template is the Tulu format).

    `number_placeholders=None` follows the folder's recorded tiny options; when on, the back-end is
    wrapped in `NumberPlaceholders`.
    """
    from agents.backends.transformers import TransformersBackend

    backend = TransformersBackend.from_pretrained(str(path), batch_size=batch_size, chat_format="template",
                                                  conversation_cache_size=conversation_cache_size,
                                                  conversation_cache_mb=conversation_cache_mb, batching=batching)
    if number_placeholders is None:
        number_placeholders = bool(read_tiny_options(path).get("number_placeholders", False))
    return NumberPlaceholders(backend) if number_placeholders else backend


# ---------------------------------------------------------------------------------------------
# number placeholders: a tiny-model adapter (the LUMOS prompt strings stay as they are)

_TASK = re.compile(r"Task: (.*?)(?:; Initial Environment Description:| \n|\Z)", re.S)
_NUMBER = re.compile(r"(?<![\w.])(?<!Subgoal )\d+(?:\.\d+)?(?![\w]|\.\d)")
_PLACEHOLDER = re.compile(r"\bN(\d+)\b")


def _canonical(number: str) -> str:
    """`3.50` and `3.5` are one number (questions write money with cents, plans without)."""
    return number.rstrip("0").rstrip(".") if "." in number else number


def number_map(task: str) -> dict[str, str]:
    """Placeholder -> number: `N1`, `N2`, ... for the task's numbers in order of appearance.

    Each occurrence gets its own placeholder (a value written twice gets two), so the position of
    a template's numbers, and hence their placeholders, does not shift when two values coincide.
    """
    return {f"N{i}": match.group(0) for i, match in enumerate(_NUMBER.finditer(task), start=1)}


def mask_text(text: str, mapping: dict[str, str] | None = None) -> str:
    """`text` with the task's numbers replaced by their placeholders (`mapping` from `number_map`;
    built from the task found in `text` when None).

    Inside the `Task: ...` span each occurrence becomes its own placeholder; elsewhere (subgoals,
    actions, results) a number becomes the first placeholder of its value (`3.50` = `3.5`).
    Subgoal numbers (`Subgoal 2`) and variables (`R2`) are left alone.
    """
    found = _TASK.search(text)
    if mapping is None:
        mapping = number_map(found.group(1) if found else text)
    first: dict[str, str] = {}
    for placeholder, value in mapping.items():
        first.setdefault(_canonical(value), placeholder)

    def by_value(segment: str) -> str:
        return _NUMBER.sub(lambda m: first.get(_canonical(m.group(0)), m.group(0)), segment)

    if found is None:
        return by_value(text)
    span = found.group(1)
    values = [m.group(0) for m in _NUMBER.finditer(span)]
    if [_canonical(v) for v in values] == [_canonical(v) for v in mapping.values()]:
        numbers = iter(mapping)
        masked_span = _NUMBER.sub(lambda m: next(numbers), span)
    else:  # a task other than the one the map was built from
        masked_span = by_value(span)
    return by_value(text[: found.start(1)]) + masked_span + by_value(text[found.end(1) :])


def unmask_text(text: str, mapping: dict[str, str]) -> str:
    """Placeholders back to the task's numbers as written (unknown placeholders are left alone)."""
    return _PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def conversation_number_map(messages: Sequence[dict[str, str]]) -> dict[str, str]:
    """The number map of a LUMOS conversation: from the `Task: ...` of its first user turn."""
    first = next((str(m["content"]) for m in messages if m["role"] == "user"), "")
    found = _TASK.search(first)
    return number_map(found.group(1) if found else "")


def mask_conversation(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Every turn of a conversation with the task's numbers as placeholders (for training data)."""
    mapping = conversation_number_map(messages)
    return [{**m, "content": mask_text(str(m["content"]), mapping)} for m in messages]


class NumberPlaceholders:
    """Number mapping for tiny models: the model sees `N1`, `N2`, ... for the task's numbers.

    A classic technique for maths word problems (number mapping): copying a number digit by digit
    is what a ~2M-parameter model trained for minutes fails at, while copying one placeholder is
    easy. Before generation the task's numbers are replaced in every turn of the conversation;
    after generation the placeholders in the text are mapped back, so the agent, the env and the
    trajectories only ever see real numbers. Only a tiny-model adapter: the LUMOS back-ends get
    the LUMOS strings unchanged. Token ids and logprobs stay those of the masked text.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate_chat(self, conversations: Sequence[Any], **kwargs: Any) -> list[list[Any]]:
        maps = [conversation_number_map(c) for c in conversations]
        masked = [[{**m, "content": mask_text(str(m["content"]), mp)} for m in c] for c, mp in zip(conversations, maps)]
        results = self.inner.generate_chat(masked, **kwargs)
        return [[replace(g, text=unmask_text(g.text, mp)) for g in gens] for gens, mp in zip(results, maps)]

    def generate(self, prompts: Sequence[str], **kwargs: Any) -> list[list[Any]]:
        maps = [conversation_number_map([{"role": "user", "content": p}]) for p in prompts]
        results = self.inner.generate([mask_text(p, mp) for p, mp in zip(prompts, maps)], **kwargs)
        return [[replace(g, text=unmask_text(g.text, mp)) for g in gens] for gens, mp in zip(results, maps)]
