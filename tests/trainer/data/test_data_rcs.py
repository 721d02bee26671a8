"""Rare Class Sampling: probabilities by hand, candidate filtering and sampling frequencies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.data.rcs import RareClassSampler, class_probabilities


def test_two_classes_temperature_half() -> None:
    # f = (0.75, 0.25); (1 - f) / 0.5 = (0.5, 1.5); softmax = (1 / (1 + e), e / (1 + e))
    probs = class_probabilities({0: 300, 1: 100}, 0.5)
    assert probs == pytest.approx({0: 0.2689414213699951, 1: 0.7310585786300049}, abs=1e-12)


def test_three_classes_temperature_one_and_absent_class() -> None:
    # f = (0.25, 0.25, 0.5); exp(0.75) = 2.1170000166, exp(0.5) = 1.6487212707; sum 5.8827213040
    probs = class_probabilities({0: 100, 4: 100, 7: 200, 9: 0}, 1.0)
    assert list(probs) == [0, 4, 7]
    assert probs == pytest.approx({0: 0.3598675, 4: 0.3598675, 7: 0.2802651}, abs=1e-6)


def test_small_temperature_picks_the_rarest_and_inf_is_uniform() -> None:
    probs = class_probabilities({0: 900, 1: 90, 2: 10}, 0.01)
    assert probs[2] > 0.99 and probs[0] < 1e-30
    assert class_probabilities({0: 900, 1: 90, 2: 10}, math.inf) == {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}
    with pytest.raises(ValueError):
        class_probabilities({0: 1}, 0.0)


def _sampler(min_pixels: int = 100, temperature: float = 0.5) -> RareClassSampler:
    stats = [("a.png", {0: 250, 1: 50}), ("b.png", {0: 50, 1: 150}), ("c.png", {1: 200})]
    return RareClassSampler(stats, ["a.png", "b.png", "c.png"], temperature, min_pixels, 0.5, 10)


def test_candidates_need_more_than_min_pixels() -> None:
    sampler = _sampler(min_pixels=150)
    assert sampler.candidates[0].tolist() == [0] and sampler.candidates[1].tolist() == [2]  # 150 is not > 150
    assert sampler.min_crop_pixels == 75.0


def test_sampling_frequencies_follow_the_probabilities() -> None:
    sampler = _sampler()
    expected = class_probabilities({0: 300, 1: 400}, 0.5)
    rng = np.random.default_rng(0)
    draws = [sampler.draw(rng) for _ in range(20_000)]
    classes = np.array([c for c, _ in draws])
    images = np.array([i for _, i in draws])
    p1 = expected[1]
    sigma = math.sqrt(p1 * (1 - p1) / len(draws))
    assert abs((classes == 1).mean() - p1) < 4 * sigma
    assert set(images[classes == 0].tolist()) == {0}  # only a.png has > 100 pixels of class 0
    share_b = (images[classes == 1] == 1).mean()  # class 1: b and c uniformly
    assert abs(share_b - 0.5) < 4 * math.sqrt(0.25 / (classes == 1).sum())


def test_class_without_candidates_is_dropped_with_a_warning() -> None:
    stats = [("a.png", {0: 50, 1: 150}), ("b.png", {0: 60, 2: 300})]
    with pytest.warns(UserWarning, match=r"classes \[0\]"):
        sampler = RareClassSampler(stats, ["a.png", "b.png"], 1.0, 100, 0.5, 10)
    kept = class_probabilities({0: 110, 1: 150, 2: 300}, 1.0)
    assert sampler.classes.tolist() == [1, 2]
    norm = kept[1] + kept[2]
    assert sampler.probabilities.tolist() == pytest.approx([kept[1] / norm, kept[2] / norm])
