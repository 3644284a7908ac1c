"""How fast `lumos view` answers on a large trajectory file: the runs page, an episode, tokens, compare.

Builds a file of `num_episodes` episodes by repeating a real oracle run on `lumos/Math-v0` under
new task ids (each generation given `tokens_per_generation` token ids and logprobs, as a real model
run stores), serves it with the viewer on loopback and times HTTP GETs: the first runs page (the
file is read and parsed), the same page again (cached), a filtered runs page, an episode page, a
tokens page and a compare of the file with itself, then the CPU the process uses while the viewer
sits idle for `idle_s` seconds (a busy server loop shows as ~1 CPU second per second; idle is ~0).
Prints one JSON line; nothing is asserted.

    python benchmarks/bench_viewer.py --num-episodes 10000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.store import EpisodeKey, TrajectoryWriter, read_trajectories
from rollouts.viewer.app import create_app
from rollouts.viewer.catalog import Catalog
from rollouts.viewer.server import ViewerServer


@dataclass
class Args:
    """Benchmark settings."""

    num_episodes: int = 10_000
    """episodes in the file"""
    tokens_per_generation: int = 24
    """token ids (and logprobs) stored per generation"""
    repeats: int = 5
    """timed GETs per warm page"""
    seed: int = 0
    """seed of the token ids, logprobs and failures"""
    file: str = ""
    """time this existing trajectory file instead of building one (then num_episodes is ignored)"""
    idle_s: float = 3.0
    """seconds the served viewer is left idle while its process's CPU time is measured"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    return Args(**vars(parser.parse_args()))


def build_file(folder: Path, args: Args) -> Path:
    agent_config = AgentConfig(agent="oracle")
    seed_run = RolloutConfig(jobs=[Job("lumos/Math-v0", limit=8)], out=str(folder / "seed.jsonl"), reveal_gold=True,
                             agent_info=agent_config.info(), progress=False)
    run_rollouts(seed_run, make_agent(agent_config))
    header, episodes = read_trajectories(folder / "seed.jsonl")
    (folder / "seed.jsonl").unlink()
    rng = random.Random(args.seed)
    path = folder / "big.jsonl"
    with TrajectoryWriter(path, header["config"]) as writer:
        for number in range(args.num_episodes):
            base = episodes[number % len(episodes)]
            success = rng.random() < 0.7
            for step in base.steps:
                for generation in step.generations:
                    generation.token_ids = [rng.randrange(1000) for _ in range(args.tokens_per_generation)]
                    generation.logprobs = [-rng.random() * 3 for _ in range(args.tokens_per_generation)]
            writer.write(replace(base, key=EpisodeKey(base.key.env_id, f"task-{number}", number), success=success,
                                 reward=float(success)))
    return path


def get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def main(args: Args) -> dict:
    with tempfile.TemporaryDirectory(prefix="lumos-bench-viewer-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        path = Path(args.file) if args.file else build_file(folder, args)
        build_s = time.perf_counter() - started
        catalog = Catalog.from_paths([path])
        file_id = f"0/{path.name}"
        middle = sum(1 for _ in path.open("rb")) // 2
        with ViewerServer(create_app(catalog, refresh_s=0)) as server:
            base = server.url
            first_s, first_bytes = get(base)
            warm = [get(base)[0] for _ in range(args.repeats)]
            filtered = [get(base + "?success=no&end_reason=answered")[0] for _ in range(args.repeats)]
            episode = [get(base + f"episode?f={file_id}&n={middle}")[0] for _ in range(args.repeats)]
            tokens = [get(base + f"tokens?f={file_id}&n={middle}")[0] for _ in range(args.repeats)]
            compare = [get(base + f"compare?a={file_id}&b={file_id}")[0] for _ in range(args.repeats)]
            loaded = catalog.load(catalog.resolve(file_id))
            cpu_before, idle_started = time.process_time(), time.perf_counter()
            time.sleep(args.idle_s)
            idle_cpu_per_s = (time.process_time() - cpu_before) / (time.perf_counter() - idle_started)
        return {
            "benchmark": "viewer",
            "config": dataclasses.asdict(args),
            "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
            "episodes": loaded.num_episodes,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "build_file_s": round(build_s, 2),
            "runs_page_first_s": round(first_s, 3),
            "runs_page_first_kb": round(first_bytes / 1e3, 1),
            "read_and_parse_s": round(loaded.loaded_s, 3),
            "runs_page_warm_median_s": round(statistics.median(warm), 4),
            "runs_page_filtered_median_s": round(statistics.median(filtered), 4),
            "episode_page_median_s": round(statistics.median(episode), 4),
            "tokens_page_median_s": round(statistics.median(tokens), 4),
            "compare_page_median_s": round(statistics.median(compare), 4),
            "idle_cpu_s_per_s": round(idle_cpu_per_s, 4),
        }


if __name__ == "__main__":
    print(json.dumps(main(parse_args())))
