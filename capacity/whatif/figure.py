"""The sweep's ``sweep.png``: p99 per class and cost against the last numeric grid key, one panel per case
and value of the other keys (`capacity.report.plots.sweep_p99_cost` on the summary rows)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

from capacity.whatif.errors import writing
from capacity.whatif.result import SweepResult

#: At most this many panels in ``sweep.png`` (one per value of the keys other than the plotted one).
MAX_PANELS = 12


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _shown(key: str, value: Any) -> str:
    """A swept value as read in report units (rates per second)."""
    if not _number(value):
        return str(value)
    return f"{value:g}/s" if key.endswith(".rate") else f"{value:g}"


def sweep_figure(result: SweepResult) -> Any:
    """``sweep.png``: p99 per class and cost against the last numeric grid key (the one varying fastest),
    one panel per case and value of the other keys (`capacity.report.plots.sweep_p99_cost` on the summary
    rows: mean ± 95 % t-interval; dotted: the p99 SLO targets; star: the cheapest point meeting every SLO
    in the panel). None when no grid key has numeric values, nothing is done yet or there would be more
    than `MAX_PANELS` panels."""
    from matplotlib.figure import Figure

    from capacity.report.plots import sweep_p99_cost

    grid = result.scenario.whatif.grid if result.scenario.whatif else {}
    rows = [r for r in result.summary if r["replications"]]
    numeric = [k for k in grid if rows and all(_number(r[k]) for r in rows)]
    if not numeric:
        return None
    x = numeric[-1]
    others = [k for k in grid if k != x]            # a case's own keys go with its name
    panels: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        panels.setdefault((r["case"], *(json.dumps(r[k]) for k in others)), []).append(r)
    if len(panels) > MAX_PANELS:
        return None
    classes = result.scenario.workload.classes if result.scenario.workload else []
    slo_s = {c.name: c.slo.p99 for c in classes if c.slo is not None and c.slo.p99 is not None}
    cols = min(3, len(panels))
    height = -(-len(panels) // cols)
    fig = Figure(figsize=(5.6 * cols, 4.6 * height), layout="constrained")
    for i, ((case, *_), mine) in enumerate(panels.items()):
        ax = fig.add_subplot(height, cols, i + 1)
        sweep_p99_cost(ax, mine, x, slo_s=slo_s)
        fixed = ([f"case {case}"] if case else []) + [f"{k} = {_shown(k, mine[0][k])}" for k in others]
        ax.set_title(textwrap.fill(", ".join(fixed), 64) or f"{result.scenario.name}: p99 and cost",
                     fontsize=9)
    best = next((p for p in result.points if p.name == result.cheapest), None)
    what = "meeting every SLO" if result.has_slos else "(no SLOs)"
    seeds = "one seed" if result.replications == 1 else f"mean ± 95 % CI over {result.replications} seeds"
    fig.suptitle(f"What-if sweep {result.scenario.name}: p99 (left, log; {seeds}) and "
                 f"cost (right) against {x}\n"
                 + (f"cheapest point {what}: {best.name} ({best.label})" if best
                    else "no point meets every SLO"), fontsize=10)
    return fig


def write_plot(out: Path, result: SweepResult) -> Path | None:
    """Write ``sweep.png`` (see `sweep_figure`) if there is something to draw; remove a stale one if not."""
    from capacity.report.plots import png_bytes
    from capacity.report.writers import write_bytes

    fig = sweep_figure(result)
    path = out / "sweep.png"
    with writing(path):
        if fig is None:
            path.unlink(missing_ok=True)
            return None
        return write_bytes(path, png_bytes(fig))
