"""The on-disk cache for heavy state (indexes, converted databases, catalogs, trained tool models).

Entries live under `$LUMOS_CACHE` (default `~/.cache/lumos`), one folder per kind, named by a
content hash of the inputs plus the builder's version, so a changed input or builder never
reads a stale entry. An entry is built into a temporary folder and moved into place under a file
lock: concurrent processes (vector-env workers, parallel test runs) build it once and never see a
half-written entry. Entries hold plain files (JSON, safetensors, SQLite, ...), never pickles.
Within a process, `shared_state` keeps one loaded object per key for every env instance.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from filelock import FileLock

T = TypeVar("T")

_shared: dict[tuple[str, str], object] = {}
_shared_lock = threading.RLock()  # re-entrant: a loader may load shared state of its own


def cache_root() -> Path:
    """`$LUMOS_CACHE`, or `~/.cache/lumos`."""
    return Path(os.environ.get("LUMOS_CACHE") or Path.home() / ".cache" / "lumos")


def content_key(*parts: str | bytes | Path, version: str) -> str:
    """A hex key over the inputs' content (files are read, strings and bytes used as they are)."""
    digest = hashlib.sha256(f"version={version}\n".encode())
    for part in parts:
        if isinstance(part, Path):
            digest.update(b"file\n")
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            digest.update(b"text\n" if isinstance(part, str) else b"bytes\n")
            digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\n--\n")
    return digest.hexdigest()[:32]


def cached_build(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """The folder of cache entry `kind/key`, building it with `build(tmp_folder)` if absent.

    `build` writes files into the folder it is given; only a build that returns normally is
    moved into place. Safe across processes.
    """
    if not kind.isidentifier() or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"cache kind must be an identifier and key a hex digest, got {kind!r}, {key!r}")
    folder = cache_root() / kind / key
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if folder.is_dir():
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
        try:
            build(tmp)
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return folder


def shared_state(kind: str, key: str, load: Callable[[], T]) -> T:
    """One object per (kind, key) in this process, loaded on first use and shared afterwards."""
    with _shared_lock:
        if (kind, key) not in _shared:
            _shared[(kind, key)] = load()
        return _shared[(kind, key)]  # type: ignore[return-value]


def clear_shared_state(kinds: Iterable[str] | None = None) -> None:
    """Forget loaded shared objects (all, or of the given kinds); for tests and memory pressure."""
    with _shared_lock:
        for entry in [k for k in _shared if kinds is None or k[0] in set(kinds)]:
            del _shared[entry]
