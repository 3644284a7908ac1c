"""The SQL env's metrics: InterCode-SQL's execution reward, exactly, and lumos's variant of it.

Both compare the rows an agent submits with the rows of the gold query (run on the same
back-end), each row stringified, as multisets.

- `intercode_reward` is InterCode's `get_reward` (`intercode/envs/sql/sql_env.py`,
  princeton-nlp/intercode), so numbers on `spider:` tasks compare with published ones: the
  reward is 1 when both results are empty; otherwise the intersection over union of the two
  multisets (counts taken as min and max); then, when the intersection is not empty, it is
  multiplied by `scipy.stats.kendalltau` (tau-b, `nan_policy="omit"`) of the two lists of shared
  rows in the order each result gives them, and rounded to 2 decimals. A NaN tau (one shared
  row, or a list whose rows are all equal) leaves the IoU unscaled and unrounded. The tau is
  computed on every query, ORDER BY or not, and is not clamped: a reversed order scores -1.
  Note that `kendalltau` ranks the row *strings* (lexicographically), pairing the i-th shared
  row of one list with the i-th of the other, as InterCode calls it.
- `lumos_reward` (lumos's variant): the same IoU, scaled by the Kendall tau of the shared rows'
  *positions* only when the gold query has a top-level `ORDER BY`, clamped to [0, 1].

Rows are normalised by the back-end first (`lumos_envs.sql.results`), so `20.3333` from MariaDB
and `20.333333...` from SQLite agree; InterCode stringifies mysql-connector's Python values
(`Decimal('20.3333')`), which can rank a few number strings differently in the tau.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections import Counter
from typing import Literal, Sequence

from lumos_envs.sql.lexer import SqlLexError, significant, tokenize

SqlRewardName = Literal["intercode", "lumos"]
SQL_REWARDS: tuple[SqlRewardName, ...] = ("intercode", "lumos")
INTERCODE_DECIMALS = 2
"""InterCode rounds the order-scaled reward to 2 decimals"""


def sql_reward(name: SqlRewardName, agent_rows: Sequence[tuple], gold_rows: Sequence[tuple], *, gold_sql: str) -> dict[str, float]:
    """`{"reward", "iou", "order"}` of the named reward (`order`: the factor applied to the IoU)."""
    if name == "intercode":
        return intercode_reward(agent_rows, gold_rows)
    if name == "lumos":
        return lumos_reward(agent_rows, gold_rows, ordered=is_ordered_query(gold_sql))
    raise ValueError(f"SQL reward must be one of {', '.join(SQL_REWARDS)}, got {name!r}")


def intercode_reward(agent_rows: Sequence[tuple], gold_rows: Sequence[tuple]) -> dict[str, float]:
    """InterCode-SQL's reward, exactly (see the module docstring)."""
    agent = [str(tuple(r)) for r in agent_rows]
    gold = [str(tuple(r)) for r in gold_rows]
    overlap = _multiset_overlap(agent, gold)
    if overlap is None:
        return {"reward": 1.0, "iou": 1.0, "order": 1.0}
    intersection, iou = overlap
    reward, order = iou, 1.0
    if intersection:
        tau = _scipy_kendall_tau(_shared_sequence(agent, intersection), _shared_sequence(gold, intersection))
        if not math.isnan(tau):
            order = tau
            reward = round(tau * iou, INTERCODE_DECIMALS)
    return {"reward": float(reward), "iou": iou, "order": order}


def lumos_reward(agent_rows: Sequence[tuple], gold_rows: Sequence[tuple], *, ordered: bool) -> dict[str, float]:
    """lumos's variant: IoU, times the positional Kendall tau only when `ordered`, in [0, 1]."""
    agent = [repr(tuple(r)) for r in agent_rows]
    gold = [repr(tuple(r)) for r in gold_rows]
    overlap = _multiset_overlap(agent, gold)
    if overlap is None:
        return {"reward": 1.0, "iou": 1.0, "order": 1.0}
    intersection, iou = overlap
    order = 1.0
    if ordered and sum(intersection.values()) > 1:
        order = kendall_tau(_shared_sequence(agent, intersection), _shared_sequence(gold, intersection))
    reward = max(0.0, min(1.0, iou * order))
    return {"reward": reward, "iou": iou, "order": order}


def _multiset_overlap(agent: Sequence[str], gold: Sequence[str]) -> tuple[Counter, float] | None:
    """The rows both results hold (as a multiset) and their IoU; None when both are empty."""
    agent_counts, gold_counts = Counter(agent), Counter(gold)
    total_union = sum((agent_counts | gold_counts).values())
    if total_union == 0:
        return None
    intersection = agent_counts & gold_counts
    return intersection, sum(intersection.values()) / total_union


def kendall_tau(first: Sequence[str], second: Sequence[str]) -> float:
    """Kendall's tau-a between two orderings of the same multiset of items (duplicates matched
    in order of appearance); 1.0 for identical orders, -1.0 for reversed ones."""
    positions: dict[str, list[int]] = {}
    for index, item in enumerate(second):
        positions.setdefault(item, []).append(index)
    for stack in positions.values():
        stack.reverse()
    ranks = [positions[item].pop() for item in first]
    n = len(ranks)
    if n < 2:
        return 1.0
    pairs = n * (n - 1) / 2
    discordant = _inversions(ranks)
    return (pairs - 2 * discordant) / pairs


def is_ordered_query(sql: str) -> bool:
    """Whether the query has an `ORDER BY` outside parentheses (its result order is asked for)."""
    try:
        tokens = significant(tokenize(sql))
    except SqlLexError:
        return False
    depth = 0
    for token, following in zip(tokens, tokens[1:]):
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and token.upper == "ORDER" and following.upper == "BY":
            return True
    return False


def _scipy_kendall_tau(first: list[str], second: list[str]) -> float:
    """`scipy.stats.kendalltau(first, second, nan_policy="omit").statistic`, as InterCode calls it;
    NaN for fewer than two rows (scipy's answer too, without its small-sample warning)."""
    if len(first) < 2:
        return math.nan
    from scipy.stats import kendalltau  # imported here: scipy is slow to import and only scoring needs it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, handled by the caller as InterCode does
        return float(kendalltau(first, second, nan_policy="omit").statistic)


def _inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j] (merge sort, O(n log n): results can be long)."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    for value in right:
        count += len(left) - bisect.bisect_right(left, value)
    return count


def _shared_sequence(items: list[str], intersection: Counter) -> list[str]:
    """The items that are in the intersection, in order, each at most its shared count times
    (InterCode's `get_intersect_items`)."""
    remaining = Counter(intersection)
    out = []
    for item in items:
        if remaining[item] > 0:
            remaining[item] -= 1
            out.append(item)
    return out
