"""`lumos rescore`: score stored trajectories with another metric, without rerunning the agent.

A published number is often under a metric other than the one a run used (InterCode's exact SQL
reward instead of lumos's clamped variant, F1 instead of EM). The agent's actions are in the
trajectory file, so the agent need not run again. Two ways, chosen per metric (`METRICS`):

- `answer`: the stored final answer against the task's gold answer, the task rebuilt from the
  file header's task spec (`em`, `f1`, `accuracy` for QA; `numeric_match`, `symbolic_match` for
  maths). Needs nothing but the task source.
- `replay`: an SQL answer is a query *result*, and the rows behind it are not in the file (only
  their rendered text, possibly cut). So the env is made again for the task, with the new reward,
  and the episode's stored action lines are stepped through it in order: the env re-executes the
  same statements on the same database and scores the answer with the other metric
  (`intercode`, `sql-lumos`). An episode whose replayed answer differs from the stored one keeps
  its old score and is counted as diverged, never silently rescored.

Not supported: WebShop (its reward needs the purchased product and options, which a replay would
have to rebuild from browser state) and multimodal tasks. Episodes without a final answer score 0
under any metric; failed episodes (`end_reason="failed"`) are copied unchanged.

The output is a new trajectory file (the input is never changed): each episode's new reward,
success and metrics, and its old ones under `original_score`; the header records the metric.
Given an evaluation folder (`lumos eval --out`), every suite the metric applies to is re-scored
into a new folder, the others copied, and the report written again there with the old categories
and their provenance.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from rollouts.store import StoreError, Trajectory, TrajectoryWriter, read_trajectories


@dataclass(frozen=True)
class RescoreMetric:
    """One metric `lumos rescore` can apply."""

    name: str
    env_ids: tuple[str, ...]
    how: Literal["answer", "replay"]
    part: str
    """the part of the metric's dict that becomes the reward"""
    description: str
    scorer: str = ""
    """`module:function(prediction, gold) -> dict` for `answer` metrics"""
    env_kwargs: tuple[tuple[str, Any], ...] = ()
    """what the env is made with for `replay` metrics"""


METRICS: dict[str, RescoreMetric] = {m.name: m for m in (
    RescoreMetric("intercode", ("lumos/SQL-v0",), "replay", "reward", "InterCode-SQL's exact execution reward (replayed)",
                  env_kwargs=(("reward", "intercode"),)),
    RescoreMetric("sql-lumos", ("lumos/SQL-v0",), "replay", "reward", "lumos's SQL reward (order only under ORDER BY, clamped)",
                  env_kwargs=(("reward", "lumos"),)),
    RescoreMetric("em", ("lumos/QA-v0",), "answer", "em", "HotpotQA exact match", "lumos_envs.metrics_qa:qa_answer_metrics"),
    RescoreMetric("f1", ("lumos/QA-v0",), "answer", "f1", "HotpotQA token F1", "lumos_envs.metrics_qa:qa_answer_metrics"),
    RescoreMetric("accuracy", ("lumos/QA-v0",), "answer", "accuracy", "yes/no accuracy (EM otherwise)",
                  "lumos_envs.metrics_qa:qa_answer_metrics"),
    RescoreMetric("numeric_match", ("lumos/Math-v0",), "answer", "numeric_match", "numeric match of the final number",
                  "lumos_envs.metrics:math_answer_metrics"),
    RescoreMetric("symbolic_match", ("lumos/Math-v0",), "answer", "symbolic_match", "sympy equivalence",
                  "lumos_envs.metrics:math_answer_metrics"),
)}
"""every metric `lumos rescore --metric` accepts"""


@dataclass
class RescoreConfig:
    """Re-score stored trajectory files with another metric (e.g. InterCode's SQL reward) without rerunning the agent."""

    files: list[str] = field(default_factory=list)
    """trajectory files to re-score, or evaluation folders (`lumos eval --out`: re-scored into a new folder with its report)"""
    metric: str = "intercode"
    """intercode, sql-lumos (SQL, replayed); em, f1, accuracy (QA); numeric_match, symbolic_match (maths)"""
    out: str = ""
    """folder for the re-scored files; default: beside each input, as NAME.rescored-METRIC.jsonl (a folder: FOLDER-rescored-METRIC)"""
    overwrite: bool = False
    """replace earlier re-scored files"""

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("rescore needs at least one trajectory file")
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; known: " + "; ".join(f"{m.name} ({', '.join(m.env_ids)}: {m.description})"
                                                                                  for m in METRICS.values()))


@dataclass
class RescoreResult:
    """What re-scoring one file did."""

    path: Path
    out: Path
    metric: str
    episodes: int
    rescored: int
    """episodes scored with the new metric (those without an answer included: 0)"""
    kept: dict[str, int] = field(default_factory=dict)
    """episodes left with their old score, by why"""
    mean_reward_before: float = 0.0
    mean_reward_after: float = 0.0
    success_before: float = 0.0
    success_after: float = 0.0


def rescore_file(path: str | Path, metric: str, out: str | Path | None = None, *, overwrite: bool = False,
                 target: str | Path | None = None) -> RescoreResult:
    """Re-score every episode of one trajectory file into a new file (see the module docstring).

    Raises:
        ValueError: an unknown metric, or a file with no episode the metric applies to.
        StoreError: the output exists without `overwrite`, or the input is not a trajectory file.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    spec = METRICS[metric]
    source = Path(path)
    if not source.is_file():
        raise ValueError(f"no such trajectory file: {source}")
    header, trajectories = read_trajectories(source)
    if header is None:
        raise StoreError(f"{source} has no header; it is not a lumos trajectory file")
    applicable = [t for t in trajectories if t.key.env_id in spec.env_ids]
    if not applicable:
        envs = sorted({t.key.env_id for t in trajectories}) or ["no episodes"]
        raise ValueError(f"metric {metric} applies to {', '.join(spec.env_ids)} episodes; {source} has {', '.join(envs)}")
    config = dict(header.get("config") or {})
    if target is not None:
        target = Path(target)
    elif out:
        target = Path(out) / source.name.replace(".jsonl", f".rescored-{metric}.jsonl")
    else:
        target = source.with_name(source.name.replace(".jsonl", "") + f".rescored-{metric}.jsonl")
    if target.resolve() == source.resolve():
        raise ValueError(f"re-scoring would overwrite its input {source}")
    if target.exists() and target.stat().st_size > 0 and not overwrite:
        raise StoreError(f"{target} exists; pass --overwrite to replace it")
    scorer = _Scorer(spec, config)
    kept: Counter[str] = Counter()
    written: list[Trajectory] = []
    try:
        with TrajectoryWriter(target, {**config, "rescored": {"metric": metric, "from": str(source)}}, overwrite=overwrite) as writer:
            for trajectory in trajectories:
                new, why = scorer.rescore(trajectory)
                if why:
                    kept[why] += 1
                writer.write(new)
                written.append(new)
    finally:
        scorer.close()
    count = len(trajectories)
    return RescoreResult(
        path=source, out=target, metric=metric, episodes=count, rescored=count - sum(kept.values()), kept=dict(kept),
        mean_reward_before=_mean([t.reward for t in trajectories]), mean_reward_after=_mean([t.reward for t in written]),
        success_before=_mean([float(t.success) for t in trajectories]), success_after=_mean([float(t.success) for t in written]),
    )


def rescore_report(folder: str | Path, metric: str, out: str | Path | None = None, *, overwrite: bool = False) -> tuple[list[RescoreResult], dict[str, Path]]:
    """Re-score an evaluation folder (`lumos eval --out`) into a new one with its own report.

    Suites the metric applies to are re-scored; the others are copied unchanged. Categories, their
    provenance and the report's title and settings are carried over from the old `report.json`.

    Raises:
        ValueError: no `report.json` in `folder`, or no suite the metric applies to.
        StoreError: `out` holds an earlier re-scored report and `overwrite` is not set.
    """
    import json
    import shutil

    from rollouts.report import summarize, write_report

    source = Path(folder)
    try:
        data = json.loads((source / "report.json").read_text())
    except OSError:
        raise ValueError(f"{source} is no evaluation folder (no report.json)") from None
    spec = METRICS[metric] if metric in METRICS else None
    if spec is None:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    target = Path(out) if out else source.with_name(f"{source.name}-rescored-{metric}")
    if target.resolve() == source.resolve():
        raise ValueError(f"re-scoring would overwrite its input {source}")
    if (target / "report.json").exists() and not overwrite:
        raise StoreError(f"{target / 'report.json'} exists; pass --overwrite to replace it")
    suites = data.get("suites", [])
    if not any(s.get("env_id") in spec.env_ids for s in suites):
        raise ValueError(f"metric {metric} applies to {', '.join(spec.env_ids)} suites; {source} has none")
    done: list[RescoreResult] = []
    results = []
    for suite in suites:
        old_file = source / str(suite.get("trajectories") or Path("trajectories") / (suite["name"].replace("/", "__") + ".jsonl"))
        new_file = target / "trajectories" / old_file.name
        if suite.get("env_id") in spec.env_ids:
            done.append(rescore_file(old_file, metric, overwrite=True, target=new_file))
        else:
            new_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(old_file, new_file)
        _, trajectories = read_trajectories(new_file)
        results.append(summarize(suite["name"], suite["env_id"], suite.get("tasks", "default"), suite["category"], trajectories,
                                 decided_by=suite.get("category_decided_by", ""), reason=suite.get("category_reason", ""),
                                 env_kwargs=suite.get("env_kwargs") or {}, path=new_file.relative_to(target)))
    meta = {**data.get("meta", {}), "re-scored with": f"{metric} ({spec.description}), from {source}"}
    report = write_report(results, target, title=f"{data.get('title', 'lumos evaluation')} (re-scored: {metric})", meta=meta,
                          category_provenance=data.get("category_provenance") or {})
    return done, report


def run_rescore(config: RescoreConfig) -> int:
    """`lumos rescore FILES --metric NAME`: one line per file, then why any episode kept its score;
    an evaluation folder gets a re-scored copy with its own report."""
    for path in config.files:
        if Path(path).is_dir():
            results, report = rescore_report(path, config.metric, config.out or None, overwrite=config.overwrite)
        else:
            results, report = [rescore_file(path, config.metric, config.out or None, overwrite=config.overwrite)], {}
        for result in results:
            print(f"{result.path}: {result.rescored}/{result.episodes} episodes re-scored with {result.metric}: "
                  f"mean reward {result.mean_reward_before:.3f} -> {result.mean_reward_after:.3f}, "
                  f"success {result.success_before:.1%} -> {result.success_after:.1%} -> {result.out}")
            for why, count in sorted(result.kept.items()):
                print(f"  {count:5d} kept their score: {why}")
        if report:
            print(f"report: {report['md']}")
    return 0


class _Scorer:
    """Scores episodes of one file: answer metrics against rebuilt tasks, replay metrics in rebuilt envs."""

    def __init__(self, spec: RescoreMetric, config: Mapping[str, Any]) -> None:
        self.spec = spec
        self.jobs = [job for job in config.get("jobs", []) if job.get("env_id") in spec.env_ids]
        self.max_steps = int(config.get("max_steps", 20))
        self._envs: dict[int, Any] = {}
        self._sources: dict[int, Any] = {}
        self._score: Callable[[str, str], dict[str, float]] | None = None
        if spec.how == "answer":
            module, _, name = spec.scorer.partition(":")
            self._score = getattr(importlib.import_module(module), name)

    def rescore(self, trajectory: Trajectory) -> tuple[Trajectory, str]:
        """(the episode with its new score, or unchanged with why it kept its score)."""
        if trajectory.key.env_id not in self.spec.env_ids:
            return trajectory, f"metric {self.spec.name} does not apply to {trajectory.key.env_id}"
        if trajectory.end_reason == "failed":
            return trajectory, "failed episode"
        if trajectory.final_answer is None:
            return self._with(trajectory, {self.spec.part: 0.0}), ""
        if self.spec.how == "answer":
            task = self._task(trajectory)
            if task is None:
                return trajectory, "task not found in the header's task specs"
            assert self._score is not None
            return self._with(trajectory, self._score(trajectory.final_answer, task.answer)), ""
        return self._replay(trajectory)

    def _replay(self, trajectory: Trajectory) -> tuple[Trajectory, str]:
        found = self._env_for(trajectory)
        if found is None:
            return trajectory, "task not found in the header's task specs"
        env = found
        env.reset(seed=trajectory.key.seed, options={"task_id": trajectory.key.task_id})
        info: dict[str, Any] = {}
        terminated = False
        for step in trajectory.steps:
            _, _, terminated, truncated, info = env.step(step.action)
            if terminated or truncated:
                break
        if not terminated or info.get("answer") != trajectory.final_answer:
            return trajectory, "replay diverged (the replayed answer differs from the stored one)"
        return self._with(trajectory, {k: float(v) for k, v in (info.get("metrics") or {}).items()}), ""

    def _with(self, trajectory: Trajectory, metrics: dict[str, float]) -> Trajectory:
        reward = float(metrics.get(self.spec.part, 0.0))
        original = {"reward": trajectory.reward, "success": trajectory.success, "metrics": dict(trajectory.metrics)}
        extra = {**trajectory.extra, "original_score": trajectory.extra.get("original_score", original)}
        return replace(trajectory, reward=reward, success=reward >= 1.0, metrics=dict(metrics), extra=extra)

    def _job_of(self, trajectory: Trajectory) -> int | None:
        """The header job whose task source holds the episode's task."""
        from lumos_envs.tasks.base import find_task_index

        for index, job in enumerate(self.jobs):
            if job.get("env_id") != trajectory.key.env_id:
                continue
            try:
                find_task_index(self._source(index, job), trajectory.key.task_id)
            except KeyError:
                continue
            return index
        return None

    def _task(self, trajectory: Trajectory) -> Any:
        from lumos_envs.tasks.base import find_task_index

        index = self._job_of(trajectory)
        if index is None:
            return None
        source = self._sources[index]
        return source[find_task_index(source, trajectory.key.task_id)]

    def _env_for(self, trajectory: Trajectory) -> Any:
        index = self._job_of(trajectory)
        if index is None:
            return None
        if index not in self._envs:
            import gymnasium as gym

            import lumos_envs  # noqa: F401  (registers the env ids)

            job = self.jobs[index]
            kwargs = {**{str(k): v for k, v in job.get("env_kwargs") or ()}, **dict(self.spec.env_kwargs)}
            kwargs.pop("tasks", None)
            self._envs[index] = gym.make(job["env_id"], disable_env_checker=True, tasks=job.get("tasks"), max_steps=self.max_steps,
                                         **kwargs)
        return self._envs[index]

    def _source(self, index: int, job: Mapping[str, Any]) -> Any:
        if index not in self._sources:
            from lumos_envs.tasks.registry import load_tasks
            from rollouts.categories import default_task_spec

            self._sources[index] = load_tasks(job.get("tasks") or default_task_spec(job["env_id"]))
        return self._sources[index]

    def close(self) -> None:
        for env in self._envs.values():
            env.close()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
