"""Tiny causal LMs for CPU: a byte-level BPE tokenizer trained on lumos's own text and a small Llama.

Nothing is downloaded: the tokenizer is trained on the LUMOS prompt strings, tasks and gold plans
of lumos task sources, and any annotation files given; the model is built from a config with
seeded random weights. Digits are split into single tokens (numbers are what the maths tools
read). The chat template is the Tulu format with `{% generation %}` markers, so TRL's
assistant-only loss can train it. `save_tiny` writes a folder that `AutoTokenizer` and
`AutoModelForCausalLM` (or `TransformersBackend.from_pretrained`) load offline, safetensors only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

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
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                texts.extend(str(record.get(key, "")) for key in ("task", "subgoal_plan"))
    return texts


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> Any:
    """A byte-level BPE `PreTrainedTokenizerFast` with single-digit tokens and the Tulu template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [PAD, BOS, EOS, UNK, *CHAT_TOKENS]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
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


def save_tiny(path: str | Path, config: TinyModelConfig = TinyModelConfig(), corpus: Iterable[str] | None = None) -> Path:
    """Build the tokenizer and model and save both (safetensors) in `path`; returns the path."""
    path = Path(path)
    tokenizer = train_tokenizer(default_corpus() if corpus is None else corpus, config.vocab_size)
    model = build_tiny_model(tokenizer, config)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path, safe_serialization=True)
    return path


def load_tiny_backend(path: str | Path, *, batch_size: int = 16) -> Any:
    """A `TransformersBackend` over a saved tiny model (its template is the Tulu format)."""
    from agents.backends.transformers import TransformersBackend

    return TransformersBackend.from_pretrained(str(path), batch_size=batch_size, chat_format="template")
