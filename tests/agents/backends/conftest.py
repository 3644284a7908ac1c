"""Fixtures of the server back-end tests: one tiny ai2lumos-shaped checkpoint per session."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def ai2lumos_served_dir(tmp_path_factory):
    """A tiny ai2lumos-shaped checkpoint (`tests/ai2lumos_checkpoint.py`) that servers can load.

    `transformers serve` picks the model class from `config.json`'s `architectures`, which the
    published checkpoints carry (`LlamaForCausalLM`); the builder's config omits it, so it is set here.
    """
    from tests.ai2lumos_checkpoint import build_ai2lumos_checkpoint

    folder = build_ai2lumos_checkpoint(tmp_path_factory.mktemp("ai2lumos_served"))
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.setdefault("architectures", ["LlamaForCausalLM"])
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder
