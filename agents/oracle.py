"""`OracleAgent`: follows each task's gold LUMOS plan through the same code path as `LumosAgent`.

It *is* a `LumosAgent` whose planner and grounder back-ends are scripted from `info["gold"]["plan"]`
(so the env must be made with `reveal_gold=True`): the planner says the gold subgoals in the LUMOS
format and then `Yes, I will stop planning.`, the grounder says the gold action lines, and the
prompts, conversations, batching and traces are exactly those of a model-driven agent. Expert
trajectories therefore have the same shape as model trajectories. It is how `lumos replay-gold`
validates a dataset against an env, and an upper bound for rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from agents.agent import Formulation, LumosAgent, _Slot
from agents.backends.scripted import ScriptedBackend
from agents.grounder import Grounder
from agents.planner import Planner
from agents.prompts import STOP_PLANNING, iterative_plan_turn, onetime_plan_turn

GIVE_UP = "no gold plan"
"""What the oracle submits (as `Answer(...)`) for a task whose gold plan could not be built."""


@dataclass
class _GoldBook:
    """Gold plans of the episodes in flight, found again from a module's conversation by task text."""

    formulation: Formulation
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _plan_for(self, conversation: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        first = conversation[0]["content"]
        matches = [task for task in self.plans if f"Task: {task}" in first]
        if not matches:
            raise KeyError("OracleAgent got a conversation for a task it was never reset with")
        return self.plans[max(matches, key=len)]

    def plan_turn(self, conversation: Sequence[Mapping[str, str]]) -> str:
        subgoals = [s["text"] for s in self._plan_for(conversation)["subgoals"]]
        if self.formulation == "onetime":
            return onetime_plan_turn(subgoals)
        done = sum(1 for m in conversation if m["role"] == "assistant")
        return iterative_plan_turn(done + 1, subgoals[done]) if done < len(subgoals) else STOP_PLANNING

    def ground_turn(self, conversation: Sequence[Mapping[str, str]]) -> str:
        lines = ["; ".join(s["actions"]) for s in self._plan_for(conversation)["subgoals"]]
        if self.formulation == "onetime":
            return "; ".join(lines)
        done = sum(1 for m in conversation if m["role"] == "assistant")
        return lines[min(done, len(lines) - 1)]


class OracleAgent(LumosAgent):
    """A `LumosAgent` driven by the gold plans in `info["gold"]`; submits the plan's answer variable."""

    def __init__(self, formulation: Formulation = "iterative", max_subgoals: int = 64) -> None:
        book = _GoldBook(formulation)
        super().__init__(
            planner=Planner(ScriptedBackend(book.plan_turn)),
            grounder=Grounder(ScriptedBackend(book.ground_turn)),
            formulation=formulation,
            max_subgoals=max_subgoals,
            demonstrations={},  # the gold book counts assistant turns: no examples in front
        )
        self._book = book
        self._slot_tasks: dict[int, str] = {}

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None:
        if "gold" not in info:
            raise ValueError("OracleAgent needs envs made with reveal_gold=True (info['gold'] is missing)")
        super().reset(observation, info, slot)
        plan = info["gold"]["plan"]
        state = self._slots[slot]
        if plan is None:
            state.phase, state.answer, state.trace.stop_reason = "answer", GIVE_UP, "no_plan"
            return
        previous = self._slot_tasks.get(slot)
        if previous is not None and previous not in [t for s, t in self._slot_tasks.items() if s != slot]:
            self._book.plans.pop(previous, None)  # keep the book as small as the episodes in flight
        self._slot_tasks[slot] = state.task
        self._book.plans[state.task] = plan
        state.answer = str(plan["answer"])

    def _final_answer(self, slot: _Slot) -> str:
        return slot.answer if slot.answer is not None else super()._final_answer(slot)


GoldPlanAgent = OracleAgent
"""The name `lumos replay-gold` used first; the same agent."""
