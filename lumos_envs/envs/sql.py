"""InterCode-SQL tasks answered with raw SQL actions, on SQLite or MariaDB. Registered as `lumos/SQL-v0`."""

from __future__ import annotations

import os
from typing import Any, Literal, Sequence, get_args

from lumos_envs.domains import Domain
from lumos_envs.envs.base import LumosEnv, TaskArgument
from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, tool
from lumos_envs.metrics_sql import SQL_REWARDS, SqlRewardName, sql_reward
from lumos_envs.sql.backends import BACKENDS, SqlDatabase, open_database
from lumos_envs.sql.catalog import DumpSource
from lumos_envs.sql.results import Row, normalize_value
from lumos_envs.sql.statements import check_statement
from lumos_envs.tasks.base import Task
from lumos_envs.tasks.sql_tasks import task_metadata

SQL_INTERFACE = "SQL(statement): Execute a read-only SQL statement (SHOW TABLES, DESCRIBE table, SELECT ...) on the task's database"
"""LUMOS writes SQL actions as raw statements (`R1 = SHOW TABLES`) and defines no interface string
for them; this is lumos's wording for the tool they parse to."""


RewardChoice = Literal["auto", "intercode", "lumos"]
"""`reward=` of `SqlEnv`: a reward of `metrics_sql.SQL_REWARDS`, or `auto` (InterCode's on Spider tasks)"""


class SqlEnv(LumosEnv):
    """
    ## Description
    InterCode-SQL (the unseen SQL task of LUMOS): answer a natural-language question about a
    database by running SQL. Tasks come from InterCode-SQL task files on the Spider dev
    databases (`spider:PATH`) or from the bundled generated `lumos_shop` database (default).
    The database runs on embedded SQLite (default, built from the MySQL dump and cached) or on a
    real MariaDB server (`backend="mariadb"`).

    ## Action Space
    `UnicodeText(0, 20000)`: raw SQL statements bound to variables, as LUMOS writes them for
    SQL, joined by `; `: `R1 = SHOW TABLES`, `R2 = DESCRIBE airlines`,
    `R3 = SELECT Airline FROM airlines WHERE Abbreviation = "UAL"`; the final action
    `Answer(R3)` submits the rows of `R3`. Only read-only statements run, checked on sqlglot's
    parse tree (`lumos_envs.sql.statements`): SELECT (also WITH ... SELECT and UNION), SHOW
    TABLES, DESCRIBE/DESC/EXPLAIN t, SHOW COLUMNS FROM t, and EXPLAIN SELECT ...; writes, DDL,
    several statements, `INTO OUTFILE`, locking reads and SLEEP-like functions are refused.

    ## Observation Space
    `UnicodeText(0, 200000)`: the question on reset; then each statement's rows as a list of
    tuples with the row count, at most `max_rows_shown` rows of a query (`[('Delta',)] (1 row)`,
    or `[...] (57 rows, first 20 shown)`), or an error message (a refused write, a syntax error,
    the time limit). SHOW TABLES and DESCRIBE show every row (InterCode shows whole results),
    within `max_output_chars`, so an observer sees every name a query may use: the widest
    Spider table (`wta_1.qualifying_matches`, 50 columns) describes in 2,253 characters.

    ## Rewards
    0 on every step but the last. On `Answer(...)`, the submitted rows against the gold query's
    rows (run on the same back-end), by the `reward` argument (`lumos_envs.metrics_sql`):

    - `"intercode"`: InterCode-SQL's `get_reward` exactly: the multiset intersection over union,
      times the Kendall tau (scipy's tau-b) of the shared rows on every query, rounded to 2
      decimals; it can be negative (a reversed order scores -1). The default for `spider:`
      tasks, so numbers compare with published InterCode results.
    - `"lumos"`: the same IoU, times the Kendall tau of the shared rows' positions only when the
      gold query has a top-level ORDER BY, clamped to [0, 1]. The default for the bundled
      `synthetic:` families (a reward in [0, 1] for training).

    `info["metrics"]` holds `reward`, `iou`, `order` of the chosen reward and both
    `reward_intercode` and `reward_lumos`. Success is reward 1. Truncation gives 0.

    Literal answers: the answer counts as rows only when it is a query result of this episode
    (`Answer(R3)`, or the text a query printed). A literal such as `Answer(42)` scores 0 unless
    the env is made with `literal_answers=True`, which reads it as one one-value row (`(42,)`):
    InterCode scores the result of the agent's last query, so a typed-in answer is not one.

    ## Starting State
    Task `options["task_index"]` or `options["task_id"]`; otherwise one drawn with the reset seed.
    The database is the same read-only database for every episode (nothing an agent runs can
    change it).

    ## Episode End
    Terminates when `Answer(...)` runs; truncates after `max_steps` steps (invalid actions count).

    ## Info
    The common keys of `LumosEnv` (`task`, `tools`, `final_action`, `results`, `last_result`,
    `variables`, `invalid_action`, `last_error`, `step`; at the end `metrics` with `reward`,
    `iou`, `order`, and `success`, `answer`; `gold` with `reveal_gold=True`), plus `db` (the
    task's database name) and `backend`.

    ## Arguments
    `tasks` (task source, list of `Task`, or spec: `spider:PATH[?dump=PATH]`,
    `synthetic:sql_train` (default), `synthetic:sql_heldout`), `backend` (`"sqlite"` or
    `"mariadb"`; default `$LUMOS_SQL_BACKEND` or `"sqlite"`), `mariadb_dir` (folder of a server
    started by `lumos mariadb start`; default `$LUMOS_MARIADB_DIR`), `max_rows_shown=20`,
    `reward` (`"auto"`, `"intercode"` or `"lumos"`; `"auto"`: InterCode's on `spider` tasks,
    lumos's on the others), `literal_answers=False`, `max_steps=20`, `tool_timeout_s=2.0` (time
    limit of one statement), `max_output_chars=4000` (higher than other envs' 2000: see the
    Observation Space), `reveal_gold=False`.

    ## Version History
    - v0: initial version; `spider:` tasks score with InterCode's exact reward, literal answers
      score 0 by default, statements are checked on the parse tree (issue 20).
    """

    domain = Domain.SQL
    default_tasks = "synthetic:sql_train"
    headline_metric = "reward"

    def __init__(
        self,
        tasks: TaskArgument = None,
        *,
        backend: str | None = None,
        mariadb_dir: str | None = None,
        max_rows_shown: int = 20,
        reward: RewardChoice = "auto",
        literal_answers: bool = False,
        **kwargs: Any,
    ) -> None:
        if reward not in get_args(RewardChoice):
            raise ValueError(f"reward must be one of {', '.join(get_args(RewardChoice))}, got {reward!r}")
        self.reward = reward
        self.literal_answers = bool(literal_answers)
        self.backend = backend or os.environ.get("LUMOS_SQL_BACKEND") or "sqlite"
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if max_rows_shown < 1:
            raise ValueError(f"max_rows_shown must be >= 1, got {max_rows_shown}")
        self.mariadb_dir = mariadb_dir or os.environ.get("LUMOS_MARIADB_DIR")
        self.max_rows_shown = max_rows_shown
        self.statement_timeout_s = float(kwargs.get("tool_timeout_s", 2.0))
        kwargs.setdefault("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS)
        self._output_limit = int(kwargs["max_output_chars"])
        self._databases: dict[tuple[str, str], SqlDatabase] = {}
        self._rows_by_text: dict[str, tuple[Row, ...]] = {}
        self._gold_rows: dict[str, tuple[Row, ...] | str] = {}
        super().__init__(tasks, **kwargs)

    def make_tools(self) -> Sequence[Tool]:
        env = self

        @tool(name="SQL", interface=SQL_INTERFACE)
        def sql(statement: str) -> str:
            """Run one read-only statement on the task's database; returns its rows as text."""
            checked = check_statement(statement)
            result = env._database().execute(checked)
            text = env._render(result, schema=checked.kind in SCHEMA_KINDS)
            env._rows_by_text[text] = result.rows
            return text

        return [sql]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        self._rows_by_text = {}
        return super().reset(seed=seed, options=options)

    def reward_for(self, task: Task) -> SqlRewardName:
        """The reward a task is scored with (`reward="auto"`: InterCode's on Spider tasks)."""
        if self.reward != "auto":
            return self.reward
        return "intercode" if task.source == "spider" else "lumos"

    def score(self, answer: str, task: Task) -> dict[str, float]:
        zero = {"reward": 0.0, "iou": 0.0, "order": 0.0, "reward_intercode": 0.0, "reward_lumos": 0.0}
        rows = self._rows_by_text.get(answer)
        if rows is None:  # a literal answer (`Answer(42)`), not a query result
            if not self.literal_answers:
                return {**zero, "literal_answer": 1.0}
            rows = (_text_row(answer),)
        gold = self._gold(task)
        if isinstance(gold, str):
            return {**zero, "gold_error": 1.0}
        name = self.reward_for(task)
        gold_sql = task_metadata(task)["gold_sql"]
        best = self._both_rewards(rows, gold, gold_sql, name)
        if best["reward"] < 1.0 and self.backend == "mariadb":
            # MariaDB breaks ties under ORDER BY ... LIMIT differently from run to run (its
            # temporary tables), so a gold query can have several valid outcomes: the answer
            # scores against the best of a few fresh runs of the gold query.
            for _ in range(GOLD_RERUNS_ON_MISMATCH):
                try:
                    again = self._database(task).run(gold_sql).rows
                except ToolError:
                    break
                candidate = self._both_rewards(rows, again, gold_sql, name)
                if candidate["reward"] > best["reward"]:
                    best = candidate
                if best["reward"] >= 1.0:
                    break
        return best

    def close(self) -> None:
        for database in self._databases.values():
            database.close()
        self._databases = {}
        super().close()

    def _info(self, outcome: Any) -> dict[str, Any]:
        info = super()._info(outcome)
        info["db"] = self._task.metadata.get("db") if self._task is not None else None
        info["backend"] = self.backend
        return info

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _both_rewards(rows: Sequence[Row], gold: Sequence[Row], gold_sql: str, name: SqlRewardName) -> dict[str, float]:
        """The chosen reward's parts plus both rewards' values (reports can show either)."""
        both = {other: sql_reward(other, rows, gold, gold_sql=gold_sql) for other in SQL_REWARDS}
        metrics = dict(both[name])
        metrics.update({f"reward_{other}": both[other]["reward"] for other in SQL_REWARDS})
        return metrics

    def _database(self, task: Task | None = None) -> SqlDatabase:
        task = task or self._task
        if task is None:
            raise ToolError("no task: call reset() first")
        meta = task_metadata(task)
        key = (meta["dump"], meta["db"])
        if key not in self._databases:
            self._databases[key] = open_database(
                self.backend, DumpSource(meta["dump"]), meta["db"], timeout_s=self.statement_timeout_s, mariadb_dir=self.mariadb_dir
            )
        return self._databases[key]

    def _gold(self, task: Task) -> tuple[Row, ...] | str:
        if task.id not in self._gold_rows:
            try:
                self._gold_rows[task.id] = self._database(task).run(task_metadata(task)["gold_sql"]).rows
            except ToolError as error:
                self._gold_rows[task.id] = f"gold query failed: {error}"
        return self._gold_rows[task.id]

    def _render(self, result: Any, *, schema: bool = False) -> str:
        """Rows as text that fits the executor's output cap (so `Answer(Rk)` finds the rows);
        schema statements (`schema=True`) are not cut to `max_rows_shown`."""
        shown = max(len(result.rows), 1) if schema else self.max_rows_shown
        text = result.render(shown)
        while len(text) > self._output_limit and shown > 1:
            shown //= 2
            text = result.render(shown)
        if len(text) > self._output_limit:
            note = f" ... ({len(result.rows)} rows, cut)"
            text = text[: self._output_limit - len(note)] + note
        return text


DEFAULT_MAX_OUTPUT_CHARS = 4000
"""SQL's default output cap: room for the widest Spider DESCRIBE (2,253 characters)"""
SCHEMA_KINDS = ("show_tables", "describe")
"""statement kinds shown in full (every table and column name an observer may need)"""

GOLD_RERUNS_ON_MISMATCH = 4
"""fresh runs of a nondeterministic gold query an answer may match (MariaDB back-end)"""


def _text_row(answer: str) -> Row:
    text = answer.strip()
    try:
        number = float(text)
    except ValueError:
        return (text,)
    return (normalize_value(number),)
