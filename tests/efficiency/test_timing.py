"""Timing bookkeeping against a fake clock: synchronisation, warm-up exclusion, statistics."""

import numpy as np
import pytest

from repro.efficiency import timing
from repro.efficiency.timing import Timer, repeat, summarize


class FakeClock:
    """Advances only when the code under test 'works' (fn calls self.work(seconds))."""

    def __init__(self):
        self.now = 100.0
        self.log = []

    def __call__(self):
        self.log.append(("clock", self.now))
        return self.now

    def work(self, seconds):
        self.now += seconds


def test_timer_synchronises_before_and_after_and_measures_the_region():
    clock, events = FakeClock(), []
    timer = Timer(clock=clock, sync=lambda: events.append(("sync", clock.now)))

    def fn():
        events.append(("fn", clock.now))
        clock.work(0.25)
        return "out"

    seconds, out = timer.time(fn)
    assert out == "out" and seconds == pytest.approx(0.25)
    assert [e[0] for e in events] == ["sync", "fn", "sync"]
    # the closing sync happens after the work, before the clock is read
    assert events[-1][1] == pytest.approx(100.25)


def test_repeat_excludes_warmups_from_the_samples():
    clock = FakeClock()
    durations = iter([9.0, 8.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # two slow warm-ups first
    seen = []
    timer = Timer(clock=clock, sync=lambda: None)
    samples = repeat(lambda: clock.work(next(durations)), reps=5, warmups=2, timer=timer,
                     on_rep=lambda i, s, out: seen.append(i))
    assert samples == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert seen == [0, 1, 2, 3, 4]


def test_paper_warmup_rule():
    # min(5, max(1, int(iterations * 0.2))): 100 prompts -> 5, 30 -> 5, 13 batches -> 2, 4 -> 1
    assert [timing.warmup_count(n) for n in (100, 30, 13, 4, 1)] == [5, 5, 2, 1, 1]


def test_summary_statistics():
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0])
    assert s.n == 5 and s.median == 3.0 and s.mean == 4.0
    assert s.q1 == 2.0 and s.q3 == 4.0 and s.iqr == 2.0
    assert s.std == pytest.approx(np.std([1, 2, 3, 4, 10], ddof=1))
    assert s.cv == pytest.approx(s.std / 4.0)
    assert s.ci_low <= s.median <= s.ci_high
    assert summarize([1.0, 2.0, 3.0, 4.0, 10.0]) == s  # fixed bootstrap seed: repeatable


def test_summary_of_one_sample_and_constant_samples():
    one = summarize([2.0])
    assert one.cv is None and one.iqr == 0 and one.ci_low == one.ci_high == 2.0
    const = summarize([3.0] * 5)
    assert const.cv == 0.0 and const.ci_low == const.ci_high == 3.0


def test_summary_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])


def test_scaled_converts_seconds_to_ms_and_keeps_cv():
    s = summarize([0.010, 0.012, 0.011, 0.013, 0.009])
    ms = timing.scaled(s, 1000)
    assert ms.median == pytest.approx(11.0) and ms.cv == pytest.approx(s.cv)
    assert ms.iqr == pytest.approx(s.iqr * 1000)


def test_adaptive_repetitions_stop_when_the_median_is_tight():
    from repro.efficiency.timing import Until

    clock = FakeClock()
    timer = Timer(clock=clock, sync=lambda: None)
    # steady 0.125 s calls: the minimum (5 reps) and min_seconds (2 s) decide: 16 reps
    steady = repeat(lambda: clock.work(0.125), reps=Until(5, min_seconds=2.0, ci_rel=0.02),
                    warmups=0, timer=timer)
    assert len(steady) == 16
    # and 1 s calls: the minimum number decides
    assert len(repeat(lambda: clock.work(1.0), reps=Until(5, min_seconds=2.0), warmups=0,
                      timer=timer)) == 5
    # noisy calls (0.125 or 0.25 s alternately): the median's interval spans both, never within
    # +-2%: it runs to max_seconds (32 calls = 6 s)
    noisy = iter([0.125, 0.25] * 1000)
    got = repeat(lambda: clock.work(next(noisy)), reps=Until(5, min_seconds=0.0, ci_rel=0.02,
                                                             max=1000, max_seconds=6.0),
                 warmups=0, timer=timer)
    assert sum(got) == pytest.approx(6.0) and len(got) == 32
    # and at most `max` repetitions
    capped = repeat(lambda: clock.work(next(noisy)), reps=Until(5, ci_rel=0.02, max=12),
                    warmups=0, timer=timer)
    assert len(capped) == 12
    # a plain number is exactly that many
    assert len(repeat(lambda: clock.work(0.3), reps=7, warmups=1, timer=timer)) == 7


def test_median_interval_is_the_order_statistics_interval():
    from repro.efficiency.timing import median_interval

    x = list(range(1, 101))  # n = 100: ranks 50 -+ 9.8 -> [40, 60] (0-based) -> values 41, 61
    assert median_interval(x) == (41.0, 61.0)
    assert median_interval([3.0, 1.0, 2.0, 5.0, 4.0]) == (1.0, 5.0)  # n = 5: the whole sample
