"""A checkpoint laid out like the public `ai2lumos` ones runs through `lumos eval` with Tulu prompts.

`pytorch_model.bin`, a SentencePiece `tokenizer.model` with `tokenizer_class: LlamaTokenizer` and
no chat template: the back-end must load it, pick the Tulu serialisation the checkpoints were
trained on (BOS from the tokenizer), and `--prompt-style lumos-eval` must give LUMOS's own
evaluation-script serialisation instead. Bad folders fail with one line.
"""

from __future__ import annotations

import json

import pytest

from rollouts.store import prompt_ids_of, read_trajectories
from tests.ai2lumos_checkpoint import build_ai2lumos_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_ai2lumos_checkpoint(tmp_path_factory.mktemp("lumos_maths_plan_iterative"))


def _eval(checkpoint, out, *extra):
    from rollouts.cli import main

    suites = json.dumps([{"name": "maths", "env_id": "lumos/Math-v0", "tasks": "synthetic:shopping_total?size=1&seed=4"}])
    return main(["eval", "--agent", "lumos", "--model", str(checkpoint), "--suites", suites, "--max-new-tokens", "12",
                 "--max-subgoals", "1", "--device", "cpu", "--out", str(out), *extra])


def _first_planner_prompt(out):
    (path,) = (out / "trajectories").glob("*.jsonl")
    header, (trajectory,) = read_trajectories(path)
    planner = [g for s in trajectory.steps for g in s.generations if g.role == "planner"]
    return header, trajectory, prompt_ids_of(planner)[0]


def test_lumos_eval_runs_an_ai2lumos_shaped_checkpoint_with_the_exact_tulu_prompt(checkpoint, tmp_path):
    from transformers import AutoTokenizer

    assert _eval(checkpoint, tmp_path / "eval") == 0
    header, trajectory, prompt_ids = _first_planner_prompt(tmp_path / "eval")
    expected = ("<|user|>\nPlease provide a reasonable subgoal-based plan to solve the given task.\n"
                f"Task: {trajectory.question}; Initial Environment Description: None.\n<|assistant|>\n")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert prompt_ids == tokenizer(expected)["input_ids"]  # the Tulu text, BOS added by the tokenizer
    assert prompt_ids[0] == tokenizer.bos_token_id
    assert header["config"]["agent_info"]["models"]["planner"]["path"] == str(checkpoint)
    assert trajectory.end_reason in ("answered", "planner_stopped", "subgoal_limit", "format_error", "truncated")


def test_prompt_style_lumos_eval_reproduces_lumos_evaluation_scripts(checkpoint, tmp_path):
    from transformers import AutoTokenizer

    from agents.backends.transformers import TransformersBackend
    from agents.prompts import lumos_eval_prompt

    conversation = [{"role": "user", "content": "Please provide a reasonable subgoal-based plan to solve the given task.\nTask: 2 + 3; Initial Environment Description: None."},
                    {"role": "assistant", "content": "Subgoal 1: Add the numbers."},
                    {"role": "user", "content": "The executed result for Subgoal 1 is 5. Should we stop planning?"}]
    written_out = ("<|user|>\nPlease provide a reasonable subgoal-based plan to solve the given task.\nTask: 2 + 3; Initial Environment Description: None.\n"
                   "<|assistant|>\nSubgoal 1: Add the numbers.\n\n<|user|>\nThe executed result for Subgoal 1 is 5. Should we stop planning?\n<|assistant|>\n")
    assert lumos_eval_prompt(conversation) == written_out
    backend = TransformersBackend.from_pretrained(str(checkpoint), device="cpu", prompt_style="lumos-eval")
    assert backend.format_chat(conversation) == written_out
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert backend.encode(written_out) == tokenizer(written_out, add_special_tokens=False)["input_ids"]  # no BOS, as the scripts
    tulu = TransformersBackend.from_pretrained(str(checkpoint), device="cpu")
    assert tulu.chat_format == "tulu"
    assert tulu.format_chat(conversation) == written_out.replace("Subgoal 1: Add the numbers.\n\n", "Subgoal 1: Add the numbers.</s>\n")


def test_bad_model_folders_fail_with_one_line(checkpoint, tmp_path, capsys, monkeypatch):
    import shutil

    from rollouts.cli import main

    suites = '[{"name": "m", "env_id": "lumos/Math-v0", "tasks": "synthetic:shopping_total?size=1"}]'
    assert main(["eval", "--agent", "lumos", "--model", str(tmp_path / "missing"), "--suites", suites, "--out", str(tmp_path / "o")]) == 2
    assert "no such model folder" in capsys.readouterr().err

    odd = tmp_path / "odd_weights"
    shutil.copytree(checkpoint, odd)
    (odd / "pytorch_model.bin").rename(odd / "weights.pt")
    assert main(["eval", "--agent", "lumos", "--model", str(odd), "--suites", suites, "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no weights in a known format" in err and len(err.splitlines()) == 1

    import importlib.util

    from agents.backends import transformers as backend_module

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(backend_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sentencepiece" else real_find_spec(name, *a))
    assert main(["eval", "--agent", "lumos", "--model", str(checkpoint), "--suites", suites, "--out", str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs the sentencepiece package" in err and "tiktoken" not in err and len(err.splitlines()) == 1


def test_a_v1_trajectory_file_still_reads(tmp_path):
    v1 = tmp_path / "v1.jsonl"
    header = {"type": "header", "schema_version": 1, "config_hash": "abc", "config": {}}
    episode = {"type": "episode", "key": {"env_id": "lumos/Math-v0", "task_id": "t1", "seed": 0, "sample": 0}, "split": "test",
               "domain": "math", "question": "1 + 1?", "steps": [{"index": 0, "action": "R1 = Calculator(1 + 1)", "observation": "R1 = 2",
               "reward": 0.0, "subgoal": "Subgoal 1: Add.", "error": None, "result": "2", "format_error": None, "latency_s": 0.001,
               "generations": [{"role": "planner", "text": "Subgoal 1: Add.", "token_ids": [5, 6], "logprobs": [-0.1, -0.2], "finish_reason": "stop"}]}],
               "final_answer": "2", "reward": 1.0, "success": True, "metrics": {"accuracy": 1.0}, "agent": {"agent": "lumos"},
               "terminated": True, "truncated": False, "wall_s": 0.5}
    v1.write_text(json.dumps(header) + "\n" + json.dumps(episode) + "\n", encoding="utf-8")
    read_header, (trajectory,) = read_trajectories(v1)
    assert read_header["schema_version"] == 1 and trajectory.success and trajectory.steps[0].generations[0].token_ids == [5, 6]
    assert trajectory.steps[0].generations[0].prompt_ids is None and trajectory.end_reason == ""


def test_unknown_fields_of_a_newer_minor_version_are_kept(tmp_path):
    from rollouts.store import Trajectory

    record = {"type": "episode", "key": {"env_id": "e", "task_id": "t", "seed": 0, "sample": 0}, "split": "", "domain": "math",
              "question": "q", "future_field": {"x": 1},
              "steps": [{"index": 0, "action": "a", "observation": "o", "step_note": "n",
                         "generations": [{"role": "planner", "text": "t", "token_mask": [1, 0]}]}]}
    trajectory = Trajectory.from_record(record)
    again = trajectory.to_record()
    assert again["future_field"] == {"x": 1}
    assert again["steps"][0]["step_note"] == "n" and again["steps"][0]["generations"][0]["token_mask"] == [1, 0]
