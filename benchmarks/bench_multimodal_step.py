"""Benchmark: image render latency and env step latency (VQA with oracle and learned back-ends,
QA, Calculator) on lumos/Multimodal-v0. Prints one JSON line (median microseconds)."""

from __future__ import annotations

import json
import platform
import random
import statistics
import time
from dataclasses import asdict, dataclass


@dataclass
class Args:
    repeats: int = 200
    """timed calls per measurement"""
    seed: int = 0


def _median_us(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 1)


def main(args: Args = Args()) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401
    from lumos_envs.multimodal.render import render_array
    from lumos_envs.multimodal.sampling import random_chart, random_scene
    from lumos_envs.multimodal.vqa_model import load_scene_parser

    rng = random.Random(args.seed)
    scenes = [random_scene(rng) for _ in range(args.repeats)]
    charts = [random_chart(rng) for _ in range(args.repeats)]
    it_s, it_c = iter(scenes * 2), iter(charts * 2)
    results = {"render_scene_us": _median_us(lambda: render_array(next(it_s)), args.repeats),
               "render_chart_us": _median_us(lambda: render_array(next(it_c)), args.repeats)}
    load_scene_parser()  # train or load first: not part of a step's latency
    for backend in ("oracle", "learned"):
        env = gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=20", vqa_backend=backend, max_steps=10**9)
        env.reset(seed=args.seed)
        results[f"step_vqa_{backend}_us"] = _median_us(lambda: env.step("R1 = VQA([IMG], Question: What objects are shown?)"), args.repeats)
    results["step_qa_us"] = _median_us(lambda: env.step("R2 = QA([cup, key], Question: Which object is used for drinking?)"), args.repeats)
    results["step_calculator_us"] = _median_us(lambda: env.step("R3 = Calculator(7 - 3)"), args.repeats)
    results["reset_us"] = _median_us(lambda: env.reset(), args.repeats)
    out = {"bench": "multimodal_step", "args": asdict(args), "hardware": platform.machine(), **results}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
