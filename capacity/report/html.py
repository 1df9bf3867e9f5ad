"""The HTML report: one self-contained page (``report.html``) to share with people who decide budgets.

`render_html` is pure (the typed report and PNG bytes → text): the verdict at the top (nodes, cost, SLOs
met or missed), the plots embedded as ``data:`` URIs (the page needs no other file and no network), tables
for the placement and the latency per class, tenants and utilisation, provenance (package version,
scenario hash, seed, source, start time, wall-clock timings) and the validated scenario echoed (units
parsed: CPU in cores, memory in bytes, times in seconds, rates per second).

Every string from the user (scenario, service, class, tenant, pool and node names, the description, the
source path) is HTML-escaped where it is written (`_e`, and `_table` escapes every cell), so a name
such as ``<script>`` shows as text. The page is built with plain string formatting rather than a template
engine: it is one page with a fixed structure, and this keeps the package free of another dependency.

`write_outputs` writes a report folder: ``report.json``, ``report.md``, the PNGs and ``report.html``, all
at once (a temporary folder swapped in; `capacity.report.output`). ``capacity run -o DIR`` and ``capacity
report DIR`` both use it, so a re-rendered folder is the same as the one the run wrote.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capacity.report.model import (
    Autoscaling,
    CompareSection,
    PlacementSection,
    Report,
    Simulation,
    SloResult,
    as_model,
)
from capacity.report.output import FolderKind, write_folder
from capacity.report.summary import slo_verdict
from capacity.report.writers import path_rows
from capacity.units import format_duration, format_quantity

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#212121;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.muted{color:#666}.verdict{border-radius:6px;padding:.8rem 1rem;margin:1rem 0;font-size:1.05rem}
.ok{background:#e8f5e9;border:1px solid #81c784}.bad{background:#ffebee;border:1px solid #e57373}
.neutral{background:#f5f5f5;border:1px solid #bdbdbd}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.met{color:#2e7d32;font-weight:600}.missed{color:#c62828;font-weight:600}
figure{margin:1rem 0 2rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9rem;max-width:60rem}
pre{background:#fafafa;border:1px solid #eee;padding:.8rem;overflow:auto;font-size:.85rem}
code{font-size:.9em}
"""

#: What each plot answers, shown under it.
CAPTIONS: dict[str, str] = {
    "placement_map.png": "Each node is a group of columns, one per resource; each replica is a block (its "
                         "request over the node's capacity, coloured by service). Above the blocks: free "
                         "capacity that is usable, stranded (free, but no replica allowed there fits) and "
                         "the headroom kept free.",
    "node_usage.png": "Per node, the share of each resource allocated by the replicas' requests, stacked by "
                      "service, beside the share of its serving slots busy in the simulation (hatched). A "
                      "node with much allocated and little busy is reserved for nothing.",
    "latency_cdf.png": "The fraction of measured requests served within each latency. A class meets its SLO "
                       "when its curve passes left of and above its marker (circle: met, cross: missed, "
                       "square: no data — no request measured, not a pass).",
    "latency_over_time.png": "p50 and p99 latency per class by arrival time: the warm-up (shaded, excluded "
                             "from the statistics), bursts, and windows in which requests failed (crosses).",
    "queue_length.png": "Requests waiting for a slot, per service: the time-average in each window and the "
                        "most at any instant.",
    "autoscaling.png": "The offered load (black) against each autoscaled service's replicas (ready: solid; "
                       "ready + starting: dashed; pending for a node: dotted) and each pool's nodes (grey); "
                       "windows that missed an SLO are shaded red.",
    "path_breakdown.png": "Per travelling class, its mean end-to-end time split by stage: visits per "
                          "request × network delay (grey), wait (hatched) and service (solid, by "
                          "service); the black tick is the mean end-to-end latency.",
}


def _e(value: Any) -> str:
    """HTML-escaped text of a value (quotes too)."""
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    text = _e(value)
    numeric = isinstance(value, int | float) or (isinstance(value, str) and value[:1].isdigit())
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], raw_columns: Sequence[int] = ()) -> str:
    """An HTML table; every cell is escaped except those in ``raw_columns`` (markup built here)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = [f"<td>{v}</td>" if k in raw_columns else _cell(v) for k, v in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _stranded(amounts: Mapping[str, float]) -> str:
    parts = [f"{r} {format_quantity(r, v)}" for r, v in amounts.items() if v > 0]
    return ", ".join(parts) if parts else "-"


def _slo_text(slo: SloResult) -> str:
    return f"p{100 * slo.quantile:g} ≤ {format_duration(slo.target_s)}"


def _slo_cell(slo: SloResult | None) -> str:
    """Markup (escaped inside) for a class's SLO verdict."""
    if slo is None:
        return "-"
    status = slo.verdict
    if status == "no data":
        return f'{_e(_slo_text(slo))}: <span class="missed">no data</span> (no request measured)'
    css, word = ("met", "met") if status == "met" else ("missed", "MISSED")
    return f'{_e(_slo_text(slo))}: {_e(_pct(slo.attained))} within, <span class="{css}">{word}</span>'


def _nodes(n: Any) -> str:
    return f"{n} node" if n == 1 else f"{n} nodes"


# ---------------------------------------------------------------------------------------------- sections

def _verdict(report: Report) -> str:
    p = report.placement
    cost = "" if p.cost_per_hour is None else f", {p.cost_per_hour:.2f} per hour"
    gap = "" if not p.gap else f", gap {100 * p.gap:.2f}%"
    parts = [f"<strong>{_e(_nodes(p.nodes_used))}</strong>{_e(cost)} "
             f"({_e(p.status)}, {_e(p.solver)}; proven lower bound {_e(_nodes(p.lower_bound))}"
             f"{_e(gap)})."]
    css = "neutral"
    if p.unplaced:
        css = "bad"
        parts.append(f"<strong>{len(p.unplaced)} replicas could not be placed:</strong> "
                     f"{_e(', '.join(p.unplaced))}.")
    simulation = report.simulation
    if simulation is not None:
        verdict = slo_verdict(simulation)
        slos = {name: c.slo for name, c in simulation.classes.items() if c.slo is not None}
        if slos:
            css = "ok" if verdict["status"] == "met" and css != "bad" else "bad"
            parts.append(f"<strong>SLOs: {verdict['met']} of {len(slos)} met.</strong>")
            for name, s in slos.items():
                if s.verdict == "missed":
                    parts.append(f'<span class="missed">Missed</span> {_e(name)}: {_e(_slo_text(s))}, '
                                 f"{_e(_pct(s.attained))} within.")
                elif s.verdict == "no data":
                    parts.append(f'<span class="missed">No data</span> {_e(name)}: {_e(_slo_text(s))}, '
                                 "no request measured (not a pass).")
        else:
            parts.append("No class has an SLO.")
    return f'<div class="verdict {css}">' + " ".join(parts) + "</div>"


def _provenance(report: Report) -> str:
    prov, run = report.provenance, report.run
    rows: list[list[Any]] = [["capacity version", prov.capacity_version],
                             ["scenario sha256", prov.scenario_sha256],
                             ["seed", prov.seed],
                             ["scenario file", prov.source]]
    if run.started_at:
        rows.append(["run started (UTC)", run.started_at])
    for seconds, label in ((run.pack_s, "packing took"), (run.simulate_s, "simulation took")):
        if seconds is not None:
            rows.append([label, format_duration(seconds)])
    return "<h2>Provenance</h2>" + _table(["", ""], rows)


def _placement(p: PlacementSection) -> str:
    out = ["<h2>Placement</h2>",
           f"<p>Objective <code>{_e(p.objective)}</code>; {_e(_nodes(p.nodes_used))}, "
           f"{_e(p.replicas)} replicas.</p>", "<h3>Pools</h3>",
           _table(["pool", "nodes used / count", "cost per hour", "allocated", "stranded"],
                  [[name, f"{q.nodes_used} / {q.count}",
                    "-" if q.cost_per_hour is None else f"{q.cost_per_hour:.2f}",
                    ", ".join(f"{r} {_pct(v)}" for r, v in q.allocated.items()),
                    _stranded(q.stranded)] for name, q in p.pools.items()]),
           '<p class="muted">Stranded: free after headroom, but no replica of a service allowed there '
           "would fit (one service scaling up at a time).</p>"]
    resources = sorted({r for n in p.nodes for r in n.capacity})
    rows = [[n.name, n.pool,
             *[f"{format_quantity(r, n.used.get(r, 0))} / {format_quantity(r, n.capacity[r])}"
               if n.capacity.get(r) else "-" for r in resources],
             _stranded(n.stranded), ", ".join(n.replicas)] for n in p.nodes]
    out += ["<h3>Nodes</h3>", _table(["node", "pool", *resources, "stranded", "replicas"], rows)]
    if p.unplaced:
        out.append(f'<p class="missed">Unplaced replicas: {_e(", ".join(p.unplaced))}</p>')
    return "\n".join(out)


def _compare(c: CompareSection) -> str:
    rows = []
    for name, m in sorted(c.methods.items(), key=lambda item: item[0] == "optimiser"):
        status = m.status + (f" ({m.unplaced} unplaced)" if m.unplaced else "")
        rows.append([name if name != "optimiser" else f"optimiser ({m.solver})", m.nodes_used,
                     "-" if m.cost_per_hour is None else f"{m.cost_per_hour:.2f}", status,
                     _stranded(m.stranded)])
    return ("<h2>Compared with greedy baselines</h2>"
            + _table(["method", "nodes", "cost per hour", "status", "stranded"], rows)
            + f"<p>Proven lower bound: {_e(_nodes(c.lower_bound))}.</p>")


def _simulation(s: Simulation) -> str:
    window = s.window_s
    out = ["<h2>Latency and utilisation</h2>"]
    span = f"[{format_duration(window.start)}, {format_duration(window.end)}]"
    out.append(f"<p>Statistics over the requests that arrived in {_e(span)} (after the warm-up).</p>")
    # outcomes beyond rejected / timed out (dropped by admission, lost to failures) only when they occur
    extra = [k for k in ("dropped", "lost") if any(getattr(c, k) for c in s.classes.values())]
    rows = []
    for name, c in s.classes.items():
        lat = c.latency_s
        rows.append([name, c.arrived, c.completed, c.rejected, c.timed_out,
                     *[getattr(c, k) for k in extra],
                     *[format_duration(v) for v in (lat.mean, lat.p50, lat.p95, lat.p99, lat.max)],
                     format_duration(c.wait_s.mean), _slo_cell(c.slo)])
    out += ["<h3>Latency per class</h3>", _table(
        ["class", "arrived", "completed", "rejected", "timed out", *extra, "mean", "p50", "p95", "p99", "max",
         "mean wait", "SLO"], rows, raw_columns=(11 + len(extra),))]
    if s.tenants:
        out += ["<h3>Tenants</h3>", _table(
            ["tenant", "completed", "share of service", "p50", "p99"],
            [[name, t.completed, _pct(t.share), format_duration(t.latency_s.p50),
              format_duration(t.latency_s.p99)] for name, t in s.tenants.items()])]
        if s.fairness.jain is not None:
            out.append(f"<p>Jain's fairness index over the weighted tenant shares: {s.fairness.jain:.3f} "
                       "(1 = shares exactly proportional to weights).</p>")
    out += ["<h3>Utilisation</h3>",
            _table(["pool", "busy"], [[n, _pct(p.utilisation)] for n, p in s.pools.items()]),
            _table(["service", "replicas", "busy"],
                   [[n, v.replicas, _pct(v.utilisation)] for n, v in s.services.items()])]
    return "\n".join(out)


def _autoscaling(a: Autoscaling) -> str:
    out = ["<h2>Autoscaling</h2>", f"<p>Fleet cost over the measured window: {a.cost:.6g} "
           "(node-hours × each pool's cost).</p>"]
    static = a.static
    if static:
        rows: list[list[Any]] = [["cost", f"{a.cost:.6g}", f"{static.cost:.6g}"]]
        for name, svc in a.services.items():
            rows.append([f"{name} replicas", f"{min(svc.replicas.ready or [0])}..{svc.peak}",
                         static.replicas.get(name, "-")])
        for name, pool in a.pools.items():
            rows.append([f"{name} nodes", f"{min(pool.nodes.count or [0])}..{pool.peak}",
                         static.nodes.get(name, 0)])
        for name, met in static.slo_met.items():
            missed = sum(a.slo[name].missed) if name in a.slo else 0
            rows.append([f"{name} SLO", f"missed in {missed} window(s)" if missed else "met in every window",
                         "-" if met is None else ("met" if met else "MISSED")])
        out += ["<h3>Autoscaled against static for the peak</h3>",
                _table(["", "autoscaled", "static for the peak"], rows)]
    out += ["<h3>Pools</h3>", _table(
        ["pool", "node-hours", "cost", "peak nodes"],
        [[n, f"{p.node_hours:.4g}", f"{p.cost:.4g}", p.peak] for n, p in a.pools.items()])]
    out += ["<h3>Services</h3>", _table(
        ["service", "policy", "scale events", "peak replicas", "replica-time pending", "replica-time cold"],
        [[n, s.policy, len(s.events), s.peak, format_duration(s.pending_replica_s),
          format_duration(s.starting_replica_s)] for n, s in a.services.items()])]
    return "\n".join(out)


def _figures(images: Mapping[str, bytes], missing: Sequence[str]) -> str:
    from capacity.report.plots import PLOTS

    out = ["<h2>Plots</h2>"]
    for name, png in images.items():
        title = PLOTS[name].title if name in PLOTS else name
        data = base64.b64encode(png).decode("ascii")
        out.append(f'<figure id="{_e(name)}"><img src="data:image/png;base64,{data}" alt="{_e(title)}">'
                   f"<figcaption><strong>{_e(title)}.</strong> {_e(CAPTIONS.get(name, ''))}</figcaption>"
                   "</figure>")
    if missing:
        out.append(f'<p class="muted">Not drawn (the report lacks their data): {_e(", ".join(missing))}.</p>')
    return "\n".join(out)


_TOP = ("version", "name", "description", "seed", "cluster", "services", "workload", "scheduling",
        "placement")


def _tidy(value: Any, top: bool = False) -> Any:
    """The echoed scenario without nulls, keys in one fixed order (``name`` first, then alphabetical; the
    top level in the file format's order), so that a saved report echoes it exactly as a fresh run."""
    if isinstance(value, Mapping):
        keys = sorted((k for k, v in value.items() if v is not None),
                      key=lambda k: (_TOP.index(k) if top and k in _TOP else len(_TOP), k != "name", k))
        return {k: _tidy(value[k]) for k in keys}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def _scenario_echo(report: Report) -> str:
    import yaml

    if report.input is None:
        return ""
    text = yaml.safe_dump(_tidy(report.input.scenario.canonical(), top=True), sort_keys=False,
                          allow_unicode=True, width=110)
    return ("<h2>Scenario</h2><p class=\"muted\">As validated and run (after any <code>--set</code> "
            "overrides; unset fields omitted). Units parsed: CPU in cores, memory in bytes, times in "
            f"seconds, rates per second.</p><pre>{_e(text)}</pre>")


def render_html(report: Report | Mapping[str, Any], images: Mapping[str, bytes] | None = None) -> str:
    """The self-contained HTML page of a report (report.json's data is read into the model first);
    ``images`` maps plot file names to PNG bytes."""
    from capacity.report.plots import PLOTS

    report = as_model(report)
    images = dict(images or {})
    simulated = report.simulation is not None
    missing = [spec.title for n, spec in PLOTS.items()
               if n not in images and (simulated or not spec.needs_series)
               and (spec.needs is None or spec.needs(report))]
    name = report.scenario
    description = report.input.scenario.description if report.input is not None else None
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Capacity report: {_e(name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Capacity report: {_e(name)}</h1>"]
    if description:
        parts.append(f'<p class="muted">{_e(description)}</p>')
    parts.append(_verdict(report))
    if images or missing:
        parts.append(_figures(images, missing))
    parts.append(_placement(report.placement))
    if report.compare is not None:
        parts.append(_compare(report.compare))
    if report.simulation is not None:
        parts.append(_simulation(report.simulation))
        header, rows = path_rows(report.simulation)
        if rows:
            parts.append("<h2>End to end (classes with a path)</h2>\n" + _table(header, rows))
        if report.simulation.autoscaling is not None:
            parts.append(_autoscaling(report.simulation.autoscaling))
    parts += [_provenance(report), _scenario_echo(report), "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"


def run_folder() -> FolderKind:
    """What a run's report folder holds (`write_outputs`): report.json, report.md, report.html and the
    standard plots. Only a folder with nothing else in it is replaced by a new report."""
    from capacity.report.plots import PLOTS

    return FolderKind("a run report", frozenset({"report.json", "report.md", "report.html", *PLOTS}))


def render_outputs(report: Report, *, report_json: bytes | None = None) -> dict[str, bytes]:
    """Every file of a report folder, rendered (pure): report.json, report.md, the PNGs the report has the
    data for, report.html, in that order. ``report_json`` is the report.json to keep as it is (a redraw
    copies the file byte for byte); by default the report is written as canonical JSON."""
    from capacity.report.plots import render_pngs
    from capacity.report.writers import render_markdown, to_json

    ordered = report.in_scenario_order()
    images = render_pngs(ordered)
    return {"report.json": to_json(report).encode("utf-8") if report_json is None else report_json,
            "report.md": render_markdown(ordered).encode("utf-8"),
            **images,
            "report.html": render_html(ordered, images).encode("utf-8")}


def write_outputs(report: Report, out: str | Path, *,
                  report_json: bytes | None = None) -> list[Path]:
    """Write a report folder: report.json, report.md, the PNGs and report.html (`render_outputs`).

    The folder then holds exactly these files, all from this report, or, if anything fails (a plot, a
    full disk, an interrupt), stays as it was: everything is rendered first, written into a temporary
    folder beside ``out`` and swapped in at the end (`capacity.report.output.write_folder`). A folder that
    holds other files is refused (`OutputError`). Returns the paths written, in that order.
    """
    return write_folder(out, render_outputs(report, report_json=report_json), run_folder())
