"""The report model describes report.json exactly as capacity writes it, and `capacity report` checks a
saved report against it: a malformed one is one line naming the field, exit 2, never a traceback."""

import copy
import functools
import json

import pytest

from capacity import pipeline
from capacity.cli import main
from capacity.report.series import full_report
from capacity.report.summary import with_compare
from capacity.report.writers import to_json
from capacity.scenario import load_scenario

from .conftest import SCENARIOS, SHARED_DATA
from .schema_check import assert_valid

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def as_written(report):
    """The report as report.json holds it (canonical JSON, read back)."""
    return json.loads(to_json(report))


@functools.cache
def reports_of(path):
    """What capacity writes for a shipped scenario: ``run -o`` (with ``--compare``'s section added, as
    ``plan --compare --json`` has it) and ``plan --json`` (no simulation)."""
    if "shared/data/" in path.read_text(encoding="utf-8") and not SHARED_DATA.is_dir():
        pytest.skip(f"needs the reference data in {SHARED_DATA}")
    scenario = load_scenario(path, ["workload.duration=3m", "workload.warmup=30s"])
    result = pipeline.run(scenario)
    compared = pipeline.compare(result.problem, result.placement)
    run = with_compare(full_report(result), result.problem, compared)
    plan = pipeline.run(scenario, simulate_traffic=False).report
    return as_written(run), as_written(plan)


@functools.cache
def seed_report():
    return reports_of(SCENARIOS / "seed-example.yaml")[0]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_report_of_the_shipped_scenarios_fits_the_model_exactly(path):
    """Valid, and read back without a key lost or a value changed (the model is faithful)."""
    from capacity.report.model import parse_report

    for report in reports_of(path):
        model = parse_report(report)
        assert model.model_dump(mode="json", exclude_unset=True) == report
        assert_valid("report", report)                 # and the published JSON Schema (capacity schema)
        assert to_json(model) == to_json(report)         # byte for byte: 4 stays 4, 0.0 stays 0.0


def _leaves(value, path=()):
    """Every scalar of a report (path, value), list items by index."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for k, item in enumerate(value[:2]):
            yield from _leaves(item, (*path, k))
    else:
        yield path, value


def _set(report, path, value):
    out = copy.deepcopy(report)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def test_every_key_is_typed():
    """Each value of a real report, replaced by a value of the wrong type, is refused at its own path: no
    key is left untyped (``Any``) by the model. (``input.scenario`` is the scenario model itself, tested
    with the scenario format.)"""
    from pydantic import ValidationError

    from capacity.report.model import parse_report

    report = seed_report()
    checked = 0
    for path, value in _leaves(report):
        if path[0] == "input":
            continue
        wrong = 7 if isinstance(value, str) else "seven"
        with pytest.raises(ValidationError) as caught:
            parse_report(_set(report, path, wrong))
        assert caught.value.errors()[0]["loc"] == path, path
        checked += 1
    assert checked > 500


def write_report(folder, report):
    folder.mkdir(exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return folder


def _without(report, *path):
    out = copy.deepcopy(report)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _first_class(report):
    return next(iter(report["simulation"]["classes"]))


MALFORMED = {
    "a non-numeric latency": (
        lambda r: _set(r, ("simulation", "classes", _first_class(r), "latency_s", "p99"), "fast"),
        "simulation.classes.a-web.latency_s.p99: Input should be a valid number"),
    "a missing section": (
        lambda r: _without(r, "placement"), "placement: Field required"),
    "a missing key": (
        lambda r: _without(r, "simulation", "classes", _first_class(r), "wait_s"),
        "simulation.classes.a-web.wait_s: Field required"),
    "a number as a string": (
        lambda r: _set(r, ("placement", "nodes_used"), "3"), "placement.nodes_used: Input should be a valid "
                                                              "integer"),
    "a NaN": (
        lambda r: _set(r, ("simulation", "fairness", "jain"), float("nan")),
        "simulation.fairness.jain: Input should be a finite number"),
    "an unknown key": (
        lambda r: _set(r, ("placement", "surprise"), 1),
        "placement.surprise: Extra inputs are not permitted"),
    "outcomes that do not add up": (
        lambda r: _set(r, ("simulation", "classes", _first_class(r), "arrived"), 10**9),
        "simulation.classes.a-web: Value error, the outcomes (completed + rejected + timed_out + dropped + "
        "lost = "),
    "a series one window short": (
        lambda r: _set(r, ("series", "services", 0, "queue", "max"),
                       r["series"]["services"][0]["queue"]["max"][1:]),
        "series: Value error, services.0.queue.max: "),
    "a negative count": (
        lambda r: _set(r, ("simulation", "replicas", "A-0", "served"), -1),
        "simulation.replicas.A-0.served: Input should be greater than or equal to 0"),
    "a status no packer gives": (
        lambda r: _set(r, ("placement", "status"), "great"),
        "placement.status: Input should be 'optimal', 'feasible' or 'infeasible'"),
    "a key with a line break": (
        lambda r: _set(r, ("placement", "pools", "evil\nerror: forged"), {}),
        "placement.pools.'evil\\nerror: forged'.count: Field required"),
    "a broken scenario echo": (
        lambda r: _set(r, ("input", "scenario", "services"), []),
        "input.scenario.services: List should have at least 1 item after validation, not 0"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_report_of_a_malformed_report_json_names_the_field(tmp_path, capsys, case):
    mutate, expected = MALFORMED[case]
    folder = write_report(tmp_path / "run", mutate(seed_report()))
    before = sorted(p.name for p in folder.iterdir())
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {folder}/report.json: {expected}"), err
    assert "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == before            # nothing drawn, nothing written


@pytest.mark.parametrize(("text", "expected"), [
    ("{not json", "report.json:1: not a readable report (Expecting property name enclosed in double quotes)"),
    ("[" * 100_000 + "]" * 100_000, "report.json: not a readable report (RecursionError)"),
    ('{"scenario": ' + "9" * 5000 + "}", "report.json: not a readable report (ValueError)"),
    (b"\xff\xfe{}", "report.json: not a readable report (UnicodeDecodeError)"),
    ("[1, 2]", "report.json: not a capacity report (a JSON object expected)"),
])
def test_report_of_an_unreadable_report_json_is_one_line(tmp_path, capsys, text, expected):
    folder = tmp_path / "run"
    folder.mkdir()
    data = text if isinstance(text, bytes) else text.encode()
    (folder / "report.json").write_bytes(data)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {folder}/{expected}\n"


def test_report_of_a_huge_or_odd_file_is_refused_before_reading(tmp_path, capsys):
    import os

    folder = tmp_path / "run"
    folder.mkdir()
    os.mkfifo(folder / "report.json")                                      # would block a reader forever
    assert main(["report", str(folder)]) == 2
    assert "report.json: not a regular file" in capsys.readouterr().err
    (folder / "report.json").unlink()
    (folder / "report.json").write_text(" " * (2 * 2**20))
    assert main(["report", str(folder), "--max-mb", "1"]) == 2
    assert "more than the limit of 1 MiB for a report (raise it with --max-mb)" in capsys.readouterr().err


def test_the_model_has_a_json_schema():
    from capacity.report.model import Report

    schema = Report.model_json_schema()
    assert {"scenario", "provenance", "placement", "simulation", "run", "compare", "input",
            "series"} <= set(schema["properties"])
    assert set(schema["required"]) == {"scenario", "provenance", "placement", "simulation", "run"}


def test_a_report_is_built_typed_and_reads_like_its_json():
    """`pipeline.run` returns the typed report; its text is report.json's (parsed back, the same bytes), a
    section reads like the JSON object (keys written are ``in`` it, a key left out is a KeyError), and a
    number keeps the type it is written with (an integral amount ``4``, a measured share ``0.0``)."""
    from capacity.report.model import PlacementSection, Report, parse_report

    scenario = load_scenario(SCENARIOS / "seed-example.yaml", ["workload.duration=1m", "workload.warmup=10s"])
    report = pipeline.run(scenario).report
    assert isinstance(report, Report) and isinstance(report.placement, PlacementSection)
    text = to_json(report)
    assert to_json(parse_report(json.loads(text))) == text
    assert report["placement"]["nodes_used"] == report.placement.nodes_used == 3
    assert "simulation" in report and "compare" not in report and "series" not in report
    with pytest.raises(KeyError):
        report["compare"]
    assert report.get("compare") is None
    node = report.placement.nodes[0]
    assert all(type(v) is int for v in node.capacity.values())            # cores and bytes, as written
    assert '"cpu": 4,' in text
    assert all(isinstance(r.down_s, float) for r in report.simulation.replicas.values())
