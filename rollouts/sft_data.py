"""Training data: trajectories and LUMOS annotation records -> LUMOS SFT records and DPO pairs.

Trajectories become the same conversations LUMOS trains on, but with the *real* execution results
in the planner's feedback turns (`info["last_result"]` of each step). They are filtered by reward
(only successful episodes by default) and written per module (`plan`, `ground`), formulation
(`iterative`, `onetime`) and LUMOS data domain, plus `unified` files mixing all domains (LUMOS's
unified agent), plus the paper's baselines (`integrated`, `cot`). Annotation records
(`annotations.jsonl` format) go through the same builder (`agents.sft.plan_messages`).

Records follow the trajectory's formulation (`agent["formulation"]`, else read from its steps):
a LUMOS-I trajectory gives `_iterative` records (one subgoal per env step), a LUMOS-O trajectory
`_onetime` records (its one plan turn and its one action line); `cross_formulation` also writes a
LUMOS-I trajectory's executed plan as one-time records. A model turn that broke the format (a
step's `format_error`, or a generation cut by its length limit) never becomes a target: the
module's conversation stops before it (later turns' contexts hold it), and `ConversionStats`
counts the flagged steps and the turns left out (`sft_stats.json` beside the records).

DPO pairs (`dpo_pairs`): for each task with a success and a failure, the two episodes'
conversations of one module (the model's own turns as generated) up to their first differing
assistant turn: the shared prefix is the prompt, the success's turn `chosen`, the failure's
`rejected` (`{"prompt", "chosen", "rejected"}`, TRL's conversational preference format).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from agents.baselines import cot_messages, integrated_messages
from agents.prompts import (
    GROUNDING_WITH_RESULTS,
    ActionBlock,
    LUMOS_BLOCKS,
    Message,
    action_block_for_tools,
    ground_first_turn,
    ground_later_turn,
    plan_feedback_turn,
    plan_first_turn,
    strip_keep_planning,
)
from agents.sft import PlanStep, annotation_messages, plan_messages
from lumos_envs.domains import Domain
from lumos_envs.jsonl import read_jsonl_objects
from rollouts.store import StepRecord, Trajectory, iter_trajectories

logger = logging.getLogger(__name__)

Module = Literal["plan", "ground"]
Formulation = Literal["iterative", "onetime"]
_SUBGOAL = re.compile(r"Subgoal\s+(\d+)\s*:\s*(.*)", re.DOTALL)
_SUBGOAL_START = re.compile(r"Subgoal\s+\d+\s*:")
FINAL_ACTION = "Answer("
_MODULE_ROLE = {"plan": "planner", "ground": "grounder"}
STATS_FILE = "sft_stats.json"


@dataclass
class SftDataConfig:
    """Turn stored trajectories and LUMOS annotation files into LUMOS SFT records (planning and grounding, per formulation and dataset)."""

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
    """also write the integrated and chain-of-thought baselines' records (from LUMOS-I trajectories)"""
    cross_formulation: bool = False
    """also write LUMOS-I trajectories' executed plans as one-time records"""
    dpo: bool = True
    """also write DPO pairs (`{dataset}_{module}_{formulation}_dpo`) from tasks with a success and a failure"""
    max_pairs_per_task: int = 4
    """DPO pairs per task and module at most"""


@dataclass
class ConversionStats:
    """What the conversion kept and left out, and why."""

    trajectories: int = 0
    kept: int = 0
    """trajectories that gave records"""
    below_reward: int = 0
    invalid_action: int = 0
    """dropped for an invalid action (`skip_invalid`)"""
    unreadable: int = 0
    """no plan could be read from the steps"""
    format_error_steps: int = 0
    """steps with a format error or a truncated generation (in kept-reward trajectories)"""
    dropped_turns: int = 0
    """model turns left out of records: the flagged ones and those after them in the same conversation"""
    formulations: dict[str, int] = field(default_factory=dict)
    """kept trajectories per formulation"""
    dpo_pairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trajectory_formulation(trajectory: Trajectory) -> str:
    """`iterative` or `onetime`: the agent's recorded formulation, else what the steps show (a one-time
    plan holds several `Subgoal k:` in one step)."""
    recorded = str((trajectory.agent or {}).get("formulation", ""))
    if recorded in ("iterative", "onetime"):
        return recorded
    for step in trajectory.steps:
        if step.subgoal and len(_SUBGOAL_START.findall(step.subgoal)) > 1:
            return "onetime"
    return "iterative"


def flagged_modules(step: StepRecord) -> set[str]:
    """The modules (`plan`, `ground`) whose turn in this step broke the format or was cut by its length limit."""
    bad: set[str] = set()
    if step.format_error:
        parts = [p.strip() for p in step.format_error.split(";") if p.strip()]
        for part in parts:
            if part.startswith("planner:"):
                bad.add("plan")
            elif part.startswith("grounder:"):
                bad.add("ground")
            else:
                bad.update(("plan", "ground"))
    for generation in step.generations:
        if generation.finish_reason != "stop":
            bad.add("plan" if generation.role == "planner" else "ground" if generation.role == "grounder" else "plan")
    return bad


def plan_steps(trajectory: Trajectory) -> list[PlanStep] | None:
    """The plan a LUMOS-I trajectory executed, one `PlanStep` per env step; None if it has none
    (or the trajectory is LUMOS-O: its one step holds the whole plan)."""
    if trajectory_formulation(trajectory) == "onetime":
        return None
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


def onetime_plan(trajectory: Trajectory) -> tuple[str, str] | None:
    """The plan turn and the action line of a LUMOS-O trajectory, or None if it has none."""
    first = trajectory.steps[0] if trajectory.steps else None
    if first is None or not first.subgoal or not _SUBGOAL_START.search(first.subgoal):
        return None
    return first.subgoal.strip(), first.action


def _first_flagged(trajectory: Trajectory, module: str, limit: int) -> int | None:
    """Index of the first of the first `limit` steps whose `module` turn is flagged."""
    for index, step in enumerate(trajectory.steps[:limit]):
        if module in flagged_modules(step):
            return index
    return None


def trajectory_records(
    trajectories: Iterable[Trajectory],
    *,
    min_reward: float = 1.0,
    skip_invalid: bool = True,
    blocks: dict[str, ActionBlock] | None = None,
    cross_formulation: bool = False,
    stats: ConversionStats | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """SFT records by file name (`{dataset}_{module}_{formulation}`, `{dataset}_integrated`, `{dataset}_cot`).

    Each trajectory gives records of its own formulation (see the module docstring); `stats`, if
    given, is filled with what was kept and left out.
    """
    blocks = dict(blocks or {})
    stats = stats if stats is not None else ConversionStats()
    formulations: Counter[str] = Counter(stats.formulations)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(name: str, dataset: str, messages: list[Message]) -> None:
        out[name].append(_record(dataset, len(out[name]), messages))

    for trajectory in trajectories:
        stats.trajectories += 1
        if trajectory.reward < min_reward:
            stats.below_reward += 1
            continue
        if skip_invalid and any(s.error for s in trajectory.steps):
            stats.invalid_action += 1
            continue
        formulation = trajectory_formulation(trajectory)
        dataset = _dataset(trajectory.domain)
        block = blocks.get(trajectory.key.env_id) or _block_for(trajectory.key.env_id, dataset, blocks)
        stats.format_error_steps += sum(1 for s in trajectory.steps if flagged_modules(s))
        if formulation == "onetime":
            plan = onetime_plan(trajectory)
            if plan is None:
                stats.unreadable += 1
                continue
            plan_text, action_line = plan
            bad = flagged_modules(trajectory.steps[0])
            if "plan" not in bad:
                add(f"{dataset}_plan_onetime", dataset, [{"role": "user", "content": plan_first_turn(trajectory.question)},
                                                         {"role": "assistant", "content": plan_text}])
            if "ground" not in bad:  # LUMOS passes the planner's line to the grounder as written
                add(f"{dataset}_ground_onetime", dataset, [{"role": "user", "content": ground_first_turn(block, trajectory.question, [plan_text])},
                                                           {"role": "assistant", "content": action_line}])
            stats.dropped_turns += len(bad)
        else:
            steps = plan_steps(trajectory)
            if steps is None:
                stats.unreadable += 1
                continue
            for module in ("plan", "ground"):
                turns = len(steps) + (1 if module == "plan" else 0)  # the planner's stop turn is the answer step's
                cut = _first_flagged(trajectory, module, turns)
                messages = plan_messages(dataset, trajectory.question, steps, module, "iterative", block=block)  # type: ignore[arg-type]
                if cut is not None:
                    stats.dropped_turns += turns - cut
                    messages = messages[: 2 * cut]  # the turns of the steps before the flagged one
                if any(m["role"] == "assistant" for m in messages):
                    add(f"{dataset}_{module}_iterative", dataset, messages)
                if cross_formulation and cut is None:
                    add(f"{dataset}_{module}_onetime", dataset, plan_messages(dataset, trajectory.question, steps, module, "onetime", block=block))  # type: ignore[arg-type]
            if not any(flagged_modules(s) for s in trajectory.steps):
                add(f"{dataset}_integrated", dataset, integrated_messages(trajectory.question, block, steps))
                add(f"{dataset}_cot", dataset, cot_messages(trajectory.question, steps, trajectory.final_answer or ""))
        stats.kept += 1
        formulations[formulation] += 1
    stats.formulations = dict(formulations)
    return dict(out)


# ---------------------------------------------------------------------------------------------
# preference pairs


def module_conversation(trajectory: Trajectory, module: Module, block: ActionBlock) -> list[Message]:
    """One module's conversation in an episode with the model's turns as it generated them (the
    feedback turns from the env's results), for preference pairs; it ends where the record does."""
    formulation = trajectory_formulation(trajectory)
    role = _MODULE_ROLE[module]
    dataset = _dataset(trajectory.domain)
    task = trajectory.question
    texts = [next((g.text.strip() for g in step.generations if g.role == role), None) for step in trajectory.steps]
    if formulation == "onetime":
        plan = onetime_plan(trajectory)
        if plan is None or texts[0] is None:
            return []
        user = plan_first_turn(task) if module == "plan" else ground_first_turn(block, task, [plan[0]])
        return [{"role": "user", "content": user}, {"role": "assistant", "content": texts[0]}]
    style = "web" if dataset == "web_agent" else "webshop" if dataset == "webshop" else "result"
    messages: list[Message] = []
    results: list[tuple[int, str]] = []
    for number, (step, text) in enumerate(zip(trajectory.steps, texts), start=1):
        if text is None:
            break
        if module == "plan":
            if number == 1:
                messages.append({"role": "user", "content": plan_first_turn(task)})
            messages.append({"role": "assistant", "content": text})
            if step.action.startswith(FINAL_ACTION):
                break
            match = _SUBGOAL.match(strip_keep_planning(step.subgoal or "").strip())
            body = match.group(2).strip() if match else ""
            messages.append({"role": "user", "content": plan_feedback_turn(number, _fed_back(step), style, body)})  # type: ignore[arg-type]
        else:
            line = strip_keep_planning(step.subgoal or "").strip()
            if number == 1:
                user = ground_first_turn(block, task, line)
            else:
                user = ground_later_turn(line, results if dataset in GROUNDING_WITH_RESULTS else None)
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": text}]
            results.append((number, _fed_back(step)))
    return messages


def dpo_pairs(trajectories: Iterable[Trajectory], *, min_reward: float = 1.0, max_pairs_per_task: int = 4,
              blocks: dict[str, ActionBlock] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Preference pairs by file name (`{dataset}_{module}_{formulation}_dpo`), see the module docstring.

    A success whose turn in the module broke the format gives no pair (a format error is never
    `chosen`); identical pairs are written once.
    """
    blocks = dict(blocks or {})
    by_task: dict[tuple[str, str, str], list[Trajectory]] = defaultdict(list)
    for trajectory in trajectories:
        if trajectory.end_reason == "failed":
            continue  # an episode that raised or timed out says nothing about the model's turns
        by_task[(trajectory.key.env_id, trajectory.key.task_id, trajectory_formulation(trajectory))].append(trajectory)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (env_id, task_id, formulation), group in sorted(by_task.items()):
        wins = [t for t in group if t.reward >= min_reward]
        losses = [t for t in group if t.reward < min_reward]
        if not wins or not losses:
            continue
        dataset = _dataset(group[0].domain)
        block = blocks.get(env_id) or _block_for(env_id, dataset, blocks)
        for module in ("plan", "ground"):
            clean = [t for t in wins if not any(module in flagged_modules(s) for s in t.steps)]
            seen: set[str] = set()
            name = f"{dataset}_{module}_{formulation}_dpo"
            for k, loss in enumerate(losses):
                if len(seen) >= max_pairs_per_task or not clean:
                    break
                pair = _first_divergence(module_conversation(clean[k % len(clean)], module, block), module_conversation(loss, module, block))  # type: ignore[arg-type]
                if pair is None:
                    continue
                key = json.dumps(pair, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                out[name].append({"dataset": dataset, "id": f"{dataset}_{len(out[name])}", "env_id": env_id, "task_id": task_id, **pair})
    return dict(out)


def _first_divergence(chosen: list[Message], rejected: list[Message]) -> dict[str, Any] | None:
    for i, (a, b) in enumerate(zip(chosen, rejected)):
        if a == b:
            continue
        if a["role"] != "assistant" or b["role"] != "assistant" or i == 0:
            return None  # the contexts differ before the model's turns do
        return {"prompt": [dict(m) for m in chosen[:i]], "chosen": [dict(a)], "rejected": [dict(b)]}
    return None


def _fed_back(step: StepRecord) -> str:
    """What the agent fed back for a step: the error of an invalid action, else its result."""
    if step.error:
        return step.error
    return step.result if step.result is not None else step.observation


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
    """Convert the configured inputs and write one JSONL file per record set; returns name -> path.

    What was kept and left out goes to `sft_stats.json` in the same folder (and the log).
    """
    sets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    stats = ConversionStats()
    if config.trajectories:
        converted = trajectory_records(iter_trajectories(config.trajectories), min_reward=config.min_reward, skip_invalid=config.skip_invalid,
                                       cross_formulation=config.cross_formulation, stats=stats)
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
    if config.dpo and config.trajectories:
        pairs = dpo_pairs(iter_trajectories(config.trajectories), min_reward=config.min_reward, max_pairs_per_task=config.max_pairs_per_task)
        stats.dpo_pairs = sum(len(v) for v in pairs.values())
        sets.update(pairs)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, records in sorted(sets.items()):
        if name.startswith("unified_"):
            records = [_record("unified", i, r["messages"]) for i, r in enumerate(records)]
        paths[name] = write_records(records, out / f"{name}.jsonl")
    if config.trajectories:
        (out / STATS_FILE).write_text(json.dumps(stats.to_dict(), indent=2) + "\n", encoding="utf-8")
        logger.info("sft-data: %s", stats.to_dict())
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
