"""Report writers: the JSON text and the Markdown page of a report, and the atomic file writers.

`render_markdown` and `to_json` are pure (the typed report, `capacity.report.model.Report`, → text;
`to_json` writes a report as report.json holds it: the keys written, numbers as written). The functions that
touch the disk, `write_bytes`, `write_text` and `write_json`, write one file atomically (a temporary file
beside it, then a rename) and raise `OutputError` naming the path when they cannot
(`capacity.report.output`, which also writes whole report folders). Tables show times in milliseconds or
seconds as fits, memory in GiB and CPU in cores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from capacity.packing.objectives import OBJECTIVES
from capacity.report.model import CompareSection, PlacementSection, Report, Simulation, SloResult, as_model
from capacity.report.output import FILE_MODE, OutputError, write_bytes, write_text
from capacity.units import format_duration, format_quantity

__all__ = ["FILE_MODE", "OutputError", "render_markdown", "stranded_text", "to_json", "write_bytes",
           "write_json", "write_text"]


def to_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, no NaN (a NaN would be a bug upstream). A report
    or a section of one (`capacity.report.model`) is written as report.json holds it (its keys as written)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, to_json(data))


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _amount(resource: str, used: float, cap: float) -> str:
    return f"{format_quantity(resource, used)} / {format_quantity(resource, cap)}"


def stranded_text(amounts: Mapping[str, float]) -> str:
    """``cpu 0.4, memory 23.6Gi`` for the non-zero stranded amounts, ``-`` when nothing is stranded."""
    parts = [f"{r} {format_quantity(r, v)}" for r, v in amounts.items() if v > 0]
    return ", ".join(parts) if parts else "-"


def placement_markdown(p: PlacementSection) -> str:
    cost = "-" if p.cost_per_hour is None else f"{p.cost_per_hour:.2f}/h"
    gap = "-" if p.gap is None else f"{100 * p.gap:.2f}%"
    out = [
        "## Placement",
        "",
        f"**{p.nodes_used} nodes** ({p.status}, {p.solver}, objective {p.objective}); "
        f"proven lower bound {p.lower_bound} nodes; gap {gap}; cost {cost}.",
        "",
    ]
    if p.unplaced:
        out += [f"**Unplaced replicas:** {', '.join(p.unplaced)}", ""]
    out += ["### Pools", "", _table(
        ["pool", "nodes used / count", "cost per hour", "allocated", "stranded"],
        [[name, f"{q.nodes_used} / {q.count}",
          "-" if q.cost_per_hour is None else f"{q.cost_per_hour:.2f}",
          ", ".join(f"{r} {_pct(v)}" for r, v in q.allocated.items()),
          stranded_text(q.stranded)]
         for name, q in p.pools.items()],
    ), "", "*Stranded*: free after headroom, but no replica of a service allowed there would fit "
           "(one service scaling up at a time).", ""]
    resources = sorted({r for n in p.nodes for r in n.capacity})
    out += ["### Nodes", "", _table(
        ["node", "pool", *resources, "stranded", "replicas"],
        [[n.name, n.pool,
          *[_amount(r, n.used.get(r, 0), n.capacity.get(r, 0)) for r in resources],
          stranded_text(n.stranded), ", ".join(n.replicas)] for n in p.nodes],
    ), ""]
    return "\n".join(out)


def compare_markdown(c: CompareSection) -> str:
    """The ``compare`` section: one row per method, then the proven bounds."""
    rows = []
    for name, m in sorted(c.methods.items(), key=lambda item: item[0] == "optimiser"):  # baselines first
        status = m.status + (f" ({m.unplaced} unplaced)" if m.unplaced else "")
        rows.append([name if name != "optimiser" else f"optimiser ({m.solver})", str(m.nodes_used),
                     "-" if m.cost_per_hour is None else f"{m.cost_per_hour:.2f}", status,
                     stranded_text(m.stranded)])
    objective = OBJECTIVES.get(c.objective)
    bound = "" if objective is None or objective.bound_in != "cost" or c.objective_bound is None else (
        f"; cost at least {c.objective_bound:.2f}/h")
    return "\n".join(["## Compared with greedy baselines", "", _table(
        ["method", "nodes", "cost per hour", "status", "stranded"], rows),
        "", f"Proven lower bound: {c.lower_bound} nodes{bound}.", ""])


def _slo_text(slo: SloResult | None) -> str:
    if slo is None:
        return "-"
    return f"p{100 * slo.quantile:g} ≤ {format_duration(slo.target_s)}: " + (
        "no data (no request measured)" if slo.verdict == "no data" else
        f"{_pct(slo.attained)} within, {'met' if slo.verdict == 'met' else 'MISSED'}")


def simulation_markdown(s: Simulation) -> str:
    window = s.window_s
    out = ["## Simulation", "",
           f"Statistics over requests arriving in [{format_duration(window.start)}, "
           f"{format_duration(window.end)}] (after warm-up).", ""]
    rows = []
    for name, c in s.classes.items():
        lat = c.latency_s
        if c.slos is None:
            slo_text = _slo_text(c.slo)
        else:
            targets = (("latency", c.slos.latency), ("ttft", c.slos.ttft), ("tpot", c.slos.tpot))
            slo_text = "; ".join(("" if metric == "latency" else f"{metric} ") + _slo_text(slo)
                                 for metric, slo in targets if slo is not None)
        rows.append([name, str(c.arrived), str(c.completed), str(c.rejected), str(c.timed_out),
                     str(c.dropped), str(c.lost),
                     format_duration(lat.mean), format_duration(lat.p50),
                     format_duration(lat.p95), format_duration(lat.p99),
                     format_duration(lat.max), format_duration(c.wait_s.mean), slo_text])
    out += ["### Latency per class", "", _table(
        ["class", "arrived", "completed", "rejected", "timed out", "dropped", "lost", "mean", "p50", "p95",
         "p99", "max", "mean wait", "SLO"], rows), ""]
    out += _throughput_markdown(s)
    out += _llm_markdown(s)
    if s.tenants:
        out += ["### Tenants", "", _table(
            ["tenant", "completed", "share of service", "p50", "p99"],
            [[name, str(t.completed), _pct(t.share), format_duration(t.latency_s.p50),
              format_duration(t.latency_s.p99)] for name, t in s.tenants.items()],
        ), ""]
        if s.fairness.jain is not None:
            out += [f"Jain's fairness index over weighted tenant shares: {s.fairness.jain:.3f}", ""]
    out += _failures_markdown(s)
    out += _paths_markdown(s)
    out += _autoscaling_markdown(s)
    out += ["### Utilisation", "", _table(
        ["pool", "busy"], [[name, _pct(p.utilisation)] for name, p in s.pools.items()],
    ), "", _table(
        ["service", "replicas", "busy"],
        [[name, str(v.replicas), _pct(v.utilisation)] for name, v in s.services.items()],
    ), "", _table(
        ["replica", "node", "served", "busy", "down"],
        [[name, r.node, str(r.served), _pct(r.utilisation),
          format_duration(r.down_s) if r.down_s else "-"] for name, r in s.replicas.items()],
    ), ""]
    return "\n".join(out)


def path_rows(s: Simulation) -> tuple[list[str], list[list[str]]]:
    """The end-to-end table of travelling classes (``simulation.paths``): a row per class, then one per
    stage (visits per request, mean delay, wait, service); empty without paths."""
    header = ["class / stage", "arrived", "completed", "failed", "mean", "p95", "p99", "SLO (end to end)"]
    rows: list[list[str]] = []
    if s.paths is None:
        return header, rows
    for name, c in s.paths.classes.items():
        rows.append([name, str(c.arrived), str(c.completed), str(c.failed), format_duration(c.latency_s.mean),
                     format_duration(c.latency_s.p95), format_duration(c.latency_s.p99), _slo_text(c.slo)])
        for label, st in sorted(c.stages.items(), key=lambda kv: kv[1].position):
            rows.append([f"  {label}", f"{st.visits_per_request or 0:.3g} visits/request", "", str(st.failed),
                         f"delay {format_duration(st.delay_s)}", f"wait {format_duration(st.wait_s)}",
                         f"service {format_duration(st.service_s)}", ""])
    return header, rows


def _paths_markdown(s: Simulation) -> list[str]:
    header, rows = path_rows(s)
    if not rows:
        return []
    return ["### End to end (classes with a path)", "", _table(header, rows), ""]


def _autoscaling_markdown(s: Simulation) -> list[str]:
    """Cost, nodes and replicas of an autoscaled run, beside the static plan when it was compared."""
    a = s.autoscaling
    if a is None:
        return []
    static = a.static
    out = ["### Autoscaling", "", f"Fleet cost over the measured window: {a.cost:.6g}"
           + (f" (static plan for the peak: {static.cost:.6g})." if static else "."), ""]
    out += [_table(["pool", "node-hours", "cost", "peak nodes"],
                   [[n, f"{p.node_hours:.4g}", f"{p.cost:.4g}", str(p.peak)]
                    for n, p in a.pools.items()]), ""]
    out += [_table(["service", "policy", "scale events", "peak replicas", "pending", "cold"],
                   [[n, v.policy, str(len(v.events)), str(v.peak),
                     format_duration(v.pending_replica_s), format_duration(v.starting_replica_s)]
                    for n, v in a.services.items()]), ""]
    return out


def _llm_markdown(s: Simulation) -> list[str]:
    """Token timings per class (TTFT, TPOT, inter-token latency) and the LLM engines' KV cache, preemptions
    and output tokens (services with ``serving.llm`` only)."""
    engines = {name: v.llm for name, v in s.services.items() if v.llm is not None}
    if not engines:
        return []
    rows = []
    for name, c in s.classes.items():
        if c.itl_s is None:
            continue
        row = [name]
        for summary in (c.ttft_s, c.tpot_s, c.itl_s):
            row += [format_duration(getattr(summary, q) if summary is not None else None)
                    for q in ("p50", "p95", "p99")]
        rows.append(row)
    header = ["class"] + [f"{m} {q}" for m in ("TTFT", "TPOT", "ITL") for q in ("p50", "p95", "p99")]
    per_gpu = [[name, str(e.gpus), f"{e.kv_capacity_tokens:,}", _pct(e.kv_utilisation), str(e.preemptions),
                f"{e.output_tokens_per_s:.4g}",
                "-" if e.output_tokens_per_s_per_gpu is None else f"{e.output_tokens_per_s_per_gpu:.4g}"]
               for name, e in engines.items()]
    return ["### LLM engines", "", _table(header, rows), "",
            _table(["service", "GPUs", "KV capacity (tokens/replica)", "KV used (time avg)", "preemptions",
                    "output tokens/s", "per GPU"], per_gpu), ""]


def _throughput_markdown(s: Simulation) -> list[str]:
    """Throughput, goodput (completed within the SLO, per second), retries and TTFT per class."""
    ttft = any(c.ttft_s is not None for c in s.classes.values())
    rows = []
    for name, c in s.classes.items():
        goodput = "-" if c.goodput_per_s is None else f"{c.goodput_per_s:.4g}"
        row = [name, f"{c.throughput_per_s:.4g}", goodput, str(c.retried)]
        if ttft:
            row += [format_duration(c.ttft_s.p50 if c.ttft_s else None),
                    format_duration(c.ttft_s.p99 if c.ttft_s else None)]
        rows.append(row)
    header = ["class", "throughput /s", "goodput /s (within SLO)", "retried after a failure"]
    header += ["TTFT p50", "TTFT p99"] if ttft else []
    return ["### Throughput", "", _table(header, rows), ""]


def _failures_markdown(s: Simulation) -> list[str]:
    """The failures of the run: when, what, which replicas, what became of their requests."""
    if not s.failures:
        return []
    rows = [[format_duration(f.at_s), f.target, ", ".join(f.replicas) or "(none placed there)",
             "-" if f.recover_at_s is None else format_duration(f.recover_at_s),
             str(f.retried), str(f.lost)] for f in s.failures]
    return ["### Failures", "", _table(["at", "what failed", "replicas down", "back at", "retried", "lost"],
                                       rows), "",
            "Latency per time window (p50/p99 of the requests arriving in it) is in report.json "
            "`simulation.over_time`.", ""]


def render_markdown(report: Report | Mapping[str, Any]) -> str:
    """A readable Markdown report: placement, then latency and utilisation tables (report.json's data is
    read into the model first)."""
    report = as_model(report)
    prov = report.provenance
    out = [f"# Capacity report: {report.scenario}", "",
           f"capacity {prov.capacity_version} · scenario sha256 "
           f"`{prov.scenario_sha256[:12]}` · seed {prov.seed}", "",
           placement_markdown(report.placement)]
    if report.compare is not None:
        out.append(compare_markdown(report.compare))
    if report.simulation is not None:
        out.append(simulation_markdown(report.simulation))
    return "\n".join(out).rstrip() + "\n"
