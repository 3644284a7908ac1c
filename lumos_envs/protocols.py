"""The small protocols that tools use to reach models, so `lumos_envs` never imports `agents`.

`agents.backends` implements `TextGenerator` (local transformers, OpenAI-compatible HTTP,
scripted); `lumos_envs.embedding` ships an `Embedder` over the packaged all-MiniLM-L6-v2. The
same back-ends serve the planner, the grounder and model-backed tools such as an LLM QA tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Generation:
    """One sampled continuation."""

    text: str
    """the generated text, without the prompt and without the stop string"""
    token_ids: tuple[int, ...] = ()
    """the generated token ids, where the back-end gives them"""
    logprobs: tuple[float, ...] | None = None
    """log-probability of each generated token, or None where the back-end gives none"""
    finish_reason: str = "stop"
    """`stop` (a stop string or end of sequence), `truncated` (cut by the length limit: counts as
    a format error), or `error`"""
    prompt_token_ids: tuple[int, ...] | None = None
    """the prompt's ids exactly as the model saw them (no padding), where the back-end gives them"""
    stop_text: str = ""
    """the text the ids decode to after `text`: the stop string (and any characters its last token
    carries), so that `decode(token_ids) == text + stop_text` whenever ids are given"""


@runtime_checkable
class TextGenerator(Protocol):
    """Batch text generation: one list of `n` generations per prompt, in prompt order."""

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[list[Generation]]: ...


@runtime_checkable
class Embedder(Protocol):
    """Sentence embeddings: one L2-normalised float32 row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
