"""A miniature of a public `ai2lumos` checkpoint, built offline for tests.

The LUMOS checkpoints (`ai2lumos/lumos_maths_plan_iterative`, ...) are LLaMA-2 models saved by
open-instruct: `config.json` of a `LlamaForCausalLM`, weights as `pytorch_model.bin` (a
`torch.save`d state dict, no safetensors), a SentencePiece `tokenizer.model` loaded through
`tokenizer_class: LlamaTokenizer` (no `tokenizer.json`), the `<pad>` token open-instruct adds
(id = the SentencePiece vocabulary size) and no chat template: they were trained on the Tulu
serialisation. `build_ai2lumos_checkpoint(folder)` writes a folder of exactly that shape, with
a tiny random Llama (2 layers, width 64) and a SentencePiece BPE model (byte fallback and split
digits, as LLaMA's) trained on a few LUMOS prompt lines, so the loaders, the Tulu template and
training see what they would see with the real checkpoints, in a second and without a hub.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

SPM_VOCAB_SIZE = 400
"""SentencePiece pieces (LLaMA-2 has 32000); `<pad>` is added after them, as open-instruct does"""


def _training_lines() -> list[str]:
    from agents.prompts import GROUND_INSTRUCTION, KEEP_PLANNING, MATHS_BLOCK, PLAN_INSTRUCTION, STOP_PLANNING

    block = MATHS_BLOCK
    lines = [
        "<|user|>", "<|assistant|>", "<|system|>",
        PLAN_INSTRUCTION, GROUND_INSTRUCTION, KEEP_PLANNING, STOP_PLANNING,
        str(getattr(block, "actions", "")), str(getattr(block, "interfaces", "")),
        "Task: Mary has 3 apples and buys 5 more. How many apples does she have?; Initial Environment Description: None.",
        "Subgoal 1: Calculate the total number of apples.; Subgoal 2: Answer the question.",
        "The executed result for Subgoal 1 is 8. Should we stop planning?",
        "Subgoal to be grounded: Subgoal 1: Calculate the total number of apples.",
        "R1 = Calculator(3 + 5); R2 = Answer(R1)",
        "R1 = SetEquation(x + 2 = 10); R2 = SolveEquation(R1); R3 = Define(12.5)",
        "A shop sells 12 pens for 4 dollars each and 7 books at 15 dollars. What is the cost?",
        "The quick brown fox jumps over the lazy dog, 0123456789 times (and then some).",
    ]
    return [line for text in lines for line in text.splitlines() if line.strip()]


def build_ai2lumos_checkpoint(folder: str | Path, *, seed: int = 0, max_position_embeddings: int = 2048) -> Path:
    """Write an ai2lumos-shaped checkpoint (tiny random Llama, SentencePiece tokenizer) into `folder`.

    Deterministic for a given seed (the SentencePiece model too). Returns the folder.
    """
    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model_bytes = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_training_lines()), model_writer=model_bytes,
        vocab_size=SPM_VOCAB_SIZE, model_type="bpe", byte_fallback=True, split_digits=True,
        character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
        hard_vocab_limit=False, num_threads=1, minloglevel=2,
    )
    (out / "tokenizer.model").write_bytes(model_bytes.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=model_bytes.getvalue()).get_piece_size()
    pad_id = pieces  # open-instruct adds <pad> after the SentencePiece vocabulary
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "legacy": False,
        "clean_up_tokenization_spaces": False, "model_max_length": max_position_embeddings, "padding_side": "right",
        "sp_model_kwargs": {}, **special,
        "added_tokens_decoder": {
            str(i): {"content": text, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
            for i, text in ((0, "<unk>"), (1, "<s>"), (2, "</s>"), (pad_id, "<pad>"))
        },
    }, indent=2), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2), encoding="utf-8")
    (out / "added_tokens.json").write_text(json.dumps({"<pad>": pad_id}), encoding="utf-8")

    config = LlamaConfig(
        vocab_size=pieces + 1, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=max_position_embeddings, bos_token_id=1, eos_token_id=2,
        pad_token_id=pad_id, tie_word_embeddings=False, rms_norm_eps=1e-5,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    config.architectures = ["LlamaForCausalLM"]  # as in the real checkpoints' config.json (servers read it)
    config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    return out
