"""InterCode's execution reward: multiset IoU, order scaling for ordered queries."""

from __future__ import annotations

import pytest

from lumos_envs.metrics_sql import intercode_reward, is_ordered_query, kendall_tau


def test_identical_rows_give_one_and_empty_results_agree():
    assert intercode_reward([(1, "a"), (2, "b")], [(1, "a"), (2, "b")], ordered=False)["reward"] == 1.0
    assert intercode_reward([], [], ordered=True)["reward"] == 1.0


def test_multiset_iou_counts_duplicates():
    # intersection {a:1} = 1, union {a:2, b:1} = 3
    assert intercode_reward([("a",), ("a",)], [("a",), ("b",)], ordered=False)["iou"] == pytest.approx(1 / 3)
    assert intercode_reward([("x",)], [("a",)], ordered=False)["reward"] == 0.0


def test_order_scales_only_ordered_queries():
    rows, reversed_rows = [(1,), (2,), (3,)], [(3,), (2,), (1,)]
    assert intercode_reward(reversed_rows, rows, ordered=False)["reward"] == 1.0
    assert intercode_reward(reversed_rows, rows, ordered=True)["reward"] == 0.0  # tau -1, clamped
    partly = intercode_reward([(1,), (3,), (2,)], rows, ordered=True)
    assert partly["order"] == pytest.approx(1 / 3) and partly["reward"] == pytest.approx(1 / 3)


def test_kendall_tau_and_ordered_query_detection():
    assert kendall_tau(list("abcd"), list("abcd")) == 1.0
    assert kendall_tau(list("abcd"), list("dcba")) == -1.0
    assert kendall_tau(list(range(3000)), list(range(3000))) == 1.0  # long results stay fast
    assert is_ordered_query("SELECT a FROM t ORDER BY a DESC LIMIT 3")
    assert not is_ordered_query("SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 1)")
    assert not is_ordered_query("SELECT 'ORDER BY' FROM t")
