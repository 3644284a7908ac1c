"""Replay success of WebShop's observer gold plans, with the cause of every miss.

The gold plans choose by the instruction and the pages only (`lumos_envs.envs.webshop.gold`), so
they can miss; this script replays them (`rollouts.replay.replay_gold`, as `lumos replay-gold`)
on the generated families and on a `webshop:` folder exported from the generated catalog in
WebShop's own file schema (`export_webshop_files`; WebShop's goal procedure: synthetic goals for
every option combination, human goals from `items_human_ins.json`). Each miss is named by the
reward term it lost (type gate, attribute, option, price) and by whether the observer's browsing
budget ran out. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass
class Args:
    synthetic: int = 500
    """goals of each generated family (shop_synthetic, shop_human, shop_heldout)"""
    seed: int = 11
    """goal seed of the generated families"""
    files: int = 1
    """1: also replay WebShop's test split (500 goals of each kind) of the exported webshop: folder; 0 skips it"""


def _cause(info: dict, plan: dict) -> str:
    from lumos_envs.envs.webshop.gold import BACK_SUBGOAL, MAX_OPENED_ITEMS

    metrics = info.get("metrics") or {}
    lost = [term for term, missed in (
        ("type", metrics.get("r_type", 0.0) < 1.0),
        ("attribute", metrics.get("num_attribute_matches", 0.0) < metrics.get("num_goal_attributes", 0.0)),
        ("option", metrics.get("num_option_matches", 0.0) < metrics.get("num_goal_options", 0.0)),
        ("price", metrics.get("r_price", 1.0) < 1.0),
    ) if missed]
    budget = sum(s["text"] == BACK_SUBGOAL for s in plan["subgoals"]) >= MAX_OPENED_ITEMS
    return ("budget_out:" if budget else "") + "+".join(lost or ["none"])


def replay(spec: str) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    env = gym.make("lumos/WebShop-v0", tasks=spec, reveal_gold=True, disable_env_checker=True).unwrapped
    successes, causes, lengths = 0, Counter(), []
    start = time.perf_counter()
    for index in range(len(env.tasks)):
        observation, info = env.reset(options={"task_index": index})
        plan = info["gold"]["plan"]
        if plan is None:
            causes[f"no_plan:{info['gold'].get('plan_error')}"] += 1
            continue
        lengths.append(len(plan["subgoals"]))
        for subgoal in plan["subgoals"]:
            observation, reward, terminated, truncated, info = env.step("; ".join(subgoal["actions"]))
            if info["invalid_action"]:
                causes["action_error"] += 1
                break
            if terminated or truncated:
                break
        if info.get("success"):
            successes += 1
        elif not info["invalid_action"]:
            causes[_cause(info, plan)] += 1
    env.close()
    return {"tasks": spec, "episodes": len(env.tasks), "success_rate": successes / len(env.tasks),
            "misses": dict(causes.most_common()), "subgoals_median": statistics.median(lengths),
            "subgoals_max": max(lengths), "seconds": round(time.perf_counter() - start, 1)}


def main(args: Args) -> dict:
    rows = [replay(f"synthetic:{family}?size={args.synthetic}&seed={args.seed}")
            for family in ("shop_synthetic", "shop_human", "shop_heldout")]
    if args.files:
        from lumos_envs.webshop.catalog import get_catalog
        from lumos_envs.webshop.files import export_webshop_files

        folder = Path(tempfile.mkdtemp(prefix="lumos-webshop-export-"))
        export_webshop_files(get_catalog(None), folder)
        for kind in ("synthetic", "human"):
            rows.append(replay(f"webshop:{folder}?split=test&goals={kind}"))
    config = {f.name: getattr(args, f.name) for f in fields(args)}
    return {"config": config, "hardware": platform.machine(), "results": rows}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    return parser


if __name__ == "__main__":
    print(json.dumps(main(Args(**vars(make_parser().parse_args())))))
