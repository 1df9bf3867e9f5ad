"""Dynamic batching, batch failures and per-pool speed: hand-computed traces (exact), Little's law, theory.

The hand traces use binary fractions (0.125, 0.25, ...) so that every sum is exact in floating point and
the expected times can be compared with ``==``.
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity import theory
from capacity.sim import (
    Arrivals,
    Batching,
    Failure,
    Replica,
    RequestClass,
    RequestStream,
    ServiceTime,
    ServingService,
    SimModel,
    TokenCount,
    Tokens,
    generate_requests,
    simulate_model,
    simulate_requests,
    summarize,
    validate_model,
)
from capacity.sim.engine import is_plain
from capacity.sim.metrics import mean_in_system

from .builders import classes, model, service, stream

BASE, PER_ITEM = 0.5, 0.125            # a batch of k takes 0.5 + 0.125·k seconds
ONE_CLASS = classes("c")


def batched(*, replicas: int = 1, slots: int = 1, max_size: int = 3, max_delay: float = 0.25,
            speeds: tuple[float, ...] = (), **options: object) -> ServingService:
    return service(replicas, slots, dist=ServiceTime("deterministic", PER_ITEM, base_s=BASE), node="node-{k}",
                   speeds=speeds, batching=Batching("dynamic", max_size=max_size, max_delay_s=max_delay),
                   **options)


def run(svc: ServingService, arrivals: list[float], priorities: tuple[int, ...] = (0,),
        classes: list[int] | None = None, failures: tuple[Failure, ...] = ()) -> object:
    cls = tuple(RequestClass(f"c{p}", "svc", Arrivals("poisson", 1.0), priority=p) for p in priorities)
    requests = stream(arrivals, [PER_ITEM] * len(arrivals), classes)
    return simulate_requests(model(svc, *failures, classes=cls), requests)


def batches(result) -> list[list[int]]:
    """The batches of a run: requests grouped by (replica, start), in start order."""
    groups: dict[tuple[int, float], list[int]] = {}
    for i in np.argsort(result.start_s, kind="stable"):
        if result.replica[i] >= 0:
            groups.setdefault((int(result.replica[i]), float(result.start_s[i])), []).append(int(i))
    return list(groups.values())


def test_dynamic_batching_delay_expiry_and_size_cut() -> None:
    # one slot, max_size 3, max_delay 0.25
    r = run(batched(), [0.0, 0.125, 0.5, 0.625, 0.75, 0.875, 3.0])
    # 0: request 0 waits for more until 0 + 0.25; request 1 joins; the delay expires: batch {0, 1}
    #    (0.25 to 1.0). 2, 3, 4 and 5 wait; at 1.0 the slot frees with 4 waiting: a full batch {2, 3, 4}
    #    (1.0 to 1.875); 5, whose delay expired long ago, goes alone at 1.875 (to 2.5); 6 alone after
    #    waiting its max_delay (3.25 to 3.875).
    assert batches(r) == [[0, 1], [2, 3, 4], [5], [6]]
    assert r.start_s.tolist() == [0.25, 0.25, 1.0, 1.0, 1.0, 1.875, 3.25]
    assert r.end_s.tolist() == [1.0, 1.0, 1.875, 1.875, 1.875, 2.5, 3.875]
    assert r.latency_s.tolist() == [1.0, 0.875, 1.375, 1.25, 1.125, 1.625, 0.875]
    # one slot busy for each batch's duration, split among the batch's requests
    assert r.busy_s.tolist() == [0.75 + 0.875 + 0.625 + 0.625]
    assert r.busy_request_s.tolist() == pytest.approx([0.375, 0.375, 0.875 / 3, 0.875 / 3, 0.875 / 3,
                                                       0.625, 0.625], abs=1e-15)


def test_concurrent_slots_and_arrivals_at_the_decision_instant() -> None:
    # one replica with two slots, max_size 2, max_delay 0.25
    r = run(batched(slots=2, max_size=2), [0.0, 0.0, 0.0, 0.25, 0.75, 0.75])
    # 0: three arrive at once: a full batch {0, 1} on the first slot (0 to 0.75); 2 waits for more.
    # 0.25: 3 arrives at the instant 2's delay expires: it is in time (arrivals before decisions),
    #       so {2, 3} starts on the second slot (0.25 to 1.0).
    # 0.75: the first slot frees at the instant 4 and 5 arrive: they go together (0.75 to 1.5).
    assert batches(r) == [[0, 1], [2, 3], [4, 5]]
    assert r.end_s.tolist() == [0.75, 0.75, 1.0, 1.0, 1.5, 1.5]
    assert r.busy_s.tolist() == [0.75 + 0.75 + 0.75]


def test_zero_delay_batches_what_is_there() -> None:
    r = run(batched(max_size=4, max_delay=0.0), [0.0, 0.0, 0.125, 0.75, 0.75])
    # 0: {0, 1} at once (0 to 0.75); 2 waits for the slot; at 0.75 it goes with 3 and 4 (to 1.625)
    assert batches(r) == [[0, 1], [2, 3, 4]]
    assert r.end_s.tolist() == [0.75, 0.75, 1.625, 1.625, 1.625]


def test_a_batch_takes_requests_in_discipline_order() -> None:
    svc = batched(max_size=2, max_delay=0.0, discipline="priority")
    # request 0 (priority 1) alone at 0 (to 0.625); then 1 (priority 1), 2 and 3 (priority 0) wait
    r = run(svc, [0.0, 0.125, 0.25, 0.375], priorities=(0, 1), classes=[1, 1, 0, 0])
    assert batches(r) == [[0], [2, 3], [1]]
    assert r.start_s.tolist() == [0.0, 1.375, 0.625, 0.625]
    assert r.end_s.tolist() == [0.625, 2.0, 1.375, 1.375]


def test_max_length_and_timeout_with_batching() -> None:
    svc = batched(max_size=4, max_delay=0.0, max_length=2, timeout_s=1.0)
    r = run(svc, [0.0, 0.25, 0.5, 0.5625, 1.0])
    # 0 runs alone 0 to 0.625. 1 and 2 wait; 3 finds 2 waiting (max_length 2): rejected. At 0.625 the
    # slot frees: {1, 2} (to 1.375). 4 waits; its deadline 2.0 is after 1.375: {4} (1.375 to 2.0).
    assert r.replica.tolist() == [0, 0, 0, -1, 0]
    assert batches(r) == [[0], [1, 2], [4]]
    assert r.end_s[[0, 1, 2, 4]].tolist() == [0.625, 1.375, 1.375, 2.0]
    # now a long batch makes the waiting ones time out
    svc = service(dist=ServiceTime("deterministic", 0.5, base_s=1.0),
                  batching=Batching("dynamic", max_size=4), max_length=2, timeout_s=1.0)
    m = model(svc, classes=ONE_CLASS)
    r = simulate_requests(m, stream([0.0, 0.25, 0.625, 0.75, 1.5], [0.5] * 5))
    # 0 runs 0 to 1.5. 1 times out at 1.25; 3 is rejected (1 and 2 wait); 2 (deadline 1.625) and 4 go at
    # 1.5, when 4 arrives: {2, 4} to 1.5 + 1.0 + 1.0 = 3.5.
    assert r.timed_out.tolist() == [False, True, False, False, False]
    assert r.replica.tolist() == [0, -1, 0, -1, 0]
    assert r.end_s[[0, 1, 2, 4]].tolist() == [1.5, 1.25, 3.5, 3.5]
    assert np.isnan(r.end_s[3])
    s = summarize(m, r)["classes"]["c"]
    assert (s["arrived"], s["completed"], s["rejected"], s["timed_out"]) == (5, 3, 1, 1)


def test_per_replica_routing_batches_per_replica() -> None:
    svc = batched(replicas=2, max_size=2, max_delay=0.25, routing="round-robin")
    r = run(svc, [0.0, 0.0, 0.0, 0.0])
    # round robin: 0 and 2 to replica 0, 1 and 3 to replica 1; each replica's queue forms a full batch
    assert batches(r) == [[0, 2], [1, 3]]
    assert r.replica.tolist() == [0, 1, 0, 1]
    assert r.end_s.tolist() == [0.75] * 4


def test_speed_divides_the_batch_time() -> None:
    # replica 1 runs at half speed: a batch of 2 takes (0.5 + 0.25) / 0.5 = 1.5 there
    svc = batched(replicas=2, max_size=2, max_delay=0.0, speeds=(1.0, 0.5))
    r = run(svc, [0.0, 0.0, 0.0, 0.0])
    # the replica with the most free slots, ties to the lowest index: {0, 1} on replica 0, {2, 3} on 1
    assert r.replica.tolist() == [0, 0, 1, 1]
    assert r.end_s.tolist() == [0.75, 0.75, 1.5, 1.5]


def test_a_failure_retries_the_batch_in_flight_on_another_replica() -> None:
    svc = batched(replicas=2, slots=1, max_size=2, max_delay=0.0)
    # requests 0 and 1 start a batch on replica 0 (0 to 0.75); node-0 fails at 0.5: both are retried at
    # once on replica 1 (their delay expired), 0.5 to 1.25. Request 2 at 1.0 waits for replica 1.
    r = run(svc, [0.0, 0.0, 1.0], failures=(Failure(0.5, ("node-0",)),))
    assert r.retried.tolist() == [True, True, False]
    assert r.replica.tolist() == [1, 1, 1]
    assert r.start_s.tolist() == [0.0, 0.0, 1.25]        # a retried request keeps its first start
    assert r.end_s.tolist() == [1.25, 1.25, 1.875]
    assert r.busy_s.tolist() == [0.5, 0.75 + 0.625]       # the cut batch counts up to the failure


def test_a_failure_without_retry_loses_the_batch() -> None:
    svc = batched(replicas=1, max_size=2, max_delay=0.0, on_failure="lost")
    r = run(svc, [0.0, 0.0, 1.0], failures=(Failure(0.5, ("node-0",)),))
    assert r.lost.tolist() == [True, True, False]
    assert r.replica.tolist() == [-1, -1, -1]             # 2 arrives with no live replica: rejected
    assert r.end_s[:2].tolist() == [0.5, 0.5]
    assert np.isnan(r.end_s[2])


def test_a_recovered_replica_batches_again() -> None:
    svc = batched(replicas=1, max_size=2, max_delay=0.0)
    # the only replica fails at 0.5 with the batch {0, 1} in it: their retry finds no live replica, so
    # they are lost; 2 arrives while it is down (rejected); it is back at 1.5, and 3 runs at 1.75
    r = run(svc, [0.0, 0.0, 1.0, 1.75], failures=(Failure(0.5, ("node-0",), recover_s=1.0),))
    assert r.lost.tolist() == [True, True, False, False]
    assert r.replica.tolist() == [-1, -1, -1, 0]
    assert r.end_s[[0, 1, 3]].tolist() == [0.5, 0.5, 2.375]
    assert r.busy_s.tolist() == [0.5 + 0.625]


@pytest.mark.parametrize("mode", ["dynamic", "continuous"])
def test_outcomes_add_up_with_failures_timeouts_and_per_replica_queues(mode: str) -> None:
    if mode == "dynamic":
        st, b = ServiceTime("lognormal", 0.002, 0.5, base_s=0.01), Batching("dynamic", 8, 0.004)
        cls = RequestClass("a", "svc", Arrivals("poisson", 900.0))
    else:
        st = ServiceTime("tokens", base_s=0.01, per_input_token_s=0.0002, per_output_token_s=0.02)
        b = Batching("continuous", 16, step_growth=0.05)
        cls = RequestClass("a", "svc", Arrivals("poisson", 12.0), tokens=Tokens(
            TokenCount("lognormal", 200.0, 1.0), TokenCount("lognormal", 40.0, 1.0)))
    svc = ServingService("svc", tuple(Replica(f"svc-{i}", f"n{i}", "p") for i in range(4)), 2, st,
                         batching=b, routing="power-of-two", timeout_s=0.5, max_length=50)
    failures = (Failure(20.0, ("n0", "n1"), recover_s=10.0), Failure(40.0, ("n0", "n1", "n2", "n3"), 2.0))
    m = SimModel((svc,), (cls,), duration_s=60.0, warmup_s=5.0, seed=2, failures=failures)
    r = simulate_model(m)
    c = summarize(m, r)["classes"]["a"]
    assert c["arrived"] == c["completed"] + c["rejected"] + c["timed_out"] + c["lost"] + c["dropped"]
    assert c["rejected"] > 0 and c["lost"] > 0 and c["retried"] > 0
    done = r.replica >= 0
    assert np.all(r.end_s[done] > r.start_s[done]) and np.all(r.start_s[done] >= r.arrival_s[done])
    timed_out = r.timed_out_mask
    assert np.allclose(r.end_s[timed_out] - r.arrival_s[timed_out], 0.5)
    assert r.busy_s.sum() == pytest.approx(r.busy_request_s.sum(), rel=1e-9)


def test_batched_services_leave_the_fast_path_and_plain_ones_keep_it() -> None:
    plain = ServingService("a", (Replica("a-0", "n", "p"),), 1, ServiceTime("exponential", 1.0))
    assert is_plain(plain)
    assert not is_plain(batched())
    slow = ServingService("a", (Replica("a-0", "n", "p", speed=0.5),), 1, ServiceTime("exponential", 1.0))
    assert not is_plain(slow)                             # speed: the general path divides


@pytest.mark.parametrize(("field", "value", "message"), [
    ("max_size", 0, "services.svc.batching.max_size"),
    ("max_delay_s", -1.0, "services.svc.batching.max_delay_s"),
    ("step_growth", 0.5, "services.svc.batching.step_growth"),
    ("mode", "continuous", "services.svc.batching.mode: continuous batching needs a token service"),
])
def test_bad_batching_is_refused(field: str, value: object, message: str) -> None:
    b = {"mode": "dynamic", "max_size": 2, "max_delay_s": 0.0, "step_growth": 0.0, field: value}
    svc = service(dist=ServiceTime("deterministic", 0.1), batching=Batching(**b))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        validate_model(model(svc, classes=ONE_CLASS, duration=1.0))


# Little's law on a batched run (central and per-replica queues, two slots per replica, a max_delay that
# often expires): L and λW come from the same sample path and differ only by edge effects (~1e-4).
@pytest.mark.parametrize("routing", ["central", "least-outstanding"])
def test_littles_law_on_a_batched_run(routing: str) -> None:
    svc = ServingService("svc", tuple(Replica(f"svc-{i}", f"n{i}", "p") for i in range(3)), 2,
                         ServiceTime("lognormal", 0.002, 0.5, base_s=0.01),
                         batching=Batching("dynamic", max_size=8, max_delay_s=0.004), routing=routing)
    classes = (RequestClass("a", "svc", Arrivals("poisson", 600.0)),
               RequestClass("b", "svc", Arrivals("gamma", 300.0, cv=2.0)))
    m = SimModel((svc,), classes, duration_s=60.0, warmup_s=2.0, seed=3)
    r = simulate_model(m)
    lo, hi = r.window_s
    measured = r.measured
    lam = np.count_nonzero(measured) / (hi - lo)
    w = float(r.latency_s[measured].mean())
    assert mean_in_system(r, lo, hi) == pytest.approx(theory.littles_law_l(lam, w), rel=0.002)
    sizes = [len(b) for b in batches(r)]
    assert max(sizes) == 8 and min(sizes) == 1            # both the size cut and the delay expire
    # every request waited at most max_delay unless all slots of its queue were busy: the mean wait is
    # small, and each batch's slot time is counted once
    util = summarize(m, r)["services"]["svc"]["utilisation"]
    assert 0.1 < util < 1.0
    assert r.busy_s.sum() == pytest.approx(r.busy_request_s.sum(), rel=1e-12)


# ------------------------------------------------------------------------------ per-pool speed

def plain(speed: float, replicas: int = 1, **options: object) -> ServingService:
    return service(replicas, dist=ServiceTime("exponential", 0.05), pool="p", speeds=(speed,) * replicas,
                   **options)


@pytest.mark.parametrize("options", [{}, {"routing": "round-robin"}, {"discipline": "preemptive"}])
def test_half_speed_doubles_every_service_time_exactly(options: dict[str, object]) -> None:
    # the same stream through a pool of speed 0.5, and through speed 1 with every service time doubled
    classes = (RequestClass("hi", "svc", Arrivals("poisson", 12.0), priority=0),
               RequestClass("lo", "svc", Arrivals("poisson", 6.0), priority=1))
    slow = SimModel((plain(0.5, 2, **options),), classes, duration_s=200.0, seed=4)
    stream = generate_requests(slow)
    doubled = RequestStream(stream.cls, stream.arrival_s, stream.service_s * 2.0)
    fast = SimModel((plain(1.0, 2, **options),), classes, duration_s=200.0, seed=4)
    a, b = simulate_requests(slow, stream), simulate_requests(fast, doubled)
    assert np.array_equal(a.start_s, b.start_s, equal_nan=True)
    assert np.array_equal(a.end_s, b.end_s, equal_nan=True)
    assert np.allclose(a.busy_s, b.busy_s, rtol=1e-12)


def test_replicas_of_two_speeds_on_one_queue() -> None:
    svc = ServingService("svc", (Replica("svc-0", "n0", "fast"), Replica("svc-1", "n1", "old", speed=0.5)),
                         1, ServiceTime("deterministic", 1.0))
    r = simulate_requests(model(svc, classes=ONE_CLASS), stream([0.0, 0.0, 0.5]))
    # 0 on the idle replica of lowest index (fast, to 1.0), 1 on the old one (to 2.0); 2 waits for the
    # first slot to free: the fast one at 1.0 (to 2.0)
    assert r.replica.tolist() == [0, 1, 0]
    assert r.end_s.tolist() == [1.0, 2.0, 2.0]


# M/M/1 on a pool of speed 0.5: service of mean 0.05 s at speed 1 takes 0.1 s, so λ = 6/s gives ρ = 0.6
# and the mean wait ρ/(μ − λ) = 0.15 s. Per-run relative sd at 30,000 requests, measured offline over 40
# seeds (500-539, not used here): 3.5% for the mean wait, 0.9% for the utilisation; 6 runs give standard
# errors of 1.4% and 0.36%, so the tolerances of 6% and 1.5% are about 4 of them.
@pytest.mark.slow
def test_mm1_mean_wait_with_speed_matches_theory() -> None:
    waits, utils = [], []
    for seed in range(6):
        m = SimModel((plain(0.5),), (RequestClass("c", "svc", Arrivals("poisson", 6.0)),),
                     duration_s=30_000 / 6.0, warmup_s=100.0, seed=seed)
        r = simulate_model(m)
        waits.append(float(r.wait_s[r.measured].mean()))
        utils.append(float(r.busy_s.sum() / (r.window_s[1] - r.window_s[0])))
    assert np.mean(waits) == pytest.approx(theory.mmc_mean_wait(6.0, 10.0, 1), rel=0.06)
    assert np.mean(utils) == pytest.approx(0.6, rel=0.015)
