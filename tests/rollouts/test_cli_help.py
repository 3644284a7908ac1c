"""Every `lumos` subcommand's `--help` prints its usage and exits 0 (in-process: one parser walk, no subprocesses),
and the README's command table names every subcommand."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rollouts.cli import COMMANDS, TWO_WORD_COMMANDS, add_dataclass_arguments, main, make_parser


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every subcommand of `parser`, nested ones included, as the words that name it."""
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths += [(*prefix, name), *_command_paths(child, (*prefix, name))]
    return paths


def test_every_subcommand_help_exits_0(capsys):
    paths = [(), *_command_paths(make_parser()), *TWO_WORD_COMMANDS]  # () is `lumos --help`
    assert {p[0] for p in paths if p} >= set(COMMANDS) | {"train"}, "the walk found every subcommand"
    failed = {}
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            main([*path, "--help"])
        out = capsys.readouterr().out
        if exit_info.value.code != 0 or "usage:" not in out:
            failed[" ".join(path)] = exit_info.value.code
    assert not failed, f"`lumos ... --help` failed for {failed}"


@dataclass
class _PercentConfig:
    """Keep 50% of the rows."""

    share: float = 0.5
    """fraction kept (0.5 is 50%, not %(default)s)"""


def test_a_percent_in_a_docstring_is_shown_as_text():
    parser = argparse.ArgumentParser(prog="lumos")
    add_dataclass_arguments(parser, _PercentConfig)
    assert "fraction kept (0.5 is 50%, not %(default)s)" in " ".join(parser.format_help().split())


def test_the_readme_command_table_names_every_subcommand():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    named = set()
    for row in section.splitlines():
        if row.startswith("| `lumos"):
            for first, second in re.findall(r"`lumos ([a-z-]+)(?: ([a-z-]+))?", row.split(" | ", 1)[0]):
                named.add(TWO_WORD_COMMANDS.get((first, second), first))
    missing = (set(COMMANDS) | {"train"}) - named
    assert not missing, f"README.md's command table lacks lumos {', '.join(sorted(missing))}"
