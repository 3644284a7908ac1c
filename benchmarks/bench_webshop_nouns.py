"""How often the type gate's two noun finders disagree: spaCy (WebShop's) vs lumos's catalog fallback.

Reads WebShop's human instructions (`human_goals.json`, a JSON list of strings) and, for each,
compares the noun lists of `noun_finder(..., "spacy[:MODEL]")` and `noun_finder(..., "catalog")`
(catalog type words from the packaged vocabulary). Prints one JSON line: how many instructions
give a different noun list, a different noun set, and the mean Jaccard overlap of the sets. Without
a spaCy model installed it prints `{"skipped": ...}`: lumos never installs one (PyPI has only
unofficial copies of `en_core_web_sm`).

    python benchmarks/bench_webshop_nouns.py --goals PATH/human_goals.json [--model en_core_web_sm]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass
class Args:
    goals: str = ""
    """path of WebShop's human_goals.json (a list of instruction strings)"""
    model: str = "en_core_web_sm"
    """the spaCy model (package name or folder) the user installed"""
    limit: int = 0
    """instructions compared at most (0: all)"""


def main(args: Args) -> dict:
    from lumos_envs.metrics_webshop import noun_finder
    from lumos_envs.webshop.vocab import load_vocabulary

    if not args.goals:
        raise SystemExit("--goals PATH (WebShop's human_goals.json) is required")
    texts = json.loads(Path(args.goals).read_text())
    if not isinstance(texts, list):
        raise SystemExit(f"{args.goals}: expected a JSON list of instruction strings")
    texts = [str(t) for t in texts][: args.limit or None]
    catalog = noun_finder(load_vocabulary().type_words, "catalog")
    config = {f.name: getattr(args, f.name) for f in fields(args)}
    try:
        spacy = noun_finder(frozenset(), f"spacy:{args.model}")
    except RuntimeError as error:
        return {"config": config, "skipped": str(error), "instructions": len(texts)}
    start = time.perf_counter()
    list_diff = set_diff = 0
    jaccard = 0.0
    for text in texts:
        a, b = spacy(text), catalog(text)
        list_diff += a != b
        set_diff += set(a) != set(b)
        union = set(a) | set(b)
        jaccard += len(set(a) & set(b)) / len(union) if union else 1.0
    return {
        "config": config, "hardware": platform.processor() or platform.machine(), "instructions": len(texts),
        "list_disagree": list_diff, "set_disagree": set_diff, "mean_jaccard": jaccard / max(1, len(texts)),
        "seconds": round(time.perf_counter() - start, 2),
    }


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in fields(Args):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    return parser


if __name__ == "__main__":
    print(json.dumps(main(Args(**vars(make_parser().parse_args())))))
