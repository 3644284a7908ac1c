"""Real images: `vqa_backend="transformers:PATH"` runs a transformers image-text-to-text model (a
tiny, randomly initialised LLaVA built here), the scene parsers are refused, and `QA` is a QA
reader instead of the bundled knowledge table."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import lumos_envs  # noqa: F401
from agents.backends.scripted import ScriptedBackend
from lumos_envs.multimodal.backends import TransformersVQABackend, VQAQuery
from lumos_envs.tasks.registry import load_tasks

WORDS = ("<pad> <s> </s> <unk> <image> user assistant : what is the color of this object shape red blue green "
         "cup key used for drinking ? . answer with a single word or short phrase").split()
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }} : {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                 "<image> {% else %}{{ c['text'] }} {% endif %}{% endfor %}{% endfor %}"
                 "{% if add_generation_prompt %}assistant : {% endif %}")


def build_tiny_vlm(folder: Path) -> Path:
    """A LLaVA (CLIP vision tower, Llama text model) of a few thousand random weights, a word-level
    tokenizer and a CLIP image processor at 32x32, saved as a model folder (safetensors)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

    vocab = {word: i for i, word in enumerate(WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>", extra_special_tokens={"image_token": "<image>"})
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=16, chat_template=CHAT_TEMPLATE,
                               vision_feature_select_strategy="default", image_token="<image>", num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                       image_size=32, patch_size=16),
        text_config=LlamaConfig(vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                                pad_token_id=0, bos_token_id=1, eos_token_id=2),
        image_token_index=vocab["<image>"], vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny_vlm"))


@pytest.fixture()
def aokvqa_tasks(tmp_path):
    folder = tmp_path / "coco" / "val2017"
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 48), "red").save(folder / f"{139:012d}.jpg")
    record = {"split": "val", "image_id": 139, "question_id": "q0", "question": "What is this object used for?",
              "choices": ["drinking", "writing", "cutting", "sleeping"], "correct_choice_idx": 0,
              "direct_answers": ["drinking"] * 10, "difficult_direct_answer": False, "rationales": ["r"]}
    path = tmp_path / "aokvqa_v1p0_val.json"
    path.write_text(json.dumps([record]))
    return load_tasks(f"aokvqa:{path}?image_root={tmp_path / 'coco'}")


def test_tiny_image_text_to_text_model_answers_deterministically(tiny_vlm):
    backend = TransformersVQABackend(str(tiny_vlm), max_new_tokens=3)
    query = VQAQuery(np.zeros((128, 128, 3), np.uint8), "What is the color of this object?", full_image=Image.new("RGB", (64, 48), "blue"))
    first = backend.answer(query)
    assert first and len(first.split()) <= 3 and all(word in WORDS for word in first.split())
    assert backend.answer(query) == first  # greedy


def test_real_tasks_run_vqa_through_the_transformers_spec_and_qa_through_the_reader(tiny_vlm, aokvqa_tasks):
    env = gym.make("lumos/Multimodal-v0", tasks=aokvqa_tasks, vqa_backend=f"transformers:{tiny_vlm}",
                   reader=ScriptedBackend(lambda conversation: "Answer: drinking"))
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = VQA([IMG], Question: What is this object?); R2 = QA([R1], Question: What is it used for?)")
    assert not info["invalid_action"], info["last_error"]
    assert info["results"]["R1"] and info["results"]["R2"] == "drinking"
    _, reward, terminated, _, _ = env.step("Answer(R2)")
    assert terminated and reward == 1.0


def test_scene_parsers_and_the_table_are_refused_for_real_tasks(aokvqa_tasks):
    for backend in ("learned", "oracle"):
        with pytest.raises(ValueError, match=r"aokvqa images; pass a transformers image-text-to-text model: vqa_backend='transformers:PATH'"):
            gym.make("lumos/Multimodal-v0", tasks=aokvqa_tasks, vqa_backend=backend)
    with pytest.raises(ValueError, match="knowledge table"):
        gym.make("lumos/Multimodal-v0", tasks=aokvqa_tasks, vqa_backend="transformers:/nowhere", reader="table")
    env = gym.make("lumos/Multimodal-v0", tasks=aokvqa_tasks, vqa_backend="transformers:/nowhere")
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = VQA([IMG], Question: What is it?)")
    assert info["invalid_action"] and "cannot load the VQA model /nowhere" in info["last_error"]
    _, _, _, _, info = env.step("R1 = QA(, Question: What is it used for?)")
    assert info["invalid_action"] and "QA needs a context" in info["last_error"]


def test_lumos_tasks_keep_the_knowledge_table_unless_a_reader_is_named():
    env = gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=2", vqa_backend="oracle")
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = QA([cup], Question: What is this object used for?)")
    assert info["results"]["R1"] == "drinking"
    env = gym.make("lumos/Multimodal-v0", tasks="synthetic:multimodal_train?size=2", vqa_backend="oracle",
                   reader=ScriptedBackend(lambda conversation: "Answer: pouring tea"))
    env.reset(options={"task_index": 0})
    _, _, _, _, info = env.step("R1 = QA([cup], Question: What is this object used for?)")
    assert info["results"]["R1"] == "pouring tea"
