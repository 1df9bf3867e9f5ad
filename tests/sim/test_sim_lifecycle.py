"""Replicas that come and go during a run (`capacity.sim.runtime`, `capacity.sim.replicas`).

A `Script` controller adds replicas (with a cold start) and drains others at given times, through the
public API of the running service. Under every discipline x routing x batching mode the run must
conserve requests (each one has exactly one outcome, nothing is left waiting), a draining replica must
take no new request and finish what it holds, a starting replica must serve nothing before its cold
start ends, and utilisation must count only the time a replica existed. A controller that does nothing
must not change a single record.

Times in the hand-made cases are multiples of 1/4 s, so float arithmetic is exact and ties are ties.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pytest

from capacity.llm import GPUS, MODELS, GpuSpec
from capacity.sim import (
    Arrivals,
    Batching,
    Failure,
    LlmServing,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    SimResult,
    TokenCount,
    Tokens,
    simulate_model,
    simulate_requests,
)
from capacity.sim.batching import BATCHERS
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.replicas import ReplicaState
from capacity.sim.routing import ROUTINGS
from capacity.sim.runtime import RunControl, ServiceRuntime

from .builders import model, service, stream

STARTING, READY, DRAINING, STOPPED, DOWN = (int(s) for s in (
    ReplicaState.STARTING, ReplicaState.READY, ReplicaState.DRAINING, ReplicaState.STOPPED,
    ReplicaState.DOWN))


@dataclass
class Script:
    """A controller: at each ``(time, action, replica name, cold start)`` add or drain that replica.

    It keeps the runtimes so that the test can look at them after the run.
    """

    actions: list[tuple[float, str, str, float]]
    service: str = "svc"
    speed: float = 1.0
    gpu: GpuSpec | None = None             # the GPU of the added replicas (an LLM engine service needs one)
    runtimes: dict[str, ServiceRuntime] = field(default_factory=dict)
    seen: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def start(self, run: RunControl) -> None:
        svc = run.service(self.service)
        self.runtimes = dict(run.services)
        for t, what, name, cold in self.actions:
            if what == "add":
                spec = Replica(name, f"node-{name}", "pool", speed=self.speed, gpu=self.gpu)
                run.at(t, partial(svc.add_replica, spec, cold))
            else:
                run.at(t, partial(svc.drain, name))
            run.at(t, lambda: self.seen.append((run.now, svc.state_counts())))


class Noop:
    """A controller that changes nothing."""

    def start(self, run: RunControl) -> None:
        pass


def outcomes(result: SimResult) -> np.ndarray:
    """Per request, how many outcomes it has (must be exactly 1)."""
    return (result.completed.astype(int) + result.refused + result.timed_out_mask + result.dropped_mask
            + result.lost_mask)


def index_of(result: SimResult, name: str) -> int:
    return result.replica_names.index(name)


def states_of(result: SimResult, name: str) -> list[tuple[int, float]]:
    assert result.timeline is not None
    k = index_of(result, name)
    rows = result.timeline.replica == k
    return list(zip(result.timeline.state[rows].tolist(), result.timeline.start_s[rows].tolist(),
                    strict=True))


def when(result: SimResult, name: str, state: int) -> float:
    """When the replica entered ``state`` (the first time)."""
    return next(t for s, t in states_of(result, name) if s == state)


# --------------------------------------------------------------------------- hand-computed traces


def test_an_added_replica_serves_the_shared_queue_once_its_cold_start_is_over() -> None:
    # svc-0 serves 0-1, 1-2, 2-3; new (added at 0.5, cold 1.0) is ready at 1.5 and takes the third
    script = Script([(0.5, "add", "new", 1.0)])
    r = simulate_requests(model(service()), stream([0.0, 0.0, 0.0, 0.0]), [script])
    new = index_of(r, "new")
    assert r.start_s.tolist() == [0.0, 1.0, 1.5, 2.0]
    assert r.replica.tolist() == [0, 0, new, 0]
    assert states_of(r, "new") == [(STARTING, 0.5), (READY, 1.5)]
    assert script.seen[0][1] == {"starting": 1, "ready": 1, "draining": 0, "stopped": 0, "down": 0}
    # it existed from 0.5 on: busy 1 s (1.5-2.5) of 9.5 s
    assert r.present_s().tolist() == [10.0, 9.5]
    assert r.utilisation()[new] == pytest.approx(1.0 / 9.5)


def test_a_replica_added_without_cold_start_is_ready_at_once() -> None:
    script = Script([(0.5, "add", "new", 0.0)])
    r = simulate_requests(model(service()), stream([0.0, 0.0, 0.75]), [script])
    new = index_of(r, "new")
    # both busy at 0.75: the third waits for svc-0 (free at 1.0)
    assert r.start_s.tolist() == [0.0, 0.5, 1.0]
    assert r.replica.tolist() == [0, new, 0]
    assert states_of(r, "new") == [(READY, 0.5)]


def test_draining_under_central_routing_finishes_its_request_and_takes_no_new_one() -> None:
    # two replicas; svc-0 drains at 0.5 while serving request 0: it finishes it (to 1.0), then stops;
    # the queue goes to svc-1 only
    script = Script([(0.5, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(service(2)), stream([0.0, 0.0, 0.25, 0.25]), [script])
    assert r.replica.tolist() == [0, 1, 1, 1]
    assert r.start_s.tolist() == [0.0, 0.0, 1.0, 2.0]
    assert states_of(r, "svc-0") == [(READY, 0.0), (DRAINING, 0.5), (STOPPED, 1.0)]
    assert r.present_s().tolist() == [1.0, 10.0]
    assert r.utilisation()[0] == 1.0


def test_draining_under_per_replica_routing_finishes_its_own_queue() -> None:
    # round-robin: requests 0, 2 go to svc-0 and 1, 3 to svc-1; svc-0 drains at 0.5 with request 2
    # waiting in its queue: it serves it (1-2), then stops; later arrivals go to svc-1 only
    script = Script([(0.5, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(service(2, routing="round-robin")),
                          stream([0.0, 0.0, 0.25, 0.25, 0.75, 0.75]), [script])
    assert r.replica.tolist() == [0, 1, 0, 1, 1, 1]
    assert r.start_s.tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 3.0]
    assert states_of(r, "svc-0") == [(READY, 0.0), (DRAINING, 0.5), (STOPPED, 2.0)]


def test_draining_the_last_replica_of_a_central_queue_loses_what_waits() -> None:
    # nothing is ready or starting after the drain: the two waiting requests are lost at 0.5, the one in
    # service completes, and a later arrival is rejected
    script = Script([(0.5, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(service()), stream([0.0, 0.0, 0.25, 2.0]), [script])
    assert r.completed.tolist() == [True, False, False, False]
    assert r.lost_mask.tolist() == [False, True, True, False]
    assert r.end_s[1:3].tolist() == [0.5, 0.5]
    assert r.refused.tolist() == [False, False, False, True]
    assert (outcomes(r) == 1).all()


def test_a_starting_replica_keeps_the_central_queue_waiting() -> None:
    # svc-0 drains at 0.5 while "new" (cold start to 2.0) is starting: the waiting request waits for it
    script = Script([(0.25, "add", "new", 1.75), (0.5, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(service()), stream([0.0, 0.0]), [script])
    assert r.replica.tolist() == [0, index_of(r, "new")]
    assert r.start_s.tolist() == [0.0, 2.0]


def test_draining_a_starting_replica_stops_it_at_once() -> None:
    script = Script([(0.5, "add", "new", 5.0), (1.0, "drain", "new", 0.0)])
    r = simulate_requests(model(service()), stream([0.0, 0.0, 7.0]), [script])
    assert states_of(r, "new") == [(STARTING, 0.5), (STOPPED, 1.0)]
    assert not (r.replica == index_of(r, "new")).any()
    assert r.present_s()[index_of(r, "new")] == 0.5


def test_a_draining_replica_that_fails_stops_when_it_recovers() -> None:
    failure = Failure(0.5, ("n0",), recover_s=1.0)
    script = Script([(0.25, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(service(2), failure), stream([0.0, 0.0, 0.0]), [script])
    # request 0 (on svc-0) is cut at 0.5 and retried: it waits for svc-1 (busy to 1.0)
    assert states_of(r, "svc-0") == [(READY, 0.0), (DRAINING, 0.25), (DOWN, 0.5), (STOPPED, 1.5)]
    assert r.retried_mask.tolist() == [True, False, False]
    assert (r.replica == 1).all()
    assert (outcomes(r) == 1).all()


def test_a_failure_takes_down_a_replica_added_on_its_node() -> None:
    failure = Failure(2.0, ("node-new",), recover_s=1.0)
    script = Script([(0.5, "add", "new", 0.0)])
    r = simulate_requests(model(service(), failure), stream([0.0, 0.0, 1.75]), [script])
    assert states_of(r, "new") == [(READY, 0.5), (DOWN, 2.0), (READY, 3.0)]
    assert r.failures[0].replicas == ("new",)
    assert (outcomes(r) == 1).all()


def test_a_draining_batcher_whose_queue_times_out_stops() -> None:
    # round-robin dynamic batching, batches of 4 or after 5 s: svc-0 holds one waiting request when it
    # drains at 0.5; the request times out at 1.0 and the replica stops (noticed at the batch timer, 5.0)
    svc = replace(service(2, routing="round-robin", timeout_s=1.0),
                  batching=Batching("dynamic", max_size=4, max_delay_s=5.0))
    script = Script([(0.5, "drain", "svc-0", 0.0)])
    r = simulate_requests(model(svc), stream([0.0, 0.25, 0.5]), [script])
    assert r.timed_out_mask.tolist() == [True, True, True]
    assert states_of(r, "svc-0") == [(READY, 0.0), (DRAINING, 0.5), (STOPPED, 5.0)]
    assert script.runtimes["svc"].state_counts()["draining"] == 0


def test_bad_lifecycle_calls_are_refused() -> None:
    def bad(run: RunControl) -> None:
        svc = run.service("svc")
        with pytest.raises(ValueError, match="already in the run"):
            svc.add_replica(Replica("svc-0", "n9", "pool"))
        with pytest.raises(ValueError, match="no replica named"):
            svc.drain("nope")
        with pytest.raises(ValueError, match="cold_start_s"):
            svc.add_replica(Replica("x", "n9", "pool"), -1.0)
        with pytest.raises(ValueError, match="no service named"):
            run.service("nope")

    @dataclass
    class Bad:
        def start(self, run: RunControl) -> None:
            bad(run)

    simulate_requests(model(service()), stream([0.0]), [Bad()])


# --------------------------------------------------------------------------- every policy


TOKENS = Tokens(TokenCount("lognormal", 120, 1.0, max=1000), TokenCount("lognormal", 20, 1.0, max=200))
LLM_GPU = GPUS["l4"]
MODES = ["none", *BATCHERS]


def policy_model(discipline: str, routing: str, mode: str, bounded: bool,
                 failures: tuple[Failure, ...] = ()) -> SimModel:
    """Two replicas of two slots at first, two classes of two tenants, ~70% load on two replicas."""
    kw: dict[str, object] = {"discipline": discipline, "routing": routing}
    if bounded:
        kw.update(max_length=6, timeout_s=0.6)
    tokens = None
    slots, gpu = 2, None
    if mode == "none":
        st = ServiceTime("lognormal", 0.1, cv=1.5)
    elif mode == "llm":                    # one engine per replica, on the slowest GPU of the catalogue
        st, slots, gpu, tokens = ServiceTime("tokens"), 1, LLM_GPU, TOKENS
        kw.update(batching=Batching(mode, max_size=256), llm=LlmServing(MODELS["llama-3-8b"]))
    elif BATCHERS[mode].tokens:
        st = ServiceTime("tokens", base_s=0.01, per_input_token_s=0.0002, per_output_token_s=0.004)
        kw.update(batching=Batching(mode, max_size=4, step_growth=0.1))
        tokens = TOKENS
    else:
        st = ServiceTime("exponential", 0.05, base_s=0.02)
        kw.update(batching=Batching(mode, max_size=4, max_delay_s=0.01))
    svc = ServingService("svc", (Replica("svc-0", "n0", "pool", gpu=gpu),
                                 Replica("svc-1", "n1", "pool", gpu=gpu)), slots, st,
                         **kw)  # type: ignore[arg-type]
    classes = (RequestClass("hi", "svc", Arrivals("poisson", 14.0), priority=0, tenant="a", weight=2.0,
                            tokens=tokens),
               RequestClass("lo", "svc", Arrivals("gamma", 10.0, cv=2.0), priority=1, tenant="b",
                            tokens=tokens))
    return SimModel((svc,), classes, duration_s=30.0, warmup_s=1.0, seed=4, failures=failures)


CASES = [(d, r, m) for d, r, m in itertools.product(DISCIPLINES, ROUTINGS, MODES)
         if m == "none" or not DISCIPLINES[d].preemptive]

SCRIPT = [(5.0, "add", "add-a", 2.0), (8.0, "add", "add-b", 0.0), (12.0, "drain", "svc-0", 0.0),
          (20.0, "drain", "add-a", 0.0), (22.0, "add", "add-c", 3.0), (24.0, "drain", "add-c", 0.0)]
"""add-a: starting 5-7, ready, drained at 20; add-b: ready from 8; add-c: drained at 24 while starting."""


@pytest.mark.parametrize("bounded", [False, True], ids=["unbounded", "bounded"])
@pytest.mark.parametrize(("discipline", "routing", "mode"), CASES)
def test_replicas_join_and_leave_under_every_policy(discipline: str, routing: str, mode: str,
                                                     bounded: bool) -> None:
    model = policy_model(discipline, routing, mode, bounded)
    script = Script(list(SCRIPT), gpu=LLM_GPU if mode == "llm" else None)
    r = simulate_model(model, [script])
    assert len(r) > 500
    # conservation: every request has exactly one outcome, nothing is left waiting or draining
    assert (outcomes(r) == 1).all()
    runtime = script.runtimes["svc"]
    assert runtime.queued() == 0
    assert runtime.state_counts() == {"starting": 0, "ready": 2, "draining": 0, "stopped": 3, "down": 0}
    done = r.completed
    assert np.all(r.end_s[done] >= r.start_s[done])
    per_replica = ROUTINGS[routing].per_replica
    for t, what, name, cold in SCRIPT:
        k = index_of(r, name)
        mine = done & (r.replica == k)
        if what == "add":
            # a starting replica serves nothing before its cold start ends
            assert np.all(r.start_s[mine] >= t + cold)
            assert when(r, name, STARTING if cold else READY) == t
            if name != "add-c":
                assert when(r, name, READY) == t + cold
            continue
        stop = when(r, name, STOPPED)
        assert stop >= t
        # a draining replica takes no new request (under a per-replica routing it serves those already
        # routed to it) and finishes what it holds before it stops
        if per_replica:
            assert np.all(r.arrival_s[mine] <= t)
        else:
            assert np.all(r.start_s[mine] <= t)
        assert np.all(r.end_s[mine] <= stop)
    # utilisation counts only the time each replica existed
    lo, hi = r.window_s
    expected = {"svc-0": when(r, "svc-0", STOPPED) - lo, "svc-1": hi - lo,
                "add-a": when(r, "add-a", STOPPED) - 5.0, "add-b": hi - 8.0, "add-c": 24.0 - 22.0}
    present = r.present_s()
    for name, seconds in expected.items():
        assert present[index_of(r, name)] == pytest.approx(seconds)
    util = r.utilisation()
    assert np.all(util <= 1.0 + 1e-9)
    assert util[index_of(r, "add-c")] == 0.0              # drained while starting: never served


@pytest.mark.parametrize(("discipline", "routing", "mode"),
                         [c for c in CASES if c[0] in ("fifo", "preemptive", "drr")])
def test_replicas_join_and_leave_with_failures(discipline: str, routing: str, mode: str) -> None:
    failures = (Failure(9.0, ("node-add-b",), recover_s=2.0), Failure(14.0, ("n1",), recover_s=1.0),
                Failure(21.0, ("node-add-a",)))
    model = policy_model(discipline, routing, mode, True, failures)
    script = Script(list(SCRIPT), gpu=LLM_GPU if mode == "llm" else None)
    r = simulate_model(model, [script])
    assert (outcomes(r) == 1).all()
    runtime = script.runtimes["svc"]
    assert runtime.queued() == 0
    assert runtime.state_counts()["draining"] == 0
    assert r.failures[0].replicas == ("add-b",)
    # add-a drains from 20: stopped by 21, the failure passes it by; still draining, it stays down
    last = states_of(r, "add-a")[-1]
    if last[0] == STOPPED:
        assert last[1] <= 21.0 and r.failures[2].replicas == ()
    else:
        assert last == (DOWN, 21.0) and r.failures[2].replicas == ("add-a",)


@pytest.mark.parametrize("failures", [False, True], ids=["plain", "failures"])
@pytest.mark.parametrize(("discipline", "routing", "mode"), CASES)
def test_a_controller_that_does_nothing_changes_nothing(discipline: str, routing: str, mode: str,
                                                        failures: bool) -> None:
    failure = (Failure(6.0, ("n1",), recover_s=3.0),) if failures else ()
    model = policy_model(discipline, routing, mode, True, failure)
    before, after = simulate_model(model), simulate_model(model, [Noop()])
    for name in ("cls", "start_s", "end_s", "replica", "busy_s", "served", "timed_out_mask",
                 "lost_mask", "retried_mask"):
        a, b = getattr(before, name), getattr(after, name)
        assert a.tobytes() == b.tobytes(), name
    assert after.utilisation().tolist() == (after.busy_s / (after.replica_slots * 29.0)).tolist()


def test_a_service_without_replicas_can_get_some() -> None:
    svc = replace(service(), replicas=())
    script = Script([(2.0, "add", "late", 1.0)])
    r = simulate_requests(model(svc), stream([0.0, 3.0, 3.0]), [script])
    assert r.refused.tolist() == [True, False, False]
    assert r.start_s[1:].tolist() == [3.0, 4.0]
    assert r.replica_names == ("late",)
