"""The one table of task sources, and the task-spec strings that name them.

A task spec is `LOADER:PATH` for a dataset file in its own schema (`gsm8k:test.jsonl`,
`svamp:SVAMP.json`), `synthetic:FAMILY` for a bundled generator, or `hf:NAME` for a dataset read
through `datasets` (hub id or local folder). Options follow a `?` as URL-style pairs:
`synthetic:shopping_total?size=500&seed=3`, `gsm8k:train.jsonl?split=train`,
`hf:openai/gsm8k?config=main&split=test&schema=gsm8k`. Loaders are imported lazily, so listing
the table imports no loader.

A file loader's split is `?split=` or, absent, the file name's (`train.jsonl` -> train,
`test_sample.jsonl` -> test, `hotpot_dev_distractor_v1.json` -> dev; a name that names no split
gives its stem), and rows without a dataset id get `{loader}-{split}-{content digest}` ids, so two
files never share an id for different rows: `lumos_envs.tasks.splits` holds the rules.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Literal
from urllib.parse import parse_qsl

from lumos_envs.tasks.base import ConcatTaskSource, TaskSource


@dataclass(frozen=True)
class TaskLoaderEntry:
    """One row of the table: a loader name and how to load it."""

    name: str
    target: str
    """`module:function`; file loaders take `(path, split=None, ...)` (None: the split the file's
    name gives), generators `(family, size=, seed=)`"""
    kind: Literal["file", "generator", "hub"]
    domain: str
    description: str


TASK_LOADERS: dict[str, TaskLoaderEntry] = {}

SYNTHETIC_MODULES: dict[str, str] = {
    "math": "lumos_envs.tasks.synthetic_math",
    "qa": "lumos_envs.tasks.synthetic_qa",
    "webshop": "lumos_envs.tasks.webshop",
    "multimodal": "lumos_envs.tasks.synthetic_multimodal",
    "sql": "lumos_envs.tasks.synthetic_sql",
}
"""domain -> module with `FAMILIES` (name -> family info with `split`) and `load_family(name, size, seed, part)`"""


def register_task_loader(entry: TaskLoaderEntry) -> None:
    """Add a loader to the table; a duplicate name raises."""
    if entry.name in TASK_LOADERS:
        raise ValueError(f"task loader {entry.name!r} is already registered")
    TASK_LOADERS[entry.name] = entry


for _entry in (
    TaskLoaderEntry("gsm8k", "lumos_envs.tasks.gsm8k:load_gsm8k", "file", "math",
                    "GSM8K jsonl: question, answer (rationale with <<a*b=c>> marks, final '#### N')"),
    TaskLoaderEntry("svamp", "lumos_envs.tasks.svamp:load_svamp", "file", "math",
                    "SVAMP json list: ID, Body, Question, Equation, Answer, Type"),
    TaskLoaderEntry("webshop", "lumos_envs.tasks.webshop:load_webshop", "file", "webshop",
                    "WebShop files: items_shuffle*.json, items_ins_v2*.json, items_human_ins.json (or 'generated'); split=, goals=human|synthetic"),
    TaskLoaderEntry("hotpotqa", "lumos_envs.tasks.hotpotqa:load_hotpotqa", "file", "qa",
                    "HotpotQA json: distractor/dev (_id, question, answer, supporting_facts, context) or question-only (?corpus=DOCS.jsonl)"),
    TaskLoaderEntry("musique", "lumos_envs.tasks.musique:load_musique", "file", "qa",
                    "MuSiQue jsonl: id, question, answer, paragraphs, question_decomposition (gold plans from the decomposition)"),
    TaskLoaderEntry("strategyqa", "lumos_envs.tasks.strategyqa:load_strategyqa", "file", "qa",
                    "StrategyQA json: question, boolean answer; documents from ?corpus=DOCS.jsonl ({title, text} lines)"),
    TaskLoaderEntry("synthetic", "lumos_envs.tasks.registry:load_synthetic", "generator", "*",
                    "bundled procedural families with gold plans (lumos list tasks shows them)"),
    TaskLoaderEntry("spider", "lumos_envs.tasks.spider:load_spider", "file", "sql",
                    "InterCode-SQL json list: db, gold, query, hardness, db_tables; MySQL dump beside it or ?dump=PATH"),
    TaskLoaderEntry("aokvqa", "lumos_envs.tasks.aokvqa:load_aokvqa", "file", "multimodal",
                    "A-OKVQA json: question, choices, correct_choice_idx, direct_answers, image_id (COCO image under image_root=)"),
    TaskLoaderEntry("scienceqa", "lumos_envs.tasks.scienceqa:load_scienceqa", "file", "multimodal",
                    "ScienceQA problems.json (id -> question, choices, answer, hint, image) or a list/jsonl of such rows"),
    TaskLoaderEntry("hf", "lumos_envs.tasks.hub:load_hub_dataset", "hub", "*",
                    "a dataset read with datasets.load_dataset (hub id or local folder); schema= picks the loader"),
):
    register_task_loader(_entry)


def parse_task_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """Split `LOADER:ARGUMENT?key=value&...` into its three parts.

    Raises:
        ValueError: for an unknown loader or a spec without `:`.
    """
    loader, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ValueError(f"task spec {spec!r} must look like LOADER:PATH or synthetic:FAMILY; loaders: {', '.join(TASK_LOADERS)}")
    if loader not in TASK_LOADERS:
        raise ValueError(f"unknown task loader {loader!r} in {spec!r}; known: {', '.join(TASK_LOADERS)}")
    argument, options = rest, {}
    head, qsep, query = rest.rpartition("?")
    if qsep and query and all("=" in pair for pair in query.split("&")):
        argument, options = head, dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
    return loader, argument, options


def load_tasks(spec: str, **overrides: Any) -> TaskSource:
    """Load the task source a spec names; keyword overrides win over the spec's options."""
    loader, argument, options = parse_task_spec(spec)
    kwargs: dict[str, Any] = {**options, **overrides}
    entry = TASK_LOADERS[loader]
    function = _import(entry.target)
    if entry.kind == "generator":
        return function(argument, **_ints(kwargs, "size", "seed"))
    return function(argument, **kwargs)


def synthetic_families() -> dict[str, dict[str, Any]]:
    """Every bundled family: name -> {"domain", "split", "description"}, plus the aliases."""
    families: dict[str, dict[str, Any]] = {}
    for domain, module_name in SYNTHETIC_MODULES.items():
        module = importlib.import_module(module_name)
        for name, info in module.FAMILIES.items():
            families[name] = {"domain": domain, "split": info.split, "description": info.description}
        families[f"{domain}_train"] = {"domain": domain, "split": "train", "description": f"all training {domain} families"}
        families[f"{domain}_heldout"] = {"domain": domain, "split": "heldout", "description": f"all held-out {domain} families"}
    return families


def synthetic_members(family: str) -> list[str]:
    """The bundled families a `synthetic:` name draws from: itself, or every family of the split
    for `<domain>_train` / `<domain>_heldout` (`size=` is per family). Unknown names: []."""
    for domain, module_name in SYNTHETIC_MODULES.items():
        module = importlib.import_module(module_name)
        if family in module.FAMILIES:
            return [family]
        for split in ("train", "heldout"):
            if family == f"{domain}_{split}":
                return [n for n, info in module.FAMILIES.items() if info.split == split]
    return []


def load_synthetic(family: str, size: int = 200, seed: int = 0, templates: str | None = None,
                   part: str = "all") -> TaskSource:
    """A bundled family, or `<domain>_train` / `<domain>_heldout` for all of a domain's families.

    `templates` (`?templates=test`) picks a family's template-disjoint half or named templates, where
    the family's generator has templates (the maths families). `part` (`?part=test`) is `train`,
    `validation`, `test` (parts share no question with its numbers masked) or `all`; every family has it."""
    for domain, module_name in SYNTHETIC_MODULES.items():
        module = importlib.import_module(module_name)
        if family in module.FAMILIES:
            if templates is None:
                return module.load_family(family, size=size, seed=seed, part=part)
            if "templates" not in inspect.signature(module.load_family).parameters:
                raise ValueError(f"synthetic family {family!r} has no template choice (templates={templates!r})")
            return module.load_family(family, size=size, seed=seed, templates=templates, part=part)
        if templates is not None and family in (f"{domain}_train", f"{domain}_heldout"):
            raise ValueError(f"templates= picks templates of one family, not of {family!r}")
        if family in (f"{domain}_train", f"{domain}_heldout"):
            return ConcatTaskSource([module.load_family(n, size=size, seed=seed, part=part) for n in synthetic_members(family)],
                                    name=family)
    raise ValueError(f"unknown synthetic family {family!r}; known: {', '.join(synthetic_families())}")


def _ints(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        if name in kwargs:
            try:
                kwargs[name] = int(kwargs[name])
            except ValueError:
                raise ValueError(f"task spec option {name} must be an integer, got {kwargs[name]!r}") from None
    return kwargs


def _import(target: str) -> Callable[..., TaskSource]:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
