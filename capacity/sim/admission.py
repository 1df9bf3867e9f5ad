"""Deadline-aware admission: predict an arrival's wait, and drop it if it would miss its SLO target.

A class's ``admission`` (else its service's) is ``deadline`` and the class has an SLO target
(`capacity.sim.records.admission_targets`). The routing rule picks the arrival's queue (group) first; the
arrival is then **dropped** if its *predicted wait* plus its own service time exceeds the target. The
predicted wait is 0 when a slot of that group is free; otherwise it is

    (remaining service time of the requests in service on the group's slots
     + service time of the requests waiting in the group that go before it) / the group's ready slots

where "go before it" means, under a discipline whose order starts with the priority level
(``levelled``: ``priority``, ``preemptive``, ``priority-fair``), those of its level or more urgent, and
under the others all of them. Queued and own service times are divided by the mean speed of the group's
replicas. It is an **estimate**: exact for one FIFO slot (the engine knows every drawn service time), but
it ignores later arrivals that overtake (higher priorities, fair shares) and, with several slots, how the
work splits between them (the fluid approximation). It uses the drawn service times, as a server that
knows each request's cost (tokens) would. Retries after a failure are not tested again.

`AdmissionPredictor` keeps, per group, the work queued per priority level (seconds at speed 1) and the
sum of the end times of the segments in service, updated as requests queue, start and end: O(levels) a
prediction.
"""

from __future__ import annotations

from collections.abc import Iterable


def level_map(levels: Iterable[int], levelled: bool) -> dict[int, int]:
    """Priority → level index: ascending levels when the discipline's order starts with the priority
    level, else one level for all."""
    levels = list(levels)
    if levelled:
        return {p: k for k, p in enumerate(sorted(set(levels)))}
    return dict.fromkeys(levels, 0)


class AdmissionPredictor:
    """The work per group that the wait of an arrival is predicted from (see the module docstring)."""

    def __init__(self, targets: list[float], cls: list[int], level_of: dict[int, int],
                 n_groups: int, group_speed: list[float]) -> None:
        self.targets, self.cls, self.level_of = targets, cls, level_of
        self.n_levels = max(level_of.values(), default=0) + 1
        self.queued_work: list[list[float]] = [[0.0] * self.n_levels for _ in range(n_groups)]
        self.busy_end: list[float] = [0.0] * n_groups   # sum of the end times of the segments in service
        self.busy_n: list[int] = [0] * n_groups         # slots in service
        self.slot_end: list[float] = []
        self.group_speed = group_speed                  # the service's list: mean speed per group

    def add_group(self) -> None:
        self.queued_work.append([0.0] * self.n_levels)
        self.busy_end.append(0.0)
        self.busy_n.append(0)

    def add_slots(self, n: int) -> None:
        self.slot_end.extend([0.0] * n)

    def started(self, slot: int, g: int, end: float) -> None:
        """A segment ending at ``end`` started on ``slot`` of group ``g``."""
        self.slot_end[slot] = end
        self.busy_end[g] += end
        self.busy_n[g] += 1

    def vacated(self, slot: int, g: int) -> None:
        """The segment on ``slot`` of group ``g`` ended (or was cut)."""
        self.busy_n[g] -= 1
        self.busy_end[g] = self.busy_end[g] - self.slot_end[slot] if self.busy_n[g] else 0.0

    def queued(self, g: int, priority: int, work: float) -> None:
        self.queued_work[g][self.level_of[priority]] += work

    def dequeued(self, g: int, priority: int, work: float) -> None:
        self.queued_work[g][self.level_of[priority]] -= work

    def reset(self, g: int) -> None:
        """Group ``g``'s queue emptied at once."""
        self.queued_work[g] = [0.0] * self.n_levels

    def wait(self, g: int, priority: int, now: float, ready_slots: int) -> float:
        """Predicted wait in group ``g`` (no free slot) of an arrival of ``priority``."""
        in_progress = max(self.busy_end[g] - self.busy_n[g] * now, 0.0)
        queued = sum(self.queued_work[g][: self.level_of[priority] + 1]) / self.group_speed[g]
        return (in_progress + queued) / ready_slots
