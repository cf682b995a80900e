"""Timed regions and repetition statistics for the efficiency stage.

    timer = Timer("cuda")                       # synchronises the device around every region
    samples = repeat(step, reps=5, warmups=2, timer=timer)   # warm-ups run but are not returned
    samples = repeat(step, reps=Until(5, min_seconds=2, ci_rel=0.02), warmups=2, timer=timer)
    stats = summarize(samples)                  # median, IQR, CV, bootstrap CI of the median

Every region is bracketed by a device synchronisation, so queued GPU kernels are inside the
region they belong to and never leak into the next one. The clock and the synchronisation are
injectable: tests drive the bookkeeping with a fake clock, no GPU and no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

Clock = Callable[[], float]  # seconds, monotonic

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # fixed: the same samples always give the same interval


def synchronize(device) -> None:
    """Wait for every queued kernel on `device` (a no-op on CPU, where calls are blocking)."""
    import torch

    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda":
        torch.cuda.synchronize(dev)


class Timer:
    """Measure wall time of code regions, synchronising the device before and after each."""

    def __init__(self, device=None, clock: Clock = time.perf_counter,
                 sync: Callable[[], None] | None = None):
        self.clock = clock
        self.sync = sync if sync is not None else (lambda: synchronize(device))

    def time(self, fn: Callable[[], object]) -> tuple[float, object]:
        """Run fn once; return (seconds, fn's result)."""
        self.sync()
        start = self.clock()
        out = fn()
        self.sync()
        return self.clock() - start, out


def warmup_count(iterations: int) -> int:
    """The paper's warm-up rule: min(5, max(1, int(iterations * 0.2)))."""
    return min(5, max(1, int(iterations * 0.2)))


Hook = Callable[[int, float, object], None]

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


@dataclass(frozen=True)
class Until:
    """When adaptive repetitions stop (optimum-benchmark: >= 10 iterations and >= 10 s; Zeus):
    after at least `min` repetitions and `min_seconds` of timed work, as soon as the median's 95%
    interval is within +-ci_rel of the median, and in any case at `max` or `max_seconds`."""

    min: int
    min_seconds: float = 0.0
    ci_rel: float = 0.02
    max: int = 200
    max_seconds: float = float("inf")

    def done(self, samples: list[float]) -> bool:
        n, total = len(samples), sum(samples)
        if n >= self.max or (n >= self.min and total >= self.max_seconds):
            return True
        if n < self.min or total < self.min_seconds:
            return False
        lo, hi = median_interval(samples)
        med = median(samples)
        return med > 0 and max(med - lo, hi - med) <= self.ci_rel * med


def median_interval(samples) -> tuple[float, float]:
    """A distribution-free 95% interval of the median from order statistics: ranks
    n/2 -+ 1.96 sqrt(n)/2 (the normal approximation of the binomial), clipped to the sample.
    Cheap enough to evaluate after every repetition; the reported CI is the bootstrap's."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    half = Z95 * np.sqrt(n) / 2
    lo = int(np.floor(n / 2 - half))
    hi = int(np.ceil(n / 2 + half))
    return float(x[max(lo, 0)]), float(x[min(hi, n - 1)])


def repeat(fn: Callable[[], object], *, reps: int | Until, warmups: int, timer: Timer,
           on_rep: Hook | None = None, on_warmup: Hook | None = None) -> list[float]:
    """Run fn `warmups` times untimed-for-the-record, then `reps` times (a number, or an `Until`
    rule: adaptive); return the reps' seconds.

    `on_rep(i, seconds, result)` sees each measured repetition, `on_warmup` each warm-up.
    """
    rule = reps if isinstance(reps, Until) else Until(min=reps, max=reps)
    if rule.min < 1:
        raise ValueError("reps must be >= 1")
    for i in range(max(0, warmups)):
        seconds, out = timer.time(fn)
        if on_warmup is not None:
            on_warmup(i, seconds, out)
    samples: list[float] = []
    while not rule.done(samples):
        seconds, out = timer.time(fn)
        samples.append(seconds)
        if on_rep is not None:
            on_rep(len(samples) - 1, seconds, out)
    return samples


@dataclass(frozen=True)
class Stats:
    """Summary of repeated measurements. `cv` is std/mean (sample std, ddof=1); the CI is a
    percentile bootstrap of the median with a fixed seed."""

    n: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    q1: float
    q3: float
    iqr: float
    cv: float | None
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_median_ci(values: np.ndarray, *, confidence: float = 0.95,
                        resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
                        ) -> tuple[float, float]:
    if len(values) == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    medians = np.median(values[idx], axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(medians, alpha)), float(np.quantile(medians, 1 - alpha))


def median(samples) -> float:
    """The median (the mean of the middle two for an even count), as summarize() reports it."""
    x = np.asarray([float(s) for s in samples], dtype=float)
    if x.size == 0:
        raise ValueError("no samples to summarise")
    return float(np.median(x))


def summarize(samples, *, confidence: float = 0.95, seed: int = BOOTSTRAP_SEED) -> Stats:
    """Median, quartiles (linear interpolation), IQR, mean, sample std, CV and bootstrap CI."""
    x = np.asarray([float(s) for s in samples], dtype=float)
    if x.size == 0:
        raise ValueError("no samples to summarise")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinity")
    q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    cv = std / mean if mean != 0 and x.size > 1 else None
    lo, hi = bootstrap_median_ci(x, confidence=confidence, seed=seed)
    return Stats(n=int(x.size), median=med, mean=mean, std=std, min=float(x.min()),
                 max=float(x.max()), q1=q1, q3=q3, iqr=q3 - q1, cv=cv, ci_low=lo, ci_high=hi)


def scaled(stats: Stats, factor: float) -> Stats:
    """The same summary in other units (e.g. seconds -> milliseconds); CV is unit-free."""
    if factor <= 0:
        raise ValueError("scale factor must be positive")
    d = stats.to_dict()
    for k in ("median", "mean", "std", "min", "max", "q1", "q3", "iqr", "ci_low", "ci_high"):
        d[k] = d[k] * factor
    return Stats(**d)


