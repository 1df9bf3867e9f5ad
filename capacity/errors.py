"""Errors that `capacity` raises on purpose, each carrying what a user needs to fix the problem.

* `ScenarioError` — the scenario file (or a ``--set`` override) is wrong. It names the file, the line, the
  field path (``services.ranker.resources.cpu``) and what is wrong; the CLI prints it as one line and exits 2.
* `InfeasiblePlacement` — the services cannot be placed on the cluster. It names each service that cannot fit
  and the resource (or constraint) that is short; the CLI exits 3.
* `SolverError` — the MIP solver failed in a way that is not the user's fault (crash, missing binary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: What could break a one-line message: line breaks of every kind (``str.splitlines`` splits on all of
#: them), and the other control characters (a terminal escape sequence could rewrite what is shown).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with line breaks and control characters escaped as in ``repr`` (``\\n``, ``\\x1b``), so
    that it prints on one line and shows what was there."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


class CapacityError(Exception):
    """Base class of every error raised on purpose by this package."""


class ScenarioError(CapacityError):
    """A scenario that cannot be loaded: file, line (1-based, or None), field path and message."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``FILE:LINE: field.path: what is wrong`` (parts that are unknown are left out), always one line:
        a line break or control character in any part (a file name, a key) is escaped, never printed."""
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        field_part = f"{self.path}: " if self.path else ""
        return printable(f"{where}{field_part}{self.message}")


@dataclass(frozen=True)
class Shortage:
    """Why one service cannot be placed: the service, the resource or constraint, and an explanation."""

    service: str
    resource: str
    reason: str

    def __str__(self) -> str:
        return f"service {self.service!r}: {self.resource}: {self.reason}"


@dataclass
class InfeasiblePlacement(CapacityError):
    """The services do not fit on the cluster. ``shortages`` names each service and resource."""

    shortages: list[Shortage] = field(default_factory=list)
    placement: object | None = None  # the best partial Placement, when one was computed

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.shortages:
            return "the services do not fit on the cluster"
        return "; ".join(str(s) for s in self.shortages)


class SolverError(CapacityError):
    """The MIP solver failed (not an infeasible model: a crash, a missing solver, an unreadable answer)."""
