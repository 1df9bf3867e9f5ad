"""The sweep's tables: one row per finished run (`row_of`: the swept values, the placement, per class the
latency statistics of `CLASS_STATS` and the SLO verdict, read from the run's typed report) and one row per
point over its replications (`summarize_points`: means and 95 % Student-t half-widths, `capacity.statistics`),
the cheapest point that meets every SLO (`cheapest_meeting_slos`) and CSV text (`to_csv`). No data is
never a pass: a class with an SLO and no measured request is ``no data``, not met (`slo_verdict`).
Times in seconds, rates per second, costs per hour."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from capacity.report.model import ClassStats, PathClassStats, SloResult
from capacity.scenario import Scenario, field_value
from capacity.statistics import mean_ci
from capacity.whatif.points import Point, Run
from capacity.whatif.records import RunRecord

#: The per-class statistics in the table: column suffix → its value in a class's ``simulation.classes.NAME``.
#: A class with a path reads them from ``simulation.paths.classes.NAME`` (end to end; no throughput there).
CLASS_STATS: dict[str, Callable[[ClassStats | PathClassStats], float | None]] = {
    "mean_s": lambda c: c.latency_s.mean, "p50_s": lambda c: c.latency_s.p50,
    "p95_s": lambda c: c.latency_s.p95, "p99_s": lambda c: c.latency_s.p99,
    "throughput_per_s": lambda c: c.throughput_per_s if isinstance(c, ClassStats) else None,
    "slo_attained": lambda c: c.slo.attained if c.slo is not None else None,
}


def columns_of(points: Sequence[Point]) -> list[str]:
    return list(dict.fromkeys(k for p in points for k in p.settings))


def class_names(scenario: Scenario) -> list[str]:
    return [c.name for c in scenario.workload.classes] if scenario.workload else []


#: A class's SLO verdict in a run (``CLASS.slo_status``), as ``slo.status`` in report.json.
SLO_MET, SLO_MISSED, SLO_NO_DATA = "met", "missed", "no data"


def slo_verdict(slo: SloResult | None) -> tuple[bool, str]:
    """``(met, status)`` of one class's SLO from its ``slo`` section in a run's report. Met only when
    measured requests meet it: with no measured request (``attained`` null, ``status: no data``, or no
    section at all) the SLO is not met, and the status says "no data"."""
    if slo is None or slo.verdict == SLO_NO_DATA or slo.attained is None or slo.met is None:
        return False, SLO_NO_DATA
    return (True, SLO_MET) if slo.met is True else (False, SLO_MISSED)


def row_of(run: Run, outcome: dict[str, Any], keys: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """The results-table row of one finished run (see the module docstring for the columns)."""
    doc = run.point.scenario.model_dump(mode="json")
    row: dict[str, Any] = {"point": run.point.name, "case": run.point.case}
    for key in keys:
        row[key] = field_value(doc, key)
    row.update({"replication": run.replication, "seed": run.seed, "key": run.key})   # the run's seed
    report = RunRecord.model_validate(outcome["report"]) if outcome["status"] == "done" else None
    placement = report.placement if report else None
    row.update({
        "status": placement.status if placement else "infeasible",
        "nodes": placement.nodes_used if placement else None,
        "lower_bound": placement.lower_bound if placement else None,
        "cost_per_hour": placement.cost_per_hour if placement else None,
        "slo_met": None,
    })
    autoscaled = report.simulation.autoscaling if report and report.simulation else None
    if autoscaled is not None and report is not None and report.simulation is not None:
        # the fleet's mean cost per hour over the measured window
        window = report.simulation.window_s
        hours = (window.end - window.start) / 3600.0
        row["cost_per_hour"] = float(f"{autoscaled.cost / hours:.12g}") if hours > 0 else None
    workload = run.point.scenario.workload
    has_slo = {x.name: x.slo is not None for x in (workload.classes if workload else [])}
    simulated = report.simulation.classes if report and report.simulation else {}
    paths = report.simulation.paths if report and report.simulation else None
    verdicts: list[bool] = []
    for c in classes:
        stats: ClassStats | PathClassStats | None = simulated.get(c)
        if stats is None and paths is not None:      # a class with a path: its end-to-end statistics
            stats = paths.classes.get(c)
        for suffix, value_of in CLASS_STATS.items():
            row[f"{c}.{suffix}"] = value_of(stats) if stats is not None else None
        met: bool | None = None
        status: str | None = None
        if has_slo.get(c):
            if report is None:               # the services do not fit: nothing was simulated
                met = False
            else:
                met, status = slo_verdict(stats.slo if stats else None)
            verdicts.append(met)
        row[f"{c}.slo_met"] = met
        row[f"{c}.slo_status"] = status
    row["slo_met"] = all(verdicts) if verdicts else None
    row["report"] = str(Path("runs") / run.key / ("report.json" if report else "infeasible.json"))
    return row


def summarize_points(points: Sequence[Point], rows: Sequence[dict[str, Any]], replications: int,
                     keys: Sequence[str], classes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per point over its finished replications (see the module docstring)."""
    by_point: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_point.setdefault(row["point"], []).append(row)
    out = []
    for p in points:
        mine = sorted(by_point.get(p.name, []), key=lambda r: r["replication"])
        summary: dict[str, Any] = {"point": p.name, "case": p.case}
        doc = p.scenario.model_dump(mode="json") if keys else None
        for key in keys:                 # the point's values (its seed, not a replication's)
            summary[key] = field_value(doc, key)
        infeasible = any(r["status"] == "infeasible" for r in mine)
        nodes = [r["nodes"] for r in mine if r["nodes"] is not None]
        costs = [r["cost_per_hour"] for r in mine if r["cost_per_hour"] is not None]
        summary.update({
            "replications": len(mine), "complete": len(mine) == replications,
            "status": "infeasible" if infeasible else (mine[0]["status"] if mine else None),
            "nodes": max(nodes) if nodes else None,
            "cost_per_hour": max(costs) if costs else None,
        })
        met = [r["slo_met"] for r in mine if r["slo_met"] is not None]
        summary["slo_met"] = (False if infeasible else all(met)) if met or infeasible else None
        class_status: list[str | None] = []
        for c in classes:
            for suffix in CLASS_STATS:
                mean, ci = mean_ci([r[f"{c}.{suffix}"] for r in mine])
                summary[f"{c}.{suffix}"] = mean
                summary[f"{c}.{suffix}_ci95"] = ci
            verdicts = [r[f"{c}.slo_met"] for r in mine if r[f"{c}.slo_met"] is not None]
            summary[f"{c}.slo_met"] = all(verdicts) if verdicts else None
            summary[f"{c}.slo_status"] = _worst_status([r[f"{c}.slo_status"] for r in mine])
            class_status.append(summary[f"{c}.slo_status"])
        summary["slo_status"] = _point_slo_status(summary["slo_met"], infeasible, class_status)
        out.append(summary)
    return out


def _worst_status(statuses: Sequence[str | None]) -> str | None:
    """Of several SLO statuses: missed if one is, else no data if one is, else met if one is."""
    return next((x for x in (SLO_MISSED, SLO_NO_DATA, SLO_MET) if x in statuses), None)


def _point_slo_status(met: bool | None, infeasible: bool, class_status: Sequence[str | None]) -> str | None:
    """A point's ``slo_status``: none without SLOs; met; no data when only a class without measured
    requests keeps it from passing; else missed (a class missed its SLO, or the services do not fit)."""
    if met is None or met:
        return None if met is None else SLO_MET
    return SLO_NO_DATA if not infeasible and _worst_status(class_status) == SLO_NO_DATA else SLO_MISSED


def cheapest_meeting_slos(summary: Sequence[dict[str, Any]]) -> str | None:
    """The cheapest complete, feasible point that meets every SLO (cost when every candidate has one,
    else nodes; ties to the earlier point), or None."""
    ok = [s for s in summary if s["complete"] and s["status"] != "infeasible" and s["slo_met"] is not False]
    if not ok:
        return None
    if all(s["cost_per_hour"] is not None for s in ok):
        return min(ok, key=lambda s: (s["cost_per_hour"], s["nodes"]))["point"]
    return min(ok, key=lambda s: s["nodes"])["point"]


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row[c]).lower() if isinstance(row[c], bool)
                         else row[c] for c in columns])
    return buffer.getvalue()
