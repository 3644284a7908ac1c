"""Rendering is deterministic and readable; the question reader answers what the spec shows;
images of several tasks are saved for people to look at."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from lumos_envs.execution.errors import ToolError
from lumos_envs.multimodal.questions import answer_question, question_kind
from lumos_envs.multimodal.render import IMAGE_SIZE, render_array
from lumos_envs.multimodal.sampling import random_chart, random_scene
from lumos_envs.multimodal.scene import Bar, Chart, Scene, SceneObject, spec_from_dict
from lumos_envs.tasks.registry import load_tasks

SCENE = Scene((SceneObject("circle", "red", "large", "cup", 0, 0), SceneObject("square", "blue", "small", "key", 1, 2),
               SceneObject("triangle", "green", "large", "nail", 3, 3), SceneObject("circle", "green", "small", "pen", 3, 0)))
CHART = Chart("Fruit sold", (Bar("apple", 7, "red"), None, Bar("pear", 3, "green"), Bar("kiwi", 9, "blue")))


def test_specs_round_trip_and_render_identically():
    rng = random.Random(3)
    for spec in [random_scene(rng) for _ in range(5)] + [random_chart(rng) for _ in range(5)]:
        again = spec_from_dict(spec.to_dict())
        assert again == spec
        assert np.array_equal(render_array(spec), render_array(again))
        assert render_array(spec).shape == (IMAGE_SIZE, IMAGE_SIZE, 3)


def test_different_specs_give_different_images():
    rng = random.Random(0)
    images = {render_array(random_scene(rng)).tobytes() for _ in range(20)}
    assert len(images) == 20


@pytest.mark.parametrize("question, answer", [
    ("How many circles are there?", "2"), ("How many green objects are in the picture?", "2"),
    ("What color is the object labelled key?", "blue"), ("What shape is the object labelled nail?", "triangle"),
    ("What is the label of the red circle?", "cup"), ("What size is the green triangle?", "large"),
    ("Is the red circle to the left of the blue square?", "yes"), ("Is the green triangle above the red circle?", "no"),
    ("Where is the blue square?", "upper middle center right"), ("What objects are shown?", "cup, key, pen, nail"),
])
def test_scene_questions(question, answer):
    assert answer_question(SCENE, question) == answer


@pytest.mark.parametrize("question, answer", [
    ("What is the value of pear?", "3"), ("Which fruit has the highest value?", "kiwi"),
    ("Which fruit has the lowest value?", "pear"), ("How many bars are there?", "3"), ("What color is the apple bar?", "red"),
])
def test_chart_questions(question, answer):
    assert answer_question(CHART, question) == answer


@pytest.mark.parametrize("question", ["", "???", "Why?", "What color is the purple star?", "What is the label of the orange diamond?"])
def test_unanswerable_questions_raise_tool_error(question):
    with pytest.raises(ToolError):
        answer_question(SCENE, question)


def test_question_kinds():
    assert question_kind("How many red objects are there?") == "count"
    assert question_kind("Is the red circle above the key?") == "relation"
    assert question_kind("What is the value of fig?") == "value"


def test_images_of_several_tasks_are_saved_and_distinct(tmp_path):
    tasks = load_tasks("synthetic:multimodal_train?size=3&seed=0")
    from lumos_envs.envs.multimodal import task_image

    paths = []
    for i in range(len(tasks)):
        array = task_image(tasks[i]).observation
        path = tmp_path / f"{tasks[i].id}.png"
        Image.fromarray(array).resize((384, 384), Image.Resampling.NEAREST).save(path)
        paths.append(path)
        assert array.std() > 10, "an image should not be blank"
    reloaded = [np.asarray(Image.open(p)) for p in paths]
    assert len({r.tobytes() for r in reloaded}) == len(paths)
