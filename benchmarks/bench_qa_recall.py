"""Retrieval recall@k of the gold paragraph, per bundled QA family, along the gold plans.

Each task's gold plan is replayed through `lumos/QA-v0` made with `max_paragraphs=k`; a hop counts
as recalled when its gold paragraph (`metadata["gold_paragraphs"]`) is among the handles that
ParagraphRetrieve returned on that hop. Prints one JSON line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class Args:
    families: list[str] = field(default_factory=lambda: ["qa_bridge", "qa_comparison", "qa_yesno", "qa_compositional", "qa_difference"])
    """bundled families to measure"""
    size: int = 50
    """tasks per family"""
    ks: list[int] = field(default_factory=lambda: [1, 3])
    """paragraphs ParagraphRetrieve returns"""
    seed: int = 0
    """task seed of the families"""


def recall(family: str, size: int, k: int, seed: int) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    env = gym.make("lumos/QA-v0", tasks=f"synthetic:{family}?size={size}&seed={seed}", max_paragraphs=k,
                   reveal_gold=True, disable_env_checker=True)
    hits = hops = 0
    for index in range(size):
        _, info = env.reset(options={"task_index": index})
        gold = list(env.unwrapped.task.metadata["gold_paragraphs"])
        retrieved = []
        for subgoal in info["gold"]["plan"]["subgoals"]:
            _, _, _, _, step_info = env.step("; ".join(subgoal["actions"]))
            retrieved += [v for v in step_info["results"].values() if v.startswith("Paragraph(")]
        for hop, paragraph in enumerate(gold):
            hops += 1
            hits += hop < len(retrieved) and f"Paragraph({paragraph})" in retrieved[hop]
    env.close()
    return {"family": family, "k": k, "hops": hops, "recall": round(hits / max(1, hops), 4)}


def main(args: Args | None = None) -> dict:
    args = args or Args()
    start = time.perf_counter()
    rows = [recall(f, args.size, k, args.seed) for f in args.families for k in args.ks]
    result = {"bench": "qa_recall", "args": args.__dict__, "rows": rows, "seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
