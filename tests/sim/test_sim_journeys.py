"""Requests that travel a path (`capacity.sim.journeys`): stage order, fork-join, repeats, delays,
per-class service times, end-to-end failures, tokens, determinism and the one-stop shorthand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from capacity.sim import simulate_model
from capacity.sim.journeys import (
    COMPLETED,
    LOST,
    NOT_REACHED,
    REJECTED,
    PathResult,
    simulate_journeys,
    stage_rates,
)
from capacity.sim.model import (
    Arrivals,
    Batching,
    Delay,
    Parallel,
    Repeat,
    RepeatCount,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    Stage,
    TokenCount,
    Tokens,
    Visit,
)


def svc(name: str, st: ServiceTime, replicas: int = 1, slots: int = 4, **kw: object) -> ServingService:
    reps = tuple(Replica(f"{name}-{i}", f"{name}-node-{i}", "pool") for i in range(replicas))
    return ServingService(name, reps, slots, st, **kw)  # type: ignore[arg-type]


def fixed(mean: float) -> ServiceTime:
    return ServiceTime("deterministic", mean)


def model(
    path: tuple[Stage, ...],
    services: tuple[ServingService, ...],
    *,
    rate: float = 0.5,
    duration: float = 200.0,
    seed: int = 3,
    **cls: object,
) -> SimModel:
    first = path[0]
    while not isinstance(first, Visit):
        first = first.branches[0][0] if isinstance(first, Parallel) else first.stages[0]
    c = RequestClass("x", first.service, Arrivals("deterministic", rate), path=path, **cls)  # type: ignore[arg-type]
    return SimModel(services, (c,), duration_s=duration, seed=seed)


TWO = (svc("a", fixed(0.3)), svc("b", fixed(0.5)), svc("c", fixed(0.2)))


def test_a_sequence_visits_its_stages_in_order_with_delays() -> None:
    """Arrivals every 2 s, fixed times, no queueing: latency = the sum of delays and service times."""
    r = simulate_journeys(model((Visit("a"), Visit("b", Delay("deterministic", 0.25)), Visit("c")), TWO))
    assert r.completed.all()
    np.testing.assert_allclose(r.latency_s, 0.3 + 0.25 + 0.5 + 0.2)
    # each visit arrives when the one before it ended, plus its hop's delay
    v = r.visits
    for req in range(3):
        mine = np.flatnonzero(r.visit_request == req)
        assert [r.nodes[n][1].label for n in r.visit_node[mine]] == ["a", "b", "c"]
        np.testing.assert_allclose(v.arrival_s[mine[1:]], v.end_s[mine[:-1]] + r.visit_delay_s[mine[1:]])


def test_fork_join_waits_for_all_or_the_first_branch() -> None:
    branches = ((Visit("b"),), (Visit("a"), Visit("c")))
    both = simulate_journeys(model((Parallel(branches, "all"),), TWO))
    np.testing.assert_allclose(both.latency_s, max(0.5, 0.3 + 0.2))
    first = simulate_journeys(model((Parallel(branches, "any"), Visit("c")), TWO))
    np.testing.assert_allclose(first.latency_s, 0.5 + 0.2)  # a→c (0.5) ties b (0.5); then c 0.2
    slow = simulate_journeys(model((Parallel(((Visit("b"),), (Visit("c"),)), "any"), Visit("a")), TWO))
    np.testing.assert_allclose(slow.latency_s, 0.2 + 0.3)
    # the slower branch still runs: every visit completed
    assert (slow.visit_outcome() == COMPLETED).all()


def test_a_fixed_repeat_runs_its_stages_that_many_times() -> None:
    r = simulate_journeys(model((Repeat(RepeatCount("fixed", 3), (Visit("a"), Visit("c"))),), TWO, rate=0.2))
    np.testing.assert_allclose(r.latency_s, 3 * (0.3 + 0.2))
    assert np.bincount(r.visit_request).tolist() == [6] * len(r.request_cls)


def test_a_geometric_repeat_has_the_stated_mean_and_is_reproducible() -> None:
    m = model(
        (Repeat(RepeatCount("geometric", 2.5), (Visit("a"),)),), TWO, rate=1.0, duration=4000.0, seed=11
    )
    r = simulate_journeys(m)
    counts = np.bincount(r.visit_request)
    n = len(counts)
    # geometric with mean 2.5: variance (1 - p)/p² = 3.75; 5 standard errors
    assert abs(counts.mean() - 2.5) < 5 * np.sqrt(3.75 / n)
    assert counts.min() >= 1
    again = simulate_journeys(m)
    np.testing.assert_array_equal(again.visits.end_s, r.visits.end_s)
    np.testing.assert_array_equal(again.request_end_s, r.request_end_s)


def test_a_class_may_override_a_services_time() -> None:
    m = model((Visit("a"), Visit("b")), TWO, service_times=(("b", fixed(0.05)),))
    r = simulate_journeys(m)
    np.testing.assert_allclose(r.latency_s, 0.3 + 0.05)


def test_a_rejection_at_any_stage_fails_the_request_end_to_end() -> None:
    """Service b has one slot and no queue; a's replies arrive faster than b serves: some are refused
    at b, their requests fail, and the stage after b is never reached for them."""
    services = (
        svc("a", fixed(0.1), slots=8),
        svc("b", fixed(1.0), slots=1, max_length=0),
        svc("c", fixed(0.1)),
    )
    r = simulate_journeys(model((Visit("a"), Visit("b"), Visit("c")), services, rate=2.0))
    outcome = r.visit_outcome()
    label = np.array([r.nodes[n][1].label for n in r.visit_node])
    refused_b = (label == "b") & (outcome == REJECTED)
    assert refused_b.any()
    failed = ~r.completed
    np.testing.assert_array_equal(np.flatnonzero(failed), np.sort(r.visit_request[refused_b]))
    np.testing.assert_array_equal(
        np.isin(r.visit_request[label == "c"], r.visit_request[refused_b]),
        outcome[label == "c"] == NOT_REACHED,
    )
    # each service sees the visits that reached it
    rates = stage_rates(r)
    assert rates["a"] == pytest.approx(2.0, rel=0.01)
    assert rates["c"] == pytest.approx(rates["b"] * (1 - refused_b.sum() / (label == "b").sum()), rel=0.05)


def test_tokens_travel_with_the_request_to_a_token_service() -> None:
    tok = ServiceTime("tokens", base_s=0.01, per_input_token_s=0.001, per_output_token_s=0.01)
    services = (svc("a", fixed(0.1)), svc("llm", tok))
    tokens = Tokens(TokenCount("exponential", 100.0), TokenCount("exponential", 20.0))
    r = simulate_journeys(model((Visit("a"), Visit("llm")), services, tokens=tokens))
    llm = r.visits.cls == 1
    assert r.visits.input_tokens is not None and r.visits.output_tokens is not None
    expect = 0.01 + 0.001 * r.visits.input_tokens[llm] + 0.01 * r.visits.output_tokens[llm]
    np.testing.assert_allclose(r.visits.service_s[llm], expect)
    per_request = r.visits.input_tokens[r.visits.cls == 0]
    np.testing.assert_array_equal(per_request, r.visits.input_tokens[llm])


def test_one_stop_path_is_the_service_shorthand_byte_for_byte() -> None:
    base = SimModel(
        (svc("a", ServiceTime("exponential", 0.9), slots=1),),
        (RequestClass("x", "a", Arrivals("poisson", 1.0)),),
        duration_s=500.0,
        seed=5,
    )
    with_path = dataclasses.replace(base, classes=(dataclasses.replace(base.classes[0], path=(Visit("a"),)),))
    one, two = simulate_model(base), simulate_model(with_path)
    for field in ("cls", "arrival_s", "service_s", "start_s", "end_s", "replica", "busy_s"):
        assert getattr(one, field).tobytes() == getattr(two, field).tobytes()


def test_the_one_stop_engine_refuses_a_travelling_class() -> None:
    with pytest.raises(ValueError, match="simulate_journeys"):
        simulate_model(model((Visit("a"), Visit("b")), TWO))


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ((Visit("a"), Visit("nope")), "classes.x.path.1.service"),
        ((Repeat(RepeatCount("fixed", 0), (Visit("a"),)),), "classes.x.path.0.repeat"),
        ((Repeat(RepeatCount("geometric", 0.5), (Visit("a"),)),), "classes.x.path.0.repeat.mean"),
        ((Visit("a"), Parallel(())), "classes.x.path.1.parallel"),
        ((Visit("a", Delay("deterministic", -1.0)),), "classes.x.path.0.delay.mean_s"),
    ],
)
def test_bad_paths_are_refused_naming_the_field(path: tuple[Stage, ...], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field.replace('.', '[.]')}:"):
        simulate_journeys(model(path, TWO))


def test_the_class_service_must_be_the_path_entry() -> None:
    m = model((Visit("a"), Visit("b")), TWO)
    bad = dataclasses.replace(m, classes=(dataclasses.replace(m.classes[0], service="b"),))
    with pytest.raises(ValueError, match=r"^classes\.x\.service:"):
        simulate_journeys(bad)


def test_the_stage_breakdown_adds_up_to_the_end_to_end_latency() -> None:
    """A sequential path with queueing (Poisson arrivals, exponential times) and a repeat: each request's
    latency is the sum of its visits' delays, waits and service times, so the means add up exactly."""
    from capacity.sim.path_metrics import summarize_paths

    services = (
        svc("a", ServiceTime("exponential", 0.3), slots=1),
        svc("b", ServiceTime("exponential", 0.2), slots=1),
    )
    path: tuple[Stage, ...] = (
        Visit("a", Delay("exponential", 0.05)),
        Repeat(RepeatCount("geometric", 2.0), (Visit("b", Delay("deterministic", 0.01)),)),
    )
    m = model(path, services, rate=1.5, duration=2000.0, slo_target_s=2.0, slo_quantile=0.9)
    m = dataclasses.replace(
        m, classes=(dataclasses.replace(m.classes[0], arrivals=Arrivals("poisson", 1.5)),)
    )
    s = summarize_paths(simulate_journeys(m))
    x = s["classes"]["x"]
    assert x["failed"] == 0 and x["completed"] == x["arrived"] > 2000
    parts = sum(
        st["visits_per_request"] * (st["delay_s"] + st["wait_s"] + st["service_s"])
        for st in x["stages"].values()
    )
    assert parts == pytest.approx(x["latency_s"]["mean"], rel=1e-9)
    assert x["stages"]["b"]["visits_per_request"] == pytest.approx(2.0, rel=0.1)
    assert x["slo"]["target_s"] == 2.0 and 0 < x["slo"]["attained"] <= 1
    # each service sees the class's rate times its visit ratio
    assert s["services"]["b"]["arrival_rate_per_s"] == pytest.approx(
        s["services"]["a"]["arrival_rate_per_s"] * x["stages"]["b"]["visits_per_request"], rel=0.02
    )


def test_failures_are_counted_per_stage_and_per_class() -> None:
    from capacity.sim.path_metrics import summarize_paths

    services = (
        svc("a", fixed(0.1), slots=8),
        svc("b", fixed(1.0), slots=1, max_length=0),
        svc("c", fixed(0.1)),
    )
    s = summarize_paths(simulate_journeys(model((Visit("a"), Visit("b"), Visit("c")), services, rate=2.0)))
    x = s["classes"]["x"]
    assert x["failed"] > 0
    assert x["failed_by"]["rejected"] == x["failed"] == x["stages"]["b"]["failed"]
    assert x["stages"]["a"]["failed"] == x["stages"]["c"]["failed"] == 0
    assert x["stages"]["c"]["visits_per_request"] * x["arrived"] == pytest.approx(x["completed"])


@pytest.mark.parametrize(
    "batching", [Batching("dynamic", max_size=4, max_delay_s=0.01), Batching("continuous", max_size=4)]
)
def test_a_batching_stage_reports_its_completions(batching: Batching) -> None:
    """A batcher's finished requests open their gates too (`Batcher.finish` → on_complete): every request
    passes the batching stage and the stage after it, after the batch's end."""
    st = (
        ServiceTime("deterministic", 0.02)
        if batching.mode == "dynamic"
        else ServiceTime("tokens", base_s=0.01, per_input_token_s=0.0001, per_output_token_s=0.005)
    )
    services = (svc("a", fixed(0.01)), svc("b", st, batching=batching), svc("c", fixed(0.01)))
    tokens = Tokens(TokenCount("deterministic", 50.0), TokenCount("deterministic", 8.0))
    r = simulate_journeys(model((Visit("a"), Visit("b"), Visit("c")), services, rate=5.0, tokens=tokens))
    assert r.completed.all() and len(r.request_cls) > 500
    v = r.visits
    for before, after in ((0, 1), (1, 2)):
        first, then = np.flatnonzero(v.cls == before), np.flatnonzero(v.cls == after)
        np.testing.assert_array_equal(r.visit_request[first], r.visit_request[then])
        np.testing.assert_allclose(v.arrival_s[then], v.end_s[first])


def test_a_failed_node_with_retries_delays_requests_but_loses_none() -> None:
    """A what-if failure on a stage's node: with ``retry`` the requests on it are served elsewhere and
    their journeys go on; with ``lost`` those requests fail end to end, counted as lost."""
    from capacity.sim.model import Failure

    def run(on_failure: str) -> PathResult:
        services = (
            svc("a", fixed(0.05)),
            svc("b", fixed(0.5), replicas=2, slots=2, on_failure=on_failure),
            svc("c", fixed(0.05)),
        )
        m = model((Visit("a"), Visit("b"), Visit("c")), services, rate=4.0)
        return simulate_journeys(dataclasses.replace(m, failures=(Failure(50.0, ("b-node-0",), 20.0),)))

    retried, lost = run("retry"), run("lost")
    assert retried.completed.all()
    outcome = lost.visit_outcome()
    assert (outcome == LOST).any()
    assert (~lost.completed).sum() == (outcome == LOST).sum()
