"""Episodes per second with a server back-end: 1 episode in flight against 16, lockstep and overlapped.

The server is `tests/stub_openai_server.py`: a real HTTP server in vLLM's wire format where every
request takes `latency_s` (200 ms by default) whatever its size, answering like a LUMOS-I agent that
plans 1 to 3 subgoals per task. Each measurement runs `episodes` maths episodes through
`agents/backends/openai_compat.py` and `rollouts/engine.py`:

- `1`: one episode in flight (every module call is one request);
- `16 lockstep`: 16 in flight, one `act_batch` for all of them per step, then all envs step;
- `16 overlap`: 16 in flight in `overlap_groups` groups, each generating and stepping in its own
  thread, so one group's requests are in flight while another's envs step.

Two envs: `lumos/Math-v0` as it is (steps take well under a millisecond) and the same env with a
slow step (`env_step_s`, drawn per step from 0 to twice that, like a browser), where lockstep
waits for the slowest env of the batch and the groups do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stub lives in tests/

from rollouts.engine import Job, RolloutConfig, run_rollouts  # noqa: E402
from rollouts.policies import AgentConfig, make_agent  # noqa: E402
from tests.stub_openai_server import StubServer  # noqa: E402

SLOW_ENV = "bench/SlowStepMath-v0"


@dataclass
class Args:
    """Benchmark settings."""

    episodes: int = 96
    """episodes per measurement (enough that the last wave's tail, where fewer than 16 are left, counts little)"""
    latency_s: float = 0.2
    """stub server: seconds each request takes"""
    env_step_s: float = 0.1
    """slow env: mean extra seconds per step (uniform from 0 to twice this)"""
    overlap_groups: int = 16
    """groups of the overlapped runs"""
    api_server: Literal["vllm", "generic"] = "vllm"
    """wire protocol of the back-end"""
    seed: int = 0


class _SlowStep(gym.Wrapper):
    """An env whose steps take a seeded random extra time (a stand-in for a browser's latency only)."""

    def __init__(self, env: gym.Env, mean_s: float) -> None:
        super().__init__(env)
        self.mean_s = mean_s
        self._random = random.Random(0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        self._random = random.Random(seed)
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        time.sleep(self._random.uniform(0, 2 * self.mean_s))
        return self.env.step(action)


def _make_slow(mean_s: float, **kwargs: Any) -> gym.Env:
    return _SlowStep(gym.make("lumos/Math-v0", disable_env_checker=True, **kwargs), mean_s)


def _run(args: Args, stub: StubServer, env_id: str, num_envs: int, groups: int, out: str) -> dict[str, Any]:
    agent = make_agent(AgentConfig(agent="lumos", model="lumos-stub", api_base=stub.url, api_server=args.api_server,
                                   api_max_concurrency=16, max_new_tokens=32, max_subgoals=4))
    tasks = f"synthetic:shopping_total?size={args.episodes}&seed={args.seed}"
    config = RolloutConfig(jobs=[Job(env_id, tasks, args.episodes)], num_envs=num_envs, overlap_groups=groups, num_workers=num_envs,
                           out=out, overwrite=True, seed=args.seed, progress=False, max_steps=6)
    before = stub.num_requests
    start = time.perf_counter()
    result = run_rollouts(config, agent)
    wall = time.perf_counter() - start
    return {"env": env_id, "in_flight": num_envs, "overlap_groups": groups, "episodes": result.episodes, "failures": result.failures,
            "wall_s": round(wall, 3), "episodes_per_s": round(result.episodes / wall, 3), "requests": stub.num_requests - before,
            "max_requests_in_flight": stub.max_in_flight}


def main(args: Args | None = None) -> dict[str, Any]:
    args = args or Args()
    if SLOW_ENV not in gym.registry:
        gym.register(SLOW_ENV, entry_point=_make_slow, kwargs={"mean_s": args.env_step_s})
    runs: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    with StubServer(args.latency_s) as stub, tempfile.TemporaryDirectory() as folder:
        for env_id in ("lumos/Math-v0", SLOW_ENV):
            measured = {}
            for label, num_envs, groups in (("1", 1, 1), ("16 lockstep", 16, 1), ("16 overlap", 16, args.overlap_groups)):
                stub.max_in_flight = 0
                run = _run(args, stub, env_id, num_envs, groups, os.path.join(folder, "run.jsonl"))
                run["label"] = label
                runs.append(run)
                measured[label] = run["episodes_per_s"]
            name = "fast" if env_id == "lumos/Math-v0" else "slow_env"
            ratios[f"{name}: 16 lockstep / 1"] = round(measured["16 lockstep"] / measured["1"], 2)
            ratios[f"{name}: 16 overlap / 1"] = round(measured["16 overlap"] / measured["1"], 2)
    report = {"benchmark": "server_inflight", "args": asdict(args),
              "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
              "runs": runs, "ratios": ratios}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    from rollouts.cli import _config_from, add_dataclass_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataclass_arguments(parser, Args)
    main(_config_from(parser.parse_args(), Args))
