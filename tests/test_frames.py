"""Results as pandas DataFrames: per request and per class/tenant/replica/node, agreeing with the report."""

import json
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from capacity import frames  # noqa: E402
from capacity.report.writers import to_json  # noqa: E402

from .report_cases import fleet_run, overload_run, seed_run  # noqa: E402


@pytest.mark.parametrize("make", [seed_run, overload_run], ids=["seed", "overload"])
def test_requests_frame_reproduces_the_report(make):
    result = make()
    df = result.requests_frame()
    assert len(df) == len(result.sim_result) and df.index.name == "seq"
    assert list(df["class"].cat.categories) == [c.name for c in result.model.classes]
    measured = df[df["measured"]]
    for name, stats in result.report["simulation"]["classes"].items():
        mine = measured[measured["class"] == name]
        counts = mine["outcome"].value_counts()
        assert len(mine) == stats["arrived"]
        for outcome in ("completed", "rejected", "timed_out"):
            assert counts[outcome] == stats[outcome], (name, outcome)
        done = mine[mine["outcome"] == "completed"]
        if len(done):
            assert done["latency_s"].quantile(0.99) == pytest.approx(stats["latency_s"]["p99"], rel=1e-12)
            assert done["wait_s"].mean() == pytest.approx(stats["wait_s"]["mean"], rel=1e-12)
    done = df[df["outcome"] == "completed"]
    assert done["replica"].notna().all() and df.loc[df["outcome"] != "completed", "replica"].isna().all()
    assert (done["node"] == done["replica"].map(
        {r: v["node"] for r, v in result.report["simulation"]["replicas"].items()})).all()
    np.testing.assert_allclose(done["latency_s"], done["end_s"] - done["arrival_s"])


def test_failed_requests_have_their_outcome():
    df = frames.requests(overload_run())
    counts = df["outcome"].value_counts()
    assert counts["rejected"] > 0 and counts["timed_out"] > 0
    refused = df[df["outcome"] == "rejected"]
    assert refused["start_s"].isna().all() and refused["end_s"].isna().all()
    late = df[df["outcome"] == "timed_out"]
    assert np.allclose(late["end_s"] - late["arrival_s"], 0.040)          # the queue's 40 ms timeout


def test_summary_frames_follow_the_scenario_order_and_the_report():
    result = fleet_run()
    saved = json.loads(to_json(result.full_report()))                    # as read back from report.json
    for data in (result, saved):
        classes = frames.classes(data)
        assert list(classes.index) == [c.name for c in result.scenario.workload.classes]
        search = result.report["simulation"]["classes"]["search"]
        assert classes.loc["search", "latency_p99_s"] == search["latency_s"]["p99"]
        assert classes.loc["search", "slo_target_s"] == search["slo"]["target_s"]
        assert bool(classes.loc["search", "slo_met"]) is search["slo"]["met"]
        assert np.isnan(classes.loc["reindex", "slo_target_s"])              # no SLO: missing, not 0
        tenants = frames.tenants(data)
        assert list(tenants.index) == ["web", "batch"]
        assert tenants["share"].sum() == pytest.approx(1.0)
        replicas = frames.replicas(data)
        assert len(replicas) == sum(s.replicas for s in result.scenario.services)
        nodes = frames.nodes(data)
        assert list(nodes.index) == [n.name for n in result.placement.nodes]
        for n in result.placement.nodes:
            assert nodes.loc[n.name, "used_cpu"] == pytest.approx(n.used["cpu"])
            assert nodes.loc[n.name, "allocated_cpu"] == pytest.approx(n.used["cpu"] / n.capacity["cpu"])
    assert result.classes_frame().equals(frames.classes(result))


def test_without_a_simulation_the_frames_say_so():
    from capacity import pipeline

    packed = pipeline.run(seed_run().scenario, simulate_traffic=False)
    with pytest.raises(ValueError, match="no simulation"):
        frames.requests(packed)
    with pytest.raises(ValueError, match="no simulation"):
        frames.classes(packed)
    assert len(frames.nodes(packed)) == 3


def test_a_missing_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)                     # import pandas -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'capacity\[frames\]'"):
        frames.classes(seed_run())
