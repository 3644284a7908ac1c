"""Step latency of lumos/WebShop-v0 in text and browser mode, search latency at scale, catalog build cost.

Prints one JSON line. `--what step` times text-mode and browser-mode steps (p50/p99 wall clock and
this process's CPU over gold-plan actions); `--what search` builds a generated catalog of `catalog_size` products and times searches;
`--what memory` measures RSS of 1 vs 64 text envs in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, fields

import psutil


@dataclass
class Args:
    what: str = "step"
    """step | search | memory"""
    episodes: int = 10
    """episodes per mode for step timing"""
    catalog_size: int = 100_000
    """products in the generated catalog for search/build timing"""
    searches: int = 200
    """queries timed for search latency"""
    seed: int = 0
    """fixed seed"""
    modes: str = "text,browser"
    """front ends timed by `--what step` (comma-separated)"""


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _quantile(times: list[float], q: float) -> float:
    return sorted(times)[min(len(times) - 1, int(q * len(times)))]


def bench_step(args: Args) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    out = {}
    for mode in args.modes.split(","):
        env = gym.make("lumos/WebShop-v0", mode=mode, reveal_gold=True)
        times, cpu_times = [], []
        for index in range(args.episodes):
            _, info = env.reset(options={"task_index": index})
            for sub in info["gold"]["plan"]["subgoals"]:
                for action in sub["actions"]:
                    start, cpu = time.perf_counter(), time.process_time()
                    env.step(action)
                    times.append(time.perf_counter() - start)
                    cpu_times.append(time.process_time() - cpu)
        env.close()
        out[f"{mode}_step_p50_ms"] = 1000 * statistics.median(times)
        out[f"{mode}_step_p99_ms"] = 1000 * _quantile(times, 0.99)
        # this process's CPU per step (without Chromium's): on a shared machine the wall-clock
        # tail is mostly waiting for a core, which this tells apart
        out[f"{mode}_step_cpu_p50_ms"] = 1000 * statistics.median(cpu_times)
        out[f"{mode}_step_cpu_p99_ms"] = 1000 * _quantile(cpu_times, 0.99)
        out[f"{mode}_steps"] = len(times)
    return out


def bench_search(args: Args) -> dict:
    from lumos_envs.webshop.catalog import CatalogSpec, get_catalog
    from lumos_envs.webshop.search import get_index

    base = _rss_mb()
    start = time.perf_counter()
    catalog = get_catalog(CatalogSpec(size=args.catalog_size, seed=args.seed))
    index = get_index(catalog)
    build_s = time.perf_counter() - start
    after = _rss_mb()
    queries = [catalog[(i * 7919) % len(catalog)].query + " " + catalog[i % len(catalog)].attributes[0] for i in range(args.searches)]
    times = []
    for query in queries:
        start = time.perf_counter()
        index.search(query)
        times.append(time.perf_counter() - start)
    return {"catalog_size": args.catalog_size, "build_s": build_s, "rss_increase_mb": after - base,
            "search_p50_ms": 1000 * statistics.median(times), "search_p90_ms": 1000 * _quantile(times, 0.9), "search_p99_ms": 1000 * _quantile(times, 0.99)}


def bench_memory(args: Args) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    base = _rss_mb()
    envs = [gym.make("lumos/WebShop-v0")]
    envs[0].reset(seed=0)
    one = _rss_mb() - base
    for k in range(63):
        env = gym.make("lumos/WebShop-v0")
        env.reset(seed=k)
        envs.append(env)
    sixty_four = _rss_mb() - base
    return {"rss_1_env_mb": one, "rss_64_envs_mb": sixty_four, "per_extra_env_mb": (sixty_four - one) / 63}


def main() -> None:
    parser = argparse.ArgumentParser()
    for f in fields(Args):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    args = Args(**vars(parser.parse_args()))
    result = {"step": bench_step, "search": bench_search, "memory": bench_memory}[args.what](args)
    print(json.dumps({"bench": f"webshop_{args.what}", "args": args.__dict__, "python": platform.python_version(),
                      "cpus": os.cpu_count(), **result}))


if __name__ == "__main__":
    main()
