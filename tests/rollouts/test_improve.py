"""`lumos improve`'s settings: its agent, the held-out suites it evaluates after every round, the
AgentEvol switches, and the per-round line that puts held-out gain beside training success."""

from __future__ import annotations

import json

import pytest

from rollouts.cli import main
from rollouts.improve import ImproveConfig, round_line


def test_the_default_agent_is_lumos_and_oracle_is_refused_in_one_line(tmp_path, capsys):
    assert ImproveConfig(model="smollm2").agent == "lumos"
    out = tmp_path / "improve"
    assert main(["improve", "--agent", "oracle", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("lumos improve: error: lumos improve trains a LUMOS planner and grounder; --agent oracle cannot be improved: "
                   "use --agent lumos (the default) with --model")
    assert not out.exists()  # refused before anything ran
    assert main(["improve", "--out", str(out)]) == 2
    assert "needs --model" in capsys.readouterr().err


def test_heldout_suites_default_to_the_validation_parts_of_the_demos_heldout_maths_and_take_a_json_list(tmp_path, capsys):
    config = ImproveConfig(model="smollm2", heldout_size=7)
    suites = config.suites()
    assert [s.name for s in suites] == ["math/svamp-like", "math/linear-equation"], "no test set is watched between rounds"
    assert suites[0].tasks == "synthetic:svamp_like?size=7&seed=2000&part=validation"
    assert config.accumulate and config.restart_from_base  # AgentEvol by default
    own = ImproveConfig(model="smollm2", heldout_suites=json.dumps([{"name": "qa", "env_id": "lumos/QA-v0", "tasks": "synthetic:qa_heldout?size=3"}]))
    assert [(s.name, s.tasks) for s in own.suites()] == [("qa", "synthetic:qa_heldout?size=3")]
    assert ImproveConfig(model="smollm2", heldout_suites="[]").suites() == []
    assert main(["improve", "--model", "smollm2", "--heldout-suites", '[{"nam": "x"}]', "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lumos improve: error: --heldout-suites item 0: unknown keys ['nam']") and "\n" not in err


def test_the_earlier_loop_is_two_flags_away(capsys):
    with pytest.raises(SystemExit):
        main(["improve", "--help"])
    text = capsys.readouterr().out
    assert "--no-accumulate" in text and "--no-restart-from-base" in text and "--heldout-suites" in text


def test_round_line_puts_heldout_gain_beside_training_success():
    summary = {"round": 1, "training_success": {"successes": 30, "episodes": 40, "success_rate": 0.75, "success_ci": (0.598, 0.858)},
               "heldout": {"pooled": {"successes": 12, "episodes": 125, "success_rate": 0.096, "success_ci": (0.0557, 0.1605)}},
               "heldout_gain": 0.024, "training_records": 210, "new_models": {"plan": "r1/model_plan", "ground": "r1/model_ground"}}
    assert round_line(summary) == ("round 1: own training tasks (sampled) 30/40 = 75.0% [59.8%, 85.8%]; "
                                   "held-out 12/125 = 9.6% [5.6%, 16.1%], gain +2.4 points; 210 records -> r1/model_plan, r1/model_ground")


def test_heldout_suites_that_repeat_the_training_tasks_are_refused_before_round_0(tmp_path, capsys):
    suites = json.dumps([{"name": "math/own", "env_id": "lumos/Math-v0", "tasks": "synthetic:sharing?size=3&seed=0&part=train"}])
    out = tmp_path / "improve"
    flags = ["improve", "--model", "smollm2", "--tasks", "synthetic:sharing?size=5&seed=0&part=train", "--heldout-suites", suites,
             "--out", str(out)]
    assert main(flags) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lumos improve: error: suite 'math/own' has 3 exact and 3 masked duplicates") and "\n" not in err, err
    assert "--allow-overlap" not in err and not out.exists(), "refused before anything ran"
