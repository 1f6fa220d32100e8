"""Uncertainty of the numbers the tables show: the spread over replicates, 95% intervals, paired
differences, and the verdict beside a published number. scipy (installed with scikit-learn)
supplies the t and normal quantiles and the paired t-test."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A number with its uncertainty: mean, sd and n over replicates and a 95% interval
    (a t-interval for n > 1; a Wilson interval for one accuracy of known sample size)."""

    mean: float
    sd: float | None
    n: int
    lo: float | None
    hi: float | None


def t_interval(values: list[float]) -> Estimate:
    """Mean, sd (ddof 1) and the 95% t-interval of the mean over n >= 2 replicates."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n)
    return Estimate(mean, sd, n, mean - half, mean + half)


def wilson(accuracy: float, images: int) -> tuple[float, float]:
    """The 95% Wilson score interval of an accuracy measured on `images` images: how far the
    number could move from test-set sampling alone (about +-1 point at 10,000 images, +-3 at 1,000)."""
    z = stats.norm.ppf(0.5 + LEVEL / 2)
    centre = (accuracy + z * z / (2 * images)) / (1 + z * z / images)
    half = (
        z
        / (1 + z * z / images)
        * math.sqrt(accuracy * (1 - accuracy) / images + z * z / (4 * images * images))
    )
    return centre - half, centre + half


def estimate(values: list[float], images: int | None = None) -> Estimate:
    """Replicates' values -> Estimate: a t-interval for n > 1; for one value, a Wilson interval
    when it is an accuracy over a known number of `images`, else no interval."""
    if len(values) > 1:
        return t_interval(values)
    value = values[0]
    if images:
        lo, hi = wilson(value, images)
        return Estimate(value, None, 1, lo, hi)
    return Estimate(value, None, 1, None, None)


@dataclass(frozen=True)
class Difference:
    """a - b over replicates paired by seed index: mean, paired 95% t-interval, p-value."""

    mean: float
    lo: float | None
    hi: float | None
    p: float | None
    n: int

    @property
    def real(self) -> bool:
        """The interval excludes 0."""
        return self.lo is not None and (self.lo > 0 or self.hi < 0)


def paired_difference(a: list[float], b: list[float]) -> Difference:
    """The paired difference a - b (replicate k of a against replicate k of b, same seed index)."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if len(diffs) < 2:
        return Difference(diffs[0], None, None, None, 1)
    est = t_interval(diffs)
    p = 1.0 if est.sd == 0 and est.mean == 0 else float(stats.ttest_rel(a, b).pvalue)
    return Difference(est.mean, est.lo, est.hi, p, len(diffs))


def verdict(reported: float, ours: Estimate, factor: float = 100.0, suffix: str = "pp") -> str:
    """`within` when the published number lies in our interval, else `ours higher/lower by X`
    (our mean minus theirs); `no interval` when ours has none."""
    if ours.lo is None:
        return "no interval"
    if ours.lo <= reported <= ours.hi:
        return "within"
    direction = "higher" if ours.mean > reported else "lower"
    return f"ours {direction} by {abs(ours.mean - reported) * factor:.2f} {suffix}"
