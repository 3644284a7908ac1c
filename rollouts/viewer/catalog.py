"""The trajectory files a viewer may read: found under the paths it was given, and nowhere else.

A `Catalog` is built from the files and folders on the `lumos view` command line. Folders are
searched for `*.jsonl` files; each file gets an id `<root index>/<path inside the root>` that the
pages put in their URLs. `Catalog.resolve` turns an id back into a file and refuses anything that
could leave the roots: `..` in any spelling (percent-encoded, doubly encoded, backslashes), absolute
paths, and symlinks whose target lies outside. Files are read with `rollouts.store` (so every
schema version the store reads works here) and cached by size and modification time; a file the
store cannot read (torn, not UTF-8, another schema version, no header) becomes one `problem` line,
logged once, never an exception on a page.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import unquote

from rollouts.store import StoreError, Trajectory, read_trajectories

logger = logging.getLogger(__name__)

MAX_FILES = 5000
"""files listed per catalog (a folder holding more is cut, with a warning)"""
CACHE_FILES = 32
"""parsed files kept in memory (least recently used dropped first)"""
LIVE_WINDOW_S = 30.0
"""where file locks cannot be inspected, a file modified this recently counts as still being written"""


class PathRefused(ValueError):
    """A requested path is not one of the catalog's files (outside the roots, `..`, or not a trajectory file)."""


@dataclass(frozen=True)
class RunFile:
    """One trajectory file under a root."""

    file_id: str
    """`<root index>/<relative path>`: what URLs carry"""
    path: Path
    """the resolved file"""
    label: str
    """what the pages call it: the root's name and the path inside it"""

    @property
    def folder(self) -> str:
        """The run the file belongs to: its folder's label (an eval run keeps one file per suite)."""
        return self.label.rsplit("/", 1)[0] if "/" in self.label else ""


@dataclass
class EpisodeRow:
    """What the runs page filters and sums over, computed once per episode when a file is read."""

    index: int
    env_id: str
    task_id: str
    seed: int
    sample: int
    split: str
    domain: str
    success: bool
    reward: float
    num_steps: int
    num_format_errors: int
    truncated: bool
    end_reason: str
    """the store's `end_reason` (schema v2); for older files derived from terminated/truncated"""
    failure: str
    question: str
    last_subgoal: str
    last_action: str
    last_observation: str


@dataclass
class LoadedRun:
    """One file as read: its header, episodes, and what was wrong with it, if anything."""

    file: RunFile
    header: dict[str, Any] | None
    trajectories: list[Trajectory]
    rows: list[EpisodeRow]
    problem: str | None = None
    """one line saying why the file could not be read (then `trajectories` is empty)"""
    note: str | None = None
    """one line about a readable file (a torn last line)"""
    stamp: tuple[int, int] = (0, 0)
    """(size, mtime_ns) the file had when read"""
    loaded_s: float = 0.0
    """seconds spent reading and parsing"""

    @property
    def schema_version(self) -> Any:
        return (self.header or {}).get("schema_version")

    @property
    def agent_info(self) -> dict[str, Any]:
        config = (self.header or {}).get("config") or {}
        info = config.get("agent_info") if isinstance(config, dict) else None
        return info if isinstance(info, dict) else {}


@dataclass
class Catalog:
    """The roots a viewer serves and the files under them."""

    roots: list[Path]
    _cache: "OrderedDict[Path, LoadedRun]" = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path]) -> "Catalog":
        """Raises:
            ValueError: no path given, or one that does not exist.
        """
        if not paths:
            raise ValueError("lumos view needs at least one trajectory file or folder")
        roots = []
        for given in paths:
            path = Path(given).expanduser()
            if not path.exists():
                raise ValueError(f"{given}: no such file or folder")
            roots.append(path.resolve())
        return cls(roots)

    # ---- finding files -------------------------------------------------------------------
    def files(self) -> list[RunFile]:
        """Every trajectory file under the roots, in root order then path order."""
        found: list[RunFile] = []
        for index, root in enumerate(self.roots):
            if root.is_file():
                found.append(RunFile(f"{index}/{root.name}", root, root.name))
                continue
            for path in sorted(root.rglob("*.jsonl")):  # rglob does not descend into symlinked folders
                resolved = path.resolve()
                if not resolved.is_file() or not resolved.is_relative_to(root):
                    continue  # a symlink leaving the root is never listed
                rel = path.relative_to(root).as_posix()
                found.append(RunFile(f"{index}/{rel}", resolved, f"{root.name}/{rel}"))
                if len(found) >= MAX_FILES:
                    logger.warning("more than %d trajectory files under %s; listing the first %d", MAX_FILES, root, MAX_FILES)
                    return found
        return found

    def resolve(self, file_id: str) -> RunFile:
        """The file an id names.

        Raises:
            PathRefused: the id leaves the roots (`..`, encoded or not; an absolute path; a symlink
                pointing outside) or names no trajectory file.
        """
        text = refuse_traversal(file_id)
        head, _, rel = text.partition("/")
        if not head.isdigit() or int(head) >= len(self.roots) or not rel:
            raise PathRefused(f"{file_id!r} names no viewed file")
        root = self.roots[int(head)]
        if root.is_file():
            if rel != root.name:
                raise PathRefused(f"{file_id!r} names no viewed file")
            return RunFile(f"{head}/{rel}", root, root.name)
        candidate = root / rel
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root):
            raise PathRefused(f"{file_id!r} leaves the viewed folders (a symlink to {resolved.parent}?)")
        if candidate.suffix != ".jsonl" or not resolved.is_file():
            raise PathRefused(f"{file_id!r} is not a trajectory file under the viewed folders")
        return RunFile(f"{head}/{rel}", resolved, f"{root.name}/{rel}")

    # ---- reading files -------------------------------------------------------------------
    def load(self, run_file: RunFile) -> LoadedRun:
        """The file's episodes, re-read only when its size or modification time changed."""
        try:
            stat = run_file.path.stat()
        except OSError as error:
            return LoadedRun(run_file, None, [], [], problem=f"cannot read: {error.strerror}")
        stamp = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(run_file.path)
            if cached is not None and cached.stamp == stamp:
                self._cache.move_to_end(run_file.path)
                return cached
        loaded = _read_run(run_file, stamp)
        if loaded.problem:
            logger.warning("%s: %s", run_file.label, loaded.problem)
        with self._lock:
            self._cache[run_file.path] = loaded
            self._cache.move_to_end(run_file.path)
            while len(self._cache) > CACHE_FILES:
                self._cache.popitem(last=False)
        return loaded

    def load_all(self) -> list[LoadedRun]:
        return [self.load(f) for f in self.files()]


def refuse_traversal(value: str) -> str:
    """`value` fully percent-decoded, or PathRefused if any spelling of it climbs out (`..`, `\\`, NUL, `/x`)."""
    text = value
    for _ in range(4):  # %252e%252e decodes to %2e%2e, then to ..
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    if "%" in text and unquote(text) != text:
        raise PathRefused(f"{value!r} is encoded too many times")
    if "\x00" in text or "\\" in text or text.startswith("/") or any(part == ".." for part in text.split("/")):
        raise PathRefused(f"{value!r} climbs out of the viewed folders ('..' and absolute paths are refused)")
    return text


def is_live(path: Path) -> bool:
    """Whether a writer (`lumos rollout`) holds the file's lock now.

    Reads `/proc/locks` rather than trying the lock, so the viewer can never make a starting
    writer fail to get it. Where that file does not exist, a recent modification counts.
    """
    lock = Path(str(path) + ".lock")
    try:
        stat = lock.stat()
    except OSError:
        return False
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return time.time() - path.stat().st_mtime < LIVE_WINDOW_S
    wanted = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    return any(len(parts) > 5 and parts[5] == wanted for parts in (line.split() for line in locks.splitlines()))


def _read_run(run_file: RunFile, stamp: tuple[int, int]) -> LoadedRun:
    started = time.perf_counter()

    def done(header: dict[str, Any] | None, trajectories: list[Trajectory], problem: str | None = None, note: str | None = None) -> LoadedRun:
        rows = [_row(i, t) for i, t in enumerate(trajectories)]
        return LoadedRun(run_file, header, trajectories, rows, problem, note, stamp, time.perf_counter() - started)

    try:
        data = run_file.path.read_bytes()
    except OSError as error:
        return done(None, [], f"cannot read: {error.strerror}")
    if not data:
        return done(None, [], "empty file (no header yet)")
    complete = data.rfind(b"\n") + 1
    try:
        data[:complete].decode("utf-8")
    except UnicodeDecodeError as error:
        return done(None, [], f"not UTF-8 text (byte {error.start}): not a lumos trajectory file")
    try:
        header, trajectories = read_trajectories(run_file.path)
    except StoreError as error:
        return done(None, [], str(error).replace(str(run_file.path) + ": ", ""))
    except (TypeError, KeyError, ValueError) as error:
        return done(None, [], f"an episode line does not fit this lumos version's Trajectory ({type(error).__name__}: {error})")
    if header is None:
        return done(None, [], "no header line: not a lumos trajectory file")
    note = None
    if complete < len(data):
        note = (f"the last line is incomplete (still being written, or the run was killed); "
                f"{len(trajectories)} complete episodes shown")
    return done(header, trajectories, note=note)


def _row(index: int, t: Trajectory) -> EpisodeRow:
    last = t.steps[-1] if t.steps else None
    end_reason = getattr(t, "end_reason", None) or _derived_end_reason(t)
    return EpisodeRow(
        index=index, env_id=t.key.env_id, task_id=t.key.task_id, seed=t.key.seed, sample=t.key.sample,
        split=t.split, domain=t.domain, success=bool(t.success), reward=float(t.reward), num_steps=len(t.steps),
        num_format_errors=t.num_format_errors, truncated=bool(t.truncated) or end_reason == "truncated",
        end_reason=str(end_reason), failure=str(getattr(t, "failure", None) or ""),
        question=t.question[:300],
        last_subgoal=next((s.subgoal for s in reversed(t.steps) if s.subgoal), "") or "",
        last_action=last.action[:300] if last else "", last_observation=last.observation[:300] if last else "",
    )


def _derived_end_reason(t: Trajectory) -> str:
    """Schema v1 files store no end reason; this is the closest the flags allow."""
    if t.terminated:
        return "answered"
    if t.truncated:
        return "step_limit"
    return "unknown"
