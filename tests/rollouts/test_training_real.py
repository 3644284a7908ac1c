"""Fine-tuning real models: the training string equals the inference prompt (SmolLM2's ChatML with
inserted generation markers, an ai2lumos-shaped checkpoint's Tulu format with its BOS), and
`lumos train --lora` on both, reloaded from the adapter folder and evaluated on one maths episode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.models import read_model_record
from agents.prompts import STOP_PLANNING
from agents.sft import sft_record
from rollouts.chat_format import add_generation_markers, has_generation_markers, renders_like, resolve_chat_format, render, tokenize_conversation
from tests.ai2lumos_checkpoint import build_ai2lumos_checkpoint

CONVERSATION = [
    {"role": "user", "content": "Please provide a reasonable subgoal-based plan to solve the given task.\nTask: Ava buys 3 pens at $2 each. How much does she pay?; Initial Environment Description: None."},
    {"role": "assistant", "content": "Subgoal 1: Calculate the cost of the pens."},
    {"role": "user", "content": "The executed result for Subgoal 1 is 6. Should we stop planning?"},
    {"role": "assistant", "content": STOP_PLANNING},
]


@pytest.fixture(scope="module")
def ai2lumos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ai2lumos_checkpoint(tmp_path_factory.mktemp("ai2lumos") / "lumos_maths_plan_iterative")


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    """Two maths records (a plan and a grounding conversation) from the LUMOS annotation fixture."""
    annotation = next(json.loads(line) for line in (fixtures_dir / "lumos" / "annotations.jsonl").read_text().splitlines()
                      if json.loads(line)["domain"] == "maths")
    records = [sft_record(annotation, 0, "plan", "iterative"), sft_record(annotation, 1, "ground", "iterative")]
    path = tmp_path_factory.mktemp("sft") / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _backend(path: Path | str):
    from agents.backends.transformers import TransformersBackend

    return TransformersBackend.from_pretrained(str(path))


@pytest.mark.parametrize("model", ["smollm2", "ai2lumos"])
def test_training_string_equals_the_inference_prompt(model: str, smollm2_dir: Path, ai2lumos_dir: Path) -> None:
    path = smollm2_dir if model == "smollm2" else ai2lumos_dir
    backend = _backend(path)
    tokenizer = backend.tokenizer
    fmt = resolve_chat_format(tokenizer, read_model_record(path), str(path))
    assert (fmt.chat_format, fmt.source) == (("template", "model+markers") if model == "smollm2" else ("tulu", "tulu"))
    training = render(tokenizer, fmt, CONVERSATION)
    tokens = tokenize_conversation(tokenizer, fmt, CONVERSATION)
    eos = tokenizer.eos_token
    for i, message in enumerate(CONVERSATION):
        if message["role"] != "assistant":
            continue
        prompt = backend.format_chat(CONVERSATION[:i])
        expected = prompt + message["content"] + eos
        assert training[: len(expected)] == expected, (training, expected)  # character for character
        prompt_ids = backend.encode(prompt)
        assert tokens["input_ids"][: len(prompt_ids)] == prompt_ids  # the ids inference feeds, BOS included
    assert training == backend.format_chat(CONVERSATION[:-1]) + STOP_PLANNING + eos + "\n"
    labelled = tokenizer.decode([t for t, m in zip(tokens["input_ids"], tokens["assistant_masks"]) if m])
    assert labelled == CONVERSATION[1]["content"] + eos + STOP_PLANNING + eos  # assistant text and end tokens only
    if model == "ai2lumos":
        assert tokens["input_ids"][0] == tokenizer.bos_token_id and not tokenizer.chat_template


def test_inserted_markers_leave_smollm2s_rendering_unchanged(smollm2_dir: Path) -> None:
    tokenizer = _backend(smollm2_dir).tokenizer
    original = tokenizer.chat_template
    assert not has_generation_markers(original)
    patched = add_generation_markers(original)
    assert patched is not None and has_generation_markers(patched)
    assert renders_like(tokenizer, patched, original)
    for end in range(1, len(CONVERSATION) + 1):
        for generation_prompt in (False, True):
            assert (tokenizer.apply_chat_template(CONVERSATION[:end], tokenize=False, add_generation_prompt=generation_prompt, chat_template=patched)
                    == tokenizer.apply_chat_template(CONVERSATION[:end], tokenize=False, add_generation_prompt=generation_prompt))
    assert add_generation_markers("{% for m in messages %}{{ m['content'] }}{% endfor %}") is None


def _train_lora_and_evaluate(base: str, sft_file: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list]:
    from rollouts.cli import main
    from rollouts.engine import Job, RolloutConfig, run_rollouts
    from rollouts.policies import AgentConfig, make_agent
    from rollouts.store import read_trajectories

    argv = ["train", "--base-model", base, "--lora", "--lora-r", "4", "--lora-alpha", "8", "--data-files", str(sft_file),
            "--output-dir", str(out), "--max-steps", "2", "--max-length", "256", "--per-device-train-batch-size", "1",
            "--logging-steps", "1", "--save-strategy", "no", "--disable-tqdm", "true", "--report-to", "none", "--seed", "3"]
    assert main(argv) == 0
    assert "2 steps" in capsys.readouterr().out
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["command_line"] == ["lumos", "train", *argv[1:]] and manifest["seeds"]["seed"] == 3
    assert manifest["packages"]["trl"] and manifest["packages"]["peft"] and "git" in manifest
    assert manifest["config"]["report_to"] in ([], ["none"], "none")

    config = AgentConfig(agent="lumos", model=str(out), max_subgoals=1, max_new_tokens=16, device="cpu", torch_threads=2)
    agent = make_agent(config)
    run = out.parent / f"{out.name}.jsonl"
    result = run_rollouts(RolloutConfig(jobs=[Job("lumos/Math-v0", "synthetic:shopping_total?size=1&seed=3")], num_envs=1, max_steps=3,
                                        out=str(run), agent_info=config.info(), progress=False), agent)
    assert result.episodes == 1
    _, trajectories = read_trajectories(run)
    return out, trajectories


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smollm2_lora_trains_reloads_and_runs_an_episode(smollm2_dir: Path, sft_file: Path, tmp_path: Path, capsys) -> None:
    out, (trajectory,) = _train_lora_and_evaluate("smollm2", sft_file, tmp_path / "smollm2_lora", capsys)
    record = read_model_record(out)
    assert record.lora_base == "smollm2" and record.tiny is None and record.made_by == "train"
    assert (record.chat_format, record.prompt_style) == ("template", "template")
    assert record.training["chat_template"]["source"] == "model+markers"
    assert record.training["modules"] == {"plan": 1, "ground": 1} and record.training["formulations"] == {"iterative": 2}
    planner = [g for s in trajectory.steps for g in s.generations if g.role == "planner"]
    assert planner and trajectory.end_reason


def test_ai2lumos_checkpoint_lora_trains_reloads_and_runs_an_episode(ai2lumos_dir: Path, sft_file: Path, tmp_path: Path, capsys) -> None:
    out, (trajectory,) = _train_lora_and_evaluate(str(ai2lumos_dir), sft_file, tmp_path / "ai2lumos_lora", capsys)
    record = read_model_record(out)
    assert record.lora_base == str(ai2lumos_dir) and record.tiny is None  # never loaded as a tiny model next round
    assert (record.chat_format, record.prompt_style) == ("tulu", "tulu")
    assert (out / "tokenizer.model").is_file() or (out / "tokenizer.json").is_file()
    backend = _backend(out)
    assert backend.chat_format == "tulu" and backend.record["lora_base"] == str(ai2lumos_dir)
    assert not any("lora" in name for name, _ in backend.model.named_parameters())  # merged in memory
    assert any(g.role == "planner" for s in trajectory.steps for g in s.generations) and trajectory.end_reason


def test_train_errors_are_one_line(tmp_path: Path, sft_file: Path, capsys) -> None:
    from rollouts.cli import main

    assert main(["train", "--base-model", str(tmp_path / "nope"), "--data-files", str(sft_file), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lumos train: error: no such model folder") and "\n" not in err
    assert main(["train", "--base-model", "smollm2", "--method", "ppo", "--output-dir", str(tmp_path / "o")]) == 2
    assert "method must be one of" in capsys.readouterr().err
    assert main(["train", "--base-model", "smollm2", "--data-files", str(tmp_path / "missing.jsonl"), "--output-dir", str(tmp_path / "o")]) == 2
    assert "no such data file" in capsys.readouterr().err
