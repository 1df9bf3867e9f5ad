"""Plots (matplotlib): each a function ``fn(ax, data)`` that draws on a given `Axes` from result data, so
the CLI and notebooks share them. `write_plots` renders the standard set of a run to PNG files.

* `latency_cdf` — the empirical CDF of latency per class (log time axis), with each SLO drawn as a marker
  at (target, quantile): a curve that passes left of and above its marker meets its SLO.
* `latency_over_time` — p50 and p99 latency per class in time bins, with the warm-up shaded: shows the
  transient at the start and any bursts.
* `node_usage` — per node, the fraction of CPU and memory allocated by the replicas' requests beside the
  busy share of its slots measured in the simulation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from capacity.pipeline import RunResult


def latency_cdf(ax: Axes, latencies: Mapping[str, np.ndarray],
                slos: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Empirical latency CDF per class; ``slos[class] = (target_s, quantile)`` marks each SLO."""
    slos = slos or {}
    lows = []
    for name, values in latencies.items():
        values = np.sort(np.asarray(values, dtype=float))
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        y = np.arange(1, values.size + 1) / values.size
        lows.append(max(values[int(0.001 * (values.size - 1))], 1e-7))
        (line,) = ax.step(values * 1e3, y, where="post", label=name)
        if name in slos:
            target, q = slos[name]
            ax.plot([target * 1e3], [q], marker="o", markersize=8, markerfacecolor="none",
                    markeredgewidth=2, color=line.get_color())
            ax.annotate(f"SLO p{100 * q:g}", (target * 1e3, q), textcoords="offset points",
                        xytext=(6, -12), fontsize=8, color=line.get_color())
    ax.set_xscale("log")
    if lows:  # start at the 0.1th percentile: near-zero latencies would stretch the axis for nothing
        ax.set_xlim(left=min(lows) * 1e3)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("Latency CDF per class (circles: SLO targets)")
    if latencies:
        ax.legend(loc="lower right", fontsize=8)


def latency_over_time(ax: Axes, arrivals: Mapping[str, np.ndarray], latencies: Mapping[str, np.ndarray],
                      warmup_s: float, duration_s: float, bins: int = 60) -> None:
    """p50 (solid) and p99 (dashed) latency per class over arrival time; the warm-up is shaded."""
    edges = np.linspace(0.0, duration_s, bins + 1)
    mids = (edges[:-1] + edges[1:]) / 2
    for name in latencies:
        t = np.asarray(arrivals[name], dtype=float)
        lat = np.asarray(latencies[name], dtype=float)
        ok = np.isfinite(lat)
        t, lat = t[ok], lat[ok]
        if lat.size == 0:
            continue
        which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
        order = np.argsort(which, kind="stable")
        groups = np.split(lat[order], np.cumsum(np.bincount(which, minlength=bins))[:-1])
        p50 = np.array([np.percentile(g, 50) if g.size else np.nan for g in groups])
        p99 = np.array([np.percentile(g, 99) if g.size else np.nan for g in groups])
        (line,) = ax.plot(mids / 60, p50 * 1e3, label=f"{name} p50")
        ax.plot(mids / 60, p99 * 1e3, linestyle="--", color=line.get_color(), label=f"{name} p99")
    if warmup_s > 0:
        ax.axvspan(0, warmup_s / 60, color="grey", alpha=0.15, label="warm-up (excluded)")
    ax.set_yscale("log")
    ax.set_xlabel("arrival time (min)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_title("Latency over time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def node_usage(ax: Axes, nodes: Sequence[Mapping[str, Any]], busy: Mapping[str, float] | None = None,
               resources: Sequence[str] | None = None) -> None:
    """Per node: allocated share of each resource (bars) and the simulated busy share (black ticks).

    ``resources`` defaults to every resource any node has (cpu and memory first)."""
    names = [n["name"] for n in nodes]
    x = np.arange(len(names))
    present = {r for n in nodes for r in n.get("allocated", {})}
    if resources is None:
        resources = [r for r in ("cpu", "memory") if r in present] + sorted(present - {"cpu", "memory"})
    shown = [r for r in resources if r in present]
    width = 0.8 / max(1, len(shown))
    for k, r in enumerate(shown):
        values = [100 * n.get("allocated", {}).get(r, 0.0) for n in nodes]
        ax.bar(x + (k - (len(shown) - 1) / 2) * width, values, width, label=f"{r} allocated")
    if busy:
        values = [100 * busy.get(name, np.nan) for name in names]
        ax.scatter(x, values, marker="_", s=400, linewidths=3, color="black", zorder=3,
                   label="slots busy (simulated)")
    ax.set_xticks(x, names, rotation=60 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center",
                  fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of node")
    ax.set_title("Node usage: allocated by requests vs busy in simulation", pad=26)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)


def class_samples(result: RunResult) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per class, the arrival times and latencies of every served request (warm-up included)."""
    model, sim_result = result.model, result.sim_result
    arrivals: dict[str, np.ndarray] = {}
    latencies: dict[str, np.ndarray] = {}
    if model is None or sim_result is None:
        return arrivals, latencies
    served = ~sim_result.rejected
    for k, c in enumerate(model.classes):
        mask = (sim_result.cls == k) & served
        arrivals[c.name] = sim_result.arrival_s[mask]
        latencies[c.name] = sim_result.latency_s[mask]
    return arrivals, latencies


def write_plots(result: RunResult, out: str | Path) -> list[Path]:
    """Render the standard plots of a run into ``out`` as PNG files; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from capacity.report.writers import write_bytes

    out = Path(out)
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        import io

        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        paths.append(write_bytes(out / name, buffer.getvalue()))

    report = result.report
    simulation = report.get("simulation")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(report["placement"]["nodes"]) + 3), 4.5))
    busy = {n: v["utilisation"] for n, v in simulation["nodes"].items()} if simulation else None
    node_usage(ax, report["placement"]["nodes"], busy)
    save(fig, "node_usage.png")
    if simulation and result.model is not None:
        arrivals, latencies = class_samples(result)
        measured = {}
        lo = result.model.warmup_s
        for name in latencies:
            measured[name] = latencies[name][arrivals[name] >= lo]
        slos = {c.name: (c.slo_target_s, c.slo_quantile) for c in result.model.classes
                if c.slo_target_s is not None and c.slo_quantile is not None}
        fig, ax = plt.subplots(figsize=(7, 4.5))
        latency_cdf(ax, measured, slos)
        save(fig, "latency_cdf.png")
        fig, ax = plt.subplots(figsize=(10, 4.5))
        latency_over_time(ax, arrivals, latencies, result.model.warmup_s, result.model.duration_s)
        save(fig, "latency_over_time.png")
    return paths
