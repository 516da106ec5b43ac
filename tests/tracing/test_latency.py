"""The latency histogram's error bound: proven over the bins, and over random samples."""

from __future__ import annotations

import math
import random

import pytest

from flask_llm_logs.tracing import latency
from tests.helpers.metrics import nearest_rank


def test_the_bound_is_under_ten_percent() -> None:
    assert pytest.approx(math.sqrt(1.2) - 1) == latency.RELATIVE_ERROR
    assert latency.RELATIVE_ERROR < 0.0955
    assert latency.TOP_BOUND_MS >= 3_600_000  # an hour


@pytest.mark.parametrize("number", range(1, latency.TOP_BIN))
def test_every_duration_of_a_bin_is_within_the_bound_of_its_estimate(number: int) -> None:
    """At both ends of each bin (the worst cases) and just inside them."""
    low, high = latency.GROWTH ** (number - 1), latency.GROWTH**number
    estimate = latency.estimate(number)
    for duration in (low, low * (1 + 1e-9), high * (1 - 1e-9)):
        assert latency.bin_of(duration) in (number - 1, number, number + 1)
        error = abs(latency.estimate(latency.bin_of(duration)) - duration) / duration
        assert error <= latency.RELATIVE_ERROR + 1e-12
    assert abs(estimate - low) / low <= latency.RELATIVE_ERROR + 1e-12
    assert abs(estimate - high) / high <= latency.RELATIVE_ERROR + 1e-12


def test_the_ends() -> None:
    assert latency.bin_of(0.0) == latency.bin_of(-3.0) == latency.bin_of(0.999) == 0
    assert latency.estimate(0) == 0.5
    assert latency.bin_of(1.0) == 1
    assert latency.bin_of(10 * 3_600_000) == latency.TOP_BIN
    assert latency.estimate(latency.TOP_BIN) == latency.TOP_BOUND_MS
    assert latency.percentile([0] * latency.BINS, 0.5) is None


@pytest.mark.parametrize("seed", range(20))
def test_percentiles_of_random_samples_are_within_the_bound(seed: int) -> None:
    rng = random.Random(seed)
    durations = [rng.lognormvariate(rng.uniform(2, 9), rng.uniform(0.2, 2)) for _ in range(500)]
    durations = [min(max(d, 1.0), 3_500_000.0) for d in durations]
    counts = [0] * latency.BINS
    for duration in durations:
        counts[latency.bin_of(duration)] += 1
    for fraction in (0.01, 0.5, 0.95, 0.99, 1.0):
        exact = nearest_rank(durations, fraction)
        read = latency.percentile(counts, fraction)
        assert read is not None
        assert abs(read - exact) <= latency.RELATIVE_ERROR * exact
