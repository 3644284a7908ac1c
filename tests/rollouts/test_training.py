"""`rollouts.training`: TRL SFT of a tiny model on LUMOS records (assistant-only labels, loss goes
down, save/reload/generate, resume, time budget) and the number-placeholder adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.backends.scripted import ScriptedBackend
from agents.backends.tiny import (
    LUMOS_PHRASES,
    NumberPlaceholders,
    TinyModelConfig,
    conversation_number_map,
    load_tiny_backend,
    mask_conversation,
    read_tiny_options,
    save_tiny,
    unmask_text,
)
from agents.prompts import GROUND_INSTRUCTION, PLAN_INSTRUCTION
from agents.sft import sft_record
from rollouts.training import (
    TrainConfig,
    build_trainer,
    has_generation_markers,
    oracle_sft_records,
    read_sft_records,
    record_module,
    rendered_corpus,
    select_records,
    to_prompt_completion,
    train,
)

SMALL = TinyModelConfig(vocab_size=400, hidden_size=48, num_layers=2, num_heads=4, intermediate_size=96, max_position_embeddings=1024)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> dict[str, Path]:
    """SFT records from the LUMOS annotation fixture and from gold synthetic maths episodes, and a
    small tiny model (number placeholders on) whose tokenizer saw them."""
    root = tmp_path_factory.mktemp("training")
    records = []
    for i, line in enumerate((fixtures_dir / "lumos" / "annotations.jsonl").read_text().splitlines()):
        annotation = json.loads(line)
        if annotation["domain"] != "maths":
            continue
        for module in ("plan", "ground"):
            records.append(sft_record(annotation, i, module, "iterative"))
    records += oracle_sft_records(["synthetic:shopping_total?size=6&seed=0", "synthetic:sharing?size=6&seed=0"])
    data = root / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    base = save_tiny(root / "base", SMALL, rendered_corpus(records, False), number_placeholders=True, phrases=LUMOS_PHRASES)
    return {"root": root, "data": data, "base": base}


def _config(workspace: dict[str, Path], out: str, **kwargs) -> TrainConfig:
    settings = dict(
        output_dir=str(workspace["root"] / out), data_files=[str(workspace["data"])], base_model=str(workspace["base"]),
        per_device_train_batch_size=4, learning_rate=3e-3, logging_steps=1, save_strategy="no", seed=0,
        max_length=512, disable_tqdm=True,
    )
    settings.update(kwargs)
    return TrainConfig(**settings)


def test_cpu_config_turns_off_bf16_and_checkpointing(tmp_path: Path) -> None:
    config = TrainConfig(output_dir=str(tmp_path))
    assert config.use_cpu and not config.bf16 and not config.fp16 and not config.gradient_checkpointing
    assert config.assistant_only_loss and not config.packing
    assert config.train_sampling_strategy == "group_by_length"
    with pytest.raises(ValueError, match="module"):
        TrainConfig(output_dir=str(tmp_path), module="both")


def test_records_are_read_and_filtered(workspace: dict[str, Path], tmp_path: Path) -> None:
    records = read_sft_records([workspace["data"]])
    modules = {record_module(r) for r in records}
    assert modules == {"plan", "ground"}
    plans = select_records(records, module="plan")
    assert plans and all(r["messages"][0]["content"].startswith(PLAN_INSTRUCTION) for r in plans)
    assert all(r["messages"][0]["content"].startswith(GROUND_INSTRUCTION) for r in select_records(records, module="ground"))
    assert select_records(records, datasets=["nope"]) == []
    torn = tmp_path / "torn.jsonl"
    torn.write_text(workspace["data"].read_text() + '{"dataset": "maths", "mess')
    assert len(read_sft_records([torn])) == len(records)


def test_only_assistant_tokens_carry_labels(workspace: dict[str, Path]) -> None:
    prepared = build_trainer(_config(workspace, "labels"))
    tokenizer = prepared.tokenizer
    batch = next(iter(prepared.trainer.get_train_dataloader()))
    labels, ids = batch["labels"], batch["input_ids"]
    assert (labels == -100).any() and (labels != -100).any()
    for row_ids, row_labels in zip(ids.tolist(), labels.tolist()):
        kept = [t for t, l in zip(row_ids, row_labels) if l != -100]
        masked = [t for t, l in zip(row_ids, row_labels) if l == -100 and t != tokenizer.pad_token_id]
        kept_text, masked_text = tokenizer.decode(kept), tokenizer.decode(masked)
        # the instructions, the task and the feedback turns are user text: never labelled
        assert "Task:" not in kept_text and "Please" not in kept_text and "Should we stop planning" not in kept_text
        assert "Task:" in masked_text
        # what is labelled is assistant text: subgoals, actions, the stop sentence, and </s>
        assert tokenizer.eos_token in kept_text
        assert any(key in kept_text for key in ("Subgoal", "Calculator", "stop planning", "R1 ="))


def test_train_lowers_loss_saves_and_reloads(workspace: dict[str, Path]) -> None:
    result = train(_config(workspace, "trained", max_steps=30, warmup_steps=3))
    assert result.steps == 30 and not result.stopped_by_budget
    out = Path(result.output_dir)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert read_tiny_options(out)["number_placeholders"] is True
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < first * 0.8, (first, last)
    backend = load_tiny_backend(out, batch_size=2)
    assert isinstance(backend, NumberPlaceholders)
    conversation = [{"role": "user", "content": PLAN_INSTRUCTION + "Task: Ava buys 3 pens at $2 each.; Initial Environment Description: None."}]
    (generations,) = backend.generate_chat([conversation], max_new_tokens=12, stop=["\n"])
    assert generations[0].token_ids and isinstance(generations[0].text, str)


def test_resume_continues_from_the_checkpoint(workspace: dict[str, Path]) -> None:
    first = train(_config(workspace, "resume", max_steps=4, save_strategy="steps", save_steps=2))
    out = Path(first.output_dir)
    assert (out / "checkpoint-4").is_dir() and first.resumed_from is None
    second = train(_config(workspace, "resume", max_steps=6, save_strategy="steps", save_steps=2, resume=True))
    assert second.resumed_from is not None and second.resumed_from.endswith("checkpoint-4")
    assert second.steps == 6
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6


def test_time_budget_stops_training(workspace: dict[str, Path]) -> None:
    result = train(_config(workspace, "budget", num_train_epochs=1000, max_minutes=0.05))
    assert result.stopped_by_budget
    assert result.wall_time_s < 3 + 10  # 3 s budget plus a generous bound for one step and the save
    assert (Path(result.output_dir) / "model.safetensors").is_file()


def test_lora_saves_the_adapter_or_the_merged_model(workspace: dict[str, Path]) -> None:
    from agents.models import read_model_record

    adapter = Path(train(_config(workspace, "lora", max_steps=2, lora=True, lora_r=4, lora_alpha=8)).output_dir)
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    record = read_model_record(adapter)
    assert record.lora_base == str(workspace["base"]) and record.tiny == {"number_placeholders": True}
    loaded = load_tiny_backend(adapter, batch_size=1)  # over its base, merged in memory
    assert not any("lora" in name for name, _ in loaded.inner.model.named_parameters())
    merged = Path(train(_config(workspace, "lora_merged", max_steps=2, lora=True, merge_lora=True, lora_r=4, lora_alpha=8)).output_dir)
    assert (merged / "adapter" / "adapter_config.json").is_file() and (merged / "model.safetensors").is_file()
    assert read_model_record(merged).lora_base is None
    backend = load_tiny_backend(merged, batch_size=1)
    assert not any("lora" in name for name, _ in backend.inner.model.named_parameters())


def test_templates_without_markers_fall_back_to_prompt_completion() -> None:
    class Tok:
        chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

    assert not has_generation_markers(Tok())
    Tok.chat_template = "{% generation %}x{% endgeneration %}"
    assert has_generation_markers(Tok())
    pairs = to_prompt_completion([{"messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
    ]}])
    assert [p["completion"][0]["content"] for p in pairs] == ["b", "d"]
    assert [len(p["prompt"]) for p in pairs] == [1, 3]


def test_number_placeholders_round_trip() -> None:
    task = "Omar buys 3 muffins at $2.50 each and pays with a $20 bill. How much change does he get?"
    conversation = [
        {"role": "user", "content": PLAN_INSTRUCTION + f"Task: {task}; Initial Environment Description: None."},
        {"role": "assistant", "content": "Subgoal 1: Calculate the cost of the 3 muffins."},
        {"role": "user", "content": "The executed result for Subgoal 1 is 7.5. Should we stop planning?"},
    ]
    masked = mask_conversation(conversation)
    assert "Omar buys N1 muffins at $N2 each and pays with a $N3 bill" in masked[0]["content"]
    assert masked[1]["content"] == "Subgoal 1: Calculate the cost of the N1 muffins."  # the subgoal number is kept
    mapping = conversation_number_map(conversation)
    assert mapping == {"N1": "3", "N2": "2.50", "N3": "20"}
    assert unmask_text("R1 = Calculator(N1 * N2); R2 = Calculator(N3 - R1); N9", mapping) == "R1 = Calculator(3 * 2.50); R2 = Calculator(20 - R1); N9"
    # a value written twice gets one placeholder per occurrence in the task, its first elsewhere
    twice = [{"role": "user", "content": PLAN_INSTRUCTION + "Task: Ava buys 2 pens at $4 and 2 cups at $4.00.; Initial Environment Description: None."},
             {"role": "assistant", "content": "R1 = Calculator(2 * 4)"}]
    masked_twice = mask_conversation(twice)
    assert "Ava buys N1 pens at $N2 and N3 cups at $N4." in masked_twice[0]["content"]
    assert masked_twice[1]["content"] == "R1 = Calculator(N1 * N2)"

    seen = []

    def reply(conv):
        seen.append(conv)
        return "R1 = Calculator(N1 * N2)"

    wrapped = NumberPlaceholders(ScriptedBackend(reply))
    (generations,) = wrapped.generate_chat([conversation], max_new_tokens=16)
    assert generations[0].text == "R1 = Calculator(3 * 2.50)"
    assert "$N2" in seen[0][0]["content"] and "2.50" not in seen[0][0]["content"]


@pytest.mark.slow
def test_tiny_recipe_trains_a_planner_and_a_grounder(tmp_path: Path) -> None:
    from rollouts.training import TinyRecipe, train_tiny

    recipe = TinyRecipe(
        families=("sharing",), tasks_per_family=3, vocab_size=400, hidden_size=32, num_layers=1, num_heads=2,
        intermediate_size=64, batch_size=2, max_minutes=0.05,
    )
    result = train_tiny(recipe, tmp_path, max_steps=3)
    assert set(result.results) == {"plan", "ground"}
    assert Path(result.planner_dir).name == "planner" and Path(result.grounder_dir).name == "grounder"
    assert result.results["plan"].records == 3 and result.results["ground"].records == 3
    for folder in (result.planner_dir, result.grounder_dir):
        assert read_tiny_options(folder)["number_placeholders"] is True
        assert (Path(folder) / "model.safetensors").is_file()
