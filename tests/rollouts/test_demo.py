"""`lumos demo`'s plumbing without running the loop: the estimate printed before it starts, the
smollm2 sizes and LoRA training settings, and the headline (held-out maths beside in-template)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rollouts.cli import main
from rollouts.demo import DemoConfig, _train, demo_suites, estimate, headline, summary_table
from rollouts.report import SuiteResult


def test_smollm2_estimate_prints_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--model", "smollm2", "--estimate-only", "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(r"lumos demo: SmolLM2-135M-Instruct planner\+grounder \(LoRA\); about \d+ oracle training episodes, 8 min of training", line)
    assert "estimated" in line and line.endswith("min on 2 CPU cores") and not out.exists()


def test_sizes_follow_the_model_unless_given():
    tiny, small = DemoConfig(), DemoConfig(model="smollm2")
    assert (tiny.math_tasks_per_family, tiny.train_minutes, tiny.num_envs) == (300, 9.0, 32)
    assert (small.math_tasks_per_family, small.train_minutes, small.heldout_tasks) == (8, 8.0, 6)
    assert DemoConfig(model="smollm2", heldout_tasks=20).heldout_tasks == 20
    assert estimate(small)["eval_episodes"] < estimate(tiny)["eval_episodes"] / 5
    names = [s.name for s in demo_suites(small)]
    assert {"math/svamp-like", "math/linear-equation", "math/gsm8k-sample"} <= set(names)
    with pytest.raises(ValueError, match="--heldout-tasks must be >= 1"):
        DemoConfig(heldout_tasks=0)


def test_smollm2_trains_a_lora_planner_and_grounder(tmp_path, monkeypatch):
    import rollouts.training as training

    seen = []

    class Result:
        def __init__(self, output_dir: str) -> None:
            self.output_dir = output_dir

    monkeypatch.setattr(training, "train", lambda config, provenance=None: seen.append((config, provenance)) or Result(config.output_dir))
    records = [{"dataset": "maths", "id": "t1_planner", "messages": [{"role": "user", "content": "Task: 2 + 3?"}, {"role": "assistant", "content": "Subgoal 1: Add."}]}]
    planner, grounder, _ = _train(DemoConfig(model="smollm2", out=str(tmp_path)), tmp_path, records, {"domains": ["math"]})
    assert (Path(planner).name, Path(grounder).name) == ("planner", "grounder")
    assert [(c.base_model, c.lora, c.module, c.max_minutes, c.made_by) for c, _ in seen] == [("smollm2", True, "plan", 4.0, "demo"),
                                                                                              ("smollm2", True, "ground", 4.0, "demo")]
    assert all(p == {"domains": ["math"]} for _, p in seen) and (tmp_path / "smollm2" / "sft.jsonl").is_file()


def _suite(name: str, category: str, successes: int, episodes: int) -> SuiteResult:
    return SuiteResult(name=name, env_id="lumos/Math-v0", tasks="t", category=category, episodes=episodes, success_rate=successes / episodes,
                       mean_reward=successes / episodes, mean_steps=3.0, format_error_rate=0.0, mean_tokens=40.0, successes=successes)


def test_headline_pools_heldout_maths_beside_in_template():
    results = [_suite("math/shopping_total", "in-template", 45, 50), _suite("math/sharing", "in-template", 41, 50),
               _suite("math/svamp-like", "held-out", 6, 50), _suite("math/linear-equation", "held-out", 2, 50),
               _suite("math/gsm8k-sample", "in-template", 1, 25)]  # a record that covers GSM8K: not counted as held out
    head = headline(results)
    assert head["heldout_maths"]["suites"] == ["math/svamp-like", "math/linear-equation"]
    assert (head["heldout_maths"]["successes"], head["heldout_maths"]["episodes"]) == (8, 100)
    assert head["in_template_maths"]["episodes"] == 125 and head["not_heldout"] == ["math/gsm8k-sample"]
    low, high = head["heldout_maths"]["success_ci"]
    assert round(low, 3) == 0.041 and round(high, 3) == 0.150  # Wilson 95% of 8/100
    table = summary_table({"headline": head, "suites": {r.name: {"category": r.category, "episodes": r.episodes, "success_rate": r.success_rate,
                                                                 "success_ci": r.success_ci} for r in results}})
    assert "held-out maths (svamp-like, linear-equation; families and a dataset never trained on): 8/100 = 8.0% [4.1%, 15.0%]" in table
    assert ("in-template maths (shopping_total, sharing, gsm8k-sample; training families, test part: no question trained on, "
            "numbers masked): 87/125") in table
    assert "not counted as held-out (the training record covers them): math/gsm8k-sample" in table


def test_headline_never_pools_seen_suites():
    results = [_suite("math/shopping_total", "in-template", 45, 50), _suite("math/rate_time", "seen", 50, 50),
               _suite("math/svamp-like", "held-out", 6, 50)]
    head = headline(results)
    assert head["in_template_maths"]["suites"] == ["math/shopping_total"] and head["in_template_maths"]["episodes"] == 50
    assert head["seen"] == ["math/rate_time"] and head["heldout_maths"]["episodes"] == 50
    table = summary_table({"headline": head, "suites": {r.name: {"category": r.category, "episodes": r.episodes, "success_rate": r.success_rate,
                                                                 "success_ci": r.success_ci} for r in results}})
    assert "in no pool (seen: they repeat training questions, so they measure memory): math/rate_time" in table


def test_the_demo_suites_repeat_no_training_question():
    """At the default tiny sizes, no evaluation suite holds a training question, even with numbers masked:
    the training sets are `part=train`, the synthetic suites `part=test` (no training, no episode: just the task sources)."""
    from rollouts.demo import check_overlap, training_jobs

    config = DemoConfig()
    assert all("part=train" in job.tasks for job in training_jobs(config))
    assert all("part=test" in s.tasks for s in demo_suites(config) if s.name.startswith(("math/", "qa/", "multimodal/")) and "synthetic:" in s.tasks)
    found = check_overlap(config)
    assert set(found) == {s.name for s in demo_suites(config)}
    assert {name: (o["exact_duplicates"], o["masked_duplicates"]) for name, o in found.items() if o["exact_duplicates"] or o["masked_duplicates"]} == {}
    assert all(not o["skipped_specs"] and o["questions"] > 0 for o in found.values())


def test_the_estimate_counts_every_family_behind_an_aggregate_suite():
    """`size=` is per family: `qa_train?size=12` is 12 tasks of each training QA family."""
    from lumos_envs.tasks.registry import load_tasks

    config = DemoConfig(test_tasks_per_family=2, heldout_tasks=3)
    counted = estimate(config)["eval_episodes"]
    loaded = sum(min(len(list(load_tasks(s.tasks))), s.limit or 10**9) for s in demo_suites(config))
    assert counted == loaded
