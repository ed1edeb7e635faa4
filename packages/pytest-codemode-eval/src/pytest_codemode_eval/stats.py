"""The statistics behind every decision: intervals, the three-way decision, paired tests, pass^k.

Plain Python on purpose (no numpy): the plugin must judge a run on a machine that only has
pytest, and every number here is checked against hand-computed golden values.

- Wilson score interval, on fractional successes (mean score x n cases): unlike the normal
  approximation it does not collapse to zero width at 3/3, which is exactly the case our users
  misread as a verdict.
- Exact two-sided McNemar (binomial on the discordant pairs) and the exact sign test on every
  changed score, plus a seeded paired bootstrap of the mean difference.
- pass^k (tau-bench: every one of k draws succeeds) and pass@k (at least one does), both unbiased
  estimates from c successes in n repeats.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal

Z95 = 1.959963984540054  # two-sided 95 %
Decision = Literal["pass", "fail", "inconclusive"]
_TOLERANCE = 1e-9  # so 3/3 against a 100 % target is not decided by the last float bit


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval for `successes` out of `n` (successes may be fractional)."""
    if n <= 0:
        return (0.0, 1.0)
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def decide(interval: tuple[float, float], target: float) -> Decision:
    """pass when the whole interval clears the target, fail when all of it is below."""
    low, high = interval
    if low >= target - _TOLERANCE:
        return "pass"
    if high < target - _TOLERANCE:
        return "fail"
    return "inconclusive"


def cases_needed(score: float, target: float, z: float = Z95) -> int | None:
    """The fewest cases at this observed score whose Wilson lower bound reaches the target.

    The lower bound L is the smaller root of (p - L)^2 = z^2 L (1 - L) / n, so L >= t exactly
    when n >= z^2 t (1 - t) / (p - t)^2. None when the score does not exceed the target: then no
    number of cases can show a pass.
    """
    if score <= target:
        return None
    needed = z * z * target * (1 - target) / (score - target) ** 2
    return max(1, math.ceil(needed - _TOLERANCE))


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of k or fewer (or as extreme) successes in n fair coin flips."""
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    extreme = sum(math.comb(n, i) for i in range(tail + 1))
    return min(1.0, 2.0 * extreme / float(2**n))


def mcnemar_exact(improved: int, regressed: int) -> float:
    """Exact two-sided McNemar test on the discordant pairs (b improved, c regressed)."""
    return binomial_two_sided(min(improved, regressed), improved + regressed)


def paired_bootstrap(
    differences: Sequence[float], resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95 % interval of the mean paired difference, resampling cases (seeded)."""
    n = len(differences)
    if n == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    values = list(differences)
    indices = range(n)
    means = sorted(
        sum(map(values.__getitem__, rng.choices(indices, k=n))) / n for _ in range(resamples)
    )
    low = means[math.floor(0.025 * (resamples - 1))]
    high = means[math.ceil(0.975 * (resamples - 1))]
    return (low, high)


def pass_hat_k(successes: int, n: int, k: int) -> float:
    """tau-bench pass^k: the chance that k draws without replacement all succeed."""
    if not 0 < k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    return math.comb(successes, k) / math.comb(n, k)


def pass_at_k(successes: int, n: int, k: int) -> float:
    """pass@k: the chance that at least one of k draws without replacement succeeds."""
    if not 0 < k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    return 1.0 - math.comb(n - successes, k) / math.comb(n, k)
