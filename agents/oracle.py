"""The oracle agent: replays each task's gold LUMOS plan, one subgoal per step, then `Answer`.

It reads the plan from `info["gold"]`, so its env must be made with `reveal_gold=True`. It is how
`lumos replay-gold` validates a dataset against an env, and an upper bound for rollouts. Like
`LumosAgent` it is a policy (`reset` per episode, `act_batch` for many envs), not a loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

GIVE_UP = "Answer(no gold plan)"
"""What the oracle submits for a task whose gold plan could not be built."""


@dataclass
class _EpisodeScript:
    lines: list[str]
    position: int = 0


@dataclass
class GoldPlanAgent:
    """Emits the gold plan's action lines in order; `Answer(<answer variable>)` last."""

    _scripts: dict[int, _EpisodeScript] = field(default_factory=dict)

    def reset(self, observation: str, info: dict[str, Any], slot: int = 0) -> None:
        """Start an episode in env `slot` from its reset `info` (needs `info["gold"]`)."""
        if "gold" not in info:
            raise ValueError("GoldPlanAgent needs envs made with reveal_gold=True (info['gold'] is missing)")
        plan = info["gold"]["plan"]
        if plan is None:
            lines = [GIVE_UP]
        else:
            lines = ["; ".join(sub["actions"]) for sub in plan["subgoals"]] + [f"{info['final_action']}({plan['answer']})"]
        self._scripts[slot] = _EpisodeScript(lines)

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[str]:
        """The next gold action line for each env slot `0..len(observations)-1`."""
        actions = []
        for slot in range(len(observations)):
            script = self._scripts[slot]
            line = script.lines[min(script.position, len(script.lines) - 1)]
            script.position += 1
            actions.append(line)
        return actions
