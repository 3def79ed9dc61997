"""The statistics behind "did it work": differences with 95% confidence intervals and
two-proportion tests, with a plain verdict when the sample is too small to say."""

from __future__ import annotations

import math
from typing import Any, Final

Z95: Final = 1.959963984540054
MIN_GROUP: Final = 100  # fewer recipients than this in a group: too small to conclude
MIN_EVENTS: Final = 10  # fewer conversions (or clicks) than this in all: too small


def two_sided_p(z: float) -> float:
    """The two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2))


def difference_of_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> dict[str, Any]:
    """Rate of A minus rate of B, its 95% interval (Wald), and the pooled z-test's p-value."""
    rate_a = hits_a / n_a if n_a else 0.0
    rate_b = hits_b / n_b if n_b else 0.0
    diff = rate_a - rate_b
    se = (
        math.sqrt(rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b) if n_a and n_b else 0.0
    )
    pooled = (hits_a + hits_b) / (n_a + n_b) if n_a + n_b else 0.0
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b)) if n_a and n_b else 0.0
    p_value = two_sided_p(diff / se0) if se0 > 0 else 1.0
    return {
        "a": rate_a,
        "b": rate_b,
        "difference": diff,
        "ci95": [diff - Z95 * se, diff + Z95 * se],
        "p_value": p_value,
    }


def difference_of_means(
    n_a: int, sum_a: float, sumsq_a: float, n_b: int, sum_b: float, sumsq_b: float
) -> dict[str, Any]:
    """Mean of A minus mean of B (from counts, sums and sums of squares) with a 95% interval
    (Welch)."""
    mean_a = sum_a / n_a if n_a else 0.0
    mean_b = sum_b / n_b if n_b else 0.0
    var_a = max(0.0, (sumsq_a - n_a * mean_a**2) / (n_a - 1)) if n_a > 1 else 0.0
    var_b = max(0.0, (sumsq_b - n_b * mean_b**2) / (n_b - 1)) if n_b > 1 else 0.0
    se = math.sqrt(var_a / n_a + var_b / n_b) if n_a and n_b else 0.0
    diff = mean_a - mean_b
    return {
        "a": mean_a,
        "b": mean_b,
        "difference": diff,
        "ci95": [diff - Z95 * se, diff + Z95 * se],
        "p_value": two_sided_p(diff / se) if se > 0 else 1.0,
    }


def verdict(n_a: int, n_b: int, events: int, ci95: list[float]) -> str:
    """'too_small', 'better', 'worse' or 'no_difference' (the interval holds zero)."""
    if n_a < MIN_GROUP or n_b < MIN_GROUP or events < MIN_EVENTS:
        return "too_small"
    low, high = ci95
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no_difference"
