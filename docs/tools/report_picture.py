"""Draw the picture of a report shown in the README and the docs (docs/pages/img/report.png).

    python docs/tools/report_picture.py        # runs scenarios/inference-fleet.yaml (about 10 s)

It runs the shipped inference fleet as ``capacity run`` does and draws three of the report's own plots
(`capacity.report.plots`: the placement map, the latency distribution and the latency over time) on one
figure, under the verdict the terminal prints. Run it again when the plots or the scenario change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capacity.report.model import Report

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "inference-fleet.yaml"
PICTURE = ROOT / "docs" / "pages" / "img" / "report.png"


def verdict(report: Report) -> str:
    """One line: nodes, cost, status and the SLOs met."""
    p = report.placement
    classes = report.simulation.classes if report.simulation is not None else {}
    slos = [c.slo for c in classes.values() if c.slo is not None]
    met = sum(1 for s in slos if s.verdict == "met")
    return (f"{report.scenario}: {p.nodes_used} nodes, {p.cost_per_hour or 0:.2f}/h, {p.status} "
            f"(lower bound {p.lower_bound}) — {met} of {len(slos)} SLOs met")


def draw(report: Report, path: Path) -> None:
    """The figure: placement map across the top, latency distribution and latency over time below."""
    from matplotlib.figure import Figure

    from capacity.report import plots

    figure = Figure(figsize=(15, 10), dpi=100, layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=(1.0, 1.0), width_ratios=(1.0, 1.25))
    plots.placement_map(figure.add_subplot(grid[0, :]), report)
    plots.latency_cdf(figure.add_subplot(grid[1, 0]), report)
    plots.latency_over_time(figure.add_subplot(grid[1, 1]), report)
    figure.suptitle(verdict(report), fontsize=15, fontweight="bold")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})


def main() -> int:
    from capacity import load_scenario, run

    report = run(load_scenario(SCENARIO)).full_report()
    draw(report, PICTURE)
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
