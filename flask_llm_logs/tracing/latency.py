"""The latency histogram of the metrics table: fixed log-scale bins, and percentiles read from them.

Pure functions, shared by the writer (which counts each LLM span in its
bin), the migration that fills the table from stored spans and the
``metrics()`` reader (which sums the bins and reads percentiles off them).

Bin 0 holds durations under 1 ms; bin ``k`` (1 to :data:`TOP_BIN` - 1)
holds ``[GROWTH ** (k - 1), GROWTH ** k)`` ms; the last bin holds everything
from :data:`TOP_BOUND_MS` (just over an hour) up. A percentile is the
estimate of the bin where the nearest-rank sample falls: the geometric
middle of its bounds. Every duration of a bin lies within a factor
``sqrt(GROWTH)`` of it, so from 1 ms to an hour the estimate is off by at
most ``sqrt(1.2) - 1`` = 9.55% of the true nearest-rank value
(:data:`RELATIVE_ERROR`); under 1 ms it is 0.5 ms, off by at most 0.5 ms;
above an hour it is :data:`TOP_BOUND_MS`, a lower bound. Fixed bounds are
what make the histograms of two rows addable in SQL, column by column.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

#: Each bin's upper bound is this factor times its lower bound.
GROWTH = 1.2
_LOG_GROWTH = math.log(GROWTH)
#: The last bin, for durations from :data:`TOP_BOUND_MS` up: 1.2**83 ms is 63 minutes.
TOP_BIN = 84
TOP_BOUND_MS = GROWTH ** (TOP_BIN - 1)
#: The number of bins (columns ``latency_00`` to ``latency_84``).
BINS = TOP_BIN + 1
#: The largest relative error of a percentile between 1 ms and :data:`TOP_BOUND_MS`.
RELATIVE_ERROR = math.sqrt(GROWTH) - 1


def column_name(number: int) -> str:
    """The metrics table's column counting the durations of bin ``number``."""
    return f"latency_{number:02d}"


COLUMNS = tuple(column_name(number) for number in range(BINS))


def bin_of(duration_ms: float) -> int:
    """The bin a duration in milliseconds falls in."""
    if duration_ms < 1.0:  # negative clock steps too
        return 0
    return min(int(math.log(duration_ms) / _LOG_GROWTH) + 1, TOP_BIN)


def estimate(number: int) -> float:
    """The duration a percentile falling in bin ``number`` is reported as, in ms."""
    if number <= 0:
        return 0.5
    if number >= TOP_BIN:
        return TOP_BOUND_MS
    return float(GROWTH ** (number - 0.5))


#: :func:`estimate` of each bin.
_ESTIMATES = tuple(estimate(number) for number in range(BINS))


def percentiles(
    counts: Sequence[int], fractions: Sequence[float], numbers: Sequence[int] | None = None
) -> list[float | None]:
    """The nearest-rank percentiles (0.5 for p50) of a histogram; ``None`` if it is empty.

    One pass over the bins for all of them: ``metrics()`` reads three per row, for
    thousands of rows (each estimate is looked up in :data:`_ESTIMATES`, not
    computed again). ``numbers``: the bin of each count, ascending, when
    ``counts`` holds only some bins (the others count nothing); default every
    bin, ``counts[k]`` being bin ``k``'s.
    """
    cumulative = list(itertools.accumulate(counts))
    total = cumulative[-1] if cumulative else 0
    if total <= 0:
        return [None] * len(fractions)
    found = [
        bisect.bisect_left(cumulative, max(1, math.ceil(fraction * total)))
        for fraction in fractions
    ]
    if numbers is None:
        return [_ESTIMATES[index] for index in found]
    return [_ESTIMATES[numbers[index]] for index in found]


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The nearest-rank ``fraction`` percentile of a histogram; ``None`` if it is empty."""
    return percentiles(counts, (fraction,))[0]
