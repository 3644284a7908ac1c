"""Benchmark: train lumos's VQA model (default config, fresh cache), then report its accuracy per
VQA question type on held-out images and gold-replay success per family with it and the oracle.
Prints one JSON line."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass


@dataclass
class Args:
    tasks_per_family: int = 40
    """tasks per family for accuracy and replay"""
    seed: int = 123
    """task seed (images the model never trained on)"""
    fresh_cache: bool = True
    """train from scratch in a temporary LUMOS_CACHE (measures training time)"""


def main(args: Args = Args()) -> dict:
    if args.fresh_cache:
        os.environ["LUMOS_CACHE"] = tempfile.mkdtemp(prefix="lumos-bench-")
    import torch

    from lumos_envs.multimodal.backends import LearnedVQABackend
    from lumos_envs.multimodal.evaluation import vqa_accuracy_by_type
    from lumos_envs.multimodal.vqa_model import VQAModelConfig, load_scene_parser, model_report
    from lumos_envs.tasks.registry import load_tasks
    from lumos_envs.tasks.synthetic_multimodal import FAMILIES
    from rollouts.replay import replay_gold

    start = time.perf_counter()
    load_scene_parser()
    wall_train = time.perf_counter() - start
    report = model_report()
    accuracy = {}
    for split in ("train", "heldout"):
        tasks = load_tasks(f"synthetic:multimodal_{split}?size={args.tasks_per_family}&seed={args.seed}")
        accuracy[split] = vqa_accuracy_by_type(LearnedVQABackend(), [tasks[i] for i in range(len(tasks))])
    replay = {}
    for family in FAMILIES:
        spec = f"synthetic:{family}?size={args.tasks_per_family}&seed={args.seed}"
        replay[family] = {b: replay_gold("lumos/Multimodal-v0", spec, vqa_backend=b).success_rate for b in ("learned", "oracle")}
    out = {"bench": "multimodal_vqa", "args": asdict(args), "config": asdict(VQAModelConfig()),
           "hardware": {"cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads()},
           "train_seconds": report["train_seconds"], "train_wall_seconds_incl_load": round(wall_train, 2),
           "holdout_field_accuracy": report["holdout_field_accuracy"], "vqa_accuracy": accuracy, "gold_replay_success": replay}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
