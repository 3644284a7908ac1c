"""Evaluation suites: categories follow the trained domains; the CLI writes a full report."""

from __future__ import annotations

import json

import pytest

from rollouts.cli import main
from rollouts.evaluation import EvalConfig, Suite

SUITES = [
    {"name": "math/test", "env_id": "lumos/Math-v0", "tasks": "synthetic:shopping_total?size=2&seed=1000"},
    {"name": "math/heldout", "env_id": "lumos/Math-v0", "tasks": "synthetic:svamp_like?size=2&seed=1000", "kind": "heldout"},
    {"name": "sql", "env_id": "lumos/SQL-v0", "tasks": "synthetic:sql_train?size=1&seed=1000"},
]


def test_categories_follow_trained_domains():
    suite = Suite("sql", "lumos/SQL-v0", None)
    assert suite.category(frozenset({"math"})) == "unseen"
    assert suite.category(frozenset({"sql"})) == "in-template"
    assert Suite("m", "lumos/Math-v0", None, "heldout").category(frozenset({"math"})) == "held-out"
    with pytest.raises(ValueError, match="unknown domains"):
        EvalConfig(trained_domains=["chess"])


def test_eval_command_writes_a_report_with_every_category(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--agent", "oracle", "--suites", json.dumps(SUITES), "--trained-domains", "math", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    categories = {s["name"]: (s["category"], s["success_rate"]) for s in report["suites"]}
    assert categories == {"math/test": ("in-template", 1.0), "math/heldout": ("held-out", 1.0), "sql": ("unseen", 1.0)}
    assert (out / "report.png").stat().st_size > 0 and "| math/test |" in (out / "report.md").read_text()
    assert "report:" in capsys.readouterr().out


def test_non_oracle_agents_need_a_model():
    assert main(["eval", "--agent", "lumos"]) == 2
