"""The LUMOS planning module: builds planner conversations and reads planner turns, in batches.

It owns the planner side of a LUMOS conversation (first turn, feedback turns) and one back-end
call per batch; the agent decides when to call it. Prompt strings come from `agents.prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from lumos_envs.protocols import Generation, TextGenerator

from agents.backends.base import ChatFormat, GenerationConfig, generate_conversations
from agents.prompts import FeedbackStyle, Message, PlanOutput, parse_plan_turn, plan_feedback_turn, plan_first_turn
from agents.trace import ModuleCall


@dataclass
class PlanState:
    """One episode's planner conversation."""

    messages: list[Message] = field(default_factory=list)
    demonstrations: tuple[Message, ...] = ()
    """turns shown before this conversation (the domain's in-context examples); not part of it"""

    @classmethod
    def start(cls, task: str, demonstrations: Sequence[Message] = ()) -> "PlanState":
        return cls([{"role": "user", "content": plan_first_turn(task)}], tuple(demonstrations))

    def add_feedback(self, index: int, result: str, style: FeedbackStyle, subgoal: str = "") -> None:
        """Append the user turn reporting subgoal `index`'s result."""
        self.messages.append({"role": "user", "content": plan_feedback_turn(index, result, style, subgoal)})


@dataclass
class Planner:
    """A planning module over any back-end.

    Args:
        backend: a `TextGenerator` (optionally with `generate_chat`).
        generation: sampling settings (default: greedy, newline stop, 256 tokens).
        chat_format: force a prompt serialisation (e.g. `tulu_prompt`); default: the back-end's.
        demonstrations: turns prepended to every conversation, before the state's own
            `demonstrations` (those depend on the episode's domain; see `agents.demonstrations`).
    """

    backend: TextGenerator
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    chat_format: ChatFormat | None = None
    demonstrations: Sequence[Message] = ()

    def propose(self, states: Sequence[PlanState]) -> list[tuple[PlanOutput, ModuleCall]]:
        """One planner turn for each state (one back-end call); the turn is appended to its state."""
        conversations = [[*self.demonstrations, *s.demonstrations, *s.messages] for s in states]
        prompts, generations = generate_conversations(self.backend, conversations, self.generation, self.chat_format)
        out = []
        for state, conversation, prompt, samples in zip(states, conversations, prompts, generations):
            first: Generation = samples[0]
            text = first.text.strip()
            state.messages.append({"role": "assistant", "content": text})
            call = ModuleCall("planner", [dict(m) for m in conversation], prompt, first, tuple(samples))
            out.append((parse_plan_turn(text), call))
        return out
