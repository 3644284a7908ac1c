"""The trajectory files a viewer may read: found under the paths it was given, and nowhere else.

A `Catalog` is built from the files and folders on the `lumos view` command line. Folders are
searched for `*.jsonl` files; each file gets an id `<root index>/<path inside the root>` that the
pages put in their URLs. `Catalog.resolve` turns an id back into a file and refuses anything that
could leave the roots: `..` in any spelling (percent-encoded, doubly encoded, backslashes), absolute
paths, and symlinks whose target lies outside.

Reading follows the store's rules (`rollouts.store.read_trajectories`: a torn or corrupt last line
is dropped, the header's schema version must be one the store reads), but in two stages, so that a
10,000-episode file lists in about a second: the runs page needs one summary row per episode,
decoded with msgspec from the few fields it shows (the token ids and logprobs that make up most
of a line are skipped unbuilt); an episode page reads its one line with the store's
`Trajectory.from_record`. Files are cached by inode, size and modification time, and a file that
grows (a run still writing it) is read on from where the last read stopped. A file that cannot be
read (not UTF-8, another schema version, no header, a bad line) becomes one `problem` line,
logged once, never an exception on a page.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import unquote

import msgspec

from rollouts.store import Trajectory

try:
    from rollouts.store import READABLE_VERSIONS
except ImportError:  # a store from before schema v2 reads its one version
    from rollouts.store import SCHEMA_VERSION

    READABLE_VERSIONS = (SCHEMA_VERSION,)

logger = logging.getLogger(__name__)

MAX_FILES = 5000
"""files listed per catalog (a folder holding more is cut, with a warning)"""
CACHE_FILES = 32
"""parsed files kept in memory (least recently used dropped first)"""
CACHE_EPISODES = 64
"""episodes of one file kept parsed (least recently used dropped first)"""
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
    """One file as read: its header, one summary row per episode, and what was wrong with it, if anything.

    Episodes themselves are read on demand (`trajectory(i)`): a page about one episode parses one
    line with the store's `Trajectory.from_record`, so a 10,000-episode file costs its rows only.
    """

    file: RunFile
    header: dict[str, Any] | None
    rows: list[EpisodeRow]
    spans: list[tuple[int, int]] = field(default_factory=list)
    """(start, end) byte offsets of each episode's line"""
    problem: str | None = None
    """one line saying why the file could not be read (then there are no rows)"""
    note: str | None = None
    """one line about a readable file (a torn last line)"""
    stamp: tuple[int, int, int] = (0, 0, 0)
    """(inode, size, mtime_ns) the file had when read"""
    valid_bytes: int = 0
    """bytes of complete lines read (a growing file is read on from here)"""
    header_line: bytes = b""
    last_line: bytes = b""
    """the last complete line read: it must still be there for the file to count as grown"""
    loaded_s: float = 0.0
    """seconds spent reading and parsing"""
    _episodes: "OrderedDict[int, Trajectory]" = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def num_episodes(self) -> int:
        return len(self.rows)

    @property
    def schema_version(self) -> Any:
        return (self.header or {}).get("schema_version")

    @property
    def agent_info(self) -> dict[str, Any]:
        config = (self.header or {}).get("config") or {}
        info = config.get("agent_info") if isinstance(config, dict) else None
        return info if isinstance(info, dict) else {}

    def trajectory(self, index: int) -> Trajectory:
        """Episode `index` as the store reads it.

        Raises:
            LookupError: no such episode, or its line no longer reads (the file changed under us).
        """
        if not 0 <= index < len(self.rows):
            raise LookupError(f"{self.file.label} has no episode {index} (it has {len(self.rows)})")
        with self._lock:
            if index in self._episodes:
                self._episodes.move_to_end(index)
                return self._episodes[index]
        start, end = self.spans[index]
        try:
            with self.file.path.open("rb") as handle:
                handle.seek(start)
                trajectory = Trajectory.from_record(json.loads(handle.read(end - start)))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise LookupError(f"{self.file.label}: episode {index} cannot be read ({type(error).__name__}: {error})") from None
        with self._lock:
            self._episodes[index] = trajectory
            while len(self._episodes) > CACHE_EPISODES:
                self._episodes.popitem(last=False)
        return trajectory


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
        """The file's rows, re-read only when it changed; a file that grew (a run still writing it) is
        read on from where the last read stopped."""
        try:
            stat = run_file.path.stat()
        except OSError as error:
            return LoadedRun(run_file, None, [], problem=f"cannot read: {error.strerror}")
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(run_file.path)
            if cached is not None and cached.stamp == stamp:
                self._cache.move_to_end(run_file.path)
                return cached
        loaded = _read_run(run_file, stamp, cached)
        if loaded.problem and (cached is None or cached.problem != loaded.problem):
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


class _KeyView(msgspec.Struct):
    env_id: str = ""
    task_id: str = ""
    seed: int = 0
    sample: int = 0


class _StepView(msgspec.Struct):
    action: str = ""
    observation: str = ""
    subgoal: str | None = None
    format_error: str | None = None


class _LineView(msgspec.Struct):
    """The fields of an episode line the runs page needs; msgspec skips the rest (token ids, logprobs)
    without building them, which is what makes a 10,000-episode file quick to list."""

    type: str = ""
    key: _KeyView | None = None
    split: str = ""
    domain: str = ""
    question: str = ""
    steps: list[_StepView] = []
    reward: float = 0.0
    success: bool = False
    terminated: bool = False
    truncated: bool = False
    end_reason: str | None = None
    failure: str | None = None


_DECODER = msgspec.json.Decoder(_LineView)


def _read_run(run_file: RunFile, stamp: tuple[int, int, int], previous: LoadedRun | None) -> LoadedRun:
    """Rows of every complete episode line; the same rules as `rollouts.store.read_trajectories`
    (a torn or corrupt last line is dropped, any other bad line makes the file unreadable, the header's
    schema version must be one the store reads)."""
    started = time.perf_counter()
    try:
        with run_file.path.open("rb") as handle:
            if previous is not None and _continues(previous, handle, stamp):
                handle.seek(previous.valid_bytes)
                offset, header, header_line = previous.valid_bytes, previous.header, previous.header_line
                rows, spans, last_line = list(previous.rows), list(previous.spans), previous.last_line
            else:
                handle.seek(0)
                offset, header, header_line, rows, spans, last_line = 0, None, b"", [], [], b""
            data = handle.read()
    except OSError as error:
        return LoadedRun(run_file, None, [], problem=f"cannot read: {error.strerror}", stamp=stamp)

    def unreadable(problem: str) -> LoadedRun:
        return LoadedRun(run_file, None, [], problem=problem, stamp=stamp, loaded_s=time.perf_counter() - started)

    if not data and not offset:
        return unreadable("empty file (no header yet)")
    complete = data.rfind(b"\n") + 1
    try:
        data[:complete].decode("utf-8")
    except UnicodeDecodeError as error:
        return unreadable(f"not UTF-8 text (byte {offset + error.start}): not a lumos trajectory file")
    position, valid, torn = 0, 0, complete < len(data)
    while position < complete:
        end = data.index(b"\n", position)
        line = data[position:end]
        try:
            view = _DECODER.decode(line)
        except msgspec.DecodeError:
            if end + 1 >= complete:
                torn = True  # a corrupt final line is treated like a torn one, as the store does
                break
            return unreadable(f"line at byte {offset + position} is not JSON")
        except msgspec.ValidationError as error:
            return unreadable(f"line at byte {offset + position} does not fit a lumos trajectory ({error})")
        if view.type == "header":
            header, header_line = json.loads(line), line
            version = header.get("schema_version")
            if version not in READABLE_VERSIONS:
                return unreadable(f"schema_version {version} is not one this lumos reads "
                                  f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade lumos")
        elif view.type == "episode":
            if view.key is None:
                return unreadable(f"line at byte {offset + position} is an episode without a key")
            rows.append(_row(len(rows), view))
            spans.append((offset + position, offset + end))
        position = valid = end + 1
        last_line = line
    if header is None:
        return unreadable("no header line: not a lumos trajectory file")
    note = None
    if torn:
        note = f"the last line is incomplete (still being written, or the run was killed); {len(rows)} complete episodes shown"
    return LoadedRun(run_file, header, rows, spans, note=note, stamp=stamp, valid_bytes=offset + valid,
                     header_line=header_line, last_line=last_line, loaded_s=time.perf_counter() - started)


def _continues(previous: LoadedRun, handle: Any, stamp: tuple[int, int, int]) -> bool:
    """Whether the file is `previous` with lines appended (same inode, longer, same header line)."""
    if previous.problem or not previous.header_line or previous.stamp[0] != stamp[0]:
        return False
    if stamp[1] < previous.valid_bytes:
        return False
    if handle.read(len(previous.header_line)) != previous.header_line:
        return False
    handle.seek(previous.valid_bytes - len(previous.last_line) - 1)
    return handle.read(len(previous.last_line)) == previous.last_line


def _row(index: int, view: _LineView) -> EpisodeRow:
    steps = view.steps
    last = steps[-1] if steps else None
    key = view.key or _KeyView()
    end_reason = view.end_reason or _derived_end_reason(view)
    return EpisodeRow(
        index=index, env_id=key.env_id, task_id=key.task_id, seed=key.seed, sample=key.sample,
        split=view.split, domain=view.domain, success=view.success, reward=view.reward, num_steps=len(steps),
        num_format_errors=sum(1 for step in steps if step.format_error), truncated=view.truncated or end_reason == "truncated",
        end_reason=end_reason, failure=view.failure or "", question=view.question[:300],
        last_subgoal=next((step.subgoal for step in reversed(steps) if step.subgoal), "") or "",
        last_action=last.action[:300] if last else "", last_observation=last.observation[:300] if last else "",
    )


def _derived_end_reason(t: _LineView) -> str:
    """Schema v1 files store no end reason; this is the closest the flags allow."""
    if t.terminated:
        return "answered"
    if t.truncated:
        return "step_limit"
    return "unknown"
