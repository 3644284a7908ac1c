"""Helpers of the Ray tests that Ray workers and subprocesses import: the driver that the
SIGKILL-and-resume test runs (`python -m tests.rollouts.ray_driver OUT ADDRESS resume|fresh`) and a
policy that hangs."""

from __future__ import annotations

import functools
import sys
import time

from rollouts.engine import Job, RolloutConfig, run_rollouts
from tests.rollouts.engine_policies import GoldLinePolicy

JOB = Job("lumos/Math-v0", "synthetic:shopping_total?size=6", env_kwargs=(("tool_timeout_s", 30.0),))
SAMPLES = 2


class HangingPolicy(GoldLinePolicy):
    """Hangs inside act_batch (as a stuck model call would) whenever `task_id` is in the batch."""

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id

    def act_batch(self, observations, infos, slots=None):  # type: ignore[no-untyped-def]
        if any(info["task"]["id"] == self.task_id for info in infos):
            time.sleep(3600)
        return super().act_batch(observations, infos, slots)


def main(out: str, address: str, resume: bool) -> None:
    config = RolloutConfig(jobs=[JOB], samples=SAMPLES, out=out, resume=resume, reveal_gold=True, num_envs=2, progress=False,
                           executor="ray", ray_address=address, ray_actors=1)
    run_rollouts(config, functools.partial(GoldLinePolicy, delay_s=0.0 if resume else 0.15))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] == "resume")
