"""Evaluation: an agent on a suite of (env, task set) pairs, each labelled by its distance from training.

Each suite is rolled out with the engine into its own trajectory file, summarised with the right
metric per env (the env's reward: numeric match for maths, EM for QA, WebShop's reward, InterCode's
execution reward, multiple-choice accuracy) and its intervals, and the whole run is written as
`report.md`, `report.json` and `report.png` (`rollouts/report.py`).

A suite's category (`in-template`, `held-out-template`, `held-out`, `unseen`, `seen` or `unknown`)
is derived from the training provenance in the models' records (`rollouts/categories.py`), never
asserted: a public checkpoint has no record and gets `unknown`. Only where no record says anything
and `trained_domains` is set explicitly are categories taken from it and each suite's `kind`, and
the report says so.

Before the first episode every suite is checked against the training questions the records name
(their task specs rebuilt): a suite that repeats any, exactly or once numbers are masked, is
refused in one line naming it, the counts and the training spec, unless `allow_overlap` is set;
then it runs, labelled `seen`, and pools with nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from lumos_envs.domains import Domain
from rollouts.categories import (ENV_DOMAINS, CategoryDecision, TrainingProvenance, TrainingQuestions, asserted, decide, overlap_sentence,
                                 overlaps, seen_decision, training_overlap, training_provenance, training_questions, unknown)
from rollouts.engine import ExecutorOptions, Job, Policy, PolicyFactory, RolloutConfig, build_policy, run_rollouts
from rollouts.report import SuiteResult, category_summary, check_comparable, summarize, write_report
from rollouts.store import StoreError, read_trajectories

__all__ = ["ENV_DOMAINS", "EvalConfig", "EvalResult", "Suite", "default_suites", "evaluate", "label_suites", "refuse_overlap", "suite_overlaps",
           "suites_from_json", "suites_to_json"]

AgentKind = Literal["oracle", "lumos", "integrated", "cot"]


@dataclass(frozen=True)
class Suite:
    """One evaluation set."""

    name: str
    env_id: str
    tasks: str | None
    """task spec; None for the env's default tasks"""
    kind: Literal["test", "heldout"] = "test"
    """what the suite's author means it to be (`test`: new items of trained families; `heldout`: never
    trained on); used only for categories asserted with `trained_domains`, never over a model record"""
    limit: int | None = None
    """first N tasks"""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """extra env arguments, e.g. (("vqa_backend", "oracle"),)"""

    def category(self, trained_domains: frozenset[str]) -> str:
        """The category `trained_domains` and `kind` assert (for agents without a training record)."""
        return asserted(self.env_id, self.kind, trained_domains).category


SUITE_KEYS = tuple(f.name for f in fields(Suite))


def suites_from_json(text: str) -> list[Suite]:
    """Suites from `--suites`: a JSON list of objects with the keys of `Suite`.

    Raises:
        ValueError: for text that is not such a list, naming the allowed keys.
    """
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError(f"--suites must be a JSON list of objects: {error}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("--suites must be a JSON list of objects with keys " + ", ".join(SUITE_KEYS))
    suites = []
    for index, item in enumerate(data):
        unknown_keys = sorted(set(item) - set(SUITE_KEYS))
        missing = [k for k in ("name", "env_id") if k not in item]
        if unknown_keys or missing:
            problem = f"unknown keys {unknown_keys}" if unknown_keys else f"missing keys {missing}"
            raise ValueError(f"--suites item {index}: {problem}; allowed: {', '.join(SUITE_KEYS)} (name and env_id required)")
        values = dict(item)
        values.setdefault("tasks", None)
        kwargs = values.get("env_kwargs", {})
        if isinstance(kwargs, dict):
            values["env_kwargs"] = tuple(sorted(kwargs.items()))
        elif isinstance(kwargs, list):
            values["env_kwargs"] = tuple((str(k), v) for k, v in kwargs)
        else:
            raise ValueError(f"--suites item {index}: env_kwargs must be a JSON object")
        if values.get("kind", "test") not in ("test", "heldout"):
            raise ValueError(f"--suites item {index}: kind must be 'test' or 'heldout', got {values['kind']!r}")
        suites.append(Suite(**values))
    return suites


def default_suites(size: int = 50, test_seed: int = 1000) -> list[Suite]:
    """lumos's bundled suite: every domain, the test part (`part=test`: no question a `part=train`
    training set holds, numbers masked) on a seed the training data never uses; SQL without a part
    (`sql_aggregate`'s masked questions are too few to fill one: a model trained on SQL may see it refused)."""
    test = f"seed={test_seed}&part=test"
    return [
        Suite("math/gsm8k-like", "lumos/Math-v0", f"synthetic:math_train?size={max(1, size // 6)}&{test}"),
        Suite("math/svamp-like", "lumos/Math-v0", f"synthetic:math_heldout?size={size}&{test}", "heldout"),
        Suite("qa/test", "lumos/QA-v0", f"synthetic:qa_train?size={max(1, size // 4)}&{test}"),
        Suite("qa/heldout", "lumos/QA-v0", f"synthetic:qa_heldout?size={max(1, size // 2)}&{test}", "heldout"),
        Suite("multimodal/test", "lumos/Multimodal-v0", f"synthetic:multimodal_train?size={max(1, size // 4)}&{test}"),
        Suite("multimodal/heldout", "lumos/Multimodal-v0", f"synthetic:multimodal_heldout?size={max(1, size // 2)}&{test}", "heldout"),
        Suite("webshop", "lumos/WebShop-v0", f"synthetic:webshop_train?size={max(1, size // 3)}&{test}"),
        Suite("sql", "lumos/SQL-v0", f"synthetic:sql_train?size={max(1, size // 2)}&seed={test_seed}"),  # sql_aggregate has no test part
    ]


@dataclass
class EvalConfig(ExecutorOptions):
    """Evaluate one agent on a suite."""

    suites: list[Suite] = field(default_factory=default_suites)
    """what to evaluate on"""
    trained_domains: list[str] | None = None
    """domains the agent was trained on, used only when the models carry no training record (the
    report then says the categories were asserted); None: such suites are `unknown`"""
    out: str = "runs/eval"
    """report folder (trajectories under `trajectories/`)"""
    samples: int = 1
    """attempts per task; above 1 the report adds pass@k and mean@k"""
    num_envs: int = 16
    """episodes in flight at once"""
    max_steps: int = 20
    """env step limit per episode"""
    seed: int = 0
    """reset seeds start here (bootstrap intervals use it too)"""
    overwrite: bool = True
    """replace earlier trajectories of the same suites"""
    resume: bool = False
    """continue earlier trajectories of the same suites (same config), running only missing episodes"""
    compare_to: str | None = None
    """an earlier report (folder or report.json) to pair episodes with"""
    allow_overlap: bool = False
    """evaluate suites that repeat training questions the records name (exactly or once numbers
    are masked), labelled `seen`; off: such a suite is refused before the first episode"""
    title: str = "lumos evaluation"
    agent_info: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    """a progress bar per suite (episodes, episodes/s, ETA, success so far)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.trained_domains is not None:
            unknown_domains = set(self.trained_domains) - {d.value for d in Domain}
            if unknown_domains:
                raise ValueError(f"trained_domains has unknown domains {sorted(unknown_domains)}; known: {[d.value for d in Domain]}")
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other")
        names = [suite.name for suite in self.suites]
        if len(set(names)) != len(names):
            raise ValueError(f"suite names must be unique, got {names}")
        for suite in self.suites:
            if suite.env_id not in ENV_DOMAINS:
                raise ValueError(f"suite {suite.name!r}: unknown env {suite.env_id!r}; known: {', '.join(ENV_DOMAINS)}")


@dataclass
class EvalResult:
    """The suites' summaries, the report files, and what the categories were derived from."""

    results: list[SuiteResult]
    report: dict[str, Path]
    category_provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def categories(self) -> dict[str, dict[str, Any]]:
        """Per category: its suites, pooled episodes and successes, success rate and Wilson interval."""
        return category_summary(self.results)


def evaluate(config: EvalConfig, agent: Policy | PolicyFactory, *, reveal_gold: bool = False) -> EvalResult:
    """Roll `agent` out on every suite and write the report.

    `agent` is a policy or a factory (`rollouts.engine.PolicyFactory`); the ray executor needs the
    factory, the local one builds the policy once for all suites. Everything that can be refused
    (an existing output folder, a comparison with other tasks) is refused before the first episode.

    Raises:
        StoreError: a suite's trajectory file exists and neither `overwrite` nor `resume` is set.
        ValueError: `compare_to` has a suite of the same name with another task spec; a suite
            repeats training questions and `allow_overlap` is off (`refuse_overlap`).
    """
    out = Path(config.out)
    paths = {suite.name: out / "trajectories" / (suite.name.replace("/", "__") + ".jsonl") for suite in config.suites}
    if not (config.overwrite or config.resume):
        existing = [p for p in paths.values() if p.exists() and p.stat().st_size > 0]
        if existing:
            raise StoreError(f"{existing[0]} exists; pass --resume to continue the evaluation or --overwrite to replace it")
    if config.compare_to is not None:
        earlier = Path(config.compare_to)
        if (earlier if earlier.is_dir() else earlier.parent).resolve() == out.resolve():
            raise ValueError(f"--compare-to {config.compare_to} is the report --out would replace; compare with another folder")
        check_comparable(((s.name, s.env_id, s.tasks or "default", dict(s.env_kwargs)) for s in config.suites), config.compare_to)
    decisions, provenance, found = label_suites(config)
    if config.executor == "local":
        agent = build_policy(agent)
    results = []
    for suite in config.suites:
        path = paths[suite.name]
        rollout = RolloutConfig(
            jobs=[Job(suite.env_id, suite.tasks, suite.limit, env_kwargs=suite.env_kwargs)], seed=config.seed,
            samples=config.samples, max_steps=config.max_steps, num_envs=config.num_envs, out=str(path),
            overwrite=config.overwrite, resume=config.resume, reveal_gold=reveal_gold, agent_info=config.agent_info,
            progress=config.progress, progress_label=suite.name, **config.executor_options(),
        )
        run_rollouts(rollout, agent)
        _, trajectories = read_trajectories(path)
        decision = decisions[suite.name]
        results.append(summarize(suite.name, suite.env_id, suite.tasks or "default", decision.category, trajectories,
                                 decided_by=decision.decided_by, reason=decision.reason, env_kwargs=dict(suite.env_kwargs),
                                 path=path.relative_to(out), seed=config.seed))
        results[-1].training_overlap = found.get(suite.name)
    meta = {"categories from": provenance["source"],
            **{k: json.dumps(v) if not isinstance(v, str) else v for k, v in config.agent_info.items() if k != "models"}}
    if config.samples > 1:
        meta["samples per task"] = config.samples
        if float(config.agent_info.get("temperature", 0.0) or 0.0) == 0.0 and config.agent_info.get("agent") != "oracle":
            meta["note"] = "temperature 0: a task's samples differ only through their reset seeds, so pass@k is close to pass@1"
    report = write_report(results, out, title=config.title, meta=meta, compare_to=config.compare_to,
                          category_provenance=provenance, seed=config.seed)
    return EvalResult(results, report, provenance)


def label_suites(config: EvalConfig) -> tuple[dict[str, CategoryDecision], dict[str, Any], dict[str, dict[str, Any]]]:
    """Each suite's category decision (`seen` where it repeats training questions), what the
    categories were derived from, and each suite's overlap with the training questions (empty
    without a record naming task specs); no episode runs.

    Raises:
        ValueError: a suite repeats training questions and `config.allow_overlap` is off.
    """
    decisions, provenance = categorise(config.suites, config.agent_info, config.trained_domains)
    training = training_provenance(config.agent_info)
    questions = training_questions(training) if isinstance(training, TrainingProvenance) and training.task_specs else None
    found = suite_overlaps(config.suites, questions) if questions is not None else {}
    if not config.allow_overlap:
        refuse_overlap(found)
    decisions = {name: seen_decision(d, found[name]) if overlaps(found.get(name)) else d for name, d in decisions.items()}
    return decisions, provenance, found


def categorise(suites: list[Suite], agent_info: dict[str, Any], trained_domains: list[str] | None) -> tuple[dict[str, CategoryDecision], dict[str, Any]]:
    """Each suite's category decision, and what they were derived from (for `report.json`)."""
    provenance = training_provenance(agent_info)
    if isinstance(provenance, TrainingProvenance):
        note = "--trained-domains was ignored: the model records decide" if trained_domains is not None else ""
        decisions = {s.name: decide(s.env_id, s.tasks, provenance, limit=s.limit) for s in suites}
        return decisions, {"source": "model records (" + "; ".join(provenance.sources) + ")", "derived": True,
                           "training": provenance.to_json(), "note": note}
    if trained_domains is not None:
        decisions = {s.name: asserted(s.env_id, s.kind, trained_domains) for s in suites}
        return decisions, {"source": "--trained-domains " + " ".join(trained_domains) + " (asserted by the user, not derived)",
                           "derived": False, "trained_domains": list(trained_domains), "note": provenance}
    decisions = {s.name: unknown(provenance) for s in suites}
    return decisions, {"source": "nothing: " + provenance, "derived": False, "note": "so no suite is called in-template, held-out or unseen"}


def suite_overlaps(suites: list[Suite], questions: TrainingQuestions) -> dict[str, dict[str, Any]]:
    """Each suite's `training_overlap` with `questions` (the training questions the records name)."""
    return {s.name: training_overlap(s.env_id, s.tasks, questions, limit=s.limit) for s in suites}


def refuse_overlap(found: dict[str, dict[str, Any]], flag: str | None = "--allow-overlap") -> None:
    """Refuse, in one line, the suites whose questions repeat training questions (`flag`: the
    option that would let them through, named in the message; None where there is none).

    Raises:
        ValueError: naming each such suite, its exact and masked duplicate counts and the training
            spec(s) they come from.
    """
    bad = {name: overlap for name, overlap in found.items() if overlaps(overlap)}
    if bad:
        suites = "; ".join(f"suite {name!r} has {overlap_sentence(overlap)}" for name, overlap in bad.items())
        allow = f" or pass {flag} to run it labelled seen" if flag else ""
        raise ValueError(f"{suites}: a suite that repeats training questions measures memory, not generalisation; evaluate other "
                         f"questions (another seed, &part=test against training on &part=train){allow}")


def suites_to_json(suites: list[Suite]) -> str:
    return json.dumps([{**asdict(s), "env_kwargs": dict(s.env_kwargs)} for s in suites])
