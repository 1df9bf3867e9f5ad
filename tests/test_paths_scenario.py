"""Scenario files with travelling classes (``path``, ``service_times``): load-time checks naming the file,
line and field; the end-to-end report (`capacity.sim.path_metrics`) validated by the report model; and
byte-identical reports for the same scenario and seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.pipeline import run
from capacity.report.model import Report
from capacity.report.writers import to_json
from capacity.scenario import load_scenario

RAG = Path(__file__).resolve().parents[1] / "scenarios" / "rag-pipeline.yaml"


def _short(tmp_path: Path, edit=None) -> Path:
    doc = yaml.safe_load(RAG.read_text(encoding="utf-8"))
    doc["workload"]["duration"] = "60s"
    doc["workload"]["warmup"] = "10s"
    if edit is not None:
        edit(doc)
    path = tmp_path / "rag.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_the_rag_pipeline_reports_end_to_end_and_per_stage(tmp_path):
    result = run(load_scenario(_short(tmp_path)))
    report = json.loads(to_json(result.report))
    Report.model_validate(report)
    paths = report["simulation"]["paths"]
    chat = paths["classes"]["chat"]
    assert set(chat["stages"]) == {"embedder", "retriever", "history", "reranker", "llm"}
    assert chat["completed"] + chat["failed"] == chat["arrived"] > 0
    assert chat["slo"]["target_s"] == 8.0
    agent = paths["classes"]["agent-step"]
    assert agent["stages"]["retriever"]["visits_per_request"] > 1.0  # the geometric loop
    # the retriever sees chat's visits and the agent's passes, per second of the window
    visits = sum(
        c["arrived"] * c["stages"]["retriever"]["visits_per_request"] for c in paths["classes"].values()
    )
    assert paths["services"]["retriever"]["arrival_rate_per_s"] == pytest.approx(visits / 50.0, rel=0.02)
    # the per-service sections list each service's visit classes
    assert "chat>llm" in report["simulation"]["classes"]


def test_the_same_scenario_and_seed_give_the_same_report(tmp_path):
    path = _short(tmp_path)
    one = json.loads(to_json(run(load_scenario(path)).report))["simulation"]
    two = json.loads(to_json(run(load_scenario(path)).report))["simulation"]
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)


def _path(doc, value):
    doc["workload"]["classes"][0]["path"] = value


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (
            lambda d: _path(d, ["embedder", "nowhere"]),
            "workload.classes.chat.path.1.service",
            "no service named",
        ),
        (
            lambda d: d["workload"]["classes"][0].update(service="llm"),
            "workload.classes.chat.service",
            "must be the path's first service",
        ),
        (
            lambda d: d["workload"]["classes"][1].update(service_times={"reranker": {"mean": "1ms"}}),
            "workload.classes.agent-step.service_times.reranker",
            "does not visit",
        ),
        (
            lambda d: _path(d, [{"repeat": 0, "path": ["embedder"]}]),
            "workload.classes.chat.path.0.repeat",
            "greater than or equal to 1",
        ),
        (
            lambda d: _path(d, [{"repeat": 100, "path": [{"repeat": 200, "path": ["embedder"]}]}]),
            "workload.classes.chat.path",
            "visits per request",
        ),
    ],
)
def test_bad_paths_are_refused_at_load_naming_the_field(tmp_path, edit, field, message):
    path = _short(tmp_path, edit)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert field in text and message in text and str(path) in text


def test_validate_exits_2_with_one_line(tmp_path, capsys):
    path = _short(tmp_path, lambda d: _path(d, ["embedder", {"parallel": []}]))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "workload.classes.chat.path.1.parallel" in err[0] and "Traceback" not in err[0]


def test_the_breakdown_plot_and_html_come_from_the_saved_report(tmp_path):
    from capacity.report import html, plots

    result = run(load_scenario(_short(tmp_path)))
    report = json.loads(to_json(result.full_report()))  # as report.json holds it
    assert "path_breakdown.png" in plots.available(report)
    fig = plots.figure("path_breakdown.png", report)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["agent-step", "chat"]
    # the bars of a class add up to Σ visits × (delay + wait + service) of its stages, in ms
    chat = report["simulation"]["paths"]["classes"]["chat"]
    total = 1000 * sum(
        (st["visits_per_request"] or 0) * sum(st[k] or 0 for k in ("delay_s", "wait_s", "service_s"))
        for st in chat["stages"].values()
    )
    ends = [p.get_x() + p.get_width() for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - 1) < 1e-9]
    assert max(ends) == pytest.approx(total, rel=1e-9)
    page = html.render_html(report, {"path_breakdown.png": plots.png_bytes(fig)})
    assert 'id="path_breakdown.png"' in page
    with pytest.raises(ValueError, match=r"no simulation\.paths"):
        plots.path_breakdown(
            fig.add_subplot(), {**report, "simulation": {**report["simulation"], "paths": None}}
        )


@pytest.mark.parametrize("extra", [[], ["--max-rate", "chat"]])
def test_sizing_refuses_travelling_classes_in_one_line(tmp_path, capsys, extra):
    """Per-service sizing assumes services do not interact; a path makes them interact."""
    assert main(["size", str(_short(tmp_path)), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "need end-to-end sizing" in err[0] and "Traceback" not in err[0]


def test_the_verdict_markdown_and_console_show_the_end_to_end_slos(tmp_path, capsys):
    """The SLO verdict counts the end-to-end SLOs (the visit classes have none); report.md, the HTML and
    the console summary show the end-to-end table."""
    from capacity.cli import simulation_summary
    from capacity.report import html
    from capacity.report.summary import slo_verdict
    from capacity.report.writers import simulation_markdown

    result = run(load_scenario(_short(tmp_path)))
    verdict = slo_verdict(result.report.simulation)
    assert verdict["met"] + verdict["missed"] + verdict["no data"] == 2
    assert result.report.simulation is not None
    assert "End to end (classes with a path)" in simulation_markdown(result.report.simulation)
    assert "End to end (classes with a path)" in html.render_html(result.report)
    console = simulation_summary(result.report)
    assert "end to end" in console and "\n  chat " in console


def test_a_sweep_reads_travelling_classes_end_to_end(tmp_path):
    """The sweep's per-class columns of a class with a path are its end-to-end statistics and SLO."""
    import csv

    out = tmp_path / "sweep"
    args = ["sweep", str(_short(tmp_path)), "--grid", "services.embedder.replicas=1,2", "-o", str(out)]
    assert main(args) == 0
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert len(rows) == 2
    for row in rows:
        assert float(row["chat.p99_s"]) > 0 and row["chat.slo_status"] in ("met", "missed")
        assert row["agent-step.slo_status"] in ("met", "missed")
