"""Small policies for engine tests (importable by subprocesses as `tests.rollouts.engine_policies`)."""

from __future__ import annotations

import time
from typing import Any, Sequence


class GoldLinePolicy:
    """Sends each gold subgoal's action line, then `Answer(<answer variable>)`; optionally slow."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.lines: dict[int, list[str]] = {}
        self.batch_sizes: list[int] = []

    def reset(self, observation: Any, info: dict[str, Any], slot: int = 0) -> None:
        plan = info["gold"]["plan"]
        self.lines[slot] = [" ; ".join(s["actions"]) for s in plan["subgoals"]] + [f"Answer({plan['answer']})"]

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(observations))) if slots is None else list(slots)
        self.batch_sizes.append(len(slots))
        if self.delay_s:
            time.sleep(self.delay_s)
        return [self.lines[slot].pop(0) for slot in slots]


def run_slow(out: str, resume: bool) -> None:
    """Entry point for the kill-and-resume test."""
    from rollouts.engine import Job, RolloutConfig, run_rollouts

    config = RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:shopping_total?size=4")], samples=2, out=out,
                           resume=resume, reveal_gold=True, num_envs=3, progress=False)
    run_rollouts(config, GoldLinePolicy(delay_s=0.05 if not resume else 0.0))
