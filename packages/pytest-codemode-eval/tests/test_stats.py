"""Golden values, computed by hand (shared/notes/wave2-facts.md), for every statistic we print."""

from __future__ import annotations

import pytest

from pytest_codemode_eval.stats import (
    cases_needed,
    decide,
    mcnemar_exact,
    paired_bootstrap,
    pass_at_k,
    pass_hat_k,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (1, 3, 0.0615, 0.7923),
        (2, 3, 0.2077, 0.9385),
        (3, 3, 0.4385, 1.0),
        (9, 9, 0.7009, 1.0),
        (8, 9, 0.5650, 0.9801),
        (5, 27, 0.0818, 0.3670),
        (14, 27, 0.3399, 0.6926),
        (0, 27, 0.0, 0.1246),
        (27, 27, 0.8754, 1.0),
    ],
)
def test_wilson_interval_matches_hand_computed_values(
    successes: int, n: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=5e-5)


def test_fractional_successes_are_a_mean_score_times_n() -> None:
    # Phase 40: ten 0.5s out of 27 cases is 5 successes: 18.5 % [8.2-36.7]
    assert wilson_interval(10 * 0.5, 27) == pytest.approx((0.0818, 0.3670), abs=5e-5)


def test_the_interval_of_three_out_of_three_is_not_zero_width() -> None:
    low, high = wilson_interval(3, 3)
    assert high - low > 0.5


@pytest.mark.parametrize(
    ("interval", "target", "decision"),
    [
        ((0.4385, 1.0), 0.95, "inconclusive"),
        ((0.7009, 1.0), 0.60, "pass"),
        ((0.0818, 0.3670), 0.80, "fail"),
        ((0.80, 0.95), 0.80, "pass"),  # the lower bound on the target passes
        ((0.70, 0.80), 0.80, "inconclusive"),  # the upper bound on the target does not fail
    ],
)
def test_three_way_decision(interval: tuple[float, float], target: float, decision: str) -> None:
    assert decide(interval, target) == decision


def test_cases_needed_is_the_fewest_cases_whose_lower_bound_clears_the_target() -> None:
    needed = cases_needed(0.9, 0.8)
    assert needed is not None
    assert wilson_interval(0.9 * needed, needed)[0] >= 0.8
    assert wilson_interval(0.9 * (needed - 1), needed - 1)[0] < 0.8
    assert needed == 62  # z^2 * 0.8 * 0.2 / 0.1^2 = 61.5


def test_cases_needed_for_perfect_scores() -> None:
    # 1.0 observed against 95 %: n / (n + z^2) >= 0.95 first at n = 73
    assert cases_needed(1.0, 0.95) == 73
    assert cases_needed(1.0, 0.60) == 6  # 0.4 n >= 0.6 z^2 = 2.305
    assert wilson_interval(5, 5)[0] < 0.60 <= wilson_interval(6, 6)[0]


def test_no_number_of_cases_passes_a_score_at_or_below_its_target() -> None:
    assert cases_needed(0.8, 0.8) is None
    assert cases_needed(0.5, 0.8) is None
    assert cases_needed(1.0, 1.0) is None


@pytest.mark.parametrize(
    ("improved", "regressed", "p"),
    [(5, 0, 0.0625), (6, 0, 0.03125), (0, 6, 0.03125), (10, 0, 0.001953125), (0, 0, 1.0)],
)
def test_exact_mcnemar(improved: int, regressed: int, p: float) -> None:
    assert mcnemar_exact(improved, regressed) == pytest.approx(p)


def test_mcnemar_balanced_flips_are_no_evidence() -> None:
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 2) == 1.0


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    diffs = [1.0, 0.5, 0.0, 0.0, -0.5, 1.0, 0.0, 1.0]
    first = paired_bootstrap(diffs, resamples=2000, seed=7)
    assert first == paired_bootstrap(diffs, resamples=2000, seed=7)
    mean = sum(diffs) / len(diffs)
    assert first[0] < mean < first[1]


def test_bootstrap_of_identical_runs_is_zero() -> None:
    assert paired_bootstrap([0.0] * 10, resamples=500) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("c", "n", "k", "expected"),
    [(5, 5, 3, 1.0), (4, 5, 1, 0.8), (4, 5, 2, 0.6), (3, 5, 3, 0.1), (2, 5, 3, 0.0)],
)
def test_pass_hat_k(c: int, n: int, k: int, expected: float) -> None:
    assert pass_hat_k(c, n, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("c", "n", "k", "expected"),
    [(0, 5, 3, 0.0), (1, 5, 1, 0.2), (1, 5, 5, 1.0), (2, 5, 2, 0.7), (3, 5, 3, 1.0)],
)
def test_pass_at_k(c: int, n: int, k: int, expected: float) -> None:
    assert pass_at_k(c, n, k) == pytest.approx(expected)


def test_k_outside_the_repeats_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"k must be in 1\.\.3"):
        pass_hat_k(1, 3, 4)
