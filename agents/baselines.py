"""The LUMOS paper's ablation baselines on the same back-ends and policy API as `LumosAgent`.

- `IntegratedAgent`: one model plans and grounds in one turn (`Subgoal k: ... Actions: R1 = ...`),
  then gets the executed result back, as LUMOS-I does; ends with `Yes, I will stop planning.`.
- `CoTAgent`: chain-of-thought (`style="cot"`: free reasoning ending `Answer is X.`, LUMOS's CoT
  training format) or direct answering (`style="direct"`: the answer only); one call, then
  `Answer(X)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from lumos_envs.protocols import TextGenerator

from agents.agent import NO_ANSWER, observation_text
from agents.backends.base import ChatFormat, GenerationConfig, generate_conversations
from agents.prompts import STOP_PLANNING, Message, action_block_for_tools, parse_plan_turn, plan_feedback_turn
from agents.trace import EpisodeTrace, FormatError, ModuleCall

INTEGRATED_INSTRUCTION = (
    "Please provide a reasonable subgoal-based plan to solve the given task, and ground each subgoal to executable "
    "actions in the available action list.\n\n"
)
"""lumos's wording for the integrated baseline (LUMOS released no integrated checkpoint)."""

ACTIONS_MARKER = " Actions: "
_ANSWER_IS = re.compile(r"Answer is\s*(.+?)\s*\.?\s*$", re.IGNORECASE)


@dataclass
class _IntegratedSlot:
    messages: list[Message]
    final_action: str
    trace: EpisodeTrace
    num_subgoals: int = 0
    last_variable: str | None = None
    done: bool = False


@dataclass
class IntegratedAgent:
    """Plans and grounds with one module in one turn per subgoal (the paper's integrated ablation)."""

    backend: TextGenerator
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    chat_format: ChatFormat | None = None
    max_subgoals: int = 10
    _slots: dict[int, _IntegratedSlot] = field(default_factory=dict, repr=False)

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None:
        block = action_block_for_tools(info.get("tools", []))
        first = INTEGRATED_INSTRUCTION + block.render() + f"Task: {info['task']['question']} \n"
        self._slots[slot] = _IntegratedSlot([{"role": "user", "content": first}], str(info.get("final_action", "Answer")), EpisodeTrace(str(info["task"].get("id", "")), "integrated"))

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]:
        slots = [self._slots[i] for i in (range(len(observations)) if slots is None else slots)]
        for slot, observation, info in zip(slots, observations, infos):
            if slot.num_subgoals and not slot.done:
                if info.get("results"):
                    slot.last_variable = list(info["results"])[-1]
                result = info.get("last_error") if info.get("invalid_action") else info.get("last_result")
                slot.trace.invalid_actions += bool(info.get("invalid_action"))
                slot.messages.append({"role": "user", "content": plan_feedback_turn(slot.num_subgoals, str(result if result is not None else observation_text(observation)))})
        asking = [s for s in slots if not s.done and s.num_subgoals < self.max_subgoals]
        prompts, generations = generate_conversations(self.backend, [s.messages for s in asking], self.generation, self.chat_format)
        actions: dict[int, str] = {}
        for slot, prompt, samples in zip(asking, prompts, generations):
            text = samples[0].text.strip()
            slot.trace.calls.append(ModuleCall("integrated", [dict(m) for m in slot.messages], prompt, samples[0], tuple(samples)))
            slot.messages.append({"role": "assistant", "content": text})
            if STOP_PLANNING.rstrip(".") in text:
                slot.done = True
                continue
            plan_part, _, action_part = text.partition(ACTIONS_MARKER)
            if not action_part or parse_plan_turn(plan_part).error:
                slot.trace.format_errors.append(FormatError("integrated", text, "expected 'Subgoal k: ... Actions: ...'", "sent the text after the marker (or all of it) to the env"))
            slot.num_subgoals += 1
            slot.trace.subgoals.append(plan_part.strip())
            actions[id(slot)] = (action_part or text).strip()
        out = []
        for slot in slots:
            if id(slot) not in actions:
                slot.done = True
                actions[id(slot)] = f"{slot.final_action}({slot.last_variable or NO_ANSWER})"
            slot.trace.actions.append(actions[id(slot)])
            out.append(actions[id(slot)])
        return out

    def trace(self, slot: int = 0) -> EpisodeTrace:
        return self._slots[slot].trace


@dataclass
class CoTAgent:
    """Chain-of-thought (`cot`) or direct (`direct`) answering: one model call, then `Answer(X)`."""

    backend: TextGenerator
    style: Literal["cot", "direct"] = "cot"
    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig(max_new_tokens=512))
    chat_format: ChatFormat | None = None
    _slots: dict[int, tuple[str, str, EpisodeTrace]] = field(default_factory=dict, repr=False)

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None:
        self._slots[slot] = (str(info["task"]["question"]), str(info.get("final_action", "Answer")), EpisodeTrace(str(info["task"].get("id", "")), self.style))

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]:
        slots = [self._slots[i] for i in (range(len(observations)) if slots is None else slots)]
        conversations = [[{"role": "user", "content": task}] for task, _, _ in slots]
        prompts, generations = generate_conversations(self.backend, conversations, self.generation, self.chat_format)
        out = []
        for (task, final_action, trace), conversation, prompt, samples in zip(slots, conversations, prompts, generations):
            text = samples[0].text.strip()
            trace.calls.append(ModuleCall("cot", conversation, prompt, samples[0], tuple(samples)))
            answer = text
            if self.style == "cot":
                match = _ANSWER_IS.search(text)
                if match:
                    answer = match.group(1)
                else:
                    trace.format_errors.append(FormatError("cot", text, "no 'Answer is X.'", "submitted the whole text"))
            answer = answer.replace("(", " ").replace(")", " ").strip() or NO_ANSWER
            out.append(f"{final_action}({answer})")
            trace.actions.append(out[-1])
        return out

    def trace(self, slot: int = 0) -> EpisodeTrace:
        return self._slots[slot][2]


def integrated_first_turn(block: Any, task: str) -> str:
    """The integrated baseline's first user turn (the same text `IntegratedAgent.reset` sends)."""
    return INTEGRATED_INSTRUCTION + block.render() + f"Task: {task} \n"


def integrated_messages(task: str, block: Any, steps: Sequence[Any]) -> list[Message]:
    """Training conversation for `IntegratedAgent` from a finished plan (`agents.sft.PlanStep`s)."""
    messages: list[Message] = [{"role": "user", "content": integrated_first_turn(block, task)}]
    for number, step in enumerate(steps, start=1):
        messages.append({"role": "assistant", "content": f"{step.line}{ACTIONS_MARKER}{step.action_line}"})
        messages.append({"role": "user", "content": plan_feedback_turn(number, step.result)})
    messages.append({"role": "assistant", "content": STOP_PLANNING})
    return messages


def cot_messages(task: str, steps: Sequence[Any], answer: str) -> list[Message]:
    """Training conversation for `CoTAgent(style="cot")`: the plan as prose, ending `Answer is X.`."""
    reasoning = " ".join(f"{step.text.rstrip('.')}: {step.action_line} gives {step.result}." for step in steps)
    return [{"role": "user", "content": task}, {"role": "assistant", "content": f"{reasoning} Answer is {answer}.".strip()}]
