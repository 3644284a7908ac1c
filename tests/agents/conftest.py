"""Shared fixtures of the agent tests: one tiny model saved once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from agents.backends.tiny import TinyModelConfig, default_corpus, save_tiny

    path = tmp_path_factory.mktemp("tiny_model")
    return save_tiny(path, TinyModelConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128), corpus=default_corpus(("synthetic:math_train?size=30",)))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    from agents.backends.tiny import load_tiny_backend

    return load_tiny_backend(tiny_model_dir, batch_size=16)
