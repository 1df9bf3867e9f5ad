"""Autoscaling from a scenario file: the keys, their checks, the report and a what-if sweep over them."""

from __future__ import annotations

import copy
import json

import pytest

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.report.model import parse_report
from capacity.report.writers import to_json
from capacity.scenario import scenario_from_dict

DOC = {
    "name": "step",
    "seed": 1,
    "cluster": {
        "pools": [
            {
                "name": "cpu",
                "count": 10,
                "resources": {"cpu": 8},
                "cost": 1.5,
                "autoscaling": {"min": 1, "provision": "2m"},
            }
        ],
        "autoscaling": {"expander": "price"},
    },
    "services": [
        {
            "name": "svc",
            "replicas": 4,
            "resources": {"cpu": 1},
            "serving": {"concurrency": 1, "service_time": {"mean": "500ms"}, "cold_start": "30s"},
            "autoscaling": {"min": 1, "max": 40, "metric": "utilisation", "target": "50%", "window": "1m"},
        }
    ],
    "workload": {
        "duration": "30m",
        "warmup": "1m",
        "classes": [
            {
                "name": "c",
                "service": "svc",
                "slo": {"p99": "5s"},
                "arrivals": {
                    "process": "steps",
                    "steps": [{"at": 0, "rate": "10/s"}, {"at": "10m", "rate": "30/s"}],
                },
            }
        ],
    },
}


def with_(path: str, value: object) -> dict:
    doc = copy.deepcopy(DOC)
    *head, last = path.split(".")
    node = doc
    for key in head:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("workload.classes.0.arrivals.steps", [{"at": "1s", "rate": 1}], "arrivals.steps.0.at"),
        (
            "workload.classes.0.arrivals.steps",
            [{"at": 0, "rate": 1}, {"at": 0, "rate": 2}],
            "arrivals.steps.1.at",
        ),
        ("workload.classes.0.arrivals.steps", [{"at": 0, "rate": "-1/s"}], "arrivals.steps.0.rate"),
        ("workload.classes.0.arrivals.rate", "5/s", "arrivals.rate"),
        ("services.0.autoscaling.panic_window", "10%", "services.svc.autoscaling"),
        (
            "services.0.autoscaling",
            {"min": 0, "max": 2, "metric": "rps", "target": 5, "policy": "kpa", "sync": "5s"},
            "services.svc.autoscaling",
        ),
        (
            "services.0.serving.cold_start",
            {"dist": "gamma", "mean": "10s"},
            "services.svc.serving.cold_start",
        ),
        ("cluster.pools.0.autoscaling", {"min": 1}, "cluster.pools.cpu.autoscaling.provision"),
        ("cluster.autoscaling", {"expander": "random"}, "cluster.autoscaling.expander"),
    ],
)
def test_bad_keys_are_refused_naming_the_field(path, value, where):
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(with_(path, value))
    assert where in str(err.value)


def test_kpa_keys_under_kpa_are_accepted():
    doc = with_(
        "services.0.autoscaling",
        {
            "min": 0,
            "max": 5,
            "metric": "concurrency",
            "target": 2,
            "policy": "kpa",
            "panic_window": "10%",
            "panic_threshold": "200%",
            "target_utilisation": "70%",
            "scale_to_zero_grace": "30s",
        },
    )
    s = scenario_from_dict(doc)
    assert s.services[0].autoscaling.panic_threshold == 2.0


def test_a_scenario_without_the_new_keys_keeps_its_digest():
    plain = copy.deepcopy(DOC)
    del plain["cluster"]["autoscaling"]
    del plain["cluster"]["pools"][0]["autoscaling"]
    del plain["services"][0]["serving"]["cold_start"]
    plain["services"][0]["autoscaling"] = {"min": 1, "max": 40, "metric": "utilisation", "target": "50%"}
    plain["workload"]["classes"][0]["arrivals"] = {"process": "poisson", "rate": "10/s"}
    canonical = scenario_from_dict(plain).canonical()
    assert "steps" not in json.dumps(canonical) and "cold_start" not in json.dumps(canonical)
    assert set(canonical["services"][0]["autoscaling"]) == {"min", "max", "metric", "target", "policy"}
    assert "autoscaling" not in canonical["cluster"] and "autoscaling" not in canonical["cluster"]["pools"][0]


@pytest.fixture(scope="module")
def run():
    return pipeline.run(scenario_from_dict(DOC))


def test_the_report_has_the_autoscaling_section_and_validates(run):
    report = json.loads(to_json(run.full_report()))
    parsed = parse_report(report)
    auto = report["simulation"]["autoscaling"]
    assert {"cost", "pools", "services", "slo", "static"} <= set(auto)
    assert set(auto["pools"]["cpu"]) >= {"node_hours", "nodes"} and set(auto["pools"]["cpu"]["nodes"]) == {
        "t_s",
        "count",
    }
    assert set(auto["services"]["svc"]["replicas"]) >= {"t_s", "ready", "starting"}
    assert all(set(e) >= {"t_s", "from", "to"} for e in auto["services"]["svc"]["events"])
    assert auto["cost"] == pytest.approx(1.5 * auto["pools"]["cpu"]["node_hours"], rel=1e-11)
    assert parsed.simulation.autoscaling.static.replicas["svc"] == auto["services"]["svc"]["peak"]
    static = auto["static"]
    # static for the peak: its nodes all along the measured window
    assert static["cost"] == pytest.approx(1.5 * sum(static["nodes"].values()) * 29 / 60, rel=1e-11)


def test_the_html_report_draws_the_autoscaling_plot(run):
    from capacity.report import plots
    from capacity.report.html import render_outputs

    report = run.full_report()
    assert "autoscaling.png" in plots.available(report)
    outputs = render_outputs(report)
    assert "autoscaling.png" in outputs
    assert (
        b'id="autoscaling.png"' in outputs["report.html"]
        and b"<h2>Autoscaling</h2>" in outputs["report.html"]
    )


def test_a_run_without_autoscaling_has_no_section():
    doc = copy.deepcopy(DOC)
    doc["services"][0]["autoscaling"] = {"min": 1, "max": 40}  # a range only: data
    result = pipeline.run(scenario_from_dict(doc))
    assert "autoscaling" not in result.report["simulation"]


def test_a_whatif_sweep_over_autoscaler_settings(tmp_path):
    from capacity.whatif import sweep

    doc = copy.deepcopy(DOC)
    doc["workload"]["duration"] = "12m"
    doc["whatif"] = {
        "grid": {
            "services.svc.autoscaling.target": ["40%", "70%"],
            "cluster.pools.cpu.autoscaling.provision": ["1m", "3m"],
        }
    }
    scenario = scenario_from_dict(doc)
    result = sweep(scenario, tmp_path / "sweep", executor="serial", progress=False)
    assert len(result.rows) == 4 and not result.errors
    points = {
        (r["services.svc.autoscaling.target"], r["cluster.pools.cpu.autoscaling.provision"]): r
        for r in result.rows
    }
    assert set(points) == {(0.4, 60.0), (0.4, 180.0), (0.7, 60.0), (0.7, 180.0)}
    costs = {}
    for key, row in points.items():
        report = json.loads((tmp_path / "sweep" / row["report"]).read_text())
        costs[key] = report["simulation"]["autoscaling"]["cost"]
        # the table's cost is the fleet's mean per hour over the measured window (11 min)
        assert row["cost_per_hour"] == pytest.approx(costs[key] / (11 / 60), rel=1e-11)
    # a lower target keeps more replicas (and nodes) for the same load: it costs at least as much
    assert costs[(0.4, 60.0)] >= costs[(0.7, 60.0)]


def test_the_shipped_day_saves_on_the_static_plan_for_its_peak():
    """The shipped diurnal day (trimmed to 12 h: the night and the 09:00 surge): nodes follow the load,
    the fleet costs less than the static plan sized for its peak, and the cost is the integral of its
    nodes × price."""
    from capacity.scenario import load_scenario

    from ..conftest import SCENARIOS

    scenario = load_scenario(
        SCENARIOS / "llm-chat-day.yaml",
        ["workload.duration=12h", "workload.warmup=10m", "metrics.interval=15m"],
    )
    auto = pipeline.run(scenario).report["simulation"]["autoscaling"]
    series = auto["pools"]["gpu"]["nodes"]
    t, count = series["t_s"] + [12 * 3600.0], series["count"]
    node_s = sum(
        max(0.0, min(b, 12 * 3600.0) - max(a, 600.0)) * c
        for a, b, c in zip(t[:-1], t[1:], count, strict=True)
    )
    assert auto["cost"] == pytest.approx(9.8 * node_s / 3600.0, rel=1e-11)
    assert len(auto["services"]["chat"]["events"]) >= 2
    assert auto["cost"] < auto["static"]["cost"]
