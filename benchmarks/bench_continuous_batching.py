"""transformers' own continuous batching (`generate_batch`) against `generate` on lumos's prompts.

Issue 19 asks to try `generate_batch` with `ContinuousBatchingConfig(allow_block_sharing=True,
return_logprobs=True)` before writing a decode loop. This script runs SmolLM2-135M-Instruct (the
`smollm2` named model) on N copies of LUMOS grounder prompts of different maths tasks, greedily,
three ways: `generate` on the padded batch, `generate_batch` (paged KV cache, block sharing across
the common instruction prefix), and lumos's `TransformersBackend` (prefix reuse). It prints one
JSON line: seconds per call, tokens/s, whether the greedy tokens agree, and the error when
continuous batching does not run on this machine.

    .venv/bin/python benchmarks/bench_continuous_batching.py --rows 8 --max-new-tokens 24
"""

from __future__ import annotations

import argparse
import json
import os
import time
import traceback
from typing import Any

import torch


def prompts(rows: int) -> list[list[dict[str, str]]]:
    from rollouts.training import oracle_sft_records

    records = [r for r in oracle_sft_records([f"synthetic:story_arithmetic?size={rows}&seed=7"]) if "ground" in r["id"]]
    return [r["messages"][:-1] for r in records[:rows]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from agents.backends.transformers import TransformersBackend
    from agents.models import resolve_model

    folder = str(resolve_model("smollm2"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    conversations = prompts(args.rows)
    ids = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False) for c in conversations]
    line: dict[str, Any] = {"bench": "continuous_batching", "rows": len(ids), "prompt_tokens_mean": sum(map(len, ids)) / len(ids),
                            "max_new_tokens": args.max_new_tokens, "threads": args.threads, "load_average": os.getloadavg()}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)

    tokenizer.padding_side = "left"
    batch = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    tick = time.monotonic()
    with torch.no_grad():
        out = model.generate(**batch, generation_config=config)
    line["generate_s"] = round(time.monotonic() - tick, 2)
    padded = [row[batch["input_ids"].shape[1]:].tolist() for row in out]
    plain = [[t for t in row if t != config.pad_token_id][: args.max_new_tokens] for row in padded]

    try:
        from transformers import ContinuousBatchingConfig

        cb = ContinuousBatchingConfig(allow_block_sharing=True, return_logprobs=True)
        tick = time.monotonic()
        with torch.no_grad():
            results = model.generate_batch(ids, generation_config=config, continuous_batching_config=cb, progress_bar=False)
        line["generate_batch_s"] = round(time.monotonic() - tick, 2)
        ordered = list(results.values())  # generate_batch returns the rows in input order
        cb_tokens = [list(r.generated_tokens) for r in ordered]
        line["generate_batch_agrees"] = sum(a[: len(b)] == b[: len(a)] for a, b in zip(cb_tokens, plain))
        line["generate_batch_logprobs"] = bool(getattr(ordered[0], "logprobs", None))
    except Exception as error:  # noqa: BLE001 - the point is to report why it does not run here
        line["generate_batch_error"] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        line["generate_batch_where"] = traceback.extract_tb(error.__traceback__)[-1].filename.split("site-packages/")[-1]

    backend = TransformersBackend.from_pretrained(folder, batch_size=len(ids))
    backend.generate_chat(conversations[:1], max_new_tokens=2)
    tick = time.monotonic()
    backend.generate_chat(conversations, max_new_tokens=args.max_new_tokens)
    line["lumos_backend_prefix_reuse_s"] = round(time.monotonic() - tick, 2)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
