"""Draw image specs with Pillow: 128x128 RGB, one 32x32 cell per grid position.

Scenes: each object is a filled shape in the upper part of its cell (radius 11 px large, 6 px
small, jittered by up to 2 px from a hash of the object so a spec always gives the same
pixels) and its label in the lower part. Charts: one bar per slot, its value written above it
and its label below. Text uses Pillow's bundled default font at a fixed size, so rendering needs
no system fonts and is identical on every machine with the same Pillow.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lumos_envs.multimodal.scene import GRID, MAX_BAR_VALUE, Chart, ImageSpec, Scene, SceneObject

IMAGE_SIZE = 128
"""width and height of every rendered image and of the env's image observation"""
CELL = IMAGE_SIZE // GRID
FONT_SIZE = 10

RGB = {
    "red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220),
    "yellow": (230, 200, 30), "purple": (140, 60, 180), "orange": (245, 130, 20),
}
BACKGROUND = (250, 250, 250)
INK = (20, 20, 20)


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=FONT_SIZE)


def render(spec: ImageSpec) -> Image.Image:
    """The RGB image of a spec (IMAGE_SIZE x IMAGE_SIZE)."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if isinstance(spec, Scene):
        for obj in spec.objects:
            _draw_object(draw, obj)
    else:
        _draw_chart(draw, spec)
    return image


def render_array(spec: ImageSpec) -> np.ndarray:
    """`render` as a uint8 (H, W, 3) array."""
    return np.asarray(render(spec), dtype=np.uint8)


def _jitter(obj: SceneObject) -> tuple[int, int]:
    h = zlib.crc32(repr(obj).encode())
    return (h % 5) - 2, ((h >> 8) % 3) - 1


def _draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject) -> None:
    dx, dy = _jitter(obj)
    cx = obj.col * CELL + CELL // 2 + dx
    cy = obj.row * CELL + 12 + dy
    r = 10 if obj.size == "large" else 5
    fill = RGB[obj.color]
    if obj.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif obj.shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif obj.shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    else:  # diamond
        draw.polygon([(cx, cy - r - 1), (cx + r + 1, cy), (cx, cy + r + 1), (cx - r - 1, cy)], fill=fill)
    draw.text((obj.col * CELL + CELL // 2, obj.row * CELL + 27), obj.label, fill=INK, font=_font(), anchor="mm")


def _draw_chart(draw: ImageDraw.ImageDraw, chart: Chart) -> None:
    base = IMAGE_SIZE - 14
    unit = (base - 22) // MAX_BAR_VALUE
    draw.line((2, base, IMAGE_SIZE - 2, base), fill=INK, width=1)
    draw.line((2, 4, 2, base), fill=INK, width=1)
    for slot, bar in enumerate(chart.bars):
        if bar is None:
            continue
        x0 = slot * CELL + 7
        top = base - bar.value * unit
        draw.rectangle((x0, top, x0 + CELL - 14, base - 1), fill=RGB[bar.color])
        draw.text((slot * CELL + CELL // 2, top - 6), str(bar.value), fill=INK, font=_font(), anchor="mm")
        draw.text((slot * CELL + CELL // 2, base + 7), bar.label, fill=INK, font=_font(), anchor="mm")
