"""`SweepResult`: a sweep's points, its table of runs, its per-point summary and the cheapest point, with
the columns of the tables and the sweep's definition (``sweep.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from capacity._version import __version__
from capacity.scenario import Scenario
from capacity.whatif.points import Point, Run
from capacity.whatif.tables import CLASS_STATS


@dataclass
class SweepResult:
    """A sweep's points, its table of runs and its per-point summary."""

    scenario: Scenario
    points: list[Point]
    replications: int
    rows: list[dict[str, Any]]                       # finished runs, in point then replication order
    summary: list[dict[str, Any]]                    # one row per point
    keys: list[str]                                  # the swept keys (table columns)
    classes: list[str]
    total: int                                       # runs in the sweep
    reused: int = 0                                  # runs found already done in the output directory
    errors: list[tuple[str, str]] = field(default_factory=list)   # (run key, message), not recorded
    out: Path | None = None
    cheapest: str | None = None                      # the cheapest point meeting every SLO
    runs: list[Run] = field(default_factory=list)    # every run, in point then replication order
    notes: list[str] = field(default_factory=list)   # records found unusable (run again), one line each

    COLUMNS_FIXED: ClassVar[tuple[str, ...]] = (
        "replication", "seed", "key", "status", "nodes", "lower_bound", "cost_per_hour", "slo_met")

    @property
    def done(self) -> int:
        return len(self.rows)

    @property
    def has_slos(self) -> bool:
        """Whether any point has a class with an SLO (else the cheapest point is just the cheapest)."""
        return any(c.slo is not None for p in self.points
                   for c in (p.scenario.workload.classes if p.scenario.workload else []))

    @property
    def seed_swept(self) -> bool:
        """Whether points set their own seed (a grid or case key ``seed``)."""
        return "seed" in self.keys

    def columns(self) -> list[str]:
        """The results table's columns: a swept ``seed`` is the one ``seed`` column (the run's seed)."""
        per_class = [f"{c}.{s}" for c in self.classes for s in (*CLASS_STATS, "slo_met", "slo_status")]
        keys = [k for k in self.keys if k not in self.COLUMNS_FIXED]
        return ["point", "case", *keys, *self.COLUMNS_FIXED, *per_class, "report"]

    def summary_columns(self) -> list[str]:
        per_class = [f"{c}.{s}{ci}" for c in self.classes for s in CLASS_STATS for ci in ("", "_ci95")]
        per_class += [f"{c}.{s}" for c in self.classes for s in ("slo_met", "slo_status")]
        return ["point", "case", *self.keys, "replications", "complete", "status", "nodes", "cost_per_hour",
                "slo_met", "slo_status", *per_class]

    def seeds_text(self) -> str:
        """How the runs' seeds come about, for sweep.json and report.md."""
        if self.seed_swept:
            return "seed of each point + replication (0, 1, ...)"
        return "scenario seed + replication (0, 1, ...)"

    def definition(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name, "source": self.scenario.source,
            "scenario_sha256": self.scenario.digest(), "capacity_version": __version__,
            "replications": self.replications, "seeds": self.seeds_text(),
            "keys": self.keys, "classes": self.classes,
            "points": [{"point": p.name, "case": p.case, "settings": p.settings,
                        "runs": [r.key for r in self.runs if r.point.name == p.name]} for p in self.points],
        }
