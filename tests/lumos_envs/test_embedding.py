"""The packaged sentence embedder loads offline and gives normalised, meaningful vectors."""

from __future__ import annotations

import numpy as np

from lumos_envs.embedding import EMBEDDING_DIM, default_embedder
from lumos_envs.protocols import Embedder


def test_packaged_minilm_embeds_offline():
    embedder = default_embedder()
    assert isinstance(embedder, Embedder) and default_embedder() is embedder
    vectors = embedder.embed(["a red apple", "a green apple", "the stock market crashed"])
    assert vectors.shape == (3, EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)
