"""The sweep's ``report.md``: every point side by side (cost, nodes, p99 per class with its 95 % interval,
SLO pass / FAIL / no data), the cheapest point meeting every SLO marked."""

from __future__ import annotations

from capacity._version import __version__
from capacity.whatif.result import SweepResult
from capacity.whatif.tables import SLO_NO_DATA


def render_markdown(result: SweepResult) -> str:
    """The sweep's ``report.md``: every point side by side, the cheapest one meeting every SLO marked."""
    from capacity.units import format_duration

    s = result.scenario
    last = s.seed + result.replications - 1
    seeds = f" {s.seed}" if result.replications == 1 else f"s {s.seed}–{last}"
    if result.seed_swept:
        seeds = (" of each point" if result.replications == 1
                 else f"s: the seed of each point + 0–{result.replications - 1}")
    p99_classes = result.classes
    out = [f"# What-if sweep: {s.name}", "",
           f"capacity {__version__} · {len(result.points)} points × {result.replications} replication"
           f"{'s' if result.replications != 1 else ''} (seed{seeds}) · {result.done} of {result.total} runs "
           "done", ""]
    if result.cheapest:
        point = next(p for p in result.points if p.name == result.cheapest)
        what = "meeting every SLO" if result.has_slos else "(no class has an SLO)"
        out += [f"**Cheapest point {what}: {point.name}** ({point.label}).", ""]
    elif result.has_slos:
        out += ["**No point meets every SLO.**" if result.done == result.total else
                "**No complete point meets every SLO yet** (the sweep is not finished).", ""]
    header = ["", "point", "case", *result.keys, "nodes", "cost/h",
              *[f"p99 {c}" for c in p99_classes], "SLO"]
    rows = []
    settings = {p.name: p.settings for p in result.points}
    for row in result.summary:
        mark = "★" if row["point"] == result.cheapest else ""
        p99 = []
        for c in p99_classes:
            mean, ci = row[f"{c}.p99_s"], row[f"{c}.p99_s_ci95"]
            p99.append("-" if mean is None else format_duration(mean)
                       + ("" if ci is None else f" ± {format_duration(ci)}"))
        verdict = {True: "pass", False: "FAIL", None: "-"}[row["slo_met"]]
        if row["slo_status"] == SLO_NO_DATA:
            verdict = "no data"
        if not row["complete"]:
            verdict += f" ({row['replications']}/{result.replications} runs)"
        cost = "-" if row["cost_per_hour"] is None else f"{row['cost_per_hour']:.2f}"
        nodes = "-" if row["nodes"] is None else str(row["nodes"])
        if row["status"] == "infeasible":
            nodes = "does not fit"
        rows.append([mark, row["point"], row["case"] or "",
                     *[str(settings[row["point"]].get(k, "")) for k in result.keys],
                     nodes, cost, *p99, verdict])
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "Values as written in the what-if section; an empty cell keeps the scenario's own value. "
            "p99: mean over replications ± half-width of the 95 % t-interval. SLO: pass when every "
            "replication met every SLO; no data when a class with an SLO had no measured request (after "
            "the warm-up) in a replication, which is not a pass. One row per run: `results.csv`; per "
            "point: `summary.csv`; "
            "each run's report: `runs/KEY/report.json`."]
    return "\n".join(out) + "\n"
