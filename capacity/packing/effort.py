"""Work budgets of the pattern search: how much each phase may do, counted in work, not in seconds.

The pattern search (`capacity.packing.patterns`) moves from phase to phase (column generation at the
root, roundings, perfect packing, dives, price-and-branch) when a phase has spent its **work budget**:
column-generation rounds, dive nodes (each a residual LP of a few rounds), branch-and-bound nodes of a
HiGHS MIP (``mip_max_nodes``). Every count is deterministic (HiGHS runs single-threaded with a fixed
seed), so the same problem gives the same plan byte for byte, on any machine and under any load; a
phase switch decided by the clock would not (a proof found at 29 s on an idle machine came at 31 s,
after the switch, on a loaded one, and the plan differed).

The budgets grow with ``PackingProblem.time_limit_s`` (``per_second`` units for each second of it,
`Effort.units`): the limit is part of the input, so a longer limit buys a deeper, still repeatable,
search. ``PackingProblem.work_s`` sets the budgets apart from the limit: ``work_s=60`` with a limit of
600 s searches as a 60 s run would on an idle machine, and gives that same plan on a loaded one (the
benchmarks' ``--work``). The rates were calibrated so that the whole budget takes well under the limit on the
benchmark instances of ``benchmarks/packing_vbp.py`` (see ``benchmarks/README.md``).

The time limit itself stays as a **safety net**: every phase also stops when the clock passes the
deadline (`Effort.out_of_time`). When that happens the plan depends on the machine's speed, and the
run says so: `Effort.expired` becomes True, a warning is logged, and the `Placement` carries
``time_limit_reached`` (the report's ``run.placement_time_limit_reached``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Effort:
    """The clock of one pattern search: its start, its limit (the safety net) and whether it expired."""

    started: float  # time.perf_counter() at the start of the search
    limit_s: float  # PackingProblem.time_limit_s: the safety net
    work_s: float | None = None  # PackingProblem.work_s: the budgets' seconds (None: limit_s)
    expired: bool = False

    @property
    def deadline(self) -> float:
        return self.started + self.limit_s

    def left_s(self) -> float:
        """Seconds left before the safety net (never below 0)."""
        return max(0.0, self.deadline - time.perf_counter())

    def out_of_time(self) -> bool:
        """True (from now on) once the clock has passed the deadline; logs the expiry once."""
        if not self.expired and time.perf_counter() >= self.deadline:
            self.expired = True
            log.warning(
                "patterns: time limit of %.1f s reached before the work budgets ran out; the plan "
                "depends on the machine's speed from here on",
                self.limit_s,
            )
        return self.expired

    def units(self, per_second: float, least: int = 1) -> int:
        """A work budget: ``per_second`` units for each second of ``work_s`` (the time limit when not
        given), at least ``least``."""
        seconds = self.work_s if self.work_s is not None else self.limit_s
        if not math.isfinite(seconds):
            return max(least, int(per_second * 3600))
        return max(least, int(per_second * seconds))
