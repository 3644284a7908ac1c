"""Evaluation reports: per-suite summaries of trajectories written as `report.json`, `report.md`
and a PNG chart, optionally compared with an earlier report.

A suite is one (env, task set) an agent was evaluated on, tagged by how far it is from training:
`in-domain` (test split of the training families/datasets), `held-out` (families or datasets of a
trained domain never trained on) or `unseen` (a domain never trained on, as WebShop and SQL in
LUMOS).
"""

from __future__ import annotations

import json
import shlex
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from rollouts.store import Trajectory

Category = Literal["in-domain", "held-out", "unseen"]
CATEGORIES: tuple[Category, ...] = ("in-domain", "held-out", "unseen")


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


def summarize(name: str, env_id: str, tasks: str, category: Category, trajectories: Sequence[Trajectory]) -> SuiteResult:
    """One suite's numbers from its trajectories."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}")
    count = len(trajectories)
    steps = sum(len(t.steps) for t in trajectories)
    metric_names = sorted({k for t in trajectories for k in t.metrics})
    return SuiteResult(
        name=name,
        env_id=env_id,
        tasks=tasks,
        category=category,
        episodes=count,
        success_rate=_mean(float(t.success) for t in trajectories),
        mean_reward=_mean(t.reward for t in trajectories),
        mean_steps=_mean(len(t.steps) for t in trajectories),
        format_error_rate=(sum(t.num_format_errors for t in trajectories) / steps) if steps else 0.0,
        mean_tokens=_mean(t.num_tokens for t in trajectories),
        metrics={m: _mean(t.metrics[m] for t in trajectories if m in t.metrics) for m in metric_names},
    )


def write_report(
    results: Sequence[SuiteResult],
    out_dir: str | Path,
    *,
    title: str = "lumos evaluation",
    meta: dict[str, Any] | None = None,
    compare_to: str | Path | None = None,
) -> dict[str, Path]:
    """Write `report.json`, `report.md` and `report.png` into `out_dir`; returns their paths.

    With `compare_to` (an earlier `report.json` or its folder), each suite also shows the change
    in success rate against the earlier run's suite of the same name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = _load_previous(compare_to) if compare_to is not None else {}
    payload = {"title": title, "meta": meta or {}, "suites": [asdict(r) for r in results]}
    if previous:
        payload["compared_to"] = str(compare_to)
        payload["delta_success_rate"] = {
            r.name: r.success_rate - previous[r.name] for r in results if r.name in previous
        }
    paths = {"json": out / "report.json", "md": out / "report.md", "png": out / "report.png"}
    paths["json"].write_text(json.dumps(payload, indent=2))
    view = f"\nOpen the run: `lumos view {shlex.quote(str(out / 'trajectories'))}`\n" if (out / "trajectories").is_dir() else ""
    paths["md"].write_text(_markdown(title, results, previous, meta or {}) + view)
    _chart(results, paths["png"], title)
    return paths


def _markdown(title: str, results: Sequence[SuiteResult], previous: dict[str, float], meta: dict[str, Any]) -> str:
    lines = [f"# {title}", ""]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    if meta:
        lines.append("")
    header = "| suite | category | env | episodes | success | reward | steps | format errors/step | tokens/episode |"
    if previous:
        header += " Δ success |"
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for r in sorted(results, key=lambda r: (CATEGORIES.index(r.category), r.name)):
        row = (f"| {r.name} | {r.category} | {r.env_id} | {r.episodes} | {r.success_rate:.1%} | {r.mean_reward:.3f} | "
               f"{r.mean_steps:.1f} | {r.format_error_rate:.1%} | {r.mean_tokens:.0f} |")
        if previous:
            delta = r.success_rate - previous[r.name] if r.name in previous else None
            row += f" {delta:+.1%} |" if delta is not None else " n/a |"
        lines.append(row)
    lines.append("")
    for category in CATEGORIES:
        chosen = [r for r in results if r.category == category]
        if chosen:
            total = sum(r.episodes for r in chosen)
            rate = sum(r.success_rate * r.episodes for r in chosen) / total if total else 0.0
            lines.append(f"- {category}: {rate:.1%} success over {total} episodes")
    return "\n".join(lines) + "\n"


def _chart(results: Sequence[SuiteResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(results, key=lambda r: (CATEGORIES.index(r.category), r.name))
    colours = {"in-domain": "#4C72B0", "held-out": "#DD8452", "unseen": "#55A868"}
    figure, axis = plt.subplots(figsize=(max(6.0, 0.8 * len(ordered) + 2), 4.0))
    axis.bar(range(len(ordered)), [100 * r.success_rate for r in ordered], color=[colours[r.category] for r in ordered])
    axis.set_xticks(range(len(ordered)), [r.name for r in ordered], rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("success rate (%)")
    axis.set_ylim(0, 100)
    axis.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    axis.legend(handles, list(colours), fontsize=8, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _load_previous(compare_to: str | Path) -> dict[str, float]:
    path = Path(compare_to)
    if path.is_dir():
        path = path / "report.json"
    data = json.loads(path.read_text())
    return {suite["name"]: float(suite["success_rate"]) for suite in data.get("suites", [])}


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else 0.0
