"""`lumos train --method dpo`: two TRL DPO steps on a tiny model over exported preference pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.backends.tiny import TinyModelConfig, load_tiny_backend, save_tiny
from agents.models import read_model_record
from rollouts.training import TrainConfig, build_trainer, rendered_corpus, train

SMALL = TinyModelConfig(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=1024)
PLAN = "Please provide a reasonable subgoal-based plan to solve the given task.\nTask: Ava buys {n} pens at $2 each.; Initial Environment Description: None."


def _pair(n: int) -> dict:
    return {"dataset": "maths", "id": f"maths_{n}",
            "prompt": [{"role": "user", "content": PLAN.format(n=n)}],
            "chosen": [{"role": "assistant", "content": "Subgoal 1: Calculate the cost of the pens."}],
            "rejected": [{"role": "assistant", "content": "Subgoal 1: Count the letters of the task."}]}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dpo")
    pairs = [_pair(n) for n in range(2, 8)]
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    corpus = rendered_corpus([{"messages": p["prompt"] + p["chosen"]} for p in pairs] + [{"messages": p["prompt"] + p["rejected"]} for p in pairs], False)
    base = save_tiny(root / "base", SMALL, corpus)
    return {"root": root, "data": data, "base": base}


def test_two_dpo_steps_on_a_tiny_model(workspace: dict[str, Path]) -> None:
    out = workspace["root"] / "dpo"
    result = train(TrainConfig(output_dir=str(out), method="dpo", data_files=[str(workspace["data"])], base_model=str(workspace["base"]),
                               max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                               max_length=256, disable_tqdm=True, report_to="none", seed=0))
    assert result.method == "dpo" and result.steps == 2 and result.records == 6 and len(result.losses) == 2
    record = read_model_record(out)
    assert record.training["method"] == "dpo" and record.tiny == {"number_placeholders": False}
    assert "task_specs" not in record.training, "no --task-specs: the record claims no tasks (suites then come out unknown)"
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["config"]["method"] == "dpo" and manifest["result"]["steps"] == 2
    backend = load_tiny_backend(out, batch_size=1)
    (generations,) = backend.generate_chat([_pair(3)["prompt"]], max_new_tokens=4)
    assert generations[0].token_ids


def test_dpo_rows_are_the_inference_prompt_and_the_completion_with_its_end(workspace: dict[str, Path]) -> None:
    from rollouts.training import dpo_config

    config = TrainConfig(output_dir=str(workspace["root"] / "rows"), method="dpo", data_files=[str(workspace["data"])],
                         base_model=str(workspace["base"]), max_steps=1, report_to="none", beta=0.25)
    assert dpo_config(config).beta == 0.25 and dpo_config(config).report_to == config.report_to
    prepared = build_trainer(config)
    backend = load_tiny_backend(workspace["base"], batch_size=1)
    row = prepared.trainer.train_dataset[0]
    pair = _pair(2)
    assert row["prompt_ids"] == backend.encode(backend.format_chat(pair["prompt"]))
    eos = prepared.tokenizer.eos_token
    assert prepared.tokenizer.decode(row["chosen_ids"]) == pair["chosen"][0]["content"] + eos
    assert prepared.tokenizer.decode(row["rejected_ids"]) == pair["rejected"][0]["content"] + eos


def test_sft_records_are_refused_as_preference_pairs(workspace: dict[str, Path], tmp_path: Path) -> None:
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps({"dataset": "maths", "id": "maths_0", "messages": _pair(2)["prompt"] + _pair(2)["chosen"]}) + "\n")
    with pytest.raises(ValueError, match="preference pair needs 'prompt', 'chosen', 'rejected'"):
        build_trainer(TrainConfig(output_dir=str(tmp_path / "o"), method="dpo", data_files=[str(sft)], base_model=str(workspace["base"])))
