"""The tiny model and tokenizer, and the transformers back-end: batching, stops, logprobs, templates."""

from __future__ import annotations

import math

import pytest

from agents.prompts import tulu_prompt

PROMPTS = [
    "<|user|>\nPlease provide a reasonable subgoal-based plan to solve the given task.\nTask: 2 + 3; Initial Environment Description: None.\n<|assistant|>\n",
    "<|user|>\nhi\n<|assistant|>\n",
    "<|user|>\nThe executed result for Subgoal 1 is 1.5. Should we stop planning? A much longer prompt here, 1234567.\n<|assistant|>\n",
    "Task: x",
]


def test_tokenizer_splits_digits_and_reloads_offline(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    pieces = tok.tokenize("R12 = Calculator(2024 / 8)")
    assert [p for p in pieces if any(c.isdigit() for c in p)].count("2") == 3
    assert all(len(p.strip("Ġ")) <= 1 for p in pieces if any(c.isdigit() for c in p))
    assert tok.decode(tok("R12 = Calculator(2024 / 8)", add_special_tokens=False)["input_ids"]) == "R12 = Calculator(2024 / 8)"


def test_chat_template_is_tulu_with_generation_markers(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": "Task: 1 + 1 \n"}, {"role": "assistant", "content": "Subgoal 1: Add."}, {"role": "user", "content": "more"}]
    assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == tulu_prompt(messages)
    encoded = tok.apply_chat_template(messages[:2], tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    kept = [i for i, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m]
    assert tok.decode(kept) == "Subgoal 1: Add.</s>"


def test_tiny_model_is_genuinely_tiny(tiny_backend):
    assert sum(p.numel() for p in tiny_backend.model.parameters()) < 2_000_000


def test_batched_greedy_equals_one_by_one(tiny_backend):
    batched = tiny_backend.generate(PROMPTS, max_new_tokens=12, stop=["\n"])
    single = [tiny_backend.generate([p], max_new_tokens=12, stop=["\n"])[0] for p in PROMPTS]
    assert [g[0].token_ids for g in batched] == [g[0].token_ids for g in single]
    assert [g[0].text for g in batched] == [g[0].text for g in single]
    for (b,), (s,) in zip(batched, single):
        assert b.logprobs is not None and len(b.logprobs) == len(b.token_ids)
        assert all(lp <= 0 and math.isclose(lp, slp, abs_tol=1e-3) for lp, slp in zip(b.logprobs, s.logprobs))


def test_stop_strings_cut_text_and_report_finish_reason(tiny_backend):
    (gen,) = tiny_backend.generate([PROMPTS[0]], max_new_tokens=6, stop=[])[0]
    assert gen.finish_reason == "length" and len(gen.token_ids) == 6
    first_piece = gen.text[:1]
    if first_piece:
        (cut,) = tiny_backend.generate([PROMPTS[0]], max_new_tokens=6, stop=[first_piece])[0]
        assert cut.text == "" and cut.finish_reason == "stop"


def test_sampling_is_seeded_and_n_samples_come_back(tiny_backend):
    a = tiny_backend.generate(PROMPTS[:2], max_new_tokens=6, temperature=1.0, n=3, seed=5)
    b = tiny_backend.generate(PROMPTS[:2], max_new_tokens=6, temperature=1.0, n=3, seed=5)
    assert [len(x) for x in a] == [3, 3]
    assert [[g.token_ids for g in x] for x in a] == [[g.token_ids for g in x] for x in b]


def test_generate_chat_uses_the_template(tiny_backend):
    conversation = [{"role": "user", "content": "hi"}]
    assert tiny_backend.generate_chat([conversation], max_new_tokens=5)[0][0].token_ids == tiny_backend.generate([tulu_prompt(conversation)], max_new_tokens=5)[0][0].token_ids


def test_prompts_longer_than_the_context_keep_their_end(tiny_model_dir, caplog):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from agents.backends.transformers import TransformersBackend

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    # learned absolute positions: past 64 positions this model would fail with an index error
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1, n_head=2))
    backend = TransformersBackend(model, tokenizer, chat_format="tulu", name="gpt2-64")
    long_prompt = "<|user|>\n" + "Subgoal 1: Calculate 12 + 30. " * 40 + "\n<|assistant|>\n"
    with caplog.at_level("WARNING"):
        (short,), (long,) = backend.generate([PROMPTS[1], long_prompt], max_new_tokens=8)
    assert len(long.token_ids) <= 8 and len(short.token_ids) <= 8
    assert "1 of 2 prompts are longer than gpt2-64's context" in caplog.text
    caplog.clear()
    backend.generate([PROMPTS[1]], max_new_tokens=8)
    assert "context" not in caplog.text
    backend.generate([long_prompt], max_new_tokens=8)
    assert "context" not in caplog.text  # warned once; counted from then on
    assert backend.prompts_cut == 2
    with pytest.raises(ValueError, match="no room"):
        backend.generate([PROMPTS[1]], max_new_tokens=64)
