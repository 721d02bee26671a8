"""The statistics of a result table: mean and sample std over seeds, deltas, Welch's t-test.

The paper reports each row as the mean and standard deviation of the final mIoU over seeds
0, 1, 2. We use the sample standard deviation (ddof=1), undefined for a single seed, and ask
whether a row's difference to the baseline is distinguishable from seed noise with Welch's
two-sided t-test (unequal variances), which needs at least two seeds on both sides.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

WELCH_TEST_NOTE = (
    "p: Welch's two-sided t-test (unequal variances; scipy.stats.ttest_ind, equal_var=False) of the "
    "final mIoU over seeds against the baseline row; n/a with fewer than 2 finished seeds on either side."
)

@dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (ddof=1) of ``n`` values; std is None when n < 2."""

    mean: float | None
    std: float | None
    n: int


def mean_std(values: Sequence[float]) -> MeanStd:
    """Mean and sample std of ``values``; mean None for no values, std None for one value."""
    n = len(values)
    if n == 0:
        return MeanStd(None, None, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return MeanStd(mean, None, 1)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return MeanStd(mean, math.sqrt(variance), n)


def welch_p_value(sample: Sequence[float], baseline: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test between two samples, or None when it is undefined.

    Undefined with fewer than two values on either side, and when both samples have zero
    variance (then the t statistic is 0/0 or infinite and no noise estimate exists). With zero
    variance on one side only (deterministic runs) the test is defined, but scipy warns of
    "catastrophic cancellation"; that warning is silenced.
    """
    if len(sample) < 2 or len(baseline) < 2:
        return None
    if mean_std(sample).std == 0.0 and mean_std(baseline).std == 0.0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical seeds on one side: still defined
        result = scipy_stats.ttest_ind(list(sample), list(baseline), equal_var=False)
    p_value = float(result.pvalue)
    return None if math.isnan(p_value) else p_value


def welch_p_values(samples: Sequence[Sequence[float]], baseline: Sequence[float]) -> list[float | None]:
    """``welch_p_value(sample, baseline)`` for many samples at once, same answers.

    Samples of equal size are stacked and tested in one vectorised ``ttest_ind`` call: a table
    of hundreds of rows spends its time in scipy's per-call overhead otherwise.
    """
    results: list[float | None] = [None] * len(samples)
    if len(baseline) < 2:
        return results
    base_flat = mean_std(baseline).std == 0.0
    by_size: dict[int, list[int]] = {}
    for index, sample in enumerate(samples):
        if len(sample) >= 2 and not (base_flat and mean_std(sample).std == 0.0):
            by_size.setdefault(len(sample), []).append(index)
    for indices in by_size.values():
        stacked = np.array([samples[i] for i in indices], dtype=float)
        reference = np.broadcast_to(np.asarray(baseline, dtype=float), (len(indices), len(baseline)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # identical seeds on one side: still defined
            p_values = scipy_stats.ttest_ind(stacked, reference, axis=1, equal_var=False).pvalue
        for i, p in zip(indices, np.atleast_1d(p_values), strict=True):
            results[i] = None if np.isnan(p) else float(p)
    return results


def delta(value: float | None, reference: float | None) -> float | None:
    """``value - reference`` or None when either is unknown."""
    if value is None or reference is None:
        return None
    return value - reference


def relative_score(uda: float | None, oracle: float | None) -> float | None:
    """The paper's relative score UDA / oracle in percent; None when either is unknown or oracle is 0."""
    if uda is None or oracle is None or oracle == 0.0:
        return None
    return 100.0 * uda / oracle
