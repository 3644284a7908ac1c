"""The `lumos` command line: replay-gold on real fixture data and bundled families, list, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from rollouts.cli import main


def test_replay_gold_json_on_gsm8k_and_svamp_fixtures(capsys, fixtures_dir):
    targets = {"gsm8k": ("gsm8k/test_sample.jsonl", 0.95), "svamp": ("svamp/sample.json", 0.99)}
    for loader, (path, target) in targets.items():
        assert main(["replay-gold", "--env", "lumos/Math-v0", "--tasks", f"{loader}:{fixtures_dir / path}", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["episodes"] == 25, "every item is counted, convertible or not"
        assert report["success_rate"] >= target, report["failures"]
        assert set(report) >= {"episodes", "success_rate", "failures"}


def test_replay_gold_text_output_and_limit(capsys):
    assert main(["replay-gold", "--tasks", "synthetic:math_heldout?size=5", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "3/3 gold plans succeed" in out


def test_replay_gold_counts_unconvertible_items_as_failures(tmp_path, capsys):
    path = tmp_path / "algebra.jsonl"
    rows = [
        {"question": "Tom has 3 apples and buys 4 more. How many?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"},
        {"question": "Let x be Ann's age; twice it is 10.", "answer": "Let x be her age. Then x = 5.\n#### 5"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert main(["replay-gold", "--tasks", f"gsm8k:{path}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["episodes"] == 2 and report["successes"] == 1
    (cause,) = report["failures"]
    assert cause.startswith("no_plan:")


def test_errors_are_one_line_with_exit_code_2(capsys):
    assert main(["replay-gold", "--env", "lumos/Nope-v0"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["replay-gold", "--tasks", "gsm8k:/nonexistent/file.jsonl"]) == 2
    assert main(["replay-gold", "--tasks", "nope:x"]) == 2


def test_console_script_lists_envs_tasks_and_tools():
    for what, expected in (("envs", "lumos/Math-v0"), ("tasks", "synthetic:math_train"), ("tools", "Calculator(formula)")):
        out = subprocess.run([sys.executable, "-m", "rollouts.cli", "list", what], capture_output=True, text=True, check=True).stdout
        assert expected in out


def test_shop_serve_is_reachable_as_two_words(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        main(["shop", "serve", "--help"])
    assert exit_info.value.code == 0 and "shop-serve" in capsys.readouterr().out
