"""Plots (matplotlib): each a function ``fn(ax, data)`` that draws on a given `Axes`, so the CLI, the HTML
report and notebooks share them.

``data`` is a report with its plot data (a `capacity.report.model.Report` as ``capacity run`` writes it to
``report.json``, with the ``series`` and ``input`` sections of `capacity.report.series`; report.json's data
is read into the model first, `as_report`), or a `RunResult` (its plot data is computed on the fly). Every
plot is therefore drawable from a saved ``report.json`` alone. Times are shown in milliseconds or minutes as
the axis says; shares in percent.

* `latency_cdf` — per class, the fraction of measured requests served within a latency (log time axis,
  logit fraction axis so that p50, p90, p99 and p99.9 are evenly spaced). Each SLO is a marker at
  (target, quantile): a curve that passes left of and above its marker meets it; the legend says
  met / MISSED, or "no data" (a hollow square) for a class with no measured request. Rejected and
  timed-out requests never finish, so such a curve stays below 100 %.
* `latency_over_time` — p50 (solid) and p99 (dashed) latency per class in time windows by arrival time,
  the warm-up shaded, p50 and p99 SLO targets dotted, and a cross on top of each window in which requests
  failed (rejected, timed out, dropped or lost), sized by the share that failed: shows the warm-up
  transient, bursts and failures. Node and zone failures are shaded red from the failure to the
  recovery (or the end), labelled with what went down (also in `queue_length`).
* `queue_length` — requests waiting per service over time: the time-average per window (line) and the
  most at any instant in it (thin steps), on a scale linear up to 1 and logarithmic above.
* `node_usage` — per node, the share of each resource allocated by replicas' requests, stacked by
  service, beside the share of its serving slots busy in the simulation, stacked by service.
* `placement_map` — nodes as columns, one sub-column per resource; every replica is a block (its request
  over the node's capacity, coloured by service); above them the free capacity, split into usable,
  *stranded* (free but no replica allowed there fits, red hatch) and the headroom kept free (grey hatch).
* `autoscaling_over_time` — an autoscaled run: the offered load (arrivals per second per window, all
  classes of the autoscaled services) against the replicas of each autoscaled service (ready: solid steps;
  ready + starting: dashed; pending: dotted) and each pool's nodes (grey steps), with the windows that
  missed an SLO shaded red; the title gives the fleet's cost beside the static plan's.
* `path_breakdown` — a run with travelling classes (``simulation.paths``): per class, one horizontal bar
  of its mean end-to-end time split by stage, each stage's visits per request × its network delay
  (grey), wait (hatched) and service (solid, coloured by service); a tick marks the mean end-to-end
  latency (for a fork-join the branches overlap, so the bar is longer than the latency).
* `sweep_p99_cost` — for a sweep, p99 latency per class and the cost per hour against the swept value,
  with the SLO targets and the cheapest point that meets every SLO marked (the table shape is described
  in the function).

`PLOTS` lists the standard plots of a run (file name → function, figure size, what it needs);
`render_pngs` draws them into PNG bytes and `write_plots` writes them to a directory.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from capacity.report.model import (
    ClassSeries,
    Paths,
    PlacedNode,
    Report,
    Series,
    ServiceSeries,
    SloResult,
    parse_report,
)
from capacity.report.series import full_report
from capacity.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Data = Any  # a Report, report.json's data, or a run (`capacity.report.series.RunOutput`)

_MISSED = "#c62828"
_STRANDED = "#d32f2f"
_HEADROOM = "#9e9e9e"


# ---------------------------------------------------------------------------------------------- data access

def as_report(data: Data) -> Report:
    """The report with plot data: ``data`` itself (a `Report`), report.json's data read into the model, or
    a run's full report (`capacity.report.series.full_report`)."""
    if isinstance(data, Report):
        return data
    if isinstance(data, Mapping):
        return parse_report(data)
    if hasattr(data, "report") and hasattr(data, "sim_result"):
        return full_report(data)
    raise TypeError(f"expected a report or a RunResult, not {type(data).__name__}")


@dataclass(frozen=True)
class _SeriesView:
    """The ``series`` section with its classes and services by name, in the scenario's order."""

    series: Series
    classes: dict[str, ClassSeries]
    services: dict[str, ServiceSeries]


def _series(report: Report, plot: str) -> _SeriesView:
    series = report.series
    if series is None:
        raise ValueError(f"{plot}: the report has no 'series' section (plot data of the simulation); "
                         "it is written by 'capacity run' or capacity.report.full_report(result)")
    return _SeriesView(series, {c.name: c for c in series.classes}, {s.name: s for s in series.services})


def _input_scenario(report: Report, plot: str) -> Scenario:
    if report.input is None:
        raise ValueError(f"{plot}: the report has no 'input.scenario' section (the validated scenario); "
                         "it is written by 'capacity run' or capacity.report.full_report(result)")
    return report.input.scenario


def _colours(names: Sequence[str]) -> dict[str, Any]:
    """A stable colour per name, in order (tab10, then tab20 for more than ten names)."""
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(k % cmap.N) for k, name in enumerate(names)}


def _service_colours(report: Report, fallback: Sequence[str]) -> dict[str, Any]:
    """Colours by service, the same in every plot: in the scenario's order of services."""
    names = [s.name for s in report.input.scenario.services] if report.input is not None else []
    return _colours(names + [n for n in fallback if n not in names])


def _pick(names: Iterable[str], only: Iterable[str] | None) -> list[str]:
    names = list(names)
    if only is None:
        return names
    wanted = list(only)
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(f"unknown name(s) {', '.join(unknown)}; known: {', '.join(names)}")
    return wanted


def _slos(report: Report) -> dict[str, SloResult]:
    classes = report.simulation.classes if report.simulation is not None else {}
    return {name: c.slo for name, c in classes.items() if c.slo is not None}


#: The SLO marker of `latency_cdf` per status: marker, size, face colour (None: the class's colour).
#: "no data" is a hollow square, neither the circle of a pass nor the cross of a miss.
_SLO_MARKERS: dict[str | None, tuple[str, int, str | None]] = {
    "met": ("o", 10, "white"), "missed": ("X", 11, None), "no data": ("s", 9, "white"), None: ("", 0, None)}


def _ms_text(seconds: float) -> str:
    ms = 1e3 * seconds
    return f"{ms:.3g} ms" if ms < 1000 else f"{seconds:.3g} s"


def _warmup_s(report: Report) -> float:
    """The end of the warm-up (the statistics window's start), seconds; 0 without a simulation."""
    return report.simulation.window_s.start if report.simulation is not None else 0.0


def _shade_warmup(ax: Axes, report: Report) -> None:
    start = _warmup_s(report)
    if start > 0:
        ax.axvspan(0, start / 60, color="grey", alpha=0.15, lw=0, label="warm-up (not in statistics)")


_DOWN = "#c62828"


def _mark_failures(ax: Axes, report: Report, end_s: float) -> list[Any]:
    """Shade each node or zone failure of the run from its start to its recovery (or the end), labelled with
    what failed; return the legend handle (none without failures)."""
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    every = report.simulation.failures if report.simulation is not None else []
    failures = [f for f in every if float(f.at_s) < end_s]
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    for f in failures:
        start = float(f.at_s)
        stop = end_s if f.recover_at_s is None else min(float(f.recover_at_s), end_s)
        ax.axvspan(start / 60, stop / 60, color=_DOWN, alpha=0.07, lw=0)
        ax.axvline(start / 60, color=_DOWN, lw=1.0, alpha=0.7, linestyle="-.")
        ax.text(start / 60, 0.03, f" {f.target} down", transform=bottom, rotation=90, va="bottom",
                ha="left", fontsize=7.5, color=_DOWN)
    if not failures:
        return []
    return [Patch(facecolor=_DOWN, alpha=0.25, edgecolor=_DOWN, label="node / zone down (until it recovers)")]


def _window_mids_min(series: Series) -> np.ndarray:
    edges = np.asarray(series.edges_s, dtype=float)
    return (edges[:-1] + edges[1:]) / 2 / 60


def _values(xs: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in xs], dtype=float)


# ---------------------------------------------------------------------------------------------- latency

def latency_cdf(ax: Axes, data: Data, classes: Iterable[str] | None = None) -> None:
    """Fraction of measured requests served within a latency, per class, with SLO markers."""
    report = as_report(data)
    series = _series(report, "latency_cdf")
    names = _pick(series.classes, classes)
    colour = _colours(list(series.classes))
    slos = _slos(report)
    lows, tops = [], []
    for name in names:
        cdf = series.classes[name].cdf
        x = _values(cdf.latency_s) * 1e3
        frac = cdf.served_fraction or 0.0
        y = np.asarray(cdf.q, dtype=float) * frac
        label = name
        slo = slos.get(name)
        status = slo.verdict if slo is not None else None
        if slo is not None and status is not None:
            verdict = {"met": "met", "missed": "MISSED", "no data": "no data"}[status]
            attained = "" if slo.attained is None else f" ({100 * slo.attained:.2f}% within)"
            label = f"{name}: p{100 * slo.quantile:g} ≤ {_ms_text(slo.target_s)} {verdict}{attained}"
        if x.size:
            ax.plot(x, y, color=colour[name], lw=1.8, label=label)
            shown = x[(y >= 0.1) & np.isfinite(x)]
            lows.append(shown.min() if shown.size else np.nanmax(x))
            tops.append(np.nanmax(y))
        elif slo is not None:
            ax.plot([], [], color=colour[name], label=label)
        if slo is not None:
            marker, size, face = _SLO_MARKERS[status]
            ax.plot([slo.target_s * 1e3], [slo.quantile], linestyle="none", marker=marker,
                    markersize=size, markerfacecolor=face or colour[name], markeredgewidth=2,
                    markeredgecolor=colour[name], zorder=4)
            lows.append(slo.target_s * 1e3)
    ax.set_xscale("log")
    _plain_log(ax.xaxis)
    ax.set_yscale("logit")
    top = max([*tops, 0.99])
    ax.set_ylim(0.1, min(0.9999, max(top, 0.999)))
    levels = {0.1, 0.5, 0.9, 0.99, 0.999, 0.9999} | {slos[n].quantile for n in names if n in slos}
    ticks = sorted(t for t in levels if 0.1 <= t <= ax.get_ylim()[1] + 1e-12)
    ax.set_yticks(ticks, [f"{100 * t:g}%" for t in ticks])
    ax.yaxis.set_minor_formatter(_null_formatter())
    if lows:
        ax.set_xlim(left=max(min(lows) / 1.5, 1e-3))
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("requests served within latency")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", axis="x", alpha=0.12)
    ax.set_title("Latency per class — circle: SLO met, cross: SLO missed, square: no data")
    if names:
        ax.legend(loc="lower right", fontsize=7.5)


def _window_text(series: Series) -> str:
    """The width of the series' windows (``None`` in a report written without one: shown as such)."""
    return "None" if series.window_s is None else _ms_text(series.window_s)


def _null_formatter() -> Any:
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _plain_log(axis: Any) -> None:
    """Label a log axis with plain numbers (200, not 2×10²); minor ticks labelled as matplotlib sees fit."""
    from matplotlib.ticker import FuncFormatter, LogFormatter

    class _Plain(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(_Plain(labelOnlyBase=False, minor_thresholds=(1.0, 0.5)))


def latency_over_time(ax: Axes, data: Data, classes: Iterable[str] | None = None) -> None:
    """p50 (solid) and p99 (dashed) latency per class per time window; failures marked on top."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    report = as_report(data)
    series = _series(report, "latency_over_time")
    names = _pick(series.classes, classes)
    colour = _colours(list(series.classes))
    slos = _slos(report)
    mids = _window_mids_min(series.series)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    handles: list[Any] = []
    any_failed = any_slo = False
    for name in names:
        over = series.classes[name].over_time
        ax.plot(mids, _values(over.p50_s) * 1e3, color=colour[name], lw=1.4)
        ax.plot(mids, _values(over.p99_s) * 1e3, color=colour[name], lw=1.4, linestyle="--")
        handles.append(Line2D([], [], color=colour[name], lw=3, label=name))
        failed = np.asarray(over.failed, dtype=float)
        if failed.any():
            any_failed = True
            share = failed / np.maximum(np.asarray(over.arrived, dtype=float), 1.0)
            hit = failed > 0
            # a cross per window with failures, its size by the share of the window's requests that failed
            ax.scatter(mids[hit], np.full(np.count_nonzero(hit), 0.97), transform=top, marker="x",
                       color=colour[name], s=8 + 120 * np.sqrt(share[hit]), linewidths=1.2, clip_on=False,
                       zorder=4)
        if name in slos and slos[name].quantile in (0.5, 0.99):   # comparable with a drawn line
            any_slo = True
            ax.axhline(slos[name].target_s * 1e3, color=colour[name], lw=1, linestyle=":")
    _shade_warmup(ax, report)
    end_s = float(series.series.edges_s[-1])
    down = _mark_failures(ax, report, end_s)
    handles += [Line2D([], [], color="black", lw=1.4, label="p50"),
                Line2D([], [], color="black", lw=1.4, linestyle="--", label="p99")]
    if any_slo:
        handles.append(Line2D([], [], color="black", lw=1, linestyle=":", label="p50 / p99 SLO target"))
    if any_failed:
        handles.append(Line2D([], [], color="black", linestyle="none", marker="x",
                              label="requests failed in window (size: share)"))
    if _warmup_s(report):
        from matplotlib.patches import Patch

        handles.append(Patch(color="grey", alpha=0.15, label="warm-up (not in statistics)"))
    handles += down
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlim(0, end_s / 60)
    ax.set_xlabel(f"arrival time (min); windows of {_window_text(series.series)}")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("Latency over time per class (p50 solid, p99 dashed)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def queue_length(ax: Axes, data: Data, services: Iterable[str] | None = None) -> None:
    """Requests waiting per service: mean per window (line) and the peak in the window (thin steps)."""
    from matplotlib.lines import Line2D

    report = as_report(data)
    series = _series(report, "queue_length")
    names = _pick(series.services, services)
    colour = _service_colours(report, list(series.services))
    mids = _window_mids_min(series.series)
    edges = np.asarray(series.series.edges_s, dtype=float) / 60
    peak_all = 0.0
    for name in names:
        q = series.services[name].queue
        mean, peak = _values(q.mean), _values(q.max)
        peak_all = max(peak_all, float(np.nanmax(peak)) if peak.size else 0.0)
        ax.stairs(peak, edges, color=colour[name], lw=0.7, alpha=0.4)
        ax.plot(mids, mean, color=colour[name], lw=1.8, label=name)
    _shade_warmup(ax, report)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="black", lw=1.8, label="time-average in window"),
                Line2D([], [], color="black", lw=0.7, alpha=0.4, drawstyle="steps-mid",
                       label="most at any instant")]
    handles += _mark_failures(ax, report, float(series.series.edges_s[-1]))
    ax.set_xlim(0, edges[-1])
    ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
    top = max(2.0, peak_all * 1.3)
    ax.set_ylim(0, top)
    ticks = [t for t in (0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000,
                         100_000) if t <= top]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_formatter(_null_formatter())
    ax.set_xlabel(f"time (min); windows of {_window_text(series.series)}")
    ax.set_ylabel("requests waiting (linear to 1, log above)")
    ax.set_title("Queue length over time per service (all its queues)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# ---------------------------------------------------------------------------------------------- placement

@dataclass(frozen=True)
class _Layout:
    services: list[str]                        # in scenario order
    demand: dict[str, dict[str, float]]        # service -> resource -> request of one replica
    slots: dict[str, int]                      # service -> concurrency (serving services only)
    service_of: dict[str, str]                 # replica name -> service
    headroom: dict[str, float]                 # resource -> fraction kept free

    def service(self, replica: str) -> str:
        """The service of a replica: ``{service}-{i}`` (also for replicas beyond the scenario's count)."""
        if replica in self.service_of:
            return self.service_of[replica]
        base = replica.rsplit("-", 1)[0]
        return base if base in self.demand else replica


def _layout(report: Report, plot: str) -> _Layout:
    scenario = _input_scenario(report, plot)
    services = [s.name for s in scenario.services]
    demand = {s.name: {r: float(v) for r, v in s.resources.items()} for s in scenario.services}
    slots = {s.name: int(s.serving.concurrency) for s in scenario.services if s.serving is not None}
    service_of = {f"{s.name}-{i}": s.name for s in scenario.services for i in range(s.replicas)}
    resources = {r for n in report.placement.nodes for r in n.capacity}
    return _Layout(services, demand, slots, service_of, scenario.placement.headroom_for(resources))


def _resources(nodes: Sequence[PlacedNode]) -> list[str]:
    present = {r for n in nodes for r in n.capacity}
    return [r for r in ("cpu", "memory") if r in present] + sorted(present - {"cpu", "memory"})


def _group_axis(ax: Axes, nodes: Sequence[PlacedNode], bars: Sequence[str]) -> None:
    """Node names under each group of bars; the x label says which bar is which."""
    x = np.arange(len(nodes))
    crowded = len(nodes) > 8
    ax.set_xticks(x, [n.name for n in nodes], fontsize=8, rotation=40 if crowded else 0,
                  ha="right" if crowded else "center")
    ax.set_xlim(-0.6, len(nodes) - 0.4)
    ax.set_xlabel("bars of each node, left to right: " + ", ".join(bars), fontsize=8.5)


def node_usage(ax: Axes, data: Data) -> None:
    """Per node: each resource's allocated share stacked by service, beside the busy share of its slots."""
    from matplotlib.patches import Patch

    report = as_report(data)
    layout = _layout(report, "node_usage")
    nodes = report.placement.nodes
    resources = _resources(nodes)
    replicas_sim = report.simulation.replicas if report.simulation is not None else {}
    bars = [*resources, "busy"] if replicas_sim else list(resources)
    width = 0.8 / max(1, len(bars))
    colour = _service_colours(report, layout.services)
    offsets = (np.arange(len(bars)) - (len(bars) - 1) / 2) * width
    shown: set[str] = set()
    for i, node in enumerate(nodes):
        counts: dict[str, int] = {}
        for r in node.replicas:
            s = layout.service(r)
            counts[s] = counts.get(s, 0) + 1
        order = [s for s in layout.services if s in counts]
        for k, res in enumerate(resources):
            cap = float(node.capacity.get(res, 0.0))
            bottom = 0.0
            for s in order:
                share = 100 * counts[s] * layout.demand[s].get(res, 0.0) / cap if cap > 0 else 0.0
                if share > 0:
                    ax.bar(i + offsets[k], share, width, bottom=bottom, color=colour[s], edgecolor="white",
                           linewidth=0.5)
                    shown.add(s)
                bottom += share
        if replicas_sim:
            node_slots = sum(layout.slots.get(layout.service(r), 0) for r in node.replicas
                             if r in replicas_sim)
            bottom = 0.0
            for s in order:
                busy = sum((replicas_sim[r].utilisation or 0.0) * layout.slots.get(s, 0)
                           for r in node.replicas if layout.service(r) == s and r in replicas_sim)
                share = 100 * busy / node_slots if node_slots else 0.0
                if share > 0:
                    ax.bar(i + offsets[-1], share, width, bottom=bottom, color=colour[s], edgecolor="black",
                           linewidth=0.5, hatch="////")
                    shown.add(s)
                bottom += share
    _group_axis(ax, nodes, [*resources, "busy (hatched)"] if replicas_sim else resources)
    ax.set_ylim(0, 104)
    ax.set_ylabel("% of the node (allocated) / of its slots (busy)")
    ax.set_title("Node usage\nallocated by requests, and slots busy in the simulation (hatched)", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    handles = [Patch(color=colour[s], label=s) for s in layout.services if s in shown]
    if replicas_sim:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="////",
                             label="busy: share of serving slots in use"))
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def placement_map(ax: Axes, data: Data) -> None:
    """Nodes as columns (a sub-column per resource), replicas as blocks, stranded and headroom hatched."""
    from matplotlib.patches import Patch, Rectangle

    report = as_report(data)
    layout = _layout(report, "placement_map")
    nodes = report.placement.nodes
    resources = _resources(nodes)
    width = 0.84 / max(1, len(resources))
    offsets = (np.arange(len(resources)) - (len(resources) - 1) / 2) * width
    colour = _service_colours(report, layout.services)
    shown: set[str] = set()
    any_stranded = any_headroom = False
    for i, node in enumerate(nodes):
        order = {name: k for k, name in enumerate(layout.services)}
        replicas = sorted(node.replicas, key=lambda r: (order.get(layout.service(r), len(order)), r))
        for k, res in enumerate(resources):
            cap = float(node.capacity.get(res, 0.0))
            if cap <= 0:
                continue
            x0 = i + offsets[k] - width / 2
            bottom = 0.0
            for r in replicas:
                s = layout.service(r)
                h = 100 * layout.demand.get(s, {}).get(res, 0.0) / cap
                if h <= 0:
                    continue
                ax.add_patch(Rectangle((x0, bottom), width, h, facecolor=colour.get(s, "grey"),
                                       edgecolor="white", linewidth=0.8))
                shown.add(s)
                bottom += h
            headroom = 100 * layout.headroom.get(res, 0.0)
            stranded = 100 * float(node.stranded.get(res, 0.0)) / cap
            if stranded > 1e-9:
                any_stranded = True
                ax.add_patch(Rectangle((x0, 100 - headroom - stranded), width, stranded, facecolor="none",
                                       edgecolor=_STRANDED, hatch="xxx", linewidth=0.8))
            if headroom > 0:
                any_headroom = True
                ax.add_patch(Rectangle((x0, 100 - headroom), width, headroom, facecolor="#eeeeee",
                                       edgecolor=_HEADROOM, hatch="...", linewidth=0.6))
            ax.add_patch(Rectangle((x0, 0), width, 100, facecolor="none", edgecolor="#555555",
                                   linewidth=0.8))
    _group_axis(ax, nodes, resources)
    ax.set_ylim(0, 101)
    ax.set_ylabel("% of the node's capacity")
    ax.set_title("Placement map\nreplicas (blocks) and free capacity per node and resource", fontsize=11)
    handles = [Patch(color=colour[s], label=s) for s in layout.services if s in shown]
    handles.append(Patch(facecolor="white", edgecolor="#555555", label="free, usable"))
    if any_stranded:
        handles.append(Patch(facecolor="none", edgecolor=_STRANDED, hatch="xxx",
                             label="stranded (free, nothing fits)"))
    if any_headroom:
        handles.append(Patch(facecolor="#eeeeee", edgecolor=_HEADROOM, hatch="...", label="headroom"))
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))


# ---------------------------------------------------------------------------------------------- sweeps

def sweep_p99_cost(ax: Axes, rows: Sequence[Mapping[str, Any]], x: str, *,
                   p99: Mapping[str, str] | None = None, slo_s: Mapping[str, float] | None = None,
                   cost: str = "cost_per_hour", met: str = "slo_met", x_label: str | None = None) -> None:
    """p99 latency per class (left axis) and cost per hour (right axis) against a swept value.

    ``rows`` is a tidy table, a list of row dicts: the rows of `capacity.whatif` (``result.rows``, one per
    run, or ``result.summary``, one per point) fit as they are. A row needs:

    * ``x`` — the swept value (a number), e.g. ``services.ranker.replicas``;
    * the p99 columns, seconds: ``p99`` maps a label to a column (default: every column named
      ``CLASS.p99_s``, labelled by the class); None for a run without that class's statistics;
    * ``cost`` — cost per hour of the plan, or None (when no row has a cost, ``nodes`` is drawn instead);
    * ``met`` — True / False whether every SLO was met, None without SLOs. A point *passes* when none of
      its rows says False and none has ``status`` ``infeasible``.

    Rows with the same ``x`` are one point (replications): drawn at their mean, with their min–max as an
    error bar, or ``± COLUMN_ci95`` when a single row carries that column (the sweep summary). If a
    ``point`` column shows that one ``x`` holds several points, another key was swept too: filter the rows
    to one value of it first. ``slo_s`` maps a label to its SLO target (seconds), drawn dotted. The cheapest
    passing point (lowest cost, ties to the smaller ``x``) gets a star and a note; failing points are hollow.
    """
    from matplotlib.lines import Line2D

    rows = [r for r in rows if r.get(x) is not None]
    if not rows:
        raise ValueError(f"sweep_p99_cost: no row has a value for {x!r}")
    if p99 is None:
        p99 = {key[: -len(".p99_s")]: key for key in rows[0] if key.endswith(".p99_s")}
    if not p99:
        raise ValueError("sweep_p99_cost: no p99 columns (name them CLASS.p99_s or pass p99=...)")
    xs = sorted({float(r[x]) for r in rows})
    groups = {v: [r for r in rows if float(r[x]) == v] for v in xs}
    for v, group in groups.items():
        points = sorted({str(r["point"]) for r in group if r.get("point") is not None})
        if len(points) > 1:
            raise ValueError(f"sweep_p99_cost: {x} = {v:g} holds several points ({', '.join(points)}): "
                             "another key varies too; filter the rows to one value of it")
    if all(r.get(cost) is None for r in rows) and any(r.get("nodes") is not None for r in rows):
        cost = "nodes"
    colour = _colours(list(p99))

    def column(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean, lo, hi = [], [], []
        for v in xs:
            group = groups[v]
            vals = [float(r[key]) for r in group if r.get(key) is not None and math.isfinite(float(r[key]))]
            m = float(np.mean(vals)) if vals else np.nan
            ci = group[0].get(f"{key}_ci95") if len(group) == 1 else None
            mean.append(m)
            lo.append(m - ci if ci is not None else (min(vals) if vals else np.nan))
            hi.append(m + ci if ci is not None else (max(vals) if vals else np.nan))
        return np.array(mean), np.array(lo), np.array(hi)

    passing = np.array([all(r.get(met) is not False and r.get("status") != "infeasible" for r in groups[v])
                        for v in xs])
    xv = np.array(xs)
    for label, key in p99.items():
        mean, lo, hi = column(key)
        c = colour[label]
        ax.errorbar(xv, mean * 1e3, yerr=[(mean - lo) * 1e3, (hi - mean) * 1e3], color=c, lw=1.6,
                    capsize=3)
        ax.scatter(xv[passing], mean[passing] * 1e3, color=c, zorder=3, s=30)
        ax.scatter(xv[~passing], mean[~passing] * 1e3, facecolor="white", edgecolor=c, zorder=3, s=30,
                   linewidths=1.5)
        if slo_s and label in slo_s:
            ax.axhline(slo_s[label] * 1e3, color=c, linestyle=":", lw=1.4)
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel(x_label or x)
    ax.set_ylabel("p99 latency (ms, log scale)")
    ax.set_xticks(xv, [f"{v:g}" for v in xv]) if len(xv) <= 12 else None
    ax.grid(True, which="both", alpha=0.25)
    cost_mean, _, _ = column(cost)
    cost_label = "nodes" if cost == "nodes" else "cost per hour"
    twin = ax.twinx()
    twin.plot(xv, cost_mean, color="black", lw=1.4, marker="s", markersize=4)
    twin.set_ylabel(cost_label)
    finite = cost_mean[np.isfinite(cost_mean)]
    twin.set_ylim(0, (finite.max() if finite.size else 1.0) * 1.25 or 1.0)
    handles = [Line2D([], [], color=colour[k], lw=1.6, marker="o", label=f"{k} p99") for k in p99]
    handles.append(Line2D([], [], color="black", lw=1.4, marker="s", markersize=4,
                          label=f"{cost_label} (right axis)"))
    if slo_s:
        handles.append(Line2D([], [], color="grey", lw=1.4, linestyle=":", label="SLO target"))
    if not passing.all():
        handles.append(Line2D([], [], color="grey", linestyle="none", marker="o", markerfacecolor="white",
                              label="point misses an SLO"))
    ok = np.flatnonzero(passing & np.isfinite(cost_mean))
    if ok.size:
        best = ok[np.argmin(cost_mean[ok])]
        twin.plot([xv[best]], [cost_mean[best]], marker="*", markersize=20, color="#2e7d32",
                  markeredgecolor="black", linestyle="none", zorder=5)
        unit = "nodes" if cost == "nodes" else "/h"
        value = f"{cost_mean[best]:g} {unit}" if cost == "nodes" else f"{cost_mean[best]:.2f}{unit}"
        left_half = len(xv) < 2 or xv[best] <= (xv[0] + xv[-1]) / 2
        twin.annotate(f"cheapest meeting every SLO:\n{x_label or x} = {xv[best]:g}, {value}",
                      (xv[best], cost_mean[best]), textcoords="offset points",
                      xytext=(12 if left_half else -12, 18), ha="left" if left_half else "right",
                      fontsize=8, color="#1b5e20", zorder=6,
                      bbox={"boxstyle": "round", "fc": "white", "ec": "#2e7d32", "alpha": 0.9})
        handles.append(Line2D([], [], color="#2e7d32", marker="*", markersize=12, linestyle="none",
                              markeredgecolor="black", label="cheapest point meeting every SLO"))
    else:
        ax.text(0.5, 0.97, "no point meets every SLO", transform=ax.transAxes, ha="center", va="top",
                color=_MISSED, fontsize=9, fontweight="bold")
    ax.set_title("p99 latency and cost against the swept value")
    ax.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)


# ---------------------------------------------------------------------------------------------- autoscaling

def _step_xy(t_s: Sequence[float], values: Sequence[float], end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A step function's points, extended to ``end_s``, in minutes."""
    t = np.asarray([*t_s, max(end_s, t_s[-1] if t_s else 0.0)], dtype=float) / 60
    v = np.asarray([*values, values[-1] if values else 0], dtype=float)
    return t, v


def autoscaling_over_time(ax: Axes, data: Data) -> None:
    """Load, replicas and nodes over time, SLO misses shaded (see the module docstring)."""
    report = as_report(data)
    auto = report.simulation.autoscaling if report.simulation is not None else None
    if report.simulation is None or auto is None:
        raise ValueError("autoscaling_over_time: the report has no simulation.autoscaling section "
                         "(no service is autoscaled)")
    over = report.simulation.over_time
    edges = np.asarray(over.edges_s, dtype=float)
    widths = np.diff(edges)
    arrived = np.zeros(len(widths))
    for c in over.classes.values():
        arrived += np.asarray(c.arrived, dtype=float)
    end_s = float(edges[-1])
    load_handle = ax.step(edges / 60, [*(arrived / widths), (arrived / widths)[-1] if len(widths) else 0],
                          where="post", color="black", lw=1.2, label="load (requests/s, measured classes)")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    missed = np.zeros(len(widths), dtype=bool)
    for slo in auto.slo.values():
        missed |= np.asarray(slo.missed, dtype=bool)[: len(widths)]
    for k in np.flatnonzero(missed):
        ax.axvspan(edges[k] / 60, edges[k + 1] / 60, color=_MISSED, alpha=0.12, lw=0)
    right = ax.twinx()
    colours = _service_colours(report, list(auto.services))
    handles: list[Any] = list(load_handle)
    for name, svc in auto.services.items():
        r = svc.replicas
        live = [a + b for a, b in zip(r.ready, r.starting, strict=True)]
        for values, style, label in ((r.ready, "-", "ready"), (live, "--", "ready + starting"),
                                     (r.pending, ":", "pending")):
            x, y = _step_xy(r.t_s, values, end_s)
            handles += right.step(x, y, where="post", color=colours[name], linestyle=style, lw=1.3,
                                  label=f"{name} replicas {label}")
    for shade, (name, pool) in enumerate(auto.pools.items()):
        x, y = _step_xy(pool.nodes.t_s, pool.nodes.count, end_s)
        handles += right.step(x, y, where="post", color=str(0.35 + 0.15 * (shade % 4)), lw=2.0, alpha=0.8,
                              label=f"{name} nodes")
    right.set_ylabel("replicas, nodes")
    right.set_ylim(bottom=0)
    ax.set_xlim(0, end_s / 60)
    if missed.any():
        from matplotlib.patches import Patch

        handles.append(Patch(facecolor=_MISSED, alpha=0.25, label="window missed an SLO"))
    title = f"Autoscaling: cost {auto.cost:.4g}"
    if auto.static:
        title += f" (static for the peak: {auto.static.cost:.4g})"
    ax.set_title(title)
    ax.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3,
              frameon=False)


def _paths(report: Report) -> Paths:
    paths = report.simulation.paths if report.simulation is not None else None
    if paths is None:
        raise ValueError("path_breakdown: the report has no simulation.paths section (no class has a path)")
    return paths


def path_breakdown(ax: Axes, data: Data) -> None:
    """Where the end-to-end time goes, per class and stage (see the module docstring)."""
    report = as_report(data)
    paths = _paths(report)
    names = list(paths.classes)
    services = sorted({st.service for c in paths.classes.values() for st in c.stages.values()})
    colours = _service_colours(report, services)
    seen: set[str] = set()
    for row, name in enumerate(names):
        c = paths.classes[name]
        left = 0.0
        for st in sorted(c.stages.values(), key=lambda st: st.position):
            visits = st.visits_per_request or 0.0
            colour_of = colours[st.service]
            parts = (("network", st.delay_s, "#bdbdbd", None), ("wait", st.wait_s, colour_of, "//"),
                     ("service", st.service_s, colour_of, None))
            for part, value, colour, hatch in parts:
                width = 1000.0 * visits * (value or 0.0)
                if width <= 0.0:
                    continue
                key = "network" if part == "network" else f"{st.service} {part}"
                ax.barh(row, width, left=left, color=colour, hatch=hatch, edgecolor="white", lw=0.5,
                        alpha=0.55 if part == "wait" else 1.0, label=key if key not in seen else None)
                seen.add(key)
                left += width
        mean = c.latency_s.mean
        if mean is not None:
            ax.plot([1000.0 * mean] * 2, [row - 0.4, row + 0.4], color="black", lw=1.5,
                    label="mean end to end" if "mean" not in seen else None)
            seen.add("mean")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("mean time per request (ms): visits × (network + wait + service) per stage")
    ax.set_xlim(left=0)
    ax.set_title("Where the end-to-end time goes")
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


# ---------------------------------------------------------------------------------------------- rendering

@dataclass(frozen=True)
class PlotSpec:
    """One standard plot of a run: its drawing function, a figure size for a report, and what it needs."""

    draw: Callable[[Axes, Data], None]
    title: str
    size: Callable[[Report], tuple[float, float]]
    needs_series: bool
    needs: Callable[[Report], bool] | None = None   # more it needs than the series


def _wide(report: Report) -> tuple[float, float]:
    nodes = len(report.placement.nodes)
    return (max(7.5, 0.75 * nodes + 4.5), 5.0)


PLOTS: dict[str, PlotSpec] = {
    "placement_map.png": PlotSpec(placement_map, "Placement map", _wide, needs_series=False),
    "node_usage.png": PlotSpec(node_usage, "Node usage", _wide, needs_series=False),
    "latency_cdf.png": PlotSpec(latency_cdf, "Latency distribution", lambda r: (8.5, 5.0), needs_series=True),
    "latency_over_time.png": PlotSpec(latency_over_time, "Latency over time", lambda r: (11.0, 4.8),
                                      needs_series=True),
    "queue_length.png": PlotSpec(queue_length, "Queue length over time", lambda r: (11.0, 4.2),
                                 needs_series=True),
    "autoscaling.png": PlotSpec(autoscaling_over_time, "Load, replicas and nodes over time",
                                lambda r: (11.0, 5.6), needs_series=True,
                                needs=lambda r: r.simulation is not None
                                and r.simulation.autoscaling is not None),
    "path_breakdown.png": PlotSpec(path_breakdown, "End-to-end time by stage",
                                   lambda r: (11.0, 2.0 + 0.9 * len(_paths(r).classes)),
                                   needs_series=False,
                                   needs=lambda r: r.simulation is not None
                                   and r.simulation.paths is not None),
}


def figure(name: str, data: Data) -> Figure:
    """A new figure with the standard plot ``name`` (a `PLOTS` key) drawn on it."""
    from matplotlib.figure import Figure

    report = as_report(data)
    spec = PLOTS[name]
    fig = Figure(figsize=spec.size(report), layout="constrained")
    spec.draw(fig.add_subplot(), report)
    return fig


def available(data: Data) -> list[str]:
    """The standard plots a report has the data for (``series`` only with a simulation)."""
    report = as_report(data)
    has_input = report.input is not None
    has_series = report.series is not None and report.simulation is not None
    return [name for name, spec in PLOTS.items() if has_input and (has_series or not spec.needs_series)
            and (spec.needs is None or spec.needs(report))]


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no timestamp or software tag: the same figure, the same bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def render_pngs(data: Data) -> dict[str, bytes]:
    """Every standard plot the report has the data for, as PNG bytes keyed by file name."""
    report = as_report(data)
    return {name: png_bytes(figure(name, report)) for name in available(report)}


def write_plots(data: Data, out: str | Path) -> list[Path]:
    """Render the standard plots into ``out`` as PNG files; return their paths."""
    from capacity.report.writers import write_bytes

    return [write_bytes(Path(out) / name, png) for name, png in render_pngs(data).items()]
