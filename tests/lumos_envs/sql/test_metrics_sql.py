"""The SQL rewards: InterCode's formula with values worked out by hand, and lumos's variant."""

from __future__ import annotations

import pytest

from lumos_envs.metrics_sql import intercode_reward, is_ordered_query, kendall_tau, lumos_reward, sql_reward

# InterCode: reward = IoU of the row multisets; if the intersection is non-empty, times
# tau-b(shared agent rows, shared gold rows) where each list is ranked by its row *strings*
# and the i-th rows are paired, rounded to 2 decimals; a NaN tau leaves the IoU as it is.
# tau-b = (P - Q) / sqrt((P + Q + Tx) * (P + Q + Ty)) over the pairs of positions i < j
# (P concordant, Q discordant, Tx tied only in x, Ty tied only in y).
INTERCODE_CASES = [
    # same rows, same order: 3 pairs, all concordant -> tau 1; IoU 1
    ([(1,), (2,), (3,)], [(1,), (2,), (3,)], 1.0),
    # gold has ORDER BY x ASC, the agent wrote DESC: x ranks (3, 2, 1) vs (1, 2, 3), 3 discordant
    # pairs -> tau -1; IoU 1 -> -1.0 (InterCode does not clamp)
    ([(3,), (2,), (1,)], [(1,), (2,), (3,)], -1.0),
    # ties (a duplicated row): x = (1, 1, 2), y = (1, 2, 1); pair (0,1) tied in x only, pair (0,2)
    # tied in y only, pair (1,2) discordant: P=0, Q=1, Tx=1, Ty=1 -> -1/sqrt(2*2) = -0.5; IoU 1
    ([(1,), (1,), (2,)], [(1,), (2,), (1,)], -0.5),
    # one extra agent row: IoU 3/4; shared agent (a, b, c) vs gold (b, a, c): pair (0,1)
    # discordant, (0,2) and (1,2) concordant -> tau 1/3; 0.75 * 1/3 = 0.25
    ([("a",), ("b",), ("c",), ("x",)], [("b",), ("a",), ("c",)], 0.25),
    # InterCode pairs the i-th rows, it does not compare positions: x = (1, 2, 4, 3),
    # y = (1, 3, 4, 2); of the 6 pairs only (1,3) is discordant (2<3 but 3>2): tau 4/6 -> 0.67
    # (a positional tau would give 0.0 here)
    ([(1,), (2,), (4,), (3,)], [(1,), (3,), (4,), (2,)], 0.67),
    # a query without ORDER BY counts its order too: ('Bob', 30) before ('Ann', 25) against
    # the gold's ('Ann', 25), ('Bob', 30): 1 discordant pair -> tau -1; IoU 1
    ([("Bob", 30), ("Ann", 25)], [("Ann", 25), ("Bob", 30)], -1.0),
    # one shared row: tau is NaN, the IoU 1/3 stays unscaled and UNROUNDED
    ([("a",), ("b",), ("c",)], [("a",)], 1 / 3),
    # all shared rows equal (x constant): tau NaN -> IoU 2/3, unrounded
    ([("a",), ("a",)], [("a",), ("a",), ("a",)], 2 / 3),
    # two tied groups in both lists, same order: x = y = (a, a, b, b): pairs (0,1) and (2,3)
    # tied in both (not counted), the 4 others concordant -> 4/sqrt(4*4) = 1.0; IoU 1
    ([("a",), ("a",), ("b",), ("b",)], [("a",), ("a",), ("b",), ("b",)], 1.0),
    # ties and a partial overlap: agent (a, b, a, z, y), gold (a, a, b): IoU 3/5; shared agent
    # (a, b, a) vs gold (a, a, b): (0,1) x a<b, y a=a -> Ty; (0,2) x a=a, y a<b -> Tx;
    # (1,2) x b>a, y a<b -> Q: -1/sqrt(2*2) = -0.5; 0.6 * -0.5 = -0.3
    ([("a",), ("b",), ("a",), ("z",), ("y",)], [("a",), ("a",), ("b",)], -0.3),
    # nothing shared: IoU 0, no tau
    ([("x",)], [("a",)], 0.0),
    # both empty: 1; agent empty only: 0
    ([], [], 1.0),
    ([], [("a",)], 0.0),
]


@pytest.mark.parametrize("agent, gold, expected", INTERCODE_CASES)
def test_intercode_reward_matches_the_formula_by_hand(agent, gold, expected):
    assert intercode_reward(agent, gold)["reward"] == pytest.approx(expected, abs=1e-12)


def test_intercode_rounds_only_when_tau_scales():
    # 2 of 3 rows shared in order: tau 1, IoU 2/3 -> round(0.6667, 2)
    assert intercode_reward([("a",), ("b",)], [("a",), ("b",), ("c",)])["reward"] == 0.67
    assert sql_reward("intercode", [(1,)], [(1,)], gold_sql="SELECT 1")["reward"] == 1.0
    with pytest.raises(ValueError, match="intercode, lumos"):
        sql_reward("exact", [], [], gold_sql="SELECT 1")  # type: ignore[arg-type]


def test_lumos_reward_iou_and_order_only_when_asked():
    assert lumos_reward([(1, "a"), (2, "b")], [(1, "a"), (2, "b")], ordered=False)["reward"] == 1.0
    assert lumos_reward([], [], ordered=True)["reward"] == 1.0
    assert lumos_reward([("a",), ("a",)], [("a",), ("b",)], ordered=False)["iou"] == pytest.approx(1 / 3)
    assert lumos_reward([("x",)], [("a",)], ordered=False)["reward"] == 0.0
    rows = [(1,), (2,), (3,)]
    reversed_rows = list(reversed(rows))
    assert lumos_reward(reversed_rows, rows, ordered=False)["reward"] == 1.0
    assert lumos_reward(reversed_rows, rows, ordered=True)["reward"] == 0.0  # tau -1, clamped
    partly = lumos_reward([(1,), (3,), (2,)], rows, ordered=True)
    assert 0.0 < partly["reward"] < 1.0
    assert sql_reward("lumos", reversed_rows, rows, gold_sql="SELECT a FROM t ORDER BY a")["reward"] == 0.0


def test_kendall_tau_and_ordered_query_detection():
    assert kendall_tau(list("abcd"), list("abcd")) == 1.0
    assert kendall_tau(list("abcd"), list("dcba")) == -1.0
    assert kendall_tau(list(range(3000)), list(range(3000))) == 1.0  # long results stay fast
    assert is_ordered_query("SELECT a FROM t ORDER BY a DESC LIMIT 3")
    assert not is_ordered_query("SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 1)")
    assert not is_ordered_query("SELECT 'ORDER BY' FROM t")
