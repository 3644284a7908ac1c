"""How far an evaluation suite is from what the agent was trained on, derived from the models' records.

An evaluation number means little without knowing whether the agent saw the suite's kind of task
in training. lumos derives each suite's category from the training provenance in the models'
`lumos_model.json` (`agents.models.ModelRecord.training`: `task_specs`, `families`, `domains`,
`template_ids`, ...), never from what the suite's author calls it:

- `seen`: the suite repeats training questions, exactly or once numbers are masked (the training
  task specs the records name are rebuilt: `training_questions`, `training_overlap`). It measures
  memory, not generalisation, whatever its families say: `lumos eval` refuses such a suite unless
  `--allow-overlap` is given, and then labels it `seen` and pools it with nothing else;
- `in-template`: the suite's families (or dataset) and templates were trained on, with new numbers
  and entities (another seed or part, another file of the same dataset) and no repeated question;
- `held-out-template` (shown as "held-out (template-disjoint)"): trained families, but none of the
  suite's templates was trained on (a `?templates=test` suite of a model trained on
  `?templates=train`, or on templates the record's `template_ids` leave out);
- `held-out`: a trained domain, but families or datasets the agent never trained on;
- `unseen`: a domain the agent never trained on;
- `unknown`: a module has no training record (a public checkpoint, a served model, an untrained
  model, the oracle): lumos cannot know what it saw, so nothing is called in-domain.

Each category is its own pool: `held-out-template` enters neither the `held-out` nor the
`in-template` pool, and `seen` enters none. Only when no record says anything and the user names
`--trained-domains` explicitly are the categories taken from that flag and the suites' `kind`, and
the report says they were asserted. Every decision carries the record field that made it
(`decided_by`) and a sentence (`reason`), which `report.json` keeps.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

from lumos_envs.domains import Domain
from lumos_envs.tasks.question_keys import mask_numbers, masked_key, normalise_question

__all__ = ["CATEGORIES", "Category", "CategoryDecision", "TrainingProvenance", "TrainingQuestions", "category_label", "decide",
           "mask_numbers", "normalise_question", "seen_decision", "task_provenance", "training_overlap", "training_provenance",
           "training_questions"]

Category = Literal["in-template", "held-out-template", "held-out", "unseen", "seen", "unknown"]
CATEGORIES: tuple[Category, ...] = ("in-template", "held-out-template", "held-out", "unseen", "seen", "unknown")
"""from nearest to farthest from training, then `seen` (repeats training questions) and `unknown`"""
CATEGORY_LABELS: dict[str, str] = {"held-out-template": "held-out (template-disjoint)"}
"""how reports print a category whose value is not its own best name"""
LEGACY_CATEGORIES: dict[str, Category] = {"in-domain": "in-template"}
"""names earlier reports and callers used"""

ENV_DOMAINS = {
    "lumos/Math-v0": Domain.MATH,
    "lumos/QA-v0": Domain.QA,
    "lumos/WebShop-v0": Domain.WEBSHOP,
    "lumos/Multimodal-v0": Domain.MULTIMODAL,
    "lumos/SQL-v0": Domain.SQL,
}

MODULES = ("planner", "grounder")


@dataclass(frozen=True)
class CategoryDecision:
    """One suite's category, the record field that decided it, and why."""

    category: Category
    decided_by: str
    """`training.domains`, `training.families`, `training.template_ids`, `training.task_specs`,
    `training questions` (the suite repeats some), `--trained-domains` (asserted by the user), or `no training record`"""
    reason: str


def category_label(category: str) -> str:
    """The category as reports print it (`held-out-template` is "held-out (template-disjoint)")."""
    return CATEGORY_LABELS.get(category, category)


@dataclass(frozen=True)
class TrainingProvenance:
    """What the agent's modules were trained on: the union over the planner's and grounder's records."""

    sources: tuple[str, ...]
    """which records (module and model folder)"""
    task_specs: tuple[str, ...] = ()
    families: frozenset[str] = frozenset()
    """synthetic families, aliases (`math_train`) expanded"""
    datasets: frozenset[str] = frozenset()
    """loaders of the file or hub task specs trained on (`gsm8k`, `spider`, ...)"""
    template_ids: frozenset[str] = frozenset()
    """the records' own `template_ids` (they decide templates where given)"""
    trained_templates: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """family -> the template keys its training specs drew from (`?templates=`), for families with
    a template choice (the maths families); every key where a family was trained without a choice"""
    domains: frozenset[str] = frozenset()
    domain_fields: tuple[str, ...] = ()
    """the record fields the domains came from"""
    record_counts: dict[str, Any] = field(default_factory=dict)
    """each source's training record counts"""

    def to_json(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "task_specs": list(self.task_specs), "families": sorted(self.families),
                "datasets": sorted(self.datasets), "template_ids": sorted(self.template_ids),
                "trained_templates": {f: sorted(keys) for f, keys in sorted(self.trained_templates.items())}, "domains": sorted(self.domains),
                "domain_fields": list(self.domain_fields), "record_counts": self.record_counts}


def training_provenance(agent_info: Mapping[str, Any]) -> TrainingProvenance | str:
    """The agent's training provenance from the model records in `agent_info["models"]`, or the
    sentence saying why there is none (any module without a training record makes it unknown)."""
    models = agent_info.get("models") or {}
    if not models:
        return f"the {agent_info.get('agent', 'agent')} agent has no model records"
    sources: list[str] = []
    trainings: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for module in MODULES:
        entry = models.get(module)
        if entry is None:
            continue
        name = str(entry.get("path") or entry.get("name") or "?")
        record = entry.get("record") or {}
        training = record.get("training")
        if not isinstance(training, Mapping) or not training:
            what = "has no lumos_model.json" if not record else "has no training record"
            return f"the {module} model {name} {what} (a public checkpoint or an untrained model)"
        if name in seen:
            continue
        seen.add(name)
        sources.append(f"{module}: {name}")
        trainings.append(training)
        earlier = _earlier_trainings(record, name)
        if isinstance(earlier, str):
            return f"the {module} model {name} {earlier}"
        for base, base_training in earlier:
            sources.append(f"{module}'s base: {base}")
            trainings.append(base_training)
    return _merge(sources, trainings)


MAX_BASE_CHAIN = 16
"""records followed back through `trained_from` / `lora_base` (a round of `lumos improve` starts from the last)"""


def _earlier_trainings(record: Mapping[str, Any], name: str) -> list[tuple[str, Mapping[str, Any]]] | str:
    """The training records of the folders this model was trained from (`training.trained_from`,
    `lora_base`), newest first: a round of `lumos improve` records only its own tasks, and its base
    saw the earlier ones. A base folder without a record makes the whole unknown (a sentence);
    a base with a record but no training (a prepared pretrained model, an untrained tiny model)
    or one that is not a local folder (a hub id) ends the chain: pretraining is not task training."""
    from pathlib import Path

    from agents.models import read_model_record

    out: list[tuple[str, Mapping[str, Any]]] = []
    seen = {name}
    current = record
    for _ in range(MAX_BASE_CHAIN):
        training = current.get("training") or {}
        bases = [b for b in (training.get("trained_from"), current.get("lora_base")) if b]
        base = next((str(b) for b in bases if str(b) not in seen and Path(str(b)).is_dir()), None)
        if base is None:
            return out
        seen.add(base)
        try:
            found = read_model_record(base)
        except ValueError as error:
            return f"was trained from {base}, whose record cannot be read: {error}"
        if found is None:
            return f"was trained from {base}, which has no lumos_model.json (a public checkpoint: it may have seen anything)"
        current = found.to_json()
        if not current.get("training"):
            return out
        out.append((base, current["training"]))
    return out


def decide(env_id: str, tasks: str | None, provenance: TrainingProvenance, *, limit: int | None = None) -> CategoryDecision:
    """The category of the suite (`env_id`, task spec `tasks`) for an agent trained on `provenance`."""
    domain = ENV_DOMAINS[env_id].value
    if domain not in provenance.domains:
        trained = ", ".join(sorted(provenance.domains)) or "none"
        return CategoryDecision("unseen", _field(provenance.domain_fields),
                                f"domain {domain} is not among the trained domains ({trained})")
    spec = tasks or default_task_spec(env_id)
    loader, argument = _loader_and_argument(spec)
    if loader == "synthetic":
        return _decide_synthetic(spec, argument, provenance, limit)
    dataset = _dataset_id(loader, argument)
    if dataset in provenance.datasets:
        same = [s for s in provenance.task_specs if _loader_and_argument(s) == (loader, argument)]
        note = "the same file (check the split)" if same else "another file of it"
        return CategoryDecision("in-template", "training.task_specs", f"dataset {dataset} was trained on; this suite is {note}")
    if not provenance.families and not provenance.task_specs:
        return CategoryDecision("unknown", "training.task_specs",
                                f"the records name the domain {domain} but no task specs or families")
    trained = ", ".join(sorted(provenance.datasets)) or "none"
    return CategoryDecision("held-out", "training.task_specs",
                            f"dataset {dataset} was never trained on (trained datasets: {trained})")


@dataclass
class TrainingQuestions:
    """The training questions a record's task specs rebuild: whitespace-normalised (`exact`) and
    with numbers masked (`masked`), each mapped to the first training spec that holds it."""

    exact: dict[str, str] = field(default_factory=dict)
    masked: dict[str, str] = field(default_factory=dict)
    specs: list[str] = field(default_factory=list)
    """the task specs rebuilt"""
    skipped: dict[str, str] = field(default_factory=dict)
    """task spec -> why it could not be rebuilt here (a file this machine lacks, too many tasks)"""


MAX_TRAINING_TASKS = 50_000
"""training tasks rebuilt per spec to check overlap; a larger source is skipped (and said so)"""


def training_questions(provenance: TrainingProvenance | Iterable[str]) -> TrainingQuestions:
    """Rebuild the questions of every training task spec the records name (or of the specs given);
    bundled generators are deterministic, so `synthetic:` specs rebuild exactly; files need to be
    where they were. A whole spec is rebuilt even where training used only its first tasks: the
    check errs towards finding overlap."""
    from lumos_envs.tasks.registry import load_tasks

    specs = provenance.task_specs if isinstance(provenance, TrainingProvenance) else tuple(provenance)
    out = TrainingQuestions()
    for spec in dict.fromkeys(specs):
        try:
            source = load_tasks(spec)
            if len(source) > MAX_TRAINING_TASKS:
                out.skipped[spec] = f"{len(source)} tasks (more than {MAX_TRAINING_TASKS})"
                continue
            for index in range(len(source)):
                text = normalise_question(source[index].question)
                out.exact.setdefault(text, spec)
                out.masked.setdefault(mask_numbers(text), spec)
        except (OSError, ValueError, KeyError) as error:
            out.skipped[spec] = str(error).splitlines()[0] if str(error) else type(error).__name__
            continue
        out.specs.append(spec)
    return out


def training_overlap(env_id: str, tasks: str | None, questions: TrainingQuestions, *, limit: int | None = None) -> dict[str, Any]:
    """How many of the suite's questions equal a training question (whitespace-normalised), and
    how many do once every number is masked (`masked_key`), with the training specs they come
    from (`by_spec`: spec -> masked duplicates): any of either makes the suite `seen`."""
    from lumos_envs.tasks.registry import load_tasks

    source = load_tasks(tasks or default_task_spec(env_id))
    count = len(source) if limit is None else min(limit, len(source))
    texts = [normalise_question(source[i].question) for i in range(count)]
    by_spec: dict[str, int] = {}
    for text in texts:
        spec = questions.masked.get(masked_key(text))
        if spec is not None:
            by_spec[spec] = by_spec.get(spec, 0) + 1
    return {"questions": count, "exact_duplicates": sum(1 for t in texts if t in questions.exact),
            "masked_duplicates": sum(by_spec.values()), "by_spec": by_spec,
            "training_specs": list(questions.specs), "skipped_specs": dict(questions.skipped)}


def overlaps(overlap: Mapping[str, Any] | None) -> bool:
    """Whether a `training_overlap` result found any exact or masked duplicate."""
    return bool(overlap and (overlap.get("exact_duplicates") or overlap.get("masked_duplicates")))


def overlap_sentence(overlap: Mapping[str, Any]) -> str:
    """`3 exact and 46 masked duplicates of training questions among its 50 (training spec X)`."""
    specs = ", ".join(f"{spec} ({n})" if len(overlap["by_spec"]) > 1 else spec
                      for spec, n in sorted(overlap.get("by_spec", {}).items(), key=lambda item: -item[1]))
    return (f"{overlap['exact_duplicates']} exact and {overlap['masked_duplicates']} masked duplicates of training questions "
            f"among its {overlap['questions']} (training spec{'s' if len(overlap.get('by_spec', {})) > 1 else ''} {specs})")


def seen_decision(decision: CategoryDecision, overlap: Mapping[str, Any]) -> CategoryDecision:
    """`seen` for a suite that repeats training questions, keeping what its families alone would make it."""
    return CategoryDecision("seen", "training questions",
                            f"{overlap_sentence(overlap)}; by its families alone: {category_label(decision.category)} ({decision.reason})")


def task_provenance(jobs: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    """The training record fields categories are derived from, for a run trained on `jobs` (env id,
    task spec or None for the env's default tasks; the env may be "" where a spec is given):
    `task_specs`, `env_ids`, `families` (synthetic
    families, aliases expanded) and `domains`. Every lumos training path (SFT, DPO, GRPO, improve)
    records them through this function."""
    jobs = [(env, spec or default_task_spec(env)) for env, spec in jobs]
    known = _synthetic_families()
    families: set[str] = set()
    domains = {ENV_DOMAINS[env].value for env, _ in jobs if env in ENV_DOMAINS}
    for _, spec in jobs:
        loader, argument = _loader_and_argument(spec)
        if loader == "synthetic":
            expanded = _expand_family(argument, known)
            families |= expanded
            domains |= {known[f]["domain"] for f in expanded if f in known}
        elif loader:
            domains |= {_loader_domain(loader)} - {None}  # type: ignore[arg-type]
    return {"task_specs": list(dict.fromkeys(spec for _, spec in jobs)), "env_ids": sorted({env for env, _ in jobs if env}),
            "families": sorted(families), "domains": sorted(domains)}


def asserted(env_id: str, kind: str, trained_domains: Iterable[str]) -> CategoryDecision:
    """The category `--trained-domains` and the suite's `kind` assert, for agents without records."""
    domain = ENV_DOMAINS[env_id].value
    domains = frozenset(trained_domains)
    if domain not in domains:
        return CategoryDecision("unseen", "--trained-domains", f"asserted: {domain} is not in --trained-domains")
    category: Category = "in-template" if kind == "test" else "held-out"
    return CategoryDecision(category, "--trained-domains", f"asserted by --trained-domains and the suite's kind {kind!r}")


def unknown(reason: str) -> CategoryDecision:
    return CategoryDecision("unknown", "no training record", reason)


def normalise_category(name: str) -> Category:
    """A category name, earlier names (`in-domain`) mapped to today's.

    Raises:
        ValueError: for a name that is no category.
    """
    name = LEGACY_CATEGORIES.get(name, name)
    if name not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {name!r}")
    return name  # type: ignore[return-value]


# -- helpers -------------------------------------------------------------------------------------


def _merge(sources: list[str], trainings: list[Mapping[str, Any]]) -> TrainingProvenance:
    specs: list[str] = []
    families: set[str] = set()
    datasets: set[str] = set()
    templates: set[str] = set()
    domains: set[str] = set()
    domain_fields: list[str] = []
    counts: dict[str, Any] = {}
    trained_templates: dict[str, set[str]] = {}
    known_families = _synthetic_families()
    for source, training in zip(sources, trainings):
        for spec in _strings(training.get("task_specs")):
            specs.append(spec)
            loader, argument = _loader_and_argument(spec)
            if loader == "synthetic":
                expanded = _expand_family(argument, known_families)
                families |= expanded
                for family in expanded:
                    _add_templates(trained_templates, family, _spec_option(spec, "templates") or "all")
            elif loader:
                datasets.add(_dataset_id(loader, argument))
        for name in _strings(training.get("families")):
            if name in known_families:
                expanded = _expand_family(name, known_families)
                families |= expanded
                for family in expanded - set(trained_templates):  # named without a spec: every template
                    _add_templates(trained_templates, family, "all")
            else:
                datasets.add(name)  # a dataset named as a family (`gsm8k`)
        templates |= set(_strings(training.get("template_ids")))
        explicit = _domains(_strings(training.get("domains")))
        if explicit:
            domains |= explicit
            _add(domain_fields, "training.domains")
        else:  # derive the domains from what the record names
            derived = {known_families[f]["domain"] for f in families if f in known_families}
            derived |= {_loader_domain(d) for d in datasets} - {None}  # type: ignore[arg-type]
            if derived:
                _add(domain_fields, "training.families" if training.get("families") else "training.task_specs")
            lumos = _domains(training.get("datasets") or {})  # train()'s own counts of LUMOS dataset names
            if lumos - derived:
                _add(domain_fields, "training.datasets")
            domains |= derived | lumos
        if "record_counts" in training or "records" in training:
            counts[source] = training.get("record_counts", {"records": training.get("records")})
    return TrainingProvenance(tuple(sources), tuple(specs), frozenset(families), frozenset(datasets), frozenset(templates),
                              {f: frozenset(keys) for f, keys in trained_templates.items()}, frozenset(domains), tuple(domain_fields),
                              counts)


def _add_templates(trained: dict[str, set[str]], family: str, choice: str) -> None:
    """Add the template keys `choice` (`all`, `train`, `test`, keys) picks from a family with a
    template choice (the maths families); other families have none to record."""
    from lumos_envs.tasks.synthetic_math import MATH_FAMILIES, chosen_templates

    info = MATH_FAMILIES.get(family)
    if info is None:
        return
    try:
        keys = {t.key for t in chosen_templates(info, choice)}
    except ValueError:  # a choice this version does not know: count every template, the cautious side
        keys = {t.key for t in info.templates}
    trained.setdefault(family, set()).update(keys)


def _spec_option(spec: str, name: str) -> str | None:
    from lumos_envs.tasks.registry import parse_task_spec

    try:
        return parse_task_spec(spec)[2].get(name)
    except ValueError:
        return None


def _decide_synthetic(spec: str, argument: str, provenance: TrainingProvenance, limit: int | None) -> CategoryDecision:
    known = _synthetic_families()
    families = _expand_family(argument, known)
    trained = families & provenance.families
    if not provenance.families and not provenance.task_specs:
        return CategoryDecision("unknown", "training.families", "the records name the domain but no families or task specs")
    if not trained:
        return CategoryDecision("held-out", "training.families" if provenance.families else "training.task_specs",
                                f"famil{'y' if len(families) == 1 else 'ies'} {', '.join(sorted(families))} never trained on")
    if trained != families:
        untrained = ", ".join(sorted(families - trained))
        return CategoryDecision("in-template", "training.families",
                                f"{', '.join(sorted(trained))} trained on, {untrained} not: counted in-template, the cautious side")
    if provenance.template_ids:  # the records name their templates: they decide
        suite_templates = _suite_templates(spec, limit)
        seen = {t for t in suite_templates if _template_trained(t, provenance.template_ids)}
        decided_by = "training.template_ids"
    else:  # the templates the training specs drew from (`?templates=`), for families that have a choice
        suite_templates = {t for t in _suite_templates(spec, limit) if t[0] in provenance.trained_templates}
        if not suite_templates:
            return CategoryDecision("in-template", "training.families",
                                    f"famil{'y' if len(families) == 1 else 'ies'} {', '.join(sorted(families))} trained on (new seed)")
        seen = {t for t in suite_templates if t[1] in provenance.trained_templates[t[0]]}
        decided_by = "training.task_specs"
    if not seen:
        return CategoryDecision("held-out-template", decided_by,
                                f"trained families, but none of the suite's {len(suite_templates)} templates was trained on")
    note = "" if seen == suite_templates else f" ({len(suite_templates) - len(seen)} of {len(suite_templates)} templates not: counted in-template, the cautious side)"
    return CategoryDecision("in-template", decided_by, f"trained families and templates{note}")


def _suite_templates(spec: str, limit: int | None) -> set[tuple[str, str]]:
    """(family, template id) of every task the suite runs."""
    from lumos_envs.tasks.registry import load_tasks

    source = load_tasks(spec)
    count = len(source) if limit is None else min(limit, len(source))
    out = set()
    for index in range(count):
        task = source[index]
        metadata = dict(task.metadata or {})
        family = str(metadata.get("family") or (task.source or "").partition(":")[2])
        out.add((family, str(metadata.get("template", ""))))
    return out


def _template_trained(template: tuple[str, str], ids: frozenset[str]) -> bool:
    family, key = template
    return bool({key, f"{family}/{key}", f"{family}:{key}", f"{family}.{key}"} & ids)


def _synthetic_families() -> dict[str, dict[str, Any]]:
    from lumos_envs.tasks.registry import synthetic_families

    return synthetic_families()


def _expand_family(name: str, known: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """A family name, or the families a `<domain>_train` / `<domain>_heldout` alias stands for."""
    if _is_alias(name, known):
        info = known[name]
        return {n for n, other in known.items() if other["domain"] == info["domain"] and other["split"] == info["split"]
                and not _is_alias(n, known)}
    return {name}


def _is_alias(name: str, known: Mapping[str, Mapping[str, Any]]) -> bool:
    info = known.get(name)
    return info is not None and name == f"{info['domain']}_{info['split']}"


def _loader_and_argument(spec: str) -> tuple[str, str]:
    from lumos_envs.tasks.registry import parse_task_spec

    try:
        loader, argument, _ = parse_task_spec(spec)
    except ValueError:
        return "", spec
    return loader, argument


def _dataset_id(loader: str, argument: str) -> str:
    """What names a dataset: its loader (`gsm8k`, whichever file), or `hf:NAME` for hub datasets."""
    return f"hf:{argument}" if loader == "hf" else loader


def _loader_domain(loader: str) -> str | None:
    loader = loader.partition(":")[0]
    from lumos_envs.tasks.registry import TASK_LOADERS

    entry = TASK_LOADERS.get(loader)
    return entry.domain if entry is not None and entry.domain != "*" else None


def default_task_spec(env_id: str) -> str:
    """The task spec an env uses when it is given none (`default_tasks` of its class)."""
    from lumos_envs.registration import LUMOS_ENVS

    module, _, name = LUMOS_ENVS[env_id].partition(":")
    return str(getattr(importlib.import_module(module), name).default_tasks)


def _domains(names: Iterable[str]) -> set[str]:
    out = set()
    for name in names:
        try:
            out.add(Domain.from_lumos_dataset(str(name)).value)
        except ValueError:
            continue  # LUMOS domains lumos has no env for (web_agent, unified) decide no suite
    return out


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    return [str(v) for v in value]


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _field(fields: tuple[str, ...]) -> str:
    return " + ".join(fields) if fields else "training.domains"
