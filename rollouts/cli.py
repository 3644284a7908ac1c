"""The `lumos` command line: each subcommand maps flags onto one config dataclass and calls one function.

    lumos replay-gold --env lumos/Math-v0 --tasks gsm8k:test.jsonl [--limit N] [--json]
    lumos list envs|tasks|tools

Why the dataclass -> flags mapping is hand-written (`add_dataclass_arguments`, ~40 lines) and not
`tyro` (CleanRL's choice). Tried with tyro 1.0.17 on `EvalCommand`, `DemoConfig` and `ListConfig`:
tyro reads the same field docstrings and produces the same flag names and help text (booleans as
`--x/--no-x`, lists as `nargs='*'`, Literals as choices), so adopting it would gain nothing a user
sees, and it loses three things lumos relies on:

- one-line errors: tyro reports a bad value, an unknown flag or a bad choice in a 5-9 line box
  (rich panel with the argument's help), where lumos prints `usage` plus one `error:` line;
- positional fields: `lumos list tasks`, `lumos models prepare smollm2`, `lumos view PATHS` and
  `lumos rescore FILES` name their positional fields in `COMMANDS`; tyro needs
  `Annotated[..., tyro.conf.Positional]` inside those config classes (so every config module would
  import tyro), and without it `lumos list tasks` is "Unrecognized options: tasks";
- validation errors: tyro builds the config inside `tyro.cli`, so a `__post_init__` ValueError
  (e.g. `lumos improve --agent oracle`) escapes the parser instead of reaching `main`'s one-line
  handler, unless parsing and construction are split again.

It also adds three dependencies (tyro, docstring-parser, typeguard) and prints `{None}|STR`
metavars and `(default: )` for empty lists. Decision: keep the hand-written mapping.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import typing
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class ReplayGoldConfig:
    """Replay every task's gold plan through an env."""

    env: str = "lumos/Math-v0"
    """env id, e.g. lumos/Math-v0"""
    tasks: str | None = None
    """task spec (gsm8k:PATH, svamp:PATH, synthetic:FAMILY, hf:NAME); default: the env's bundled tasks"""
    limit: int | None = None
    """replay only the first N tasks"""
    json: bool = False
    """print one JSON object instead of a text summary"""
    tool_timeout_s: float = 2.0
    """time limit of one bounded tool call, seconds"""
    env_kwargs: str = "{}"
    """more env arguments as a JSON object, e.g. '{"backend": "mariadb"}' for lumos/SQL-v0"""


@dataclass
class ListConfig:
    """List registered envs, task sources, or tools."""

    what: typing.Literal["envs", "tasks", "tools"] = "envs"
    """envs, tasks or tools"""


def add_dataclass_arguments(parser: argparse.ArgumentParser, config_class: type, positional: Sequence[str] = ()) -> None:
    """One flag per dataclass field; its help is the docstring written under the field."""
    hints = typing.get_type_hints(config_class)
    helps = _field_help(config_class)
    for f in dataclasses.fields(config_class):
        hint = hints[f.name]
        name = f.name if f.name in positional else "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"help": _literal_help(helps.get(f.name, ""))}
        if f.name not in positional:
            kwargs["default"] = f.default
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            origin = typing.get_origin(hint)
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if origin is typing.Literal:
                kwargs["choices"] = list(typing.get_args(hint))
            elif origin is list:
                kwargs["nargs"] = "*"
                kwargs["type"] = args[0] if args and args[0] in (int, float, str) else str
                if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                    kwargs["default"] = f.default_factory()  # type: ignore[misc]
            else:
                base = args[0] if args else hint
                if typing.get_origin(base) is typing.Literal:
                    kwargs["choices"] = list(typing.get_args(base))
                else:
                    kwargs["type"] = base if base in (int, float, str) else str
        parser.add_argument(name, **kwargs)


def _literal_help(text: str) -> str:
    """argparse %-formats help strings (`%(default)s`); a docstring's own `%` ("95% constant") is text."""
    return text.replace("%", "%%")


def _field_help(config_class: type) -> dict[str, str]:
    """Field docstrings (the string literal under each field), read from the source."""
    import ast
    import inspect
    import textwrap

    helps: dict[str, str] = {}
    for cls in reversed(config_class.__mro__):  # a subclass's docstrings win over its bases'
        if not dataclasses.is_dataclass(cls):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
                    helps[node.target.id] = following.value.value.strip()
    return helps


def _config_from(args: argparse.Namespace, config_class: type) -> Any:
    return config_class(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)})


def run_replay_gold(config: ReplayGoldConfig) -> int:
    from rollouts.replay import replay_gold

    try:
        env_kwargs = json.loads(config.env_kwargs)
    except ValueError as error:
        raise ValueError(f"--env-kwargs must be a JSON object: {error}") from None
    if not isinstance(env_kwargs, dict):
        raise ValueError("--env-kwargs must be a JSON object")
    result = replay_gold(config.env, config.tasks, config.limit, tool_timeout_s=config.tool_timeout_s, **env_kwargs)
    if config.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{config.env} on {config.tasks or 'bundled tasks'}: {result.successes}/{result.episodes} "
              f"gold plans succeed ({result.success_rate:.1%})")
        for cause, count in result.failures.most_common():
            print(f"  {count:5d}  {cause}")
        for failed in result.failed_tasks[:10]:
            print(f"  e.g. {failed['task_id']}: {failed['cause']} {failed['detail'][:160]}")
    return 0


def run_list(config: ListConfig) -> int:
    import lumos_envs  # noqa: F401
    from lumos_envs.registration import LUMOS_ENVS
    from lumos_envs.tasks.registry import TASK_LOADERS, synthetic_families

    if config.what == "envs":
        for env_id, entry_point in LUMOS_ENVS.items():
            print(f"{env_id:24s} {entry_point}")
    elif config.what == "tasks":
        for entry in TASK_LOADERS.values():
            print(f"{entry.name + ':':12s} [{entry.kind}] {entry.description}")
        for name, info in synthetic_families().items():
            print(f"  synthetic:{name:24s} {info['domain']:6s} {info['split']:8s} {info['description']}")
    else:
        import gymnasium as gym

        for env_id in LUMOS_ENVS:
            env = gym.make(env_id, disable_env_checker=True)
            print(env_id)
            for tool in env.unwrapped.tool_infos:
                print(f"  {tool['interface']}")
            env.close()
    return 0


COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "replay-gold": ("rollouts.cli:ReplayGoldConfig", "rollouts.cli:run_replay_gold", ()),
    "list": ("rollouts.cli:ListConfig", "rollouts.cli:run_list", ("what",)),
    "rollout": ("rollouts.commands:RolloutCommand", "rollouts.commands:run_rollout_command", ()),
    "sft-data": ("rollouts.sft_data:SftDataConfig", "rollouts.commands:run_sft_data_command", ()),
    "eval": ("rollouts.commands:EvalCommand", "rollouts.commands:run_eval_command", ()),
    "improve": ("rollouts.improve:ImproveConfig", "rollouts.improve:run_improve_command", ()),
    "demo": ("rollouts.demo:DemoConfig", "rollouts.demo:run_demo_command", ()),
    "shop-serve": ("rollouts.shop_cli:ShopServeConfig", "rollouts.shop_cli:run_shop_serve", ()),
    "models-prepare": ("rollouts.models_cli:ModelsPrepareConfig", "rollouts.models_cli:run_models_prepare", ("name",)),
    "models-list": ("rollouts.models_cli:ModelsListConfig", "rollouts.models_cli:run_models_list", ()),
    "sql-agreement": ("rollouts.sql_cli:SqlAgreementConfig", "rollouts.sql_cli:run_sql_agreement", ()),
    "mariadb": ("rollouts.sql_cli:MariaDBConfig", "rollouts.sql_cli:run_mariadb", ()),
    "view": ("rollouts.viewer.cli:ViewConfig", "rollouts.viewer.cli:run_view", ("paths",)),
    "grpo": ("rollouts.grpo:GrpoConfig", "rollouts.grpo:run_grpo_command", ()),
    "rescore": ("rollouts.rescore:RescoreConfig", "rollouts.rescore:run_rescore", ("files",)),
}
"""subcommand -> (`module:ConfigClass`, `module:function(config) -> exit code`, positional fields);
imported lazily, so `lumos --help` loads no domain code."""


def _resolve(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


TWO_WORD_COMMANDS: dict[tuple[str, str], str] = {
    ("shop", "serve"): "shop-serve",
    ("models", "prepare"): "models-prepare",
    ("models", "list"): "models-list",
}
"""documented two-word spellings (`lumos shop serve`, `lumos models prepare smollm2`) -> the subcommand they run"""


def make_parser(only: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `lumos` parser; `only` names the subcommands to build (`main` builds just the one it runs,
    so `lumos view` does not import the training stack that other commands' config modules load)."""
    parser = argparse.ArgumentParser(prog="lumos", description="LUMOS agents in Gymnasium environments.")
    sub = parser.add_subparsers(dest="command", required=True)
    # `lumos train` takes TRL's SFTConfig flags (hundreds): TRL's own parser reads them.
    sub.add_parser("train", help="Fine-tune a model on LUMOS SFT records with TRL (lumos train --help).", add_help=False)
    for name, (config_target, _, positional) in COMMANDS.items():
        if only is not None and name not in only:
            continue
        config_class = _resolve(config_target)
        add_dataclass_arguments(sub.add_parser(name, help=_literal_help((config_class.__doc__ or "").strip())), config_class, positional)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if tuple(argv[:2]) in TWO_WORD_COMMANDS:
        argv = [TWO_WORD_COMMANDS[argv[0], argv[1]], *argv[2:]]
    if argv[:1] == ["train"]:  # TRL's own parser reads train's flags, inside the same error handling
        from rollouts.commands import run_train_argv

        command, run = "train", lambda: run_train_argv(argv[1:])
    else:
        args = make_parser(argv[:1] if argv[:1] and argv[0] in COMMANDS else None).parse_args(argv)
        config_target, function_target, _ = COMMANDS[args.command]
        config_class, function = _resolve(config_target), _resolve(function_target)
        command, run = args.command, lambda: function(_config_from(args, config_class))
    from gymnasium.error import Error as GymnasiumError

    from agents.backends.base import BackendError
    from rollouts.store import StoreError

    try:
        return run()
    except (ValueError, TypeError, OSError, KeyError, GymnasiumError, BackendError, StoreError) as error:
        print(f"lumos {command}: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    """A user error as one line (a KeyError's repr quotes, multi-line messages keep their first line)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
