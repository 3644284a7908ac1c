"""Safe image files: paths named inside task files, and the bounded load of what they point to.

As `spec/contract.md` fixes: a path inside a task file resolves against the task file's folder
or a root the user gives, and one that leaves that root (`..`, an absolute path elsewhere, a
symlink out) is refused; Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`) stays on
and files over `MAX_IMAGE_BYTES` are refused before Pillow opens them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lumos_envs.multimodal.render import IMAGE_SIZE

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""largest image file read (A-OKVQA's COCO images and ScienceQA's are far smaller)"""


class ImageFileError(ValueError):
    """A path that leaves its data root, a missing or oversized file, or an unreadable image."""


def resolve_data_path(root: Path, relative: str) -> Path:
    """`root / relative`, refusing anything that resolves outside `root`.

    Raises:
        ImageFileError: the path is empty or escapes `root`.
    """
    if not relative or "\x00" in relative:
        raise ImageFileError(f"empty or invalid image path {relative!r}")
    base = root.resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base):
        raise ImageFileError(f"image path {relative!r} leaves the data folder {base}")
    return candidate


def load_image(path: Path, max_bytes: int = MAX_IMAGE_BYTES) -> Image.Image:
    """Open an image as RGB with the size cap and Pillow's bomb limit in force.

    Raises:
        ImageFileError: missing, too large, a decompression bomb, or not an image.
    """
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageFileError(f"cannot read image {path}: {error}") from None
    if size > max_bytes:
        raise ImageFileError(f"image {path} is {size} bytes; the limit is {max_bytes}")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageFileError(f"image {path} exceeds Pillow's decompression-bomb limit: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageFileError(f"cannot decode image {path}: {error}") from None


def to_observation(image: Image.Image) -> np.ndarray:
    """The env's fixed-size uint8 (IMAGE_SIZE, IMAGE_SIZE, 3) view of an image (read-only)."""
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    array = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    array.setflags(write=False)
    return array
