"""Evaluation suites: categories derived from the models' training records (unknown without one,
asserted only with an explicit --trained-domains), intervals, samples, comparisons and one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from agents.models import read_model_record, write_model_record
from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.synthetic_math import MATH_FAMILIES
from rollouts.categories import CATEGORIES, training_overlap, training_provenance, training_questions
from rollouts.cli import main
from rollouts.commands import EvalCommand, run_eval_command
from rollouts.evaluation import EvalConfig, Suite, categorise, suites_from_json
from rollouts.policies import AgentConfig
from rollouts.store import StoreError

SUITES = [
    {"name": "math/test", "env_id": "lumos/Math-v0", "tasks": "synthetic:shopping_total?size=2&seed=1000&part=test"},
    {"name": "math/heldout", "env_id": "lumos/Math-v0", "tasks": "synthetic:svamp_like?size=2&seed=1000&part=test", "kind": "heldout"},
    {"name": "sql", "env_id": "lumos/SQL-v0", "tasks": "synthetic:sql_lookup?size=1&seed=1000&part=test"},
]
SEEN_SUITE = {"name": "math/seen", "env_id": "lumos/Math-v0", "tasks": "synthetic:shopping_total?size=2&seed=0&part=train"}
"""the first questions of the training set itself"""

TRAINING = {
    "task_specs": ["synthetic:shopping_total?size=30&seed=0&part=train", "synthetic:qa_bridge?size=10&seed=0", "gsm8k:data/train.jsonl"],
    "families": ["shopping_total", "qa_bridge"], "domains": ["math", "qa"], "template_ids": [],
    "record_counts": {"plan": 40, "ground": 40}, "formulation": "iterative",
}

CATEGORY_SUITES = [
    Suite("math/shopping_total", "lumos/Math-v0", "synthetic:shopping_total?size=4&seed=1000"),
    Suite("math/svamp-like", "lumos/Math-v0", "synthetic:svamp_like?size=4&seed=1000"),  # its author says "test": never counts
    Suite("math/gsm8k-test", "lumos/Math-v0", "gsm8k:data/test.jsonl", "heldout"),
    Suite("math/svamp-file", "lumos/Math-v0", "svamp:data/SVAMP.json"),
    Suite("qa/bridge", "lumos/QA-v0", "synthetic:qa_bridge?size=2&seed=1000", "heldout"),
    Suite("qa/compositional", "lumos/QA-v0", "synthetic:qa_compositional?size=2&seed=1000"),
    Suite("sql", "lumos/SQL-v0", "synthetic:sql_train?size=1&seed=1000"),
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """An untrained tiny model: its record has tiny options and no training provenance."""
    from agents.backends.tiny import TinyModelConfig, default_corpus, save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny") / "model",
                     TinyModelConfig(vocab_size=512, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
                     corpus=default_corpus(("synthetic:math_train?size=5",)))


def _trained(tiny_dir, folder, training):
    """A copy of the tiny model whose `lumos_model.json` says what it was trained on."""
    shutil.copytree(tiny_dir, folder)
    record = read_model_record(folder)
    record.training = dict(training)
    write_model_record(folder, record)
    return folder


def _categories(agent_info, suites=CATEGORY_SUITES, trained_domains=None):
    decisions, provenance = categorise(suites, agent_info, trained_domains)
    return {name: (d.category, d.decided_by) for name, d in decisions.items()}, provenance


def test_a_trained_models_categories_come_from_its_record(tiny_dir, tmp_path):
    model = _trained(tiny_dir, tmp_path / "trained", TRAINING)
    categories, provenance = _categories(AgentConfig(agent="lumos", model=str(model)).info(), trained_domains=["sql"])
    assert categories == {
        "math/shopping_total": ("in-template", "training.task_specs"),
        "math/svamp-like": ("held-out", "training.families"),
        "math/gsm8k-test": ("in-template", "training.task_specs"),
        "math/svamp-file": ("held-out", "training.task_specs"),
        "qa/bridge": ("in-template", "training.families"),
        "qa/compositional": ("held-out", "training.families"),
        "sql": ("unseen", "training.domains"),
    }
    assert provenance["derived"] and "ignored" in provenance["note"], "the record wins over --trained-domains"
    assert provenance["training"]["families"] == ["qa_bridge", "shopping_total"]


def test_template_ids_make_a_template_disjoint_suite_held_out(tiny_dir, tmp_path):
    suite = Suite("math/shopping_total", "lumos/Math-v0", "synthetic:shopping_total?size=4&seed=1000&templates=train")
    used = {t.metadata["template"] for t in load_tasks(suite.tasks)}
    others = [t.key for t in MATH_FAMILIES["shopping_total"].templates if t.key not in used]
    assert others, "the suite should leave out at least one of the family's templates"
    disjoint = _trained(tiny_dir, tmp_path / "disjoint", {**TRAINING, "template_ids": [f"shopping_total/{k}" for k in others]})
    categories, _ = _categories(AgentConfig(agent="lumos", model=str(disjoint)).info(), [suite])
    assert categories == {suite.name: ("held-out-template", "training.template_ids")}
    shared = _trained(tiny_dir, tmp_path / "shared", {**TRAINING, "template_ids": sorted(used)})
    categories, _ = _categories(AgentConfig(agent="lumos", model=str(shared)).info(), [suite])
    assert categories == {suite.name: ("in-template", "training.template_ids")}


def test_the_training_specs_templates_decide_a_template_disjoint_suite(tiny_dir, tmp_path):
    """Trained on `?templates=train`: a `?templates=test` suite is held-out (template-disjoint); trained on
    every template, the same suite is in-template (its templates were trained on)."""
    suite = Suite("math/rate_time-test-templates", "lumos/Math-v0", "synthetic:rate_time?size=4&seed=1000&part=test&templates=test")
    half = _trained(tiny_dir, tmp_path / "half", {"task_specs": ["synthetic:rate_time?size=20&seed=0&part=train&templates=train"]})
    decisions, provenance = categorise([suite], AgentConfig(agent="lumos", model=str(half)).info(), None)
    assert (decisions[suite.name].category, decisions[suite.name].decided_by) == ("held-out-template", "training.task_specs")
    assert "weekly_wage" not in provenance["training"]["trained_templates"]["rate_time"]
    every = _trained(tiny_dir, tmp_path / "every", {"task_specs": ["synthetic:rate_time?size=20&seed=0&part=train"]})
    assert _categories(AgentConfig(agent="lumos", model=str(every)).info(), [suite])[0][suite.name][0] == "in-template"


def test_domains_come_from_families_when_the_record_names_none(tiny_dir, tmp_path):
    model = _trained(tiny_dir, tmp_path / "m", {"task_specs": ["synthetic:math_train?size=5"]})
    categories, provenance = _categories(AgentConfig(agent="lumos", model=str(model)).info())
    assert categories["math/shopping_total"] == ("in-template", "training.task_specs")
    assert categories["math/svamp-like"] == ("held-out", "training.families")
    assert categories["qa/bridge"] == ("unseen", "training.task_specs")
    assert provenance["training"]["domains"] == ["math"]


def test_a_round_of_improve_keeps_what_its_base_was_trained_on(tiny_dir, tmp_path):
    base = _trained(tiny_dir, tmp_path / "base", TRAINING)
    round_1 = _trained(tiny_dir, tmp_path / "round_1", {"task_specs": ["synthetic:sharing?size=2&seed=5"], "trained_from": str(base)})
    suites = CATEGORY_SUITES[:2] + [Suite("math/sharing", "lumos/Math-v0", "synthetic:sharing?size=2&seed=1000")] + CATEGORY_SUITES[-1:]
    categories, provenance = _categories(AgentConfig(agent="lumos", model=str(round_1)).info(), suites)
    assert {n: c for n, (c, _) in categories.items()} == {"math/shopping_total": "in-template", "math/svamp-like": "held-out",
                                                        "math/sharing": "in-template", "sql": "unseen"}
    assert f"planner's base: {base}" in provenance["source"]
    public = tmp_path / "public"
    public.mkdir()
    (public / "config.json").write_text("{}")
    from_public = _trained(tiny_dir, tmp_path / "from_public", {"task_specs": ["synthetic:sharing?size=2"], "trained_from": str(public)})
    categories, provenance = _categories(AgentConfig(agent="lumos", model=str(from_public)).info(), suites)
    assert {c for c, _ in categories.values()} == {"unknown"} and "may have seen anything" in provenance["source"]


def test_overlap_with_the_training_questions(tiny_dir, tmp_path):
    model = _trained(tiny_dir, tmp_path / "trained", TRAINING)
    questions = training_questions(training_provenance(AgentConfig(agent="lumos", model=str(model)).info()))
    assert "gsm8k:data/train.jsonl" in questions.skipped, "a training file this machine lacks is named, not ignored"
    assert len(questions.exact) > 30 and len(questions.masked) <= len(questions.exact)
    same_seed = training_overlap("lumos/Math-v0", "synthetic:shopping_total?size=5&seed=0&part=train", questions)
    assert same_seed["exact_duplicates"] == 5 and same_seed["masked_duplicates"] == 5, "the training split itself"
    assert same_seed["by_spec"] == {TRAINING["task_specs"][0]: 5}
    test_part = training_overlap("lumos/Math-v0", "synthetic:shopping_total?size=50&seed=1000&part=test", questions)
    assert test_part["exact_duplicates"] == 0 and test_part["masked_duplicates"] == 0
    other = training_overlap("lumos/Math-v0", "synthetic:svamp_like?size=5&seed=0", questions)
    assert other["exact_duplicates"] == 0 and other["masked_duplicates"] == 0


def test_a_public_checkpoint_is_never_in_domain(tiny_dir, tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "config.json").write_text("{}")  # a hub checkpoint: weights and config, no lumos_model.json
    for folder, why in ((public, "no lumos_model.json"), (tiny_dir, "no training record")):
        categories, provenance = _categories(AgentConfig(agent="lumos", model=str(folder)).info())
        assert {c for c, _ in categories.values()} == {"unknown"}, folder
        assert why in provenance["source"] and not provenance["derived"]
    # trained planner, public grounder: the grounder may have seen anything
    trained = _trained(tiny_dir, tmp_path / "trained", TRAINING)
    mixed = AgentConfig(agent="lumos", planner_model=str(trained), grounder_model=str(public)).info()
    assert {c for c, _ in _categories(mixed)[0].values()} == {"unknown"}
    # asserted only when the user says so, and labelled as such
    categories, provenance = _categories(AgentConfig(agent="lumos", model=str(public)).info(), trained_domains=["math"])
    assert categories["math/svamp-file"] == ("in-template", "--trained-domains") and categories["sql"][0] == "unseen"
    assert "asserted" in provenance["source"]


def test_untrained_model_evaluation_reports_unknown(tiny_dir, tmp_path):
    suites = json.dumps(SUITES[:1] + SUITES[2:])
    command = EvalCommand(agent="lumos", model=str(tiny_dir), suites=suites, out=str(tmp_path / "eval"), max_subgoals=1,
                          max_new_tokens=6, num_envs=2, device="cpu")
    assert run_eval_command(command) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert {s["category"] for s in report["suites"]} == {"unknown"}
    assert set(report["categories"]) == {"unknown"} and not report["category_provenance"]["derived"]
    rows = [line for line in (tmp_path / "eval" / "report.md").read_text().splitlines() if line.startswith(("| math/test |", "| sql |"))]
    assert rows and all(row.split(" | ")[1] == "unknown" for row in rows[:2]), rows


def test_eval_refuses_a_suite_that_repeats_training_questions(tiny_dir, tmp_path, capsys):
    model = _trained(tiny_dir, tmp_path / "trained", TRAINING)
    out = tmp_path / "refused"
    flags = ["eval", "--agent", "lumos", "--model", str(model), "--suites", json.dumps(SUITES + [SEEN_SUITE]), "--out", str(out)]
    assert main(flags) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lumos eval: error: suite 'math/seen' has 2 exact and 2 masked duplicates of training questions among its 2 "
                          f"(training spec {TRAINING['task_specs'][0]})") and "--allow-overlap" in err and "\n" not in err, err
    assert not out.exists(), "refused before any episode ran"


def test_trained_model_evaluation_carries_the_provenance(tiny_dir, tmp_path):
    model = _trained(tiny_dir, tmp_path / "trained", TRAINING)
    command = EvalCommand(agent="lumos", model=str(model), suites=json.dumps(SUITES + [SEEN_SUITE]), out=str(tmp_path / "eval"),
                          max_subgoals=1, max_new_tokens=6, num_envs=4, device="cpu", allow_overlap=True)
    assert run_eval_command(command) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    suites = {s["name"]: s for s in report["suites"]}
    assert {n: (s["category"], s["category_decided_by"]) for n, s in suites.items()} == {
        "math/test": ("in-template", "training.task_specs"), "math/heldout": ("held-out", "training.families"),
        "sql": ("unseen", "training.domains"), "math/seen": ("seen", "training questions")}
    assert "by its families alone: in-template" in suites["math/seen"]["category_reason"]
    assert report["categories"]["seen"]["suites"] == ["math/seen"] and report["categories"]["in-template"]["suites"] == ["math/test"]
    assert report["category_provenance"]["derived"] and str(model) in report["category_provenance"]["source"]
    assert list(report["category_provenance"]["training"]["record_counts"].values()) == [{"plan": 40, "ground": 40}]
    for suite in suites.values():
        low, high = suite["success_ci"]
        assert 0.0 <= low <= suite["success_rate"] <= high <= 1.0
        assert sum(suite["end_reasons"].values()) == suite["episodes"]
    assert suites["math/test"]["training_overlap"]["questions"] == 2 and suites["math/test"]["training_overlap"]["masked_duplicates"] == 0
    assert suites["sql"]["training_overlap"]["masked_duplicates"] == 0, "every suite is checked"
    text = (tmp_path / "eval" / "report.md").read_text()
    assert "Why episodes ended" in text and "by training.families" in text and "equal once numbers are masked" in text
    main_table, _, seen_table = text.partition("Seen suites:")
    assert "| math/seen |" not in main_table.split("Per category")[0] and "| math/seen | seen |" in seen_table


def test_asserted_categories_follow_trained_domains():
    suite = Suite("sql", "lumos/SQL-v0", None)
    assert suite.category(frozenset({"math"})) == "unseen"
    assert suite.category(frozenset({"sql"})) == "in-template"
    assert Suite("m", "lumos/Math-v0", None, "heldout").category(frozenset({"math"})) == "held-out"
    with pytest.raises(ValueError, match="unknown domains"):
        EvalConfig(trained_domains=["chess"])
    assert set(CATEGORIES) == {"in-template", "held-out-template", "held-out", "unseen", "seen", "unknown"}


def test_oracle_eval_with_samples_compare_and_asserted_domains(tmp_path, capsys):
    first = EvalCommand(agent="oracle", suites=json.dumps(SUITES), trained_domains=["math"], out=str(tmp_path / "a"), samples=2)
    assert run_eval_command(first) == 0
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    categories = {s["name"]: (s["category"], s["success_rate"]) for s in report["suites"]}
    assert categories == {"math/test": ("in-template", 1.0), "math/heldout": ("held-out", 1.0), "sql": ("unseen", 1.0)}
    math_test = report["suites"][0]
    assert math_test["samples"] == 2 and math_test["episodes"] == 4 and math_test["pass_at_k"] == {"1": 1.0, "2": 1.0}
    assert math_test["end_reasons"] == {"answered": 4} and math_test["mean_at_k"] == 1.0
    assert "asserted" in report["category_provenance"]["source"]
    assert (tmp_path / "a" / "report.png").stat().st_size > 0 and "pass@2" in (tmp_path / "a" / "report.md").read_text()
    assert "report:" in capsys.readouterr().out

    again = EvalCommand(agent="oracle", suites=json.dumps(SUITES), trained_domains=["math"], out=str(tmp_path / "b"), samples=2,
                        compare_to=str(tmp_path / "a"))
    assert run_eval_command(again) == 0
    comparison = json.loads((tmp_path / "b" / "report.json").read_text())["suites"][0]["comparison"]
    assert comparison["pairs"] == 4 and comparison["unpaired"] == 0 and comparison["success_diff"] == 0.0
    assert comparison["mcnemar_p"] == 1.0 and comparison["both"] == 4


def test_user_errors_are_one_line(tmp_path, capsys):
    changed = [dict(SUITES[0], tasks="synthetic:shopping_total?size=3&seed=1000")]
    run_eval_command(EvalCommand(agent="oracle", suites=json.dumps(SUITES[:1]), out=str(tmp_path / "a")))
    capsys.readouterr()
    cases = [
        (["--suites", json.dumps(changed), "--out", str(tmp_path / "b"), "--compare-to", str(tmp_path / "a")],
         "a paired comparison needs the same tasks"),
        (["--suites", json.dumps(SUITES[:1]), "--out", str(tmp_path / "a")], "--overwrite"),
        (["--suites", json.dumps([{"nam": "x", "env_id": "lumos/Math-v0"}]), "--out", str(tmp_path / "c")],
         "allowed: name, env_id, tasks, kind, limit, env_kwargs"),
        (["--suites", "{not json", "--out", str(tmp_path / "c")], "JSON list"),
        (["--suites", json.dumps(SUITES[:1]), "--out", str(tmp_path / "a"), "--overwrite", "--compare-to", str(tmp_path / "a")],
         "compare with another folder"),
    ]
    for flags, expected in cases:
        assert main(["eval", "--agent", "oracle", *flags]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "b").exists(), "refused before any episode ran"
    assert main(["eval", "--agent", "oracle", "--suites", json.dumps(SUITES[:1]), "--out", str(tmp_path / "a"), "--overwrite"]) == 0
    with pytest.raises(StoreError, match="exists"):
        run_eval_command(EvalCommand(agent="oracle", suites=json.dumps(SUITES[:1]), out=str(tmp_path / "a")))
    with pytest.raises(ValueError, match="missing keys"):
        suites_from_json('[{"name": "x"}]')


def test_non_oracle_agents_need_a_model():
    assert main(["eval", "--agent", "lumos"]) == 2
