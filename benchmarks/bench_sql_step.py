"""Step latency of lumos/SQL-v0 on SQLite and on MariaDB (a server started for the run), and the
SQLite database build time. Prints one JSON line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym

import lumos_envs  # noqa: F401


@dataclass
class Args:
    tasks: str = f"spider:{Path(__file__).resolve().parents[2] / 'shared/fixtures/intercode_sql/ic_spider_dev_sample.json'}"
    """SQL task spec whose gold queries are timed"""
    repeats: int = 3
    """passes over the gold queries per back-end"""
    seed: int = 0
    """reset seed"""


def _latencies(env: gym.Env, num_tasks: int, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        for index in range(num_tasks):
            env.reset(options={"task_index": index})
            gold = env.unwrapped.task.metadata["gold_sql"]
            for action in ("R1 = SHOW TABLES", f"R2 = {gold}"):
                start = time.perf_counter()
                env.step(action)
                times.append(time.perf_counter() - start)
    return times


def main(args: Args) -> dict:
    os.environ["LUMOS_CACHE"] = tempfile.mkdtemp(prefix="lumos-bench-")
    from lumos_envs.sql.mariadb import MariaDBServer
    from lumos_envs.tasks.registry import load_tasks

    tasks = load_tasks(args.tasks)
    start = time.perf_counter()
    env = gym.make("lumos/SQL-v0", tasks=args.tasks)
    env.reset(options={"task_index": 0})
    env.step("R1 = SHOW TABLES")  # first connection builds the SQLite copy of the whole dump
    build_s = time.perf_counter() - start
    result = {"config": asdict(args), "hardware": platform.processor() or platform.machine(), "num_tasks": len(tasks),
              "sqlite_build_s": round(build_s, 3)}
    lite = _latencies(env, len(tasks), args.repeats)
    env.close()
    start = time.perf_counter()
    server = MariaDBServer.start()
    result["mariadb_start_s"] = round(time.perf_counter() - start, 3)
    try:
        env = gym.make("lumos/SQL-v0", tasks=args.tasks, backend="mariadb", mariadb_dir=str(server.folder))
        start = time.perf_counter()
        env.reset(options={"task_index": 0})
        env.step("R1 = SHOW TABLES")
        result["mariadb_load_s"] = round(time.perf_counter() - start, 3)
        maria = _latencies(env, len(tasks), args.repeats)
        env.close()
    finally:
        server.remove()
    for name, times in (("sqlite", lite), ("mariadb", maria)):
        times.sort()
        result[f"{name}_step_ms_median"] = round(statistics.median(times) * 1000, 3)
        result[f"{name}_step_ms_p95"] = round(times[int(0.95 * (len(times) - 1))] * 1000, 3)
        result[f"{name}_steps"] = len(times)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(Args())
