"""Measured iteration times: a team's own profile of its engine, interpolated instead of the roofline.

A **profile** is a CSV file with a header row naming four columns, in any order:

* ``batch_size`` — sequences in the iteration (decoding requests plus prefill chunks), a whole number >= 1;
* ``tokens`` — new tokens the iteration processes (one per decoding request plus every chunk's tokens),
  a whole number >= 1;
* ``context`` — the mean, over the batch's sequences, of the tokens already cached when the iteration
  starts, a whole number >= 0;
* ``time_s`` — the measured iteration time in seconds, a number > 0.

The rows must form a **complete grid**: every combination of the batch sizes, token counts and contexts that
appear, once each (an axis may have a single value; queries must then have that value). Times in between are
interpolated linearly in all three axes (`scipy.interpolate.RegularGridInterpolator`); the grid points
themselves are reproduced exactly. An iteration outside the measured ranges raises `ProfileRangeError`
naming the axis and the range, unless the profile was made with ``outside="clamp"`` (each axis is then held
at its nearest measured value).

**Reading is bounded and never echoes the file.** Lines are at most `MAX_LINE_LENGTH` bytes and files at most
`MAX_ROWS` data rows; every problem is a `ProfileError` ``FILE:LINE: field: what was expected`` that quotes
nothing the file holds. Blank lines are skipped; a UTF-8 byte-order mark is allowed.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import numpy as np

from capacity.llm.errors import ProfileError, ProfileRangeError

if TYPE_CHECKING:      # imported when a profile is built: scipy.interpolate costs ~1.5 s, and reading a
    from scipy.interpolate import RegularGridInterpolator  # scenario (capacity validate) needs none

MAX_LINE_LENGTH = 4096
"""The longest line a profile may have, in bytes; raise it by setting
``capacity.llm.profile.MAX_LINE_LENGTH``."""

MAX_ROWS = 1_000_000
"""The most data rows a profile may have; raise it by setting ``capacity.llm.profile.MAX_ROWS``."""

AXES = ("batch_size", "tokens", "context")
"""The grid's axes, in the order the interpolator takes them."""

COLUMNS = (*AXES, "time_s")
"""The columns a profile must have."""

_MIN = {"batch_size": 1, "tokens": 1, "context": 0}
_MAX_VALUE = 10**9


class IterationProfile:
    """Measured iteration times on a complete (batch size, tokens, context) grid, interpolated linearly.

    ``axes`` are the ascending values of batch_size, tokens and context; ``times`` has one value per grid
    point (shape ``(len(axes[0]), len(axes[1]), len(axes[2]))``), in seconds."""

    def __init__(self, axes: Sequence[np.ndarray], times: np.ndarray, source: str = "<profile>",
                 outside: Literal["error", "clamp"] = "error") -> None:
        self.axes = tuple(np.asarray(a, dtype=np.float64) for a in axes)
        self.times = np.asarray(times, dtype=np.float64)
        self.source, self.outside = source, outside
        if len(self.axes) != 3 or self.times.shape != tuple(len(a) for a in self.axes):
            raise ValueError("a profile needs three axes and one time per grid point")
        self._varying = [k for k, a in enumerate(self.axes) if len(a) > 1]
        self._grid: RegularGridInterpolator | None = None
        if self._varying:
            from scipy.interpolate import RegularGridInterpolator

            values = self.times[tuple(slice(None) if k in self._varying else 0 for k in range(3))]
            self._grid = RegularGridInterpolator([self.axes[k] for k in self._varying], values,
                                                 method="linear", bounds_error=False, fill_value=None)

    def time(self, batch_size: float, tokens: float, context: float) -> float:
        """Interpolated seconds of an iteration at (``batch_size``, ``tokens``, ``context``)."""
        point = [float(batch_size), float(tokens), float(context)]
        for k, name in enumerate(AXES):
            low, high = float(self.axes[k][0]), float(self.axes[k][-1])
            if not low <= point[k] <= high:
                if self.outside == "clamp":
                    point[k] = min(max(point[k], low), high)
                else:
                    raise ProfileRangeError(
                        f"{self.source}: {name} {point[k]:g} is outside the profile's measured range "
                        f"[{low:g}, {high:g}]: measure that range, or read the profile with outside='clamp'")
        if self._grid is None:
            return float(self.times.reshape(-1)[0])
        return float(self._grid([point[k] for k in self._varying])[0])

    def iteration_time(self, decode_contexts: Sequence[int] | np.ndarray = (),
                       prefill_chunks: Sequence[tuple[int, int]] | np.ndarray = ()) -> float:
        """Seconds for an iteration of decode steps (``decode_contexts``: tokens cached for each) and prefill
        chunks (``(tokens, prior context)``); 0 for an empty batch."""
        ctx = np.asarray(decode_contexts, dtype=np.float64)
        chunks = np.asarray(prefill_chunks, dtype=np.float64).reshape(-1, 2)
        batch = ctx.size + chunks.shape[0]
        if batch == 0:
            return 0.0
        tokens = ctx.size + float(chunks[:, 0].sum())
        context = (float(ctx.sum()) + float(chunks[:, 1].sum())) / batch
        return self.time(batch, tokens, context)

    def prefill_time(self, tokens: int, prior_context: int = 0) -> float:
        """Seconds to prefill ``tokens`` prompt tokens of one request in one iteration."""
        return self.time(1, tokens, prior_context)

    def decode_step_time(self, batch: int, mean_context: float) -> float:
        """Seconds for one decode step of ``batch`` requests, ``mean_context`` cached tokens on average."""
        return self.time(batch, batch, mean_context)


def read_profile(path: str | Path, *, outside: Literal["error", "clamp"] = "error") -> IterationProfile:
    """Read a profile CSV file (module docstring); raise `ProfileError` naming the file, line and field."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ProfileError("no such file", file=file) from None
    except OSError as exc:
        raise ProfileError(f"cannot open: {exc.strerror or type(exc).__name__}", file=file) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ProfileError("is not a regular file", file=file)
    with os.fdopen(fd, "rb") as raw:
        try:
            return parse_profile(_lines(raw, file), file, outside=outside)
        except OSError as exc:
            raise ProfileError(f"cannot read: {exc.strerror or type(exc).__name__}", file=file) from None


def parse_profile(lines: Iterable[str], source: str = "<profile>", *,
                  outside: Literal["error", "clamp"] = "error") -> IterationProfile:
    """Parse the lines of a profile CSV (header first); ``source`` names it in errors."""
    reader = csv.reader(_bounded(lines, source))
    try:
        header = next(reader, None)
        if header is None:
            raise ProfileError(f"empty file: expected a header row {','.join(COLUMNS)}", file=source, line=1)
        at = _columns([h.strip() for h in header], source)
        points: dict[tuple[int, int, int], tuple[float, int]] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) != len(header):
                raise ProfileError(f"expected {len(header)} fields (as many as the header), got {len(row)}",
                                   file=source, line=line)
            if len(points) >= MAX_ROWS:
                raise ProfileError(f"more than {MAX_ROWS} rows, the most a profile may have "
                                   "(capacity.llm.profile.MAX_ROWS)", file=source, line=line)
            key = (_whole(row[at["batch_size"]], "batch_size", source, line),
                   _whole(row[at["tokens"]], "tokens", source, line),
                   _whole(row[at["context"]], "context", source, line))
            seconds = _seconds(row[at["time_s"]], source, line)
            if key in points:
                raise ProfileError(f"the same (batch_size, tokens, context) as line {points[key][1]}",
                                   file=source, line=line)
            points[key] = (seconds, line)
    except csv.Error as exc:
        raise ProfileError(f"not valid CSV: {exc}", file=source, line=reader.line_num) from None
    return _grid(points, source, outside)


def _columns(header: list[str], source: str) -> dict[str, int]:
    """Where each column is; refuse a missing, repeated or unknown column (naming only expected names)."""
    at: dict[str, int] = {}
    for k, name in enumerate(header):
        if name not in COLUMNS:
            raise ProfileError(f"field {k + 1} of the header is not one of {', '.join(COLUMNS)}",
                               file=source, line=1)
        if name in at:
            raise ProfileError(f"the header repeats column {name!r}", file=source, line=1)
        at[name] = k
    missing = [c for c in COLUMNS if c not in at]
    if missing:
        raise ProfileError(f"the header has no column {', '.join(missing)}", file=source, line=1)
    return at


def _whole(cell: str, name: str, source: str, line: int) -> int:
    text = cell.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not _MIN[name] <= int(text) <= _MAX_VALUE:
        raise ProfileError(f"expected a whole number from {_MIN[name]} to {_MAX_VALUE:.0e}", file=source,
                           line=line, field=name)
    return int(text)


def _seconds(cell: str, source: str, line: int) -> float:
    text = cell.strip()
    try:
        value = float(text) if len(text) <= 64 else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ProfileError("expected a number of seconds > 0", file=source, line=line, field="time_s")
    return value


def _grid(points: dict[tuple[int, int, int], tuple[float, int]], source: str,
          outside: Literal["error", "clamp"]) -> IterationProfile:
    """The rows as a complete grid; name a missing combination (numbers only)."""
    if not points:
        raise ProfileError("no rows: the file has a header but no data", file=source)
    axes = tuple(np.array(sorted({key[k] for key in points}), dtype=np.float64) for k in range(3))
    size = math.prod(len(a) for a in axes)
    if size != len(points):
        index = [{v: i for i, v in enumerate(a)} for a in axes]
        have = np.zeros([len(a) for a in axes], dtype=bool)
        for key in points:
            have[tuple(index[k][key[k]] for k in range(3))] = True
        gap = tuple(int(axes[k][i]) for k, i in enumerate(np.argwhere(~have)[0]))
        raise ProfileError(f"the rows are not a complete grid: {size} combinations of the axis values, "
                           f"{len(points)} rows; missing batch_size={gap[0]}, tokens={gap[1]}, "
                           f"context={gap[2]}", file=source)
    times = np.empty([len(a) for a in axes], dtype=np.float64)
    index = [{v: i for i, v in enumerate(a)} for a in axes]
    for key, (seconds, _) in points.items():
        times[tuple(index[k][key[k]] for k in range(3))] = seconds
    return IterationProfile(axes, times, source, outside)


def _lines(raw: BinaryIO, source: str) -> Iterator[str]:
    """The file's lines as text, each read with a bound of `MAX_LINE_LENGTH` bytes (UTF-8, BOM skipped)."""
    number = 0
    while True:
        data = raw.readline(MAX_LINE_LENGTH + 2)
        if not data:
            return
        number += 1
        if number == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if len(data.rstrip(b"\r\n")) > MAX_LINE_LENGTH:
            raise ProfileError(f"the line is longer than {MAX_LINE_LENGTH} bytes "
                               "(capacity.llm.profile.MAX_LINE_LENGTH): is this a profile?", file=source,
                               line=number)
        try:
            yield data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProfileError("not UTF-8 text", file=source, line=number) from None


def _bounded(lines: Iterable[str], source: str) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if len(line.rstrip("\r\n")) > MAX_LINE_LENGTH:
            raise ProfileError(f"the line is longer than {MAX_LINE_LENGTH} bytes "
                               "(capacity.llm.profile.MAX_LINE_LENGTH): is this a profile?", file=source,
                               line=number)
        yield line
