"""What the viewer's pages show, computed from trajectories: suite summaries with Wilson intervals,
episode filters, the three lanes of an episode (planner, grounder, environment), token colours,
the comparison of two runs, and the image of a multimodal episode.

Every field schema v2 added (`end_reason`, `failure`, `prompt_ids`, `prompt_ids_keep`, the models
record in the header) is read with a default, so version 1 files show everything they have.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rollouts.store import GenerationRecord, StepRecord, Trajectory
from rollouts.viewer.catalog import EpisodeRow, LoadedRun

logger = logging.getLogger(__name__)

Z_95 = 1.959963984540054
"""the standard normal quantile of a two-sided 95% interval"""
PLANNER_ROLES = frozenset({"planner", "integrated", "cot"})
LOGPROB_BUCKETS = 8
"""token colours: bucket b holds probabilities in [b/8, (b+1)/8)"""


# ---- summaries and filters ----------------------------------------------------------------
def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval for a success rate (Wilson 1927): unlike p ± z·se it stays inside
    [0, 1] and is honest for small n and rates near 0 or 1, which is where agent evals live."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class EpisodeFilter:
    """The runs page's filters; empty strings mean "any"."""

    success: str = ""
    """`yes`, `no` or empty"""
    end_reason: str = ""
    """one end reason (answered, step_limit, format_error, ...)"""
    format_error: str = ""
    """`yes`: episodes with at least one format error"""
    truncated: str = ""
    """`yes` / `no`"""
    suite: str = ""
    """a file id"""
    split: str = ""
    domain: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "EpisodeFilter":
        return cls(**{name: str(args.get(name, "")).strip()[:200] for name in cls.__dataclass_fields__})

    def is_active(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def matches(self, row: EpisodeRow) -> bool:
        if self.success and row.success != (self.success == "yes"):
            return False
        if self.end_reason and row.end_reason != self.end_reason:
            return False
        if self.format_error == "yes" and not (row.num_format_errors or row.end_reason == "format_error"):
            return False
        if self.truncated and row.truncated != (self.truncated == "yes"):
            return False
        if self.split and row.split != self.split:
            return False
        return not (self.domain and row.domain != self.domain)

    def as_args(self, **overrides: str) -> dict[str, str]:
        """The filter as URL arguments, with `overrides` replacing some (for links that narrow it)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {name: value for name, value in {**values, **overrides}.items() if value}


@dataclass
class Summary:
    """Success, reward and steps of a set of episodes."""

    episodes: int
    successes: int
    mean_reward: float
    mean_steps: float
    format_errors: int
    truncated: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)


def summarize(rows: Sequence[EpisodeRow]) -> Summary:
    count = len(rows)
    return Summary(
        episodes=count, successes=sum(r.success for r in rows),
        mean_reward=sum(r.reward for r in rows) / count if count else 0.0,
        mean_steps=sum(r.num_steps for r in rows) / count if count else 0.0,
        format_errors=sum(1 for r in rows if r.num_format_errors), truncated=sum(1 for r in rows if r.truncated),
    )


@dataclass
class SuiteLine:
    """One line of the runs page: a file, or one (env, split) part of a file holding several."""

    run: LoadedRun
    env_id: str
    split: str
    summary: Summary
    is_part: bool = False


def suite_lines(runs: Sequence[LoadedRun], chosen: EpisodeFilter) -> list[SuiteLine]:
    """A line per file (and per env/split within a file that has more than one), filtered."""
    lines: list[SuiteLine] = []
    for run in runs:
        if chosen.suite and run.file.file_id != chosen.suite:
            continue
        rows = [r for r in run.rows if chosen.matches(r)]
        parts: dict[tuple[str, str], list[EpisodeRow]] = {}
        for row in rows:
            parts.setdefault((row.env_id, row.split), []).append(row)
        envs = sorted({r.env_id for r in run.rows})
        splits = sorted({r.split for r in run.rows})
        lines.append(SuiteLine(run, ", ".join(envs), ", ".join(splits), summarize(rows)))
        if len(parts) > 1:
            lines += [SuiteLine(run, env, split, summarize(part), is_part=True) for (env, split), part in sorted(parts.items())]
    return lines


def filter_choices(runs: Sequence[LoadedRun]) -> dict[str, list[str]]:
    """The values the filter menus offer: those present in the files."""
    rows = [r for run in runs for r in run.rows]
    return {
        "end_reason": sorted({r.end_reason for r in rows}),
        "split": sorted({r.split for r in rows if r.split}),
        "domain": sorted({r.domain for r in rows if r.domain}),
    }


def matching_episodes(runs: Sequence[LoadedRun], chosen: EpisodeFilter, limit: int) -> tuple[list[tuple[LoadedRun, EpisodeRow]], int]:
    """The first `limit` episodes passing the filter, and how many pass in all."""
    shown: list[tuple[LoadedRun, EpisodeRow]] = []
    total = 0
    for run in runs:
        if chosen.suite and run.file.file_id != chosen.suite:
            continue
        for row in run.rows:
            if chosen.matches(row):
                total += 1
                if len(shown) < limit:
                    shown.append((run, row))
    return shown, total


# ---- one episode --------------------------------------------------------------------------
@dataclass
class StepLanes:
    """One step in three lanes."""

    step: StepRecord
    planner: list[GenerationRecord]
    grounder: list[GenerationRecord]
    feedback: str | None
    """the user turn the planner answered at this step"""
    feedback_source: str
    """`prompt` (decoded from the stored prompt ids), `rebuilt` (from the previous step's result) or empty"""


def step_lanes(run: LoadedRun, trajectory: Trajectory, tokenizers: "TokenizerCache") -> list[StepLanes]:
    """Each step's planner output (with the feedback turn it answered), grounder output and env reply."""
    from agents.prompts import plan_feedback_turn

    style = "webshop" if trajectory.domain == "webshop" else "result"
    lanes: list[StepLanes] = []
    subgoals_so_far = 0
    previous: StepRecord | None = None
    tokenizer = tokenizers.for_role(run, trajectory, "planner")
    for step in trajectory.steps:
        planner = [g for g in step.generations if g.role in PLANNER_ROLES]
        grounder = [g for g in step.generations if g.role not in PLANNER_ROLES]
        feedback, source = None, ""
        if planner:
            delta = getattr(planner[0], "prompt_ids", None)
            if delta and tokenizer.tokenizer is not None and subgoals_so_far:
                feedback, source = tokenizer.tokenizer.decode(list(delta)), "prompt"
            elif previous is not None and subgoals_so_far:
                result = previous.result if previous.result is not None else previous.observation
                feedback, source = plan_feedback_turn(subgoals_so_far, str(result), style), "rebuilt"
            subgoals_so_far += 1
        lanes.append(StepLanes(step, planner, grounder, feedback, source))
        previous = step
    return lanes


def gold_plan(trajectory: Trajectory) -> list[str]:
    """The gold plan's subgoals where the file stores one (a `gold` field, or under `extra` where a
    newer minor schema version added it); today's engine stores none."""
    gold = getattr(trajectory, "gold", None) or (getattr(trajectory, "extra", None) or {}).get("gold")
    if not isinstance(gold, Mapping):
        return []
    plan = gold.get("plan")
    subgoals = plan.get("subgoals") if isinstance(plan, Mapping) else plan
    if not isinstance(subgoals, list):
        return []
    out = []
    for item in subgoals:
        if isinstance(item, Mapping):
            actions = "; ".join(str(a) for a in item.get("actions", []))
            out.append(f"{item.get('text', item.get('subgoal', ''))}" + (f"  →  {actions}" if actions else ""))
        else:
            out.append(str(item))
    return out


# ---- tokens -------------------------------------------------------------------------------
@dataclass
class LoadedTokenizer:
    tokenizer: Any | None
    source: str
    """the path it was loaded from, or empty"""
    reason: str
    """why there is none (empty when loaded)"""


class TokenizerCache:
    """Tokenizers named by the trajectories' model records, loaded once per path, from local folders only.

    The hub is never asked (`local_files_only`); remote code never runs. A record without a
    tokenizer path, a path that is not a local folder, or a folder transformers cannot load gives a
    reason the page shows instead of text.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, LoadedTokenizer] = {}
        self._lock = threading.Lock()

    def for_role(self, run: LoadedRun, trajectory: Trajectory, role: str) -> LoadedTokenizer:
        module = "planner" if role in PLANNER_ROLES else "grounder"
        models = trajectory.agent.get("models") if isinstance(trajectory.agent, Mapping) else None
        if not isinstance(models, Mapping):
            models = run.agent_info.get("models")
        record = models.get(module) if isinstance(models, Mapping) else None
        if not isinstance(record, Mapping):
            return LoadedTokenizer(None, "", f"the file names no {module} model (schema v2 stores one in the header)")
        path = record.get("tokenizer") or record.get("path")
        if not path:
            return LoadedTokenizer(None, "", f"the {module} model record ({record.get('name', '?')}) names no tokenizer")
        return self.load(str(path))

    def load(self, path: str) -> LoadedTokenizer:
        with self._lock:
            if path in self._loaded:
                return self._loaded[path]
        if not Path(path).is_dir():
            loaded = LoadedTokenizer(None, "", f"tokenizer {path} is not a folder on this machine")
        else:
            try:
                from transformers import AutoTokenizer

                loaded = LoadedTokenizer(AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False), path, "")
            except (OSError, ValueError, KeyError, TypeError) as error:
                loaded = LoadedTokenizer(None, "", f"tokenizer {path} could not be loaded ({type(error).__name__}: {str(error)[:160]})")
        if loaded.reason:
            logger.info("viewer: %s", loaded.reason)
        with self._lock:
            return self._loaded.setdefault(path, loaded)


@dataclass
class TokenView:
    text: str
    token_id: int
    logprob: float | None
    bucket: int | None
    """0..LOGPROB_BUCKETS-1 by probability; None without a logprob"""
    loss: int | None = None
    """the training row's loss mask on this token (1 trained, 0 not); None when no mask was asked for"""


@dataclass
class GenerationTokens:
    step: int
    generation: GenerationRecord
    prompt: list[TokenView]
    """this turn's new prompt ids (schema v2), decoded"""
    completion: list[TokenView]
    prompt_keep: int | None
    decoded: bool
    reason: str
    source: str
    mean_logprob: float | None = None
    added: list[TokenView] = field(default_factory=list)
    """tokens the training row appends after the sampled ones (GRPO's EOS after a stop, mask 0)"""


MASK_KINDS = ("sft", "grpo")
"""the loss masks the tokens page can show (`?mask=sft`, `?mask=grpo`)"""


@dataclass
class SftRowView:
    """One SFT row `lumos train` would build from the episode: its file name and its tokens with the assistant mask."""

    name: str
    tokens: list[TokenView]


def sft_masks(run: LoadedRun, trajectory: Trajectory, tokenizers: TokenizerCache) -> tuple[list[SftRowView], str]:
    """The SFT rows of an episode as training builds them: `rollouts.sft_data.trajectory_records`
    (its defaults: successful episodes only) then `rollouts.chat_format.tokenize_conversation` with
    the chat format `resolve_chat_format` picks for the recorded tokenizer; the mask is its
    `assistant_masks` (1 on the assistant turns, the loss `assistant_only_loss` keeps)."""
    from rollouts.chat_format import resolve_chat_format, tokenize_conversation
    from rollouts.sft_data import trajectory_records

    loaded = tokenizers.for_role(run, trajectory, "planner")
    if loaded.tokenizer is None:
        return [], f"the SFT mask needs the tokenizer: {loaded.reason}"
    try:
        records = trajectory_records([trajectory])
        if not any(records.values()):
            return [], "rollouts.sft_data builds no SFT row from this episode (it keeps successful episodes whose steps are valid)"
        chat = resolve_chat_format(loaded.tokenizer, None, loaded.source)
        rows = []
        for name, found in records.items():
            for record in found:
                built = tokenize_conversation(loaded.tokenizer, chat, [dict(m) for m in record["messages"]])
                tokens = _tokens(loaded.tokenizer, built["input_ids"], [])
                for view, value in zip(tokens, built["assistant_masks"]):
                    view.loss = int(value)
                rows.append(SftRowView(name, tokens))
    except (ValueError, KeyError, TypeError) as error:
        return [], f"no SFT rows: {type(error).__name__}: {str(error)[:200]}"
    return rows, ""


def grpo_masks(run: LoadedRun, trajectory: Trajectory, tokenizers: TokenizerCache) -> tuple[dict[int, dict[str, Any]], str]:
    """The GRPO row of each generation (by `id()`), built by `rollouts.grpo.episode_rows` itself, so
    the page shows the mask training uses, never a copy of its rule; or "" rows and the reason.

    Every call of each module gets a slot (nothing is dropped), the EOS id is the recorded
    tokenizer's. A row's prompt ids are never trained (GRPO puts feedback and observations there).
    """
    from rollouts.grpo import MODULES, episode_rows

    generations = [g for step in trajectory.steps for g in step.generations if g.role in MODULES]
    if not generations:
        return {}, "this episode has no planner or grounder generation (GRPO rows are built from those only)"
    loaded = tokenizers.for_role(run, trajectory, generations[0].role)
    if loaded.tokenizer is None or loaded.tokenizer.eos_token_id is None:
        return {}, f"the GRPO mask needs the tokenizer's EOS id: {loaded.reason or 'the tokenizer has no EOS token'}"
    slots = {m: sum(1 for g in generations if g.role == m) for m in MODULES}
    try:
        built = episode_rows(trajectory, {m: n for m, n in slots.items() if n}, int(loaded.tokenizer.eos_token_id), [])
    except ValueError as error:
        return {}, f"no GRPO rows: {error}"
    ordered = [g for m in MODULES for g in generations if g.role == m]  # episode_rows' row order
    return {id(g): row for g, row in zip(ordered, built.rows)}, ""


def generation_tokens(run: LoadedRun, trajectory: Trajectory, tokenizers: TokenizerCache,
                      rows: Mapping[int, Mapping[str, Any]] | None = None) -> list[GenerationTokens]:
    """Every generation of an episode with its tokens decoded (or as ids, with the reason); with
    `rows` (from `grpo_masks`), each token carries its row's loss mask."""
    out = []
    for step in trajectory.steps:
        for generation in step.generations:
            loaded = tokenizers.for_role(run, trajectory, generation.role)
            logprobs = list(generation.logprobs or [])
            completion = _tokens(loaded.tokenizer, generation.token_ids, logprobs)
            prompt = _tokens(loaded.tokenizer, getattr(generation, "prompt_ids", None) or [], [])
            reason = loaded.reason
            if not generation.token_ids:
                reason = "this generation stored no token ids (scripted or oracle agents produce text only)"
            mean = sum(logprobs) / len(logprobs) if logprobs else None
            added: list[TokenView] = []
            row = (rows or {}).get(id(generation))
            if row is not None:
                mask = list(row["env_mask"])
                for position, view in enumerate(completion):
                    view.loss = int(mask[position]) if position < len(mask) else None
                for view in prompt:
                    view.loss = 0
                added = _tokens(loaded.tokenizer, row["completion_ids"][len(completion):], [])
                for view, value in zip(added, mask[len(completion):]):
                    view.loss = int(value)
            out.append(GenerationTokens(step.index, generation, prompt, completion, getattr(generation, "prompt_ids_keep", None),
                                        loaded.tokenizer is not None, reason, loaded.source, mean, added))
    return out


def _tokens(tokenizer: Any | None, ids: Sequence[int], logprobs: Sequence[float]) -> list[TokenView]:
    views = []
    size = len(tokenizer) if tokenizer is not None else 0
    for position, token_id in enumerate(ids):
        if tokenizer is None:
            text = str(token_id)
        elif 0 <= int(token_id) < size:
            text = tokenizer.decode([int(token_id)]).replace("\n", "↵\n")  # a newline token stays visible (and markable)
        else:
            text = f"[{token_id}?]"
        logprob = float(logprobs[position]) if position < len(logprobs) and logprobs[position] is not None else None
        bucket = None
        if logprob is not None and math.isfinite(logprob):
            bucket = min(LOGPROB_BUCKETS - 1, max(0, int(math.exp(min(0.0, logprob)) * LOGPROB_BUCKETS)))
        views.append(TokenView(text, int(token_id), logprob, bucket))
    return views


# ---- comparing two runs ---------------------------------------------------------------------
@dataclass
class ComparedTask:
    key: tuple[str, str, int]
    """(env id, task id, sample): what "the same task" means across runs (seeds may differ)"""
    a: EpisodeRow | None
    b: EpisodeRow | None

    @property
    def outcome_changed(self) -> bool:
        return self.a is not None and self.b is not None and self.a.success != self.b.success

    @property
    def change(self) -> str:
        if self.a is None or self.b is None:
            return "only in " + ("B" if self.a is None else "A")
        if self.a.success != self.b.success:
            return "fixed" if self.b.success else "broken"
        if abs(self.a.reward - self.b.reward) > 1e-9:
            return "reward changed"
        return "same"


def compare_runs(a: LoadedRun, b: LoadedRun) -> list[ComparedTask]:
    """The tasks of both runs, those whose outcome changed first, then reward changes, then the rest."""
    left = {(r.env_id, r.task_id, r.sample): r for r in a.rows}
    right = {(r.env_id, r.task_id, r.sample): r for r in b.rows}
    tasks = [ComparedTask(k, left.get(k), right.get(k)) for k in dict.fromkeys([*left, *right])]
    order = {"broken": 0, "fixed": 1, "reward changed": 2, "only in A": 3, "only in B": 3, "same": 4}
    return sorted(tasks, key=lambda t: (order[t.change], t.key))


def first_divergence(a: Trajectory, b: Trajectory) -> int | None:
    """The first step at which two episodes of one task differ (action or observation), or None."""
    for index in range(max(len(a.steps), len(b.steps))):
        if index >= len(a.steps) or index >= len(b.steps):
            return index
        left, right = a.steps[index], b.steps[index]
        if (left.action, left.observation) != (right.action, right.observation):
            return index
    return None


def count_changes(tasks: Iterable[ComparedTask]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.change] = counts.get(task.change, 0) + 1
    return counts


# ---- images -------------------------------------------------------------------------------
@dataclass
class ImageLookup:
    png: bytes | None
    reason: str
    source: str = ""
    """the file the image was read from (empty for a re-drawn synthetic scene)"""


IMAGE_SIDE = 512
"""a file image is shown scaled to fit this many pixels a side"""
MAX_IMAGE_BYTES = 50 * 1024 * 1024
"""image files larger than this are not opened"""


@dataclass
class ImageRenderer:
    """The image of a multimodal episode: re-drawn from a synthetic task's scene spec, or read from
    the file a task set names (A-OKVQA, ScienceQA), when that file lies under an allowed root.

    Trajectory files store the observation text only (the engine drops the image array), so the
    picture comes back from the task. Bundled synthetic tasks carry a scene spec that renders the
    same pixels anywhere. A file task set is loaded only when its task file lies under `roots` (the
    viewed folders and `lumos view --image-root` folders), and an image is read only when its
    resolved path (symlinks followed) lies under them too; it is decoded with Pillow and served as a
    fresh PNG, never as the file's own bytes. Anything else is one line saying why.
    """

    roots: tuple[Path, ...] = ()
    """folders images and task files may be read from"""
    _sources: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def image(self, run: LoadedRun, trajectory: Trajectory) -> ImageLookup:
        if trajectory.domain != "multimodal":
            return ImageLookup(None, "not a multimodal episode")
        spec = self._task_spec(run, trajectory)
        if spec is None:
            return ImageLookup(None, "the file's header names no task set for this env")
        if not spec.startswith("synthetic:"):
            return self._file_image(spec, trajectory.key.task_id)
        task = self._find_task(spec, trajectory.key.task_id)
        if task is None:
            return ImageLookup(None, f"task {trajectory.key.task_id} is not in {spec}")
        data = task.metadata.get("image_spec")
        if not data:
            return ImageLookup(None, "the task has no image (text-only item)")
        from lumos_envs.multimodal.render import render
        from lumos_envs.multimodal.scene import spec_from_dict

        buffer = io.BytesIO()
        render(spec_from_dict(data)).resize((256, 256)).save(buffer, format="PNG")
        return ImageLookup(buffer.getvalue(), "")

    def _allowed(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved.is_relative_to(root) for root in self.roots)

    def _file_image(self, spec: str, task_id: str) -> ImageLookup:
        from lumos_envs.tasks.registry import parse_task_spec

        try:
            _, argument, _ = parse_task_spec(spec)
        except ValueError as error:
            return ImageLookup(None, f"the task set {spec} cannot be read: {error}")
        if not argument or not Path(argument).exists():
            return ImageLookup(None, f"the task set {spec} is not a file on this machine (the image comes from its file)")
        if not self._allowed(Path(argument)):
            return ImageLookup(None, f"the task file {argument} is outside the viewed folders; add its folder with --image-root")
        task = self._find_task(spec, task_id)
        if task is None:
            return ImageLookup(None, f"task {task_id} is not in {spec} (or the task set did not load; see the log)")
        name = task.metadata.get("image_path")
        if not name:
            return ImageLookup(None, "the task has no image (text-only item)")
        path = Path(str(name))
        if not self._allowed(path):
            return ImageLookup(None, f"the image {path} is outside the viewed folders; add its folder with --image-root")
        try:
            if path.resolve().stat().st_size > MAX_IMAGE_BYTES:
                return ImageLookup(None, f"the image {path} is larger than {MAX_IMAGE_BYTES >> 20} MiB")
            from PIL import Image

            with Image.open(path.resolve()) as opened:
                picture = opened.convert("RGB")
        except (OSError, ValueError) as error:  # UnidentifiedImageError is an OSError
            return ImageLookup(None, f"the image {path} cannot be read ({type(error).__name__}: {str(error)[:120]})")
        picture.thumbnail((IMAGE_SIDE, IMAGE_SIDE))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return ImageLookup(buffer.getvalue(), "", str(path))

    def _task_spec(self, run: LoadedRun, trajectory: Trajectory) -> str | None:
        config = (run.header or {}).get("config") or {}
        for job in config.get("jobs") or []:
            if isinstance(job, Mapping) and job.get("env_id") == trajectory.key.env_id:
                return str(job.get("tasks") or "synthetic:multimodal_train")
        return None

    def _find_task(self, spec: str, task_id: str) -> Any:
        from lumos_envs.tasks.registry import load_tasks

        with self._lock:
            source = self._sources.get(spec)
            if source is None:
                try:
                    tasks = load_tasks(spec)
                    source = self._sources[spec] = {tasks[i].id: tasks[i] for i in range(len(tasks))}
                except (ValueError, KeyError, OSError) as error:
                    logger.warning("viewer: task set %s cannot be loaded: %s", spec, error)
                    source = self._sources[spec] = {}
        return source.get(task_id)
