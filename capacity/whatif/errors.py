"""Errors of a sweep, each naming what is wrong: `SweepError` (it cannot start: an executor, a scheduler,
an output folder; ``capacity sweep`` exits 2), `SweepWriteError` (writing its files failed; exit 5) and
`SweepInterrupted` (Ctrl-C or SIGTERM: the finished runs are kept; exit 130). `writing` turns an ``OSError``
while writing a file into a `SweepWriteError` naming it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from capacity.errors import CapacityError


class SweepError(CapacityError):
    """A sweep that cannot start: an unknown executor, or one whose package is missing."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished runs are kept (and the tables written); ``done`` of ``total``."""

    def __init__(self, done: int, total: int, out: Path | None) -> None:
        super().__init__(f"{done} of {total} runs done")
        self.done, self.total, self.out = done, total, out


class SweepWriteError(CapacityError):
    """Writing the sweep's files failed (disk full, I/O error, quota, ...): ``path`` and the OS's reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an `OSError` while writing ``path`` into a `SweepWriteError` naming it."""
    try:
        yield
    except OSError as exc:
        raise SweepWriteError(path, exc.strerror or type(exc).__name__) from None
