"""Hand-computed cases for preemption, fair queueing, per-replica routing, max_length and timeouts.

Times are multiples of 1/4 s, so float arithmetic is exact and ties really are ties. Request ids are
sequence numbers (arrival order, ties by the order of the rows).
"""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.sim import (
    Arrivals,
    RequestClass,
    SimModel,
    simulate_model,
    simulate_requests,
    summarize,
)
from capacity.sim.disciplines import DISCIPLINES, EMPTY, QueueContext
from capacity.sim.engine import is_plain
from capacity.sim.metrics import mean_in_system
from capacity.sim.routing import ROUTINGS

from ..conftest import examples
from .builders import from_rows, model, service

HI, LO = 0, 1


# --------------------------------------------------------------------------- max_length and timeouts


def test_max_length_rejects_arrivals_that_find_the_queue_full() -> None:
    m = model(service(max_length=1))
    r = simulate_requests(m, from_rows([(LO, 0.0, 1.0), (LO, 0.25, 1.0), (LO, 0.5, 1.0),
                                     (LO, 0.75, 1.0), (LO, 1.25, 1.0)]))
    # 0 serves, 1 waits (the one place), 2 and 3 find it full; at t=1 request 1 starts, so 4 waits
    np.testing.assert_array_equal(r.start_s, [0.0, 1.0, np.nan, np.nan, 2.0])
    np.testing.assert_array_equal(r.replica, [0, 0, -1, -1, 0])
    c = summarize(m, r)["classes"]["lo"]
    assert (c["arrived"], c["completed"], c["rejected"], c["timed_out"]) == (5, 3, 2, 0)
    # max_length 0: a loss system (Erlang B), nothing ever waits
    r = simulate_requests(model(service(max_length=0)), from_rows([(LO, 0.0, 1.0), (LO, 0.5, 1.0),
                                                                (LO, 1.0, 1.0)]))
    np.testing.assert_array_equal(r.start_s, [0.0, np.nan, 1.0])


def test_timeouts_leave_at_the_deadline_inclusive() -> None:
    m = model(service(timeout_s=0.5))
    r = simulate_requests(m, from_rows([(LO, 0.0, 1.0), (LO, 0.25, 1.0), (LO, 0.5, 1.0),
                                     (LO, 0.75, 1.0)]))
    # 1 waits from 0.25, leaves at 0.75; 2's deadline is 1.0, the instant the slot frees: it leaves;
    # 3 (deadline 1.25) starts at 1.0 and ends at 2.0
    np.testing.assert_array_equal(r.start_s, [0.0, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(r.end_s, [1.0, 0.75, 1.0, 2.0])
    np.testing.assert_array_equal(r.timed_out, [False, True, True, False])
    s = summarize(m, r)
    c = s["classes"]["lo"]
    assert (c["arrived"], c["completed"], c["rejected"], c["timed_out"]) == (4, 2, 0, 2)
    assert c["latency_s"]["max"] == 1.25 and c["wait_s"]["max"] == 0.25     # served ones only
    # time in system over [0, 10]: 1 + 0.5 + 0.5 + 1.25 request-seconds
    assert mean_in_system(r, 0.0, 10.0) == pytest.approx(3.25 / 10)
    json.dumps(s, allow_nan=False)


def test_timeouts_with_max_length_and_priority() -> None:
    # the timed-out request frees its place: the arrival at 0.75 finds the queue with room again
    m = model(service(max_length=1, timeout_s=0.5, discipline="priority"))
    r = simulate_requests(m, from_rows([(LO, 0.0, 1.0), (LO, 0.25, 1.0), (HI, 0.5, 1.0),
                                     (HI, 0.75, 1.0)]))
    # 1 waits; 2 finds the queue full (rejected); 1 leaves at 0.75, exactly when 3 arrives: expired
    # first, so 3 takes the place and starts at 1.0
    np.testing.assert_array_equal(r.start_s, [0.0, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(r.timed_out, [False, True, False, False])
    s = summarize(m, r)["classes"]
    assert (s["lo"]["timed_out"], s["hi"]["rejected"], s["hi"]["completed"]) == (1, 1, 1)


# --------------------------------------------------------------------------- preemption


@pytest.mark.parametrize(("mode", "lo_end"), [("resume", 1.5), ("restart", 1.75)])
def test_preemption_resumes_or_restarts(mode: str, lo_end: float) -> None:
    m = model(service(discipline="preemptive", preemption=mode))
    r = simulate_requests(m, from_rows([(LO, 0.0, 1.0), (HI, 0.25, 0.5)]))
    # hi interrupts lo at 0.25 and runs to 0.75; lo then needs 0.75 s more (resume) or 1 s (restart)
    np.testing.assert_array_equal(r.start_s, [0.0, 0.25])      # lo keeps its first start
    np.testing.assert_array_equal(r.end_s, [lo_end, 0.75])
    s = summarize(m, r)
    busy = 0.25 + 0.5 + (lo_end - 0.75)                        # only the segments count
    assert s["replicas"]["svc-0"]["utilisation"] == pytest.approx(busy / 10)
    assert s["classes"]["lo"]["latency_s"]["mean"] == lo_end


def test_preemption_needs_a_strictly_more_urgent_arrival() -> None:
    m = model(service(discipline="preemptive"))
    r = simulate_requests(m, from_rows([(HI, 0.0, 1.0), (HI, 0.25, 1.0), (LO, 0.5, 1.0)]))
    np.testing.assert_array_equal(r.start_s, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(r.end_s, [1.0, 2.0, 3.0])


def test_preemption_interrupts_the_most_recently_started_of_the_least_urgent() -> None:
    m = model(service(slots=2, discipline="preemptive"))
    r = simulate_requests(m, from_rows([(LO, 0.0, 2.0), (LO, 0.25, 2.0), (HI, 0.5, 1.0),
                                     (LO, 0.75, 1.0)]))
    # hi interrupts request 1 (started 0.25, after request 0); at 1.5 request 1 resumes (key
    # (1, 0.25) before request 3's (1, 0.75)) with 1.75 s left; request 3 starts when 0 ends at 2
    np.testing.assert_array_equal(r.start_s, [0.0, 0.25, 0.5, 2.0])
    np.testing.assert_array_equal(r.end_s, [2.0, 3.25, 1.5, 3.0])


# --------------------------------------------------------------------------- fair queueing


def tenants(w_a: float = 3.0, w_b: float = 1.0) -> tuple[RequestClass, ...]:
    return (RequestClass("a", "svc", Arrivals("poisson", 1.0), tenant="A", weight=w_a),
            RequestClass("b", "svc", Arrivals("poisson", 1.0), tenant="B", weight=w_b))


BURST = [(0, 0.0, 1.0)] * 4 + [(1, 0.0, 1.0)] * 2          # A0..A3 then B0, B1, all at t=0


def test_fair_follows_start_time_tags() -> None:
    r = simulate_requests(model(service(discipline="fair"), classes=tenants()), from_rows(BURST))
    # A0 starts at once (V=0, F_A=1/3); queued heads: A1 tag 1/3, B0 tag 0. Then B0 (F_B=1, B1 tag 1),
    # A1 (1/3), A2 (2/3), A3 and B1 both tagged 1: A3 first by sequence
    np.testing.assert_array_equal(r.start_s, [0.0, 2.0, 3.0, 4.0, 1.0, 5.0])


def test_drr_serves_a_quantum_per_turn() -> None:
    r = simulate_requests(model(service(discipline="drr"), classes=tenants()), from_rows(BURST))
    # quanta 3 (A) and 1 (B) seconds. A0 alone: served, A empties and leaves the list; A1..A3 then
    # B0, B1 arrive: A's turn (deficit 3) serves A1, A2, A3, then B's turn serves B0, then B1
    np.testing.assert_array_equal(r.start_s, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_drr_passes_the_turn_when_the_head_costs_more_than_the_deficit() -> None:
    rows = [(0, 0.0, 1.0), (0, 0.0, 2.0), (0, 0.0, 1.0), (1, 0.0, 1.0), (1, 0.0, 1.0)]
    r = simulate_requests(model(service(discipline="drr"), classes=tenants(1.0, 1.0)), from_rows(rows))
    # quanta 1 each. A0 alone at t=0. At 1: A's turn, deficit 1 < 2 (A1): B's turn: B0 (t=1);
    # A: deficit 2 -> A1 (t=2..4); B: B1 (t=4); A: A2 (t=5)
    np.testing.assert_array_equal(r.start_s, [0.0, 2.0, 5.0, 1.0, 4.0])


def test_priority_fair_is_strict_across_levels_and_fair_within() -> None:
    classes = (*tenants(), RequestClass("urgent", "svc", Arrivals("poisson", 1.0), priority=-1,
                                        tenant="C"))
    rows = [*BURST, (2, 0.5, 1.0)]
    r = simulate_requests(model(service(discipline="priority-fair"), classes=classes), from_rows(rows))
    # the urgent request (priority -1) goes next at t=1; then the order of test_fair, one second later
    np.testing.assert_array_equal(r.start_s, [0.0, 3.0, 4.0, 5.0, 2.0, 6.0, 1.0])


@settings(max_examples=examples(150), deadline=None)
@given(name=st.sampled_from(["fair", "drr", "priority-fair"]),
       ops=st.lists(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(1, 8)),
                              st.none(), st.integers(0, 100)), max_size=80))
def test_fair_disciplines_pop_each_live_request_once_fifo_within_a_tenant(
        name: str, ops: list[tuple[int, int, int] | int | None]) -> None:
    # a tuple pushes (tenant, priority, cost); None pops; an int marks some waiting request gone
    tenant: list[int] = []
    level: list[int] = []
    cost: list[float] = []
    gone = bytearray(200)
    queue = DISCIPLINES[name]([0, 1], QueueContext(tenant, [1.0, 2.0, 0.5], cost, gone, 1.0))
    leveled = name == "priority-fair"
    waiting: dict[tuple[int, int], deque[int]] = {}          # live requests per (level, tenant)
    for op in ops:
        if isinstance(op, tuple):
            t, p, c = op
            tenant.append(t)
            level.append(p if leveled else 0)
            cost.append(float(c))
            queue.push(len(tenant) - 1, p)
            waiting.setdefault((level[-1], t), deque()).append(len(tenant) - 1)
        elif op is None:
            got = queue.pop()
            live = [key for key, q in waiting.items() if q]
            if not live:
                assert got == EMPTY
            else:
                assert level[got] == min(p for p, _ in live)   # the most urgent level first
                assert got == waiting[level[got], tenant[got]].popleft()
        else:
            live_ids = [j for q in waiting.values() for j in q]
            if live_ids:
                j = live_ids[op % len(live_ids)]
                gone[j] = 1
                waiting[level[j], tenant[j]].remove(j)
    drained = []
    while (j := queue.pop()) != EMPTY:
        drained.append(j)
    assert sorted(drained) == sorted(j for q in waiting.values() for j in q)
    assert not any(gone[j] for j in drained)


# --------------------------------------------------------------------------- per-replica routing


def test_round_robin_cycles_and_each_replica_serves_its_own_queue() -> None:
    m = model(service(replicas=2, routing="round-robin"))
    r = simulate_requests(m, from_rows([(LO, 0.0, 3.0), (LO, 0.0, 0.5), (LO, 0.25, 1.0),
                                     (LO, 0.25, 1.0), (LO, 0.5, 1.0)]))
    np.testing.assert_array_equal(r.replica, [0, 1, 0, 1, 0])
    # replica 1 is free at 0.5 but request 2 waits in replica 0's queue until 3.0 (no stealing)
    np.testing.assert_array_equal(r.start_s, [0.0, 0.0, 3.0, 0.5, 4.0])


def test_least_outstanding_counts_waiting_and_in_service() -> None:
    m = model(service(replicas=2, slots=2, routing="least-outstanding"))
    r = simulate_requests(m, from_rows([(LO, 0.0, 4.0)] * 5 + [(LO, 1.0, 1.0)]))
    # outstanding (0,0) -> 0; (1,0) -> 1; (1,1) -> 0; (2,1) -> 1; (2,2) -> 0 waits; at t=1 (3,2) -> 1
    np.testing.assert_array_equal(r.replica, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(r.start_s, [0.0, 0.0, 0.0, 0.0, 4.0, 4.0])


def test_per_replica_max_length_and_timeouts() -> None:
    m = model(service(replicas=2, routing="round-robin", max_length=1, timeout_s=2.0))
    r = simulate_requests(m, from_rows([(LO, 0.0, 4.0), (LO, 0.0, 4.0), (LO, 0.0, 1.0),
                                     (LO, 0.0, 1.0), (LO, 0.0, 1.0)]))
    # 0 -> r0 serves, 1 -> r1 serves, 2 -> r0 waits, 3 -> r1 waits, 4 -> r0 full: rejected;
    # 2 and 3 time out at t=2 (their replicas are busy until 4)
    np.testing.assert_array_equal(r.replica, [0, 1, -1, -1, -1])
    np.testing.assert_array_equal(r.timed_out, [False, False, True, True, False])
    c = summarize(m, r)["classes"]["lo"]
    assert (c["completed"], c["rejected"], c["timed_out"]) == (2, 1, 2)


@pytest.mark.parametrize("name", ["random", "power-of-two"])
def test_random_routings_are_seeded_and_spread(name: str) -> None:
    pick = ROUTINGS[name].chooser(4, np.random.default_rng(0))
    again = ROUTINGS[name].chooser(4, np.random.default_rng(0))
    choices = [pick([0, 0, 0, 0]) for _ in range(10_000)]
    assert choices == [again([0, 0, 0, 0]) for _ in range(10_000)]
    # uniform over 4 replicas: each count ~ Binomial(10^4, 1/4), sd 43; ±250 is ±5.8 sd
    assert all(abs(np.count_nonzero(np.array(choices) == q) - 2500) < 250 for q in range(4))
    if name == "power-of-two":                # never picks the busier of its two samples
        assert all(pick([5, 5, 0, 5]) in (0, 1, 2, 3) for _ in range(100))
        assert sum(pick([9, 9, 0, 9]) == 2 for _ in range(4000)) == pytest.approx(2000, abs=200)


# --------------------------------------------------------------------------- the two code paths agree


@settings(max_examples=examples(80), deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 40), st.integers(1, 12)),
           min_size=1, max_size=40),
    replicas=st.integers(1, 3), slots=st.integers(1, 3),
    discipline=st.sampled_from(["fifo", "priority"]),
)
def test_general_path_without_limits_equals_the_fast_path(
        data: list[tuple[int, int, int]], replicas: int, slots: int, discipline: str) -> None:
    rows = [(k, a / 4, s / 4) for k, a, s in data]
    plain = service(replicas, slots, discipline=discipline)
    general = service(replicas, slots, discipline=discipline, max_length=10**6)
    assert is_plain(plain) and not is_plain(general)
    a = simulate_requests(model(plain, duration=11.0), from_rows(rows))
    b = simulate_requests(model(general, duration=11.0), from_rows(rows))
    for field in ("start_s", "end_s", "replica", "busy_s"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_new_fields_are_validated_naming_the_field() -> None:
    classes = (RequestClass("a", "svc", Arrivals("poisson", 1.0)),)
    for queue, field in (({"max_length": -1}, "max_length"), ({"timeout_s": 0.0}, "timeout_s"),
                         ({"preemption": "pause"}, "preemption"), ({"routing": "jsq"}, "routing"),
                         ({"discipline": "wfq"}, "discipline")):
        with pytest.raises(ValueError, match=rf"services\.svc\.{field}"):
            simulate_model(SimModel((service(**queue),), classes, duration_s=1.0))
