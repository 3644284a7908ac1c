"""`LumosAgent`: the LUMOS planning + grounding modules as a Gymnasium-style policy over many envs.

The agent is not a loop: `reset(observation, info, slot)` starts an episode in an env slot and
`act_batch(observations, infos)` returns the next action text for every slot, batching all
planner calls of the step into one back-end call and all grounder calls into another. The
rollouts engine steps the envs; a plain `for` loop over one env with `act_batch([obs], [info])`
works too.

LUMOS-I (`iterative`): plan one subgoal, ground it, send its actions as one env step, feed the
step's result back to the planner (`The executed result for Subgoal k is ...`), repeat until the
planner says `Yes, I will stop planning.` (or `max_subgoals`), then submit `Answer(<last variable>)`
(LUMOS's rule: the answer is the last result). LUMOS-O (`onetime`): plan all subgoals, ground them
all into one action line, send it as one step, then submit the answer.

Malformed model output is data: each case is recorded as a `FormatError` in the slot's trace and
handled as follows. A planner turn with no `Subgoal k:` is grounded as it stands (as subgoal k)
when non-empty, and ends planning when empty; a planner turn with several subgoals in LUMOS-I uses
the first; an action line the env rejects is reported back to the planner as that subgoal's result
(the env's error message), so the planner can re-plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from lumos_envs.domains import Domain

from agents.demonstrations import Demonstrations, lumos_demonstrations
from agents.grounder import Grounder, GroundState
from agents.planner import Planner, PlanState
from agents.prompts import GROUNDING_WITH_RESULTS, FeedbackStyle, action_block_for_tools, strip_keep_planning, subgoal_line
from agents.trace import EpisodeTrace, FormatError

Formulation = Literal["iterative", "onetime"]
Phase = Literal["plan", "ground", "await_result", "answer", "done"]

NO_ANSWER = "unknown"
"""What the agent submits when no action produced a value."""


@dataclass
class _Slot:
    task: str
    dataset: str
    style: FeedbackStyle
    final_action: str
    plan: PlanState
    ground: GroundState
    trace: EpisodeTrace
    phase: Phase = "plan"
    num_subgoals: int = 0
    current: str | Sequence[str] = ""
    current_text: str = ""
    last_variable: str | None = None
    answer: str | None = None


def _note_truncation(slot: "_Slot", call: Any, handling: str) -> None:
    """A generation cut by its length limit is a format error (the turn never ended)."""
    if call.generation.finish_reason in ("truncated", "length"):
        slot.trace.format_errors.append(FormatError(call.module, call.generation.text, "truncated generation (length limit)", handling))


def observation_text(observation: Any) -> str:
    """The text of an observation (envs with dict observations put it under `text`)."""
    if isinstance(observation, dict):
        return str(observation.get("text", ""))
    return str(observation)


def lumos_dataset(info: dict[str, Any]) -> str:
    """The LUMOS data-domain name of an env's task (`maths`, `complex_qa`, `webshop`, ...)."""
    name = str(info.get("task", {}).get("domain", ""))
    try:
        return Domain(name).lumos_dataset
    except ValueError:
        return name


@dataclass
class LumosAgent:
    """LUMOS-I / LUMOS-O over any back-ends (one unified planner and grounder by default).

    Args:
        planner: the planning module.
        grounder: the grounding module (may share the planner's back-end).
        formulation: `iterative` (LUMOS-I) or `onetime` (LUMOS-O).
        max_subgoals: LUMOS-I stops planning after this many subgoals and submits the answer.
        demonstrations: in-context examples by LUMOS data domain, shown before that domain's
            planner and grounder conversations. None (default): LUMOS's own, i.e. WebShop's two
            worked examples, as LUMOS evaluates its checkpoints there; `{}`: none (lumos's tiny
            models never saw them, and they would not fit their context).
    """

    planner: Planner
    grounder: Grounder
    formulation: Formulation = "iterative"
    max_subgoals: int = 10
    demonstrations: Mapping[str, Demonstrations] | None = None
    _slots: dict[int, _Slot] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.formulation not in ("iterative", "onetime"):
            raise ValueError(f"formulation must be 'iterative' or 'onetime', got {self.formulation!r}")
        if self.max_subgoals < 1:
            raise ValueError(f"max_subgoals must be >= 1, got {self.max_subgoals}")
        if self.demonstrations is None:
            self.demonstrations = lumos_demonstrations(self.formulation)

    # -- policy API -----------------------------------------------------------------------------

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None:
        """Start an episode in env `slot` from its reset observation and `info`."""
        task = str(info["task"]["question"])
        dataset = lumos_dataset(info)
        block = action_block_for_tools(info.get("tools", []))
        shown = (self.demonstrations or {}).get(dataset, Demonstrations())
        self._slots[slot] = _Slot(
            task=task,
            dataset=dataset,
            style="webshop" if dataset == "webshop" else "result",
            final_action=str(info.get("final_action", "Answer")),
            plan=PlanState.start(task, shown.plan),
            ground=GroundState(task, block, with_results=dataset in GROUNDING_WITH_RESULTS, demonstrations=shown.ground),
            trace=EpisodeTrace(task_id=str(info["task"].get("id", "")), formulation=self.formulation),
        )

    def act_batch(
        self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None
    ) -> list[str]:
        """The next action text for each env slot: `slots[i]` (default `i`) for `observations[i]`.

        The rollouts engine passes the slots of the episodes in flight; a plain loop over one env
        calls `act_batch([obs], [info])`.
        """
        slots = self._states(observations, infos, slots)  # from here on: the slots' states
        for slot, observation, info in zip(slots, observations, infos):
            if slot.phase == "await_result":
                self._absorb(slot, observation_text(observation), info)
        for slot in slots:
            if slot.phase == "plan" and self.formulation == "iterative" and slot.num_subgoals >= self.max_subgoals:
                slot.phase, slot.trace.stop_reason = "answer", "max_subgoals"
        self._plan([s for s in slots if s.phase == "plan"])
        ground = [s for s in slots if s.phase == "ground"]
        for slot in ground:
            slot.ground.ask(slot.current)
        actions: dict[int, str] = {}
        for slot, (line, call) in zip(ground, self.grounder.ground([s.ground for s in ground])):
            slot.trace.calls.append(call)
            _note_truncation(slot, call, "sent to the env as cut")
            if not line:
                slot.trace.format_errors.append(FormatError("grounder", line, "empty action line", "sent to the env as is"))
            slot.phase = "await_result"
            actions[id(slot)] = line
        out = []
        for slot in slots:
            if slot.phase in ("answer", "done"):
                slot.phase = "done"
                actions[id(slot)] = f"{slot.final_action}({self._final_answer(slot)})"
            slot.trace.actions.append(actions[id(slot)])
            out.append(actions[id(slot)])
        return out

    def _states(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None) -> list[_Slot]:
        if len(observations) != len(infos):
            raise ValueError(f"{len(observations)} observations but {len(infos)} infos")
        ids = list(range(len(observations))) if slots is None else list(slots)
        if len(ids) != len(observations):
            raise ValueError(f"{len(observations)} observations but {len(ids)} slots")
        for slot in ids:
            if slot not in self._slots:
                raise ValueError(f"slot {slot} was never reset; call reset(observation, info, slot={slot}) first")
        return [self._slots[slot] for slot in ids]

    def trace(self, slot: int = 0) -> EpisodeTrace:
        """The trace of the episode in `slot` (so far)."""
        return self._slots[slot].trace

    # -- internals ------------------------------------------------------------------------------

    def _final_answer(self, slot: _Slot) -> str:
        """LUMOS's rule: submit the last result, by its variable."""
        if slot.answer is not None:
            return slot.answer
        return slot.last_variable or NO_ANSWER

    def _absorb(self, slot: _Slot, observation: str, info: dict[str, Any]) -> None:
        """Read the env's report of the last action line into the conversations."""
        results = info.get("results") or {}
        if results:
            slot.last_variable = list(results)[-1]
        if info.get("invalid_action"):
            slot.trace.invalid_actions += 1
            result = str(info.get("last_error") or observation)
        else:
            last = info.get("last_result")
            result = str(last) if last is not None else observation
        if self.formulation == "onetime":
            slot.phase, slot.trace.stop_reason = "answer", "onetime_done"
            return
        slot.plan.add_feedback(slot.num_subgoals, result, slot.style, slot.current_text)
        slot.ground.results.append((slot.num_subgoals, result))
        slot.phase = "plan"

    def _plan(self, slots: list[_Slot]) -> None:
        if not slots:
            return
        for slot, (output, call) in zip(slots, self.planner.propose([s.plan for s in slots])):
            slot.trace.calls.append(call)
            _note_truncation(slot, call, "read as cut")
            text = call.generation.text.strip()
            if output.stop:
                if output.error:
                    slot.trace.format_errors.append(FormatError("planner", text, output.error, "stopped planning"))
                slot.phase, slot.trace.stop_reason = "answer", "planner_stop"
                continue
            if self.formulation == "onetime":
                self._take_onetime_plan(slot, output.subgoals, output.error, text)
            else:
                self._take_iterative_turn(slot, output.subgoals, output.error, text)

    def _take_iterative_turn(self, slot: _Slot, subgoals: Sequence[tuple[int, str]], error: str | None, text: str) -> None:
        number = slot.num_subgoals + 1
        if not subgoals:
            if not text:
                slot.trace.format_errors.append(FormatError("planner", text, error or "empty turn", "stopped planning"))
                slot.phase, slot.trace.stop_reason = "answer", "format_error"
                return
            slot.trace.format_errors.append(FormatError("planner", text, error or "no subgoal", f"grounded the text as subgoal {number}"))
            line, body = subgoal_line(number, text), text
        else:
            index, body = subgoals[0]
            if error or len(subgoals) > 1 or index != number:
                reason = error or (f"{len(subgoals)} subgoals in one turn" if len(subgoals) > 1 else f"expected Subgoal {number}, got {index}")
                slot.trace.format_errors.append(FormatError("planner", text, reason, f"grounded the first subgoal as subgoal {number}"))
                line = subgoal_line(number, body)
            else:
                line = strip_keep_planning(text)
        slot.num_subgoals = number
        slot.current, slot.current_text = line, body
        slot.trace.subgoals.append(line)
        slot.phase = "ground"

    def _take_onetime_plan(self, slot: _Slot, subgoals: Sequence[tuple[int, str]], error: str | None, text: str) -> None:
        if not subgoals and not text:
            slot.trace.format_errors.append(FormatError("planner", text, error or "empty plan", "stopped planning"))
            slot.phase, slot.trace.stop_reason = "answer", "format_error"
            return
        if error or not subgoals:
            slot.trace.format_errors.append(FormatError("planner", text, error or "no subgoal", "grounded the plan text as it stands"))
        lines = [subgoal_line(i, body) for i, body in subgoals] if subgoals and not error else [text]
        slot.num_subgoals = len(lines)
        slot.current = [text]  # LUMOS passes the planner's line to the grounder as written
        slot.trace.subgoals.extend(lines)
        slot.phase = "ground"
