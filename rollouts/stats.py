"""The statistics evaluation reports carry: intervals, pass@k, and the paired test of two runs.

- `wilson_interval`: the Wilson score interval of a success rate (Wilson 1927), which stays
  inside [0, 1] and keeps its coverage for the small suites (12-50 episodes) lumos evaluates on,
  where the normal approximation does not; computed by `scipy.stats.binomtest(...).proportion_ci`.
- `bootstrap_interval`: a seeded percentile bootstrap of a mean (`scipy.stats.bootstrap`), for
  rewards in [0, 1] that are not successes (WebShop's attribute reward, SQL's IoU) and for means
  over tasks (pass@k, mean@k).
- `pass_at_k`: the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models
  Trained on Code", eq. 1): with `n` samples of which `c` succeed, `1 - C(n-c, k) / C(n, k)`,
  computed as a product so that large `n` does not overflow.
- `mcnemar_exact`: McNemar's exact test on paired successes: under "no difference" the pairs
  that disagree split 50/50, so the two-sided p-value is a binomial test of the `b` pairs only the
  first run solved among the `b + c` discordant ones (`scipy.stats.binomtest`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
"""the level of every interval lumos reports"""
BOOTSTRAP_RESAMPLES = 2000
"""resamples of each bootstrap interval"""


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of `successes / trials`; None when there are no trials.

    Raises:
        ValueError: for counts outside 0 <= successes <= trials.
    """
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return None
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def bootstrap_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """A percentile bootstrap interval of the mean of `values` (seeded, so reports are
    reproducible); None for fewer than two values, where resampling says nothing."""
    data = np.asarray(list(values), dtype=float)
    if data.size < 2:
        return None
    if np.all(data == data[0]):  # every resample has the same mean; scipy would warn about a degenerate sample
        return float(data[0]), float(data[0])
    result = stats.bootstrap((data,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                             vectorized=True, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one task with `n` samples, `c` of them successful (Chen et al. 2021).

    Raises:
        ValueError: unless 0 <= c <= n and 1 <= k <= n.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def ks_for(samples: int) -> list[int]:
    """The k of pass@k a report shows for `samples` attempts per task: 1, powers of 2, and `samples`."""
    ks = {1, samples}
    k = 2
    while k < samples:
        ks.add(k)
        k *= 2
    return sorted(ks)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (1.0 when there are none)."""
    if only_first < 0 or only_second < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_first}, {only_second}")
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    return float(min(1.0, stats.binomtest(int(only_first), int(discordant), 0.5).pvalue))
