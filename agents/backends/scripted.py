"""`ScriptedBackend`: canned generations, for tests, demos and the oracle agent.

It answers from a function of the conversation (or prompt), from a prompt -> text table, or from
a list replayed in order, and records every request, so tests can assert what was asked.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from lumos_envs.protocols import Generation

from agents.backends.base import Conversation, cut_at_stop
from agents.prompts import tulu_prompt

Responder = Callable[[Conversation], str]


class ScriptedBackend:
    """A `TextGenerator` and `ChatGenerator` whose outputs are given in advance.

    Args:
        responses: a list (replayed in order, cycling is an error), a mapping from prompt string
            to text, or a function from the conversation (chat calls) or `[{"role": "user",
            "content": prompt}]` (string calls) to text.
        apply_stop: cut outputs at the stop strings, as a real model would stop there.
    """

    def __init__(self, responses: Sequence[str] | Mapping[str, str] | Responder, *, apply_stop: bool = True) -> None:
        self._responses = responses
        self._position = 0
        self.apply_stop = apply_stop
        self.requests: list[str | list[dict[str, str]]] = []
        """every prompt or conversation received, in order"""
        self.num_calls = 0
        """number of generate/generate_chat calls (one per batch)"""

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        self.num_calls += 1
        out = []
        for prompt in prompts:
            self.requests.append(prompt)
            out.append([self._generation(self._respond(prompt, [{"role": "user", "content": prompt}]), stop)] * n)
        return out

    def generate_chat(self, conversations: Sequence[Conversation], *, max_new_tokens: int, stop: Sequence[str] = (), temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[list[Generation]]:
        self.num_calls += 1
        out = []
        for conversation in conversations:
            messages = [dict(m) for m in conversation]
            self.requests.append(messages)
            out.append([self._generation(self._respond(tulu_prompt(messages), messages), stop)] * n)
        return out

    def _respond(self, prompt: str, conversation: Conversation) -> str:
        if callable(self._responses):
            return self._responses(conversation)
        if isinstance(self._responses, Mapping):
            if prompt not in self._responses:
                raise KeyError(f"ScriptedBackend has no response for prompt ending {prompt[-80:]!r}")
            return self._responses[prompt]
        if self._position >= len(self._responses):
            raise IndexError(f"ScriptedBackend ran out of responses after {self._position}")
        text = self._responses[self._position]
        self._position += 1
        return text

    def _generation(self, text: str, stop: Sequence[str]) -> Generation:
        if self.apply_stop:
            text, stopped = cut_at_stop(text, stop)
        return Generation(text=text, token_ids=(), logprobs=None, finish_reason="stop")
