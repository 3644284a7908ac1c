"""Latency of lumos/Math-v0 steps, and what the time-bound mechanism costs.

Measures (one JSON line on stdout):
- `step_inprocess_*`: env.step on a cheap Calculator action (passes the allow-list, runs in-process);
- `step_bounded_*`: env.step on a SolveEquation action (always runs in the killable worker);
- `worker_overhead_*`: the same Calculator call made directly vs. through the worker pool;
- `timeout_recovery_s`: a runaway call is killed at the limit and the next call works.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass

import gymnasium as gym

import lumos_envs  # noqa: F401
from lumos_envs.domains import Domain
from lumos_envs.execution.worker import get_worker_pool
from lumos_envs.tasks.base import Task
from lumos_envs.tools.math import calculator


@dataclass
class Args:
    """Benchmark settings."""

    steps: int = 3000
    """cheap steps to time"""
    bounded_steps: int = 300
    """worker-bound steps to time"""
    seed: int = 0
    """reset seed"""
    timeout_s: float = 1.0
    """tool time limit for the runaway-call measurement"""
    think_s: float = 1.5
    """pause between a killed call and the next one, as an agent's model call would take"""


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(0.99 * (len(ordered) - 1))] * 1e6, 1),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
    }


def _time_steps(env: gym.Env, actions: list[str]) -> list[float]:
    samples = []
    for action in actions:
        start = time.perf_counter()
        env.step(action)
        samples.append(time.perf_counter() - start)
    return samples


def main(args: Args = Args()) -> dict:
    task = Task(id="bench", domain=Domain.MATH, source="bench", split="test", question="What is 2 + 2?", answer="4")
    env = gym.make("lumos/Math-v0", tasks=[task], max_steps=10**9, tool_timeout_s=args.timeout_s)
    env.reset(seed=args.seed)
    env.step("R1 = Calculator(12)")
    get_worker_pool().call(calculator.target, ["1 + 1"], timeout_s=30)  # start the worker outside the timings

    cheap = _time_steps(env, [f"R2 = Calculator(R1 * {i % 97} + 3.5)" for i in range(args.steps)])
    bounded = _time_steps(env, [f"R3 = SolveEquation(2*x + {i % 50} = 7)" for i in range(args.bounded_steps)])

    direct, pooled = [], []
    for i in range(args.bounded_steps):
        formula = f"12 * {i % 97} + 3.5"
        start = time.perf_counter()
        calculator.fn(formula)
        direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        get_worker_pool().call(calculator.target, [formula], timeout_s=args.timeout_s)
        pooled.append(time.perf_counter() - start)

    start = time.perf_counter()
    observation, *_ = env.step("R4 = SolveEquation(sin(x)**7 + cos(x)**5 = x**3)")
    killed_after = time.perf_counter() - start
    start = time.perf_counter()
    env.step("R5 = SolveEquation(x + 1 = 2)")
    recovery = time.perf_counter() - start
    env.step("R6 = SolveEquation(sin(x)**7 + cos(x)**5 = x**3)")
    time.sleep(args.think_s)  # what an agent does between steps (a model call): the replacement starts meanwhile
    start = time.perf_counter()
    env.step("R7 = SolveEquation(x + 1 = 2)")
    recovery_after_think = time.perf_counter() - start
    env.close()

    report = {
        "benchmark": "math_step",
        "args": asdict(args),
        "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
        "step_inprocess": _percentiles(cheap),
        "step_bounded": _percentiles(bounded),
        "calculator_direct": _percentiles(direct),
        "calculator_via_worker": _percentiles(pooled),
        "runaway_call_stopped_after_s": round(killed_after, 3),
        "runaway_observation": observation[:120],
        "first_call_after_kill_s": round(recovery, 3),
        "first_call_after_kill_and_think_s": round(recovery_after_think, 3),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
