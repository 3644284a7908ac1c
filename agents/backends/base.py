"""What the planner and grounder need from a back-end: generation settings and conversation-level calls.

The contract's `TextGenerator` takes prompt strings. LUMOS modules think in conversations, so a
back-end may also implement `generate_chat` (the OpenAI chat endpoint, or a local model that
applies its own chat format); `generate_conversations` uses it when present and otherwise
serialises with the Tulu format the LUMOS checkpoints were trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

from lumos_envs.protocols import Generation, TextGenerator

from agents.prompts import tulu_prompt

Conversation = Sequence[Mapping[str, str]]
"""A list of `{"role", "content"}` turns, the last one a user turn."""


class BackendError(RuntimeError):
    """A back-end could not produce generations (HTTP error after retries, oversized response...)."""


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings of one module (planner or grounder)."""

    max_new_tokens: int = 256
    """longest generation, in tokens"""
    stop: tuple[str, ...] = ("\n",)
    """generation stops at the first of these (LUMOS turns are one line); the stop text is dropped"""
    temperature: float = 0.0
    """0 is greedy decoding"""
    n: int = 1
    """samples per prompt (the agent acts on the first)"""
    seed: int | None = None
    """seed for sampling; None leaves the back-end's generator alone"""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")


@runtime_checkable
class ChatGenerator(Protocol):
    """A back-end that takes conversations directly (one list of `n` generations per conversation)."""

    def generate_chat(
        self,
        conversations: Sequence[Conversation],
        *,
        max_new_tokens: int,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[list[Generation]]: ...


ChatFormat = Callable[[Conversation], str]
"""Turns a conversation into a prompt string ending where the assistant's text starts."""


def generate_conversations(
    backend: TextGenerator,
    conversations: Sequence[Conversation],
    config: GenerationConfig,
    chat_format: ChatFormat | None = None,
) -> tuple[list[str | Conversation], list[list[Generation]]]:
    """Generate one assistant turn for each conversation in a single back-end call.

    Returns the prompts as sent (strings, or the conversations for chat back-ends, for the trace)
    and the generations. An explicit `chat_format` forces string prompts; otherwise a back-end with
    `generate_chat` gets the conversations and any other back-end gets Tulu strings.
    """
    kwargs = dict(max_new_tokens=config.max_new_tokens, stop=config.stop, temperature=config.temperature, n=config.n, seed=config.seed)
    if not conversations:
        return [], []
    if chat_format is None and isinstance(backend, ChatGenerator):
        generations = backend.generate_chat(conversations, **kwargs)
        sent: list[str | Conversation] = [list(c) for c in conversations]
    else:
        prompts = [(chat_format or tulu_prompt)(c) for c in conversations]
        generations = backend.generate(prompts, **kwargs)
        sent = list(prompts)
    if len(generations) != len(conversations) or any(not g for g in generations):
        raise BackendError(f"back-end returned {len(generations)} results for {len(conversations)} prompts (or an empty one)")
    return sent, generations


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut], cut != len(text)
