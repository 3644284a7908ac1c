"""Prefix reuse in the transformers back-end: grounder batches with and without the shared-prefix cache.

A LUMOS grounder prompt is mostly the constant instruction and action block (and the chat
header): with reuse its keys and values are computed once per prefix instead of once per row per
step. Measures one batched grounder call (the same prompts both ways, greedy, identical outputs)
on SmolLM2-135M (CPU, fp32, one thread) and on lumos's tiny model. Every timed call is cold: the
back-end's KV store is emptied before it, so a repeat cannot reuse the caches the previous call of
the same prompts left (since conversation caching it would, and time a near-free call); with reuse,
the shared prefix is computed once inside the timed call.

    python benchmarks/bench_prefix_reuse.py [--rows 8] [--max-new-tokens 16] [--repeats 2]

Prints the seconds of every cold call (each mode) and the speedup of the fastest ones.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from agents.backends.transformers import TransformersBackend
from agents.prompts import MATHS_BLOCK, ground_first_turn


def _conversations(rows: int) -> list:
    tasks = [f"A shop sells {i + 3} pens for {2 * i + 1} dollars each. How much do {i + 3} pens cost?" for i in range(rows)]
    return [[{"role": "user", "content": ground_first_turn(MATHS_BLOCK, t, "Subgoal 1: Calculate the total cost.")}] for t in tasks]


def _time(backend: TransformersBackend, conversations: list, max_new_tokens: int, repeats: int, reuse: bool) -> tuple[list[float], list]:
    """Seconds of each of `repeats` cold calls, and the last call's generations."""
    backend.prefix_reuse = reuse
    times, out = [], []
    for _ in range(repeats):
        backend.kv.clear()  # cold: no prefix or conversation cache from the warm-up or the previous repeat
        started = time.perf_counter()
        out = backend.generate_chat(conversations, max_new_tokens=max_new_tokens, stop=["\n"])
        times.append(round(time.perf_counter() - started, 2))
    return times, out


def measure(backend: TransformersBackend, rows: int, max_new_tokens: int, repeats: int) -> dict:
    conversations = _conversations(rows)
    backend.generate_chat(conversations[:1], max_new_tokens=2)  # warm-up (its caches are dropped before each timed call)
    off, plain = _time(backend, conversations, max_new_tokens, repeats, False)
    on, reused = _time(backend, conversations, max_new_tokens, repeats, True)
    prompt = len(plain[0][0].prompt_token_ids)
    return {"rows": rows, "prompt_tokens": prompt, "shared_prefix_tokens": backend._shared_prefix([list(g[0].prompt_token_ids) for g in plain]),
            "without_reuse_s": off, "with_reuse_s": on, "speedup": round(min(off) / min(on), 2),
            "same_tokens": [g[0].token_ids for g in plain] == [g[0].token_ids for g in reused]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from agents.backends.tiny import TinyModelConfig, default_corpus, load_tiny_backend, save_tiny

    tiny = load_tiny_backend(save_tiny(tempfile.mkdtemp(prefix="lumos_tiny_"), TinyModelConfig(), corpus=default_corpus(("synthetic:math_train?size=50",))))
    tiny = getattr(tiny, "inner", tiny)
    results = {"tiny": measure(tiny, args.rows, args.max_new_tokens, args.repeats)}
    smol = TransformersBackend.from_pretrained("smollm2", device="cpu")
    results["smollm2"] = measure(smol, args.rows, args.max_new_tokens, args.repeats)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
