"""The learned VQA model lumos trains itself: a small CNN scene parser over rendered images.

The network reads a 128x128 image and predicts what the image spec holds: whether it is a scene
or a chart, and per grid cell (scene) whether an object is there and its shape, colour, size and
label, or per slot (chart) the bar's value, colour and label. `answer_question` then runs the
question over the predicted spec (`questions.py`), as in NS-VQA (Yi et al. 2018): a learned
perception half and a symbolic reasoning half. The decomposition is chosen so the model trains in
well under a minute of CPU on freshly rendered images and reaches high accuracy; an end-to-end
answer classifier needs far more data and time for counting and label reading.

Weights are made by this module only (never downloaded): trained on first use with a fixed seed
on `num_train_images` random specs, stored as safetensors under `$LUMOS_CACHE/vqa_model/<key>`,
where the key hashes the config, `MODEL_VERSION` and the Pillow version (fonts render per
version), and loaded once per process (`cache.shared_state`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lumos_envs.cache import cached_build, content_key, shared_state
from lumos_envs.multimodal.render import IMAGE_SIZE, render_array
from lumos_envs.multimodal.sampling import random_chart, random_scene
from lumos_envs.multimodal.scene import (
    COLORS, GRID, LABELS, MAX_BAR_VALUE, SHAPES, SIZES, Bar, Chart, ImageSpec, Scene, SceneObject,
)

logger = logging.getLogger(__name__)

MODEL_VERSION = "scene-parser-2"
"""bump when the architecture, targets, training images or training loop change (invalidates cached weights)"""

_CELL_HEADS = (("present", 2), ("shape", len(SHAPES)), ("color", len(COLORS)), ("size", len(SIZES)), ("label", len(LABELS)))
_SLOT_HEADS = (("value", MAX_BAR_VALUE + 1), ("color", len(COLORS)), ("label", len(LABELS)))


@dataclass(frozen=True)
class VQAModelConfig:
    """How the learned VQA model is trained; every field is part of the cache key."""

    num_train_images: int = 3000
    """freshly rendered training images (random scenes and charts)"""
    chart_fraction: float = 0.35
    """share of charts among the training images"""
    epochs: int = 4
    """passes over the training images"""
    batch_size: int = 64
    learning_rate: float = 3e-3
    """peak Adam learning rate (one-cycle schedule)"""
    width: int = 16
    """channels of the first convolution; later layers scale from it"""
    seed: int = 0
    """seeds torch and the image stream (training image i comes from Random(f"vqa_model/train/{seed}/{i}"))"""

    def __post_init__(self) -> None:
        if self.num_train_images < 10:
            raise ValueError(f"num_train_images must be >= 10, got {self.num_train_images}")
        if not 0.0 <= self.chart_fraction <= 1.0:
            raise ValueError(f"chart_fraction must be in [0, 1], got {self.chart_fraction}")
        if self.epochs < 1 or self.batch_size < 1 or self.width < 4:
            raise ValueError("epochs, batch_size must be >= 1 and width >= 4")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    def cache_key(self) -> str:
        import PIL

        return content_key(json.dumps(asdict(self), sort_keys=True), f"pillow={PIL.__version__}", version=MODEL_VERSION)


def _build_network(width: int) -> Any:
    import torch
    from torch import nn

    class SceneParserNet(nn.Module):
        """Five stride-2 convolutions to a GRID x GRID map; 1x1 heads per cell, linear heads per column."""

        def __init__(self) -> None:
            super().__init__()
            chans = [3, width, width * 3 // 2, width * 2, width * 3, width * 4]
            layers: list[nn.Module] = []
            for cin, cout in zip(chans, chans[1:]):
                layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            layers += [nn.Conv2d(chans[-1], chans[-1], 3, padding=1, bias=False), nn.BatchNorm2d(chans[-1]), nn.ReLU()]
            self.trunk = nn.Sequential(*layers)
            features = chans[-1]
            self.kind = nn.Linear(features, 2)
            self.cell = nn.Conv2d(features, sum(n for _, n in _CELL_HEADS), 1)
            self.slot = nn.Linear(features * GRID, sum(n for _, n in _SLOT_HEADS))

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            x = self.trunk(images.permute(0, 3, 1, 2).float() / 255.0 - 0.5)  # (B, C, GRID, GRID)
            kind = self.kind(x.mean(dim=(2, 3)))
            cell = self.cell(x).flatten(2).transpose(1, 2)  # (B, GRID*GRID, heads), row-major cells
            columns = x.permute(0, 3, 1, 2).flatten(2)  # (B, GRID columns, C*GRID)
            slot = self.slot(columns)  # (B, GRID, heads)
            return kind, cell, slot

    return SceneParserNet()


# -- targets -----------------------------------------------------------------------------------


def _targets(spec: ImageSpec) -> tuple[int, np.ndarray, np.ndarray]:
    """kind, cell targets (GRID*GRID, 5; -100 = ignore), slot targets (GRID, 3)."""
    cells = np.full((GRID * GRID, len(_CELL_HEADS)), -100, dtype=np.int64)
    slots = np.full((GRID, len(_SLOT_HEADS)), -100, dtype=np.int64)
    if isinstance(spec, Scene):
        cells[:, 0] = 0
        for o in spec.objects:
            cells[o.row * GRID + o.col] = (1, SHAPES.index(o.shape), COLORS.index(o.color), SIZES.index(o.size), LABELS.index(o.label))
        return 0, cells, slots
    slots[:, 0] = 0
    for i, bar in enumerate(spec.bars):
        if bar is not None:
            slots[i] = (bar.value, COLORS.index(bar.color), LABELS.index(bar.label))
    return 1, cells, slots


def training_specs(count: int, chart_fraction: float, seed: int, stream: str = "train") -> list[ImageSpec]:
    """Spec i from Random(f"vqa_model/{stream}/{seed}/{i}"): scenes and charts in the configured mix.

    A string seed is hashed, so the stream shares no generator with another seed, with the `holdout`
    stream or with any task family's images (`tasks.base.item_rng`), as sums `offset + seed + i` did."""
    specs: list[ImageSpec] = []
    for i in range(count):
        rng = random.Random(f"vqa_model/{stream}/{seed}/{i}")
        specs.append(random_chart(rng) if rng.random() < chart_fraction else random_scene(rng, 1, 8))
    return specs


def _batch_arrays(specs: Sequence[ImageSpec]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images = np.stack([render_array(s) for s in specs])
    kinds, cells, slots = zip(*(_targets(s) for s in specs))
    return images, np.asarray(kinds), np.stack(cells), np.stack(slots)


# -- training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingReport:
    """What training measured; stored beside the weights as `meta.json`."""

    config: dict[str, Any]
    train_seconds: float
    final_loss: float
    holdout_field_accuracy: float
    """share of correctly predicted spec fields on 300 held-out images"""


def train_model(config: VQAModelConfig, folder: Path) -> TrainingReport:
    """Train from scratch and write `model.safetensors` and `meta.json` into `folder`."""
    import torch
    from safetensors.torch import save_file
    from torch.nn import functional as F

    start = time.perf_counter()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, kinds, cells, slots = (torch.from_numpy(a) for a in _batch_arrays(
        training_specs(config.num_train_images, config.chart_fraction, config.seed)))
    model = _build_network(config.width)
    steps_per_epoch = (len(images) + config.batch_size - 1) // config.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate,
                                                   total_steps=config.epochs * steps_per_epoch)
    model.train()
    loss_value = float("nan")
    for epoch in range(config.epochs):
        order = torch.randperm(len(images), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            kind_logits, cell_logits, slot_logits = model(images[index])
            loss = F.cross_entropy(kind_logits, kinds[index])
            loss = loss + _heads_loss(cell_logits, cells[index], _CELL_HEADS) + _heads_loss(slot_logits, slots[index], _SLOT_HEADS)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_value = float(loss.detach())
        logger.info("vqa model epoch %d loss %.4f", epoch + 1, loss_value)
    model.eval()
    seconds = time.perf_counter() - start
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    parser = SceneParser(model)
    holdout = training_specs(300, config.chart_fraction, config.seed, stream="holdout")
    accuracy = spec_field_accuracy(holdout, parser.parse(np.stack([render_array(s) for s in holdout])))
    report = TrainingReport(asdict(config), round(seconds, 2), loss_value, accuracy)
    (folder / "meta.json").write_text(json.dumps({**asdict(report), "model_version": MODEL_VERSION}, indent=2))
    return report


def _heads_loss(logits: Any, targets: Any, heads: tuple[tuple[str, int], ...]) -> Any:
    from torch.nn import functional as F

    total, start = 0.0, 0
    for column, (_, size) in enumerate(heads):
        part = logits[..., start:start + size].reshape(-1, size)
        wanted = targets[..., column].reshape(-1)
        if (wanted != -100).any():
            total = total + F.cross_entropy(part, wanted, ignore_index=-100)
        start += size
    return total


# -- inference ---------------------------------------------------------------------------------


class SceneParser:
    """A trained network that turns images into predicted specs."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def parse(self, images: np.ndarray) -> list[ImageSpec]:
        """Predicted specs for uint8 images of shape (N, IMAGE_SIZE, IMAGE_SIZE, 3)."""
        import torch

        if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
            raise ValueError(f"images must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3), got {images.shape}")
        # One thread: a single small image gains nothing from more, and on a loaded machine
        # intra-op thread hand-offs cost 40x the forward pass (measured: 144 ms vs 3.6 ms).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                kind, cell, slot = self.model(torch.from_numpy(np.array(images, dtype=np.uint8)))
        finally:
            torch.set_num_threads(threads)
        return [self._decode(int(kind[i].argmax()), cell[i], slot[i]) for i in range(len(images))]

    @staticmethod
    def _decode(kind: int, cell: Any, slot: Any) -> ImageSpec:
        def pick(row: Any, heads: tuple[tuple[str, int], ...]) -> list[int]:
            out, start = [], 0
            for _, size in heads:
                out.append(int(row[start:start + size].argmax()))
                start += size
            return out

        if kind == 0:
            objects = []
            for index in range(GRID * GRID):
                present, shape, color, size, label = pick(cell[index], _CELL_HEADS)
                if present:
                    objects.append(SceneObject(SHAPES[shape], COLORS[color], SIZES[size], LABELS[label], index // GRID, index % GRID))
            return Scene(tuple(objects))
        bars: list[Bar | None] = []
        for index in range(GRID):
            value, color, label = pick(slot[index], _SLOT_HEADS)
            bars.append(Bar(LABELS[label], value, COLORS[color]) if value > 0 else None)
        return Chart("", tuple(bars))


def spec_field_accuracy(truth: Sequence[ImageSpec], predicted: Sequence[ImageSpec]) -> float:
    """Share of matching fields (kind, each cell or slot's content) between spec lists."""
    right = total = 0
    for t, p in zip(truth, predicted):
        total += 1
        if type(t) is not type(p):
            continue
        right += 1
        if isinstance(t, Scene):
            tp = {(o.row, o.col): o for o in t.objects}
            pp = {(o.row, o.col): o for o in p.objects}  # type: ignore[union-attr]
            for cell in range(GRID * GRID):
                key = (cell // GRID, cell % GRID)
                total += 1
                right += tp.get(key) == pp.get(key)
        else:
            for a, b in zip(t.bars, p.bars):  # type: ignore[union-attr]
                total += 1
                right += a == b
    return right / total if total else 0.0


def load_scene_parser(config: VQAModelConfig | None = None) -> SceneParser:
    """The trained parser for `config` (default config): trained on first use, cached on disk,
    loaded once per process."""
    config = config or VQAModelConfig()
    key = config.cache_key()

    def load() -> SceneParser:
        import torch
        from safetensors.torch import load_file

        folder = cached_build("vqa_model", key, lambda tmp: _train_into(config, tmp))
        model = _build_network(config.width)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.eval()
        return SceneParser(model)

    return shared_state("vqa_model", key, load)


def model_report(config: VQAModelConfig | None = None) -> dict[str, Any]:
    """The `meta.json` of the trained model (training time, hold-out accuracy)."""
    config = config or VQAModelConfig()
    folder = cached_build("vqa_model", config.cache_key(), lambda tmp: _train_into(config, tmp))
    return json.loads((folder / "meta.json").read_text())


def _train_into(config: VQAModelConfig, folder: Path) -> None:
    logger.info("training the lumos VQA model (first use; cached afterwards)")
    train_model(config, folder)
