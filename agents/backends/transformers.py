"""`TransformersBackend`: a local causal LM (a folder, a named model such as `smollm2`, or a hub id).

Real checkpoints load as they are published: safetensors or `pytorch_model.bin` weights, fast
tokenizers or SentencePiece ones (the LUMOS checkpoints' `tokenizer.model` with `LlamaTokenizer`,
which needs `sentencepiece` and `protobuf`), on a chosen device and dtype (`auto`: bf16 on CUDA,
fp32 on CPU, where bf16 is several times slower), with a `device_map` and a hub `revision`. A LoRA
adapter folder (`adapter_config.json`, as `lumos train --lora` writes) loads over its base (the
folder record's `lora_base`) and is merged in memory.

Prompt styles: `tulu` (the LUMOS checkpoints' training format, BOS added), `lumos-eval` (the
serialisation of LUMOS's own evaluation scripts: no `</s>` after assistant turns, no BOS),
`template` (the tokenizer's chat template), `auto` (tulu for a tokenizer without a template or a
LUMOS checkpoint, else the template).

Text and token ids agree: the kept ids are those sampled up to and including the token that ends
the generation (an EOS the model produced, or the token that completes a stop string); padding
after a finished row, even a pad that equals EOS, is never kept. `decode(token_ids) == text +
stop_text`. Each kept token's log-probability (under the sampling temperature, as TRL recomputes
it) is taken from one step of scores at a time, never from full-vocabulary scores of every step.
A seed applies to its call only (torch's global generator is left as it was).

KV reuse (`padded` batching, the default): the shared instruction head of a batch is computed once,
and each generated row keeps its keys and values so that its conversation's next turn computes only
its new tokens (`agents.backends.kv_reuse`; LRU-bounded by count and megabytes). Greedy tokens equal
those computed from scratch. `batching="continuous"` is transformers' own continuous batching
(`generate_batch`: rows leave as they finish, prefix blocks shared within a call); on CPU with
transformers 5.24 it costs seconds a call to set up its paged cache, so it is an option for GPUs
and large batched calls, not the default.

Length: generation is capped at the context less the prompt. A conversation too long for the
context loses, in order, the in-context demonstrations and then its oldest turns, but keeps its
first LUMOS turn (the instruction and `Task:`) and its current turn; if that still does not fit it
is refused with a `BackendError` that says so. A generation cut by its length limit ends with
`finish_reason="truncated"`, which the agent counts as a format error.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path
from typing import Any, Literal, Sequence

from lumos_envs.protocols import Generation

from agents.backends.base import BackendError, Conversation
from agents.backends.kv_reuse import KVStore
from agents.backends.serialise import adds_special_tokens as _adds_special_tokens
from agents.backends.serialise import MIN_ROOM, fit_conversation, format_conversation, record_prompt_style, resolve_prompt_style

logger = logging.getLogger(__name__)

PromptStyle = Literal["auto", "tulu", "template", "lumos-eval"]
ChatFormatName = PromptStyle  # the older name
DTYPES = ("auto", "float32", "bfloat16", "float16")


class TransformersBackend:
    """Batched generation with a transformers causal LM.

    Args:
        model: a loaded `PreTrainedModel`.
        tokenizer: its tokenizer (padding side is set to left here).
        batch_size: prompts per forward batch.
        prompt_style: see the module docstring (`chat_format` is its older name).
        name: model name or path, for logs and the `auto` choice.
        record: the folder's `lumos_model.json` as a dict, kept for trajectories' model records.
    """

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16, prompt_style: PromptStyle | None = None,
                 chat_format: PromptStyle | None = None, name: str = "", record: dict[str, Any] | None = None,
                 prefix_reuse: bool = True, prefix_cache_size: int = 8, min_prefix_tokens: int = 32,
                 batching: str = "padded", conversation_cache_size: int = 64, conversation_cache_mb: float | None = 2048) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        style = prompt_style or chat_format or "auto"
        if style not in ("auto", "tulu", "template", "lumos-eval"):
            raise ValueError(f"prompt_style must be auto, tulu, template or lumos-eval, got {style!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if batching not in ("padded", "continuous"):
            raise ValueError(f"batching must be padded or continuous, got {batching!r}")
        self.batch_size = batch_size
        self.batching = batching
        """`padded`: `generate` on left-padded batches of `batch_size` rows, with prefix reuse;
        `continuous`: transformers' own continuous batching (`generate_batch`, a paged KV cache whose
        blocks are shared between rows with the same prefix; rows leave as they finish), greedy
        decoding only (see `_generate_continuous`)"""
        self.name = name or str(getattr(model, "name_or_path", ""))
        self.record = dict(record or {})
        self.chat_format: PromptStyle = resolve_prompt_style(style, tokenizer, self.name)  # type: ignore[assignment]
        """the resolved prompt style"""
        self.prompts_cut = 0
        """conversations shortened to fit the model's context, so far"""
        self._warned_cut = False
        if prefix_cache_size < 1:
            raise ValueError(f"prefix_cache_size must be >= 1, got {prefix_cache_size}")
        if conversation_cache_size < 0:
            raise ValueError(f"conversation_cache_size must be >= 0, got {conversation_cache_size}")
        self.prefix_reuse = prefix_reuse
        """compute the KV cache of a batch's shared prompt prefix once and reuse it (see `_prefix_entry`), and each conversation's own cache between turns (`_keep_conversations`)"""
        self.prefix_cache_size = prefix_cache_size
        """prefix caches kept (least recently used dropped first): bounds memory"""
        self.min_prefix_tokens = min_prefix_tokens
        """shorter shared prefixes are not worth a cache"""
        self.conversation_cache_size = conversation_cache_size
        """generated rows whose keys and values are kept so that their conversation's next turn computes
        only its new tokens (least recently used dropped first; 0 keeps none), within
        `conversation_cache_mb` megabytes together: bounds memory"""
        self.kv = KVStore(prefix_cache_size, conversation_cache_size,
                          None if conversation_cache_mb is None else int(conversation_cache_mb * 2**20))
        """the cached sequences (see `agents.backends.kv_reuse`)"""
        self._hint = 0
        self.prefix_tokens_reused = 0
        """prompt tokens not recomputed thanks to prefix and conversation reuse, so far"""
        self.prompt_tokens_computed = 0
        """prompt tokens the model computed (rows' uncached rests), so far: with the generated tokens,
        the work a rollout cannot avoid"""

    @property
    def prompt_style(self) -> PromptStyle:
        return self.chat_format

    @property
    def context_window(self) -> int | None:
        window = getattr(self.model.config, "max_position_embeddings", None)
        return window if isinstance(window, int) and window > 0 else None

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        tokenizer: str | None = None,
        device: str = "cpu",
        dtype: str = "auto",
        device_map: str | None = None,
        revision: str | None = None,
        batch_size: int = 16,
        prompt_style: PromptStyle | None = None,
        chat_format: PromptStyle | None = None,
        trust_remote_code: bool = False,
        prefix_reuse: bool = True,
        prefix_cache_size: int = 8,
        batching: str = "padded",
        conversation_cache_size: int = 64,
        conversation_cache_mb: float | None = 2048,
    ) -> "TransformersBackend":
        """Load a model and tokenizer (remote code only when asked); every bad input is one clear line."""
        from transformers import AutoModelForCausalLM

        from agents.models import read_model_record, resolve_model

        path = resolve_model(name_or_path)
        folder = Path(path)
        record = read_model_record(folder) if folder.is_dir() else None
        device = _resolve_device(device)
        torch_dtype = _resolve_dtype(dtype, device)
        adapter = folder if folder.is_dir() and (folder / "adapter_config.json").is_file() else None
        if adapter is not None:  # a LoRA adapter folder: the weights are its base's (tokenizer and record its own)
            path = lora_base_of(adapter) or path
            folder = Path(path)
        weights = _weights_kind(folder) if folder.is_dir() else None
        tok = load_tokenizer(tokenizer or str(adapter or path), revision=revision, trust_remote_code=trust_remote_code)
        kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "dtype": torch_dtype}
        if revision:
            kwargs["revision"] = revision
        if weights is not None:
            kwargs["use_safetensors"] = weights == "safetensors"
        if device_map:
            kwargs["device_map"] = device_map
        try:
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except OSError as error:
            raise ValueError(f"cannot load model {name_or_path}: {_first_line(error)}") from None
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()  # merged in memory: plain generation speed
        if not device_map:
            model = model.to(device)
        style = prompt_style or chat_format or record_prompt_style(record)
        info = {"name": name_or_path, "path": str(adapter or path), "tokenizer": tokenizer or str(adapter or path)}
        if adapter is not None:
            info["lora_base"] = path
        if record is not None:
            info["record"] = record.to_json()
        return cls(model, tok, batch_size=batch_size, prompt_style=style, name=name_or_path, record=info,
                   prefix_reuse=prefix_reuse, prefix_cache_size=prefix_cache_size, batching=batching,
                   conversation_cache_size=conversation_cache_size, conversation_cache_mb=conversation_cache_mb)

    # -- chat -----------------------------------------------------------------------------------

    def format_chat(self, conversation: Conversation) -> str:
        """The prompt string for a conversation, ending where the assistant's turn starts."""
        return format_conversation(conversation, self.chat_format, self.tokenizer)

    @property
    def adds_special_tokens(self) -> bool:
        """Whether prompt strings are tokenised with the tokenizer's special tokens (BOS): only the
        Tulu format relies on them; templates write their own and LUMOS's eval scripts add none."""
        return _adds_special_tokens(self.chat_format)

    def encode(self, text: str) -> list[int]:
        """The ids of a prompt string, exactly as `generate` feeds them."""
        return list(self.tokenizer(text, add_special_tokens=self.adds_special_tokens)["input_ids"])

    def generate_chat(self, conversations: Sequence[Conversation], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        texts = [self.format_chat(c) for c in conversations]
        first = self.tokenizer(texts, add_special_tokens=self.adds_special_tokens)["input_ids"]  # one batched call
        prompts = [self._fit(c, max_new_tokens, list(ids)) for c, ids in zip(conversations, first)]
        if self.prefix_reuse and len(prompts) == 1:
            self._hint = self._static_prefix(conversations[0], prompts[0])
        try:
            return self._generate_ids(prompts, max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)
        finally:
            self._hint = 0

    def _static_prefix(self, conversation: Conversation, ids: list[int]) -> int:
        """How many of a prompt's ids precede its first `Task: `: the chat header and the LUMOS
        instruction (and action block), the same for every episode and step, so worth caching even
        when a batch has a single row. Counted as the ids the prefix text and the prompt share."""
        text = self.format_chat(conversation)
        cut = text.find("Task: ")
        if cut <= 0:
            return 0
        head = self.encode(text[:cut])
        length = 0
        for a, b in zip(head, ids):
            if a != b:
                break
            length += 1
        return max(0, length - 1)  # the last id of the head may merge with what follows

    # -- generation -------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        """One list of `n` generations per prompt; text cut before the first stop string.

        A plain prompt string too long for the context is refused (only a conversation can be
        shortened without losing its instruction).
        """
        encoded = []
        for prompt in prompts:
            ids = self.encode(prompt)
            room = self._room(len(ids))
            if room is not None and room < min(MIN_ROOM, max_new_tokens):
                raise BackendError(f"a prompt of {len(ids)} tokens leaves no room to generate in {self.name or 'the model'}'s "
                                   f"{self.context_window} positions; shorten it (conversations are shortened by generate_chat)")
            encoded.append(ids)
        return self._generate_ids(encoded, max_new_tokens=max_new_tokens, stop=stop, temperature=temperature, n=n, seed=seed)

    def _generate_ids(self, prompts: list[list[int]], *, max_new_tokens: int, stop: Sequence[str], temperature: float, n: int, seed: int | None) -> list[list[Generation]]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if n > 1 and temperature <= 0:
            raise ValueError(f"n={n} samples with greedy decoding (temperature 0) would be {n} copies; set temperature > 0")
        window = self.context_window
        if window is not None and max_new_tokens >= window:
            raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's {window} positions")
        if self.batching == "continuous":
            if temperature > 0:
                raise ValueError("batching='continuous' decodes greedily only (temperature 0): its sampler has no "
                                 "per-row seed, so sampled rollouts would not be reproducible; use batching='padded'")
            return self._generate_continuous(prompts, max_new_tokens, [s for s in stop if s])
        out: list[list[Generation]] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            out.extend(self._generate_batch(chunk, max_new_tokens, [s for s in stop if s], temperature, n,
                                            None if seed is None else seed + start))
        return out

    def _room(self, prompt_length: int) -> int | None:
        window = self.context_window
        return None if window is None else window - prompt_length

    def _fit(self, conversation: Conversation, max_new_tokens: int, whole: list[int] | None = None) -> list[int]:
        """The prompt ids of a conversation, shortened to fit the context (see the module docstring);
        `whole` is the whole conversation's ids when the batch was tokenised at once."""
        def encode(turns: Sequence[Any]) -> list[int]:
            if whole is not None and len(turns) == len(conversation):
                return whole
            return self.encode(self.format_chat(turns))

        fitted = fit_conversation(conversation, encode, self.context_window, max_new_tokens, self.name)
        if not fitted.was_cut:
            return fitted.ids
        self.prompts_cut += 1
        log = logger.debug if self._warned_cut else logger.warning
        self._warned_cut = True
        log("a conversation was too long for %s's context (%s positions): kept its instruction and current turn, "
            "dropped %s%d older turns (%d conversations so far; `prompts_cut`)", self.name or "the model", self.context_window,
            "the demonstrations and " if fitted.demonstration_turns else "", fitted.dropped_turns, self.prompts_cut)
        return fitted.ids

    def _generate_batch(self, prompts: list[list[int]], max_new_tokens: int, stop: list[str], temperature: float, n: int, seed: int | None) -> list[list[Generation]]:
        import torch
        from transformers import GenerationConfig as HFGenerationConfig
        from transformers import LogitsProcessorList

        from agents.backends import kv_reuse

        rows = [ids for ids in prompts for _ in range(n)]  # n samples as n rows: they share the prompt's cache
        pad = self.tokenizer.pad_token_id
        longest = max(len(p) for p in rows)
        room = self._room(longest)
        budget = max_new_tokens if room is None else max(1, min(max_new_tokens, room))
        matches = self._matches(rows)
        cached = max(length for _, length in matches)
        width = max(len(ids) - length for ids, (_, length) in zip(rows, matches))
        total = cached + width
        # Columns [0, cached) hold each row's cached tokens right-aligned, columns [cached, total) its
        # uncomputed rest left-padded: pads anywhere are masked and positions follow the mask.
        input_ids = torch.full((len(rows), total), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), total), dtype=torch.long)
        for row, (ids, (_, length)) in enumerate(zip(rows, matches)):
            if length:
                input_ids[row, cached - length:cached] = torch.tensor(ids[:length], dtype=torch.long)
                attention[row, cached - length:cached] = 1
            rest = ids[length:]
            input_ids[row, total - len(rest):] = torch.tensor(rest, dtype=torch.long)
            attention[row, total - len(rest):] = 1
        template = next((entry for entry, length in matches if entry is not None and length), None)
        cache = kv_reuse.assemble(matches, template, self.model.config) if cached and template is not None else None
        self.prefix_tokens_reused += sum(length for _, length in matches)
        self.prompt_tokens_computed += sum(len(ids) - length for ids, (_, length) in zip(rows, matches))
        sample = temperature > 0
        config = HFGenerationConfig(
            max_new_tokens=budget,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_k=0 if sample else None,
            top_p=1.0 if sample else None,
            pad_token_id=pad,
            eos_token_id=self.tokenizer.eos_token_id,
            return_dict_in_generate=True,
            stop_strings=stop or None,
        )
        recorder = _ChosenLogprobs(temperature if sample else 1.0)
        device = self.model.device
        extra = {"cache": cache} if cache is not None else {}
        with torch.no_grad(), _seeded(seed, device):
            result = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), generation_config=config,
                                         tokenizer=self.tokenizer, logits_processor=LogitsProcessorList([recorder]), **extra)
        sequences = result.sequences if hasattr(result, "sequences") else result
        new_tokens = sequences[:, total:].cpu()
        logprobs = recorder.finish(sequences).cpu()
        generations = [self._to_generation(new_tokens[i].tolist(), logprobs[i].tolist(), stop, rows[i]) for i in range(len(rows))]
        if self.prefix_reuse and self.kv.conversation_size:
            self._keep_conversations(getattr(result, "cache", None), attention, rows, generations, matches, total)
        return [generations[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _matches(self, rows: list[list[int]]) -> list[tuple[Any, int]]:
        """Per row, the cached sequence it starts with and how many of its ids to take from it.

        Each row keeps at least one id to compute. A conversation generated before continues from
        its own cache; otherwise the batch's shared prefix (`_shared_prefix`) is computed once and
        cached. Matches shorter than `min_prefix_tokens` are not worth a cache.
        """
        if not self.prefix_reuse:
            return [(None, 0)] * len(rows)
        matches = [self.kv.longest(ids, len(ids) - 1) for ids in rows]
        shared = self._shared_prefix(rows)
        if shared >= self.min_prefix_tokens and any(length < shared for _, length in matches):
            prefix = self._prefix_entry(tuple(rows[0][:shared]))
            if prefix is None:
                return [(None, 0)] * len(rows)
            matches = [(entry, length) if length >= shared else (prefix, shared) for entry, length in matches]
        return [(entry, length) if length >= self.min_prefix_tokens else (None, 0) for entry, length in matches]

    def _shared_prefix(self, rows: list[list[int]]) -> int:
        """Length of the batch's shared prefix worth caching (each row keeps at least one token to compute).

        Several different rows: the prefix they all share. One prompt (one episode at a time, or n
        samples of it): its static head (`_static_prefix`), never the whole prompt, which no later
        call would share."""
        first = rows[0]
        limit = min(len(r) for r in rows) - 1
        if len(set(map(tuple, rows))) == 1:
            return min(self._hint, limit)
        length = 0
        while length < limit and all(r[length] == first[length] for r in rows):
            length += 1
        return length

    def _prefix_entry(self, prefix: tuple[int, ...]) -> Any:
        """The cached keys and values of a shared prefix, computed once (LRU-bounded), or None where the
        model's cache cannot be reused (then reuse is switched off with a warning).

        The LUMOS grounder's instruction and action block and the chat header are the same for
        every row and step, so their keys and values are computed once (transformers' own
        `DynamicCache`, reused as its prompt-reuse recipe does) instead of once per row per step.
        """
        import torch

        from agents.backends import kv_reuse

        entry = self.kv.prefix(prefix)
        if entry is not None:
            return entry
        try:
            with torch.no_grad():
                out = self.model(input_ids=torch.tensor([prefix], device=self.model.device), use_cache=True)
            cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
            if cache is None or not kv_reuse.supports(cache):
                raise TypeError(f"its cache ({type(cache).__name__}) is not a DynamicCache of full-attention layers")
        except (TypeError, ValueError, RuntimeError, AttributeError) as error:
            logger.warning("prefix reuse is off for %s: %s", self.name or "the model", error)
            self.prefix_reuse = False
            return None
        self.prompt_tokens_computed += len(prefix)
        positions = torch.arange(len(prefix), device=self.model.device)
        return self.kv.add_prefix(prefix, kv_reuse.layers_of(cache, 0, positions))

    def _keep_conversations(self, cache: Any, attention: Any, rows: list[list[int]], generations: list[Generation],
                            matches: list[tuple[Any, int]], total: int) -> None:
        """Keep each row's keys and values (prompt and kept tokens but the last, which was never fed),
        so the conversation's next turn computes only its new tokens."""
        import torch

        from agents.backends import kv_reuse

        if cache is None or not kv_reuse.supports(cache):
            return
        length = cache.get_seq_length()
        for row, (ids, generation, (entry, matched)) in enumerate(zip(rows, generations, matches)):
            fed = list(generation.token_ids[:-1])
            prompt_positions = torch.nonzero(attention[row], as_tuple=False).flatten()
            generated = torch.arange(total, min(total + len(fed), length))
            if generated.numel() != len(fed) or prompt_positions.numel() != len(ids):
                continue
            positions = torch.cat([prompt_positions, generated]).to(cache.layers[0].keys.device)
            self.kv.add_conversation(list(ids) + fed, kv_reuse.layers_of(cache, row, positions), extends=entry, extended_length=matched)

    def _generate_continuous(self, prompts: list[list[int]], max_new_tokens: int, stop: list[str]) -> list[list[Generation]]:
        """All rows through transformers' `generate_batch` at once, greedily.

        Its scheduler admits rows as KV blocks free up and retires each row at EOS, and
        `allow_block_sharing` lets rows with the same prompt prefix share its blocks, so prefix reuse
        is the library's here. It has no stop strings: a row stops at EOS or its budget, and the
        text is cut at the stop string afterwards (`_to_generation`), so a LUMOS turn that ends at
        `\n` decodes past it. Measured in `benchmarks/bench_continuous_batching.py`.
        """
        import torch
        from transformers import ContinuousBatchingConfig
        from transformers import GenerationConfig as HFGenerationConfig

        longest = max(len(p) for p in prompts)
        room = self._room(longest)
        budget = max_new_tokens if room is None else max(1, min(max_new_tokens, room))
        config = HFGenerationConfig(max_new_tokens=budget, do_sample=False, eos_token_id=self.tokenizer.eos_token_id,
                                    pad_token_id=self.tokenizer.pad_token_id)
        batching = ContinuousBatchingConfig(allow_block_sharing=True, return_logprobs=True)
        with torch.no_grad():
            results = self.model.generate_batch([list(p) for p in prompts], generation_config=config,
                                                continuous_batching_config=batching, progress_bar=False)
        outputs = list(results.values())
        if len(outputs) != len(prompts):
            raise RuntimeError(f"continuous batching returned {len(outputs)} of {len(prompts)} rows (see the transformers log)")
        generations = []
        for prompt, output in zip(prompts, outputs):
            if output.error is not None:
                raise RuntimeError(f"continuous batching failed on a row: {str(output.error).splitlines()[0]}")
            generations.append([self._to_generation(list(output.generated_tokens), list(output.logprobs or []), stop, prompt)])
        return generations

    def _to_generation(self, ids: list[int], logprobs: list[float], stop: Sequence[str], prompt_ids: list[int]) -> Generation:
        """Cut the sampled ids where the generation ended, and its text at the stop string."""
        eos = self.tokenizer.eos_token_id
        end = next((k for k, token in enumerate(ids) if token == eos), None)
        candidates = ids if end is None else ids[: end + 1]
        decode = lambda part: self.tokenizer.decode(part, skip_special_tokens=True)  # noqa: E731
        full = decode(candidates)
        cut = min((i for i in (full.find(s) for s in stop) if i != -1), default=-1)
        if cut != -1:
            k = len(candidates)
            while k > 1 and len(decode(candidates[: k - 1])) > cut:
                k -= 1  # the first token whose text reaches past the stop string's start
            kept = candidates[:k]
            text_all = decode(kept)
            text, stop_text, finish = text_all[:cut], text_all[cut:], "stop"
        elif end is not None:
            kept, text, stop_text, finish = candidates, full, "", "stop"
        else:
            kept, text, stop_text, finish = candidates, full, "", "truncated"
        return Generation(text=text, token_ids=tuple(kept), logprobs=tuple(float(x) for x in logprobs[: len(kept)]),
                          finish_reason=finish, prompt_token_ids=tuple(prompt_ids), stop_text=stop_text)


class _ChosenLogprobs:
    """A logits processor that keeps the log-probability of each sampled token, one step at a time.

    At step t it sees the token chosen at step t-1 (the last input id) and the scores of step t:
    it gathers the chosen token's log-probability from the previous step's log-softmax and keeps
    only this step's, so memory is one batch × vocabulary row, not one per step. Scores are
    divided by the sampling temperature (custom processors run before the warpers), matching the
    distribution the token was drawn from and what TRL recomputes.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self.previous: Any = None
        self.chosen: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self.previous is not None:
            self.chosen.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def finish(self, sequences: Any) -> Any:
        import torch

        if self.previous is not None:
            self.chosen.append(self.previous.gather(1, sequences[:, -1:]).squeeze(1))
            self.previous = None
        if not self.chosen:
            return torch.zeros((sequences.shape[0], 0))
        return torch.stack(self.chosen, dim=1)


class _seeded:
    """Seed torch for one call without touching the global generator's state afterwards."""

    def __init__(self, seed: int | None, device: Any) -> None:
        self.seed, self.device = seed, device
        self._fork: Any = None

    def __enter__(self) -> None:
        if self.seed is None:
            return
        import torch

        devices = [self.device] if getattr(self.device, "type", "cpu") == "cuda" else []
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        if self._fork is not None:
            self._fork.__exit__(*exc)


def lora_base_of(folder: str | Path) -> str | None:
    """The base model folder of a LoRA adapter folder (None for any other folder): the record's
    `lora_base`, else peft's `base_model_name_or_path`, resolved like any model flag (named models too)."""
    import json

    from agents.models import read_model_record, resolve_model

    folder = Path(folder)
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        return None
    record = read_model_record(folder)
    base = record.lora_base if record is not None and record.lora_base else None
    if base is None:
        try:
            base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except ValueError as error:
            raise ValueError(f"{config_file} is not valid JSON: {error}") from None
    if not base:
        raise ValueError(f"the LoRA adapter in {folder} names no base model (lumos_model.json lora_base or adapter_config.json)")
    return resolve_model(str(base))


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here (use cpu or auto)")
    if not re.fullmatch(r"cpu|cuda(:\d+)?|mps|auto", device):
        raise ValueError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}")
    return device


def _resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype == "auto":  # bf16 on GPUs; fp32 on CPUs, where bf16 matmuls are several times slower
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def _weights_kind(folder: Path) -> str:
    names = [p.name for p in folder.iterdir()]
    if any(n.endswith(".safetensors") for n in names):
        return "safetensors"
    if any(re.fullmatch(r"pytorch_model(-\d+-of-\d+)?\.bin(\.index\.json)?", n) for n in names):
        return "bin"
    if "config.json" not in names:
        raise ValueError(f"{folder} is not a model folder (no config.json); found: {', '.join(sorted(names)[:8]) or 'nothing'}")
    raise ValueError(f"no weights in a known format in {folder} (expected *.safetensors or pytorch_model.bin); "
                     f"found: {', '.join(sorted(names)[:8])}")


_PACKAGE_HINTS = (("sentencepiece", "sentencepiece"), ("protobuf", "protobuf"), ("tiktoken", "tiktoken"), ("google.protobuf", "protobuf"))


def load_tokenizer(path: str, *, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """`AutoTokenizer.from_pretrained`, with a missing package named as such.

    A SentencePiece tokenizer (`tokenizer.model` without `tokenizer.json`, as in the LUMOS
    checkpoints) needs `sentencepiece` and `protobuf`; transformers' own error then names
    `tiktoken`, the last converter it tried, so lumos checks first.
    """
    from transformers import AutoTokenizer

    folder = Path(path)
    if folder.is_dir() and (folder / "tokenizer.model").is_file() and not (folder / "tokenizer.json").is_file():
        for module, package in (("sentencepiece", "sentencepiece"), ("google.protobuf", "protobuf")):
            if importlib.util.find_spec(module.split(".")[0]) is None:
                raise ValueError(f"the tokenizer in {path} is a SentencePiece model and needs the {package} package "
                                 f"(pip install sentencepiece protobuf)")
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    try:
        return AutoTokenizer.from_pretrained(path, **kwargs)
    except (ImportError, ValueError, OSError) as error:
        message = str(error)
        for needle, package in _PACKAGE_HINTS:
            if needle in message and importlib.util.find_spec(package.replace("protobuf", "google")) is None:
                raise ValueError(f"the tokenizer in {path} needs the {package} package (pip install {package})") from None
        raise ValueError(f"cannot load the tokenizer of {path}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

