"""Every plotting function on real results: what it draws matches the report's numbers."""

import json
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from capacity import pipeline
from capacity.report import plots
from capacity.report.series import full_report
from capacity.report.writers import to_json

from .report_cases import fleet_run, overload_run, seed_run


def _axes():
    fig = Figure(figsize=(10, 5))
    return fig, fig.add_subplot()


def _saved(result):
    """The report as ``capacity report DIR`` reads it back: through JSON, keys sorted."""
    return json.loads(to_json(full_report(result)))


def _values(xs):
    """Rounded values, NaN as None (NaN != NaN would make equal plots differ)."""
    return [None if np.isnan(v) else round(v, 9) for v in np.asarray(xs, dtype=float).tolist()]


def _fingerprint(fig):
    """What a figure draws, without rendering it: lines, rectangles and legend texts of every axes."""
    out = []
    for ax in fig.axes:
        lines = [(_values(line.get_xdata()), _values(line.get_ydata()), str(line.get_color()),
                  str(line.get_marker()), str(line.get_linestyle())) for line in ax.lines]
        rects = [(round(p.get_x(), 9), round(p.get_y(), 9), round(p.get_width(), 9), round(p.get_height(), 9),
                  tuple(p.get_facecolor()), p.get_hatch()) for p in ax.patches if isinstance(p, Rectangle)]
        legend = [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
        out.append((lines, rects, legend, ax.get_title(), ax.get_xlabel(), ax.get_ylabel()))
    return out


@pytest.mark.parametrize("make", [seed_run, fleet_run, overload_run], ids=["seed", "fleet", "overload"])
def test_every_plot_draws_the_same_from_a_run_and_from_its_saved_report(make):
    """Colours and order survive report.json (it sorts keys): byte-equal PNGs are checked in the CLI test."""
    live, saved = full_report(make()), _saved(make())
    always = [name for name, spec in plots.PLOTS.items() if spec.needs is None]  # autoscaling: own test
    assert plots.available(live) == always == plots.available(saved)
    for name in always:
        a, b = _fingerprint(plots.figure(name, live)), _fingerprint(plots.figure(name, saved))
        assert a == b, f"{name} differs once the report went through report.json"
        assert any(lines or rects for lines, rects, *_ in a)


def _bar_totals(ax):
    """Sum of stacked bar heights per bar position (x centre rounded)."""
    totals = defaultdict(float)
    for p in ax.patches:
        if isinstance(p, Rectangle) and p.get_height() > 0:
            totals[round(p.get_x() + p.get_width() / 2, 6)] += p.get_height()
    return totals


@pytest.mark.parametrize("make", [seed_run, fleet_run], ids=["seed", "fleet"])
def test_node_usage_stacks_add_up_to_the_allocated_and_busy_shares(make):
    report = full_report(make())
    _, ax = _axes()
    plots.node_usage(ax, report)
    totals = _bar_totals(ax)
    nodes = report["placement"]["nodes"]
    resources = plots._resources(nodes)
    bars = [*resources, "busy"]
    width = 0.8 / len(bars)
    for i, node in enumerate(nodes):
        for k, bar in enumerate(bars):
            x = round(i + (k - (len(bars) - 1) / 2) * width, 6)
            if bar == "busy":
                want = 100 * report["simulation"]["nodes"][node["name"]]["utilisation"]
            else:
                want = 100 * node["allocated"].get(bar, 0.0)
            assert totals.get(x, 0.0) == pytest.approx(want, abs=1e-6), (node["name"], bar)


def test_placement_map_draws_every_replica_and_the_stranded_capacity():
    report = full_report(fleet_run())
    demand = {s.name: s.resources for s in report.input.scenario.services}
    _, ax = _axes()
    plots.placement_map(ax, report)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    blocks = [p for p in rects if p.get_hatch() is None and p.get_fill() and p.get_height() < 100]
    stranded = [p for p in rects if p.get_hatch() == "xxx"]
    want_blocks = want_stranded = 0
    for node in report["placement"]["nodes"]:
        for r, cap in node["capacity"].items():
            if cap <= 0:
                continue
            want_blocks += sum(1 for rep in node["replicas"] if demand[rep.rsplit("-", 1)[0]].get(r, 0) > 0)
            want_stranded += node["stranded"].get(r, 0) > 0
    assert len(blocks) == want_blocks
    assert want_stranded > 0 and len(stranded) == want_stranded
    heights = sorted(round(p.get_height(), 6) for p in stranded)
    want = sorted(round(100 * n["stranded"][r] / n["capacity"][r], 6) for n in report["placement"]["nodes"]
                  for r in n["capacity"] if n["capacity"][r] > 0 and n["stranded"].get(r, 0) > 0)
    assert heights == want
    assert any(p.get_hatch() == "..." for p in rects)               # 10 % headroom drawn


@pytest.mark.parametrize("make", [seed_run, overload_run], ids=["seed", "overload"])
def test_latency_cdf_marks_each_slo_met_or_missed(make):
    report = full_report(make())
    _, ax = _axes()
    plots.latency_cdf(ax, report)
    markers = {(round(float(line.get_xdata()[0]), 6), round(float(line.get_ydata()[0]), 6)): line.get_marker()
               for line in ax.lines if line.get_linestyle() == "None"}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for name, c in report["simulation"]["classes"].items():
        slo = c["slo"]
        if slo is None:
            continue
        where = (round(slo["target_s"] * 1e3, 6), round(slo["quantile"], 6))
        assert markers[where] == ("o" if slo["met"] else "X")
        verdict = "met" if slo["met"] else "MISSED"
        assert any(t.startswith(f"{name}:") and verdict in t for t in legend)


def test_latency_cdf_tops_out_at_the_served_fraction():
    report = full_report(overload_run())
    _, ax = _axes()
    plots.latency_cdf(ax, report, classes=["fast"])
    curve = next(line for line in ax.lines if line.get_linestyle() == "-")
    stats = report["simulation"]["classes"]["fast"]
    assert max(curve.get_ydata()) <= stats["completed"] / stats["arrived"] + 1e-9
    assert stats["completed"] < stats["arrived"]


def test_latency_over_time_marks_the_windows_with_failures():
    for make, failures in ((seed_run, False), (overload_run, True)):
        report = full_report(make())
        _, ax = _axes()
        plots.latency_over_time(ax, report)
        crosses = ax.collections                                   # one scatter per class with failures
        assert bool(crosses) is failures
        n_classes = len(report["series"]["classes"])
        assert len([line for line in ax.lines if line.get_marker() in ("None", None, "")
                    and line.get_linestyle() in ("-", "--")]) == 2 * n_classes
    classes = full_report(overload_run())["series"]["classes"]
    assert len(crosses) == sum(sum(c["over_time"]["failed"]) > 0 for c in classes)
    windows = sum(sum(f > 0 for f in c["over_time"]["failed"]) for c in classes)
    assert sum(len(c.get_offsets()) for c in crosses) == windows


def test_node_and_zone_failures_are_shaded_until_they_recover():
    """An outage explains a latency or queue spike: shaded from the failure to the recovery (or the end)."""
    report = json.loads(to_json(full_report(seed_run())))          # a copy: the run is shared by tests
    end = report["series"]["edges_s"][-1]
    common = {"replicas": ["A-0"], "retried": 0, "lost": 0}
    report["simulation"]["failures"] = [
        {"at_s": end / 4, "recover_at_s": end / 2, "target": "zone b", **common},
        {"at_s": end * 3 / 4, "recover_at_s": None, "target": "node standard-1", **common},
        {"at_s": end + 1, "recover_at_s": None, "target": "node late", **common}]   # after the run: not drawn
    for draw in (plots.latency_over_time, plots.queue_length):
        _, ax = _axes()
        draw(ax, report)
        spans = sorted(tuple(round(x, 6) for x in (p.get_x(), p.get_x() + p.get_width())) for p in ax.patches
                       if p.get_facecolor()[:3] == matplotlib.colors.to_rgb(plots._DOWN))
        expected = ((end / 4, end / 2), (end * 3 / 4, end))
        assert spans == [tuple(round(x / 60, 6) for x in pair) for pair in expected]
        assert {t.get_text().strip() for t in ax.texts} == {"zone b down", "node standard-1 down"}
        assert "node / zone down (until it recovers)" in [t.get_text() for t in ax.get_legend().get_texts()]
    _, ax = _axes()
    plots.latency_over_time(ax, full_report(seed_run()))          # no failures: nothing shaded red
    assert not ax.texts and all(p.get_facecolor()[:3] != matplotlib.colors.to_rgb(plots._DOWN)
                                for p in ax.patches)


def test_queue_length_draws_each_service():
    report = full_report(fleet_run())
    _, ax = _axes()
    plots.queue_length(ax, report)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for s in report["series"]["services"]:
        assert s["name"] in labels
    with pytest.raises(ValueError, match="unknown name"):
        plots.queue_length(ax, report, services=["nope"])


def test_a_placement_only_report_has_the_placement_plots_only():
    result = pipeline.run(seed_run().scenario, simulate_traffic=False)
    report = full_report(result)
    assert "series" not in report
    assert plots.available(report) == ["placement_map.png", "node_usage.png"]
    _, ax = _axes()
    with pytest.raises(ValueError, match="no 'series' section"):
        plots.latency_cdf(ax, report)
    assert set(plots.render_pngs(report)) == {"placement_map.png", "node_usage.png"}
    assert plots.available(result.report) == []              # no input section: nothing to draw from


def _sweep_rows():
    """Rows shaped like capacity.whatif's results table: two replications per point."""
    rows = []
    for replicas in (2, 3, 4, 5, 6):
        for rep in (0, 1):
            p99 = 0.4 / (replicas - 1.5) + 0.01 * rep
            rows.append({"point": f"p{replicas}", "services.web.replicas": replicas, "replication": rep,
                         "status": "optimal", "nodes": replicas, "cost_per_hour": 0.5 * replicas,
                         "api.p99_s": p99, "batch.p99_s": 2 * p99, "slo_met": p99 <= 0.2})
    return rows


def test_sweep_plot_marks_the_cheapest_point_meeting_every_slo():
    fig, ax = _axes()
    plots.sweep_p99_cost(ax, _sweep_rows(), "services.web.replicas", slo_s={"api": 0.2})
    twin = next(a for a in fig.axes if a is not ax)
    star = next(line for line in twin.lines if line.get_marker() == "*")
    assert (float(star.get_xdata()[0]), float(star.get_ydata()[0])) == (4.0, 2.0)  # replicas 4: first to pass
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"api p99", "batch p99",
                                                                    "cheapest point meeting every SLO"}
    assert any(line.get_linestyle() == ":" and line.get_ydata()[0] == pytest.approx(200) for line in ax.lines)


def test_sweep_plot_uses_the_summary_ci_and_refuses_mixed_points():
    summary = [{"point": f"p{r}", "x": r, "cost_per_hour": float(r), "slo_met": r >= 3,
                "api.p99_s": 1.0 / r, "api.p99_s_ci95": 0.05} for r in (1, 2, 3)]
    _, ax = _axes()
    plots.sweep_p99_cost(ax, summary, "x")
    bars = next(c for c in ax.containers if hasattr(c, "lines"))
    segments = bars.lines[2][0].get_segments()
    assert [round(s[1][1] - s[0][1], 6) for s in segments] == [100.0, 100.0, 100.0]   # ± 0.05 s in ms
    mixed = [{"point": "p1", "x": 1, "cost_per_hour": 1, "slo_met": True, "api.p99_s": 0.1},
             {"point": "p2", "x": 1, "cost_per_hour": 2, "slo_met": True, "api.p99_s": 0.1}]
    with pytest.raises(ValueError, match="several points"):
        plots.sweep_p99_cost(ax, mixed, "x")
    none_pass = [{**r, "slo_met": False} for r in summary]
    _fig, ax = _axes()
    plots.sweep_p99_cost(ax, none_pass, "x")
    assert any(t.get_text() == "no point meets every SLO" for t in ax.texts)


def test_plots_accept_a_run_result_directly():
    _fig, ax = _axes()
    plots.latency_over_time(ax, seed_run())
    assert ax.lines
    assert np.isfinite(next(line.get_ydata() for line in ax.lines if len(line.get_ydata()) > 1)).any()
