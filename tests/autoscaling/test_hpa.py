"""The HPA against hand computation: Kubernetes' formulas, a load step, cold starts, nodes and cost.

Sources of the expected figures: https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
(algorithm, tolerance, default behavior) and the controller code (``horizontal.go``,
``replica_calculator.go``), as cited in `capacity.autoscaling.hpa`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from capacity import autoscaling as A
from capacity import sim
from capacity.autoscaling.hpa import proposal, scale_down_limit, scale_up_limit
from capacity.autoscaling.model import HPA_SCALE_DOWN, HPA_SCALE_UP
from capacity.sim.replicas import ReplicaState

# --------------------------------------------------------------------------------------------- formulas


def test_proposal_is_ceil_of_ratio_times_ready_outside_the_tolerance():
    # docs: "desiredReplicas = ceil[currentReplicas * ( currentMetricValue / desiredMetricValue )]"
    assert proposal(4, 4, 0.9, 0.5, 0.1) == (8, "metric")  # ceil(4 × 1.8) = 8
    assert proposal(4, 4, 0.54, 0.5, 0.1) == (4, "tolerance")  # ratio 1.08: within 10 %
    assert proposal(4, 4, 0.56, 0.5, 0.1) == (5, "metric")  # ratio 1.12: ceil(4.48)
    assert proposal(10, 10, 0.2, 0.5, 0.1) == (4, "metric")  # ratio 0.4: ceil(4)
    # docs: "200m current, 100m target → doubled"; "50m current, 100m target → halved"
    assert proposal(3, 3, 200.0, 100.0, 0.1) == (6, "metric")
    assert proposal(4, 4, 50.0, 100.0, 0.1) == (2, "metric")


def test_unready_replicas_count_as_zero_when_scaling_up():
    # 4 ready at ratio 2, 4 more not ready yet: ratio' = 2 × 4/8 = 1 → within tolerance, no change
    assert proposal(8, 4, 1.0, 0.5, 0.1) == (8, "unready")
    # ratio 3 with 4 ready of 6: ratio' = 3 × 4/6 = 2 → ceil(2 × 6) = 12
    assert proposal(6, 4, 1.5, 0.5, 0.1) == (12, "metric")
    # scaling down ignores the unready ones: ceil(0.4 × 4) = 2
    assert proposal(6, 4, 0.2, 0.5, 0.1) == (2, "metric")


def test_default_behavior_limits():
    # scale up: max(4 pods, 100 %) per 15 s from the replicas at the start of the period
    assert scale_up_limit(1, [], [], HPA_SCALE_UP, 100.0) == 5  # max(1 + 4, 2)
    assert scale_up_limit(10, [], [], HPA_SCALE_UP, 100.0) == 20  # max(14, 20)
    assert scale_up_limit(10, [(90.0, 5)], [], HPA_SCALE_UP, 100.0) == 10  # started at 5: max(9, 10)
    assert scale_up_limit(10, [(85.0, 5)], [], HPA_SCALE_UP, 100.0) == 20  # 15 s ago: outside the period
    # scale down: 100 % per 15 s, so down to 0 (then min)
    assert scale_down_limit(10, [], [], HPA_SCALE_DOWN, 100.0) == 0


# --------------------------------------------------------------------------------------------- a load step

LAMBDA_1, LAMBDA_2, MEAN_S, TARGET, COLD_S, PROVISION_S = 10.0, 30.0, 0.5, 0.5, 30.0, 120.0
STEP_AT, DURATION = 900.0, 2400.0


def step_run(
    seed: int,
    node_cpu: float = 8.0,
    nodes: int = 2,
    pool_max: int = 10,
    cold_s: float = COLD_S,
    scaling: bool = True,
):
    """A load step λ 10/s → 30/s at 900 s, exponential service of mean 0.5 s, one slot per replica,
    HPA on utilisation 50 % over a 60 s window; replicas of 1 cpu on 8-cpu nodes (2 at first)."""
    replicas = tuple(sim.Replica(f"svc-{i}", f"n{i % nodes}", "cpu") for i in range(10))
    svc = sim.ServingService("svc", replicas, 1, sim.ServiceTime("exponential", MEAN_S))
    cls = sim.RequestClass(
        "c",
        "svc",
        sim.Arrivals("steps", 0.0, steps=((0.0, LAMBDA_1), (STEP_AT, LAMBDA_2))),
        slo_target_s=5.0,
        slo_quantile=0.99,
    )
    model = sim.SimModel((svc,), (cls,), duration_s=DURATION, warmup_s=60.0, seed=seed)
    spec = A.ServiceScaling(
        "svc",
        "hpa",
        1,
        60,
        "utilisation",
        TARGET,
        {"cpu": 1.0},
        window_s=60.0,
        cold_start=A.ColdStart(cold_s),
    )
    pool = A.PoolSpec(
        "cpu",
        {"cpu": node_cpu},
        cost=2.5,
        autoscaling=A.PoolScaling(1, pool_max, PROVISION_S) if scaling else None,
    )
    cluster = A.ClusterSpec((pool,), tuple((f"n{k}", "cpu") for k in range(nodes)))
    result, controller = A.simulate(model, A.AutoscalingModel((spec,), cluster))
    return model, result, controller


@pytest.fixture(scope="module", params=[1, 2, 3])
def step(request):
    return step_run(request.param)


def test_each_sync_applies_the_formula_to_the_measured_metric(step):
    """At every sync the new count is the HPA formula on the metric it read, stabilized and limited by the
    default behavior: recomputed here from the logged view (ready, current) and the metric, with the
    documentation's rules, not by calling the scaler."""
    _, _, controller = step
    loop = controller.loops["svc"]
    syncs = [v.now for v, _ in loop.decisions]
    assert syncs == [15.0 * k for k in range(1, len(syncs) + 1)]  # every sync period
    proposals: list[tuple[float, int]] = [(15.0, loop.decisions[0][0].current)]  # the initial window
    changes: list[tuple[float, int]] = []
    checked = 0
    for view, rec in loop.decisions:
        if rec.metric is None:
            continue
        ratio = rec.metric / TARGET
        if view.current == view.ready or ratio <= 1:
            formula = view.current if abs(1 - ratio) <= 0.1 else math.ceil(ratio * view.ready)
        else:
            adjusted = ratio * view.ready / view.current
            formula = (
                view.current
                if abs(1 - adjusted) <= 0.1 or adjusted < 1
                else math.ceil(adjusted * view.current)
            )
        proposals.append((view.now, formula))
        if formula >= view.current:
            stabilized = formula  # scale-up window: 0 s
        else:  # the largest proposal of the last 300 s
            stabilized = min(view.current, max(f for t, f in proposals if t > view.now - 300.0))
        if stabilized > view.current:
            start = view.current - sum(d for t, d in changes if t > view.now - 15.0)
            expected = min(stabilized, 60, max(view.current, start + 4, 2 * start))
        else:
            expected = max(stabilized, 1)  # 100 % per 15 s down, then min
        assert rec.desired == expected, (view, rec, formula)
        checked += 1
        if rec.desired != view.current:
            changes.append((view.now, rec.desired - view.current))
    assert checked >= len(loop.decisions) - 1
    assert any(d > 0 for _, d in changes)


def test_it_settles_at_the_offered_load_over_the_target(step):
    """After the step, the replicas settle where utilisation is within 10 % of the target:
    ceil(λ·E[S] / (c·target)) = 30, and every count in the last 10 minutes is inside the tolerance band
    λ·E[S]/(c·target·1.1) .. λ·E[S]/(c·target·0.9), widened by the metric's sampling error (3 standard
    deviations of a 60 s average of the busy count: sqrt(2·L·E[S]/60) for L = 15 erlangs)."""
    _, _, controller = step
    loop = controller.loops["svc"]
    load = LAMBDA_2 * MEAN_S
    assert math.ceil(load / TARGET) == 30
    noise = 3 * math.sqrt(2 * load * MEAN_S / 60.0)
    low, high = (load - noise) / (TARGET * 1.1), (load + noise) / (TARGET * 0.9)
    late = [v.current for v, _ in loop.decisions if v.now >= DURATION - 600.0]
    assert late and all(math.floor(low) <= n <= math.ceil(high) for n in late), (late, low, high)
    assert abs(np.mean(late) - load / TARGET) <= 0.15 * load / TARGET


def test_first_new_replica_is_ready_cold_start_after_the_first_scale_up(step):
    _, result, controller = step
    loop = controller.loops["svc"]
    first = next(e for e in loop.events if e.to > e.from_)
    added = f"svc-{10}"  # the plan's replicas are svc-0..svc-9
    k = result.replica_names.index(added)
    tl = result.timeline
    rows = tl.replica == k
    states = dict(zip(tl.state[rows].tolist(), tl.start_s[rows].tolist(), strict=False))
    assert states[int(ReplicaState.STARTING)] == first.t_s  # placed at once: room on n0/n1
    assert states[int(ReplicaState.READY)] == first.t_s + COLD_S


def test_nodes_are_added_only_for_pending_replicas_provision_later(step):
    _, _, controller = step
    cluster = controller.cluster
    pending = controller.loops["svc"].pending
    added = [n for n in cluster.nodes if n.created_s > 0]
    assert added, "the step needs more nodes than the plan's"
    for node in added:
        before = [c for t, c in pending if t <= node.created_s]
        assert before and before[-1] > 0, f"{node.name} added at {node.created_s} with nothing pending"
        assert node.ready_s == node.created_s + PROVISION_S
        assert node.created_s % 10.0 == 0.0  # at a scan of the node autoscaler
    first = min(added, key=lambda n: n.created_s)
    # the replicas placed on it start at its ready time (not before)
    placed = [p for p in controller.loops["svc"].pods.values() if p.placed_s is not None and p.node is first]
    assert all(p.placed_s >= first.ready_s for p in placed)


def test_cost_is_the_integral_of_nodes_times_price(step):
    """Computed independently from each node's own life (created → deleted), not from the count series."""
    model, result, controller = step
    out = A.summarize_autoscaling(model, result, controller)
    lo, hi = model.warmup_s, model.duration_s
    seconds = sum(
        max(0.0, min(n.deleted_s if n.deleted_s is not None else math.inf, hi) - max(n.created_s, lo))
        for n in controller.cluster.nodes
    )
    assert out["pools"]["cpu"]["node_hours"] == pytest.approx(seconds / 3600.0, rel=1e-11)
    assert out["cost"] == pytest.approx(2.5 * seconds / 3600.0, rel=1e-11)
    series = out["pools"]["cpu"]["nodes"]
    assert series["count"][0] == 2 and series["t_s"][0] == 0.0


def test_requests_are_conserved_and_slo_windows_reported(step):
    model, result, controller = step
    outcomes = (
        result.completed.astype(int)
        + result.refused
        + result.timed_out_mask
        + result.dropped_mask
        + result.lost_mask
    )
    assert np.all(outcomes == 1)
    out = A.summarize_autoscaling(model, result, controller)
    slo = out["slo"]["c"]
    assert len(slo["t_s"]) == len(slo["attainment"]) == len(slo["missed"]) == 60


def test_a_run_is_deterministic():
    a = step_run(5)
    b = step_run(5)
    assert np.array_equal(a[1].start_s, b[1].start_s, equal_nan=True)
    assert A.summarize_autoscaling(*a) == A.summarize_autoscaling(*b)


def test_autoscaling_that_never_changes_anything_changes_no_record():
    """min = max = the plan's replicas: every record is the plain run's (the engine's general path with a
    controller gives the fast path's figures)."""
    replicas = tuple(sim.Replica(f"svc-{i}", "n0", "cpu") for i in range(3))
    svc = sim.ServingService("svc", replicas, 2, sim.ServiceTime("lognormal", 0.1, cv=1.5))
    cls = sim.RequestClass("c", "svc", sim.Arrivals("poisson", 40.0))
    model = sim.SimModel((svc,), (cls,), duration_s=300.0, warmup_s=30.0, seed=11)
    plain = sim.simulate_model(model)
    spec = A.ServiceScaling("svc", "hpa", 3, 3, "utilisation", 0.5, {"cpu": 1.0})
    cluster = A.ClusterSpec((A.PoolSpec("cpu", {"cpu": 8.0}),), (("n0", "cpu"),))
    scaled, controller = A.simulate(model, A.AutoscalingModel((spec,), cluster))
    assert not controller.loops["svc"].events
    for key in ("arrival_s", "start_s", "end_s", "replica"):
        assert np.array_equal(getattr(plain, key), getattr(scaled, key), equal_nan=True), key


def test_the_section_is_declared_in_the_report_model(step):
    from capacity.report.model import Autoscaling

    model, result, controller = step
    section = Autoscaling.model_validate(A.summarize_autoscaling(model, result, controller))
    assert section.services["svc"].events[0].from_ == 10
    assert set(section.pools["cpu"].nodes.model_dump()) == {"t_s", "count"}
    assert set(section.services["svc"].replicas.model_dump()) >= {"t_s", "ready", "starting"}


def test_the_plot_and_the_html_show_the_run(step):
    from capacity.report import plots
    from capacity.report.html import _autoscaling
    from capacity.report.model import Report
    from capacity.report.summary import simulation_section

    model, result, controller = step
    simulation = {
        **sim.summarize(model, result),
        "autoscaling": A.summarize_autoscaling(model, result, controller),
    }
    section = simulation_section(simulation)  # the typed section (checked)
    assert section is not None and section.autoscaling is not None
    report = Report.model_construct(simulation=section)  # a report of the simulation alone
    fig = plots.figure("autoscaling.png", report)
    ax, right = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "load (requests/s, measured classes)" in labels and "cpu nodes" in labels
    assert "svc replicas ready" in labels
    load = ax.lines[0].get_ydata()
    assert max(load) > 2 * min(load)  # the step is drawn
    ready = next(line for line in right.lines if line.get_label() == "svc replicas ready")
    assert 10 < max(ready.get_ydata()) <= simulation["autoscaling"]["services"]["svc"]["peak"]
    page = _autoscaling(section.autoscaling)
    assert "<h2>Autoscaling</h2>" in page and "<td>svc</td><td>hpa</td>" in page


def down_run(seed: int):
    """30/s for 10 min, then 2/s: 15 erlangs then 1 (0.5 s services), HPA at 50 % over 60 s; 4-cpu nodes of
    1-cpu replicas, nodes unneeded for 2 min removed (threshold 50 %), 1 node at least."""
    replicas = tuple(sim.Replica(f"svc-{i}", f"n{i // 4}", "cpu") for i in range(32))
    svc = sim.ServingService("svc", replicas, 1, sim.ServiceTime("exponential", MEAN_S))
    arrivals = sim.Arrivals("steps", 0.0, steps=((0.0, 30.0), (600.0, 2.0)))
    model = sim.SimModel((svc,), (sim.RequestClass("c", "svc", arrivals),), duration_s=2400.0, seed=seed)
    spec = A.ServiceScaling(
        "svc", "hpa", 1, 40, "utilisation", TARGET, {"cpu": 1.0}, window_s=60.0, cold_start=A.ColdStart(10.0)
    )
    pool = A.PoolSpec("cpu", {"cpu": 4.0}, cost=1.0, autoscaling=A.PoolScaling(1, 12, 60.0, 120.0, 0.5))
    cluster = A.ClusterSpec((pool,), tuple((f"n{k}", "cpu") for k in range(8)))
    result, controller = A.simulate(model, A.AutoscalingModel((spec,), cluster))
    return model, result, controller


@pytest.mark.parametrize("seed", [1, 2])
def test_scale_down_drains_replicas_and_removes_unneeded_nodes(seed):
    _, result, controller = down_run(seed)
    loop, cluster = controller.loops["svc"], controller.cluster
    first_down = next(e.t_s for e in loop.events if e.to < e.from_ and e.t_s >= 600.0)
    # no scale-down within 300 s of the drop's first lower proposal: the stabilization window
    assert first_down >= 600.0 + 300.0 - 60.0
    deleted = [n for n in cluster.nodes if n.deleted_s is not None]
    assert deleted, "the load drop must free nodes"
    tl = result.timeline
    for node in deleted:
        # unneeded for scale_down_after (120 s) first: never before the replicas began to go
        assert node.deleted_s >= first_down + 120.0
        # every replica that ran on it had stopped by then (drained, not cut)
        on_node = [r.index for r in loop.runtime.fleet.replicas if r.node == node.name]
        for k in on_node:
            rows = (tl.replica == k) & (tl.state == int(ReplicaState.STOPPED))
            assert rows.any() and tl.start_s[rows].min() <= node.deleted_s
    # what is left: the nodes the remaining replicas need (4 per node), at least the pool's minimum
    live = [n for n in cluster.nodes if n.deleted_s is None]
    final = loop.decisions[-1][1].desired
    assert max(1, math.ceil(final / 4)) <= len(live) <= math.ceil(final / 4) + 1
    # requests: none lost or refused by the draining
    assert result.completed.all()
