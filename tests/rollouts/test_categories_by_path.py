"""Suite categories for every way lumos makes a model (SFT, DPO, GRPO, a round of `lumos improve`):
each path's own record-writing code writes `lumos_model.json`, and the same suite kinds get the same
labels: in-template (the test part), seen (refused unless allowed), held-out (template-disjoint),
held-out, unseen, and unknown for a module without a record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agents.backends.tiny import TinyModelConfig, save_tiny
from agents.models import read_model_record, write_model_record
from rollouts.evaluation import EvalConfig, Suite, label_suites
from rollouts.policies import AgentConfig
from rollouts.training import TrainConfig, rendered_corpus, train

SMALL = TinyModelConfig(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=1024)
TRAIN_SPEC = "synthetic:rate_time?size=12&seed=0&part=train&templates=train"
"""what every path trains on: rate_time's training part, drawn from its `train` templates only"""

SUITES = [
    Suite("in-template", "lumos/Math-v0", "synthetic:rate_time?size=4&seed=1000&part=test&templates=train"),
    Suite("seen", "lumos/Math-v0", "synthetic:rate_time?size=4&seed=0&part=train&templates=train"),
    Suite("template-disjoint", "lumos/Math-v0", "synthetic:rate_time?size=4&seed=1000&part=test&templates=test"),
    Suite("held-out", "lumos/Math-v0", "synthetic:svamp_like?size=4&seed=1000&part=test"),
    Suite("unseen", "lumos/SQL-v0", "synthetic:sql_lookup?size=2&seed=1000&part=test"),
]
EXPECTED = {"in-template": "in-template", "seen": "seen", "template-disjoint": "held-out-template", "held-out": "held-out",
            "unseen": "unseen"}

PLAN = "Please provide a reasonable subgoal-based plan to solve the given task.\nTask: Ava walks {n} km.; Initial Environment Description: None."


def _conversation(n: int, answer: str = "Subgoal 1: Calculate the distance.") -> list[dict[str, str]]:
    return [{"role": "user", "content": PLAN.format(n=n)}, {"role": "assistant", "content": answer}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("paths")
    sft = root / "sft.jsonl"
    sft.write_text("".join(json.dumps({"dataset": "maths", "id": f"maths_{n}", "messages": _conversation(n)}) + "\n" for n in range(4)))
    pairs = root / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"dataset": "maths", "id": f"maths_{n}", "prompt": _conversation(n)[:1],
                                         "chosen": _conversation(n)[1:], "rejected": _conversation(n, "Subgoal 1: Guess.")[1:]}) + "\n"
                             for n in range(4)))
    base = save_tiny(root / "base", SMALL, rendered_corpus([{"messages": _conversation(n)} for n in range(4)], False))
    return {"root": root, "sft": sft, "pairs": pairs, "base": Path(base)}


def _train(workspace: dict[str, Path], name: str, **settings) -> Path:
    settings = {"data_files": [str(workspace["sft"])], "base_model": str(workspace["base"]), **settings}
    provenance = settings.pop("provenance", None)
    result = train(TrainConfig(output_dir=str(workspace["root"] / name), max_steps=1, per_device_train_batch_size=2, logging_steps=1,
                               save_strategy="no", max_length=256, disable_tqdm=True, report_to="none", seed=0, **settings), provenance)
    return Path(result.output_dir)


def _labels(model: Path | str, *, allow_overlap: bool = True, grounder: Path | str | None = None) -> dict[str, str]:
    info = AgentConfig(agent="lumos", planner_model=str(model), grounder_model=str(grounder or model)).info()
    decisions, _, _ = label_suites(EvalConfig(suites=SUITES, agent_info=info, allow_overlap=allow_overlap))
    return {name: decision.category for name, decision in decisions.items()}


def _check_every_kind(model: Path, workspace: dict[str, Path]) -> None:
    assert _labels(model) == EXPECTED
    with pytest.raises(ValueError) as refused:
        _labels(model, allow_overlap=False)
    message = str(refused.value)
    assert "suite 'seen' has 4 exact and 4 masked duplicates of training questions among its 4" in message
    assert TRAIN_SPEC in message and "--allow-overlap" in message and "\n" not in message
    public = workspace["root"] / "public"
    public.mkdir(exist_ok=True)
    (public / "config.json").write_text("{}")  # a hub checkpoint: no lumos_model.json
    assert set(_labels(model, grounder=public).values()) == {"unknown"}


def test_sft_records_what_it_trained_on(workspace):
    model = _train(workspace, "sft", task_specs=[TRAIN_SPEC])
    assert read_model_record(model).training["domains"] == ["math"]
    _check_every_kind(model, workspace)


def test_dpo_records_what_it_trained_on(workspace):
    model = _train(workspace, "dpo", method="dpo", data_files=[str(workspace["pairs"])], task_specs=[TRAIN_SPEC])
    assert read_model_record(model).training["method"] == "dpo"
    _check_every_kind(model, workspace)


def test_a_round_of_improve_records_its_rounds_tasks(workspace):
    from rollouts.improve import ImproveConfig, round_provenance

    config = ImproveConfig(model=str(workspace["base"]), env=["lumos/Math-v0"], tasks=[TRAIN_SPEC], heldout_suites="[]")
    model = _train(workspace, "improve", made_by="improve", provenance=round_provenance(config, 1, [0, 1]))
    training = read_model_record(model).training
    assert [r["round"] for r in training["rounds"]] == [0, 1] and training["rounds"][1]["task_specs"] == [TRAIN_SPEC]
    _check_every_kind(model, workspace)


def _grpo_model(workspace: dict[str, Path], name: str, model: str, tasks: str) -> Path:
    """A folder holding what `save_grpo_model` writes for a run from `model` on `tasks` (weights left out)."""
    from rollouts.grpo import GrpoConfig, GrpoResult, grpo_record

    base = read_model_record(model) if Path(model).is_dir() else None
    result = GrpoResult(output_dir="", steps=1, wall_time_s=1.0, stopped_by_budget=False, episodes=4, mean_reward=0.5,
                        constant_groups=0, groups=1)
    folder = workspace["root"] / name
    shutil.copytree(workspace["base"], folder)
    write_model_record(folder, grpo_record(GrpoConfig(model=model, env="lumos/Math-v0", tasks=tasks), result, base))
    return folder


def test_grpo_from_a_pretrained_model_labels_its_families(workspace):
    """GRPO from smollm2 (no training record of its own): the GRPO tasks alone decide."""
    model = _grpo_model(workspace, "grpo_smollm2", "smollm2", TRAIN_SPEC)
    assert read_model_record(model).training["families"] == ["rate_time"]
    _check_every_kind(model, workspace)


def test_grpo_after_sft_counts_both(workspace):
    """A family trained only by GRPO (shopping_total) is in-template or seen; the SFT base's family still counts."""
    sft = _train(workspace, "sft_for_grpo", task_specs=[TRAIN_SPEC])
    model = _grpo_model(workspace, "grpo_after_sft", str(sft), "synthetic:shopping_total?size=6&seed=0&part=train")
    extra = [Suite("grpo/test", "lumos/Math-v0", "synthetic:shopping_total?size=4&seed=1000&part=test"),
             Suite("grpo/train", "lumos/Math-v0", "synthetic:shopping_total?size=3&seed=0&part=train")]
    info = AgentConfig(agent="lumos", model=str(model)).info()
    decisions, provenance, _ = label_suites(EvalConfig(suites=SUITES + extra, agent_info=info, allow_overlap=True))
    assert {n: d.category for n, d in decisions.items()} == {**EXPECTED, "grpo/test": "in-template", "grpo/train": "seen"}
    assert f"planner's base: {sft}" in provenance["source"]
