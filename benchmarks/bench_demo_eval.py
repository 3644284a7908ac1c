"""The demo's evaluation stage with and without KV reuse, on a demo's trained tiny agent.

`lumos demo` spends a fixed wall-clock budget on training; what KV reuse changes is its last
stage, evaluation (13 suites, about 590 episodes). This replays that stage exactly (the demo's own
suites, agent settings and envs) on a finished demo folder, once per reuse mode, and prints the
stage's seconds, so the demo's total before and after is the demo's own total with the stage swapped:

    .venv/bin/lumos demo                      # writes runs/demo (the tiny agent in runs/demo/tiny)
    .venv/bin/python benchmarks/bench_demo_eval.py --demo-dir runs/demo [--modes none conversation]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rollouts.demo import DemoConfig, demo_suites
from rollouts.evaluation import EvalConfig, evaluate
from rollouts.policies import AgentConfig, make_agent

MODES = {"none": (False, 0), "prefix": (True, 0), "conversation": (True, 64)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", default="runs/demo")
    parser.add_argument("--modes", nargs="*", default=["none", "conversation"], choices=list(MODES))
    args = parser.parse_args()
    tiny = Path(args.demo_dir) / "tiny"
    if not (tiny / "planner").is_dir():
        raise SystemExit(f"no trained demo agent in {tiny} (run lumos demo first)")
    config = DemoConfig()
    report: dict = {"bench": "demo_eval", "modes": {}}
    for mode in args.modes:
        reuse, size = MODES[mode]
        agent_config = AgentConfig(agent="lumos", planner_model=str(tiny / "planner"), grounder_model=str(tiny / "grounder"),
                                   max_subgoals=config.max_subgoals, max_new_tokens=config.max_new_tokens, conversation_cache=size)
        agent = make_agent(agent_config)
        for module in (agent.planner, agent.grounder):
            getattr(module.backend, "inner", module.backend).prefix_reuse = reuse
        with tempfile.TemporaryDirectory() as out:
            tick = time.monotonic()
            result = evaluate(EvalConfig(suites=demo_suites(config), out=out, num_envs=config.num_envs, progress=False), agent)
            wall = time.monotonic() - tick
        report["modes"][mode] = {"evaluation_s": round(wall, 1), "episodes": sum(r.episodes for r in result.results),
                                 "successes": {r.name: r.successes for r in result.results}}
        print(json.dumps({mode: report["modes"][mode]}), flush=True)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
