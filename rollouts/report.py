"""Evaluation reports: per-suite summaries of trajectories written as `report.json`, `report.md`
and `report.png`, optionally compared, episode by episode, with an earlier report.

A suite is one (env, task set) an agent was evaluated on, tagged with how far it is from training
(`rollouts/categories.py`: `in-template`, `held-out-template` (printed "held-out (template-disjoint)"),
`held-out`, `unseen`, `seen` for a suite that repeats training questions, or `unknown` for a model
without a training record), with the record field that decided it. Each category is pooled on its
own; `seen` suites stand in their own table in `report.md`, apart from the suites that measure
generalisation. Every rate comes with its interval
(`rollouts/stats.py`): Wilson 95% for success rates (table, plot, per category), a seeded bootstrap
for mean rewards, pass@k and mean@k when a suite has several samples per task. Each suite also
counts why its episodes ended (`Trajectory.end_reason`).

With `compare_to` (an earlier `report.json` or its folder), suites of the same name are paired
episode by episode (env, task, reset seed, sample): the paired difference in success with an
exact McNemar test, and in reward with a bootstrap interval. A suite whose task spec differs
from the earlier one's is refused: the two numbers would not be about the same tasks.
"""

from __future__ import annotations

import json
import shlex
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rollouts.categories import CATEGORIES, Category, category_label, normalise_category
from rollouts.stats import bootstrap_interval, ks_for, mcnemar_exact, pass_at_k, wilson_interval
from rollouts.store import END_REASONS, StoreError, Trajectory, read_trajectories

__all__ = ["CATEGORIES", "Category", "Comparison", "SuiteResult", "category_summary", "check_comparable", "summarize", "write_report"]

Interval = tuple[float, float]

COLOURS = {"in-template": "#4C72B0", "held-out-template": "#C44E52", "held-out": "#DD8452", "unseen": "#55A868", "seen": "#CCB974",
           "unknown": "#8C8C8C"}


@dataclass
class Comparison:
    """This run against an earlier one on the same suite, episode by episode."""

    previous: str
    """the earlier report"""
    pairs: int
    """episodes with the same (env, task, seed, sample) in both runs"""
    unpaired: int
    """episodes of either run without a partner (left out of the paired numbers)"""
    both: int
    only_before: int
    """pairs the earlier run solved and this one did not"""
    only_after: int
    """pairs this run solved and the earlier one did not"""
    neither: int
    success_before: float
    success_after: float
    success_diff: float
    """this run's success minus the earlier run's, over the pairs"""
    mcnemar_p: float
    """two-sided exact McNemar p-value on the discordant pairs"""
    reward_diff: float
    reward_diff_ci: Interval | None


@dataclass
class SuiteResult:
    """What an agent reached on one suite."""

    name: str
    env_id: str
    tasks: str
    category: Category
    episodes: int
    success_rate: float
    mean_reward: float
    mean_steps: float
    format_error_rate: float
    """format errors per step"""
    mean_tokens: float
    """generated tokens per episode"""
    metrics: dict[str, float] = field(default_factory=dict)
    """mean of each metric part over the suite's finished episodes"""
    successes: int | None = None
    success_ci: Interval | None = None
    """Wilson 95% interval of the success rate (episodes as independent trials)"""
    reward_ci: Interval | None = None
    """seeded bootstrap 95% interval of the mean reward"""
    end_reasons: dict[str, int] = field(default_factory=dict)
    """why episodes ended: answered, planner_stopped, subgoal_limit, step_limit, format_error, truncated, tool_timeout, failed"""
    num_tasks: int = 0
    samples: int = 1
    """most attempts of one task"""
    pass_at_k: dict[str, float] = field(default_factory=dict)
    """k -> unbiased pass@k (Chen et al. 2021), mean over tasks; only when samples > 1"""
    pass_at_k_ci: dict[str, Interval | None] = field(default_factory=dict)
    """k -> bootstrap 95% interval over tasks"""
    mean_at_k: float | None = None
    """mean over tasks of the task's success rate over its samples (what a k-sample average expects, any k)"""
    mean_at_k_ci: Interval | None = None
    """bootstrap 95% interval over tasks (honest where samples of one task are not independent)"""
    category_decided_by: str = ""
    """the record field (or flag) that decided `category`"""
    category_reason: str = ""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    trajectories: str = ""
    """the suite's trajectory file, relative to the report folder when inside it"""
    comparison: Comparison | None = None
    training_overlap: dict[str, Any] | None = None
    """questions equal to a training question (whitespace-normalised) and equal once numbers are
    masked, against the training task specs the model records name (`rollouts.categories.training_overlap`)"""

    def __post_init__(self) -> None:
        self.category = normalise_category(self.category)
        if self.successes is None:
            self.successes = round(self.success_rate * self.episodes)
        if self.success_ci is None:
            self.success_ci = wilson_interval(self.successes, self.episodes)


def summarize(
    name: str,
    env_id: str,
    tasks: str,
    category: str,
    trajectories: Sequence[Trajectory],
    *,
    decided_by: str = "",
    reason: str = "",
    env_kwargs: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
    seed: int = 0,
) -> SuiteResult:
    """One suite's numbers from its trajectories (bootstrap intervals seeded with `seed`).

    Raises:
        ValueError: for a category that is none of `CATEGORIES` (or the older `in-domain`).
    """
    category = normalise_category(category)
    count = len(trajectories)
    steps = sum(len(t.steps) for t in trajectories)
    metric_names = sorted({k for t in trajectories for k in t.metrics})
    successes = sum(1 for t in trajectories if t.success)
    by_task: dict[tuple[str, str], list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        by_task[(t.key.env_id, t.key.task_id)].append(t)
    samples = max((len(v) for v in by_task.values()), default=1)
    result = SuiteResult(
        name=name, env_id=env_id, tasks=tasks, category=category, episodes=count,
        success_rate=successes / count if count else 0.0,
        mean_reward=_mean(t.reward for t in trajectories),
        mean_steps=_mean(len(t.steps) for t in trajectories),
        format_error_rate=(sum(t.num_format_errors for t in trajectories) / steps) if steps else 0.0,
        mean_tokens=_mean(t.num_tokens for t in trajectories),
        metrics={m: _mean(t.metrics[m] for t in trajectories if m in t.metrics) for m in metric_names},
        successes=successes,
        reward_ci=bootstrap_interval([t.reward for t in trajectories], seed=seed),
        end_reasons=_end_reasons(trajectories),
        num_tasks=len(by_task), samples=samples,
        category_decided_by=decided_by, category_reason=reason,
        env_kwargs=dict(env_kwargs or {}), trajectories=str(path) if path is not None else "",
    )
    if samples > 1:
        _add_pass_at_k(result, list(by_task.values()), seed)
    return result


def check_comparable(suites: Iterable[tuple[str, str, str, Mapping[str, Any]]], compare_to: str | Path) -> None:
    """Refuse a comparison whose suites (name, env id, task spec, env kwargs) differ from the
    earlier report's suites of the same name.

    Raises:
        ValueError: naming the first suite that differs; also for a missing or unreadable report.
    """
    path, previous = _load_previous(compare_to)
    for name, env_id, tasks, env_kwargs in suites:
        before = previous.get(name)
        if before is None:
            continue
        now = {"env_id": env_id, "tasks": tasks, "env_kwargs": dict(env_kwargs)}
        then = {"env_id": before.get("env_id"), "tasks": before.get("tasks"), "env_kwargs": before.get("env_kwargs", dict(env_kwargs))}
        then["env_kwargs"] = dict(then["env_kwargs"] or {})
        for key in ("env_id", "tasks", "env_kwargs"):
            if now[key] != then[key]:
                raise ValueError(f"--compare-to {path}: suite {name!r} has {key} {now[key]!r} here but {then[key]!r} there; "
                                 "a paired comparison needs the same tasks")


def write_report(
    results: Sequence[SuiteResult],
    out_dir: str | Path,
    *,
    title: str = "lumos evaluation",
    meta: dict[str, Any] | None = None,
    compare_to: str | Path | None = None,
    category_provenance: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Write `report.json`, `report.md` and `report.png` into `out_dir`; returns their paths.

    With `compare_to`, each suite of the same name in the earlier report is paired with this one
    (see the module docstring); `category_provenance` (what the categories were derived from)
    goes into `report.json` as it is.

    Raises:
        ValueError: a compared suite's task spec differs from the earlier one's.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous: dict[str, dict[str, Any]] = {}
    if compare_to is not None:
        check_comparable(((r.name, r.env_id, r.tasks, r.env_kwargs) for r in results), compare_to)
        previous_path, previous = _load_previous(compare_to)
        for result in results:
            if result.name in previous:
                result.comparison = _compare(result, out, previous[result.name], previous_path, seed)
    payload: dict[str, Any] = {
        "title": title, "meta": meta or {}, "suites": [asdict(r) for r in results],
        "categories": category_summary(results), "category_provenance": dict(category_provenance or {}),
    }
    if compare_to is not None:
        payload["compared_to"] = str(compare_to)
        payload["delta_success_rate"] = {
            r.name: r.success_rate - float(previous[r.name]["success_rate"]) for r in results if r.name in previous
        }
    paths = {"json": out / "report.json", "md": out / "report.md", "png": out / "report.png"}
    paths["json"].write_text(json.dumps(payload, indent=2))
    view = f"\nOpen the run: `lumos view {shlex.quote(str(out / 'trajectories'))}`\n" if (out / "trajectories").is_dir() else ""
    deltas = payload.get("delta_success_rate", {})
    paths["md"].write_text(_markdown(title, results, deltas, meta or {}, payload["categories"], category_provenance or {}) + view)
    _chart(results, payload["categories"], paths["png"], title)
    return paths


# -- numbers ---------------------------------------------------------------------------------------


def _end_reasons(trajectories: Sequence[Trajectory]) -> dict[str, int]:
    counts = Counter(t.end_reason or "unrecorded" for t in trajectories)  # v1 files record no reason
    ordered = {reason: counts.pop(reason) for reason in END_REASONS if reason in counts}
    return {**ordered, **dict(sorted(counts.items()))}


def _add_pass_at_k(result: SuiteResult, tasks: list[list[Trajectory]], seed: int) -> None:
    fewest = min(len(attempts) for attempts in tasks)
    for k in ks_for(fewest):
        per_task = [pass_at_k(len(a), sum(1 for t in a if t.success), k) for a in tasks]
        result.pass_at_k[str(k)] = _mean(per_task)
        result.pass_at_k_ci[str(k)] = bootstrap_interval(per_task, seed=seed)
    rates = [sum(1 for t in a if t.success) / len(a) for a in tasks]
    result.mean_at_k = _mean(rates)
    result.mean_at_k_ci = bootstrap_interval(rates, seed=seed)


def category_summary(results: Sequence[SuiteResult]) -> dict[str, dict[str, Any]]:
    """Per category: suites, pooled episodes and successes, with the Wilson interval (and the label
    reports print). Each category is pooled alone: no pool mixes `seen` suites with others."""
    out = {}
    for category in CATEGORIES:
        chosen = [r for r in results if r.category == category]
        if not chosen:
            continue
        episodes = sum(r.episodes for r in chosen)
        successes = sum(int(r.successes or 0) for r in chosen)
        out[category] = {"label": category_label(category), "suites": [r.name for r in chosen], "episodes": episodes, "successes": successes,
                         "success_rate": successes / episodes if episodes else 0.0,
                         "success_ci": wilson_interval(successes, episodes)}
    return out


def _compare(result: SuiteResult, out: Path, before: Mapping[str, Any], previous_path: Path, seed: int) -> Comparison | None:
    """Pair this suite's episodes with the earlier run's; None where either file is missing."""
    now_file = _resolve(result.trajectories, out)
    then_file = _resolve(str(before.get("trajectories") or ""), previous_path.parent)
    if then_file is None and (previous_path.parent / "trajectories").is_dir():  # reports written before files were named
        candidate = previous_path.parent / "trajectories" / (result.name.replace("/", "__") + ".jsonl")
        then_file = candidate if candidate.is_file() else None
    if now_file is None or then_file is None:
        return None
    try:
        now = {t.key.as_tuple(): t for t in read_trajectories(now_file)[1]}
        then = {t.key.as_tuple(): t for t in read_trajectories(then_file)[1]}
    except StoreError as error:
        raise ValueError(f"--compare-to: {error}") from None
    keys = sorted(set(now) & set(then))
    pairs = [(then[k], now[k]) for k in keys]
    both = sum(1 for a, b in pairs if a.success and b.success)
    only_before = sum(1 for a, b in pairs if a.success and not b.success)
    only_after = sum(1 for a, b in pairs if b.success and not a.success)
    differences = [b.reward - a.reward for a, b in pairs]
    n = len(pairs)
    return Comparison(
        previous=str(previous_path), pairs=n, unpaired=len(now) + len(then) - 2 * n, both=both, only_before=only_before,
        only_after=only_after, neither=n - both - only_before - only_after,
        success_before=(both + only_before) / n if n else 0.0, success_after=(both + only_after) / n if n else 0.0,
        success_diff=(only_after - only_before) / n if n else 0.0, mcnemar_p=mcnemar_exact(only_before, only_after),
        reward_diff=_mean(differences), reward_diff_ci=bootstrap_interval(differences, seed=seed),
    )


def _resolve(name: str, folder: Path) -> Path | None:
    if not name:
        return None
    path = Path(name)
    path = path if path.is_absolute() else folder / path
    return path if path.is_file() else None


def _load_previous(compare_to: str | Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    path = Path(compare_to)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"--compare-to: cannot read {path}: {error.strerror or error}") from None
    except ValueError:
        raise ValueError(f"--compare-to: {path} is not a JSON report") from None
    return path, {suite["name"]: suite for suite in data.get("suites", [])}


# -- files -----------------------------------------------------------------------------------------


def _markdown(title: str, results: Sequence[SuiteResult], deltas: Mapping[str, float], meta: Mapping[str, Any],
              categories: Mapping[str, Mapping[str, Any]], provenance: Mapping[str, Any]) -> str:
    lines = [f"# {title}", ""]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    if meta:
        lines.append("")
    ordered = sorted(results, key=lambda r: (CATEGORIES.index(r.category), r.name))
    compared = any(r.comparison is not None or r.name in deltas for r in results)
    header = "| suite | category | env | episodes | success [95% CI] | reward [95% CI] | steps | format errors/step | tokens/episode |"
    if compared:
        header += " Δ success (paired, McNemar p) |"

    def table(rows: Sequence[SuiteResult]) -> list[str]:
        out = [header, "|" + "---|" * (header.count("|") - 1)]
        for r in rows:
            row = (f"| {r.name} | {category_label(r.category)} | {r.env_id} | {r.episodes} | {r.success_rate:.1%} {_pct(r.success_ci)} | "
                   f"{r.mean_reward:.3f} {_num(r.reward_ci)} | {r.mean_steps:.1f} | {r.format_error_rate:.1%} | {r.mean_tokens:.0f} |")
            if compared:
                row += f" {_delta(r, deltas)} |"
            out.append(row)
        return out

    measured = [r for r in ordered if r.category != "seen"]
    seen = [r for r in ordered if r.category == "seen"]
    if measured:
        lines += table(measured)
    if seen:
        lines += ["", "Seen suites: they repeat questions the model trained on (exactly or with numbers masked), so they measure "
                  "memory, not generalisation, and are pooled with no other suite:", "", *table(seen)]
    lines.append("")
    lines.append("Per category (all its suites' episodes pooled, Wilson 95% interval; each category pooled alone):")
    lines.append("")
    for category, data in categories.items():
        lines.append(f"- {category_label(category)}: {data['success_rate']:.1%} {_pct(data['success_ci'])} success over {data['episodes']} "
                     f"episodes ({', '.join(data['suites'])})")
    sampled = [r for r in ordered if r.pass_at_k]
    if sampled:
        ks = sorted({int(k) for r in sampled for k in r.pass_at_k})
        lines += ["", "Several samples per task (unbiased pass@k of Chen et al. 2021; intervals: bootstrap over tasks):", "",
                  "| suite | tasks | samples | mean@k | " + " | ".join(f"pass@{k}" for k in ks) + " |",
                  "|" + "---|" * (4 + len(ks))]
        for r in sampled:
            cells = [f"{r.pass_at_k[str(k)]:.1%} {_pct(r.pass_at_k_ci.get(str(k)))}" if str(k) in r.pass_at_k else "n/a" for k in ks]
            lines.append(f"| {r.name} | {r.num_tasks} | {r.samples} | {(r.mean_at_k or 0.0):.1%} {_pct(r.mean_at_k_ci)} | "
                         + " | ".join(cells) + " |")
    reasons = [reason for reason in END_REASONS if any(reason in r.end_reasons for r in results)]
    reasons += sorted({reason for r in results for reason in r.end_reasons} - set(END_REASONS))
    if reasons:
        lines += ["", "Why episodes ended:", "", "| suite | " + " | ".join(reasons) + " |", "|" + "---|" * (1 + len(reasons))]
        for r in ordered:
            lines.append(f"| {r.name} | " + " | ".join(str(r.end_reasons.get(reason, 0)) for reason in reasons) + " |")
    overlapping = [r for r in ordered if r.training_overlap]
    if overlapping:
        lines += ["", "Overlap with the training questions the records name (whitespace-normalised; numbers masked as N):", "",
                  "| suite | questions | equal to a training question | equal once numbers are masked |", "|---|---|---|---|"]
        for r in overlapping:
            o = r.training_overlap or {}
            lines.append(f"| {r.name} | {o.get('questions', 0)} | {o.get('exact_duplicates', 0)} | {o.get('masked_duplicates', 0)} |")
        leaked = [f"{r.name} ({o['exact_duplicates']} exact, {o['masked_duplicates']} masked)" for r in overlapping
                  for o in [r.training_overlap or {}] if o.get("exact_duplicates") or o.get("masked_duplicates")]
        if leaked:
            lines.append(f"- training questions repeated in {', '.join(leaked)}: those suites are `seen` (they measure memory, "
                         "not generalisation) and pooled with no other suite")
        skipped = {spec: why for r in overlapping for spec, why in (r.training_overlap or {}).get("skipped_specs", {}).items()}
        for spec, why in skipped.items():
            lines.append(f"- not checked against {spec}: {why}")
    lines += ["", "How each category was decided:", ""]
    source = provenance.get("source")
    if source:
        lines.append(f"- categories from: {source}" + (f" ({provenance['note']})" if provenance.get("note") else ""))
    for r in ordered:
        if r.category_decided_by or r.category_reason:
            lines.append(f"- {r.name}: {category_label(r.category)}, by {r.category_decided_by}: {r.category_reason}")
    return "\n".join(lines) + "\n"


def _chart(results: Sequence[SuiteResult], categories: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> None:
    """Success per suite and per category, with the Wilson intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(results, key=lambda r: (CATEGORIES.index(r.category), r.name))
    bars = [(r.name, r.category, r.success_rate, r.success_ci) for r in ordered]
    bars += [(f"all {c}", c, d["success_rate"], d["success_ci"]) for c, d in categories.items()]
    figure, axis = plt.subplots(figsize=(max(6.0, 0.7 * len(bars) + 2), 4.2))
    heights = [100 * rate for _, _, rate, _ in bars]
    low = [100 * (rate - ci[0]) if ci else 0.0 for _, _, rate, ci in bars]
    high = [100 * (ci[1] - rate) if ci else 0.0 for _, _, rate, ci in bars]
    axis.bar(range(len(bars)), heights, color=[COLOURS[c] for _, c, _, _ in bars], yerr=[low, high], capsize=3,
             error_kw={"elinewidth": 1, "ecolor": "#333333"}, edgecolor=["#000000" if name.startswith("all ") else "none" for name, _, _, _ in bars])
    if categories and ordered:
        axis.axvline(len(ordered) - 0.5, color="#999999", linewidth=0.8, linestyle="--")
    axis.set_xticks(range(len(bars)), [name for name, _, _, _ in bars], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("success rate (%), 95% Wilson interval")
    axis.set_ylim(0, 118)  # room above 100% for the legend
    axis.set_yticks(range(0, 101, 20))
    axis.set_title(title)
    shown = [c for c in CATEGORIES if any(cat == c for _, cat, _, _ in bars)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[c]) for c in shown]
    axis.legend(handles, [category_label(c) for c in shown], fontsize=8, loc="upper left", ncol=len(shown), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _pct(interval: Sequence[float] | None) -> str:
    return f"[{interval[0]:.1%}, {interval[1]:.1%}]" if interval else "[n/a]"


def _num(interval: Sequence[float] | None) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "[n/a]"


def _delta(result: SuiteResult, deltas: Mapping[str, float]) -> str:
    c = result.comparison
    if c is not None and c.pairs:
        return f"{c.success_diff:+.1%} over {c.pairs} pairs ({c.only_after} gained, {c.only_before} lost), p={c.mcnemar_p:.3g}"
    if result.name in deltas:
        why = "no episode shares (task, seed, sample) with the earlier run" if c is not None else "no episode files to pair"
        return f"{deltas[result.name]:+.1%} (unpaired: {why})"
    return "n/a"


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else 0.0
