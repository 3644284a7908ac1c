"""Time to the first ParagraphRetrieve on a large corpus, now that pages are embedded on demand.

A corpus of `--pages` pages of `--paragraphs` paragraphs (seeded random words) is indexed
(BM25 only: nothing is embedded up front), then ParagraphRetrieve-style ranks run over
`--context-pages` pages: the first embeds those pages, a repeat reads them from memory, and a new
index in the same cache reads them from disk. Prints one JSON line. Before this change the whole
corpus was embedded before the first call (1,162 s for 148k paragraphs, benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict, dataclass


@dataclass
class Args:
    pages: int = 20000
    """pages in the corpus"""
    paragraphs: int = 5
    """paragraphs per page"""
    context_pages: int = 5
    """pages one ParagraphRetrieve call ranks"""
    device: str = "cpu"
    """where MiniLM runs"""
    seed: int = 0
    """seed of the random text"""


def main(args: Args) -> dict:
    os.environ.setdefault("LUMOS_CACHE", tempfile.mkdtemp(prefix="lumos-bench-"))
    from lumos_envs.cache import clear_shared_state
    from lumos_envs.embedding import default_embedder
    from lumos_envs.qa.corpus import Corpus, Document
    from lumos_envs.qa.index import paragraph_index

    rng = random.Random(args.seed)
    words = [f"w{i}" for i in range(5000)]
    corpus = Corpus([Document(f"Page {p}", tuple(" ".join(rng.choices(words, k=60)) for _ in range(args.paragraphs)))
                      for p in range(args.pages)], name="bench")
    default_embedder(args.device).embed(["warm up"])
    start = time.perf_counter()
    index = paragraph_index(corpus, device=args.device)
    build_s = time.perf_counter() - start
    docs = rng.sample(range(len(corpus)), args.context_pages)
    rows = [r for d in docs for r in corpus.paragraph_rows(d)]
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        index.rank("w1 w2 w3 which one", rows, 2)
        timings.append(time.perf_counter() - start)
    clear_shared_state(["qa_paragraph_index"])
    fresh = paragraph_index(corpus, device=args.device)
    start = time.perf_counter()
    fresh.rank("w1 w2 w3 which one", rows, 2)
    disk_s = time.perf_counter() - start
    result = {
        "bench": "qa_dense_on_demand", "args": asdict(args), "paragraphs": corpus.num_paragraphs,
        "hardware": {"machine": platform.machine(), "cpus": os.cpu_count()},
        "index_build_s": round(build_s, 2), "first_call_s": round(timings[0], 3), "repeat_call_s": round(timings[1], 3),
        "new_index_from_disk_call_s": round(disk_s, 3), "pages_embedded": index.pages_embedded,
        "pages_embedded_by_new_index": fresh.pages_embedded,
    }
    print(json.dumps(result))
    return result


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in asdict(Args()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    return Args(**vars(parser.parse_args()))


if __name__ == "__main__":
    main(parse_args())
