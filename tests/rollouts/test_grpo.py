"""`rollouts.grpo`: GRPO over the rollout engine on a tiny model.

The tiny model is untrained, so it never solves a maths task: every env reward is 0 and no group
would carry a gradient. Where a test needs mixed rewards it therefore uses a reward *the test
controls*: the first episode of each group is rewarded 1 and the others 0 (`_controlled_reward`),
written over the rows' `env_reward` after the real rollout. Everything else (episodes, prompts,
sampled ids, log-probabilities, masks, TRL's loss) is the real path. The model's output row for
the newline token is boosted so that turns often stop at `\\n` (an untrained model would almost
never stop and every row would be cut by `max_new_tokens`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agents.backends.tiny import LUMOS_PHRASES, TinyModelConfig, default_corpus, save_tiny
from rollouts.grpo import GrpoConfig, LumosRollouts, build_grpo, episode_rows, grpo
from rollouts.store import EpisodeKey, GenerationRecord, StepRecord, Trajectory

TASKS = "synthetic:shopping_total?size=2&seed=3"
SMALL = TinyModelConfig(vocab_size=512, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=1024)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = save_tiny(tmp_path_factory.mktemp("grpo") / "tiny", SMALL, corpus=default_corpus(("synthetic:math_train?size=5",)),
                     number_placeholders=True, phrases=LUMOS_PHRASES)
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    newline = [i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])]
    sample = tokenizer("<|user|>\nPlease ground the given subgoal to actions. Task: A pen costs 3 dollars.\n<|assistant|>\n",
                       return_tensors="pt")["input_ids"]
    with torch.no_grad():  # make turns stop at "\n" often (see the module docstring): logit ~3 on the mean hidden state
        hidden = model(input_ids=sample, output_hidden_states=True).hidden_states[-1][0]
        mean = model.model.norm(hidden).mean(0)
        model.get_output_embeddings().weight[newline] = mean * (3.0 / mean.dot(mean))
    model.save_pretrained(path)
    return str(path)


def _config(tiny_dir: str, out: Path, **kwargs) -> GrpoConfig:
    settings = dict(model=tiny_dir, tasks=TASKS, output_dir=str(out), episodes_per_task=2, max_subgoals=2, max_new_tokens=12,
                    train_steps=2, learning_rate=2e-2, weight_decay=0.0, progress=False, torch_threads=1, seed=0)
    settings.update(kwargs)
    return GrpoConfig(**settings)


class _Recorder:
    """A back-end wrapper keeping every generation it returns (prompt ids and sampled ids)."""

    def __init__(self, inner, seen: list) -> None:
        self.inner, self.seen = inner, seen

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate_chat(self, conversations, **kwargs):
        results = self.inner.generate_chat(conversations, **kwargs)
        self.seen.extend(g for gens in results for g in gens[:1])
        return results


def _controlled_reward(out: dict, config: GrpoConfig) -> None:
    """Episode 0 of each group earns 1, the others 0 (see the module docstring)."""
    per_episode = sum(config.slots.values())
    for i in range(len(out["env_reward"])):
        out["env_reward"][i] = 1.0 if (i // per_episode) % config.episodes_per_task == 0 else 0.0


@pytest.fixture(scope="module")
def one_rollout(tiny_dir, tmp_path_factory):
    """One rollout_func call at step 0 with a recording back-end, before any training."""
    config = _config(tiny_dir, tmp_path_factory.mktemp("grpo-one") / "out", episodes_per_task=3)
    prepared = build_grpo(config)
    seen: list = []
    rollouts = prepared.rollouts
    original = rollouts.backend
    rollouts.backend = lambda model: _Recorder(original(model), seen)  # type: ignore[method-assign]
    prompts = ["task:0"] * config.num_generations
    out = rollouts(prompts, prepared.trainer)
    rollouts.close()
    return config, prepared, out, seen


def _recomputed_logprobs(model, prompt: list[int], completion: list[int], temperature: float) -> list[float]:
    import torch

    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(1, ids[0, len(prompt) :, None]).squeeze(1).tolist()


def test_rows_hold_the_ids_the_model_generated(one_rollout):
    config, _, out, seen = one_rollout
    assert len(out["prompt_ids"]) == config.num_generations  # one row per prompt received
    real = [i for i, m in enumerate(out["module"]) if m != "pad"]
    assert real and seen
    rows = sorted((tuple(out["prompt_ids"][i]), tuple(c for c, m in zip(out["completion_ids"][i], out["env_mask"][i]) if m)) for i in real)
    generated = sorted((tuple(g.prompt_token_ids), tuple(g.token_ids)) for g in seen)
    assert rows == generated
    per_episode = sum(config.slots.values())
    first = [i for i in real if i < per_episode]  # the first episode's rows: its own calls, in order
    assert [out["module"][i] for i in first] == sorted((out["module"][i] for i in first), key=["planner", "grounder"].index)


def test_recomputed_logprobs_match_the_backends_on_model_tokens(one_rollout):
    config, prepared, out, _ = one_rollout
    model = prepared.trainer.model.eval()
    checked = 0
    for prompt, completion, logprobs, mask in zip(out["prompt_ids"], out["completion_ids"], out["logprobs"], out["env_mask"]):
        recomputed = _recomputed_logprobs(model, prompt, completion, config.temperature)
        for lp, again, m in zip(logprobs, recomputed, mask):
            if m:
                assert abs(lp - again) < 1e-3
                checked += 1
    assert checked > 10


def test_stopped_turns_end_with_eos_masked_and_cut_turns_stay_clipped(one_rollout):
    config, prepared, out, seen = one_rollout
    eos = prepared.tokenizer.eos_token_id
    stopped = cut = 0
    for completion, mask, module in zip(out["completion_ids"], out["env_mask"], out["module"]):
        if module == "pad":
            assert completion == [eos] and mask == [0]
        elif completion[-1] == eos and mask[-1] == 0:
            stopped += 1
            assert all(mask[:-1])
        else:
            cut += 1
            assert all(mask) and len(completion) == config.max_new_tokens
    assert stopped > 0  # so TRL's clipped_ratio (last id not EOS) is below 1 on model rows
    assert stopped + cut == sum(m != "pad" for m in out["module"])


def test_constant_reward_groups_are_counted_and_warned_about(tiny_dir, tmp_path, caplog):
    config = _config(tiny_dir, tmp_path / "out")
    prepared = build_grpo(config)
    with caplog.at_level(logging.WARNING, logger="rollouts.grpo"):
        out = prepared.rollouts(["task:1"] * config.num_generations, prepared.trainer)
    prepared.rollouts.close()
    assert set(out["env_reward"]) == {0.0}  # an untrained model solves nothing
    assert prepared.rollouts.constant_groups == 1 and "same reward" in caplog.text
    assert prepared.trainer.model.training  # back in train mode after generation


def test_two_steps_raise_the_rewarded_episodes_sampled_tokens(tiny_dir, tmp_path, monkeypatch):
    config = _config(tiny_dir, tmp_path / "out")
    calls: list[dict] = []
    original = LumosRollouts.__call__

    def controlled(self, prompts, trainer):
        out = original(self, prompts, trainer)
        _controlled_reward(out, config)
        calls.append(out)
        return out

    monkeypatch.setattr(LumosRollouts, "__call__", controlled)
    result = grpo(config)
    assert result.steps == 2 and len(calls) == 2
    first = calls[0]
    assert any(abs(entry.get("reward_std", 0)) > 0 for entry in result.log_history)  # mixed rewards: nonzero advantages
    from transformers import AutoModelForCausalLM

    trained = AutoModelForCausalLM.from_pretrained(result.output_dir).eval()
    per_episode = sum(config.slots.values())
    before = after = 0.0
    for i in range(per_episode):  # the rewarded episode (episode 0 of step 0)
        prompt, completion, logprobs, mask = (first[k][i] for k in ("prompt_ids", "completion_ids", "logprobs", "env_mask"))
        if not any(mask):
            continue
        again = _recomputed_logprobs(trained, prompt, completion, config.temperature)
        before += sum(lp for lp, m in zip(logprobs, mask) if m)
        after += sum(lp for lp, m in zip(again, mask) if m)
    assert after > before
    record = (Path(result.output_dir) / "lumos_model.json").read_text()
    assert '"made_by": "grpo"' in record and '"number_placeholders": true' in record
    training = json.loads(record)["training"]  # what categories and the overlap check read (test_categories_by_path.py)
    assert training["task_specs"] == [config.tasks] and training["domains"] == ["math"] and training["families"]
    assert training["trained_from"] == config.model
    clipped = [e["completions/clipped_ratio"] for e in result.log_history if "completions/clipped_ratio" in e]
    assert clipped and all(c < 1 for c in clipped)


def test_bad_inputs_are_one_line_errors(tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="episodes_per_task must be >= 2"):
        _config(tiny_dir, tmp_path, episodes_per_task=1)
    with pytest.raises(ValueError, match="num_generations=1 is refused"):
        _config(tiny_dir, tmp_path, trl_args='{"num_generations": 1}')
    with pytest.raises(ValueError, match="may not set per_device_train_batch_size"):
        _config(tiny_dir, tmp_path, trl_args='{"per_device_train_batch_size": 3}')
    with pytest.raises(ValueError, match="server back-end"):
        build_grpo(_config("http://127.0.0.1:8000/v1", tmp_path))
    chat_only = GenerationRecord(role="planner", text="Subgoal 1: add", token_ids=[], prompt_ids=None)
    trajectory = Trajectory(key=EpisodeKey("lumos/Math-v0", "t", 0), split="", domain="maths", question="q",
                            steps=[StepRecord(index=0, action="a", observation="o", generations=[chat_only])])
    with pytest.raises(ValueError, match="token ids") as error:
        episode_rows(trajectory, {"planner": 2}, eos_id=2, pad_prompt=[1])
    assert "\n" not in str(error.value)


def test_checkpoints_resume_budget_and_per_module_kl(tiny_dir, tmp_path):
    out = tmp_path / "out"
    first = grpo(_config(tiny_dir, out, train_steps=1, save_steps=1, beta=0.05))
    assert first.steps == 1 and (out / "checkpoint-1").is_dir()
    assert any("kl/planner" in entry and "kl/grounder" in entry for entry in first.log_history)
    resumed = grpo(_config(tiny_dir, out, train_steps=2, save_steps=1, beta=0.05, resume=True))
    assert resumed.resumed_from and resumed.resumed_from.endswith("checkpoint-1") and resumed.steps == 2
    budget = grpo(_config(tiny_dir, tmp_path / "budget", train_steps=50, max_minutes=1e-4))
    assert budget.stopped_by_budget and budget.steps == 1
    assert (tmp_path / "budget" / "run_manifest.json").is_file()
