"""Mean, sample std, Welch's t-test and the relative score against hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from ablations.results.stats import delta, mean_std, relative_score, welch_p_value, welch_p_values


def test_mean_and_sample_std_use_ddof_1() -> None:
    # mean 62; squared deviations 4 + 0 + 4 = 8; 8 / (3 - 1) = 4; sqrt = 2.
    result = mean_std([60.0, 62.0, 64.0])
    assert result.mean == pytest.approx(62.0)
    assert result.std == pytest.approx(2.0)
    assert result.n == 3


def test_single_seed_has_no_std_and_no_values_no_mean() -> None:
    assert mean_std([61.5]).mean == pytest.approx(61.5)
    assert mean_std([61.5]).std is None
    assert mean_std([]).mean is None


def test_welch_p_value_matches_closed_form_for_two_degrees_of_freedom() -> None:
    # a = [60, 62]: mean 61, s^2 = 2; b = [56, 58]: mean 57, s^2 = 2.
    # se^2 = 2/2 + 2/2 = 2, t = 4 / sqrt(2); Welch df = 2^2 / (1^2/1 + 1^2/1) = 2.
    # Student t with 2 df: two-sided p = 1 - t / sqrt(2 + t^2) = 1 - sqrt(8) / sqrt(10).
    expected = 1.0 - math.sqrt(8.0) / math.sqrt(10.0)
    assert expected == pytest.approx(0.105573, abs=1e-6)
    assert welch_p_value([60.0, 62.0], [56.0, 58.0]) == pytest.approx(expected, rel=1e-9)


def test_welch_p_value_uses_unequal_variances() -> None:
    # a = [60, 62, 64]: mean 62, s^2 = 4; b = [55, 56, 57]: mean 56, s^2 = 1.
    # se^2 = 4/3 + 1/3 = 5/3; t = 6 / sqrt(5/3); df = (5/3)^2 / ((4/3)^2/2 + (1/3)^2/2) = 50/17.
    t = 6.0 / math.sqrt(5.0 / 3.0)
    expected = 2.0 * scipy_stats.t.sf(t, 50.0 / 17.0)
    assert welch_p_value([60.0, 62.0, 64.0], [55.0, 56.0, 57.0]) == pytest.approx(expected, rel=1e-9)
    pooled = 2.0 * scipy_stats.t.sf(t, 4.0)  # Student's test would use df = 4: a different answer
    assert welch_p_value([60.0, 62.0, 64.0], [55.0, 56.0, 57.0]) != pytest.approx(pooled, rel=1e-3)


def test_welch_p_value_is_undefined_below_two_seeds_or_without_variance() -> None:
    assert welch_p_value([60.0], [55.0, 56.0]) is None
    assert welch_p_value([60.0, 61.0], [55.0]) is None
    assert welch_p_value([60.0, 60.0], [55.0, 55.0]) is None


def test_delta_and_relative_score() -> None:
    assert delta(62.0, 56.0) == pytest.approx(6.0)
    assert delta(None, 56.0) is None
    assert relative_score(58.2, 76.4) == pytest.approx(76.17801, rel=1e-6)
    assert relative_score(58.2, None) is None
    assert relative_score(58.2, 0.0) is None


def test_vectorised_welch_matches_one_by_one() -> None:
    baseline = [60.0, 62.0, 64.0]
    samples = [[55.0, 56.0, 57.0], [61.0], [50.0, 58.0], [70.0, 71.0, 69.0, 72.0], [59.0, 60.0, 64.0], []]
    expected = [welch_p_value(s, baseline) for s in samples]
    assert expected[1] is None and expected[5] is None
    got = welch_p_values(samples, baseline)
    missing = [False, True, False, False, False, True]
    assert [g is None for g in got] == [e is None for e in expected] == missing
    assert [g for g in got if g is not None] == pytest.approx([e for e in expected if e], rel=1e-12)
    assert welch_p_values([[1.0, 1.0], [1.0, 2.0]], [3.0, 3.0]) == [
        None,
        pytest.approx(welch_p_value([1.0, 2.0], [3.0, 3.0])),
    ]
    assert welch_p_values([[1.0, 2.0]], [3.0]) == [None]


def test_a_tie_has_no_best_row() -> None:
    from ablations.results.view import best_index

    assert best_index([0.0, 0.0, None]) is None
    assert best_index([1.0, 3.0, 3.0]) is None
    assert best_index([1.0, 3.0, None, 2.0]) == 1
    assert best_index([None, None]) is None
