"""transformers' continuous batching (`batching="continuous"`) gives the padded path's greedy tokens.

The same near-tie guard as the prefix-reuse tests: prompts whose top-two logit gap falls to 1e-3
are skipped, since CPU float order could flip them. On SmolLM2 the same agreement is checked by
`benchmarks/bench_continuous_batching.py` (a minute on 2 cores, too long for the suite).
"""

from __future__ import annotations

import pytest

from tests.agents.backends.test_prefix_reuse import _conversations, _min_gap


def _check_same_as_padded(model, tokenizer, max_new_tokens: int) -> None:
    from agents.backends.transformers import TransformersBackend

    padded = TransformersBackend(model, tokenizer, prompt_style="template")
    continuous = TransformersBackend(model, tokenizer, prompt_style="template", batching="continuous")
    conversations = _conversations()
    expected = padded.generate_chat(conversations, max_new_tokens=max_new_tokens, stop=["\n"])
    got = continuous.generate_chat(conversations, max_new_tokens=max_new_tokens, stop=["\n"])
    if _min_gap(padded, expected) <= 1e-3:
        pytest.skip("a near-tie between the two best tokens: CPU float order could flip it")
    assert [g[0].token_ids for g in got] == [g[0].token_ids for g in expected]
    assert [(g[0].text, g[0].finish_reason, g[0].stop_text) for g in got] == [(g[0].text, g[0].finish_reason, g[0].stop_text) for g in expected]
    for (a,), (b,) in zip(expected, got):
        assert a.prompt_token_ids == b.prompt_token_ids
        assert len(b.logprobs) == len(b.token_ids)
        assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-3


def test_continuous_batching_gives_the_padded_greedy_tokens_on_the_tiny_model(tiny_backend):
    _check_same_as_padded(tiny_backend.model, tiny_backend.tokenizer, 12)


def test_continuous_batching_refuses_sampling_and_unknown_modes(tiny_backend):
    from agents.backends.transformers import TransformersBackend

    continuous = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, batching="continuous")
    with pytest.raises(ValueError, match="greedily only"):
        continuous.generate_chat(_conversations()[:1], max_new_tokens=2, temperature=0.7)
    with pytest.raises(ValueError, match="batching must be padded or continuous"):
        TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, batching="paged")
