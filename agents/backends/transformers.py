"""`TransformersBackend`: a local causal LM (a path or a hub id), loaded once, batched generation.

Left padding so every prompt in a batch ends at the same position; a prompt longer than the
model's context (`max_position_embeddings` less the tokens to generate) keeps its end, the turn
being answered, and loses its beginning, with a warning (past its context a model with learned
positions fails and one with rotary positions degrades); greedy or sampled decoding;
stop strings (LUMOS checkpoints stop at the first newline); token ids and per-token
log-probabilities kept for online RL. LUMOS checkpoints (no chat template, or `lumos` in the
name) get the Tulu serialisation; other models their tokenizer's chat template. Weights load from
safetensors only and `trust_remote_code` stays off unless the caller asks.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Sequence

from lumos_envs.protocols import Generation

from agents.backends.base import Conversation, cut_at_stop
from agents.prompts import tulu_prompt

logger = logging.getLogger(__name__)

ChatFormatName = Literal["auto", "tulu", "template"]


class TransformersBackend:
    """Batched generation with a transformers causal LM.

    Args:
        model: a loaded `PreTrainedModel`.
        tokenizer: its tokenizer (padding side is set to left here).
        batch_size: prompts per forward batch.
        chat_format: `tulu` (LUMOS checkpoints), `template` (the tokenizer's chat template), or
            `auto` (template when the tokenizer has one and the model is not a LUMOS checkpoint).
        name: model name or path, for logs and the `auto` choice.
    """

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16, chat_format: ChatFormatName = "auto", name: str = "") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.name = name or str(getattr(model, "name_or_path", ""))
        if chat_format == "auto":
            has_template = bool(getattr(tokenizer, "chat_template", None))
            chat_format = "template" if has_template and "lumos" not in self.name.lower() else "tulu"
        self.chat_format: ChatFormatName = chat_format
        self.prompts_cut = 0
        """prompts cut from the left to fit the model's context, so far"""
        self._warned_cut = False

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        tokenizer: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        batch_size: int = 16,
        chat_format: ChatFormatName = "auto",
        trust_remote_code: bool = False,
    ) -> "TransformersBackend":
        """Load a model and tokenizer (safetensors weights only; remote code only when asked)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer or name_or_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, use_safetensors=True, trust_remote_code=trust_remote_code, dtype=getattr(torch, dtype)
        ).to(device)
        return cls(model, tok, batch_size=batch_size, chat_format=chat_format, name=name_or_path)

    # -- chat -----------------------------------------------------------------------------------

    def format_chat(self, conversation: Conversation) -> str:
        """The prompt string for a conversation, ending where the assistant's turn starts."""
        if self.chat_format == "tulu":
            return tulu_prompt(conversation, eos=self.tokenizer.eos_token or "</s>")
        return self.tokenizer.apply_chat_template([dict(m) for m in conversation], tokenize=False, add_generation_prompt=True)

    def generate_chat(self, conversations: Sequence[Conversation], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        prompts = [self.format_chat(c) for c in conversations]
        return self.generate(prompts, max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)

    # -- generation -------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        """One list of `n` generations per prompt; text cut before the first stop string."""
        out: list[list[Generation]] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[start : start + self.batch_size])
            out.extend(self._generate_batch(chunk, max_new_tokens, list(stop), temperature, n, None if seed is None else seed + start))
        return out

    def _generate_batch(self, prompts: list[str], max_new_tokens: int, stop: list[str], temperature: float, n: int, seed: int | None) -> list[list[Generation]]:
        import torch
        from transformers import GenerationConfig as HFGenerationConfig

        # Templates carry their own special tokens; the Tulu text relies on the tokenizer's BOS.
        encoded = self._encode(prompts, max_new_tokens)
        sample = temperature > 0
        config = HFGenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_k=0 if sample else None,
            top_p=1.0 if sample else None,
            num_return_sequences=n,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            return_dict_in_generate=True,
            output_scores=True,
            stop_strings=[s for s in stop if s] or None,
        )
        if seed is not None:
            torch.manual_seed(seed)
        with torch.no_grad():
            result = self.model.generate(**encoded, generation_config=config, tokenizer=self.tokenizer)
            scores = self.model.compute_transition_scores(result.sequences, result.scores, normalize_logits=True)
        new_tokens = result.sequences[:, encoded["input_ids"].shape[1] :]
        generations = [self._to_generation(new_tokens[i].tolist(), scores[i].tolist(), stop) for i in range(new_tokens.shape[0])]
        return [generations[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _encode(self, prompts: list[str], max_new_tokens: int) -> dict[str, Any]:
        """Tokenised, left-padded prompts that fit the context with `max_new_tokens` to spare."""
        special = self.chat_format == "tulu"
        window = getattr(self.model.config, "max_position_embeddings", None)
        room = window - max_new_tokens if isinstance(window, int) else None
        if room is not None and room < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's {window} positions")
        self.tokenizer.truncation_side = "left"
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=special,
                                 truncation=room is not None, max_length=room)
        if room is not None and encoded["input_ids"].shape[1] >= room:
            lengths = [len(ids) for ids in self.tokenizer(prompts, add_special_tokens=special, verbose=False)["input_ids"]]
            cut = sum(1 for length in lengths if length > room)
            self.prompts_cut += cut
            if cut:  # a warning the first time, then only at debug level (rollouts would repeat it every step)
                log = logger.debug if self._warned_cut else logger.warning
                self._warned_cut = True
                log("%d of %d prompts are longer than %s's context (%d positions, %d kept for generation): their "
                    "beginnings were cut (%d so far; `prompts_cut`)", cut, len(prompts), self.name or "the model",
                    window, max_new_tokens, self.prompts_cut)
        return {k: v.to(self.model.device) for k, v in encoded.items()}

    def _to_generation(self, ids: list[int], logprobs: list[float], stop: Sequence[str]) -> Generation:
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        finish = "length"
        kept: list[int] = []
        for token in ids:
            if token == eos:
                kept.append(token)
                finish = "stop"
                break
            if token == pad and pad != eos:
                break
            kept.append(token)
        text = self.tokenizer.decode([t for t in kept if t != eos], skip_special_tokens=True)
        text, stopped = cut_at_stop(text, stop)
        if stopped:
            finish = "stop"
        return Generation(text=text, token_ids=tuple(kept), logprobs=tuple(float(x) for x in logprobs[: len(kept)]), finish_reason=finish)
