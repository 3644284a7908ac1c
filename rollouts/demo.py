"""`lumos demo`: the whole LUMOS loop on bundled defaults, on a CPU, in about a quarter of an hour.

1. Oracle trajectories (the engine and `OracleAgent`) on the training families of maths, QA and
   multimodal tasks; real execution results in every feedback turn.
2. LUMOS SFT records from them (`rollouts/sft_data.py`): unified planning and grounding data.
3. A tiny planner+grounder (one model, LUMOS's unified shape) built from a config and trained with
   TRL's `SFTTrainer` under a wall-clock budget (`rollouts/training.py`, `TinyRecipe`).
4. Evaluation of the trained agent on in-domain test splits (other seeds), held-out families and
   datasets, and the unseen WebShop and SQL domains; `report.md`, `report.json`, `report.png`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.evaluation import EvalConfig, Suite, evaluate
from rollouts.policies import AgentConfig, make_agent
from rollouts.sft_data import trajectory_records
from rollouts.store import read_trajectories
from rollouts.training import TINY_TRAIN_FAMILIES, TinyRecipe, train_tiny

BUNDLED_GSM8K_SAMPLE = Path(__file__).resolve().parents[1] / "lumos_envs" / "tasks" / "data" / "gsm8k_test_sample.jsonl"
"""25 GSM8K test problems shipped with lumos (MIT; see lumos_envs/tasks/data/README.md)"""


@dataclass
class DemoConfig:
    """Run the whole LUMOS loop on bundled tasks: oracle trajectories, SFT data, a tiny model trained on the CPU, and its evaluation report."""

    out: str = "runs/demo"
    """folder for trajectories, data, model and report"""
    train_minutes: float = 9.0
    """wall-clock training budget"""
    math_tasks_per_family: int = 300
    """training tasks per GSM8K-like family (seed 0)"""
    other_tasks: int = 40
    """training tasks per QA and multimodal family"""
    test_tasks_per_family: int = 50
    """in-domain test tasks per GSM8K-like family (seed `test_seed`): 4 families -> 200 tasks"""
    heldout_tasks: int = 50
    """tasks per held-out or unseen suite"""
    test_seed: int = 1000
    """task seed of every evaluation split (training uses seed 0)"""
    gsm8k_file: str = ""
    """a GSM8K jsonl evaluated as a held-out dataset; default: the 25-problem GSM8K test sample lumos ships (MIT)"""
    num_envs: int = 32
    """episodes in flight during evaluation"""
    max_subgoals: int = 6
    """LUMOS-I planning limit during evaluation: one more than the longest bundled gold plan (5), so
    an agent that never stops planning costs a bounded time (it kept the demo within 15 minutes)"""
    max_new_tokens: int = 96
    """longest planner or grounder turn during evaluation, tokens"""
    vqa_backend: str = "learned"
    """the multimodal env's VQA tool (`learned`: the model lumos trains itself; `oracle` for quick tests)"""
    seed: int = 0


def run_demo(config: DemoConfig) -> dict[str, Any]:
    """Run every stage; returns the report paths and the headline numbers."""
    started = time.monotonic()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    tick = time.monotonic()
    oracle_path = out / "oracle.jsonl"
    jobs = [Job("lumos/Math-v0", f"synthetic:{family}?size={config.math_tasks_per_family}&seed=0") for family in TINY_TRAIN_FAMILIES]
    jobs += [Job("lumos/QA-v0", f"synthetic:qa_train?size={config.other_tasks}&seed=0"),
             Job("lumos/Multimodal-v0", f"synthetic:multimodal_train?size={config.other_tasks}&seed=0",
                 env_kwargs=(("vqa_backend", config.vqa_backend),))]
    run_rollouts(RolloutConfig(jobs=jobs, out=str(oracle_path), overwrite=True, reveal_gold=True, num_envs=32,
                               agent_info={"agent": "oracle"}, progress=False), make_agent(AgentConfig(agent="oracle")))
    timings["oracle_rollouts_s"] = time.monotonic() - tick

    tick = time.monotonic()
    _, trajectories = read_trajectories(oracle_path)
    sets = trajectory_records(trajectories)
    records = [r for name, rs in sets.items() if name.endswith(("_plan_iterative", "_ground_iterative")) for r in rs]
    timings["sft_data_s"] = time.monotonic() - tick

    tick = time.monotonic()
    recipe = TinyRecipe(max_minutes=config.train_minutes, seed=config.seed)
    provenance = {"task_specs": [job.tasks for job in jobs], "env_ids": sorted({job.env_id for job in jobs}),
                  "families": [*TINY_TRAIN_FAMILIES, "qa_train", "multimodal_train"], "domains": ["math", "qa", "multimodal"],
                  "formulation": "iterative"}
    trained = train_tiny(recipe, out / "tiny", records=records, provenance=provenance)
    timings["training_s"] = time.monotonic() - tick

    tick = time.monotonic()
    suites = demo_suites(config)
    agent_config = AgentConfig(agent="lumos", planner_model=trained.planner_dir, grounder_model=trained.grounder_dir,
                               max_subgoals=config.max_subgoals, max_new_tokens=config.max_new_tokens)
    result = evaluate(EvalConfig(suites=suites, trained_domains=["math", "qa", "multimodal"], out=str(out / "report"),
                                 num_envs=config.num_envs, title="lumos demo: tiny LUMOS agent trained on oracle trajectories",
                                 agent_info={**agent_config.info(), "train_minutes": config.train_minutes,
                                             "training_records": len(records), "train_steps": trained.steps}),
                      make_agent(agent_config))
    timings["evaluation_s"] = time.monotonic() - tick
    timings["total_s"] = time.monotonic() - started
    gsm8k_like = [r for r in result.results if r.name in {f"math/{family}" for family in TINY_TRAIN_FAMILIES}]
    episodes = sum(r.episodes for r in gsm8k_like)
    summary = {
        "headline": {
            "gsm8k_like_test_success": sum(r.success_rate * r.episodes for r in gsm8k_like) / episodes if episodes else 0.0,
            "gsm8k_like_test_tasks": episodes,
            "note": "end-to-end answers of the trained tiny planner+grounder on the test split (seed "
                    f"{config.test_seed}) of the GSM8K-like training families {', '.join(TINY_TRAIN_FAMILIES)}",
        },
        "report": str(result.report["md"]),
        "suites": {r.name: {"category": r.category, "episodes": r.episodes, "success_rate": r.success_rate} for r in result.results},
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "training": {module: result.to_dict() for module, result in trained.results.items()},
    }
    report_json = result.report["json"]
    data = json.loads(report_json.read_text())
    data["demo"] = summary
    report_json.write_text(json.dumps(data, indent=2))
    return summary


def demo_suites(config: DemoConfig) -> list[Suite]:
    n, seed = config.heldout_tasks, config.test_seed
    vqa = (("vqa_backend", config.vqa_backend),)
    suites = [
        *[Suite(f"math/{family}", "lumos/Math-v0", f"synthetic:{family}?size={config.test_tasks_per_family}&seed={seed}")
          for family in TINY_TRAIN_FAMILIES],
        Suite("math/svamp-like", "lumos/Math-v0", f"synthetic:svamp_like?size={n}&seed={seed}", "heldout"),
        Suite("math/linear-equation", "lumos/Math-v0", f"synthetic:linear_equation?size={n}&seed={seed}", "heldout"),
        Suite("qa/test", "lumos/QA-v0", f"synthetic:qa_train?size={max(1, n // 4)}&seed={seed}"),
        Suite("qa/heldout", "lumos/QA-v0", f"synthetic:qa_heldout?size={max(1, n // 2)}&seed={seed}", "heldout"),
        Suite("multimodal/test", "lumos/Multimodal-v0", f"synthetic:multimodal_train?size={max(1, n // 4)}&seed={seed}",
              env_kwargs=vqa),
        Suite("multimodal/heldout", "lumos/Multimodal-v0", f"synthetic:multimodal_heldout?size={max(1, n // 3)}&seed={seed}",
              "heldout", env_kwargs=vqa),
        Suite("webshop", "lumos/WebShop-v0", f"synthetic:webshop_train?size={max(1, n // 3)}&seed={seed}"),
        Suite("sql", "lumos/SQL-v0", f"synthetic:sql_train?size={max(1, n // 2)}&seed={seed}"),
    ]
    gsm8k = Path(config.gsm8k_file) if config.gsm8k_file else BUNDLED_GSM8K_SAMPLE
    if not gsm8k.is_file():
        raise ValueError(f"--gsm8k-file {gsm8k} does not exist")
    suites.insert(len(TINY_TRAIN_FAMILIES) + 1, Suite("math/gsm8k-sample", "lumos/Math-v0", f"gsm8k:{gsm8k}", "heldout"))
    return suites


def run_demo_command(config: DemoConfig) -> int:
    summary = run_demo(config)
    for name, suite in summary["suites"].items():
        print(f"{name:24s} {suite['category']:9s} {suite['episodes']:4d} episodes  success {suite['success_rate']:.1%}")
    headline = summary["headline"]
    print(f"GSM8K-like test split: {headline['gsm8k_like_test_success']:.1%} correct over {headline['gsm8k_like_test_tasks']} tasks")
    print(f"finished in {summary['timings']['total_s'] / 60:.1f} min; report: {summary['report']}")
    return 0
