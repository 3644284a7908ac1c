"""HotpotQA-style normalisation, EM, F1 (yes/no rule) and StrategyQA accuracy."""

from __future__ import annotations

import pytest

from lumos_envs.metrics_qa import exact_match, f1_score, normalize_answer, qa_answer_metrics, yes_no_accuracy


def test_normalisation_follows_hotpotqa():
    assert normalize_answer("  The  Corps of Discovery! ") == "corps of discovery"
    assert normalize_answer("An apple, a pear") == "apple pear"


@pytest.mark.parametrize("prediction, gold, em", [
    ("the Lawson", "Lawson", 1.0), ("75,000", "75000", 1.0), ("Lawson band", "Lawson", 0.0),
    ("True", "yes", 1.0), ("False", "yes", 0.0), ("no", "no", 1.0),
])
def test_exact_match(prediction, gold, em):
    assert exact_match(prediction, gold) == em


def test_f1_partial_overlap_and_yes_no_rule():
    assert f1_score("Oklahoma Sooners", "Oklahoma Sooners men's basketball") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1_score("yes it is", "yes") == 0.0  # HotpotQA: yes/no must match exactly
    assert f1_score("no", "Lawson") == 0.0
    assert f1_score("", "Lawson") == 0.0


def test_strategyqa_accuracy_and_metric_parts():
    assert yes_no_accuracy("True", "yes") == 1.0 and yes_no_accuracy("maybe", "no") == 0.0
    metrics = qa_answer_metrics("False.", "no")
    assert metrics == {"em": 1.0, "f1": 1.0, "accuracy": 1.0}
    assert qa_answer_metrics("1827", "1827")["accuracy"] == 1.0
