"""The on-disk cache: content keys, build-once under a lock, atomic placement, shared objects."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lumos_envs.cache import cache_root, cached_build, clear_shared_state, content_key, shared_state


def test_keys_follow_content_and_version(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("a")
    first = content_key(data, "opt", version="1")
    assert first == content_key(data, "opt", version="1")
    assert first != content_key(data, "opt", version="2")
    data.write_text("b")
    assert first != content_key(data, "opt", version="1")


def test_build_once_even_with_concurrent_callers(monkeypatch, tmp_path):
    monkeypatch.setenv("LUMOS_CACHE", str(tmp_path / "cache"))
    calls = []

    def build(folder: Path) -> None:
        calls.append(1)
        (folder / "index.json").write_text("{}")

    key = content_key("x", version="1")
    threads = [threading.Thread(target=cached_build, args=("index", key, build)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert (cache_root() / "index" / key / "index.json").read_text() == "{}"


def test_failed_build_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("LUMOS_CACHE", str(tmp_path / "cache"))

    def broken(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise RuntimeError("disk full")

    key = content_key("y", version="1")
    with pytest.raises(RuntimeError):
        cached_build("index", key, broken)
    assert not (cache_root() / "index" / key).exists()
    assert [p.name for p in (cache_root() / "index").iterdir() if not p.name.endswith(".lock")] == []
    with pytest.raises(ValueError):
        cached_build("../escape", key, broken)


def test_shared_state_loads_once():
    loads = []
    first = shared_state("test", "k", lambda: loads.append(1) or object())
    assert shared_state("test", "k", lambda: loads.append(1) or object()) is first and len(loads) == 1
    clear_shared_state(["test"])
    assert shared_state("test", "k", lambda: object()) is not first
