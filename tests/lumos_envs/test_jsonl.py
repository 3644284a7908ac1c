"""The shared JSONL reader: blank lines skipped, errors name the file and line."""

from __future__ import annotations

import pytest

from lumos_envs.jsonl import iter_jsonl, read_jsonl_objects


def test_lines_come_with_their_numbers(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n  \n[2]\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, [2])]


def test_invalid_json_and_non_objects_name_the_line(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text('{"a": 1}\n{nope\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"b\.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))
    path.write_text('{"a": 1}\n"text"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"b\.jsonl:2: expected a JSON object, got str"):
        read_jsonl_objects(path)
