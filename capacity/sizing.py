"""SLO-driven sizing: the fewest replicas that meet every SLO, and the highest rate a cluster sustains.

Concepts:

* An **SLO check** measures one class's SLO (``p99: 200ms``: 99 % of its requests within 200 ms) over
  simulation runs with different seeds (*replications*; replication ``k`` uses the seed ``seed + k``).
  Per run, ``attained`` is the fraction of the class's measured requests (after warm-up) whose latency is
  within the target, a rejected or timed-out request counting as a miss, exactly as ``slo.attained`` in
  report.json; ``value_s`` is the latency at the SLO's quantile over the served requests. With ``measure
  = "wait"`` the SLO's target bounds the wait in queue (time before service starts) instead of the latency.
* A **pass rule** (`PASS_RULES`) decides from the runs whether the SLOs are met: ``all`` (default) every
  run meets every SLO (``attained >= quantile``); ``mean`` the mean attainment over the runs reaches the
  quantile; ``ci`` the lower end of the 95 % Student-t interval of the mean attainment does (with one run,
  its attainment).
* **No data**: a run in which no request of a class with an SLO arrived after the warm-up measured
  nothing (``attained`` is ``None``). That is never a pass, under every rule — the other seeds' mean is not
  the class's attainment. The search stops there (`ScenarioError` at the class, exit 2): no replica count
  and, at that rate, no seed can create the requests; the workload's window is too short to judge the SLO.
* **The attainment interval** (``attained_ci95_range``, printed beside the mean) is the 95 % Student-t
  interval of the mean over the seeds, **clipped to [0, 1]** (an attainment is a fraction, and near 100 %
  the symmetric interval used to poke above it: ``99.91 % ± 1.13 %``). Not a Wilson score interval over the
  requests: Wilson assumes independent requests, and a queue's latencies are strongly correlated (a busy
  period delays every request in it). Measured on M/M/c runs of 10 simulated minutes (21,600 requests, 20
  seeds): the seed-to-seed spread of the attainment was 2.0× the binomial one at 67 % utilisation and 5.4×
  at 80 %, and the per-seed 95 % Wilson interval held the Erlang C value in 16 and 5 of the 20 seeds. The
  seeds are independent runs, so the interval over them is valid however correlated the requests are
  (the replication method of simulation output analysis); with one seed there is no interval.
* **Bounded work**: every trial simulates at most ``limits.max_requests`` expected requests (the estimate
  of `capacity.limits`: each simulated class's mean rate × the duration), checked before the trial runs;
  ``--max-rate``, which doubles a class's rate, stops there with `SizingInputError` naming the limit, the
  rate reached and how to raise it. ``replications`` is at most ``limits.max_runs``. A search keeps what
  each run measured, not its per-request records: one run in memory at a time.
* **Travelling classes** (a ``path`` through several services): their services interact, so `size` and
  `max_rate` refuse such scenarios (`SizingInputError`) rather than size each service alone; end-to-end
  sizing is not implemented yet.
* **Sizing a service** (`size`): services do not interact in the simulation, so each service with an SLO
  is searched alone, on its own classes, with its replicas on a virtual node running at the speed of the
  slowest pool the service may use (the SLOs then hold wherever the packer puts them); node failures, which
  depend on the placement, are left to the final run. With one speed, the same seeds give the same numbers
  as the whole scenario. The search starts at the
  fewest replicas that can keep up with the offered load (``⌊Σ rate · mean service time / concurrency⌋ +
  1``; fewer would queue without bound), doubles the count until the SLOs pass (*bracket*), then bisects,
  each step with the scenario's seed alone; at the boundary it runs every replication, moving up until a
  count passes (by 1, 2, 4, ... then bisecting) and down while the count below it passes. If even a
  request served at once would miss the target too often (its own service time), the search stops with
  `SizingError`. The result is then placed
  by the packer (objective ``min-cost`` when every pool has a cost, else the scenario's own) and the whole
  scenario simulated with every seed, for the SLOs reported.
* **Maximum rate** (`max_rate`): with the scenario's replicas as placed, the highest arrival rate of one
  class at which every SLO of its service passes: bracketed by doubling (or halving) the class's rate,
  bisected to a relative tolerance with the scenario's seed, then confirmed with every replication
  (stepping down by the tolerance until it passes).

Units: times in seconds, rates per second, attainment a fraction in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from capacity import pipeline, sim
from capacity.errors import CapacityError, InfeasiblePlacement
from capacity.packing.problem import NodeUsage, Placement
from capacity.report.model import Report
from capacity.scenario import SLO_QUANTILES, Scenario, scenario_from_dict
from capacity.scenario.checks import GPU_RESOURCES
from capacity.sim.model import RequestClass, ServingService, SimModel
from capacity.sim.result import SimResult
from capacity.sizing_llm import Search, size_llm_service
from capacity.statistics import mean_ci
from capacity.units import format_duration


class SizingError(CapacityError):
    """The SLOs cannot be met: names the class, the service and why (the CLI exits 3)."""


class SizingInputError(SizingError):
    """The sizing was asked what it cannot do: an option out of range, an unknown class, a service without
    an SLO, a trial beyond ``limits`` (the CLI exits 2; raised before any simulation where it can be)."""


class TrialTooLarge(SizingInputError):
    """A trial would simulate more than ``limits.max_requests`` expected requests."""

    def __init__(self, value: float, expected: float, limit: float) -> None:
        self.value, self.expected, self.limit = value, expected, limit
        super().__init__(f"a trial would simulate about {expected:.3g} requests, more than "
                         f"limits.max_requests ({limit:.3g}); raise it (e.g. --set "
                         f"limits.max_requests={_round_up(expected):g}) or shorten workload.duration")


class NoMeasuredRequests(SizingInputError):
    """No request of class ``cls`` arrived in the statistics window of a trial (seed ``seed``)."""

    def __init__(self, cls: str, seed: int, expected: float, window: tuple[float, float]) -> None:
        self.cls, self.seed, self.expected = cls, seed, expected
        super().__init__(
            f"no request of class {cls!r} arrived in the statistics window [{window[0]:g}s, {window[1]:g}s) "
            f"with seed {seed} (about {expected:.3g} expected): its SLO cannot be judged, and no data is not "
            "a pass; lengthen workload.duration (or shorten its warmup), or raise the class's rate")


def _round_up(x: float) -> float:
    """``x`` rounded up to 3 significant digits (a limit that admits ``x``)."""
    if x <= 0:
        return x
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    return math.ceil(x / step) * step


# ---------------------------------------------------------------------------------------------- measuring

#: What an SLO target bounds: per request, its latency (wait plus service) or its wait in queue (seconds).
MEASURES: dict[str, Callable[[SimResult], np.ndarray]] = {
    "latency": lambda r: r.latency_s,
    "wait": lambda r: r.wait_s,
}


@dataclass(frozen=True)
class SloCheck:
    """One class's SLO measured over runs (one entry per seed)."""

    cls: str
    service: str
    key: str                                  # p99, p95, ...
    quantile: float                           # 0.99
    target_s: float
    seeds: tuple[int, ...]
    attained: tuple[float | None, ...]        # fraction of measured requests within the target; None: no data
    value_s: tuple[float | None, ...]         # the measure at ``quantile`` over served requests
    measured: tuple[int, ...] = ()            # measured requests per seed (the denominators of ``attained``)

    @property
    def has_data(self) -> bool:
        """Every seed measured some request of the class (no data is never a pass)."""
        return bool(self.attained) and all(a is not None for a in self.attained)

    @property
    def status(self) -> str:
        """``met`` (every seed met the SLO), ``missed``, or ``no data`` (some seed measured nothing)."""
        if not self.has_data:
            return "no data"
        return "met" if all(a is not None and a >= self.quantile for a in self.attained) else "missed"

    @property
    def mean_attained(self) -> float | None:
        return mean_ci(self.attained)[0]

    @property
    def ci95(self) -> float | None:
        """Half-width of the 95 % Student-t interval of the mean attainment (None with one seed)."""
        return mean_ci(self.attained)[1]

    @property
    def interval95(self) -> tuple[float, float] | None:
        """The 95 % interval of the mean attainment clipped to [0, 1] (see the module docstring)."""
        mean, ci = mean_ci(self.attained)
        if mean is None or ci is None:
            return None
        return max(0.0, mean - ci), min(1.0, mean + ci)

    def to_dict(self) -> dict[str, Any]:
        mean, ci = mean_ci(self.attained)
        interval = self.interval95
        return {"class": self.cls, "service": self.service, "slo": self.key, "quantile": self.quantile,
                "target_s": self.target_s, "seeds": list(self.seeds), "attained": mean, "attained_ci95": ci,
                "attained_ci95_range": None if interval is None else list(interval),
                "attained_per_seed": list(self.attained), "measured_per_seed": list(self.measured),
                "value_s": mean_ci(self.value_s)[0], "value_per_seed_s": list(self.value_s),
                "met_every_seed": self.status == "met", "status": self.status}


#: What one run measured of one class's SLO: attained fraction (None: no data), the measure at the
#: quantile over the served requests (None: none served), and the measured requests.
Measurement = tuple[float | None, float | None, int]


#: One SLO target of a class: its index, the class, the timing it bounds (``latency``, ``ttft``,
#: ``tpot``), the target (s) and the quantile.
SloTarget = tuple[int, RequestClass, str, float, float]


def _slo_targets(model: SimModel) -> list[SloTarget]:
    """Every SLO target of the model's classes: a class's latency target, then its TTFT and TPOT ones."""
    out: list[SloTarget] = []
    for k, c in enumerate(model.classes):
        if c.slo_target_s is not None and c.slo_quantile is not None:
            out.append((k, c, "latency", c.slo_target_s, c.slo_quantile))
        out.extend((k, c, t.metric, t.target_s, t.quantile) for t in c.token_slos)
    return out


def _timing(result: SimResult, metric: str, measure: str) -> np.ndarray:
    """Per request, the timing an SLO target bounds (NaN where it has none: no first or second token)."""
    if metric == "latency":
        return MEASURES[measure](result)
    values = result.ttft_s if metric == "ttft" else result.tpot_s
    return values if values is not None else np.full(len(result), np.nan)


def _measure_run(model: SimModel, result: SimResult, measure: str) -> list[Measurement]:
    """One run's measurement of every SLO target of the model's classes (in `_slo_targets` order). A
    served request without the timing (no TTFT: no output token; no TPOT: fewer than 2) meets it."""
    out: list[Measurement] = []
    for k, _, metric, target, quantile in _slo_targets(model):
        values = _timing(result, metric, measure)
        mine = result.measured & (result.cls == k)
        arrived = int(np.count_nonzero(mine))
        served = values[mine & ~result.rejected]
        with np.errstate(invalid="ignore"):
            hits = int(np.count_nonzero((served <= target) | np.isnan(served)))
        timed = served[~np.isnan(served)]
        out.append((hits / arrived if arrived else None,
                    float(np.quantile(timed, quantile)) if len(timed) else None, arrived))
    return out


def _checks(model: SimModel, runs: Sequence[Sequence[Measurement]], seeds: Sequence[int]) -> list[SloCheck]:
    """The `SloCheck` of every SLO target from the runs' measurements (one run per seed); a TTFT or TPOT
    target's key names the timing (``ttft p99``)."""
    checks = []
    for i, (_, c, metric, target, quantile) in enumerate(_slo_targets(model)):
        key = next((name for name, q in SLO_QUANTILES.items() if q == quantile), f"q{quantile:g}")
        checks.append(SloCheck(cls=c.name, service=c.service,
                               key=key if metric == "latency" else f"{metric} {key}", quantile=quantile,
                               target_s=target, seeds=tuple(seeds),
                               attained=tuple(run[i][0] for run in runs),
                               value_s=tuple(run[i][1] for run in runs),
                               measured=tuple(run[i][2] for run in runs)))
    return checks


def measure_slos(model: SimModel, results: Sequence[SimResult], seeds: Sequence[int],
                 measure: str = "latency") -> list[SloCheck]:
    """Every SLO of the model's classes, measured in each result (one result per seed)."""
    return _checks(model, [_measure_run(model, r, measure) for r in results], seeds)


def expected_requests(model: SimModel) -> float:
    """Requests a run of ``model`` is expected to simulate: each class's mean rate × the duration (the
    estimate `capacity.limits` checks against ``limits.max_requests``)."""
    return sum(c.arrivals.rate_per_s for c in model.classes) * model.duration_s


# ---------------------------------------------------------------------------------------------- pass rules

class AllMeet:
    """Every run meets every SLO."""

    def __call__(self, checks: Sequence[SloCheck]) -> bool:
        return all(a is not None and a >= c.quantile for c in checks for a in c.attained)


class MeanMeets:
    """The mean attainment over the runs reaches the quantile, for every SLO (every run measured it)."""

    def __call__(self, checks: Sequence[SloCheck]) -> bool:
        return all(c.has_data and c.mean_attained is not None and c.mean_attained >= c.quantile
                   for c in checks)


class CiMeets:
    """The lower end of the 95 % t-interval of the mean attainment reaches the quantile (one run: itself)."""

    def __call__(self, checks: Sequence[SloCheck]) -> bool:
        for c in checks:
            mean, ci = mean_ci(c.attained)
            if not c.has_data or mean is None or mean - (ci or 0.0) < c.quantile:
                return False
        return True


#: The pass rules by name (``--pass-rule``).
PASS_RULES: dict[str, Callable[[Sequence[SloCheck]], bool]] = {
    "all": AllMeet(), "mean": MeanMeets(), "ci": CiMeets(),
}


@dataclass(frozen=True)
class Trial:
    """One step of a search: a replica count (or a rate), the seeds run, the SLOs and the verdict."""

    value: float
    checks: tuple[SloCheck, ...]
    passed: bool

    def to_dict(self, what: str) -> dict[str, Any]:
        return {what: self.value, "seeds": list(self.checks[0].seeds) if self.checks else [],
                "passed": self.passed,
                "attained": {c.cls: list(c.attained) for c in self.checks}}


class _Evaluator:
    """Runs a one-service model at a replica count or class rate with given seeds. Keeps what each run
    measured (per value and seed) and only the last run itself: one run's records in memory at a time."""

    def __init__(self, build: Callable[[float, int], SimModel], rule: Callable[[Sequence[SloCheck]], bool],
                 measure: str, max_requests: float) -> None:
        self.build, self.rule, self.measure, self.max_requests = build, rule, measure, max_requests
        self.measured: dict[tuple[float, int], list[Measurement]] = {}
        self.last: tuple[tuple[float, int], SimModel, SimResult] | None = None
        self.trials: list[Trial] = []

    def run(self, value: float, seed: int) -> tuple[SimModel, SimResult]:
        """The model at ``value`` and its run with ``seed``; `TrialTooLarge` before a run beyond the limit."""
        if self.last is not None and self.last[0] == (value, seed):
            return self.last[1], self.last[2]
        model = self.build(value, seed)
        expected = expected_requests(model)
        if expected > self.max_requests:
            raise TrialTooLarge(value, expected, self.max_requests)
        self.last = None                     # let the previous run go before the next one is drawn
        result = sim.simulate_model(model)
        self.last = ((value, seed), model, result)
        return model, result

    def measurements(self, value: float, seed: int) -> list[Measurement]:
        """What the run at ``value`` with ``seed`` measured (`NoMeasuredRequests`: a class had none)."""
        if (value, seed) not in self.measured:
            model, result = self.run(value, seed)
            runs = _measure_run(model, result, self.measure)
            for (_, c, *_), (_, _, arrived) in zip(_slo_targets(model), runs, strict=True):
                if arrived == 0:
                    window = (model.warmup_s, model.duration_s)
                    raise NoMeasuredRequests(c.name, seed, c.arrivals.rate_per_s * (window[1] - window[0]),
                                             window)
            self.measured[(value, seed)] = runs
        return self.measured[(value, seed)]

    def trial(self, value: float, seeds: Sequence[int]) -> Trial:
        """The verdict at ``value`` over ``seeds`` (recorded in ``trials`` the first time it is asked)."""
        known = next((t for t in self.trials if t.value == value and t.checks
                      and t.checks[0].seeds == tuple(seeds)), None)
        if known is None and isinstance(self.rule, AllMeet):
            # under ``all`` a miss with some of the seeds is a miss with all of them: no need to run more
            known = next((t for t in self.trials if t.value == value and not t.passed and t.checks
                          and set(t.checks[0].seeds) <= set(seeds)), None)
        if known is not None:
            return known
        runs = [self.measurements(value, s) for s in seeds]
        checks = tuple(_checks(self.build(value, seeds[0]), runs, seeds))
        trial = Trial(value=value, checks=checks, passed=self.rule(checks))
        self.trials.append(trial)
        return trial


def _seeds(scenario: Scenario, replications: int) -> list[int]:
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SizingInputError(f"replications must be an integer of at least 1 (got {replications!r})")
    if replications > scenario.limits.max_runs:
        raise SizingInputError(f"{replications} replications is more than limits.max_runs "
                               f"({scenario.limits.max_runs:.3g}); raise limits.max_runs")
    return [(scenario.seed + k) % 2**63 for k in range(replications)]


def _rule(pass_rule: str) -> Callable[[Sequence[SloCheck]], bool]:
    if pass_rule not in PASS_RULES:
        raise SizingInputError(f"unknown pass rule {pass_rule!r} (rules: {', '.join(PASS_RULES)})")
    return PASS_RULES[pass_rule]


def _measure(measure: str) -> str:
    if measure not in MEASURES:
        raise SizingInputError(f"unknown measure {measure!r} (measures: {', '.join(MEASURES)})")
    return measure


def _no_data_error(scenario: Scenario, exc: NoMeasuredRequests) -> CapacityError:
    """`ScenarioError` at the workload class (a trace tenant's class ``CLASS@TENANT`` is the class)."""
    assert scenario.workload is not None
    names = [c.name for c in scenario.workload.classes]
    base = exc.cls if exc.cls in names else exc.cls.partition("@")[0]
    return scenario.error(str(exc), ("workload", "classes", names.index(base)))


def _service_classes(model: SimModel, service: str) -> tuple[RequestClass, ...]:
    return tuple(c for c in model.classes if c.service == service)


# ---------------------------------------------------------------------------------------------- size

def _virtual_placement(scenario: Scenario) -> Placement:
    """Each service's replicas on one virtual node of its slowest allowed pool: the search needs no packing
    (the simulator reads only a replica's pool, for its speed)."""
    nodes: dict[str, NodeUsage] = {}
    assignment: dict[str, str] = {}
    for s in scenario.services:
        pool = _slowest_pool(scenario, s.name)
        node = nodes.setdefault(pool, NodeUsage(name=f"virtual-{pool}", pool=pool, replicas=[], used={},
                                                capacity={}))
        for i in range(s.replicas):
            node.replicas.append(f"{s.name}-{i}")
            assignment[f"{s.name}-{i}"] = node.name
    return Placement(status="feasible", solver="virtual", objective="min-nodes", nodes_used=len(nodes),
                     lower_bound=0, objective_value=None, objective_bound=None, cost_per_hour=None,
                     solve_time_s=0.0, nodes=list(nodes.values()), assignment=assignment)


def _slowest_pool(scenario: Scenario, service: str) -> str:
    """The slowest pool that ``service`` may be placed on (the first of them on a tie)."""
    allowed = scenario.service(service).pools
    pools = [p for p in scenario.cluster.pools if allowed is None or p.name in allowed]
    return min(pools, key=lambda p: float(getattr(p, "speed", 1.0))).name


@dataclass
class ServiceSizing:
    """One service's answer: ``replicas`` (the scenario had ``initial``) and the search's trials."""

    name: str
    replicas: int
    initial: int
    status: str                                   # sized | no SLO | not serving
    trials: list[Trial] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "initial_replicas": self.initial, "status": self.status,
                "trials": [t.to_dict("replicas") for t in self.trials]}


@dataclass
class SizingResult:
    """`size`'s answer: replicas per service, the placement of the sized scenario and its SLOs."""

    scenario: Scenario                            # the sized scenario
    services: dict[str, ServiceSizing]
    report: Report | None                         # report.json of the sized scenario (first seed)
    slos: list[SloCheck]
    pass_rule: str
    measure: str
    seeds: list[int]
    shortages: list[str] = field(default_factory=list)   # the sized services do not fit
    llm: dict[str, Any] = field(default_factory=dict)    # LLM services: `capacity.sizing_llm.LlmSizing`

    def to_dict(self) -> dict[str, Any]:
        placement = self.report.placement.model_dump(mode="json") if self.report else None
        out = {"scenario": self.scenario.name, "pass_rule": self.pass_rule, "slo_on": self.measure,
               "seeds": self.seeds, "services": {n: s.to_dict() for n, s in self.services.items()},
               "placement": placement, "slos": [c.to_dict() for c in self.slos],
               "fits": not self.shortages, "shortages": self.shortages}
        if self.llm:
            out["llm"] = {name: found.to_dict() for name, found in self.llm.items()}
        return out

    def text(self) -> str:
        lines = [f"sizing (SLOs on {self.measure}; pass rule {self.pass_rule}; {len(self.seeds)} seeds at "
                 "the boundary):",
                 f"  {'service':<16} {'replicas':>8} {'was':>5}  search (replicas: pass/fail, seeds)"]
        for s in self.services.values():
            steps = ", ".join(f"{int(t.value)} {'pass' if t.passed else 'fail'}" + _times(t)
                              for t in s.trials)
            lines.append(f"  {s.name:<16} {s.replicas:>8} {s.initial:>5}  {steps or s.status}")
        for found in self.llm.values():
            lines += found.table()
        if self.report:
            p = self.report.placement
            cost = "" if p.cost_per_hour is None else f", {p.cost_per_hour:.2f}/h"
            lines.append(f"placement: {p.nodes_used} nodes{cost} ({p.status}, {p.solver}, objective "
                         f"{p.objective}, lower bound {p.lower_bound})")
        lines += slo_lines(self.slos)
        return "\n".join(lines)


def _times(trial: Trial) -> str:
    """`` ×N`` after a trial run with N > 1 seeds (a verdict over every replication)."""
    n = len(trial.checks[0].seeds) if trial.checks else 1
    return f" ×{n}" if n > 1 else ""


def slo_lines(checks: Sequence[SloCheck]) -> list[str]:
    """The SLO table: target, attained fraction (mean over seeds and its 95 % interval, clipped to
    [0, 100 %]), measured quantile, verdict over every seed (met, MISSED, no data)."""
    if not checks:
        return ["no SLOs"]
    lines = [f"SLOs (over {len(checks[0].seeds)} seeds):",
             f"  {'class':<16} {'service':<14} {'SLO':<16} {'attained':>8} {'95% interval':>15} "
             f"{'measured':>10}  every seed"]
    for c in checks:
        mean = c.mean_attained
        attained = "-" if mean is None else f"{100 * mean:.2f}%"
        interval = c.interval95
        spread = "-" if interval is None else f"{100 * interval[0]:.2f}–{100 * interval[1]:.2f}%"
        slo = f"{c.key} <= {format_duration(c.target_s)}"
        verdict = {"met": "met", "missed": "MISSED", "no data": "no data"}[c.status]
        lines.append(f"  {c.cls:<16} {c.service:<14} {slo:<16} {attained:>8} {spread:>15} "
                     f"{format_duration(mean_ci(c.value_s)[0]):>10}  {verdict}")
    return lines


def _slowest_speed(scenario: Scenario, service: str) -> float:
    """The speed of the slowest pool that ``service`` may be placed on (1 when pools have no speed)."""
    return float(getattr(scenario.pool(_slowest_pool(scenario, service)), "speed", 1.0))


def _size_service(svc: ServingService, classes: tuple[RequestClass, ...], model: SimModel, speed: float,
                  seeds: list[int], rule: Callable[[Sequence[SloCheck]], bool], measure: str,
                  max_replicas: int, max_requests: float) -> tuple[int, list[Trial]]:
    def build(n: float, seed: int) -> SimModel:
        replicas = tuple(sim.Replica(name=f"{svc.name}-{i}", node="virtual", pool="virtual", speed=speed)
                         for i in range(int(n)))
        return replace(model, services=(replace(svc, replicas=replicas),), classes=classes, seed=seed,
                       failures=())

    ev = _Evaluator(build, rule, measure, max_requests)
    load = sum(c.arrivals.rate_per_s for c in classes) * svc.service_time.mean_s / speed / svc.concurrency
    low = max(1, math.floor(load) + 1)
    if low > max_replicas:
        raise SizingError(f"service {svc.name!r}: its offered load needs more than {max_replicas} replicas")
    _check_attainable(svc, ev, low, seeds[0], measure, speed)

    def passes(n: int, reps: int) -> bool:
        return ev.trial(n, seeds[:reps]).passed

    # low - 1 fails (or is below the stable minimum), low is tried first
    found = _bracket(low - 1, low, max_replicas, lambda n: passes(n, 1))
    if found is None:
        raise SizingError(f"service {svc.name!r}: no replica count up to {max_replicas} meets its SLOs")
    hi = found
    # the boundary, with every replication
    hi = _first_passing_from(hi, max_replicas, lambda n: passes(n, len(seeds)),
                             f"service {svc.name!r}: no replica count up to {max_replicas} meets its SLOs "
                             "with every seed")
    while hi - 1 >= low and passes(hi - 1, len(seeds)):
        hi -= 1
    return hi, ev.trials


def _bracket(lo: int, hi: int, limit: int, passes: Callable[[int], bool]) -> int | None:
    """The fewest count above ``lo`` (which fails) that passes, trying ``hi`` first, assuming more replicas
    never hurt: doubles ``hi`` (up to ``limit``) until it passes, then bisects between the last failure and
    it. None when ``limit`` fails too."""
    while not passes(hi):
        if hi >= limit:
            return None
        lo, hi = hi, min(2 * hi, limit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _first_passing_from(start: int, limit: int, passes: Callable[[int], bool], message: str) -> int:
    """The fewest count ``>= start`` (at most ``limit``) that passes, assuming more replicas never hurt:
    steps up by 1, 2, 4, ... then bisects, so a boundary far above ``start`` (a seed the single-seed search
    did not see) costs a logarithmic number of trials, not one per count. `SizingError` with ``message``
    when ``limit`` does not pass either."""
    if passes(start):
        return start
    lo, step = start, 1
    while True:
        hi = min(lo + step, limit)
        if passes(hi):
            break
        if hi >= limit:
            raise SizingError(message)
        lo, step = hi, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _check_attainable(svc: ServingService, ev: _Evaluator, n: int, seed: int, measure: str,
                      speed: float) -> None:
    """Stop when a class's own service times miss its latency target too often: no count can help."""
    if measure != "latency":
        return
    model, result = ev.run(n, seed)
    for k, c in enumerate(model.classes):
        if c.slo_target_s is None or c.slo_quantile is None:
            continue
        mine = result.measured & (result.cls == k)
        if not np.any(mine):
            continue
        best = float(np.mean(result.service_s[mine] / speed <= c.slo_target_s))
        if best < c.slo_quantile:
            raise SizingError(
                f"class {c.name!r} (service {svc.name!r}): its SLO (p{100 * c.slo_quantile:g} <= "
                f"{format_duration(c.slo_target_s)}) cannot be met by adding replicas: only "
                f"{100 * best:.2f}% of its requests have a service time within the target")


def size(scenario: Scenario, *, replications: int = 3, pass_rule: str = "all", measure: str = "latency",
         max_replicas: int = 4096) -> SizingResult:
    """The fewest replicas of each service that meet every SLO of its classes, then the cheapest placement
    of the result (see the module docstring). Raises `SizingInputError` on bad input (before simulating),
    `ScenarioError` when a class with an SLO has no measured request, `SizingError` when an SLO cannot be
    met."""
    rule, measure = _rule(pass_rule), _measure(measure)
    if scenario.workload is None:
        raise SizingInputError(f"scenario {scenario.name!r} has no workload: there are no SLOs to size for")
    _refuse_paths(scenario)
    seeds = _seeds(scenario, replications)
    model = pipeline.serving_model(scenario, _virtual_placement(scenario))
    sized: dict[str, ServiceSizing] = {}
    llm: dict[str, Any] = {}
    for svc in model.services:
        classes = _service_classes(model, svc.name)
        initial = scenario.service(svc.name).replicas
        if not any(c.slo_target_s is not None or c.token_slos for c in classes):
            sized[svc.name] = ServiceSizing(svc.name, initial, initial, "no SLO")
            continue
        try:
            if svc.llm is not None:                  # GPU type × tensor parallel × replicas
                found = llm[svc.name] = size_llm_service(
                    scenario, svc, classes, model, seeds, rule, measure, max_replicas,
                    scenario.limits.max_requests,
                    Search(_Evaluator, _bracket, _first_passing_from, SizingError))
                assert found.chosen.replicas is not None       # the chosen candidate met every SLO
                n, trials = found.chosen.replicas, found.trials
            else:
                n, trials = _size_service(svc, classes, model, _slowest_speed(scenario, svc.name), seeds,
                                          rule, measure, max_replicas, scenario.limits.max_requests)
        except NoMeasuredRequests as exc:
            raise _no_data_error(scenario, exc) from None
        sized[svc.name] = ServiceSizing(svc.name, n, initial, "sized", trials)
    for s in scenario.services:                      # services that serve no requests keep their replicas
        sized.setdefault(s.name, ServiceSizing(s.name, s.replicas, s.replicas, "not serving"))
    sized = {s.name: sized[s.name] for s in scenario.services}

    doc = scenario.as_document()
    doc.pop("whatif", None)
    for s in doc["services"]:
        if s["name"] in sized:
            s["replicas"] = sized[s["name"]].replicas
        if s["name"] in llm:                         # the chosen GPU pool and tensor-parallel degree
            chosen = llm[s["name"]].chosen
            s["pools"] = [chosen.pool]
            s["serving"]["llm"]["tensor_parallel"] = chosen.tp
            gpu = next(r for r in s["resources"] if r in GPU_RESOURCES)
            s["resources"][gpu] = chosen.tp
    if all(p.cost is not None for p in scenario.cluster.pools):
        doc.setdefault("placement", {})["objective"] = "min-cost"
    result_scenario = scenario_from_dict(doc, source=f"{scenario.source} [sized]",
                                         data_dirs=scenario.data_dirs)
    result = SizingResult(scenario=result_scenario, services=sized, report=None, slos=[],
                          pass_rule=pass_rule, measure=measure, seeds=seeds, llm=llm)
    try:
        run = pipeline.run(result_scenario)
    except InfeasiblePlacement as exc:
        return replace(result, shortages=[str(s) for s in exc.shortages] or [str(exc)])
    assert run.model is not None and run.sim_result is not None
    model = run.model
    # the checks read per-request records: a streaming run (workload.statistics) is replayed exactly here
    # (its trials were: sim.simulate_model, within limits.max_requests)
    first = run.sim_result if isinstance(run.sim_result, SimResult) else sim.simulate_model(model)
    runs = [_measure_run(model, first, measure)]       # one run's records in memory at a time
    runs += [_measure_run(model, sim.simulate_model(replace(model, seed=s)), measure) for s in seeds[1:]]
    return replace(result, report=run.report, slos=_checks(model, runs, seeds))


# ---------------------------------------------------------------------------------------------- max rate

def _scaled(arrivals: sim.Arrivals, rate: float) -> sim.Arrivals:
    """The arrivals at mean ``rate``: a trace replay is thinned or multiplied by its ``rate_scale``."""
    if arrivals.process == "trace":
        factor = rate / arrivals.rate_per_s
        return replace(arrivals, rate_per_s=rate, rate_scale=arrivals.rate_scale * factor)
    return replace(arrivals, rate_per_s=rate)


@dataclass
class MaxRateResult:
    """`max_rate`'s answer: the highest rate of ``cls`` found to pass (``max_rate_per_s``) and the lowest
    found to fail (``failed_rate_per_s``), the trials, and the SLOs at the maximum over every seed."""

    scenario: Scenario
    cls: str
    service: str
    base_rate_per_s: float
    max_rate_per_s: float
    failed_rate_per_s: float
    trials: list[Trial]
    slos: list[SloCheck]
    pass_rule: str
    measure: str
    seeds: list[int]
    report: Report | None = None                  # report.json of the scenario as given (its placement)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario.name, "class": self.cls, "service": self.service,
                "pass_rule": self.pass_rule, "slo_on": self.measure, "seeds": self.seeds,
                "base_rate_per_s": self.base_rate_per_s, "max_rate_per_s": self.max_rate_per_s,
                "failed_rate_per_s": self.failed_rate_per_s,
                "scale": self.max_rate_per_s / self.base_rate_per_s,
                "trials": [t.to_dict("rate_per_s") for t in self.trials],
                "placement": self.report.placement.model_dump(mode="json") if self.report else None,
                "slos": [c.to_dict() for c in self.slos]}

    def text(self) -> str:
        lines = [f"max rate of class {self.cls} (service {self.service}; SLOs on {self.measure}; pass rule "
                 f"{self.pass_rule}; {len(self.seeds)} seeds at the boundary):",
                 f"  {self.max_rate_per_s:.4g}/s = {self.max_rate_per_s / self.base_rate_per_s:.3f} × the "
                 f"scenario's {self.base_rate_per_s:.4g}/s (fails at {self.failed_rate_per_s:.4g}/s)",
                 "  search: " + ", ".join(f"{t.value:.4g}/s {'pass' if t.passed else 'fail'}" + _times(t)
                                          for t in self.trials)]
        return "\n".join(lines + slo_lines(self.slos))


def _refuse_paths(scenario: Scenario) -> None:
    """`SizingInputError` when a class travels a path: its services interact (one's output is another's
    input), so the per-service search below does not apply; end-to-end sizing is not implemented yet."""
    classes = scenario.workload.classes if scenario.workload is not None else []
    travelling = [c.name for c in classes if c.path is not None]
    if travelling:
        raise SizingInputError(f"classes with a path ({', '.join(travelling)}) need end-to-end sizing, which "
                               "capacity size does not do yet: run the scenario and read simulation.paths")


def _check_max_rate_class(scenario: Scenario, class_name: str) -> None:
    """`SizingInputError` unless ``class_name`` is a class of the workload whose service serves a class with
    an SLO (checked on the scenario, before anything is packed or simulated)."""
    if scenario.workload is None:
        raise SizingInputError(f"scenario {scenario.name!r} has no workload")
    _refuse_paths(scenario)
    classes = scenario.workload.classes
    names = [c.name for c in classes]
    if class_name not in names:
        raise SizingInputError(f"no class named {class_name!r} (classes: {', '.join(names)})")
    target = classes[names.index(class_name)]
    if not any(c.slo is not None for c in classes if c.service == target.service):
        raise SizingInputError(f"service {target.service!r} of class {class_name!r} serves no class with an "
                               "SLO")
    if target.tenants is not None and target.arrivals.process == "trace":
        raise SizingInputError(f"class {class_name!r} replays its trace per tenant: the maximum rate of such "
                               "a class is not supported")


def max_rate(scenario: Scenario, class_name: str, *, replications: int = 3, pass_rule: str = "all",
             measure: str = "latency", rel_tol: float = 0.01, max_steps: int = 40) -> MaxRateResult:
    """The highest arrival rate of ``class_name`` at which the scenario's placed replicas meet every SLO of
    that class's service (see the module docstring). Raises `SizingInputError` on bad input (before
    anything runs) or when a trial would pass ``limits.max_requests``, `ScenarioError` when a class with an
    SLO has no measured request at the scenario's rates, `SizingError` if no rate is found."""
    rule, measure = _rule(pass_rule), _measure(measure)
    if not 0 < rel_tol < 1:
        raise SizingInputError(f"rel_tol must be in (0, 1) (got {rel_tol})")
    seeds = _seeds(scenario, replications)
    _check_max_rate_class(scenario, class_name)
    run = pipeline.run(scenario, simulate_traffic=False)
    model = pipeline.serving_model(scenario, run.placement)
    target = next(c for c in model.classes if c.name == class_name)
    svc = next(s for s in model.services if s.name == target.service)
    classes = _service_classes(model, svc.name)

    def build(rate: float, seed: int) -> SimModel:
        scaled = tuple(replace(c, arrivals=_scaled(c.arrivals, rate)) if c.name == class_name else c
                       for c in classes)
        return replace(model, services=(svc,), classes=scaled, seed=seed)

    ev = _Evaluator(build, rule, measure, scenario.limits.max_requests)

    def passes(rate: float, reps: int) -> bool:
        return ev.trial(rate, seeds[:reps]).passed

    base = target.arrivals.rate_per_s
    try:
        passed = passes(base, 1)
    except NoMeasuredRequests as exc:
        raise _no_data_error(scenario, exc) from None
    if passed:
        lo, hi = base, 2 * base
        for _ in range(max_steps):
            try:
                if not passes(hi, 1):
                    break
            except TrialTooLarge as exc:
                raise SizingInputError(
                    f"max rate of class {class_name!r}: the SLOs still pass at {lo:.4g}/s ({lo / base:.4g} × "
                    f"the scenario's {base:.4g}/s); the next rate, {hi:.4g}/s, would simulate about "
                    f"{exc.expected:.3g} requests, more than limits.max_requests ({exc.limit:.3g}): raise it "
                    f"(e.g. --set limits.max_requests={_round_up(exc.expected):g}) or shorten "
                    "workload.duration") from None
            lo, hi = hi, 2 * hi
        else:
            raise SizingError(f"class {class_name!r} still meets the SLOs at {lo:g}/s: no limit found")
    else:
        lo, hi = base / 2, base
        for _ in range(max_steps):
            try:
                if passes(lo, 1):
                    break
            except NoMeasuredRequests:
                raise SizingError(f"the SLOs of service {svc.name!r} are missed at every rate of class "
                                  f"{class_name!r} down to {hi:.4g}/s; at {lo:.4g}/s no request arrives in "
                                  "the statistics window to measure") from None
            lo, hi = lo / 2, lo
        else:
            raise SizingError(f"the SLOs of service {svc.name!r} are missed even at {lo:g}/s of class "
                              f"{class_name!r}")
    while hi / lo - 1 > rel_tol:
        mid = (lo + hi) / 2
        if passes(mid, 1):
            lo = mid
        else:
            hi = mid
    for _ in range(max_steps):                       # the boundary, with every replication
        final = ev.trial(lo, seeds)
        if final.passed:
            break
        lo, hi = lo / (1 + rel_tol), lo
    else:
        raise SizingError(f"no rate of class {class_name!r} passes with every seed")
    return MaxRateResult(scenario=scenario, cls=class_name, service=svc.name, base_rate_per_s=base,
                         max_rate_per_s=lo, failed_rate_per_s=hi, trials=ev.trials, slos=list(final.checks),
                         pass_rule=pass_rule, measure=measure, seeds=seeds, report=run.report)
