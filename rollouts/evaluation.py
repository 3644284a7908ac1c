"""Evaluation: an agent on a suite of (env, task set) pairs, in-domain, held-out and unseen.

Each suite is rolled out with the engine into its own trajectory file, summarised with the right
metric per env (the env's reward: numeric match for maths, EM for QA, WebShop's reward, InterCode's
execution reward, multiple-choice accuracy), and the whole run is written as `report.md`,
`report.json` and `report.png` (`rollouts/report.py`). Which domains count as *unseen* follows the
domains the agent was trained on (`trained_domains`), so leave-one-domain-out is one setting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from lumos_envs.domains import Domain
from rollouts.engine import ExecutorOptions, Job, Policy, PolicyFactory, RolloutConfig, build_policy, run_rollouts
from rollouts.report import SuiteResult, summarize, write_report
from rollouts.store import read_trajectories

AgentKind = Literal["oracle", "lumos", "integrated", "cot"]

ENV_DOMAINS = {
    "lumos/Math-v0": Domain.MATH,
    "lumos/QA-v0": Domain.QA,
    "lumos/WebShop-v0": Domain.WEBSHOP,
    "lumos/Multimodal-v0": Domain.MULTIMODAL,
    "lumos/SQL-v0": Domain.SQL,
}


@dataclass(frozen=True)
class Suite:
    """One evaluation set."""

    name: str
    env_id: str
    tasks: str | None
    """task spec; None for the env's default tasks"""
    kind: Literal["test", "heldout"] = "test"
    """`test`: the test split of trained families/datasets; `heldout`: families/datasets never trained on"""
    limit: int | None = None
    env_kwargs: tuple[tuple[str, Any], ...] = ()

    def category(self, trained_domains: frozenset[str]) -> str:
        if ENV_DOMAINS[self.env_id].value not in trained_domains:
            return "unseen"
        return "in-domain" if self.kind == "test" else "held-out"


def default_suites(size: int = 50, test_seed: int = 1000) -> list[Suite]:
    """lumos's bundled suite: every domain, test splits on a seed the training data never uses."""
    return [
        Suite("math/gsm8k-like", "lumos/Math-v0", f"synthetic:math_train?size={max(1, size // 6)}&seed={test_seed}"),
        Suite("math/svamp-like", "lumos/Math-v0", f"synthetic:math_heldout?size={size}&seed={test_seed}", "heldout"),
        Suite("qa/test", "lumos/QA-v0", f"synthetic:qa_train?size={max(1, size // 4)}&seed={test_seed}"),
        Suite("qa/heldout", "lumos/QA-v0", f"synthetic:qa_heldout?size={max(1, size // 2)}&seed={test_seed}", "heldout"),
        Suite("multimodal/test", "lumos/Multimodal-v0", f"synthetic:multimodal_train?size={max(1, size // 4)}&seed={test_seed}"),
        Suite("multimodal/heldout", "lumos/Multimodal-v0", f"synthetic:multimodal_heldout?size={max(1, size // 2)}&seed={test_seed}", "heldout"),
        Suite("webshop", "lumos/WebShop-v0", f"synthetic:webshop_train?size={max(1, size // 3)}&seed={test_seed}"),
        Suite("sql", "lumos/SQL-v0", f"synthetic:sql_train?size={max(1, size // 2)}&seed={test_seed}"),
    ]


@dataclass
class EvalConfig(ExecutorOptions):
    """Evaluate one agent on a suite."""

    suites: list[Suite] = field(default_factory=default_suites)
    """what to evaluate on"""
    trained_domains: list[str] = field(default_factory=lambda: ["math", "qa", "multimodal"])
    """domains the agent was trained on; every other domain counts as unseen"""
    out: str = "runs/eval"
    """report folder (trajectories under `trajectories/`)"""
    num_envs: int = 16
    """episodes in flight at once"""
    max_steps: int = 20
    """env step limit per episode"""
    seed: int = 0
    """reset seeds start here"""
    overwrite: bool = True
    """replace earlier trajectories of the same suites"""
    compare_to: str | None = None
    """an earlier report (folder or report.json) to compare with"""
    title: str = "lumos evaluation"
    agent_info: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    """a progress bar per suite (episodes, episodes/s, ETA, success so far)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.trained_domains) - {d.value for d in Domain}
        if unknown:
            raise ValueError(f"trained_domains has unknown domains {sorted(unknown)}; known: {[d.value for d in Domain]}")
        for suite in self.suites:
            if suite.env_id not in ENV_DOMAINS:
                raise ValueError(f"suite {suite.name!r}: unknown env {suite.env_id!r}")


@dataclass
class EvalResult:
    results: list[SuiteResult]
    report: dict[str, Path]


def evaluate(config: EvalConfig, agent: Policy | PolicyFactory, *, reveal_gold: bool = False) -> EvalResult:
    """Roll `agent` out on every suite and write the report.

    `agent` is a policy or a factory (`rollouts.engine.PolicyFactory`); the ray executor needs the
    factory, the local one builds the policy once for all suites.
    """
    if config.executor == "local":
        agent = build_policy(agent)
    out = Path(config.out)
    trained = frozenset(config.trained_domains)
    results = []
    for suite in config.suites:
        path = out / "trajectories" / (suite.name.replace("/", "__") + ".jsonl")
        rollout = RolloutConfig(
            jobs=[Job(suite.env_id, suite.tasks, suite.limit, env_kwargs=suite.env_kwargs)], seed=config.seed,
            max_steps=config.max_steps, num_envs=config.num_envs, out=str(path), overwrite=config.overwrite,
            reveal_gold=reveal_gold, agent_info=config.agent_info, progress=config.progress, progress_label=suite.name,
            **config.executor_options(),
        )
        run_rollouts(rollout, agent)
        _, trajectories = read_trajectories(path)
        results.append(summarize(suite.name, suite.env_id, suite.tasks or "default", suite.category(trained), trajectories))  # type: ignore[arg-type]
    meta = {"trained_domains": ", ".join(sorted(trained)), **{k: json.dumps(v) if not isinstance(v, str) else v for k, v in config.agent_info.items()}}
    report = write_report(results, out, title=config.title, meta=meta, compare_to=config.compare_to)
    return EvalResult(results, report)


def suites_to_json(suites: list[Suite]) -> str:
    return json.dumps([asdict(s) for s in suites])
