"""Plot data: the compact summaries of a run's per-request records that the plots need, as JSON data.

A run keeps one record per request (`capacity.sim.result.SimResult`: hundreds of thousands of rows); a
saved ``report.json`` must stay small (kilobytes) and yet let ``capacity report DIR`` redraw every plot
without re-running. `build_series` reduces the records to three kinds of curve, and `plot_data` adds the
validated scenario, so that the report carries everything its pictures and its HTML page show:

``input.scenario``
    The validated scenario (`Scenario.model_dump`, units parsed: CPU in cores, memory in bytes, times in
    seconds, rates per second), after any ``--set`` overrides. Its canonical JSON hashes to
    ``provenance.scenario_sha256``.

``series.window_s`` / ``series.edges_s``
    The width of the time windows (seconds: a round value, about 60–80 windows per run) and their edges
    ``[0, w, 2w, ..., duration]`` (the last window may be shorter). Time series cover the whole run,
    warm-up included, so that the transient at the start shows.

``series.classes[]`` / ``series.services[]``
    Lists in the scenario's order (JSON objects would lose it: report.json sorts keys), one entry per
    request class ``{name, cdf, over_time}`` and per serving service ``{name, queue}``:

``series.classes[].cdf``
    The latency distribution of the class's *measured* requests (arrived after the warm-up), as a grid of
    quantiles: ``q`` (levels in (0, 1): 0.001, 0.002, 0.005, ..., steps of 0.05 in the body, ..., 0.99,
    0.991, ..., 0.9999; only those the sample can resolve) and ``latency_s`` (the latency at each level,
    over the requests that were served), plus
    ``served_fraction`` (served / arrived). The fraction of *all* measured requests within ``x`` is
    ``served_fraction × F_served(x)``: requests that were rejected or timed out never finish, so the curve
    tops out at ``served_fraction``, and it is consistent with ``slo.attained``.

``series.classes[].over_time``
    Per window, over the requests that *arrived* in it (warm-up included): ``p50_s`` and ``p99_s`` latency
    of the served ones (``null`` when none was served), ``arrived`` and ``failed`` (not completed: rejected,
    timed out, dropped or lost).

``series.services[].queue``
    The number of requests *waiting* (arrived, not yet in service: a request waits from its arrival until
    its first service starts, or, if it never started, until it left the queue: timed out, or lost to a
    failure), summed over all the service's queues: ``mean`` (time
    average over the window) and ``max`` (the most at any instant in the window).

Every float is rounded to 6 significant digits (stable text; plots need no more). The same run always
gives the same data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from capacity.report.model import Input, Report, Series
from capacity.sim.metrics import series_edges
from capacity.sim.metrics import window_width as window_width  # re-exported (the series' windows)

if TYPE_CHECKING:
    from capacity.scenario import Scenario
    from capacity.sim.model import SimModel
    from capacity.sim.result import SimResult
    from capacity.sim.streaming import StreamingResult


class RunOutput(Protocol):
    """What the plot data is drawn from: a run's scenario, serving model, per-request records and report
    (`capacity.pipeline.RunResult`; no model and records for a run that only packed)."""

    @property
    def scenario(self) -> Scenario: ...
    @property
    def model(self) -> SimModel | None: ...
    @property
    def sim_result(self) -> SimResult | StreamingResult | None: ...
    @property
    def report(self) -> Report: ...

#: Quantile levels of the stored CDF: dense in both tails so that p99 and p99.9 SLOs can be read off.
CDF_LEVELS: tuple[float, ...] = tuple(sorted({
    0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, *(k / 20 for k in range(2, 19)),
    0.925, 0.94, *(k / 100 for k in range(95, 100)), *(round(0.99 + k / 1000, 3) for k in range(1, 10)),
    0.9995, 0.9999}))



def _r(x: float | None) -> float | None:
    """A float rounded to 6 significant digits; None for NaN (JSON has no NaN)."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.6g}")


def _rl(values: np.ndarray) -> list[float | None]:
    return [_r(float(v)) for v in values]


def cdf_grid(latencies: np.ndarray, arrived: int) -> dict[str, Any]:
    """The quantile grid of a sample of latencies (served requests) out of ``arrived`` requests."""
    lat = np.asarray(latencies, dtype=float)
    lat = lat[np.isfinite(lat)]
    n = lat.size
    levels = [q for q in CDF_LEVELS if min(q, 1 - q) * n >= 1]   # no level finer than one sample
    values = np.percentile(lat, [100 * q for q in levels]) if levels else np.empty(0)
    return {"q": levels, "latency_s": _rl(values),
            "served_fraction": _r(n / arrived) if arrived else None}


def _window_index(t: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)


def _percentiles_per_window(which: np.ndarray, values: np.ndarray, windows: int,
                            qs: tuple[float, ...]) -> list[np.ndarray]:
    """Per window, the given percentiles of ``values`` (NaN for an empty window)."""
    out = [np.full(windows, np.nan) for _ in qs]
    order = np.lexsort((values, which))
    which, values = which[order], values[order]
    counts = np.bincount(which, minlength=windows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for w in np.flatnonzero(counts):
        chunk = values[starts[w]:starts[w] + counts[w]]
        for k, q in enumerate(qs):
            out[k][w] = np.percentile(chunk, q)
    return out


def waiting_per_window(arrive_s: np.ndarray, leave_s: np.ndarray,
                       edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-average and maximum number of intervals ``[arrive, leave)`` open during each window.

    At equal times a departure is counted before an arrival, so a request that starts the moment it
    arrives never counts as waiting.
    """
    windows = len(edges) - 1
    keep = leave_s > arrive_s
    times = np.concatenate([arrive_s[keep], leave_s[keep]])
    deltas = np.concatenate([np.ones(np.count_nonzero(keep)), -np.ones(np.count_nonzero(keep))])
    if times.size == 0:
        return np.zeros(windows), np.zeros(windows)
    order = np.lexsort((deltas, times))           # by time, departures (-1) first at equal times
    times, deltas = times[order], deltas[order]
    level = np.cumsum(deltas)                      # number waiting just after each event
    # integral of the level from the first event up to each event time
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])

    def integral(t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(times, t, side="right") - 1       # last event at or before t
        before = k < 0
        k = np.maximum(k, 0)
        value = area[k] + level[k] * (t - times[k])
        return np.where(before, 0.0, value)

    width = np.diff(edges)
    mean = np.diff(integral(edges)) / width
    # the level at each window's start, then the highest level reached by an event inside the window
    k0 = np.searchsorted(times, edges[:-1], side="right") - 1
    start_level = np.where(k0 >= 0, level[np.maximum(k0, 0)], 0.0)
    first = np.searchsorted(times, edges[:-1], side="right")
    last = np.searchsorted(times, edges[1:], side="left")     # events strictly inside (start, end)
    peak = start_level.copy()
    for w in np.flatnonzero(last > first):
        peak[w] = max(peak[w], level[first[w]:last[w]].max())
    return mean, peak


def build_series(model: SimModel, result: SimResult, target_windows: int = 60) -> Series:
    """The ``series`` section of the report (see the module docstring)."""
    width, edges = series_edges(float(model.duration_s), target_windows)
    windows = len(edges) - 1
    served = ~result.rejected
    measured = result.measured
    latency = result.latency_s

    classes: list[dict[str, Any]] = []
    for k, c in enumerate(model.classes):
        mine = result.cls == k
        arrived_measured = int(np.count_nonzero(mine & measured))
        cdf = cdf_grid(latency[mine & measured & served], arrived_measured)
        which = _window_index(result.arrival_s[mine], edges)
        ok = served[mine]
        p50, p99 = _percentiles_per_window(which[ok], latency[mine][ok], windows, (50.0, 99.0))
        classes.append({
            "name": c.name,
            "cdf": cdf,
            "over_time": {
                "p50_s": _rl(p50), "p99_s": _rl(p99),
                "arrived": np.bincount(which, minlength=windows).tolist(),
                "failed": np.bincount(which[~ok], minlength=windows).tolist(),
            },
        })

    services: list[dict[str, Any]] = []
    service_index = {s.name: i for i, s in enumerate(model.services)}
    class_service = np.array([service_index.get(c.service, -1) for c in model.classes], dtype=np.int64)
    of_service = class_service[result.cls] if len(result) else np.empty(0, dtype=np.int64)
    # a request waits from its arrival until its first service starts; one that never started waits until
    # it left (timed out, or lost to a failure while queued); one refused on arrival never waits
    leave = np.where(np.isfinite(result.start_s), result.start_s,
                     np.where(np.isfinite(result.end_s), result.end_s, result.arrival_s))
    for i, s in enumerate(model.services):
        mine = of_service == i
        mean, peak = waiting_per_window(result.arrival_s[mine], leave[mine], edges)
        services.append({"name": s.name, "queue": {"mean": _rl(mean), "max": _rl(peak)}})

    return Series.model_validate({"window_s": _r(width), "edges_s": _rl(edges), "classes": classes,
                                  "services": services})


def build_streaming_series(model: SimModel, result: StreamingResult) -> Series:
    """The ``series`` section of a streaming run (`capacity.sim.streaming`), from its running statistics:
    the same keys and windows as `build_series`; the CDF's and the windows' latencies are the sketch's
    quantiles (within its relative error), counts and queue lengths exact."""
    stats = result.stats
    series = stats.series
    classes: list[dict[str, Any]] = []
    for k, c in enumerate(model.classes):
        sketch, arrived = stats.groups[k].latency, stats.groups[k].counts["arrived"]
        n = sketch.count
        levels = [q for q in CDF_LEVELS if min(q, 1 - q) * n >= 1]   # no level finer than one sample
        classes.append({
            "name": c.name,
            "cdf": {"q": levels, "latency_s": [_r(sketch.quantile(q)) for q in levels],
                    "served_fraction": _r(n / arrived) if arrived else None},
            "over_time": {
                "p50_s": [_r(w.quantile(0.5)) for w in series.latency[k]],
                "p99_s": [_r(w.quantile(0.99)) for w in series.latency[k]],
                "arrived": series.arrived[k].tolist(),
                "failed": series.failed[k].tolist(),
            },
        })
    widths = np.diff(series.edges)
    services = [{"name": s.name, "queue": {"mean": _rl(series.area[i] / widths), "max": _rl(series.peak[i])}}
                for i, s in enumerate(model.services)]
    return Series.model_validate({"window_s": _r(series.width), "edges_s": _rl(series.edges),
                                  "classes": classes, "services": services})


def plot_data(result: RunOutput) -> dict[str, Input | Series]:
    """The ``input`` and ``series`` sections of a run (``series`` only when it simulated traffic: from the
    per-request records of an exact run, from the running statistics of a streaming one). The
    scenario is echoed as the digest sees it (`Scenario.canonical`; limits are in provenance.limits), so
    the echo hashes to ``provenance.scenario_sha256``."""
    out: dict[str, Input | Series] = {"input": Input(scenario=result.scenario)}
    from capacity.sim.streaming import StreamingResult

    if result.model is not None and result.sim_result is not None:
        if isinstance(result.sim_result, StreamingResult):
            out["series"] = build_streaming_series(result.model, result.sim_result)
        else:
            out["series"] = build_series(result.model, result.sim_result)
    return out


def with_plot_data(report: Report, result: RunOutput) -> Report:
    """``report`` (the run's, or one with ``compare`` added) with the run's plot data (`plot_data`)."""
    return report.model_copy(update=plot_data(result))


def full_report(result: RunOutput) -> Report:
    """The run's report with its plot data (`plot_data`): what ``capacity run`` writes as report.json."""
    return with_plot_data(result.report, result)
