"""KnowledgeQuery and ParagraphRetrieve latency at corpus sizes, and memory of N QA envs against one.

Worlds of about `paragraphs` paragraphs are generated with `WorldConfig.scaled`; indexes are built
once (build time reported), then each tool is called `queries` times on random entities.
With `--embed-limit` below a corpus's size, its paragraph embeddings are random unit vectors
(ranking latency does not depend on their values, only embedding 100k paragraphs on a CPU does);
the JSON line says which sizes used real embeddings.
"""

from __future__ import annotations

import json
import os
import platform
import random
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Args:
    sizes: list[int] = field(default_factory=lambda: [10_000, 100_000])
    """target corpus sizes, in paragraphs"""
    queries: int = 200
    """tool calls timed per size"""
    embed_limit: int = 20_000
    """corpora larger than this get random embeddings (see the module docstring)"""
    envs: int = 32
    """env instances for the memory measurement"""
    seed: int = 0
    """query sampling seed"""


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _latency(args: Args, size: int) -> dict:
    from lumos_envs.cache import shared_state
    from lumos_envs.embedding import default_embedder
    from lumos_envs.qa.corpus import Corpus
    from lumos_envs.qa.index import Bm25, ParagraphIndex, paragraph_texts
    from lumos_envs.qa.reader import ExtractiveReader
    from lumos_envs.qa.world import WorldConfig, build_world, render_corpus
    from lumos_envs.tools.qa import QAToolbox

    start = time.perf_counter()
    world = build_world(WorldConfig.scaled(max(1, round(size / 300)), seed=1))
    corpus: Corpus = render_corpus(world)
    generate_s = time.perf_counter() - start
    real = corpus.num_paragraphs <= args.embed_limit
    toolbox = QAToolbox(corpus, ExtractiveReader(None))
    start = time.perf_counter()
    toolbox.pages  # noqa: B018 - builds the BM25 page index
    page_build_s = time.perf_counter() - start
    start = time.perf_counter()
    if real:
        toolbox.paragraphs  # noqa: B018 - builds BM25 and dense paragraph indexes
    else:
        with tempfile.TemporaryDirectory() as folder:
            from pathlib import Path

            Bm25.build(paragraph_texts(corpus), Path(folder))
            bm25 = Bm25.load(Path(folder))
        vectors = np.random.default_rng(0).standard_normal((corpus.num_paragraphs, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        toolbox._paragraphs = ParagraphIndex(corpus, vectors, default_embedder(), bm25)
    paragraph_build_s = time.perf_counter() - start
    rng = random.Random(args.seed)
    names = sorted(world.people)
    kq, pr = [], []
    for _ in range(args.queries):
        name = rng.choice(names)
        t0 = time.perf_counter()
        pages = toolbox.knowledge_query(name)
        t1 = time.perf_counter()
        toolbox.paragraph_retrieve(pages, f"When was {name} born?")
        t2 = time.perf_counter()
        kq.append(t1 - t0)
        pr.append(t2 - t1)
    fuzzy = []
    for _ in range(min(50, args.queries)):
        t0 = time.perf_counter()
        toolbox.knowledge_query(f"{rng.choice(names).split()[0]} painter born")
        fuzzy.append(time.perf_counter() - t0)
    ms = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 2)  # noqa: E731
    return {"paragraphs": corpus.num_paragraphs, "pages": len(corpus), "real_embeddings": real,
            "generate_s": round(generate_s, 1), "page_index_build_s": round(page_build_s, 1),
            "paragraph_index_build_s": round(paragraph_build_s, 1),
            "knowledge_query_exact_ms_p50": ms(kq, 50), "knowledge_query_exact_ms_p95": ms(kq, 95),
            "knowledge_query_bm25_ms_p50": ms(fuzzy, 50), "knowledge_query_bm25_ms_p95": ms(fuzzy, 95),
            "paragraph_retrieve_ms_p50": ms(pr, 50), "paragraph_retrieve_ms_p95": ms(pr, 95)}


def _memory(args: Args) -> dict:
    import gymnasium as gym

    import lumos_envs  # noqa: F401

    action = "R1 = KnowledgeQuery(The Iron Garden); R2 = ParagraphRetrieve(R1, Query: Who created it?); R3 = QA([R2], Question: Who created it?)"
    before = _rss_mb()
    envs = [gym.make("lumos/QA-v0")]
    envs[0].reset(seed=0)
    envs[0].step(action)
    one = _rss_mb()
    for i in range(args.envs - 1):
        env = gym.make("lumos/QA-v0")
        env.reset(seed=i)
        env.step(action)
        envs.append(env)
    many = _rss_mb()
    return {"rss_before_mb": round(before, 1), "rss_one_env_mb": round(one, 1), f"rss_{args.envs}_envs_mb": round(many, 1),
            "per_extra_env_mb": round((many - one) / max(1, args.envs - 1), 3)}


def main(args: Args | None = None) -> dict:
    args = args or Args()
    os.environ.setdefault("LUMOS_CACHE", tempfile.mkdtemp(prefix="lumos-bench-"))
    result = {"bench": "qa_retrieval", "args": args.__dict__, "machine": platform.machine(), "cpus": os.cpu_count(),
              "memory": _memory(args), "sizes": [_latency(args, size) for size in args.sizes]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    import argparse

    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("sizes", nargs="?", default="10000,100000", help="comma-separated corpus sizes (paragraphs)")
    cli.add_argument("--embed-limit", type=int, default=Args.embed_limit,
                     help="corpora above this size get random stand-in embeddings (raise it to embed them all)")
    cli.add_argument("--queries", type=int, default=Args.queries)
    cli.add_argument("--envs", type=int, default=Args.envs)
    parsed = cli.parse_args()
    main(Args(sizes=[int(x) for x in parsed.sizes.split(",")], queries=parsed.queries,
              embed_limit=parsed.embed_limit, envs=parsed.envs))
