"""Mann-Whitney U: published reference values, a worked example with ties, and brute-force cross-checks.

References: the diabetes example of SciPy's ``mannwhitneyu`` docs (Shier 2004: U = 17, asymptotic two-sided
p = 0.11134688653314041) and R's ``wilcox.test(x, y, exact = FALSE)`` values that SciPy's own tests pin for
gh-9184 (U = 35). The brute-force checks count pairs for U and take the normal tail from
``statistics.NormalDist``, so they share no code with the module under test.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from statistics import NormalDist

import pytest

from novacron_runbooks.gates.stats import MannWhitneyResult, mann_whitney_u

MALES = [19, 22, 16, 29, 24]
FEMALES = [20, 11, 17, 12]
R_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
R_Y = [1.15, 0.88, 0.90, 0.74, 1.21]


def pair_count_u(x: list[float], y: list[float]) -> float:
    """U of ``x``: pairs where x wins, ties counting one half."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(x, y))


def reference_p(x: list[float], y: list[float], alternative: str) -> float:
    """Tie-corrected normal approximation with continuity correction, from the textbook formulas."""
    n_x, n_y = len(x), len(y)
    n = n_x + n_y
    ties = Counter([*x, *y]).values()
    variance = n_x * n_y / 12 * ((n + 1) - sum(t**3 - t for t in ties) / (n * (n - 1)))
    if variance == 0:
        return 1.0
    shift = pair_count_u(x, y) - n_x * n_y / 2
    normal = NormalDist()
    upper = 1 - normal.cdf((shift - 0.5) / math.sqrt(variance))
    lower = normal.cdf((shift + 0.5) / math.sqrt(variance))
    return {"greater": upper, "less": lower, "two-sided": min(1.0, 2 * min(upper, lower))}[alternative]


class TestPublishedValues:
    def test_scipy_docs_diabetes_example(self):
        result = mann_whitney_u(MALES, FEMALES, alternative="two-sided")
        assert result.u == 17.0
        assert result.p_value == pytest.approx(0.11134688653314041, rel=1e-12)
        assert (result.n_x, result.n_y) == (5, 4)
        assert result.effect_size == pytest.approx(17 / 20)

    def test_one_sided_is_half_of_two_sided_here(self):
        greater = mann_whitney_u(MALES, FEMALES, alternative="greater")
        assert greater.p_value == pytest.approx(0.11134688653314041 / 2, rel=1e-12)
        less = mann_whitney_u(FEMALES, MALES, alternative="less")
        assert (less.u, less.p_value) == (3.0, pytest.approx(greater.p_value, rel=1e-12))

    @pytest.mark.parametrize(
        ("alternative", "expected"),
        [("less", 0.900775348204), ("greater", 0.1223118025635), ("two-sided", 0.244623605127)],
    )
    def test_r_wilcox_test_values(self, alternative, expected):
        result = mann_whitney_u(R_X, R_Y, alternative=alternative)
        assert result.u == 35.0
        assert result.p_value == pytest.approx(expected, rel=1e-10)


class TestWorkedExampleWithTies:
    """x = [1, 2, 2, 3], y = [2, 3, 3, 4].

    Pooled ranks: 1 → 1; the three 2s share (2+3+4)/3 = 3; the three 3s share (5+6+7)/3 = 6; 4 → 8.
    R_x = 1 + 3 + 3 + 6 = 13, so U = 13 - 4·5/2 = 3 (pairs: 0 + 0.5 + 0.5 + 2). Ties 1, 3, 3, 1 give
    Σ(t³ - t) = 48, so σ² = 16/12 · (9 - 48/56) = 76/7 and σ = 3.29502; μ = 8.
    less: z = (3 - 8 + 0.5)/σ = -1.36570 → p = Φ(z) = 0.086017; two-sided doubles it.
    """

    x = [1, 2, 2, 3]
    y = [2, 3, 3, 4]

    def test_u_and_effect(self):
        result = mann_whitney_u(self.x, self.y)
        assert result.u == 3.0
        assert result.effect_size == pytest.approx(3 / 16)

    def test_p_values(self):
        sigma = math.sqrt(76 / 7)
        less = NormalDist().cdf((3 - 8 + 0.5) / sigma)
        assert less == pytest.approx(0.086017, abs=1e-6)
        assert mann_whitney_u(self.x, self.y, "less").p_value == pytest.approx(less, rel=1e-12)
        assert mann_whitney_u(self.x, self.y, "two-sided").p_value == pytest.approx(2 * less, rel=1e-12)
        greater = 1 - NormalDist().cdf((3 - 8 - 0.5) / sigma)
        assert mann_whitney_u(self.x, self.y, "greater").p_value == pytest.approx(greater, rel=1e-12)


class TestAgainstBruteForce:
    @pytest.mark.parametrize("seed", range(25))
    @pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
    def test_random_samples_with_ties(self, seed, alternative):
        rng = random.Random(seed)
        x = [float(rng.randint(0, 12)) for _ in range(rng.randint(1, 30))]
        y = [float(rng.randint(2, 14)) for _ in range(rng.randint(1, 30))]
        result = mann_whitney_u(x, y, alternative)
        assert result.u == pair_count_u(x, y)
        assert result.effect_size == pytest.approx(pair_count_u(x, y) / (len(x) * len(y)))
        assert result.p_value == pytest.approx(reference_p(x, y, alternative), rel=1e-9, abs=1e-12)

    @pytest.mark.parametrize("seed", range(10))
    def test_direction_symmetry(self, seed):
        rng = random.Random(seed)
        x = [rng.gauss(1.0, 1.0) for _ in range(15)]
        y = [rng.gauss(0.0, 1.0) for _ in range(12)]
        forward, backward = mann_whitney_u(x, y, "greater"), mann_whitney_u(y, x, "less")
        assert forward.u + backward.u == len(x) * len(y)
        assert forward.p_value == pytest.approx(backward.p_value, rel=1e-12)
        assert forward.effect_size + backward.effect_size == pytest.approx(1.0)


class TestGateBehaviour:
    def test_clearly_worse_canary(self):
        canary = [0.05 + 0.001 * i for i in range(20)]
        stable = [0.01 + 0.001 * i for i in range(20)]
        worse = mann_whitney_u(canary, stable)
        assert worse.p_value < 1e-6 and worse.effect_size == 1.0
        assert mann_whitney_u(stable, canary).p_value > 0.999

    def test_nan_values_are_dropped(self):
        nan = float("nan")
        with_nan = mann_whitney_u([nan, *MALES, nan], [*FEMALES, nan], "two-sided")
        assert with_nan == mann_whitney_u(MALES, FEMALES, "two-sided")
        assert (with_nan.n_x, with_nan.n_y) == (5, 4)

    def test_infinities_are_ranked(self):
        result = mann_whitney_u([math.inf, 5.0], [1.0, -math.inf])
        assert result.u == 4.0

    @pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
    def test_all_values_equal(self, alternative):
        assert mann_whitney_u([0.2] * 5, [0.2] * 7, alternative) == MannWhitneyResult(17.5, 1.0, 5, 7, 0.5)

    def test_single_values(self):
        assert mann_whitney_u([1.0], [1.0]).p_value == 1.0
        assert mann_whitney_u([2.0], [1.0]).p_value == pytest.approx(reference_p([2.0], [1.0], "greater"))

    def test_no_difference_two_sided(self):
        assert mann_whitney_u([1, 4], [2, 3], "two-sided").p_value == 1.0

    @pytest.mark.parametrize(
        ("x", "y"),
        [([], [1.0]), ([1.0], []), ([float("nan")], [1.0]), ([1.0], [float("nan")] * 3)],
        ids=["x-empty", "y-empty", "x-all-nan", "y-all-nan"],
    )
    def test_a_side_without_values(self, x, y):
        with pytest.raises(ValueError, match="not NaN"):
            mann_whitney_u(x, y)

    def test_unknown_alternative(self):
        with pytest.raises(ValueError, match="alternative must be one of"):
            mann_whitney_u([1.0], [2.0], "bigger")
