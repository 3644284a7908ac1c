"""lumos/Multimodal-v0: observation space, tools, metrics, gold replay, back-ends."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lumos_envs  # noqa: F401
from lumos_envs.execution.errors import ToolError
from lumos_envs.metrics_multimodal import direct_answer_soft_accuracy, mc_accuracy, multimodal_metrics
from lumos_envs.multimodal.backends import make_vqa_backend
from lumos_envs.tools.multimodal import qa
from rollouts.replay import replay_gold


def _env(**kwargs):
    return gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=5", vqa_backend="oracle", **kwargs)


def test_check_env_and_dict_observation():
    env = _env()
    check_env(env.unwrapped)
    obs, info = env.reset(seed=1)
    assert set(obs) == {"text", "image"} and obs["image"].dtype == np.uint8 and obs["image"].shape == (128, 128, 3)
    assert obs["text"] == info["task"]["question"] and "Options: (A)" in obs["text"]
    assert [t["name"] for t in info["tools"]] == ["VQA", "QA", "Calculator"]
    assert env.observation_space.contains(obs)


def test_vqa_accepts_image_names_and_refuses_others():
    env = _env()
    env.reset(options={"task_index": 0})
    for name in ("[IMG]", "image", "Image", "IMG", "the image"):
        _, _, _, _, info = env.step(f"R1 = VQA({name}, Question: How many objects are there?)")
        assert not info["invalid_action"] and info["last_result"].isdigit()
    _, _, _, _, info = env.step("R2 = VQA(R1, Question: How many objects are there?)")
    assert info["invalid_action"] and "first argument of VQA is the image" in info["last_error"]
    _, _, _, _, info = env.step("R2 = VQA([IMG])")
    assert info["invalid_action"]


def test_answer_by_letter_and_wrong_answer():
    env = _env(reveal_gold=True)
    _, info = env.reset(options={"task_index": 0})
    from lumos_envs.tasks.registry import load_tasks

    task = env.unwrapped.task
    letter = "ABCD"[task.metadata["correct_choice_idx"]]
    _, reward, terminated, _, info = env.step(f"Answer({letter})")
    assert terminated and reward == 1.0 and info["success"]
    env.reset(options={"task_index": 0})
    wrong = next(c for c in task.metadata["choices"] if c != task.answer)
    _, reward, _, _, info = env.step(f"Answer({wrong})")
    assert reward == 0.0 and not info["success"]


def test_metrics():
    assert mc_accuracy("The Cup.", ["cup", "key"], 0) == 1.0
    assert mc_accuracy("(B)", ["cup", "key"], 1) == 1.0
    assert mc_accuracy("hat", ["cup", "key"], 0) == 0.0
    assert direct_answer_soft_accuracy("two", ["2", "2", "3"] + ["x"] * 7) == pytest.approx(2 / 3)
    assert direct_answer_soft_accuracy("3", ["3"] * 4 + ["x"] * 6) == 1.0
    assert multimodal_metrics("x", "x", {})["correct"] == 1.0


def test_qa_tool_reads_context_and_knowledge():
    assert qa.fn("[cup]", "Question: What is this object used for?") == "drinking"
    assert qa.fn("[cup, key, nail]", "Which object is used for drinking?") == "cup"
    assert qa.fn("hat, key, pen", "Which of these objects is magnetic?") == "key"
    assert qa.fn("[saw]", "What is it made of?") == "iron"
    with pytest.raises(ToolError):
        qa.fn("[]", "Who won the match?")


@pytest.mark.parametrize("family", ["multimodal_train", "multimodal_heldout"])
def test_gold_replay_with_oracle_is_near_perfect(family):
    result = replay_gold("lumos/Multimodal-v0", f"synthetic:{family}?size=15&seed=4", vqa_backend="oracle")
    assert result.episodes >= 45 and result.success_rate >= 0.98, result.to_dict(5)


def test_a_back_end_object_is_used_as_given():
    class Blue:
        name = "blue"

        def answer(self, query):
            return "blue" if query.image.shape == (128, 128, 3) else "?"

    env = gym.make("lumos/Multimodal-v0", tasks="synthetic:scene_count?size=2", vqa_backend=Blue())
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = VQA([IMG], Question: What color is it?)")
    assert info["last_result"] == "blue"


def test_backend_names():
    assert make_vqa_backend("oracle").name == "oracle" and make_vqa_backend("learned").name == "learned"
    assert make_vqa_backend("transformers:/models/smolvlm").spec == "transformers:/models/smolvlm"
    for bad in ("gpt", "transformers:", ""):
        with pytest.raises(ValueError):
            make_vqa_backend(bad)


def test_make_is_lazy_about_the_learned_model():
    from lumos_envs import cache

    cache.clear_shared_state(["vqa_model"])  # other tests in this process may have loaded it
    env = gym.make("lumos/Multimodal-v0")
    env.reset(seed=0)
    env.step("R1 = Calculator(1 + 1)")
    assert not any(kind == "vqa_model" for kind, _ in cache._shared)
