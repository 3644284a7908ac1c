"""Random image specs: what the task generators start from and what the VQA model trains on.

`random_scene` and `random_chart` draw from a `random.Random`, so spec i of any stream is
rebuilt from its seed alone (reasoning-gym style).
"""

from __future__ import annotations

import random

from lumos_envs.multimodal.scene import (
    CHART_LABELS, COLORS, GRID, ITEM_LABELS, MAX_BAR_VALUE, SHAPES, SIZES, Bar, Chart, Scene, SceneObject,
)

CHART_TITLES = ("Fruit sold", "Fruit picked", "Fruit in stock")


def random_scene(rng: random.Random, min_objects: int = 2, max_objects: int = 6) -> Scene:
    """Objects with distinct labels in distinct cells; any attribute combination may repeat."""
    count = rng.randint(min_objects, max_objects)
    cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], count)
    labels = rng.sample(ITEM_LABELS, count)
    return Scene(tuple(
        SceneObject(rng.choice(SHAPES), rng.choice(COLORS), rng.choice(SIZES), label, row, col)
        for (row, col), label in zip(cells, labels)
    ))


def random_chart(rng: random.Random, min_bars: int = 2, distinct_values: bool = False) -> Chart:
    """Bars with distinct labels in random slots; `distinct_values` makes max and min unique."""
    count = rng.randint(min_bars, GRID)
    slots = sorted(rng.sample(range(GRID), count))
    labels = rng.sample(CHART_LABELS, count)
    values = rng.sample(range(1, MAX_BAR_VALUE + 1), count) if distinct_values else [
        rng.randint(1, MAX_BAR_VALUE) for _ in range(count)]
    bars: list[Bar | None] = [None] * GRID
    for slot, label, value in zip(slots, labels, values):
        bars[slot] = Bar(label, value, rng.choice(COLORS))
    return Chart(rng.choice(CHART_TITLES), tuple(bars))
