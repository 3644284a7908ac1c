"""What a bundled image shows, as data: a `Scene` of objects on a 4x4 grid, or a bar `Chart`.

Specs are small frozen dataclasses that round-trip through plain dicts (they live in
`Task.metadata["image_spec"]`), so an image is rebuilt exactly from its task and the oracle VQA
back-end can read what an image shows. The vocabularies are shared by the renderer, the task
generators, the question executor and the learned model's output heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Union

GRID = 4
"""scenes place objects on a GRID x GRID grid of cells; charts have GRID bar slots"""

SHAPES = ("circle", "square", "triangle", "diamond")
COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES = ("small", "large")
ITEM_LABELS = ("cup", "key", "pen", "hat", "saw", "map", "fan", "bag", "nail", "bat")
"""labels written under scene objects; each is an entry of the knowledge table"""
CHART_LABELS = ("apple", "pear", "plum", "fig", "kiwi", "lime")
"""category names written under chart bars"""
LABELS = ITEM_LABELS + CHART_LABELS
MAX_BAR_VALUE = 9

ROW_NAMES = ("top", "upper middle", "lower middle", "bottom")
COL_NAMES = ("left", "center left", "center right", "right")


@dataclass(frozen=True)
class SceneObject:
    """One object: a coloured shape with a text label under it, in grid cell (row, col)."""

    shape: str
    color: str
    size: str
    label: str
    row: int
    col: int

    def __post_init__(self) -> None:
        for value, allowed, name in ((self.shape, SHAPES, "shape"), (self.color, COLORS, "color"),
                                     (self.size, SIZES, "size"), (self.label, LABELS, "label")):
            if value not in allowed:
                raise ValueError(f"SceneObject.{name} must be one of {allowed}, got {value!r}")
        if not (0 <= self.row < GRID and 0 <= self.col < GRID):
            raise ValueError(f"SceneObject cell must be inside the {GRID}x{GRID} grid, got ({self.row}, {self.col})")

    def describe(self) -> str:
        return f"{self.size} {self.color} {self.shape} labelled {self.label}"


@dataclass(frozen=True)
class Scene:
    """Objects on the grid, at most one per cell."""

    objects: tuple[SceneObject, ...]

    def __post_init__(self) -> None:
        cells = [(o.row, o.col) for o in self.objects]
        if len(set(cells)) != len(cells):
            raise ValueError("Scene objects must occupy distinct cells")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "scene", "objects": [o.__dict__.copy() for o in self.objects]}


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: category label, integer value 1..MAX_BAR_VALUE, colour."""

    label: str
    value: int
    color: str

    def __post_init__(self) -> None:
        if self.label not in LABELS or self.color not in COLORS or not 1 <= self.value <= MAX_BAR_VALUE:
            raise ValueError(f"invalid bar {self}")


@dataclass(frozen=True)
class Chart:
    """A bar chart with up to GRID bars, bar i in slot i from the left (None = empty slot)."""

    title: str
    bars: tuple[Bar | None, ...]

    def __post_init__(self) -> None:
        if len(self.bars) != GRID:
            raise ValueError(f"Chart needs {GRID} slots, got {len(self.bars)}")

    @property
    def present(self) -> list[Bar]:
        return [b for b in self.bars if b is not None]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "chart", "title": self.title,
                "bars": [None if b is None else b.__dict__.copy() for b in self.bars]}


ImageSpec = Union[Scene, Chart]


def spec_from_dict(data: Mapping[str, Any]) -> ImageSpec:
    """Rebuild a spec written by `to_dict`; ValueError for anything else."""
    kind = data.get("kind")
    if kind == "scene":
        return Scene(tuple(SceneObject(**o) for o in data["objects"]))
    if kind == "chart":
        return Chart(str(data.get("title", "")), tuple(None if b is None else Bar(**b) for b in data["bars"]))
    raise ValueError(f"unknown image spec kind {kind!r}")


def describe(spec: ImageSpec) -> str:
    """A one-paragraph text description (what the oracle back-end 'sees')."""
    if isinstance(spec, Scene):
        return "; ".join(f"{o.describe()} at {position_name(o)}" for o in spec.objects)
    return f"bar chart '{spec.title}': " + ", ".join(f"{b.label}={b.value}" for b in spec.present)


def position_name(obj: SceneObject) -> str:
    return f"{ROW_NAMES[obj.row]} {COL_NAMES[obj.col]}"
