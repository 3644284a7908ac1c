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
    assert gen.finish_reason == "truncated" and len(gen.token_ids) == 6
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


def _short_context_backend(tiny_model_dir, positions=64):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from agents.backends.transformers import TransformersBackend

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    # learned absolute positions: past `positions` this model would fail with an index error
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=32, n_layer=1, n_head=2))
    return TransformersBackend(model, tokenizer, chat_format="tulu", name=f"gpt2-{positions}")


def test_a_long_conversation_keeps_its_instruction_and_current_turn(tiny_model_dir, caplog):
    from agents.prompts import plan_feedback_turn, plan_first_turn

    backend = _short_context_backend(tiny_model_dir, positions=160)
    first = {"role": "user", "content": plan_first_turn("Tom has 3 apples.")}
    turns = [first]
    for k in range(1, 8):
        turns += [{"role": "assistant", "content": f"Subgoal {k}: Calculate 12 + 30."},
                  {"role": "user", "content": plan_feedback_turn(k, "42", "result")}]
    demonstration = [{"role": "user", "content": plan_first_turn("a demonstration task " * 10)}, {"role": "assistant", "content": "Subgoal 1: x."}]
    with caplog.at_level("WARNING"):
        (gen,), = backend.generate_chat([demonstration + turns], max_new_tokens=8)
    prompt = backend.tokenizer.decode(gen.prompt_token_ids)
    assert "Task: Tom has 3 apples." in prompt and "demonstration task" not in prompt
    assert prompt.rstrip().endswith("Should we stop planning?\n<|assistant|>".rstrip()) or "Subgoal 7 is 42" in prompt
    assert len(gen.prompt_token_ids) + 8 <= 160
    assert "too long" in caplog.text and backend.prompts_cut == 1


def test_a_conversation_that_cannot_fit_is_refused_saying_why(tiny_model_dir):
    from agents.backends.base import BackendError

    backend = _short_context_backend(tiny_model_dir, positions=64)
    huge = [{"role": "user", "content": "Task: " + "many words here " * 60}]
    with pytest.raises(BackendError, match="does not fit .* even with only its one turn"):
        backend.generate_chat([huge], max_new_tokens=8)
    with pytest.raises(BackendError, match="leaves no room"):
        backend.generate(["<|user|>\n" + "Subgoal 1: Calculate 12 + 30. " * 40], max_new_tokens=8)
    with pytest.raises(ValueError, match="no room"):
        backend.generate([PROMPTS[1]], max_new_tokens=64)


def test_generation_is_capped_at_the_context_less_the_prompt(tiny_model_dir):
    backend = _short_context_backend(tiny_model_dir, positions=96)
    ids = backend.encode(PROMPTS[0])
    (gen,), = backend.generate([PROMPTS[0]], max_new_tokens=90)
    assert len(ids) + len(gen.token_ids) <= 96
    assert gen.finish_reason in ("stop", "truncated")


def test_ids_decode_to_text_and_stop_text(tiny_backend):
    for (gen,) in tiny_backend.generate(PROMPTS, max_new_tokens=12, stop=["\n", " "]):
        decoded = tiny_backend.tokenizer.decode(list(gen.token_ids), skip_special_tokens=True)
        assert decoded == gen.text + gen.stop_text
        assert gen.prompt_token_ids and len(gen.logprobs) == len(gen.token_ids)
        if gen.finish_reason == "stop" and gen.stop_text:
            assert gen.stop_text[:1] in ("\n", " ")


def test_a_pad_equal_to_eos_is_never_kept_after_the_end(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.backends.transformers import TransformersBackend

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.pad_token = tokenizer.eos_token  # as in Llama and SmolLM2 checkpoints
    backend = TransformersBackend(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tokenizer, chat_format="tulu")
    eos = tokenizer.eos_token_id
    for (gen,) in backend.generate(PROMPTS, max_new_tokens=10, stop=["\n", "e"]):
        assert eos not in gen.token_ids[:-1]
        if gen.stop_text:  # ended by a stop string: nothing after it, no eos
            assert eos not in gen.token_ids


def test_a_seed_leaves_the_global_generator_alone_and_greedy_n_is_refused(tiny_backend):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_backend.generate(PROMPTS[:1], max_new_tokens=4, temperature=1.0, seed=7)
    assert torch.equal(torch.rand(3), expected)
    with pytest.raises(ValueError, match="greedy"):
        tiny_backend.generate(PROMPTS[:1], max_new_tokens=4, n=2)


def test_sampled_logprobs_follow_the_temperature(tiny_backend):
    import torch

    (gen,), = tiny_backend.generate(PROMPTS[:1], max_new_tokens=3, temperature=0.7, seed=1)
    ids = torch.tensor([list(gen.prompt_token_ids) + list(gen.token_ids)])
    with torch.no_grad():
        logits = tiny_backend.model(ids).logits[0, len(gen.prompt_token_ids) - 1 : -1] / 0.7
    expected = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(gen.token_ids)[:, None]).squeeze(1)
    assert torch.allclose(expected, torch.tensor(gen.logprobs), atol=1e-4)
