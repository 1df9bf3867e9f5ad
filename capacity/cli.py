"""The ``capacity`` command: parse arguments, call the API, print a summary, set the exit code.

Commands::

    capacity run SCENARIO [-o DIR] [--set KEY=VALUE ...]      pack, simulate; write report.json, .md, plots
    capacity plan SCENARIO [--json FILE] [--compare] [--set ...]   placement only (--compare: and baselines)
    capacity simulate SCENARIO [--json FILE] [--set ...]      placement, then simulation (no plots)
    capacity validate SCENARIO [--set ...]                    load and check only

Exit codes: 0 success; 2 bad input (one line ``error: FILE:LINE: field.path: what is wrong``);
3 the services do not fit (naming each service and the resource that is short); 4 the solver failed;
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from capacity._version import __version__
from capacity.errors import InfeasiblePlacement, ScenarioError, SolverError
from capacity.report.writers import stranded_text
from capacity.units import format_duration

EXIT_OK, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_SOLVER, EXIT_INTERRUPTED = 0, 2, 3, 4, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capacity",
        description="Capacity planner for ML inference clusters: pack replicas on nodes with an integer "
                    "program, then simulate the serving of requests.")
    parser.add_argument("--version", action="version", version=f"capacity {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a scenario field, e.g. services.ranker.replicas=8 (repeatable)")
        return p

    p = command("run", "pack, then simulate; write report.json, report.md and plots to DIR")
    p.add_argument("-o", "--output", metavar="DIR", type=Path,
                   help="output directory (default: out/<scenario name>)")
    p = command("plan", "placement only: which replica goes on which node")
    p.add_argument("--json", metavar="FILE", type=Path, help="write the report (placement only) as JSON")
    p.add_argument("--compare", action="store_true",
                   help="also run every greedy baseline (ffd, k8s-least-allocated, k8s-most-allocated, "
                        "tetris) on the same problem and print them beside the optimiser and the lower "
                        "bound (and add a 'compare' section to --json)")
    p = command("simulate", "placement, then simulation (same as run, without plots)")
    p.add_argument("--json", metavar="FILE", type=Path, help="write the report as JSON")
    command("validate", "load and check the scenario only")
    return parser


def _fmt_pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}%"


def placement_summary(report: dict[str, Any]) -> str:
    p = report["placement"]
    cost = "" if p["cost_per_hour"] is None else f", {p['cost_per_hour']:.2f}/h"
    gap = "" if p["gap"] is None else f", gap {100 * p['gap']:.2f}%"
    lines = [f"placement: {p['nodes_used']} nodes{cost} ({p['status']}, {p['solver']}, lower bound "
             f"{p['lower_bound']}{gap})"]
    for name, pool in p["pools"].items():
        alloc = "  ".join(f"{r} {_fmt_pct(v)}" for r, v in pool["allocated"].items())
        stranded = stranded_text(pool.get("stranded", {}))
        stranded = "" if stranded == "-" else f"  stranded {stranded}"
        lines.append(f"  pool {name:<12} {pool['nodes_used']:>4} / {pool['count']:<4} nodes  {alloc}"
                     + stranded)
    if p["unplaced"]:
        lines.append(f"  unplaced: {', '.join(p['unplaced'])}")
    return "\n".join(lines)


def compare_summary(report: dict[str, Any]) -> str:
    """The ``--compare`` table: one line per method, then the proven lower bound."""
    c = report["compare"]
    times = report.get("run", {}).get("compare_s", {})
    header = (f"{'method':<22} {'nodes':>5} {'cost/h':>8}  {'status':<24} {'time':>8}  "
              "stranded (free, unusable)")
    lines = [f"compare (objective {c['objective']}):", "  " + header]
    for name, m in sorted(c["methods"].items(), key=lambda item: item[0] == "optimiser"):  # baselines first
        label = name if name != "optimiser" else f"optimiser ({m['solver']})"
        cost = "-" if m["cost_per_hour"] is None else f"{m['cost_per_hour']:.2f}"
        status = m["status"] + (f", {m['unplaced']} unplaced" if m["unplaced"] else "")
        lines.append(f"  {label:<22} {m['nodes_used']:>5} {cost:>8}  {status:<24} "
                     f"{format_duration(times.get(name)):>8}  {stranded_text(m['stranded'])}")
    bound = "-"
    if c["objective"] == "min-cost" and c["objective_bound"] is not None:
        bound = f"{c['objective_bound']:.2f}"
    lines.append(f"  {'lower bound':<22} {c['lower_bound']:>5} {bound:>8}  proven")
    return "\n".join(lines)


def simulation_summary(report: dict[str, Any]) -> str:
    s = report["simulation"]
    header = (f"{'class':<16} {'arrived':>9} {'done':>9} {'rejected':>8} {'timed out':>9} {'p50':>9} "
              f"{'p95':>9} {'p99':>9}  SLO")
    lines = ["simulation:", "  " + header]
    for name, c in s["classes"].items():
        lat = c["latency_s"]
        slo = c.get("slo")
        slo_text = "-"
        if slo:
            slo_text = (f"p{100 * slo['quantile']:g}<={format_duration(slo['target_s'])} "
                        f"{100 * slo['attained']:.1f}% {'met' if slo['met'] else 'MISSED'}")
        lines.append(f"  {name:<16} {c['arrived']:>9} {c['completed']:>9} {c['rejected']:>8} "
                     f"{c['timed_out']:>9} "
                     f"{format_duration(lat['p50']):>9} {format_duration(lat['p95']):>9} "
                     f"{format_duration(lat['p99']):>9}  {slo_text}")
    pools = "  ".join(f"{n} {_fmt_pct(v['utilisation'])}" for n, v in s.get("pools", {}).items())
    lines.append(f"  busy by pool: {pools}")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from capacity.pipeline import run
    from capacity.report import render_markdown, write_json, write_text
    from capacity.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    if args.command == "validate":
        n = sum(s.replicas for s in scenario.services)
        classes = len(scenario.workload.classes) if scenario.workload else 0
        print(f"ok: {scenario.name}: {len(scenario.cluster.pools)} pools, {len(scenario.services)} "
              f"services ({n} replicas), {classes} request classes")
        return EXIT_OK
    result = run(scenario, simulate_traffic=args.command != "plan")
    report = result.report
    print(placement_summary(report))
    if getattr(args, "compare", False):
        from capacity.pipeline import compare
        from capacity.report.summary import with_compare

        report = with_compare(report, result.problem, compare(result.problem, result.placement))
        print(compare_summary(report))
    if report.get("simulation"):
        print(simulation_summary(report))
    if args.command in ("plan", "simulate") and args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    if args.command == "run":
        from capacity.report.plots import write_plots

        out = args.output or Path("out") / scenario.name
        write_json(out / "report.json", report)
        write_text(out / "report.md", render_markdown(report))
        pngs = write_plots(result, out)
        print(f"wrote {out / 'report.json'}, {out / 'report.md'}"
              + (f" and {len(pngs)} plots" if pngs else ""))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``capacity`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ScenarioError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InfeasiblePlacement as exc:
        print("error: the services do not fit on the cluster:", file=sys.stderr)
        for shortage in exc.shortages or ["(no explanation available)"]:
            print(f"  {shortage}", file=sys.stderr)
        return EXIT_INFEASIBLE
    except SolverError as exc:
        print(f"error: solver failed: {exc}", file=sys.stderr)
        return EXIT_SOLVER
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
