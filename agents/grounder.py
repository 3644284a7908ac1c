"""The LUMOS grounding module: grounder conversations (action list from the env's tools) in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from lumos_envs.protocols import TextGenerator

from agents.backends.base import ChatFormat, GenerationConfig, generate_conversations
from agents.prompts import ActionBlock, Message, ground_first_turn, ground_later_turn
from agents.trace import ModuleCall


@dataclass
class GroundState:
    """One episode's grounder conversation and what it needs to write the next turn."""

    task: str
    block: ActionBlock
    with_results: bool = False
    """whether later turns carry earlier results (LUMOS complex QA)"""
    messages: list[Message] = field(default_factory=list)
    results: list[tuple[int, str]] = field(default_factory=list)
    """(subgoal index, result) of every subgoal so far"""
    demonstrations: tuple[Message, ...] = ()
    """turns shown before this conversation (the domain's in-context examples); not part of it"""

    def ask(self, subgoal: str | Sequence[str]) -> None:
        """Append the user turn for a subgoal line (LUMOS-I) or all subgoal lines (LUMOS-O)."""
        if not self.messages:
            content = ground_first_turn(self.block, self.task, subgoal)
        else:
            assert isinstance(subgoal, str), "only LUMOS-I grounds more than once"
            content = ground_later_turn(subgoal, self.results if self.with_results else None)
        self.messages.append({"role": "user", "content": content})


@dataclass
class Grounder:
    """A grounding module over any back-end (same arguments as `Planner`)."""

    backend: TextGenerator
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    chat_format: ChatFormat | None = None
    demonstrations: Sequence[Message] = ()

    def ground(self, states: Sequence[GroundState]) -> list[tuple[str, ModuleCall]]:
        """One action line for each state (one back-end call); the line is appended to its state."""
        conversations = [[*self.demonstrations, *s.demonstrations, *s.messages] for s in states]
        prompts, generations = generate_conversations(self.backend, conversations, self.generation, self.chat_format)
        out = []
        for state, conversation, prompt, samples in zip(states, conversations, prompts, generations):
            text = samples[0].text.strip()
            state.messages.append({"role": "assistant", "content": text})
            out.append((text, ModuleCall("grounder", [dict(m) for m in conversation], prompt, samples[0], tuple(samples))))
        return out
