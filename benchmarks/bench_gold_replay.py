"""Gold replay and observer audit of the maths loaders' derived plans: GSM8K and SVAMP files.

For each file, every task's gold plan is replayed once through `lumos/Math-v0`
(`lumos_envs.gold_audit.replay_gold_plan`); a task *replays* when the plan's answer variable
numerically matches the gold answer (the env's own reward test, `metrics.numeric_match`), and
a task without a plan counts as a miss under its `plan_error`. The same trace is audited with
`audit_gold_plan` (the observer rule), so the audit counts are of the plans that are kept.
Prints one JSON line: per file the replay rate, the misses by cause, the audit failures (tasks
and leaks by rule) and the first few failing task ids.

    .venv/bin/python benchmarks/bench_gold_replay.py                  # ../shared/fixtures
    .venv/bin/python benchmarks/bench_gold_replay.py --fixtures DIR --limit 500
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

FILES = (
    ("gsm8k", "gsm8k/train.jsonl"),
    ("gsm8k", "gsm8k/test_sample.jsonl"),
    ("svamp", "svamp/sample.json"),
)
"""(loader, path under the fixtures folder) of each measured file"""


@dataclass
class Args:
    fixtures: str = str(Path(__file__).resolve().parents[1].parent / "shared" / "fixtures")
    """folder holding gsm8k/ and svamp/ files in the datasets' own schemas"""
    limit: int = 0
    """tasks per file (the first N); 0 measures every task"""
    show: int = 10
    """failing task ids listed per file and kind of failure"""


def measure(loader: str, path: Path, limit: int, show: int) -> dict:
    from lumos_envs.gold_audit import audit_gold_plan, leaks_by_rule, make_env_for, replay_gold_plan
    from lumos_envs.metrics import numeric_match
    from lumos_envs.tasks.registry import load_tasks

    start = time.perf_counter()
    tasks = load_tasks(f"{loader}:{path}")
    count = len(tasks) if not limit else min(limit, len(tasks))
    env = make_env_for("math", tasks)
    misses: Counter[str] = Counter()
    leaks: list = []
    failed, leaky = [], []
    replayed = 0
    try:
        for index in range(count):
            task = tasks[index]
            if task.plan is None:
                misses[f"no_plan:{task.metadata.get('plan_error', 'unknown')}"] += 1
                failed.append(task.id)
                continue
            trace = replay_gold_plan(task, env)
            value = next((r[task.plan.answer] for r in reversed(trace.results) if task.plan.answer in r), None)
            if any(error is not None for error in trace.errors):
                misses["action_error"] += 1
                failed.append(task.id)
            elif value is None or not numeric_match(value, task.answer):
                misses["wrong_answer"] += 1
                failed.append(task.id)
            else:
                replayed += 1
            task_leaks = audit_gold_plan(task, trace)
            if task_leaks:
                leaks.extend(task_leaks)
                leaky.append(task.id)
    finally:
        env.close()
    return {
        "file": f"{loader}:{path.name}", "tasks": count, "replayed": replayed,
        "replay_rate": round(replayed / count, 4) if count else 0.0,
        "plans": count - sum(v for k, v in misses.items() if k.startswith("no_plan:")),
        "misses": dict(misses.most_common()),
        "audit_failed_tasks": len(leaky), "leaks_by_rule": leaks_by_rule(leaks),
        "audit_failed_ids": leaky[:show], "replay_failed_ids": failed[:show],
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(args: Args) -> dict:
    fixtures = Path(args.fixtures)
    rows = [measure(loader, fixtures / path, args.limit, args.show) for loader, path in FILES if (fixtures / path).exists()]
    config = {f.name: getattr(args, f.name) for f in fields(args)}
    return {"config": config, "hardware": platform.machine(), "results": rows}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    return parser


if __name__ == "__main__":
    print(json.dumps(main(Args(**vars(make_parser().parse_args())))))
