"""Training data: trajectories and LUMOS annotation records -> LUMOS SFT records.

Trajectories become the same conversations LUMOS trains on, but with the *real* execution results
in the planner's feedback turns (`info["last_result"]` of each step). They are filtered by reward
(only successful episodes by default) and written per module (`plan`, `ground`), formulation
(`iterative`, `onetime`) and LUMOS data domain, plus `unified` files mixing all domains (LUMOS's
unified agent), plus the paper's baselines (`integrated`, `cot`). Annotation records
(`annotations.jsonl` format) go through the same builder (`agents.sft.plan_messages`).

A trajectory gives plan steps when its agent planned one subgoal per env step (LUMOS-I, the
oracle's default); both formulations' records are built from those steps.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from agents.baselines import cot_messages, integrated_messages
from agents.prompts import ActionBlock, LUMOS_BLOCKS, action_block_for_tools, strip_keep_planning
from agents.sft import PlanStep, annotation_messages, plan_messages
from lumos_envs.domains import Domain
from lumos_envs.jsonl import read_jsonl_objects
from rollouts.store import Trajectory, iter_trajectories

Module = Literal["plan", "ground"]
Formulation = Literal["iterative", "onetime"]
_SUBGOAL = re.compile(r"Subgoal\s+(\d+)\s*:\s*(.*)", re.DOTALL)
FINAL_ACTION = "Answer("


@dataclass
class SftDataConfig:
    """What `lumos sft-data` converts and where it writes."""

    trajectories: list[str] = field(default_factory=list)
    """trajectory files (JSON lines written by `lumos rollout`)"""
    annotations: list[str] = field(default_factory=list)
    """LUMOS annotation files (`task`, `subgoal_plan`, `domain` per line)"""
    out: str = "runs/sft"
    """output folder; one JSONL file per (module, formulation, dataset)"""
    min_reward: float = 1.0
    """keep trajectories whose reward is at least this"""
    skip_invalid: bool = True
    """drop trajectories with an invalid action (their feedback turns hold error messages)"""
    unified: bool = True
    """also write `unified` files mixing every domain"""
    baselines: bool = True
    """also write the integrated and chain-of-thought baselines' records"""


def plan_steps(trajectory: Trajectory) -> list[PlanStep] | None:
    """The plan a LUMOS-I trajectory executed, one `PlanStep` per env step; None if it has none."""
    steps = []
    for step in trajectory.steps:
        if step.action.startswith(FINAL_ACTION):
            break
        if step.subgoal is None:
            return None
        match = _SUBGOAL.match(strip_keep_planning(step.subgoal).strip())
        if match is None:
            return None
        line = f"Subgoal {match.group(1)}: {match.group(2).strip()}"
        steps.append(PlanStep(int(match.group(1)), line, match.group(2).strip(), step.action, step.result or step.error or ""))
    return steps or None


def trajectory_records(
    trajectories: Iterable[Trajectory],
    *,
    min_reward: float = 1.0,
    skip_invalid: bool = True,
    blocks: dict[str, ActionBlock] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """SFT records by file name (`{dataset}_{module}_{formulation}`, `{dataset}_integrated`, `{dataset}_cot`)."""
    blocks = dict(blocks or {})
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for trajectory in trajectories:
        if trajectory.reward < min_reward or (skip_invalid and any(s.error for s in trajectory.steps)):
            continue
        steps = plan_steps(trajectory)
        if steps is None:
            continue
        dataset = _dataset(trajectory.domain)
        block = blocks.get(trajectory.key.env_id) or _block_for(trajectory.key.env_id, dataset, blocks)
        for module in ("plan", "ground"):
            for formulation in ("iterative", "onetime"):
                name = f"{dataset}_{module}_{formulation}"
                messages = plan_messages(dataset, trajectory.question, steps, module, formulation, block=block)
                out[name].append(_record(dataset, len(out[name]), messages))
        out[f"{dataset}_integrated"].append(_record(dataset, len(out[f"{dataset}_integrated"]), integrated_messages(trajectory.question, block, steps)))
        out[f"{dataset}_cot"].append(_record(dataset, len(out[f"{dataset}_cot"]), cot_messages(trajectory.question, steps, trajectory.final_answer or "")))
    return dict(out)


def annotation_records(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """SFT records from LUMOS annotation records, as LUMOS builds them (grounding only where LUMOS
    has an action block for the domain)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        dataset = str(record.get("domain", "maths"))
        for module in ("plan", "ground"):
            if module == "ground" and dataset not in LUMOS_BLOCKS:
                continue
            for formulation in ("iterative", "onetime"):
                name = f"{dataset}_{module}_{formulation}"
                out[name].append(_record(dataset, len(out[name]), annotation_messages(record, module, formulation)))
    return dict(out)


def build_sft_data(config: SftDataConfig) -> dict[str, Path]:
    """Convert the configured inputs and write one JSONL file per record set; returns name -> path."""
    sets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if config.trajectories:
        converted = trajectory_records(iter_trajectories(config.trajectories), min_reward=config.min_reward, skip_invalid=config.skip_invalid)
        for name, records in converted.items():
            sets[name].extend(records)
    for path in config.annotations:
        rows = read_jsonl_objects(path)
        for name, records in annotation_records(r for r in rows if r.get("domain") != "intercode_bash").items():
            sets[name].extend(records)
    if config.unified:
        for name in list(sets):
            dataset, _, kind = name.partition("_")
            if kind.startswith(("plan_", "ground_")) and dataset != "unified":
                sets[f"unified_{kind}"].extend(sets[name])
    if not config.baselines:
        sets = {k: v for k, v in sets.items() if not k.endswith(("_integrated", "_cot"))}
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, records in sorted(sets.items()):
        if name.startswith("unified_"):
            records = [_record("unified", i, r["messages"]) for i, r in enumerate(records)]
        paths[name] = write_records(records, out / f"{name}.jsonl")
    return paths


def write_records(records: Sequence[dict[str, Any]], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _record(dataset: str, index: int, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {"dataset": dataset, "id": f"{dataset}_{index}", "messages": messages}


def _dataset(domain: str) -> str:
    try:
        return Domain(domain).lumos_dataset
    except ValueError:
        return domain


def _block_for(env_id: str, dataset: str, cache: dict[str, ActionBlock]) -> ActionBlock:
    """The grounding block the agent saw: the env's tools decide it, as in `LumosAgent.reset`."""
    if dataset in LUMOS_BLOCKS:
        block = LUMOS_BLOCKS[dataset]
    else:
        import gymnasium as gym

        import lumos_envs  # noqa: F401

        env = gym.make(env_id, disable_env_checker=True)
        try:
            block = action_block_for_tools(env.unwrapped.tool_infos)
        finally:
            env.close()
    cache[env_id] = block
    return block
