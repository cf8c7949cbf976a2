"""The Mann-Whitney U test a canary gate uses to ask "is the canary worse than stable?".

Canary and stable samples of error rate or latency are small, skewed and full of ties (many scrapes report
the same value), so a rank test fits better than a t-test. The p-value is the normal approximation with tie
and continuity correction, the same numbers as ``scipy.stats.mannwhitneyu(x, y, method="asymptotic")``,
computed here in pure Python so the gate needs no SciPy in the worker or the triggerer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

ALTERNATIVES = ("greater", "less", "two-sided")


@dataclass(frozen=True)
class MannWhitneyResult:
    """Outcome of one test.

    ``u`` is the statistic of ``x`` (pairs with x > y, ties counting one half), as SciPy reports it.
    ``effect_size`` is the common-language effect size P(X > Y) + 0.5 P(X = Y) = u / (n_x n_y): 0.5 means
    no difference, 1.0 means every canary sample is above every stable one. A gate wants both a small p-value
    and a meaningful effect, since with many samples a negligible difference is already "significant".
    """

    u: float
    p_value: float
    n_x: int
    n_y: int
    effect_size: float


def _average_ranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Ranks 1..n with ties given their average rank, and the size of every group of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = rank
        ties.append(end - start + 1)
        start = end + 1
    return ranks, ties


def _normal_sf(z: float) -> float:
    """Upper tail of the standard normal distribution (exact at ±inf)."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(x: Sequence[float], y: Sequence[float], alternative: str = "greater") -> MannWhitneyResult:
    """Test whether ``x`` is stochastically greater than (``"greater"``), less than or different from ``y``.

    NaN values are dropped first (Prometheus reports NaN for a ratio over zero traffic, which says nothing
    about the release). All values equal gives p = 1.0: there is no evidence of any difference.

    :param x: samples of the canary.
    :param y: samples of the baseline (stable).
    :param alternative: ``"greater"`` (default: the canary is worse for an error or latency metric),
        ``"less"`` or ``"two-sided"``.
    :raises ValueError: on an unknown alternative, or when a side has no values left after dropping NaN.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")
    xs = [float(v) for v in x if not math.isnan(v)]
    ys = [float(v) for v in y if not math.isnan(v)]
    if not xs or not ys:
        raise ValueError(f"both samples need values that are not NaN (got {len(xs)} and {len(ys)})")
    n_x, n_y = len(xs), len(ys)
    ranks, ties = _average_ranks(xs + ys)
    u = math.fsum(ranks[:n_x]) - n_x * (n_x + 1) / 2
    n = n_x + n_y
    tie_term = sum(t**3 - t for t in ties)
    sigma = math.sqrt(n_x * n_y / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    if sigma == 0:  # every value is the same
        return MannWhitneyResult(u, 1.0, n_x, n_y, u / (n_x * n_y))
    distance = u - n_x * n_y / 2
    # The continuity correction moves the statistic half a step towards the mean, so it only ever raises p.
    if alternative == "greater":
        p_value = _normal_sf((distance - 0.5) / sigma)
    elif alternative == "less":
        p_value = _normal_sf((-distance - 0.5) / sigma)
    else:
        p_value = 2 * _normal_sf((abs(distance) - 0.5) / sigma) if distance else 1.0
    return MannWhitneyResult(u, min(max(p_value, 0.0), 1.0), n_x, n_y, u / (n_x * n_y))
