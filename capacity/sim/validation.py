"""Validation of the engine's input: a `SimModel` (every field, named by its path) and a `RequestStream`.

The scenario loader (`capacity.scenario`) refuses bad scenario files with their file, line and field; this
is the engine's own check of what it is given directly (tests, notebooks, sweeps): a `ValueError` naming
the first bad field, e.g. ``classes.bulk.arrivals.rate_per_s: must be a finite rate >= 0 per second, got
-1``. The batching and token fields are checked by `capacity.sim.batching.validate_serving`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.batching import validate_serving
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.model import Arrivals, RequestClass, ServingService, SimModel, TokenCount
from capacity.sim.paths import validate_path
from capacity.sim.requests import RequestStream
from capacity.sim.routing import ROUTINGS
from capacity.sim.service_times import SERVICE_TIMES
from capacity.sim.traces import Trace


def bad(path: str, why: str, value: object) -> ValueError:
    """The error for field ``path``: what is wrong, and the value."""
    return ValueError(f"{path}: {why}, got {value!r}")


def finite(x: object) -> bool:
    """Whether ``x`` is a finite int or float (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_model(model: SimModel) -> None:
    """Raise `ValueError` naming the field (``classes.bulk.arrivals.rate_per_s``) of the first bad value."""
    if not finite(model.duration_s) or model.duration_s <= 0:
        raise bad("duration_s", "must be a finite number of seconds > 0", model.duration_s)
    if not finite(model.warmup_s) or not 0 <= model.warmup_s < model.duration_s:
        raise bad("warmup_s", f"must be in [0, duration_s={model.duration_s})", model.warmup_s)
    if not isinstance(model.seed, int) or isinstance(model.seed, bool) or model.seed < 0:
        raise bad("seed", "must be an integer >= 0", model.seed)
    services: set[str] = set()
    replicas: set[str] = set()
    for s in model.services:
        if s.name in services:
            raise bad("services", "names must be unique", s.name)
        services.add(s.name)
        _validate_service(s)
        for r in s.replicas:
            if r.name in replicas:
                raise bad(f"services.{s.name}.replicas", "replica names must be unique", r.name)
            replicas.add(r.name)
    names: set[str] = set()
    service_of = {s.name: s for s in model.services}
    for c in model.classes:
        if c.name in names:
            raise bad("classes", "names must be unique", c.name)
        names.add(c.name)
        _validate_class(c, services)
        validate_path(c, service_of, bad)
    _validate_tokens(model, bad, finite)
    validate_serving(model, bad, finite)                # batching, token service times, pool speeds
    _validate_failures_admission(model, bad, finite)


def _validate_service(s: ServingService) -> None:
    """One service's queue policy and service time (its names are checked by the caller)."""
    where = f"services.{s.name}"
    if not isinstance(s.concurrency, int) or s.concurrency < 1:
        raise bad(f"{where}.concurrency", "must be an integer >= 1", s.concurrency)
    if s.discipline not in DISCIPLINES:
        raise bad(f"{where}.discipline", f"must be one of {sorted(DISCIPLINES)}", s.discipline)
    if s.routing not in ROUTINGS:
        raise bad(f"{where}.routing", f"must be one of {sorted(ROUTINGS)}", s.routing)
    if s.preemption not in ("resume", "restart"):
        raise bad(f"{where}.preemption", "must be 'resume' or 'restart'", s.preemption)
    if s.max_length is not None and (not isinstance(s.max_length, int)
                                     or isinstance(s.max_length, bool) or s.max_length < 0):
        raise bad(f"{where}.max_length", "must be an integer >= 0 or None", s.max_length)
    if s.timeout_s is not None and (not finite(s.timeout_s) or s.timeout_s <= 0):
        raise bad(f"{where}.timeout_s", "must be a finite number of seconds > 0 or None",
                  s.timeout_s)
    st = s.service_time
    if st.dist not in SERVICE_TIMES and not st.tokens:
        raise bad(f"{where}.service_time.dist", f"must be one of {sorted([*SERVICE_TIMES, 'tokens'])}",
                  st.dist)
    if not st.tokens and (not finite(st.mean_s) or st.mean_s <= 0):
        raise bad(f"{where}.service_time.mean_s", "must be a finite number of seconds > 0",
                  st.mean_s)
    if not finite(st.cv) or st.cv < 0:
        raise bad(f"{where}.service_time.cv", "must be a finite number >= 0", st.cv)


def _validate_class(c: RequestClass, services: set[str]) -> None:
    """One class: its service, arrivals, priority, weight and SLO (its name is checked by the caller)."""
    where = f"classes.{c.name}"
    if c.service not in services:
        raise bad(f"{where}.service", f"must name a service of the model {sorted(services)}",
                  c.service)
    if c.arrivals.process not in ARRIVAL_PROCESSES:
        raise bad(f"{where}.arrivals.process", f"must be one of {sorted(ARRIVAL_PROCESSES)}",
                  c.arrivals.process)
    if not finite(c.arrivals.rate_per_s) or c.arrivals.rate_per_s < 0:
        raise bad(f"{where}.arrivals.rate_per_s", "must be a finite rate >= 0 per second",
                  c.arrivals.rate_per_s)
    _validate_arrivals(c.arrivals, f"{where}.arrivals")
    if not isinstance(c.priority, int) or isinstance(c.priority, bool):
        raise bad(f"{where}.priority", "must be an integer", c.priority)
    if not finite(c.weight) or c.weight <= 0:
        raise bad(f"{where}.weight", "must be a finite number > 0", c.weight)
    if (c.slo_target_s is None) != (c.slo_quantile is None):
        raise bad(f"{where}.slo_quantile", "SLO needs both slo_target_s and slo_quantile",
                  (c.slo_target_s, c.slo_quantile))
    if c.slo_target_s is not None and (not finite(c.slo_target_s) or c.slo_target_s <= 0):
        raise bad(f"{where}.slo_target_s", "must be a finite number of seconds > 0",
                  c.slo_target_s)
    if c.slo_quantile is not None and (not finite(c.slo_quantile)
                                       or not 0 < c.slo_quantile <= 1):
        raise bad(f"{where}.slo_quantile", "must be in (0, 1]", c.slo_quantile)


def _validate_arrivals(a: Arrivals, where: str) -> None:
    """The process parameters of one class (only those its process reads)."""
    if a.process == "gamma" and (not finite(a.cv) or a.cv <= 0):
        raise bad(f"{where}.cv", "must be a finite number > 0", a.cv)
    if a.process == "onoff":
        for key in ("on_s", "off_s"):
            value = getattr(a, key)
            if not finite(value) or value <= 0:
                raise bad(f"{where}.{key}", "onoff needs a finite number of seconds > 0", value)
    if a.process == "diurnal":
        if not finite(a.amplitude) or not 0 <= a.amplitude < 1:
            raise bad(f"{where}.amplitude", "must be in [0, 1)", a.amplitude)
        if not finite(a.period_s) or a.period_s <= 0:
            raise bad(f"{where}.period_s", "must be a finite number of seconds > 0", a.period_s)
        for key in ("peak_at_s", "start_s"):
            if not finite(getattr(a, key)):
                raise bad(f"{where}.{key}", "must be a finite number of seconds", getattr(a, key))
    if a.process == "trace":
        _validate_trace(a, where)
    if a.process == "steps":
        _validate_steps(a, where)


def _validate_steps(a: Arrivals, where: str) -> None:
    """Steps: at least one, the first at 0, times increasing and finite, rates finite and >= 0."""
    if not a.steps:
        raise bad(f"{where}.steps", "steps arrivals need at least one step", a.steps)
    previous = -1.0
    for k, (at, rate) in enumerate(a.steps):
        if not finite(at) or at <= previous or (k == 0 and at != 0.0):
            raise bad(f"{where}.steps.{k}.at_s", "the first step starts at 0 and each later one after the "
                      "one before it (finite seconds)", at)
        if not finite(rate) or rate < 0:
            raise bad(f"{where}.steps.{k}.rate", "must be a finite rate >= 0 per second", rate)
        previous = at


def _validate_trace(a: Arrivals, where: str) -> None:
    """The fields of trace arrivals."""
    # a trace read for a window (last_s set) may keep no request: none falls inside the window
    if not isinstance(a.trace, Trace) or (len(a.trace) == 0 and a.trace.last_s is None):
        raise bad(f"{where}.trace", "trace arrivals need a Trace with at least one request", a.trace)
    for key in ("time_scale", "rate_scale"):
        if not finite(getattr(a, key)) or not 0 < getattr(a, key) <= 1e6:
            raise bad(f"{where}.{key}", "must be a finite number in (0, 1e6]", getattr(a, key))
    if not finite(a.start_s) or a.start_s < 0:
        raise bad(f"{where}.start_s", "must be a finite number of seconds >= 0", a.start_s)
    if a.tenant_weights is not None and (not a.tenant_weights or not all(
            finite(w) and w > 0 for w in a.tenant_weights)):
        raise bad(f"{where}.tenant_weights", "must be finite numbers > 0", a.tenant_weights)
    if a.tenant_index is not None:
        count = len(a.tenant_weights) if a.tenant_weights is not None else len(a.trace.tenant_names)
        if not isinstance(a.tenant_index, int) or not 0 <= a.tenant_index < count:
            raise bad(f"{where}.tenant_index", f"must index the {count} tenants of the split "
                      "(tenant_weights, or the trace's tenant column)", a.tenant_index)


def _validate_failures_admission(model: SimModel, bad: Callable[[str, str, object], ValueError],
                                 finite: Callable[[object], bool]) -> None:
    """Admission and failure settings: services' and classes' modes, and the failures' times."""
    for s in model.services:
        if s.admission not in ("accept", "deadline"):
            raise bad(f"services.{s.name}.admission", "must be 'accept' or 'deadline'", s.admission)
        if s.on_failure not in ("retry", "lost"):
            raise bad(f"services.{s.name}.on_failure", "must be 'retry' or 'lost'", s.on_failure)
    for c in model.classes:
        if c.admission not in (None, "accept", "deadline"):
            raise bad(f"classes.{c.name}.admission", "must be 'accept', 'deadline' or None", c.admission)
        if c.admission == "deadline" and c.slo_target_s is None:
            raise bad(f"classes.{c.name}.admission", "deadline admission needs an SLO target", c.admission)
    for k, f in enumerate(model.failures):
        where = f"failures.{k}"
        if not finite(f.at_s) or not 0 <= f.at_s < model.duration_s:
            raise bad(f"{where}.at_s", f"must be in [0, duration_s={model.duration_s})", f.at_s)
        if f.recover_s is not None and (not finite(f.recover_s) or f.recover_s <= 0):
            raise bad(f"{where}.recover_s", "must be a finite number of seconds > 0 or None", f.recover_s)
        if not isinstance(f.nodes, tuple) or not all(isinstance(x, str) for x in f.nodes):
            raise bad(f"{where}.nodes", "must be a tuple of node names", f.nodes)
    if model.interval_s is not None and (not finite(model.interval_s) or model.interval_s <= 0):
        raise bad("interval_s", "must be a finite number of seconds > 0 or None", model.interval_s)


def _validate_tokens(model: SimModel, bad: Callable[[str, str, object], ValueError],
                     finite: Callable[[object], bool]) -> None:
    """Token specs of the classes, and the token counts that ``queue_cost: tokens`` needs."""
    for c in model.classes:
        if c.tokens is None:
            continue
        where = f"classes.{c.name}.tokens"
        if c.arrivals.process == "trace":
            raise bad(where, "a trace gives the token counts: a trace class takes no token spec", c.tokens)
        _validate_token_count(c.tokens.input, f"{where}.input")
        _validate_token_count(c.tokens.output, f"{where}.output")
    for s in model.services:
        if s.queue_cost not in ("time", "tokens"):
            raise bad(f"services.{s.name}.queue_cost", "must be 'time' or 'tokens'", s.queue_cost)
        if s.queue_cost == "tokens":
            for c in model.classes:
                if c.service == s.name and c.tokens is None and c.arrivals.process != "trace":
                    raise bad(f"classes.{c.name}.tokens", f"service {s.name} charges tokens "
                              "(queue_cost), so its classes need token counts (a token spec or a trace)",
                              None)


def _validate_token_count(spec: TokenCount, where: str) -> None:
    """One distribution of token counts."""
    if spec.dist not in SERVICE_TIMES:
        raise bad(f"{where}.dist", f"must be one of {sorted(SERVICE_TIMES)}", spec.dist)
    if not finite(spec.mean) or spec.mean <= 0:
        raise bad(f"{where}.mean", "must be a finite number of tokens > 0", spec.mean)
    if not finite(spec.cv) or spec.cv < 0:
        raise bad(f"{where}.cv", "must be a finite number >= 0", spec.cv)
    if not isinstance(spec.min, int) or spec.min < 0:
        raise bad(f"{where}.min", "must be a whole number >= 0", spec.min)
    if spec.max is not None and (not isinstance(spec.max, int) or spec.max < spec.min):
        raise bad(f"{where}.max", f"must be a whole number >= min ({spec.min})", spec.max)


def validate_stream(model: SimModel, stream: RequestStream) -> None:
    """Raise `ValueError` naming the first field of ``stream`` that the model cannot replay."""
    n = len(stream)
    if not len(stream.cls) == len(stream.service_s) == n:
        raise ValueError("stream: cls, arrival_s and service_s must have one entry per request")
    if n == 0:
        return
    if stream.cls.min() < 0 or stream.cls.max() >= len(model.classes):
        raise ValueError(f"stream.cls: must index model.classes (0..{len(model.classes) - 1})")
    if not (np.all(np.isfinite(stream.arrival_s)) and np.all(np.diff(stream.arrival_s) >= 0)):
        raise ValueError("stream.arrival_s: must be finite and sorted (use RequestStream.from_arrays)")
    if stream.arrival_s[0] < 0 or stream.arrival_s[-1] >= model.duration_s:
        raise ValueError(f"stream.arrival_s: must lie in [0, duration_s={model.duration_s})")
    if not np.all(np.isfinite(stream.service_s)) or stream.service_s.min() < 0:
        raise ValueError("stream.service_s: must be finite and >= 0")
    for name in ("input_tokens", "output_tokens"):
        tokens = getattr(stream, name)
        if tokens is not None and (len(tokens) != n or tokens.min() < 0):
            raise ValueError(f"stream.{name}: must have one count >= 0 per request")
    charged = [s.name for s in model.services if s.queue_cost == "tokens"]
    if charged and (stream.input_tokens is None or stream.output_tokens is None):
        raise ValueError(f"services.{charged[0]}.queue_cost: 'tokens' needs the stream's token counts "
                         "(input_tokens and output_tokens)")
