"""Overhead of the killable tool-worker pool: cold start, round-trip latency and recovery after a timeout.

Prints one JSON line. Uses the trivial diagnostic targets in `lumos_envs.execution.worker_main`
(`echo`, `sleep`), so what is measured is the pool's own cost, not a tool's.

    python benchmarks/bench_worker_overhead.py --num-calls 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass

from lumos_envs.execution.errors import ToolTimeout
from lumos_envs.execution.worker import WorkerPool, WorkerPoolConfig

ECHO = "lumos_envs.execution.worker_main:echo"
SLEEP = "lumos_envs.execution.worker_main:sleep"


@dataclass
class Args:
    """Benchmark settings."""

    num_calls: int = 2000
    """trivial calls timed for the latency percentiles"""
    num_warmup_calls: int = 50
    """untimed calls before the latency run"""
    num_recoveries: int = 5
    """timeouts whose recovery (kill, respawn, next call) is timed"""
    timeout_s: float = 0.1
    """the timeout that the recovery runs hit"""
    arg_chars: int = 16
    """length of the one argument each trivial call sends and gets back"""
    seed: int = 0
    """seed for the argument text"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    return Args(**vars(parser.parse_args()))


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main(args: Args) -> dict:
    rng = random.Random(args.seed)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(args.arg_chars))
    with WorkerPool(WorkerPoolConfig()) as pool:
        started = time.perf_counter()
        pool.call(ECHO, [text], timeout_s=60.0)
        cold_start_s = time.perf_counter() - started

        for _ in range(args.num_warmup_calls):
            pool.call(ECHO, [text], timeout_s=10.0)
        latencies = []
        for _ in range(args.num_calls):
            started = time.perf_counter()
            pool.call(ECHO, [text], timeout_s=10.0)
            latencies.append(time.perf_counter() - started)
        latencies.sort()

        recoveries, timeouts_to_raise = [], []
        for _ in range(args.num_recoveries):
            started = time.perf_counter()
            try:
                pool.call(SLEEP, ["60"], timeout_s=args.timeout_s)
            except ToolTimeout:
                raised = time.perf_counter()
            else:
                raise RuntimeError("the sleeping call did not time out")
            pool.call(ECHO, [text], timeout_s=60.0)
            recoveries.append(time.perf_counter() - raised)
            timeouts_to_raise.append(raised - started)

    result = {
        "benchmark": "worker_overhead",
        "config": dataclasses.asdict(args),
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "cold_start_s": round(cold_start_s, 4),
        "round_trip_us": {
            "p50": round(percentile(latencies, 0.50) * 1e6, 1),
            "p99": round(percentile(latencies, 0.99) * 1e6, 1),
            "mean": round(statistics.fmean(latencies) * 1e6, 1),
            "num_calls": len(latencies),
        },
        "timeout_raised_after_s": round(statistics.median(timeouts_to_raise), 4),
        "recovery_after_timeout_s": {
            "median": round(statistics.median(recoveries), 4),
            "max": round(max(recoveries), 4),
        },
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(parse_args())
