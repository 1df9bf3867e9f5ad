"""A class with an SLO and no measured request: "no data", never a pass, and every consumer keeps going.

A class has **no data** for its SLO when none of its requests arrived in the statistics window (after the
warm-up): ``slo: {target_s, quantile, attained: null, met: null, status: "no data"}``. A class whose
requests all arrived and were all refused (rejected, timed out, dropped, lost) is a measurement: 0 % of
them within the target, ``status: "missed"``.
"""

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from capacity import pipeline, scenario_from_dict
from capacity.cli import main, simulation_summary
from capacity.report import plots, render_html, render_markdown
from capacity.report.model import Report
from capacity.report.series import full_report
from capacity.report.summary import slo_status, slo_verdict
from capacity.report.writers import to_json


def doc(*, rare_rate: float = 1e-4, admission: bool = False) -> dict:
    """One service; ``busy`` has data, ``rare`` (rate ``rare_rate``) none after the 30 s warm-up."""
    busy = {"name": "busy", "service": "web", "arrivals": {"rate": 20}, "slo": {"p99": "200ms"}}
    if admission:            # every request of busy is predicted to miss 5 ms (service takes 20 ms): dropped
        busy.update(slo={"p99": "5ms"}, admission="deadline")
    return {
        "name": "nodata", "seed": 1,
        "cluster": {"pools": [{"name": "std", "count": 2, "resources": {"cpu": 4, "memory": "8Gi"}}]},
        "services": [{"name": "web", "replicas": 2, "resources": {"cpu": 1, "memory": "1Gi"},
                      "serving": {"service_time": {"dist": "deterministic", "mean": "20ms"}}}],
        "workload": {"duration": "60s", "warmup": "30s", "classes": [
            busy,
            {"name": "rare", "service": "web", "arrivals": {"rate": rare_rate}, "slo": {"p99": "200ms"}}]},
    }


SCENARIO = """\
name: nodata
seed: 1
cluster:
  pools:
    - {name: std, count: 2, resources: {cpu: 4, memory: 8Gi}}
services:
  - name: web
    replicas: 2
    resources: {cpu: 1, memory: 1Gi}
    serving: {service_time: {dist: deterministic, mean: 20ms}}
workload:
  duration: 60s
  warmup: 30s
  classes:
    - {name: busy, service: web, arrivals: {rate: 20/s}, slo: {p99: 200ms}}
    - {name: rare, service: web, arrivals: {rate: 0.0001/s}, slo: {p99: 200ms}}
"""


@pytest.fixture(scope="module")
def report() -> Report:
    return full_report(pipeline.run(scenario_from_dict(doc())))


def test_a_class_without_arrivals_has_no_data(report: Report) -> None:
    classes = report["simulation"]["classes"]
    assert classes["rare"]["arrived"] == 0
    assert classes["rare"]["slo"].model_dump() == {"target_s": 0.2, "quantile": 0.99, "attained": None,
                                                   "met": None, "status": "no data"}
    assert classes["busy"]["arrived"] > 0
    assert classes["busy"]["slo"]["met"] is True and classes["busy"]["slo"]["status"] == "met"


def test_a_class_whose_every_request_is_dropped_is_measured_as_missed() -> None:
    classes = pipeline.run(scenario_from_dict(doc(admission=True))).report["simulation"]["classes"]
    busy = classes["busy"]
    assert busy["arrived"] > 0 and busy["dropped"] == busy["arrived"] and busy["completed"] == 0
    assert (busy["slo"]["attained"], busy["slo"]["met"], busy["slo"]["status"]) == (0.0, False, "missed")


def test_no_data_is_never_a_pass() -> None:
    met = {"target_s": 0.1, "quantile": 0.99, "attained": 1.0, "met": True, "status": "met"}
    missed = {**met, "attained": 0.5, "met": False, "status": "missed"}
    nodata = {**met, "attained": None, "met": None, "status": "no data"}
    assert [slo_status(s) for s in (met, missed, nodata, None)] == ["met", "missed", "no data", None]
    # a report written before ``status`` existed: derived from ``met``
    assert [slo_status({k: v for k, v in s.items() if k != "status"}) for s in (met, missed, nodata)] == [
        "met", "missed", "no data"]

    def sim(*slos: dict | None) -> dict:
        return {"classes": {f"c{i}": {"slo": s} for i, s in enumerate(slos)}}

    assert slo_verdict(sim(met, met))["status"] == "met"
    assert slo_verdict(sim(met, nodata))["status"] == "no data"
    assert slo_verdict(sim(missed, nodata))["status"] == "missed"
    assert slo_verdict(sim(None))["status"] is None
    assert slo_verdict(sim(met, missed, nodata, None)) == {"status": "missed", "met": 1, "missed": 1,
                                                           "no data": 1}


def test_the_cli_tables_say_no_data(report: Report) -> None:
    rows = {line.split()[0]: line for line in simulation_summary(report).splitlines()[2:-1]}
    assert rows["rare"].endswith("p99<=200ms no data")
    assert "met" in rows["busy"]


def test_markdown_and_html_say_no_data_and_do_not_count_it_as_met(report: Report) -> None:
    md = render_markdown(report)
    rare = next(line for line in md.splitlines() if line.startswith("| rare "))
    assert "no data" in rare and "MISSED" not in rare and " met" not in rare
    page = render_html(report, {})
    verdict = page[page.index('<div class="verdict'):].split("</div>")[0]
    assert "1 of 2 met" in verdict and "no data" in verdict.lower() and "ok" not in verdict.split(">")[0]


def test_the_latency_plot_marks_no_data_apart() -> None:
    report = json.loads(to_json(full_report(pipeline.run(scenario_from_dict(doc())))))
    ax = Figure().add_subplot()
    plots.latency_cdf(ax, report)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("rare:") and t.endswith("no data") for t in legend)
    markers = [line.get_marker() for line in ax.lines if line.get_linestyle() == "None"]
    assert sorted(markers) == ["o", "s"]          # busy met (circle), rare no data (square): no cross


def test_frames_keep_the_status(report: Report) -> None:
    pytest.importorskip("pandas")
    from capacity import frames

    classes = frames.classes(report)
    assert classes.loc["rare", "slo_status"] == "no data" and classes.loc["busy", "slo_status"] == "met"
    assert classes.loc["rare", "slo_met"] is None or classes["slo_met"].isna()["rare"]


@pytest.mark.parametrize("command", ["simulate", "run"])
def test_simulate_and_run_keep_going(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     command: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    extra = ["-o", str(out)] if command == "run" else ["--json", str(out / "report.json")]
    assert main([command, str(path), *extra]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    rare = next(line for line in captured.out.splitlines() if line.strip().startswith("rare "))
    assert "no data" in rare
    saved = json.loads((out / "report.json").read_text())
    assert saved["simulation"]["classes"]["rare"]["slo"]["status"] == "no data"
    if command == "run":
        assert "no data" in (out / "report.md").read_text() and "no data" in (out / "report.html").read_text()
        assert main(["report", str(out), "-o", str(tmp_path / "again")]) == 0


def test_frames_derive_the_status_of_an_older_report(report: Report) -> None:
    pytest.importorskip("pandas")
    from capacity import frames

    old = json.loads(to_json(report))
    for c in old["simulation"]["classes"].values():
        c["slo"].pop("status")
    assert list(frames.classes(old)["slo_status"]) == ["met", "no data"]
