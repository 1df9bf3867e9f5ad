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
through gzip. Every problem is reported as a `TraceError` naming the file and the line.

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
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
"""What a tenant name in a trace must look like (the scenario's rule for names)."""

MAX_TOKENS = 10**9
"""The most tokens one request of a trace may have (a larger count is a broken row, not a request)."""


class TraceError(ValueError):
    """A trace that cannot be read: ``FILE:LINE: what is wrong`` (the line when one is to blame)."""

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        super().__init__(f"{file}{f':{line}' if line is not None else ''}: {message}")


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

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def end_s(self) -> float:
        """Trace time of the last request (s)."""
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


# --------------------------------------------------------------------------- formats


class TraceFormat(Protocol):
    """A CSV layout: the names of its time and token columns, and how to read a time."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, str, str]]            # time, input tokens, output tokens
    expects: ClassVar[str]                             # what a time looks like (for error messages)

    def stamp(self, text: str) -> float:
        """The time of one row on the format's own scale (raise `ValueError` if it is not a time;
        `Unusable` with a reason to show)."""
        ...

    def finish(self, stamps: np.ndarray) -> np.ndarray:
        """Seconds on the trace's clock from the stamps of all rows (e.g. relative to the earliest)."""
        ...


class Unusable(ValueError):
    """A time that parses but cannot be used; its message says why."""


_EPOCH = datetime(1970, 1, 1)


class Azure:
    """``TIMESTAMP,ContextTokens,GeneratedTokens``; times are date-times, relative to the earliest row."""

    name: ClassVar[str] = "azure"
    columns: ClassVar[tuple[str, str, str]] = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
    expects: ClassVar[str] = "a date and time such as 2023-11-16 18:17:03.9799600"

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

    def finish(self, stamps: np.ndarray) -> np.ndarray:
        return (stamps - stamps.min()) / 1e6


class Plain:
    """``time,input_tokens,output_tokens``; times are seconds, taken as written."""

    name: ClassVar[str] = "plain"
    columns: ClassVar[tuple[str, str, str]] = ("time", "input_tokens", "output_tokens")
    expects: ClassVar[str] = "a number of seconds >= 0"

    def stamp(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError("not a finite number >= 0")
        return value

    def finish(self, stamps: np.ndarray) -> np.ndarray:
        return stamps


TRACE_FORMATS: dict[str, type[TraceFormat]] = {Azure.name: Azure, Plain.name: Plain}


# --------------------------------------------------------------------------- reading


def read_trace(path: str | Path, format: str = "auto", tenant_column: str | None = None) -> Trace:
    """Read a trace file (see the module docstring); raise `TraceError` naming the file and line."""
    file = str(path)
    opener = gzip.open if file.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            return parse_trace(f, file, format, tenant_column)
    except FileNotFoundError:
        raise TraceError("no such file", file=file) from None
    except IsADirectoryError:
        raise TraceError("is a directory, not a trace file", file=file) from None
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file) from None
    except (OSError, EOFError) as exc:
        raise TraceError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", file=file) from None


def parse_trace(lines: Iterable[str], source: str = "<trace>", format: str = "auto",
                tenant_column: str | None = None) -> Trace:
    """Parse the lines of a trace CSV (header first); ``source`` names it in errors."""
    reader = csv.reader(lines)

    def error(message: str, line: int | None = None) -> TraceError:
        return TraceError(message, file=source, line=line)

    try:
        header = next(reader, None)
        if header is None:
            raise error("empty file: expected a header row (time,input_tokens,output_tokens or "
                        "TIMESTAMP,ContextTokens,GeneratedTokens)", 1)
        header = [h.strip() for h in header]
        fmt = _format_of(header, format, error)
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise error(f"header repeats column {duplicates[0]!r}", 1)
        if tenant_column is not None and tenant_column not in header:
            raise error(f"no tenant column {tenant_column!r} (columns: {', '.join(header)})", 1)
        at = [header.index(c) for c in fmt.columns]
        at_tenant = header.index(tenant_column) if tenant_column is not None else None
        times: list[float] = []
        tokens: list[tuple[int, int]] = []
        labels: list[str] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue                                   # a blank line
            line = reader.line_num
            if len(row) != len(header):
                raise error(f"expected {len(header)} fields ({','.join(header)}), got {len(row)}", line)
            text = row[at[0]].strip()
            try:
                times.append(fmt.stamp(text))
            except Unusable as exc:
                raise error(f"{fmt.columns[0]}: {exc} ({text!r})", line) from None
            except ValueError:
                raise error(f"{fmt.columns[0]}: expected {fmt.expects}, got {text!r}", line) from None
            counts = []
            for column, k in zip(fmt.columns[1:], at[1:], strict=True):
                text = row[k].strip()
                if not (text.isascii() and text.isdigit()):
                    raise error(f"{column}: expected a whole number of tokens >= 0, got {text!r}", line)
                if int(text) > MAX_TOKENS:
                    raise error(f"{column}: {text} tokens is more than the most a request may have "
                                f"({MAX_TOKENS:.0e})", line)
                counts.append(int(text))
            tokens.append((counts[0], counts[1]))
            if at_tenant is not None:
                label = row[at_tenant].strip()
                if not TENANT_NAME.match(label):
                    raise error(f"{tenant_column}: tenant {label!r} is not a valid name (1 to 63 letters, "
                                "digits, '.', '_' or '-', starting with a letter or digit)", line)
                labels.append(label)
    except csv.Error as exc:
        raise error(f"not valid CSV: {exc}", reader.line_num) from None
    if not times:
        raise error("no requests: the file has a header but no data rows")
    seconds = fmt.finish(np.array(times, dtype=np.float64))
    pairs = np.array(tokens, dtype=np.int64).reshape(-1, 2)
    return Trace.from_arrays(seconds, pairs[:, 0], pairs[:, 1],
                             labels if at_tenant is not None else None, source)


def _format_of(header: list[str], format: str, error: Callable[..., TraceError]) -> TraceFormat:
    """The format named, or (``auto``) the one whose columns the header has."""
    if format == "auto":
        found = [f for f in TRACE_FORMATS.values() if set(f.columns) <= set(header)]
        if not found:
            layouts = " or ".join(",".join(f.columns) for f in TRACE_FORMATS.values())
            raise error(f"unknown trace format: header {','.join(header)!r}, expected {layouts}", 1)
        return found[0]()
    if format not in TRACE_FORMATS:
        raise error(f"unknown trace format {format!r} (formats: auto, {', '.join(TRACE_FORMATS)})")
    fmt = TRACE_FORMATS[format]()
    missing = [c for c in fmt.columns if c not in header]
    if missing:
        raise error(f"the {format} format needs columns {','.join(fmt.columns)}; the header "
                    f"{','.join(header)!r} lacks {', '.join(missing)}", 1)
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
    horizon = float(t[-1]) if len(t) else 0.0
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
