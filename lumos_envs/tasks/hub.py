"""`hf:NAME` task specs: read a dataset with `datasets.load_dataset` and convert its rows with the
same per-row code as the file loaders, so hub copies and local files give identical tasks.

NAME is a hub id (`openai/gsm8k`, needs the network) or a local folder or file that `datasets`
can read (`hf:/data/gsm8k?split=test`). The schema is detected from the columns, or named with
`schema=gsm8k|svamp`. Options: `config`, `split`, `schema`, `revision`.

The split: a local file's is `?split=` or its file name's, as for the file loaders
(`lumos_envs.tasks.splits`; `validation` is the hub's name for dev). A hub id's or folder's is
`?split=` as the dataset spells it (`hf:openai/gsm8k?config=main&split=test`), or, absent, its only
split; a dataset with several splits and no `?split=` raises, naming them. Ids are made by the
schema's row converter, so a hub copy and the same rows in a file get the same ids.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping

from lumos_envs.tasks.base import Task, TaskList
from lumos_envs.tasks.splits import ContentIds, resolve_split

ROW_CONVERTERS: dict[str, tuple[str, frozenset[str]]] = {
    "gsm8k": ("lumos_envs.tasks.gsm8k:gsm8k_task_from_row", frozenset({"question", "answer"})),
    "svamp": ("lumos_envs.tasks.svamp:svamp_task_from_row", frozenset({"Body", "Question", "Equation", "Answer"})),
}
"""schema -> (`module:function(row, index, split, ids) -> Task`, columns that identify the schema);
`ids` is one `ContentIds` per load, naming rows that carry no id"""


def load_hub_dataset(
    name: str,
    *,
    config: str | None = None,
    split: str | None = None,
    schema: str | None = None,
    revision: str | None = None,
) -> TaskList:
    """Load `name` with `datasets` and convert every row to a `Task`.

    Raises:
        ValueError: when the schema is unknown or cannot be detected from the columns, or the
            split is unknown or (for a dataset with several) not given.
    """
    import datasets  # heavy; only hub specs need it

    path = Path(name)
    if path.is_file():
        builder = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(path.suffix)
        if builder is None:
            raise ValueError(f"cannot read {path}: use .jsonl, .json, .parquet or .csv")
        split = resolve_split(path, split, source="hf", dev_name="validation").split
        # `datasets` wants a word as the split's name; the label is ours, so read under a fixed one
        dataset = datasets.load_dataset(builder, data_files={"rows": str(path)}, split="rows")
    else:
        dataset, split = _hub_split(datasets, name, config, split, revision)
    columns = set(dataset.column_names)
    schema = schema or _detect_schema(columns, name)
    if schema not in ROW_CONVERTERS:
        raise ValueError(f"unknown schema {schema!r} for hf:{name}; known: {', '.join(ROW_CONVERTERS)}")
    target, required = ROW_CONVERTERS[schema]
    missing = required - columns
    if missing:
        raise ValueError(f"hf:{name} has no column(s) {sorted(missing)} needed by schema {schema!r}; it has {sorted(columns)}")
    convert = _import(target)
    ids = ContentIds(schema, split)
    return TaskList([convert(row, index, split, ids) for index, row in enumerate(dataset)], name=f"hf:{name}")


def _hub_split(datasets: Any, name: str, config: str | None, split: str | None, revision: str | None) -> tuple[Any, str]:
    """The rows of `split` (or of the dataset's only split) and that split's name."""
    if split:
        try:
            return datasets.load_dataset(name, config, split=split, revision=revision), split
        except ValueError as error:
            if "Unknown split" not in str(error):
                raise
            raise ValueError(f"unknown split {split!r} for hf:{name}: {str(error).splitlines()[0]}") from None
    splits = datasets.load_dataset(name, config, revision=revision)
    if len(splits) != 1:
        raise ValueError(f"hf:{name} has splits {', '.join(splits)}; add ?split=NAME")
    (only,) = splits
    return splits[only], str(only)


def _detect_schema(columns: set[str], name: str) -> str:
    matches = [schema for schema, (_, required) in ROW_CONVERTERS.items() if required <= columns]
    if len(matches) != 1:
        raise ValueError(f"cannot tell the schema of hf:{name} from its columns {sorted(columns)}; add ?schema=NAME")
    return matches[0]


def _import(target: str) -> Callable[[Mapping[str, Any], int, str, ContentIds], Task]:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
