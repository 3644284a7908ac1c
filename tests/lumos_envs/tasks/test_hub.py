"""`hf:` task specs read through `datasets`, tested on local files in the datasets' own schemas."""

from __future__ import annotations

import json

import pytest

from lumos_envs.tasks.gsm8k import load_gsm8k
from lumos_envs.tasks.registry import load_tasks
from lumos_envs.tasks.svamp import load_svamp


def test_hf_gsm8k_from_a_local_folder_matches_the_file_loader(tmp_path, fixtures_dir):
    source = fixtures_dir / "gsm8k" / "test_sample.jsonl"
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "test.jsonl").write_text(source.read_text())
    from_hub = load_tasks(f"hf:{folder}?split=test")
    from_file = load_gsm8k(source, split="test")
    assert len(from_hub) == len(from_file)
    for a, b in zip(from_hub, from_file):
        assert (a.id, a.question, a.answer, a.plan) == (b.id, b.question, b.answer, b.plan)


def test_hf_svamp_file_with_detected_schema(tmp_path, fixtures_dir):
    records = json.loads((fixtures_dir / "svamp" / "sample.json").read_text())
    path = tmp_path / "svamp.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    tasks = load_tasks(f"hf:{path}?split=train")
    expected = load_svamp(fixtures_dir / "svamp" / "sample.json", split="train")
    assert [t.id for t in tasks] == [t.id for t in expected]
    assert [t.plan for t in tasks] == [t.plan for t in expected]


def test_hf_unknown_columns_are_a_clear_error(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    with pytest.raises(ValueError, match="cannot tell the schema"):
        load_tasks(f"hf:{path}")
    with pytest.raises(ValueError, match="needed by schema 'gsm8k'"):
        load_tasks(f"hf:{path}?schema=gsm8k")
