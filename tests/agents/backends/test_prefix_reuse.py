"""Prefix reuse in the transformers back-end: the shared prompt prefix's KV cache is computed once.

Greedy outputs must equal those without reuse, token for token. CPU float differences can flip
a near-tie between the two best tokens, so the prompts are checked to have a top-two logit gap
above 1e-3 at every generated position (a test that fails on a tie says so instead of flaking).
"""

from __future__ import annotations

import pytest

from agents.prompts import MATHS_BLOCK, ground_first_turn

TASKS = ["Tom has 3 apples and buys 4 more. How many apples does he have?",
         "A shop sells 12 pens for 4 dollars each. What do 12 pens cost?",
         "Mary runs 5 km a day for 7 days. How far does she run?"]


def _conversations():
    return [[{"role": "user", "content": ground_first_turn(MATHS_BLOCK, task, f"Subgoal 1: Calculate the answer to: {task}")}] for task in TASKS]


def _min_gap(backend, generations) -> float:
    import torch

    gaps = []
    for (g,) in generations:
        ids = torch.tensor([list(g.prompt_token_ids) + list(g.token_ids)], device=backend.model.device)
        with torch.no_grad():
            logits = backend.model(ids).logits[0, len(g.prompt_token_ids) - 1 : -1]
        top = logits.topk(2, dim=-1).values
        gaps.append(float((top[:, 0] - top[:, 1]).min()))
    return min(gaps)


def _check_equal(backend, max_new_tokens):
    conversations = _conversations()
    backend.prefix_reuse = False
    plain = backend.generate_chat(conversations, max_new_tokens=max_new_tokens, stop=["\n"])
    backend.prefix_reuse = True
    before = backend.prefix_tokens_reused
    reused = backend.generate_chat(conversations, max_new_tokens=max_new_tokens, stop=["\n"])
    assert backend.prefix_tokens_reused > before, "the grounder prompts share their instruction block: it must be reused"
    if _min_gap(backend, plain) <= 1e-3:
        pytest.skip("a near-tie between the two best tokens: CPU float order could flip it")
    assert [g[0].token_ids for g in reused] == [g[0].token_ids for g in plain]
    assert [g[0].text for g in reused] == [g[0].text for g in plain]
    for (a,), (b,) in zip(plain, reused):
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-3
        assert a.prompt_token_ids == b.prompt_token_ids


def test_prefix_reuse_gives_the_same_greedy_tokens_on_the_tiny_model(tiny_backend):
    _check_equal(tiny_backend, 12)


def test_the_prefix_cache_is_bounded(tiny_backend):
    from agents.backends.transformers import TransformersBackend

    backend = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, prompt_style="template", prefix_cache_size=1, min_prefix_tokens=4)
    for task in TASKS[:2]:
        pair = [[{"role": "user", "content": f"Task: {task} " * 3 + end}] for end in ("one", "two")]
        backend.generate_chat(pair, max_new_tokens=2)
    assert len(backend._prefixes) == 1


def test_one_row_at_a_time_reuses_the_static_head(tiny_backend):
    from agents.backends.transformers import TransformersBackend

    backend = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, prompt_style="template")
    conversations = _conversations()
    plain = [backend.generate_chat([c], max_new_tokens=6, stop=["\n"])[0] for c in conversations]
    assert len(backend._prefixes) == 1  # one head (instruction and action block) for every task
    assert backend.prefix_tokens_reused >= 3 * backend.min_prefix_tokens
    backend.prefix_reuse = False
    assert [backend.generate_chat([c], max_new_tokens=6, stop=["\n"])[0][0].token_ids for c in conversations] == [g[0].token_ids for g in plain]
    with pytest.raises(ValueError, match="prefix_cache_size"):
        TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, prefix_cache_size=0)


@pytest.mark.slow
def test_prefix_reuse_gives_the_same_greedy_tokens_on_smollm2(smollm2_dir):
    import torch

    from agents.backends.transformers import TransformersBackend

    torch.set_num_threads(1)
    backend = TransformersBackend.from_pretrained(str(smollm2_dir), device="cpu")
    _check_equal(backend, 8)
