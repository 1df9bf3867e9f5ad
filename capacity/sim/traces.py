"""Request traces: recorded inference requests (arrival time, input and output tokens) and their replay.

A **trace** is a CSV file with one row per request and a header row naming the columns. Two formats:

* ``azure`` — the Azure LLM inference trace (AzurePublicDataset, 2023):
  ``TIMESTAMP,ContextTokens,GeneratedTokens``, where ``TIMESTAMP`` is a date and time such as
  ``2023-11-16 18:17:03.9799600`` (ISO 8601, a space or ``T`` between date and time, any number of
  fractional digits, read to the microsecond; all rows with a time zone or none). Times are **relative to
  the earliest row**: it is at 0 s on the trace's clock.
* ``plain`` — ``time,input_tokens,output_tokens`` with ``time`` in seconds (a number >= 0) on the trace's
  clock, taken as written (a first row at 2.5 is at 2.5 s, not 0).

``auto`` recognises either by its header. Columns may come in any order and extra columns are allowed (one
of them may name each request's **tenant**, see ``tenant_column``). Token counts are whole numbers >= 0.
Rows need not be sorted (they are sorted by time, stably); blank lines are skipped; a ``.gz`` file is read
through gzip. Every problem is reported as a `TraceError` naming the file, the line and what was expected,
**never the file's content** (a file that is not a trace may hold anything, secrets included).

**Reading is streaming and bounded.** The file is read line by line (through gzip too), each line at most
`MAX_LINE_LENGTH` bytes: a longer one (a binary file, a file without newlines) fails at once, naming the
limit. Every row is checked, but given the `ReplayWindow` of a replay only the rows inside it are kept
(`read_trace` ``window``), at most ``max_rows`` of them (`RowLimitError` at the row past the limit), so
memory grows with the rows replayed, not with the file (about 24 bytes a kept row). The kept `Trace`
still knows where the whole trace ends (`Trace.end_s`) and all its tenants, so replaying it gives exactly
what replaying the whole file would. Azure times count from the earliest row, which is known only at
the end: the rows are kept relative to the first row and, if an earlier row turns up later (an unsorted
file), the file is read a second time. A tenant column may name at most `MAX_TENANTS` tenants.

**Replay** (`replay`) maps trace time ``τ`` (s) to run time ``t = (τ − start_s) · time_scale`` and keeps
the requests with ``0 <= t < duration_s``:

* ``time_scale`` stretches time: 2 replays the same requests at half the rate (a ten-minute run then covers
  five minutes of trace), 0.5 at twice the rate. Bursts stretch or shrink with it.
* ``rate_scale`` changes the rate and keeps the time structure: ``r = rate_scale`` is written
  ``k + f`` (``k`` whole, ``0 <= f < 1``); the replay superposes ``k`` full copies of the window and one
  copy **thinned** to a fraction ``f`` (each request kept independently with probability ``f``). Copy 0 is
  the trace itself; every further copy is **circularly shifted** by a uniform random offset ``u`` within the
  replayed span ``W = min(duration_s, run time of the last trace row)``: ``t → (t + u) mod W``. So
  ``rate_scale: 0.5`` keeps about half the requests where they were (thinning a Poisson stream gives a
  Poisson stream; thinning a bursty one keeps its bursts, smaller), and ``rate_scale: 3`` is three
  independent-looking users of the same service: the expected rate is exactly ``r`` times the trace's, each
  copy has the trace's own burstiness and token mix, and the copies' bursts do not line up (identical,
  unshifted copies would triple every burst; compressing time instead would shorten them, which is what
  ``time_scale`` is for). Draws come from the class's seeded stream: thinning and shifts are reproducible.

Requests outside ``[0, duration_s)`` are dropped (before ``start_s`` or past the run). When the trace ends
before ``duration_s``, arrivals stop there (the replay does not loop). Times are seconds.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import re
import stat
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
"""What a tenant name in a trace must look like (the scenario's rule for names)."""

MAX_TOKENS = 10**9
"""The most tokens one request of a trace may have (a larger count is a broken row, not a request)."""

MAX_LINE_LENGTH = 65_536
"""The longest line a trace file may have, in bytes (its line end left out). A trace row is some tens of
bytes, so a longer line means a file that is not a trace (binary, or without newlines); it is refused at
that line, before more is read. Raise it by setting ``capacity.sim.traces.MAX_LINE_LENGTH``."""

MAX_TENANTS = 10_000
"""The most distinct tenants a trace's tenant column may name (each becomes a request class); raise it by
setting ``capacity.sim.traces.MAX_TENANTS``."""


class TraceError(ValueError):
    """A trace that cannot be read: ``FILE:LINE: what is wrong`` (the line when one is to blame). The
    message says what was expected, never what the file holds."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        super().__init__(f"{file}{f':{line}' if line is not None else ''}: {message}")


class RowLimitError(TraceError):
    """More rows of a trace fall inside the replayed window than a replay may keep (``max_rows``)."""


@dataclass(frozen=True)
class ReplayWindow:
    """The part of a trace's clock that one replay uses: trace time ``τ`` plays at run time
    ``t = (τ − start_s) · time_scale``, and only ``0 <= t < duration_s`` is replayed (see `replay_window`).
    """

    duration_s: float
    time_scale: float = 1.0
    start_s: float = 0.0

    def holds(self, seconds: float) -> bool:
        """Whether a request at trace time ``seconds`` is replayed (the same arithmetic as `replay_window`,
        so the rows kept are exactly those it selects)."""
        t = (seconds - self.start_s) * self.time_scale
        return 0.0 <= t < self.duration_s


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True, eq=False)
class Trace:
    """The requests of a trace, sorted by time (numpy arrays, one entry per request)."""

    time_s: np.ndarray                     # float64 >= 0, non-decreasing: seconds on the trace's clock
    input_tokens: np.ndarray               # int64 >= 0: prompt (context) tokens
    output_tokens: np.ndarray              # int64 >= 0: generated tokens
    source: str = "<trace>"                # the file it was read from
    tenant: np.ndarray | None = None       # int32 per request: index in tenant_names (a tenant column)
    tenant_names: tuple[str, ...] = ()     # sorted
    last_s: float | None = None            # trace time of the file's last row, when rows were left out

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def end_s(self) -> float:
        """Trace time of the last request of the whole trace (s), kept or not."""
        if self.last_s is not None:
            return self.last_s
        return float(self.time_s[-1]) if len(self.time_s) else 0.0

    @classmethod
    def from_arrays(cls, time_s: Sequence[float] | np.ndarray, input_tokens: Sequence[int] | np.ndarray,
                    output_tokens: Sequence[int] | np.ndarray, tenants: Sequence[str] | None = None,
                    source: str = "<trace>") -> Trace:
        """A trace of hand-made requests (sorted by time here, stably); ``tenants``: a name per request."""
        t = np.asarray(time_s, dtype=np.float64)
        if not len(input_tokens) == len(output_tokens) == len(t):  # before indexing by ``order``
            raise ValueError(f"{source}: time_s, input_tokens and output_tokens differ in length")
        order = np.argsort(t, kind="stable")
        tenant = None
        names: tuple[str, ...] = ()
        if tenants is not None:
            names = tuple(sorted(set(tenants)))
            index = {name: k for k, name in enumerate(names)}
            tenant = np.array([index[x] for x in tenants], dtype=np.int32)[order]
        trace = cls(t[order], np.asarray(input_tokens, dtype=np.int64)[order],
                    np.asarray(output_tokens, dtype=np.int64)[order], source, tenant, names)
        trace.check()
        return trace

    def check(self) -> None:
        """Raise `ValueError` if the arrays are not a valid trace."""
        n = len(self.time_s)
        if not len(self.input_tokens) == len(self.output_tokens) == n:
            raise ValueError(f"{self.source}: time_s, input_tokens and output_tokens differ in length")
        if n and not (np.all(np.isfinite(self.time_s)) and self.time_s[0] >= 0
                      and np.all(np.diff(self.time_s) >= 0)):
            raise ValueError(f"{self.source}: times must be finite, >= 0 and sorted")
        if n and min(int(self.input_tokens.min()), int(self.output_tokens.min())) < 0:
            raise ValueError(f"{self.source}: token counts must be >= 0")
        if self.tenant is not None and (len(self.tenant) != n or (n and not (
                int(self.tenant.min()) >= 0 and int(self.tenant.max()) < len(self.tenant_names)))):
            raise ValueError(f"{self.source}: tenant must index tenant_names, one per request")
        if self.last_s is not None and not (math.isfinite(self.last_s) and self.last_s >= 0
                                            and (n == 0 or self.last_s >= self.time_s[-1])):
            raise ValueError(f"{self.source}: last_s must be finite and at or after the last request")


# --------------------------------------------------------------------------- formats


class TraceFormat(Protocol):
    """A CSV layout: the names of its time and token columns, and how to read a time.

    A row's **stamp** is its time on the format's own scale; seconds on the trace's clock are
    ``(stamp − origin) / per_second``, where the origin is the earliest stamp of the file when the format's
    times are ``relative``, else 0.
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[str, str, str]]            # time, input tokens, output tokens
    expects: ClassVar[str]                             # what a time looks like (for error messages)
    relative: ClassVar[bool]                           # times count from the earliest row
    per_second: ClassVar[float]                        # stamps per second

    def stamp(self, text: str) -> float:
        """The time of one row on the format's own scale (raise `ValueError` if it is not a time;
        `Unusable` with a reason to show)."""
        ...


class Unusable(ValueError):
    """A time that parses but cannot be used; its message says why."""


_EPOCH = datetime(1970, 1, 1)


class Azure:
    """``TIMESTAMP,ContextTokens,GeneratedTokens``; times are date-times, relative to the earliest row."""

    name: ClassVar[str] = "azure"
    columns: ClassVar[tuple[str, str, str]] = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
    expects: ClassVar[str] = "a date and time such as 2023-11-16 18:17:03.9799600"
    relative: ClassVar[bool] = True
    per_second: ClassVar[float] = 1e6                  # stamps are whole microseconds

    def __init__(self) -> None:
        self._aware: bool | None = None

    def stamp(self, text: str) -> float:
        when = datetime.fromisoformat(text)
        aware = when.tzinfo is not None
        if self._aware is None:
            self._aware = aware
        elif aware != self._aware:
            raise Unusable("the file mixes times with and without a time zone")
        if aware:
            when = when.astimezone(UTC).replace(tzinfo=None)
        # whole microseconds since 1970 (exact in float64), not a POSIX stamp that reads the local zone
        return float((when - _EPOCH) // timedelta(microseconds=1))


class Plain:
    """``time,input_tokens,output_tokens``; times are seconds, taken as written."""

    name: ClassVar[str] = "plain"
    columns: ClassVar[tuple[str, str, str]] = ("time", "input_tokens", "output_tokens")
    expects: ClassVar[str] = "a number of seconds >= 0"
    relative: ClassVar[bool] = False
    per_second: ClassVar[float] = 1.0

    def stamp(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError("not a finite number >= 0")
        return value


TRACE_FORMATS: dict[str, type[TraceFormat]] = {Azure.name: Azure, Plain.name: Plain}


# --------------------------------------------------------------------------- reading


def read_trace(path: str | Path, format: str = "auto", tenant_column: str | None = None, *,
               window: ReplayWindow | None = None, max_rows: float | None = None) -> Trace:
    """Read a trace file (see the module docstring); raise `TraceError` naming the file and line.

    With ``window``, only the rows a replay of that window uses are kept (every row is still checked);
    ``max_rows`` bounds the rows kept (`RowLimitError`). The file must be a regular file (a FIFO or a
    device is refused before it is read).
    """
    file = str(path)
    return _read(lambda: _file_lines(path, file), file, format, tenant_column, window, max_rows)


def parse_trace(lines: Iterable[str], source: str = "<trace>", format: str = "auto",
                tenant_column: str | None = None) -> Trace:
    """Parse the lines of a trace CSV (header first, each at most `MAX_LINE_LENGTH` characters);
    ``source`` names it in errors. Every row is kept."""

    @contextmanager
    def given() -> Iterator[Iterator[str]]:
        yield _bounded(lines, source)

    return _read(given, source, format, tenant_column, None, None)


@contextmanager
def _file_lines(path: str | Path, file: str) -> Iterator[Iterator[str]]:
    """Open a trace file (gzip when its name ends in ``.gz``) and yield its lines, streaming; turn every
    failure to open or read it into a `TraceError` that names the file and the reason, nothing it holds."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # a FIFO must not block the open
    except FileNotFoundError:
        raise TraceError("no such file", file=file) from None
    except OSError as exc:
        raise TraceError(f"cannot open: {exc.strerror or type(exc).__name__}", file=file) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise TraceError("is a directory, not a trace file" if stat.S_ISDIR(mode) else
                         "is not a regular file (a FIFO, socket or device cannot be a trace)", file=file)
    with os.fdopen(fd, "rb") as raw:
        binary: _LineSource = gzip.GzipFile(fileobj=raw, mode="rb") if file.endswith(".gz") else raw
        try:
            yield _decoded(binary, file)
        except gzip.BadGzipFile:
            raise TraceError("not a gzip file (its name ends in .gz)", file=file) from None
        except zlib.error:
            raise TraceError("not a valid gzip stream", file=file) from None
        except EOFError:
            raise TraceError("the gzip stream is cut short", file=file) from None
        except OSError as exc:
            raise TraceError(f"cannot read: {exc.strerror or type(exc).__name__}", file=file) from None


_BOM = b"\xef\xbb\xbf"


class _LineSource(Protocol):
    """A binary file read a line at a time (a plain file, or a `gzip.GzipFile`)."""

    def readline(self, size: int = -1, /) -> bytes: ...


def _decoded(binary: _LineSource, source: str) -> Iterator[str]:
    """The lines of a binary file as text (UTF-8, a byte-order mark at the start skipped), one at a time,
    each read with a bound of `MAX_LINE_LENGTH` bytes: a longer line fails at once, before more is read."""
    number = 0
    while True:
        raw = binary.readline(MAX_LINE_LENGTH + 2)
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        _check_length(len(raw.rstrip(b"\r\n")), number, source)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceError(f"not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line)",
                             file=source, line=number) from None


def _bounded(lines: Iterable[str], source: str) -> Iterator[str]:
    """Text lines, each checked against `MAX_LINE_LENGTH` (in characters)."""
    for number, line in enumerate(lines, start=1):
        _check_length(len(line.rstrip("\r\n")), number, source)
        yield line


def _check_length(length: int, line: int, source: str) -> None:
    if length > MAX_LINE_LENGTH:
        raise TraceError(f"the line is longer than {MAX_LINE_LENGTH} bytes, the most a trace line may "
                         "have (capacity.sim.traces.MAX_LINE_LENGTH): is this a trace file?", file=source,
                         line=line)


Row = tuple[float, int, int, str | None]
"""One checked row: its stamp (`TraceFormat`), input and output tokens, and tenant label (or None)."""


class _Rows:
    """The header and the checked rows of a trace's lines (`csv` parses them; line numbers are the file's).

    Iterating yields a `Row` per data row, blank lines skipped; every problem is a `TraceError` at its line.
    """

    def __init__(self, lines: Iterable[str], source: str, format: str, tenant_column: str | None) -> None:
        self.source = source
        self.reader = csv.reader(lines)
        self.tenant_column = tenant_column
        with self._csv_errors():
            header = next(self.reader, None)
        if header is None:
            raise self.error("empty file: expected a header row (time,input_tokens,output_tokens or "
                             "TIMESTAMP,ContextTokens,GeneratedTokens)", 1)
        self.header = [h.strip() for h in header]
        self.format = _format_of(self.header, format, self.error)
        self._check_header()
        self.at = [self.header.index(c) for c in self.format.columns]
        self.at_tenant = self.header.index(tenant_column) if tenant_column is not None else None

    def error(self, message: str, line: int | None = None) -> TraceError:
        return TraceError(message, file=self.source, line=line)

    @contextmanager
    def _csv_errors(self) -> Iterator[None]:
        try:
            yield
        except csv.Error as exc:        # its messages name the limit or the dialect's characters only
            raise self.error(f"not valid CSV: {exc}", self.reader.line_num) from None

    def _check_header(self) -> None:
        """Columns named twice (named when the format or the scenario uses the name; never other cells),
        and the tenant column."""
        known = {c for f in TRACE_FORMATS.values() for c in f.columns} | {self.tenant_column}
        seen: dict[str, int] = {}
        for k, name in enumerate(self.header):
            if name in seen:
                what = f"column {name!r}" if name in known else "a column name"
                raise self.error(f"the header repeats {what} (fields {seen[name] + 1} and {k + 1})", 1)
            seen[name] = k
        if self.tenant_column is not None and self.tenant_column not in seen:
            raise self.error(f"no tenant column {self.tenant_column!r} in the header", 1)

    def __iter__(self) -> Iterator[Row]:
        width, at, at_tenant = len(self.header), self.at, self.at_tenant
        with self._csv_errors():
            for row in self.reader:
                if not any(cell.strip() for cell in row):
                    continue                                   # a blank line
                line = self.reader.line_num
                if len(row) != width:
                    raise self.error(f"expected {width} fields (as many as the header), got {len(row)}", line)
                yield (self._stamp(row[at[0]].strip(), line), self._tokens(row[at[1]], 1, line),
                       self._tokens(row[at[2]], 2, line),
                       self._tenant(row[at_tenant], line) if at_tenant is not None else None)

    def _stamp(self, text: str, line: int) -> float:
        column = self.format.columns[0]
        try:
            return self.format.stamp(text)
        except Unusable as exc:
            raise self.error(f"{column}: {exc}", line) from None
        except (ValueError, OverflowError):
            raise self.error(f"{column}: expected {self.format.expects}", line) from None

    def _tokens(self, cell: str, k: int, line: int) -> int:
        column = self.format.columns[k]
        text = cell.strip()
        if not (text.isascii() and text.isdigit()):
            raise self.error(f"{column}: expected a whole number of tokens >= 0", line)
        digits = text.lstrip("0")                    # int() of thousands of digits is refused: count first
        if len(digits) > len(str(MAX_TOKENS)) or int(digits or "0") > MAX_TOKENS:
            raise self.error(f"{column}: more tokens than a request may have ({MAX_TOKENS:.0e})", line)
        return int(text)

    def _tenant(self, cell: str, line: int) -> str:
        label = cell.strip()
        if not TENANT_NAME.match(label):
            raise self.error(f"{self.tenant_column}: expected a tenant name (1 to 63 letters, digits, '.', "
                             "'_' or '-', starting with a letter or digit)", line)
        return label


@dataclass
class _Kept:
    """What one pass over a trace's rows keeps: the rows inside the window (compact arrays) and, over all
    rows, their count, the lowest and highest stamp and the tenants (in order of first appearance)."""

    origin: float | None                   # the stamp at 0 s used for the window (None: the first row's)
    overflow: RowLimitError | None = None  # more rows than max_rows, under a provisional origin
    stamps: array = field(default_factory=lambda: array("d"))
    inputs: array = field(default_factory=lambda: array("q"))
    outputs: array = field(default_factory=lambda: array("q"))
    tenant: array = field(default_factory=lambda: array("i"))
    tenants: dict[str, int] = field(default_factory=dict)
    count: int = 0
    low: float = math.inf
    high: float = -math.inf


def _keep(rows: _Rows, origin: float | None, window: ReplayWindow | None, max_rows: float | None) -> _Kept:
    """One pass: check every row, keep those of ``window`` (all without one), at most ``max_rows``.

    Past ``max_rows`` it raises `RowLimitError` at once when the origin is known (given, or absolute
    times); under a provisional origin (the first row's) it stops keeping, notes the error in
    ``overflow`` and goes on to find the earliest row: the caller decides."""
    fmt = rows.format
    kept = _Kept(origin=origin if fmt.relative else 0.0)
    exact = kept.origin is not None or window is None
    for stamp, n_in, n_out, label in rows:
        kept.count += 1
        kept.low, kept.high = min(kept.low, stamp), max(kept.high, stamp)
        if kept.origin is None:
            kept.origin = stamp
        if label is not None:
            index = kept.tenants.setdefault(label, len(kept.tenants))
            if len(kept.tenants) > MAX_TENANTS:
                raise rows.error(f"{rows.tenant_column}: more than {MAX_TENANTS} distinct tenants "
                                 "(capacity.sim.traces.MAX_TENANTS)", rows.reader.line_num)
        if kept.overflow is not None or (window is not None and
                                         not window.holds((stamp - kept.origin) / fmt.per_second)):
            continue
        if max_rows is not None and len(kept.stamps) >= max_rows:
            kept.overflow = RowLimitError(f"more than {max_rows:.3g} rows inside the replayed window",
                                          file=rows.source, line=rows.reader.line_num)
            if exact:
                raise kept.overflow
            continue
        kept.stamps.append(stamp)
        kept.inputs.append(n_in)
        kept.outputs.append(n_out)
        if label is not None:
            kept.tenant.append(index)
    return kept


def _read(open_lines: Callable[[], AbstractContextManager[Iterable[str]]], source: str, format: str,
          tenant_column: str | None, window: ReplayWindow | None, max_rows: float | None) -> Trace:
    """Read the rows (one pass, or two for an unsorted relative-time file read for a window) into a
    `Trace` (see the module docstring)."""
    with open_lines() as lines:
        rows = _Rows(lines, source, format, tenant_column)
        kept = _keep(rows, None, window, max_rows)
    fmt = rows.format
    if kept.count == 0:
        raise TraceError("no requests: the file has a header but no data rows", file=source)
    origin = kept.low if fmt.relative else 0.0
    if window is not None and kept.origin != origin:         # an earlier row came later: read it again
        with open_lines() as lines:
            again = _keep(_Rows(lines, source, format, tenant_column), origin, window, max_rows)
        if (again.count, again.low, again.high) != (kept.count, kept.low, kept.high):
            raise TraceError("the file changed while it was read", file=source)
        kept = again
    if kept.overflow is not None:                            # the first row was the earliest: it holds
        raise kept.overflow
    return _trace_of(kept, fmt, origin, source, tenant_column is not None, window is not None)


def _trace_of(kept: _Kept, fmt: TraceFormat, origin: float, source: str, tenants: bool,
              windowed: bool) -> Trace:
    """The `Trace` of the rows kept: seconds from ``origin``, sorted by time (stably), tenants indexed in
    sorted order, and (``windowed``) the whole trace's end."""
    seconds = (np.frombuffer(kept.stamps, dtype=np.float64) - origin) / fmt.per_second
    order = np.argsort(seconds, kind="stable")
    tenant: np.ndarray | None = None
    names: tuple[str, ...] = ()
    if tenants:
        names = tuple(sorted(kept.tenants))
        position = {name: k for k, name in enumerate(names)}
        rank = np.array([position[name] for name in kept.tenants], dtype=np.int32)  # first seen -> sorted
        tenant = rank[np.frombuffer(kept.tenant, dtype=np.int32)][order]
    trace = Trace(seconds[order], np.frombuffer(kept.inputs, dtype=np.int64)[order],
                  np.frombuffer(kept.outputs, dtype=np.int64)[order], source, tenant, names,
                  last_s=float((kept.high - origin) / fmt.per_second) if windowed else None)
    trace.check()
    return trace


def _format_of(header: list[str], format: str, error: Callable[..., TraceError]) -> TraceFormat:
    """The format named, or (``auto``) the one whose columns the header has. Errors name the columns a
    format needs, never the header's cells."""
    if format == "auto":
        found = [f for f in TRACE_FORMATS.values() if set(f.columns) <= set(header)]
        if not found:
            layouts = " or ".join(",".join(f.columns) for f in TRACE_FORMATS.values())
            raise error(f"unknown trace format: the header (line 1) has the columns of neither {layouts}", 1)
        return found[0]()
    if format not in TRACE_FORMATS:
        raise error(f"unknown trace format {format!r} (formats: auto, {', '.join(TRACE_FORMATS)})")
    fmt = TRACE_FORMATS[format]()
    missing = [c for c in fmt.columns if c not in header]
    if missing:
        raise error(f"the {format} format needs columns {','.join(fmt.columns)}; the header lacks "
                    f"{', '.join(missing)}", 1)
    return fmt


# --------------------------------------------------------------------------- replay


def replay_window(trace: Trace, duration_s: float, time_scale: float = 1.0,
                  start_s: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """The run times and row indices of the trace's requests in ``[0, duration_s)`` (one copy), and the
    span ``W`` that shifted copies wrap around (see the module docstring)."""
    t = (trace.time_s - start_s) * time_scale
    first = int(np.searchsorted(t, 0.0, side="left"))
    last = int(np.searchsorted(t, duration_s, side="left"))
    rows = np.arange(first, last, dtype=np.int64)
    horizon = (trace.end_s - start_s) * time_scale       # the whole trace's last row, kept or not
    # the span holds the last row strictly inside it when the trace ends before the run does
    span = duration_s if horizon >= duration_s else float(np.nextafter(max(horizon, 0.0), np.inf))
    return t[rows], rows, span


def replay(trace: Trace, rng: np.random.Generator, duration_s: float, *, time_scale: float = 1.0,
           rate_scale: float = 1.0, start_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted run times in ``[0, duration_s)`` and the trace row of each replayed request.

    ``rate_scale = k + f``: ``k`` full copies (copy 0 in place, the others circularly shifted) and one copy
    thinned to ``f`` (shifted unless it is copy 0). Draws, in copy order: each shifted copy's offset, then
    the thinned copy's keep/drop uniforms.
    """
    base, rows, span = replay_window(trace, duration_s, time_scale, start_s)
    whole = math.floor(rate_scale)
    fraction = rate_scale - whole
    times, sources = [], []
    for copy in range(whole + (1 if fraction > 0 else 0)):
        t, r = base, rows
        if copy > 0:
            t = np.mod(base + rng.uniform(0.0, span), span)
        if copy == whole:                                  # the thinned copy
            keep = rng.random(len(base)) < fraction
            t, r = t[keep], rows[keep]
        times.append(t)
        sources.append(r)
    if not times:
        return np.empty(0), np.empty(0, dtype=np.int64)
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return t[order], np.concatenate(sources)[order]
