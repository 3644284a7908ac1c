"""The trajectory store: one JSON line per finished episode, safe to kill and resume.

File layout: a header line (`{"type": "header", "schema_version", "config_hash", "config"}`), then
one `{"type": "episode", ...}` line per finished episode (a `Trajectory`). Each episode line is
written, flushed and fsynced before the next one starts, so a killed run loses at most the
episodes in flight; the reader drops a torn last line. A file lock stops two writers; an existing
file is never overwritten without `overwrite=True`; `resume=True` continues a file whose header
has the same config hash and refuses any other. This module alone knows the file format.

Schema v2 (written now; v1 files read as before):
- every generation record carries its token ids as sampled: the prompt's ids as a per-turn delta
  over the module's conversation so far (`prompt_ids_keep` ids of the module's previous prompt
  followed by its previous completion are kept, then `prompt_ids` follow; see
  `prompt_ids_of`), then the completion's `token_ids`, `logprobs` and `stop_text`, so that
  `decode(token_ids) == text + stop_text`; whole prompts per call would grow quadratically;
- every episode says why it ended (`end_reason`: answered, planner_stopped, subgoal_limit,
  step_limit, format_error, truncated, tool_timeout, or failed with its `failure` cause);
- the header's `schema_minor` lets later issues add fields: fields this reader does not know,
  from a newer minor version, are kept in `extra` and written back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from filelock import FileLock, Timeout

SCHEMA_VERSION = 2
SCHEMA_MINOR = 0
READABLE_VERSIONS = (1, 2)
END_REASONS = ("answered", "planner_stopped", "subgoal_limit", "step_limit", "format_error", "truncated", "tool_timeout", "failed")
"""why an episode ended (`Trajectory.end_reason`)"""


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable hash of a run's config (canonical JSON)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class EpisodeKey:
    """What makes an episode unique in a run: env, task, reset seed and sample index."""

    env_id: str
    task_id: str
    seed: int
    sample: int = 0

    def as_tuple(self) -> tuple[str, str, int, int]:
        return (self.env_id, self.task_id, self.seed, self.sample)


@dataclass
class GenerationRecord:
    """One model call's output as stored: role (`planner`/`grounder`/...), text, tokens, logprobs."""

    role: str
    text: str
    token_ids: list[int] = field(default_factory=list)
    """the completion's ids as sampled (the token that ended it included)"""
    logprobs: list[float] | None = None
    finish_reason: str = "stop"
    """`stop`, `truncated` (length limit), or `error`"""
    prompt_ids: list[int] | None = None
    """the prompt's ids after the kept prefix (None where the back-end gives no ids)"""
    prompt_ids_keep: int = 0
    """ids kept from the module's previous prompt + completion before `prompt_ids`"""
    stop_text: str = ""
    """what the ids decode to after `text` (the stop string)"""
    extra: dict[str, Any] = field(default_factory=dict)
    """fields of a newer minor schema version, kept"""


@dataclass
class StepRecord:
    """One env step: the subgoal it grounds, the action text, and what the env said."""

    index: int
    action: str
    observation: str
    reward: float = 0.0
    subgoal: str | None = None
    error: str | None = None
    result: str | None = None
    """the env's `info["last_result"]`: what LUMOS feeds back to the planner"""
    format_error: str | None = None
    latency_s: float = 0.0
    """wall time of env.step"""
    generations: list[GenerationRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """fields of a newer minor schema version, kept"""


@dataclass
class Trajectory:
    """A finished episode."""

    key: EpisodeKey
    split: str
    domain: str
    question: str
    steps: list[StepRecord] = field(default_factory=list)
    final_answer: str | None = None
    reward: float = 0.0
    success: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    agent: dict[str, Any] = field(default_factory=dict)
    """agent name, formulation, model and sampling settings"""
    terminated: bool = False
    truncated: bool = False
    wall_s: float = 0.0
    end_reason: str = ""
    """why the episode ended; "failed" when it raised or timed out (schema v2 names the others)"""
    failure: str | None = None
    """the cause of a failed episode (exception or timeout), else None"""
    extra: dict[str, Any] = field(default_factory=dict)
    """fields of a newer minor schema version, kept"""

    @property
    def num_format_errors(self) -> int:
        return sum(1 for s in self.steps if s.format_error)

    @property
    def num_tokens(self) -> int:
        return sum(len(g.token_ids) for s in self.steps for g in s.generations)

    def to_record(self) -> dict[str, Any]:
        record = _flatten_extra(asdict(self))
        record["steps"] = [_flatten_extra({**s, "generations": [_flatten_extra(g) for g in s["generations"]]}) for s in record["steps"]]
        record["type"] = "episode"
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Trajectory":
        data = _split_extra(cls, {k: v for k, v in record.items() if k != "type"})
        data["key"] = EpisodeKey(**data["key"])
        data["steps"] = [
            StepRecord(**{**_split_extra(StepRecord, s), "generations": [GenerationRecord(**_split_extra(GenerationRecord, g)) for g in s.get("generations", [])]})
            for s in data.get("steps", [])
        ]
        return cls(**data)


def _flatten_extra(data: dict[str, Any]) -> dict[str, Any]:
    extra = data.pop("extra", None) or {}
    return {**extra, **data}


def _split_extra(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Known fields as arguments; unknown ones (a newer minor version's) under `extra`."""
    known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    out = {k: v for k, v in data.items() if k in known and k != "extra"}
    extra = {k: v for k, v in data.items() if k not in known}
    if extra:
        out["extra"] = extra
    return out


def prompt_ids_of(generations: list[GenerationRecord]) -> list[list[int] | None]:
    """The whole prompt ids of each of one module's generations in one episode, in order, rebuilt
    from the stored deltas (None where a generation stored no ids)."""
    out: list[list[int] | None] = []
    context: list[int] = []
    for generation in generations:
        if generation.prompt_ids is None:
            out.append(None)
            context = []
            continue
        prompt = context[: generation.prompt_ids_keep] + list(generation.prompt_ids)
        out.append(prompt)
        context = prompt + list(generation.token_ids)
    return out


def delta_of(previous_context: list[int], prompt: list[int]) -> tuple[int, list[int]]:
    """(`prompt_ids_keep`, `prompt_ids`): the common prefix with the conversation so far, then the rest."""
    keep = 0
    for a, b in zip(previous_context, prompt):
        if a != b:
            break
        keep += 1
    return keep, list(prompt[keep:])


class StoreError(RuntimeError):
    """A trajectory file cannot be used as asked (exists, locked, different config)."""


class TrajectoryWriter:
    """Appends trajectories to one JSON-lines file; see the module docstring for the guarantees."""

    def __init__(self, path: str | Path, config: Mapping[str, Any], *, resume: bool = False, overwrite: bool = False) -> None:
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        self.config_hash = config_hash(self.config)
        self._lock = FileLock(str(self.path) + ".lock")
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise StoreError(f"{self.path} is being written by another process (lock {self.path}.lock)") from None
        try:
            self.done: set[tuple[str, str, int, int]] = set()
            self._open(resume=resume, overwrite=overwrite)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, *, resume: bool, overwrite: bool) -> None:
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not (resume or overwrite):
            raise StoreError(f"{self.path} exists; pass resume=True (--resume) to continue it or overwrite=True (--overwrite)")
        if exists and resume:
            header, trajectories, valid_bytes = _read(self.path)
            if header is None:
                raise StoreError(f"{self.path} has no header; it is not a lumos trajectory file")
            if header["config_hash"] != self.config_hash:
                raise StoreError(
                    f"{self.path} was written with a different config (hash {header['config_hash']}, now {self.config_hash}); "
                    "use a new file or --overwrite"
                )
            self.done = {t.key.as_tuple() for t in trajectories}
            with self.path.open("r+b") as handle:  # cut a torn last line before appending
                handle.truncate(valid_bytes)
            self._handle = self.path.open("a", encoding="utf-8")
            return
        self._handle = self.path.open("w", encoding="utf-8")
        self._append({"type": "header", "schema_version": SCHEMA_VERSION, "schema_minor": SCHEMA_MINOR, "config_hash": self.config_hash,
                      "config": self.config, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def is_done(self, key: EpisodeKey) -> bool:
        return key.as_tuple() in self.done

    def write(self, trajectory: Trajectory) -> None:
        """Append one finished episode durably (flush + fsync)."""
        if self.is_done(trajectory.key):
            raise StoreError(f"episode {trajectory.key} is already in {self.path}")
        self._append(trajectory.to_record())
        self.done.add(trajectory.key.as_tuple())

    def _append(self, record: Mapping[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        if self._lock.is_locked:
            self._lock.release()

    def __enter__(self) -> "TrajectoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trajectories(path: str | Path) -> tuple[dict[str, Any] | None, list[Trajectory]]:
    """The header and every complete episode of a file (a torn last line is dropped)."""
    header, trajectories, _ = _read(Path(path))
    return header, trajectories


def iter_trajectories(paths: list[str | Path]) -> Iterator[Trajectory]:
    for path in paths:
        yield from read_trajectories(path)[1]


def _read(path: Path) -> tuple[dict[str, Any] | None, list[Trajectory], int]:
    """(header, trajectories, bytes of complete lines)."""
    header: dict[str, Any] | None = None
    trajectories: list[Trajectory] = []
    valid = 0
    with path.open("rb") as handle:
        data = handle.read()
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end == -1:
            break  # torn last line: the run was killed mid-write
        line = data[position:end]
        try:
            record = json.loads(line)
        except ValueError:
            if end + 1 >= len(data):
                break  # a corrupt final line is treated like a torn one
            raise StoreError(f"{path}: line at byte {position} is not JSON") from None
        if record.get("type") == "header":
            if record.get("schema_version") not in READABLE_VERSIONS:
                raise StoreError(f"{path}: schema_version {record.get('schema_version')} is not one this lumos reads "
                                 f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade lumos")
            header = record
        elif record.get("type") == "episode":
            trajectories.append(Trajectory.from_record(record))
        position = valid = end + 1
    return header, trajectories, valid


def to_dataset(paths: list[str | Path]) -> Any:
    """The episodes of one or more files as a `datasets.Dataset` (one row per episode; steps as JSON)."""
    import datasets

    rows = []
    for trajectory in iter_trajectories(paths):
        record = trajectory.to_record()
        rows.append({
            "env_id": trajectory.key.env_id, "task_id": trajectory.key.task_id, "seed": trajectory.key.seed,
            "sample": trajectory.key.sample, "split": trajectory.split, "domain": trajectory.domain,
            "question": trajectory.question, "final_answer": trajectory.final_answer, "reward": trajectory.reward,
            "success": trajectory.success, "num_steps": len(trajectory.steps),
            "metrics": json.dumps(trajectory.metrics), "agent": json.dumps(trajectory.agent),
            "steps": json.dumps(record["steps"], ensure_ascii=False),
        })
    return datasets.Dataset.from_list(rows)


def export_parquet(paths: list[str | Path], out: str | Path) -> Path:
    """Write the episodes of `paths` to one Parquet file."""
    out = Path(out)
    to_dataset(paths).to_parquet(str(out))
    return out
