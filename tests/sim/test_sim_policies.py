"""The small policy classes on their own: disciplines, slot pickers, arrival processes, service times."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.disciplines import DISCIPLINES, EMPTY
from capacity.sim.routing import ROUTINGS, LowestIdleReplica, MostFreeSlots
from capacity.sim.service_times import SERVICE_TIMES

from ..conftest import examples

# the disciplines whose order is a static key (the fair ones are checked in test_sim_disciplines_more)
STATIC_KEY = sorted(name for name, d in DISCIPLINES.items() if hasattr(d, "key"))


@settings(max_examples=examples(200), deadline=None)
@given(name=st.sampled_from(STATIC_KEY),
       ops=st.lists(st.one_of(st.integers(0, 3), st.none()), max_size=60))
def test_disciplines_pop_in_key_order(name: str, ops: list[int | None]) -> None:
    # ops: an int pushes a request of that priority (arrival = its sequence number), None pops
    queue = DISCIPLINES[name]([0, 1, 2, 3])
    key = DISCIPLINES[name].key
    waiting: list[tuple[float, ...]] = []
    seq = 0
    for op in ops:
        if op is None:
            expected = min(waiting, default=None)
            got = queue.pop()
            if expected is None:
                assert got == EMPTY
            else:
                waiting.remove(expected)
                assert got == expected[-1]
        else:
            queue.push(seq, op)
            waiting.append(key(op, float(seq), seq))
            seq += 1
        assert len(queue) == len(waiting)


def brute_force_pick(free: list[int]) -> int:
    """The routing rule: the replica with the most free slots, then the lowest index."""
    return max(range(len(free)), key=lambda r: (free[r], -r))


@settings(max_examples=examples(200), deadline=None)
@given(replicas=st.integers(1, 6), slots=st.integers(1, 4),
       ops=st.lists(st.integers(0, 10**6), max_size=200))
def test_slot_picker_follows_the_routing_rule(replicas: int, slots: int, ops: list[int]) -> None:
    picker = ROUTINGS["central"].slot_picker(replicas, slots)
    general = MostFreeSlots(replicas, slots)
    free = [slots] * replicas
    busy: list[int] = []
    for op in ops:
        if op % 2 == 0 and picker.free:                      # an arrival finds a free slot
            want = brute_force_pick(free)
            slot, other = picker.take(), general.take()
            assert slot // slots == want and other // slots == want
            assert slot not in busy
            free[want] -= 1
            busy.append(slot)
        elif busy:                                           # some busy slot frees
            slot = busy.pop(op % len(busy))
            picker.release(slot)
            general.release(slot)
            free[slot // slots] += 1
        assert picker.free == general.free == sum(free)


def test_one_slot_replicas_use_the_idle_heap() -> None:
    assert isinstance(ROUTINGS["central"].slot_picker(3, 1), LowestIdleReplica)
    assert isinstance(ROUTINGS["central"].slot_picker(3, 2), MostFreeSlots)


def test_most_free_slots_memory_stays_bounded() -> None:
    picker = MostFreeSlots(4, 3)
    for _ in range(10_000):                                  # churn one slot of replica 0
        slot = picker.take()
        picker.release(slot)
    assert max(len(b) for b in picker._buckets) <= 2 * 4 + 16


def test_deterministic_arrivals_are_evenly_spaced_from_zero() -> None:
    t = ARRIVAL_PROCESSES["deterministic"]().times(np.random.default_rng(0), 4.0, 2.0)
    np.testing.assert_array_equal(t, np.arange(8) / 4.0)
    t = ARRIVAL_PROCESSES["deterministic"]().times(np.random.default_rng(0), 3.0, 1.0)
    np.testing.assert_array_equal(t, [0.0, 1 / 3, 2 / 3])              # 1.0 is excluded


def test_poisson_arrivals_have_the_rate_and_exponential_gaps() -> None:
    rng = np.random.default_rng(1)
    t = ARRIVAL_PROCESSES["poisson"]().times(rng, 50.0, 2000.0)       # ~100,000 arrivals
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 2000.0
    # count ~ Poisson(100,000): sd 316, so ±1% is ±3.2 sd
    assert len(t) == pytest.approx(100_000, rel=0.01)
    gaps = np.diff(t)
    # exponential gaps: mean 1/rate, cv 1; each estimate has relative sd ~0.3-0.5% here
    assert gaps.mean() == pytest.approx(1 / 50.0, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize(("dist", "cv", "expected_cv"),
                         [("exponential", 0.3, 1.0), ("deterministic", 0.3, 0.0),
                          ("lognormal", 0.5, 0.5), ("lognormal", 0.0, 0.0)])
def test_service_times_have_the_requested_mean_and_cv(dist: str, cv: float,
                                                      expected_cv: float) -> None:
    s = SERVICE_TIMES[dist]().sample(np.random.default_rng(2), 200_000, 0.04, cv)
    # relative sd of the sample mean is cv/sqrt(n) <= 0.23%; of the sample cv about 0.3% here
    assert s.mean() == pytest.approx(0.04, rel=0.01)
    assert s.std() / s.mean() == pytest.approx(expected_cv, rel=0.02, abs=1e-9)


def test_lognormal_parameters() -> None:
    # sigma^2 = ln(1 + cv^2) and mu = ln(mean) - sigma^2/2: the median is mean / sqrt(1 + cv^2)
    s = SERVICE_TIMES["lognormal"]().sample(np.random.default_rng(3), 200_000, 2.0, 1.0)
    assert np.median(s) == pytest.approx(2.0 / math.sqrt(2.0), rel=0.01)
