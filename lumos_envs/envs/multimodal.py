"""Image + question tasks answered with LUMOS multimodal actions. Registered as `lumos/Multimodal-v0`."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from threading import Lock
from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from PIL import Image

from lumos_envs.domains import Domain
from lumos_envs.envs.base import LumosEnv, TaskArgument
from lumos_envs.execution.tool import Tool
from lumos_envs.metrics_multimodal import multimodal_metrics
from lumos_envs.multimodal.backends import LearnedVQABackend, OracleVQABackend, VQABackend, VQAQuery, make_vqa_backend
from lumos_envs.multimodal.images import load_image, to_observation
from lumos_envs.multimodal.render import IMAGE_SIZE, render
from lumos_envs.multimodal.scene import ImageSpec, spec_from_dict
from lumos_envs.qa.readers import DEFAULT_READER_TIMEOUT_S, ReaderArgument, make_reader
from lumos_envs.spaces import MAX_OBSERVATION_CHARS, text_space
from lumos_envs.tasks.base import Task, TaskList, TaskSource

REAL_IMAGE_SOURCES = frozenset({"aokvqa", "scienceqa"})
"""task sources with real images and questions (not lumos's renders)"""

IMAGE_CACHE_SIZE = 256
"""rendered/loaded images kept per process (keyed by spec or file path)"""


class MultimodalEnv(LumosEnv):
    """
    ## Description
    One image and one question per episode, A-OKVQA style (4 choices plus 10 direct answers) or
    ScienceQA style (choices, a hint, an image context). Bundled tasks show procedurally rendered
    scenes (coloured shapes with text labels on a 4x4 grid) or bar charts; A-OKVQA and
    ScienceQA files are read in their own schemas (`aokvqa:PATH`, `scienceqa:PATH`). The agent
    grounds subgoals into `VQA(image, question)`, `QA(context, query)` and `Calculator(formula)`
    and submits with `Answer(R3)`.

    ## Action Space
    `UnicodeText(0, 20000)`: one grounder output, e.g.
    `R1 = VQA([IMG], Question: What is the label of the red circle?)`; the first VQA argument
    names the image (`[IMG]`, `image`, `IMG`, ...).

    ## Observation Space
    `Dict(text=UnicodeText(0, 200000), image=Box(0, 255, (128, 128, 3), uint8))`: `text` is the
    task (question, options, hint) on reset and then this step's results or error; `image` is the
    task's image resized to 128x128 (black for text-only ScienceQA items). Image arrays are
    fresh copies on every call.

    ## Rewards
    0 on every step but the last. On `Answer(...)`: multiple-choice accuracy (the answer is the
    correct choice's text or letter) when the task has choices, else A-OKVQA direct-answer soft
    accuracy min(1, matches/3). Truncation gives 0.

    ## Starting State
    Task `options["task_index"]` or `options["task_id"]`; otherwise one drawn with the reset seed.

    ## Episode End
    Terminates when `Answer(...)` runs; truncates after `max_steps` steps (invalid actions count).

    ## Info
    The common keys of `LumosEnv` (`task`, `tools`, `final_action`, `results`, `last_result`,
    `variables`, `invalid_action`, `last_error`, `step`; at the end `metrics` with `correct`,
    `exact_match` and, where the task has them, `mc_accuracy`, `da_soft_accuracy`; `success`,
    `answer`; `gold` with `reveal_gold=True`).

    ## Arguments
    `tasks` (task source, list of `Task`, or spec; default `synthetic:multimodal_train`),
    `vqa_backend` (`"learned"` default: lumos's own model, trained on first VQA call and cached;
    `"oracle"`: reads the generated scene, tests and upper bounds only; both answer lumos's own
    renders only and are refused for `aokvqa:` and `scienceqa:` tasks when the env is made;
    `"transformers:PATH"`: a local transformers image-text-to-text model, loaded at the first
    VQA call and run in this process; or an object with `answer(query)`), `reader` (who answers
    `QA`: `"auto"` default, the bundled knowledge table on lumos's own tasks and the extractive
    reader on real ones; `"table"`; or any QA env reader: `"extractive"`, `"llm:smollm2"`,
    `"llm:PATH"`, `"openai:URL#MODEL"`, a `Reader`, a `TextGenerator`; the table is refused for
    real tasks), `reader_timeout_s=60.0` (one LLM reader call, in this process), `max_steps=20`,
    `tool_timeout_s=2.0`, `max_output_chars=2000`, `reveal_gold=False`.

    ## Version History
    - v0: initial version. VQA back-ends for real images are transformers image-text-to-text
      models; `QA` on real tasks is a QA reader (`reader=`), not the knowledge table.
    """

    domain = Domain.MULTIMODAL
    default_tasks = "synthetic:multimodal_train"

    def __init__(
        self,
        tasks: TaskArgument = None,
        *,
        vqa_backend: str | VQABackend = "learned",
        reader: ReaderArgument = "auto",
        reader_timeout_s: float = DEFAULT_READER_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        self.vqa = make_vqa_backend(vqa_backend)
        self._reader_argument = reader
        self._reader_timeout_s = reader_timeout_s
        super().__init__(tasks, **kwargs)
        self.observation_space = spaces.Dict({
            "text": text_space(MAX_OBSERVATION_CHARS),
            "image": spaces.Box(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8),
        })

    def make_tools(self) -> Sequence[Tool]:
        from lumos_envs.tools.multimodal import make_multimodal_tools

        real = sorted(real_task_sources(self.tasks))
        if real and isinstance(self.vqa, (LearnedVQABackend, OracleVQABackend)):
            raise ValueError(
                f"vqa_backend={self.vqa.name!r} reads lumos's own rendered scenes only and cannot answer {' and '.join(real)} "
                "images; pass a transformers image-text-to-text model: vqa_backend='transformers:PATH'")
        reader = self._reader_argument
        if isinstance(reader, str) and reader.strip() == "auto":
            reader = "extractive" if real else "table"
        if isinstance(reader, str) and reader.strip() == "table":
            if real:
                raise ValueError(
                    f"reader='table' (the 10-row knowledge table of lumos's own tasks) cannot answer {' and '.join(real)} "
                    "questions; pass a QA reader: reader='extractive', 'llm:smollm2', 'llm:PATH' or 'openai:URL#MODEL'")
            return make_multimodal_tools(self._vqa_query, self.vqa.answer)
        qa_reader = make_reader(reader, timeout_s=self._reader_timeout_s)
        return make_multimodal_tools(self._vqa_query, self.vqa.answer, qa_reader)

    def score(self, answer: str, task: Task) -> dict[str, float]:
        return multimodal_metrics(answer, task.answer, task.metadata)

    def make_observation(self, text: str) -> "Observation":
        assert self._task is not None
        return Observation(text=text, image=task_image(self._task).observation.copy())

    def _vqa_query(self, question: str) -> VQAQuery:
        if self._task is None:
            raise RuntimeError("no task")
        image = task_image(self._task)
        return VQAQuery(image=image.observation, question=question, full_image=image.full, spec=image.spec)


def real_task_sources(tasks: TaskSource) -> set[str]:
    """Which of `REAL_IMAGE_SOURCES` the tasks come from: task lists are read (they are in
    memory), concatenations searched, generated sources (lumos's own) skipped."""
    found: set[str] = set()
    for source in getattr(tasks, "sources", ()):
        found |= real_task_sources(source)
    if isinstance(tasks, TaskList):
        found |= {task.source for task in tasks if task.source in REAL_IMAGE_SOURCES}
    return found


class Observation(dict):
    """The observation dict (`text`, `image`); `==` compares content (arrays with
    `np.array_equal`), so equal observations compare equal as text observations do, where a
    plain dict of arrays would raise on `==`."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, dict) or self.keys() != other.keys():
            return False
        return all(np.array_equal(v, other[k]) if isinstance(v, np.ndarray) else v == other[k] for k, v in self.items())

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


class TaskImage:
    """A task's image: the observation array, the full-size image (files only), the spec (generated)."""

    def __init__(self, observation: np.ndarray, full: Image.Image | None, spec: ImageSpec | None) -> None:
        self.observation, self.full, self.spec = observation, full, spec


_BLANK = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
_BLANK.setflags(write=False)
_cache: "OrderedDict[str, TaskImage]" = OrderedDict()
_cache_lock = Lock()


def task_image(task: Task) -> TaskImage:
    """The image of a task, rendered or loaded once per process (LRU of IMAGE_CACHE_SIZE).

    Raises:
        ImageFileError: the task's image file is missing, too large or not an image.
    """
    spec_data = task.metadata.get("image_spec")
    path = task.metadata.get("image_path")
    key = json.dumps(spec_data, sort_keys=True) if spec_data else f"path:{path}" if path else ""
    if not key:
        return TaskImage(_BLANK, None, None)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if spec_data:
        spec = spec_from_dict(spec_data)
        entry = TaskImage(to_observation(render(spec)), None, spec)
    else:
        full = load_image(Path(str(path)))
        entry = TaskImage(to_observation(full), full, None)
    with _cache_lock:
        entry = _cache.setdefault(key, entry)
        while len(_cache) > IMAGE_CACHE_SIZE:
            _cache.popitem(last=False)
    return entry
