"""Image paths stay inside their data folder, Pillow's bomb limit stays on, size caps hold, and
the A-OKVQA and ScienceQA loaders read their schemas (files written here with generated images)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import lumos_envs  # noqa: F401
from lumos_envs.multimodal.images import ImageFileError, load_image, resolve_data_path
from lumos_envs.multimodal.render import render
from lumos_envs.multimodal.sampling import random_scene
from lumos_envs.tasks.registry import load_tasks


def test_paths_cannot_leave_the_root(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    for bad in ("../secret.png", "/etc/passwd", "a/../../secret.png", ""):
        with pytest.raises(ImageFileError):
            resolve_data_path(tmp_path / "data", bad)
    assert resolve_data_path(tmp_path / "data", "sub/../img.png") == (tmp_path / "data" / "img.png").resolve()


def test_symlink_out_of_root_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "outside.png").write_bytes(b"x")
    (tmp_path / "data" / "link.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(ImageFileError):
        resolve_data_path(tmp_path / "data", "link.png")


def test_decompression_bomb_limit_is_on_and_enforced(tmp_path, monkeypatch):
    assert Image.MAX_IMAGE_PIXELS is not None
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 200)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 200*200 > 2x the limit: a "bomb"
    with pytest.raises(ImageFileError, match="decompression-bomb"):
        load_image(path)


def test_size_cap_and_garbage(tmp_path):
    path = tmp_path / "a.png"
    render(random_scene(__import__("random").Random(0))).save(path)
    with pytest.raises(ImageFileError, match="limit"):
        load_image(path, max_bytes=10)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageFileError):
        load_image(bad)


def _coco(root: Path, split: str, image_id: int) -> None:
    folder = root / f"{split}2017"
    folder.mkdir(parents=True, exist_ok=True)
    render(random_scene(__import__("random").Random(image_id))).resize((320, 240)).save(folder / f"{image_id:012d}.jpg")


def test_aokvqa_loader_reads_the_schema(tmp_path):
    coco = tmp_path / "coco"
    records = []
    for i, image_id in enumerate((139, 285)):
        _coco(coco, "val", image_id)
        records.append({"split": "val", "image_id": image_id, "question_id": f"q{i}", "question": "What is shown?",
                        "choices": ["a cup", "a key", "a hat", "a map"], "correct_choice_idx": i,
                        "direct_answers": ["cup"] * 4 + ["mug"] * 6, "difficult_direct_answer": False, "rationales": ["r"]})
    path = tmp_path / "aokvqa_v1p0_val.json"
    path.write_text(json.dumps(records))
    tasks = load_tasks(f"aokvqa:{path}?image_root={coco}")
    assert len(tasks) == 2 and tasks[1].answer == "a key" and tasks[0].plan is None
    assert tasks[0].metadata["plan_error"] == "no_gold_plan"
    for scene_reader in ("oracle", "learned"):  # lumos's scene parsers cannot read real images
        with pytest.raises(ValueError, match="transformers:PATH"):
            gym.make("lumos/Multimodal-v0", tasks=tasks, vqa_backend=scene_reader)
    env = gym.make("lumos/Multimodal-v0", tasks=tasks, vqa_backend=_Seen())
    obs, _ = env.reset(options={"task_index": 0})
    assert obs["image"].shape == (128, 128, 3) and obs["image"].std() > 5
    obs, reward, terminated, _, info = env.step("Answer(a cup)")
    assert terminated and reward == 1.0 and info["metrics"]["da_soft_accuracy"] == 1.0
    obs, _ = env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = VQA([IMG], Question: What is shown?)")
    assert info["results"]["R1"] == "320x240"  # the back-end got the full-size file image


class _Seen:
    """A VQA back-end that reports the size of the image it was given."""

    name = "seen"

    def answer(self, query):
        return f"{query.full_image.width}x{query.full_image.height}"


def test_aokvqa_missing_image_and_bad_record_fail_loudly(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"image_id": 1, "question": "q", "choices": ["x"], "correct_choice_idx": 0}]))
    with pytest.raises(ValueError, match="record 0"):
        load_tasks(f"aokvqa:{path}")
    path.write_text(json.dumps([{"image_id": 1, "question": "q", "choices": ["x"], "correct_choice_idx": 3}]))
    with pytest.raises(ValueError, match="out of range"):
        load_tasks(f"aokvqa:{path}")


def test_scienceqa_problems_json_and_flat_rows(tmp_path):
    data = tmp_path / "scienceqa"
    (data / "test" / "7").mkdir(parents=True)
    render(random_scene(__import__("random").Random(7))).save(data / "test" / "7" / "image.png")
    problems = {
        "7": {"question": "Which object is magnetic?", "choices": ["key", "cup"], "answer": 0,
              "hint": "Magnets attract iron.", "image": "image.png", "split": "test"},
        "8": {"question": "Which is a mammal?", "choices": ["cat", "fish", "frog"], "answer": 0, "hint": "", "image": None,
              "split": "test"},
        "9": {"question": "Train only", "choices": ["a", "b"], "answer": 1, "hint": "", "image": None, "split": "train"},
    }
    (data / "problems.json").write_text(json.dumps(problems))
    tasks = load_tasks(f"scienceqa:{data / 'problems.json'}?split=test")
    assert [t.id for t in tasks] == ["scienceqa-7", "scienceqa-8"]
    assert tasks[0].question.startswith("Hint: Magnets attract iron.") and tasks[0].answer == "key"
    with pytest.raises(ValueError, match="scienceqa images"):
        gym.make("lumos/Multimodal-v0", tasks=tasks)  # the default (learned) back-end is refused
    env = gym.make("lumos/Multimodal-v0", tasks=tasks, vqa_backend=_Seen())
    obs, _ = env.reset(options={"task_index": 1})
    assert not obs["image"].any()  # text-only item: black image
    _, reward, _, _, info = env.step("Answer(A)")
    assert reward == 1.0 and info["metrics"]["mc_accuracy"] == 1.0
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "x", "question": "q", "choices": ["a", "b"], "answer": 1, "hint": "h",
                                "image": "../escape.png"}) + "\n")
    with pytest.raises(ValueError, match="leaves the data folder"):
        load_tasks(f"scienceqa:{rows}")
