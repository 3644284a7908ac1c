"""`lumos demo`: the whole LUMOS loop on bundled defaults, on a CPU, in about a quarter of an hour.

1. Oracle trajectories (the engine and `OracleAgent`) on the training families of maths, QA and
   multimodal tasks; real execution results in every feedback turn.
2. LUMOS SFT records from them (`rollouts/sft_data.py`): unified planning and grounding data.
3. A planner and a grounder trained on them with TRL's `SFTTrainer` under a wall-clock budget
   (`rollouts/training.py`): by default tiny models built from a config (`TinyRecipe`); with
   `--model smollm2`, LoRA adapters on the real pretrained SmolLM2-135M-Instruct, at CPU sizes.
4. Evaluation of the trained agent on in-template test splits (other seeds, the `part=test` part:
   no question the model trained on, even with numbers masked), held-out families and datasets, and
   the unseen WebShop and SQL domains; `report.md`, `report.json`, `report.png`.

The headline is the held-out maths suites (svamp-like, linear-equation, the bundled GSM8K sample):
families and a dataset the agent never trained on, so the number says whether it learned to solve
maths word problems rather than to fill in its training templates. In-template success (the
training families' test part: their templates with questions the model never trained on, numbers
masked) stands beside it; both with Wilson 95% intervals, pooled over their suites. Categories are
derived from the models' training records, not asserted; training is on every family's `part=train`
and evaluation on `part=test`, so no suite repeats a training question (`lumos eval` would refuse
it), and a suite that did would be `seen` and in neither pool.

The terminal gets one line per stage, a progress bar per evaluation suite, the table and where
the report is; everything the libraries print (TRL's loss dictionaries, transformers' warnings)
goes to `logs/` under the output folder (`logs/train.log` for training, `logs/demo.log` for the rest).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Literal, TextIO

from rollouts.engine import Job, RolloutConfig, run_rollouts
from rollouts.evaluation import EvalConfig, Suite, evaluate
from rollouts.policies import AgentConfig, make_agent
from rollouts.sft_data import trajectory_records
from rollouts.stats import wilson_interval
from rollouts.store import read_trajectories
from rollouts.training import TINY_TRAIN_FAMILIES

BUNDLED_GSM8K_SAMPLE = Path(__file__).resolve().parents[1] / "lumos_envs" / "tasks" / "data" / "gsm8k_test_sample.jsonl"
"""25 GSM8K test problems shipped with lumos (MIT; see lumos_envs/tasks/data/README.md)"""

HELDOUT_MATHS = ("math/svamp-like", "math/linear-equation", "math/gsm8k-sample")
"""the headline suites: maths the agent never trained on"""

SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(train_minutes=9.0, math_tasks_per_family=300, other_tasks=40, test_tasks_per_family=50, heldout_tasks=50,
                 num_envs=32, max_new_tokens=96),
    "smollm2": dict(train_minutes=8.0, math_tasks_per_family=8, other_tasks=4, test_tasks_per_family=3, heldout_tasks=6,
                    num_envs=8, max_new_tokens=48),
}
"""per model, the defaults of the size fields left unset (None); smollm2's fit a 2-core CPU in about 25 minutes"""

SECONDS_PER_EPISODE = {"oracle": 0.03, "tiny": 0.4, "smollm2": 20.0}
"""estimate constants, seconds per evaluation episode on a 2-core machine. oracle: 1,480 training
episodes in 37 s; tiny: 589 evaluation episodes in 158 s measured on the demo with KV reuse,
rounded up for a shared machine; smollm2: extrapolated, not measured on the
demo: bench_smollm2_rollouts' 3.4 s per episode (8 batched, 2 subgoals of 24 tokens, idle machine)
times ~6 for up to 6 subgoals of 48 tokens"""
SECONDS_OVERHEAD = {"tiny": 30.0, "smollm2": 120.0}
"""imports, model building or loading, report writing"""


@dataclass
class DemoConfig:
    """Run the whole LUMOS loop on bundled tasks: oracle trajectories, SFT data, a planner and grounder trained on the CPU, and their evaluation report."""

    out: str = "runs/demo"
    """folder for trajectories, data, models, logs and report"""
    model: Literal["tiny", "smollm2"] = "tiny"
    """tiny: ~1M-parameter models built and trained from scratch; smollm2: LoRA on the pretrained SmolLM2-135M-Instruct (CPU sizes)"""
    estimate_only: bool = False
    """print the stages' sizes and estimated duration, and stop"""
    train_minutes: float | None = None
    """wall-clock training budget (planner and grounder together); default 9 (tiny), 8 (smollm2)"""
    math_tasks_per_family: int | None = None
    """training tasks per GSM8K-like family (seed 0, part=train); default 300 (tiny), 8 (smollm2)"""
    other_tasks: int | None = None
    """training tasks per QA and multimodal family; default 40 (tiny), 4 (smollm2)"""
    test_tasks_per_family: int | None = None
    """in-template test tasks per training maths family (seed `test_seed`, part=test); default 50 (tiny), 3 (smollm2)"""
    heldout_tasks: int | None = None
    """tasks per held-out or unseen suite (the GSM8K sample has 25); default 50 (tiny), 6 (smollm2)"""
    test_seed: int = 1000
    """task seed of every evaluation split (part=test; training uses seed 0, part=train)"""
    gsm8k_file: str = ""
    """a GSM8K jsonl evaluated as a held-out dataset; default: the 25-problem GSM8K test sample lumos ships (MIT)"""
    num_envs: int | None = None
    """episodes in flight during evaluation; default 32 (tiny), 8 (smollm2)"""
    max_subgoals: int = 6
    """LUMOS-I planning limit during evaluation: one more than the longest bundled gold plan (5), so
    an agent that never stops planning costs a bounded time (it kept the demo within 15 minutes)"""
    max_new_tokens: int | None = None
    """longest planner or grounder turn during evaluation, tokens; default 96 (tiny), 48 (smollm2)"""
    vqa_backend: str = "learned"
    """the multimodal env's VQA tool (`learned`: the model lumos trains itself; `oracle` for quick tests)"""
    seed: int = 0
    """training seed"""

    def __post_init__(self) -> None:
        if self.model not in SIZES:
            raise ValueError(f"--model must be one of {', '.join(SIZES)}, got {self.model!r}")
        for name, value in SIZES[self.model].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        for name in ("math_tasks_per_family", "other_tasks", "test_tasks_per_family", "heldout_tasks", "num_envs", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.train_minutes <= 0:  # type: ignore[operator]
            raise ValueError(f"--train-minutes must be > 0, got {self.train_minutes}")


TRAIN_PART = "seed=0&part=train"
"""every training task set's seed and part: the evaluation suites draw from `part=test`, which
shares no question with it once numbers are masked"""


def training_jobs(config: DemoConfig) -> list[Job]:
    """The oracle's training task sets: the tiny recipe's maths families, QA and multimodal (seed 0, part=train)."""
    jobs = [Job("lumos/Math-v0", f"synthetic:{family}?size={config.math_tasks_per_family}&{TRAIN_PART}") for family in TINY_TRAIN_FAMILIES]
    jobs += [Job("lumos/QA-v0", f"synthetic:qa_train?size={config.other_tasks}&{TRAIN_PART}"),
             Job("lumos/Multimodal-v0", f"synthetic:multimodal_train?size={config.other_tasks}&{TRAIN_PART}",
                 env_kwargs=(("vqa_backend", config.vqa_backend),))]
    return jobs


def estimate(config: DemoConfig) -> dict[str, float]:
    """Seconds each stage is expected to take on the shared 2-core machine (see `SECONDS_PER_EPISODE`)."""
    train_episodes = sum(_suite_size(Suite(job.tasks, job.env_id, job.tasks)) for job in training_jobs(config))
    eval_episodes = sum(_suite_size(suite) for suite in demo_suites(config))
    return {"oracle_rollouts_s": train_episodes * SECONDS_PER_EPISODE["oracle"],
            "training_s": float(config.train_minutes) * 60 + SECONDS_OVERHEAD[config.model],  # type: ignore[arg-type]
            "evaluation_s": eval_episodes * SECONDS_PER_EPISODE[config.model] + SECONDS_OVERHEAD[config.model],
            "train_episodes": float(train_episodes), "eval_episodes": float(eval_episodes)}


def estimate_line(config: DemoConfig) -> str:
    """What the run will do and how long it should take, printed before it starts."""
    e = estimate(config)
    total = e["oracle_rollouts_s"] + e["training_s"] + e["evaluation_s"]
    model = "tiny planner+grounder (from scratch)" if config.model == "tiny" else "SmolLM2-135M-Instruct planner+grounder (LoRA)"
    return (f"lumos demo: {model}; about {int(e['train_episodes'])} oracle training episodes, {config.train_minutes:g} min of training, "
            f"about {int(e['eval_episodes'])} evaluation episodes; estimated {total / 60:.0f} min on 2 CPU cores")


def run_demo(config: DemoConfig, console: TextIO | None = None) -> dict[str, Any]:
    """Run every stage; returns the report paths and the headline numbers.

    Stage lines go to `console` (default: the terminal's stdout as it was at the start); whatever
    the libraries print goes to `out/logs/`.
    """
    started = time.monotonic()
    out = Path(config.out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    own_console = console is None
    console = console or _terminal()
    say = lambda text: print(text, file=console, flush=True)  # noqa: E731
    timings: dict[str, float] = {}

    check_overlap(config)  # before anything runs: evaluation would refuse such a suite after training
    with output_to(logs / "demo.log"):
        tick = time.monotonic()
        oracle_path = out / "oracle.jsonl"
        jobs = training_jobs(config)
        say(f"[1/4] oracle trajectories on the training tasks ({sum(1 for _ in jobs)} task sets) ...")
        rollout = run_rollouts(RolloutConfig(jobs=jobs, out=str(oracle_path), overwrite=True, reveal_gold=True, num_envs=32,
                                             agent_info={"agent": "oracle"}, progress=False), make_agent(AgentConfig(agent="oracle")))
        timings["oracle_rollouts_s"] = time.monotonic() - tick
        say(f"      {rollout.episodes} episodes, {rollout.success_rate:.0%} solved, in {timings['oracle_rollouts_s']:.0f} s -> {oracle_path}")

        tick = time.monotonic()
        _, trajectories = read_trajectories(oracle_path)
        sets = trajectory_records(trajectories)
        records = [r for name, rs in sets.items() if name.endswith(("_plan_iterative", "_ground_iterative")) for r in rs]
        timings["sft_data_s"] = time.monotonic() - tick
        say(f"[2/4] {len(records)} LUMOS-I planning and grounding records from the successful episodes")

        tick = time.monotonic()
        provenance = {**training_provenance(config), "formulation": "iterative"}
        train_log = logs / "train.log"
        say(f"[3/4] training the {config.model} planner and grounder for {config.train_minutes:g} min (log: {train_log}) ...")
        with output_to(train_log):
            planner_dir, grounder_dir, training = _train(config, out, records, provenance)
        timings["training_s"] = time.monotonic() - tick
        steps = {module: r.steps for module, r in training.items()}
        losses = {m: r.final_loss for m, r in training.items()}
        say("      " + ", ".join(f"{m}: {steps[m]} steps, final loss " + (f"{losses[m]:.3f}" if losses[m] is not None else "-") for m in steps)
            + f" in {timings['training_s'] / 60:.1f} min")

        tick = time.monotonic()
        suites = demo_suites(config)
        say(f"[4/4] evaluating on {len(suites)} suites (report: {out / 'report'}):")
        agent_config = AgentConfig(agent="lumos", planner_model=planner_dir, grounder_model=grounder_dir,
                                   max_subgoals=config.max_subgoals, max_new_tokens=config.max_new_tokens)  # type: ignore[arg-type]
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # transformers' "Loading weights" bars: one bar per suite is the stage's
        with _stderr_to(console):  # the suites' progress bars
            result = evaluate(EvalConfig(suites=suites, out=str(out / "report"), num_envs=config.num_envs,  # type: ignore[arg-type]
                                         title=f"lumos demo: {config.model} LUMOS agent trained on oracle trajectories",
                                         agent_info={**agent_config.info(), "train_minutes": config.train_minutes,
                                                     "training_records": len(records), "train_steps": sum(steps.values())}),
                              make_agent(agent_config))
        hf_logging.enable_progress_bar()
        timings["evaluation_s"] = time.monotonic() - tick
    timings["total_s"] = time.monotonic() - started
    if own_console and console is not sys.stdout:
        console.close()
    summary = {
        "model": config.model,
        "headline": headline(result.results),
        "report": str(result.report["md"]),
        "logs": str(logs),
        "suites": {r.name: {"category": r.category, "episodes": r.episodes, "successes": r.successes, "success_rate": r.success_rate,
                            "success_ci": r.success_ci} for r in result.results},
        "categories": result.categories,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "estimate": {k: round(v, 1) for k, v in estimate(config).items()},
        "training": {module: r.to_dict() for module, r in training.items()},
    }
    report_json = result.report["json"]
    data = json.loads(report_json.read_text())
    data["demo"] = summary
    report_json.write_text(json.dumps(data, indent=2))
    report_md = result.report["md"]
    report_md.write_text(report_md.read_text(encoding="utf-8") + "\n## Demo headline\n\n```\n" + summary_table(summary) + "\n```\n",
                         encoding="utf-8")
    return summary


def training_provenance(config: DemoConfig) -> dict[str, Any]:
    """What the demo's models are trained on, for their `lumos_model.json`: the training jobs' task
    specs, families and domains (`rollouts.categories.task_provenance`)."""
    from rollouts.categories import task_provenance

    return task_provenance((job.env_id, job.tasks) for job in training_jobs(config))


def check_overlap(config: DemoConfig) -> dict[str, dict[str, Any]]:
    """Each evaluation suite's overlap with the training questions (`rollouts.evaluation.suite_overlaps`).

    Raises:
        ValueError: a suite repeats a training question, exactly or with numbers masked (the message
            names it, the counts and the training spec).
    """
    from rollouts.categories import training_questions
    from rollouts.evaluation import refuse_overlap, suite_overlaps

    found = suite_overlaps(demo_suites(config), training_questions(training_provenance(config)["task_specs"]))
    refuse_overlap(found, flag=None)
    return found


def headline(results: list[Any]) -> dict[str, Any]:
    """Held-out maths (the headline suites, pooled) beside in-template maths, each with its Wilson interval.

    A headline suite whose derived category is not `held-out` is left out of the pool and named
    (`not_heldout`): the training record says the agent saw its kind of task. `seen` suites (they
    repeat training questions) are in no pool and named (`seen`); neither are template-disjoint ones."""
    by_name = {r.name: r for r in results}
    heldout = [by_name[n] for n in HELDOUT_MATHS if n in by_name and by_name[n].category == "held-out"]
    in_template = [r for r in results if r.env_id == "lumos/Math-v0" and r.category == "in-template"]
    seen = [r.name for r in results if r.env_id == "lumos/Math-v0" and r.category == "seen"]

    def pooled(chosen: list[Any]) -> dict[str, Any]:
        episodes = sum(r.episodes for r in chosen)
        successes = sum(int(r.successes or 0) for r in chosen)
        return {"suites": [r.name for r in chosen], "episodes": episodes, "successes": successes,
                "success_rate": successes / episodes if episodes else 0.0, "success_ci": wilson_interval(successes, episodes)}

    return {"heldout_maths": pooled(heldout), "in_template_maths": pooled(in_template),
            "not_heldout": [n for n in HELDOUT_MATHS if n in by_name and by_name[n].category != "held-out"], "seen": seen,
            "note": "end-to-end answers of the trained agent; held-out: svamp-like, linear-equation and the GSM8K sample, "
                    "never trained on; in-template: the training maths families' test part (another seed, no question the "
                    "model trained on, numbers masked); seen suites (repeated training questions) are in neither pool"}


def _train(config: DemoConfig, out: Path, records: list[dict[str, Any]], provenance: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Train the planner and grounder; returns their folders and the `TrainResult` per module."""
    if config.model == "tiny":
        from rollouts.training import TinyRecipe, train_tiny

        trained = train_tiny(TinyRecipe(max_minutes=float(config.train_minutes), seed=config.seed), out / "tiny",  # type: ignore[arg-type]
                             records=records, provenance=provenance)
        return trained.planner_dir, trained.grounder_dir, dict(trained.results)
    from rollouts.training import TrainConfig, train

    folder = out / "smollm2"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    results = {}
    for module, name in (("plan", "planner"), ("ground", "grounder")):  # one after the other: each uses both cores
        results[module] = train(TrainConfig(
            output_dir=str(folder / name), base_model="smollm2", module=module, data_files=[str(data)], lora=True,
            max_minutes=float(config.train_minutes) / 2, num_train_epochs=3, learning_rate=5e-4, max_length=512,  # type: ignore[arg-type]
            per_device_train_batch_size=2, logging_steps=5, save_strategy="no", report_to="none", disable_tqdm=True,
            seed=config.seed, made_by="demo"), provenance=provenance)
    return results["plan"].output_dir, results["ground"].output_dir, results


def heldout_maths_suites(size: int, seed: int = 1000, gsm8k_file: str = "", part: str = "test") -> list[Suite]:
    """The held-out maths suites (svamp-like, linear-equation: `size` tasks of `part` at `seed`; the
    GSM8K sample, at most `size` of its problems): the demo's headline, and `lumos improve`'s default."""
    gsm8k = Path(gsm8k_file) if gsm8k_file else BUNDLED_GSM8K_SAMPLE
    if not gsm8k.is_file():
        raise ValueError(f"--gsm8k-file {gsm8k} does not exist")
    return [
        Suite("math/svamp-like", "lumos/Math-v0", f"synthetic:svamp_like?size={size}&seed={seed}&part={part}", "heldout"),
        Suite("math/linear-equation", "lumos/Math-v0", f"synthetic:linear_equation?size={size}&seed={seed}&part={part}", "heldout"),
        Suite("math/gsm8k-sample", "lumos/Math-v0", f"gsm8k:{gsm8k}", "heldout", limit=size if size < 25 else None),
    ]


def demo_suites(config: DemoConfig) -> list[Suite]:
    """In-template maths, the held-out maths headline, then QA, multimodal and the unseen WebShop and SQL:
    every synthetic suite the test part (`part=test`) at `test_seed`, but SQL (`sql_aggregate`'s masked
    questions are too few to fill a test part; the domain is never trained on, and the overlap check says so)."""
    n, seed = int(config.heldout_tasks), config.test_seed  # type: ignore[arg-type]
    test = f"seed={seed}&part=test"
    vqa = (("vqa_backend", config.vqa_backend),)
    return [
        *[Suite(f"math/{family}", "lumos/Math-v0", f"synthetic:{family}?size={config.test_tasks_per_family}&{test}")
          for family in TINY_TRAIN_FAMILIES],
        *heldout_maths_suites(n, seed, config.gsm8k_file),
        Suite("qa/test", "lumos/QA-v0", f"synthetic:qa_train?size={max(1, n // 4)}&{test}"),
        Suite("qa/heldout", "lumos/QA-v0", f"synthetic:qa_heldout?size={max(1, n // 2)}&{test}", "heldout"),
        Suite("multimodal/test", "lumos/Multimodal-v0", f"synthetic:multimodal_train?size={max(1, n // 4)}&{test}",
              env_kwargs=vqa),
        Suite("multimodal/heldout", "lumos/Multimodal-v0", f"synthetic:multimodal_heldout?size={max(1, n // 3)}&{test}",
              "heldout", env_kwargs=vqa),
        Suite("webshop", "lumos/WebShop-v0", f"synthetic:webshop_train?size={max(1, n // 3)}&{test}"),
        Suite("sql", "lumos/SQL-v0", f"synthetic:sql_train?size={max(1, n // 2)}&seed={seed}"),  # sql_aggregate has no test part
    ]


def _suite_size(suite: Suite) -> int:
    """Episodes of a suite without loading it: the spec's `size=`, a GSM8K file's lines."""
    if suite.tasks and "size=" in suite.tasks:
        size = int(suite.tasks.split("size=")[1].split("&")[0]) * _families_behind(suite.tasks)
    elif suite.tasks and suite.tasks.startswith("gsm8k:"):
        path = Path(suite.tasks.partition(":")[2])
        size = sum(1 for line in path.open(encoding="utf-8") if line.strip()) if path.is_file() else 0
    else:
        size = 0
    return min(size, suite.limit) if suite.limit is not None else size


def _families_behind(spec: str) -> int:
    """How many bundled families a `synthetic:` spec draws from (`size=` is per family)."""
    from lumos_envs.tasks.registry import synthetic_members

    if not spec.startswith("synthetic:"):
        return 1
    return max(1, len(synthetic_members(spec.partition(":")[2].split("?")[0])))


def _terminal() -> TextIO:
    """A stream on the terminal's stdout that stays there while fd 1 points at a log file
    (`sys.stdout` itself where it is no file descriptor, as under pytest's capsys)."""
    sys.stdout.flush()
    try:
        return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError and a ValueError
        return sys.stdout


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 at `path` (appending): library prints, warnings and the
    training processes (which inherit the descriptors) all land there, not on the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log, warnings.catch_warnings():
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: log.write(  # noqa: E731
            warnings.formatwarning(message, category, filename, lineno, line))
        try:
            yield
        finally:
            log.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def _stderr_to(stream: TextIO) -> Iterator[None]:
    """`sys.stderr` is `stream` meanwhile (progress bars read it when they start)."""
    saved, sys.stderr = sys.stderr, stream
    try:
        yield
    finally:
        sys.stderr = saved


def _interval(rate: dict[str, Any]) -> str:
    low, high = rate["success_ci"] or (0.0, 0.0)
    return f"{rate['success_rate']:6.1%} [{low:.1%}, {high:.1%}]"


def summary_table(summary: dict[str, Any]) -> str:
    """The closing table: one row per suite with its interval, then the headline."""
    from rollouts.categories import category_label

    lines = [f"{'suite':24s} {'category':11s} {'episodes':>8s}  success [Wilson 95%]"]
    for name, suite in summary["suites"].items():
        lines.append(f"{name:24s} {category_label(suite['category']):11s} {suite['episodes']:8d}  {_interval(suite)}")
    head = summary["headline"]
    held, within = head["heldout_maths"], head["in_template_maths"]
    lines.append("")
    lines.append(f"held-out maths ({', '.join(s.split('/')[1] for s in held['suites'])}; families and a dataset never trained on): "
                 f"{held['successes']}/{held['episodes']} = {_interval(held).strip()}")
    lines.append(f"in-template maths ({', '.join(s.split('/')[1] for s in within['suites'])}; training families, test part: "
                 f"no question trained on, numbers masked): {within['successes']}/{within['episodes']} = {_interval(within).strip()}")
    if head["not_heldout"]:
        lines.append(f"not counted as held-out (the training record covers them): {', '.join(head['not_heldout'])}")
    if head.get("seen"):
        lines.append(f"in no pool (seen: they repeat training questions, so they measure memory): {', '.join(head['seen'])}")
    return "\n".join(lines)


def run_demo_command(config: DemoConfig) -> int:
    print(estimate_line(config), flush=True)
    if config.estimate_only:
        return 0
    summary = run_demo(config)
    print(summary_table(summary))
    print(f"finished in {summary['timings']['total_s'] / 60:.1f} min; report: {summary['report']} (logs: {summary['logs']})")
    return 0
