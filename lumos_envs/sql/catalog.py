"""Where a task's database comes from: a MySQL dump file, or a dump lumos generates itself.

Tasks name their dump in `metadata["dump"]` as `file:/abs/path/to/dump.sql` or
`synthetic:NAME` (a bundled generated database, so the env works without the Spider files), and
their database in `metadata["db"]`. Both back-ends load databases from the same parsed dump.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lumos_envs.cache import content_key, shared_state
from lumos_envs.sql.dump import DUMP_PARSER_VERSION, Dump, parse_dump
from lumos_envs.sql.shop import synthetic_dump_text


@dataclass(frozen=True)
class DumpSource:
    """A dump named by a task: `file:PATH` or `synthetic:NAME`."""

    spec: str

    def __post_init__(self) -> None:
        kind, sep, rest = self.spec.partition(":")
        if not sep or not rest or kind not in ("file", "synthetic"):
            raise ValueError(f"dump spec must be file:PATH or synthetic:NAME, got {self.spec!r}")

    @property
    def kind(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def location(self) -> str:
        return self.spec.partition(":")[2]

    def text(self) -> str:
        """The dump's SQL text."""
        if self.kind == "file":
            return Path(self.location).read_text(encoding="utf-8")
        return synthetic_dump_text(self.location)

    def key(self) -> str:
        """Content hash of the dump plus the parser version (keys every cache built from it)."""
        return shared_state("sql_dump_key", self.spec, lambda: content_key(self.text(), version=DUMP_PARSER_VERSION))

    def parse(self) -> Dump:
        """The parsed dump, once per process and content."""
        key = self.key()  # resolved before shared_state, whose lock does not nest
        return shared_state("sql_dump", key, lambda: parse_dump(self.text(), source=self.spec))


def file_dump_spec(path: str | Path) -> str:
    """The dump spec of a file (absolute path)."""
    return f"file:{Path(path).resolve()}"
