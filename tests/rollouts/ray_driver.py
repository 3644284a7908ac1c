"""A Ray-executor driver run as a subprocess by the SIGKILL-and-resume test (`python -m tests.rollouts.ray_driver OUT ADDRESS resume|fresh`)."""

from __future__ import annotations

import functools
import sys

from rollouts.engine import Job, RolloutConfig, run_rollouts
from tests.rollouts.engine_policies import GoldLinePolicy

JOB = Job("lumos/Math-v0", "synthetic:shopping_total?size=6")
SAMPLES = 2


def main(out: str, address: str, resume: bool) -> None:
    config = RolloutConfig(jobs=[JOB], samples=SAMPLES, out=out, resume=resume, reveal_gold=True, num_envs=2, progress=False,
                           executor="ray", ray_address=address, ray_actors=2)
    run_rollouts(config, functools.partial(GoldLinePolicy, delay_s=0.0 if resume else 0.15))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] == "resume")
