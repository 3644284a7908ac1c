"""QA reader EM/F1 on the hand-written HotpotQA-style items (real people and places, distractor schema).

Each item's question is asked whole, over all its context paragraphs (HotpotQA's distractor
setting, gold and distractor paragraphs together), of the reader `--reader` names: `extractive`
(the default of lumos/QA-v0), `llm:smollm2`, `llm:PATH`, `openai:URL#MODEL`. EM and F1 are the
HotpotQA evaluation script's (`lumos_envs.metrics_qa`). Prints one JSON line: config, hardware,
overall and per-type EM/F1, seconds per item, and the misses.

    python benchmarks/bench_qa_reader.py --reader extractive
    python benchmarks/bench_qa_reader.py --reader llm:smollm2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "lumos_envs" / "qa" / "data" / "handwritten_hotpotqa.json"


@dataclass
class Args:
    reader: str = "extractive"
    """reader spec, as `reader=` of lumos/QA-v0"""
    data: str = str(DEFAULT_DATA)
    """a HotpotQA distractor-schema JSON file"""
    limit: int = 0
    """items to read (0: all)"""
    reader_timeout_s: float = 120.0
    """limit of one LLM reader call"""
    torch_threads: int = 2
    """CPU threads for local models"""


def main(args: Args) -> dict:
    import torch

    torch.set_num_threads(args.torch_threads)
    import agents  # noqa: F401 - registers the llm: and openai: readers
    from lumos_envs.execution.errors import ToolError
    from lumos_envs.metrics_qa import qa_answer_metrics
    from lumos_envs.qa.readers import make_reader
    from lumos_envs.tasks.hotpotqa import load_hotpotqa

    records = json.loads(Path(args.data).read_text(encoding="utf-8"))
    source = load_hotpotqa(args.data)
    count = len(records) if args.limit <= 0 else min(args.limit, len(records))
    reader = make_reader(args.reader, timeout_s=args.reader_timeout_s)
    start = time.perf_counter()
    reader.answer(["Warm-up paragraph."], "Warm-up?")  # load the model outside the timed loop
    load_s = time.perf_counter() - start
    totals: dict[str, list[float]] = {}
    misses = []
    start = time.perf_counter()
    for index in range(count):
        record, task = records[index], source[index]
        passages = [" ".join("".join(sentences).split()) for _, sentences in record["context"]]
        try:
            prediction = reader.answer(passages, task.question)
        except ToolError as error:  # a timeout counts as a wrong answer
            prediction = f"<error: {error}>"
        metrics = qa_answer_metrics(prediction, task.answer)
        for key in ("all", record["type"]):
            totals.setdefault(key, []).append(metrics["em"])
            totals.setdefault(f"{key}_f1", []).append(metrics["f1"])
        if metrics["em"] < 1.0:
            misses.append({"id": task.id, "type": record["type"], "prediction": prediction[:80], "gold": task.answer})
    seconds = time.perf_counter() - start
    scores = {key: round(sum(values) / len(values), 3) for key, values in totals.items()}
    result = {
        "bench": "qa_reader", "args": asdict(args), "items": count,
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "em": scores["all"], "f1": scores["all_f1"],
        "by_type": {t: {"em": scores[t], "f1": scores[f"{t}_f1"]} for t in sorted({r["type"] for r in records[:count]})},
        "load_s": round(load_s, 1), "seconds_per_item": round(seconds / max(1, count), 3), "misses": misses,
    }
    print(json.dumps(result))
    return result


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Args()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
