"""Scenario loading: strict validation with file, line and field path; --set overrides."""

import hashlib
import json
import textwrap

import pytest

from capacity.errors import ScenarioError
from capacity.scenario import load_scenario, scenario_from_dict

BASE = textwrap.dedent("""\
    name: small
    seed: 3
    cluster:
      pools:
        - name: cpu
          count: 4
          resources: {cpu: 8, memory: 32Gi, example.com/fpga: 2}
          cost: 0.5
    services:
      - name: web
        replicas: 2
        resources:
          cpu: 500m
          memory: 1Gi
        serving:
          concurrency: 2
          service_time: {dist: lognormal, mean: 20ms, cv: 2}
      - name: batch
        replicas: 1
        resources: {cpu: 1, memory: 2Gi, example.com/fpga: 1}
    workload:
      duration: 2m
      warmup: 10s
      classes:
        - {name: api, service: web, arrivals: {rate: 1200/min}, slo: {p99: 100ms}}
    placement:
      headroom: {cpu: 10%}
    """)


def error_of(write_scenario, text, overrides=()):
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    return err.value, str(path)


def test_loads_units_into_base_units(write_scenario):
    s = load_scenario(write_scenario(BASE))
    web = s.service("web")
    assert web.resources == {"cpu": 0.5, "memory": 2**30}
    assert web.serving.service_time.mean == pytest.approx(0.02)
    assert s.workload.classes[0].arrivals.rate == pytest.approx(20.0)
    assert s.workload.classes[0].slo.quantile == 0.99
    assert s.workload.classes[0].slo.target_s == pytest.approx(0.1)
    assert s.placement.headroom_for(["cpu", "memory"]) == {"cpu": 0.1, "memory": 0.0}
    assert s.pool("cpu").resources["example.com/fpga"] == 2
    assert s.workload.duration == 120 and s.workload.warmup == 10


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "words"),
    [
        ("    replicas: 2\n", "    replicas: 2\n    colour: red\n", 12, "services.web.colour",
         "unknown field"),
        ("      cpu: 500m\n", "      cpu: -1\n", 13, "services.web.resources.cpu",
         "greater than or equal to 0"),
        ("      cpu: 500m\n", "      cpu: 5 cores\n", 13, "services.web.resources.cpu", "bad quantity"),
        ("rate: 1200/min", "rate: 1200/fortnight", 25, "workload.classes.api.arrivals.rate", "bad rate"),
        ("service: web,", "service: wbe,", 25, "workload.classes.api.service", "no service named 'wbe'"),
        ("    count: 4\n", "    count: four\n", 6, "cluster.pools.cpu.count", "valid integer"),
        ("dist: lognormal", "dist: pareto", 17, "services.web.serving.service_time.dist", "'lognormal'"),
        ("  warmup: 10s\n", "  warmup: 5m\n", 23, "workload.warmup", "shorter than duration"),
        ("  headroom: {cpu: 10%}\n", "  headroom: {gpu: 10%}\n", 27, "placement.headroom.gpu",
         "no pool declares"),
        ("    replicas: 1\n", "", 18, "services.batch.replicas", "required field is missing"),
        ("rate: 1200/min", "rate: 1200/min, cv: 2", 25, "workload.classes.api.arrivals.cv",
         "'cv' applies to process gamma, not poisson"),
        ("rate: 1200/min", "process: gamma, rate: 1200/min, cv: 0", 25, "workload.classes.api.arrivals.cv",
         "greater than 0"),
        ("rate: 1200/min", "process: gamma, rate: 1200/min", 25, "workload.classes.api.arrivals.cv",
         "process gamma needs 'cv'"),
        ("rate: 1200/min", "process: onoff, rate: 1200/min, on: 2s", 25,
         "workload.classes.api.arrivals.off", "process onoff needs 'off'"),
        ("rate: 1200/min", "process: onoff, rate: 1200/min, on: 2s, off: 0s", 25,
         "workload.classes.api.arrivals.off", "greater than 0"),
        ("rate: 1200/min", "process: diurnal, rate: 1200/min, amplitude: 100%", 25,
         "workload.classes.api.arrivals.amplitude", "less than 1"),
        ("rate: 1200/min", "process: diurnal, rate: 1200/min, amplitude: 0.5, peak_at: 25h", 25,
         "workload.classes.api.arrivals.peak_at", "time of day"),
        ("rate: 1200/min", "process: gamma, rate: 1200/min, cv: 2, amplitude: 0.5", 25,
         "workload.classes.api.arrivals.amplitude", "applies to process diurnal, not gamma"),
        ("rate: 1200/min", "process: bursty, rate: 1200/min", 25,
         "workload.classes.api.arrivals.process", "'gamma'"),
    ],
)
def test_bad_fields_name_file_line_and_path(write_scenario, old, new, line, path, words):
    assert old in BASE
    err, file = error_of(write_scenario, BASE.replace(old, new, 1))
    assert err.file == file
    assert err.line == line, err.one_line()
    assert err.path == path, err.one_line()
    assert words in err.message, err.one_line()
    one = err.one_line()
    assert one.startswith(f"{file}:{line}: {path}: ")
    assert "\n" not in one


def test_duplicate_keys_are_refused(write_scenario):
    err, _ = error_of(write_scenario, BASE.replace("seed: 3\n", "seed: 3\nseed: 4\n"))
    assert err.line == 3 and "duplicate key 'seed'" in err.message


def test_invalid_yaml_gives_the_line(write_scenario):
    err, _ = error_of(write_scenario, BASE.replace("    replicas: 2\n", "    replicas: [2\n"))
    assert err.line is not None and "invalid YAML" in err.message


def test_yaml_tags_that_run_code_are_refused(write_scenario):
    err, _ = error_of(write_scenario, "name: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML" in err.message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_a_scenario_must_be_a_mapping(write_scenario, text):
    err, _ = error_of(write_scenario, text)
    assert err.line == 1


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")


def test_duplicate_service_names(write_scenario):
    err, _ = error_of(write_scenario, BASE.replace("- name: batch", "- name: web"))
    assert err.path == "services.web.name" and "duplicate service name" in err.message
    assert err.line == 18


def test_overrides_address_list_items_by_name(write_scenario):
    path = write_scenario(BASE)
    s = load_scenario(path, ["services.web.replicas=5", "workload.classes.api.arrivals.rate=50/s",
                             "services.batch.resources.example.com/fpga=2", "placement.solver=cbc"])
    assert s.service("web").replicas == 5
    assert s.workload.classes[0].arrivals.rate == 50
    assert s.service("batch").resources["example.com/fpga"] == 2
    assert s.placement.solver == "cbc"


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("services.nope.replicas=3", "no item named 'nope'"),
        ("services.web.replicas=lots", "valid integer"),
        ("services.web.replicas.x=1", "is a value, not a section"),
        ("replicas", "expected KEY=VALUE"),
        ("services.web.colour=red", "unknown field 'colour'"),
    ],
)
def test_bad_overrides_say_so(write_scenario, override, words):
    err, _ = error_of(write_scenario, BASE, [override])
    assert words in err.one_line()
    assert "--set" in err.one_line()


def test_same_document_same_digest(write_scenario):
    a = load_scenario(write_scenario(BASE, "a.yaml"))
    b = load_scenario(write_scenario(BASE.replace("cost: 0.5", "cost: 0.50"), "b.yaml"))
    c = load_scenario(write_scenario(BASE.replace("seed: 3", "seed: 4"), "c.yaml"))
    assert a.digest() == b.digest() != c.digest()


def test_fields_added_to_the_format_leave_the_digest_of_scenarios_without_them(write_scenario):
    """A field the format gained later (a service's autoscaling and pod (anti-)affinity, a spread's
    when_unsatisfiable and domains, the kubernetes section's excluded pools and workload components) is left
    out of the digest while it holds its default, so the digests of older scenarios, and the sweep run keys
    built on them, do not change; the report's echo of the scenario is the same view."""
    plain = load_scenario(write_scenario(BASE, "a.yaml"))
    canonical = plain.canonical()
    for service in canonical["services"]:
        assert not {"autoscaling", "anti_affinity", "affinity"} & set(service)
    assert "excluded" not in (canonical.get("kubernetes") or {})
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    assert plain.digest() == hashlib.sha256(text.encode()).hexdigest()
    spread = BASE.replace("    replicas: 2\n", "    replicas: 2\n    spread: {topology: zone}\n")
    spread = spread.replace("cost: 0.5", "cost: 0.5\n      labels: {zone: a}")
    default = spread.replace("{topology: zone}", "{topology: zone, when_unsatisfiable: DoNotSchedule}")
    other = spread.replace("{topology: zone}", "{topology: zone, when_unsatisfiable: ScheduleAnyway}")
    a, b, c = (load_scenario(write_scenario(t, f"{n}.yaml")) for n, t in enumerate((spread, default, other)))
    assert a.digest() == b.digest() != c.digest()
    assert c.canonical()["services"][0]["spread"]["when_unsatisfiable"] == "ScheduleAnyway"


def test_from_dict_does_not_modify_its_input():
    data = {"name": "d", "cluster": {"pools": [{"name": "p", "count": 1, "resources": {"cpu": 1}}]},
            "services": [{"name": "s", "replicas": 1, "resources": {"cpu": 1}}]}
    s = scenario_from_dict(data, overrides=["services.s.replicas=2"])
    assert s.service("s").replicas == 2 and data["services"][0]["replicas"] == 1


def test_min_cost_needs_costs(write_scenario):
    text = BASE.replace("      cost: 0.5\n", "")
    text = text.replace("placement:\n", "placement:\n  objective: min-cost\n")
    err, _ = error_of(write_scenario, text)
    assert err.path == "cluster.pools.cpu.cost"


def test_cv_only_for_lognormal(write_scenario):
    err, _ = error_of(write_scenario, BASE.replace("dist: lognormal", "dist: exponential"))
    assert err.path == "services.web.serving.service_time.cv"


BLOCK_CLASS = """\
    - name: burst
      service: web
      arrivals:
        process: onoff
        rate: 5/s
        on: 2s
        off: 8s
        cv: 3
"""


def test_arrival_parameters_load_and_name_their_line(write_scenario):
    api = "slo: {p99: 100ms}}\n"
    assert api in BASE
    text = BASE.replace(api, api + BLOCK_CLASS)
    err, _ = error_of(write_scenario, text)
    assert err.path == "workload.classes.burst.arrivals.cv", err.one_line()
    assert err.line == text.splitlines().index("        cv: 3") + 1, err.one_line()
    s = load_scenario(write_scenario(text.replace("        cv: 3\n", "")))
    burst = s.workload.classes[1].arrivals
    # `on:` and `off:` are keys here, not the YAML 1.1 booleans True and False.
    assert (burst.process, burst.rate, burst.on, burst.off) == ("onoff", 5.0, 2.0, 8.0)


def test_yes_no_are_strings_not_booleans(write_scenario):
    text = BASE.replace("      cost: 0.5\n", "      cost: 0.5\n      labels: {spot: yes}\n")
    s = load_scenario(write_scenario(text))
    assert s.pool("cpu").labels == {"spot": "yes"}


def test_arrival_parameters_by_override(write_scenario):
    path = write_scenario(BASE)
    s = load_scenario(path, ["workload.classes.api.arrivals.process=diurnal",
                             "workload.classes.api.arrivals.amplitude=30%",
                             "workload.classes.api.arrivals.start=6h"])
    a = s.workload.classes[0].arrivals
    assert (a.process, a.amplitude, a.start, a.period, a.peak_at) == ("diurnal", 0.3, 21600.0, None, None)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, ["workload.classes.api.arrivals.on=1s"])
    assert err.value.path == "workload.classes.api.arrivals.on"
    assert "--set" in err.value.file
