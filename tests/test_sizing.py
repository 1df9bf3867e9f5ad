"""SLO-driven sizing against Erlang C, the maximum rate against theory, pass rules and the size command."""

import json
import math
import statistics
from dataclasses import replace

import pytest

from capacity import max_rate, pipeline, scenario_from_dict, sim, size, theory
from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.sizing import PASS_RULES, SizingError, SizingInputError, SloCheck, measure_slos, slo_lines

LAM, MU = 40.0, 10.0          # offered load 4 Erlangs; exponential service, mean 100 ms


def mmc(key: str, target: str, *, replicas: int = 1, rate: float = LAM, seed: int = 3,
        duration: str = "20m", costs: bool = False) -> object:
    """An M/M/c service: one class, Poisson arrivals, one slot per replica, FIFO, central queue."""
    pool = {"name": "n", "count": 64, "resources": {"cpu": 1}}
    if costs:
        pool["cost"] = 0.1
    return scenario_from_dict({
        "name": "mmc", "seed": seed,
        "cluster": {"pools": [pool]},
        "services": [{"name": "s", "replicas": replicas, "resources": {"cpu": 1},
                      "serving": {"service_time": {"dist": "exponential", "mean": 1 / MU}}}],
        "workload": {"duration": duration, "warmup": "1m",
                     "classes": [{"name": "k", "service": "s", "arrivals": {"rate": rate},
                                  "slo": {key: target}}]},
    })


def sojourn_cdf(t: float, lam: float, mu: float, c: int) -> float:
    """P(wait + service <= t) in M/M/c: no wait with probability 1 − C, else an Exp(cμ − λ) wait."""
    wait_prob, drain = theory.erlang_c(c, lam / mu), c * mu - lam
    if math.isclose(drain, mu):                  # the sum of two Exp(μ) is Erlang-2
        both = 1 - math.exp(-mu * t) * (1 + mu * t)
    else:
        both = 1 - (drain * math.exp(-mu * t) - mu * math.exp(-drain * t)) / (drain - mu)
    return (1 - wait_prob) * (1 - math.exp(-mu * t)) + wait_prob * both


# Targets chosen away from the boundary between two counts: the Erlang C attainment at the answer and at
# one replica fewer differ from the quantile by at least 0.02, while one seed of 20 simulated minutes
# (48k requests) estimates an attainment with a standard deviation of at most 0.005 here (measured over 8
# seeds; the test checks the spread it sees against the margin).
WAIT_CASES = [("p90", 0.100, 6), ("p90", 0.020, 7), ("p95", 0.020, 8)]


@pytest.mark.parametrize(("key", "target_s", "expected"), WAIT_CASES)
def test_size_matches_erlang_c_for_wait_targets(key, target_s, expected):
    q = {"p90": 0.90, "p95": 0.95}[key]
    assert theory.servers_for_wait_quantile(LAM, MU, q, target_s) == expected
    margin = min(theory.mmc_wait_cdf(target_s, LAM, MU, expected) - q,
                 q - theory.mmc_wait_cdf(target_s, LAM, MU, expected - 1))
    assert margin >= 0.02
    result = size(mmc(key, f"{target_s}s"), measure="wait")
    assert result.services["s"].replicas == expected
    (check,) = result.slos
    assert statistics.stdev(check.attained) < margin / 3          # the noise is small against the margin
    assert abs(check.mean_attained - theory.mmc_wait_cdf(target_s, LAM, MU, expected)) < margin / 2
    # the final run is the searched model: the boundary trial saw the same attainments
    boundary = [t for t in result.services["s"].trials if t.value == expected and len(t.checks[0].seeds) == 3]
    assert boundary and boundary[-1].checks[0].attained == check.attained
    below = [t for t in result.services["s"].trials if t.value == expected - 1]
    assert below and not any(t.passed for t in below)
    # under the "all" rule a count that missed with one seed is not run again with more seeds
    failed = [t.value for t in result.services["s"].trials if not t.passed]
    assert len(failed) == len(set(failed))


def test_size_on_latency_matches_the_mmc_sojourn_distribution():
    q, target_s = 0.90, 0.300
    counts = [c for c in range(5, 12) if sojourn_cdf(target_s, LAM, MU, c) >= q]
    expected = counts[0]
    assert expected == 6 and sojourn_cdf(target_s, LAM, MU, 5) < q - 0.03 < q + 0.03 < sojourn_cdf(
        target_s, LAM, MU, 6)
    result = size(mmc("p90", "300ms"))
    assert result.services["s"].replicas == expected
    assert result.report["placement"]["nodes_used"] == expected       # one 1-CPU replica per node


def test_max_rate_matches_erlang_c(tmp_path):
    c, q, target_s = 6, 0.90, 0.020

    def attained(lam: float) -> float:
        return theory.mmc_wait_cdf(target_s, lam, MU, c)

    lo, hi = 1.0, c * MU - 1e-9                      # theory: the largest rate with attained >= q
    for _ in range(60):
        lo, hi = ((lo + hi) / 2, hi) if attained((lo + hi) / 2) >= q else (lo, (lo + hi) / 2)
    best = lo
    found = max_rate(mmc("p90", "20ms", replicas=c, rate=20.0), "k", measure="wait", pass_rule="mean")
    assert found.base_rate_per_s == 20.0
    assert found.max_rate_per_s < found.failed_rate_per_s < c * MU
    assert PASS_RULES["mean"](found.slos)
    # tolerance from the variance: the spread of one seed's attainment near the answer, over 6 seeds
    scenario = mmc("p90", "20ms", replicas=c, rate=best)
    model = pipeline.serving_model(scenario, pipeline.pack(scenario))
    seeds = list(range(10, 16))
    runs = [sim.simulate_model(replace(model, seed=s)) for s in seeds]
    (spread,) = measure_slos(model, runs, seeds, "wait")
    sd = statistics.stdev(spread.attained)
    slope = (attained(best * 1.01) - attained(best * 0.99)) / (0.02 * best)
    tolerance = 5 * sd / abs(slope) + 0.02 * best
    assert abs(found.max_rate_per_s - best) < tolerance, (found.max_rate_per_s, best, tolerance)


def test_the_boundary_search_with_every_seed_is_logarithmic():
    """A seed the one-seed search did not see can push the answer far up: found in O(log) trials, not one
    trial per replica count (a linear scan to 4096 would run thousands of simulations)."""
    from capacity.sizing import _first_passing_from

    for start, answer in ((5, 5), (5, 6), (5, 7), (5, 1000), (1, 4096)):
        tried = []

        def passes(n, answer=answer, tried=tried):
            tried.append(n)
            return n >= answer

        assert _first_passing_from(start, 4096, passes, "none") == answer
        assert len(tried) <= 2 * math.log2(answer - start + 2) + 2, (answer, tried)
    with pytest.raises(SizingError, match="none"):
        _first_passing_from(5, 64, lambda n: False, "none")


# ---------------------------------------------------------------------------------------------- rules

def _check(attained, quantile=0.9):
    n = len(attained)
    return SloCheck(cls="k", service="s", key="p90", quantile=quantile, target_s=0.1, seeds=tuple(range(n)),
                    attained=tuple(attained), value_s=(None,) * n)


def test_no_data_never_passes():
    """A seed in which no request of the class was measured (``None``) is no pass, under every rule: the
    mean of the seeds that did measure is not the attainment of the class."""
    for rule in PASS_RULES.values():
        assert not rule([_check([None])])
        assert not rule([_check([1.0, None, 1.0])])
        assert rule([_check([1.0, 1.0, 1.0])])
    assert _check([1.0, None]).status == "no data" and _check([1.0, None]).to_dict()["status"] == "no data"
    assert _check([0.95, 0.8]).status == "missed" and _check([0.95, 0.91]).status == "met"


def test_the_attainment_interval_stays_within_0_and_100_percent():
    """The 95 % Student-t interval over the seeds' attainments, clipped to [0, 1]: the seeds are independent
    runs (a Wilson interval over the requests would take correlated requests for independent ones)."""
    check = _check([1.0, 1.0, 0.97])
    # mean 0.99, s = 0.017320508, t(0.975, 2) = 4.302652730: half-width 0.043026527 -> [0.946973, 1.033027]
    assert check.mean_attained == pytest.approx(0.99)
    assert check.ci95 == pytest.approx(0.0430265273, rel=1e-8)
    low, high = check.interval95
    assert low == pytest.approx(0.9469734727, rel=1e-9) and high == 1.0
    assert check.to_dict()["attained_ci95_range"] == [pytest.approx(low), 1.0]
    assert _check([0.0, 0.0, 0.03]).interval95 == (0.0, pytest.approx(0.0530265273, rel=1e-8))
    assert _check([0.95]).interval95 is None                   # one seed: no interval
    line = slo_lines([check])[-1]
    assert "99.00%" in line and "94.70–100.00%" in line and "103" not in line


def test_size_stops_on_a_class_without_measured_requests(write_scenario, capsys):
    """No request after the warm-up: more replicas cannot help and no count can be judged (exit 2 at the first
    trial, naming the class, not a search up to 4096 replicas)."""
    text = TWO.replace("slo: {p99: 400ms}}", "slo: {p99: 400ms}}\n"
                       "    - {name: rare, service: api, arrivals: {rate: 0.0001/s}, slo: {p99: 400ms}}")
    path = write_scenario(text)
    with pytest.raises(ScenarioError, match=r"workload\.classes\.rare: no request of class 'rare' arrived"):
        size(load_scenario_file(path))
    assert main(["size", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lengthen workload.duration" in err[0] and err[0].startswith(f"error: {path}:")


def test_pass_rules():
    assert PASS_RULES["all"]([_check([0.91, 0.95, 0.92])])
    assert not PASS_RULES["all"]([_check([0.91, 0.89, 0.99])])
    assert PASS_RULES["mean"]([_check([0.91, 0.89, 0.99])])
    assert not PASS_RULES["mean"]([_check([0.90, 0.89, 0.90])])
    # ci: mean 0.93, half-width t(.975, 2) · 0.01 / √3 = 0.0248: passes; a wider spread does not
    assert PASS_RULES["ci"]([_check([0.92, 0.93, 0.94])])
    assert not PASS_RULES["ci"]([_check([0.90, 0.93, 0.96])])
    assert not PASS_RULES["all"]([_check([0.95]), _check([0.5])])
    assert not PASS_RULES["all"]([_check([None])])


# ---------------------------------------------------------------------------------------------- command

TWO = """\
name: two
seed: 4
cluster:
  pools:
    - {name: small, count: 10, resources: {cpu: 2, memory: 4Gi}, cost: 0.10}
    - {name: large, count: 4, resources: {cpu: 8, memory: 16Gi}, cost: 0.30}
services:
  - name: api
    replicas: 1
    resources: {cpu: 1, memory: 1Gi}
    serving: {service_time: {mean: 50ms}}
  - name: cron
    replicas: 2
    resources: {cpu: 1, memory: 1Gi}
workload:
  duration: 4m
  warmup: 20s
  classes:
    - {name: web, service: api, arrivals: {rate: 50/s}, slo: {p99: 400ms}}
"""


def test_size_command_writes_the_json(write_scenario, tmp_path, capsys):
    out = tmp_path / "size.json"
    assert main(["size", str(write_scenario(TWO)), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    found = json.loads(out.read_text())
    assert set(found) >= {"services", "placement", "slos"}
    api = found["services"]["api"]
    assert api["initial_replicas"] == 1 and api["replicas"] >= 3           # 2.5 Erlangs of load
    assert found["services"]["cron"] == {"replicas": 2, "initial_replicas": 2, "status": "not serving",
                                         "trials": []}
    assert found["placement"]["objective"] == "min-cost"                     # every pool has a cost
    placed = sorted(r for n in found["placement"]["nodes"] for r in n["replicas"])
    assert placed == sorted([f"api-{i}" for i in range(api["replicas"])] + ["cron-0", "cron-1"])
    (slo,) = found["slos"]
    assert slo["class"] == "web" and slo["met_every_seed"] and len(slo["attained_per_seed"]) == 3
    fewer = [t for t in api["trials"] if t["replicas"] == api["replicas"] - 1]
    assert not fewer or not all(t["passed"] for t in fewer)
    assert any(line.split()[:3] == ["api", str(api["replicas"]), "1"] for line in text.splitlines()
               if line.strip())
    assert "p99 <= 400ms" in text and "objective min-cost" in text


def test_unattainable_slo_exits_3_with_the_reason(write_scenario, capsys):
    path = write_scenario(TWO.replace("service_time: {mean: 50ms}",
                                      "service_time: {dist: deterministic, mean: 500ms}"))
    assert main(["size", str(path)]) == 3
    err = capsys.readouterr().err.strip()
    assert err == ("error: class 'web' (service 'api'): its SLO (p99 <= 400ms) cannot be met by adding "
                   "replicas: only 0.00% of its requests have a service time within the target")
    with pytest.raises(SizingError, match="cannot be met by adding replicas"):
        size(mmc("p90", "1ms", duration="2m"))     # an exponential service time under 1 ms: 1 % of requests


def test_sized_services_that_do_not_fit_exit_3(write_scenario, capsys):
    path = write_scenario(TWO.replace("count: 10", "count: 1").replace("count: 4, resources: {cpu: 8",
                                                                       "count: 1, resources: {cpu: 2"))
    assert main(["size", str(path)]) == 3
    err = capsys.readouterr().err
    assert "the sized services do not fit" in err and "Traceback" not in err


def load_scenario_file(path):
    from capacity import load_scenario

    return load_scenario(path)


def _no_simulation(monkeypatch):
    """Fail the test if anything is packed or simulated."""
    def boom(*args, **kwargs):
        raise AssertionError("bad input must be refused before any simulation")

    monkeypatch.setattr(sim, "simulate_model", boom)
    monkeypatch.setattr(pipeline, "run", boom)


@pytest.mark.parametrize(("args", "words"), [
    (["--replications", "0"], "--replications 0: must be at least 1"),
    (["--replications", "-2", "--max-rate", "web"], "--replications -2: must be at least 1"),
    (["--replications", "100001"], "more than limits.max_runs"),
    (["--max-rate", "nope"], "--max-rate 'nope': no class named 'nope' (classes: web)"),
    (["--pass-rule", "most"], "--pass-rule 'most'"),
])
def test_bad_size_options_exit_2_before_any_simulation(write_scenario, capsys, monkeypatch, args, words):
    path = write_scenario(TWO)
    _no_simulation(monkeypatch)
    assert main(["size", str(path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and words in err[0], err


def test_max_rate_of_a_service_without_slo_is_bad_input(write_scenario, capsys, monkeypatch):
    path = write_scenario(TWO.replace(", slo: {p99: 400ms}", ""))
    _no_simulation(monkeypatch)
    with pytest.raises(SizingInputError, match="serves no class with an SLO"):
        max_rate(load_scenario_file(path), "web")
    assert main(["size", str(path), "--max-rate", "web"]) == 2


def test_max_rate_stops_at_the_request_limit(write_scenario, tmp_path):
    """A generous SLO passes at every rate: the doubling must stop at limits.max_requests (one line, exit 2),
    not grow the simulated requests (and the memory) without end."""
    import subprocess
    import sys

    path = write_scenario(TWO.replace("slo: {p99: 400ms}", "slo: {p50: 1000h}").replace("duration: 4m",
                                                                                     "duration: 1m"))
    proc = subprocess.run([sys.executable, "-m", "capacity", "size", str(path), "--max-rate", "web",
                           "--replications", "1", "--set", "limits.max_requests=2e5"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    # 50/s × 60 s = 3000 requests; 3000 × 2^6 = 192000 still fits, 2^7 does not: the SLOs still pass at 3200/s
    assert line.startswith("error: max rate of class 'web': the SLOs still pass at 3200/s (64 × the "
                           "scenario's 50/s); the next rate, ")
    assert "6400/s, would simulate about 3.84e+05 requests, more than limits.max_requests (2e+05)" in line
    assert "--set limits.max_requests=" in line and "Traceback" not in proc.stderr


def test_max_rate_command(write_scenario, capsys, tmp_path):
    out = tmp_path / "rate.json"
    path = write_scenario(TWO.replace("replicas: 1\n", "replicas: 4\n", 1))
    assert main(["size", str(path), "--max-rate", "web", "--json", str(out)]) == 0
    found = json.loads(out.read_text())
    assert 50 < found["max_rate_per_s"] < 4 / 0.05                # more than today, less than saturation
    # the boundary trials say they ran every seed, so "R pass" and "R fail ×3" do not read as a contradiction
    search = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("search:"))
    assert f"{found['max_rate_per_s']:.4g}/s pass ×3" in search
    assert found["scale"] == pytest.approx(found["max_rate_per_s"] / 50)
