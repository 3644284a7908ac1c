"""The SQL env's metric: InterCode-SQL's execution-based reward.

As in InterCode (`intercode/envs/sql/sql_env.py`, `get_reward`): rows are compared as a
multiset (each row stringified); the reward is the intersection over union of the two
multisets (`|A ∩ B| / |A ∪ B|`, counts taken as min and max), 1.0 when both are empty. For a gold
query whose result order matters (a top-level `ORDER BY`), the reward is then scaled by the
Kendall tau between the orders in which the shared rows appear in the two results (InterCode
scales for every query; lumos only where order is asked for, and clamps the product at 0; the
issue's definition). `success` is reward 1. Rows are normalised by the back-end first
(`lumos_envs.sql.results`), so `20.3333` from MariaDB and `20.333333...` from SQLite agree.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from lumos_envs.sql.lexer import SqlLexError, significant, tokenize


def intercode_reward(agent_rows: Sequence[tuple], gold_rows: Sequence[tuple], *, ordered: bool) -> dict[str, float]:
    """`{"reward", "iou", "order"}` for an agent's rows against the gold rows."""
    agent = [repr(tuple(r)) for r in agent_rows]
    gold = [repr(tuple(r)) for r in gold_rows]
    agent_counts, gold_counts = Counter(agent), Counter(gold)
    intersection = agent_counts & gold_counts
    union = agent_counts | gold_counts
    total_union = sum(union.values())
    if total_union == 0:
        return {"reward": 1.0, "iou": 1.0, "order": 1.0}
    iou = sum(intersection.values()) / total_union
    order = 1.0
    if ordered and sum(intersection.values()) > 1:
        order = kendall_tau(_shared_sequence(agent, intersection), _shared_sequence(gold, intersection))
    reward = max(0.0, min(1.0, iou * order))
    return {"reward": reward, "iou": iou, "order": order}


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


def _inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j] (merge sort, O(n log n): results can be long)."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    import bisect

    for value in right:
        count += len(left) - bisect.bisect_right(left, value)
    return count


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


def _shared_sequence(items: list[str], intersection: Counter) -> list[str]:
    remaining = Counter(intersection)
    out = []
    for item in items:
        if remaining[item] > 0:
            remaining[item] -= 1
            out.append(item)
    return out
