"""Arrival processes: when the requests of one class arrive, in seconds since the start of the run.

An arrival process turns a rate (requests per second) and a horizon ``duration_s`` into the sorted arrival
times of one class in ``[0, duration_s)``, drawn all at once with numpy (no per-request Python work):

* ``poisson`` — a Poisson process: independent exponential gaps of mean ``1/rate``. Drawn as the count
  ``N ~ Poisson(rate · duration_s)`` and then ``N`` independent uniform times on ``[0, duration_s)``, sorted
  (given their number, the points of a Poisson process are independent and uniform on the interval).
* ``deterministic`` — evenly spaced at ``1/rate`` starting at **0**: ``0, 1/rate, 2/rate, …`` (the ``k``-th
  time is computed as ``k / rate``, so rounding does not accumulate). No random draw and no phase: two
  deterministic classes with the same rate arrive at the same instants, which keeps hand-computed cases
  exact. Ties between classes are broken by class order (see `capacity.sim.engine`).
* ``gamma`` — a renewal process whose gaps are gamma distributed with mean ``1/rate`` and coefficient of
  variation ``cv`` (shape ``1/cv²``): ``cv = 1`` is Poisson, ``cv > 1`` bursty, ``cv < 1`` smoother.
* ``onoff`` — bursts: the source alternates ON and OFF periods, exponentially distributed with means
  ``on_s`` and ``off_s`` seconds, and sends a Poisson stream only while ON. ``rate`` is the **long-run mean**
  rate, so the ON rate is ``rate · (on_s + off_s) / on_s``.
* ``diurnal`` — a non-homogeneous Poisson process whose rate follows a daily curve,
  ``rate(t) = rate · (1 + amplitude · cos(2π (start_s + t − peak_at_s) / period_s))`` per second, where
  ``start_s`` is the time of day at ``t = 0`` (0: midnight) and ``peak_at_s`` the time of day of the peak
  (``rate · (1 + amplitude)``; the trough is ``rate · (1 − amplitude)``, half a period later). ``rate`` is
  the mean over a whole period.
* ``steps`` — a piecewise-constant rate for load tests: ``steps`` is a list of ``(at_s, rate)``, the
  first at 0, each rate holding from its ``at_s`` until the next one's (the last until the end of the run);
  within each step a Poisson process of that rate (drawn as ``poisson``, one step after the other). ``rate``
  is not used (the pipeline sets it to the mean over the run, for information: `Steps.mean_rate_per_s`).
* ``trace`` — replay of recorded requests (`capacity.sim.traces`: formats, ``time_scale``, ``rate_scale``,
  ``start_s``): the times are the trace's, not drawn, and each request brings its input and output tokens.
  ``rate`` is not used (the pipeline sets it to the replay's expected mean rate, for information). A trace
  class may be split among tenants: each request's tenant is the trace's tenant column or a seeded draw
  with odds ``tenant_weights``; the class then replays only the requests of tenant ``tenant_index``. The
  classes of one split draw from one stream (`capacity.sim.model.Arrivals.stream`), so they replay the same
  requests and partition them. Draws, in order: the replay's (shifts and thinning), then the tenants'.

The renewal and on/off processes start **stationary** (as if they had been running forever), so the mean
rate holds from time 0 and a warm-up is not needed for the arrivals themselves: ``gamma`` draws its first
gap from the equilibrium (residual-life) distribution, ``onoff`` starts ON with probability
``on_s / (on_s + off_s)`` (by memorylessness the period in progress has the full exponential length).

Each process is a small frozen dataclass registered in `ARRIVAL_PROCESSES` under its scenario name; its
fields are its parameters, named as the fields of `capacity.sim.model.Arrivals` they come from, so
`arrival_process` builds one from an ``Arrivals`` without a per-process table. Adding a process is one class
and one dict entry.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from capacity.sim.model import Arrivals
from capacity.sim.traces import Trace, replay, replay_window


class ArrivalProcess(Protocol):
    """Draws the arrival times (s, sorted, in ``[0, duration_s)``) of one class. ``parameters``: the keys of
    a scenario's ``arrivals`` section the process takes (any other is refused at load), ``required``: those
    it cannot do without."""

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        """Sorted float64 arrival times in ``[0, duration_s)``."""
        ...

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        """The arrivals of each time slice ``[edges[k], edges[k + 1])`` in turn (`Slice`), drawn one
        slice at a time (streaming runs; see the module docstring)."""
        ...


Slice = tuple[np.ndarray, np.ndarray | None]
"""One time slice's sorted arrival times (s) and, for a trace replay, the trace row of each (else None)."""


def _homogeneous_slices(rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
    """A homogeneous Poisson process slice by slice: a Poisson count per slice, uniform times in it."""
    for a, b in itertools.pairwise(edges.tolist()):
        t = _poisson_times(rng, rate_per_s, b - a)
        t += a
        yield t[t < b], None


def _poisson_times(rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
    """Sorted times of a homogeneous Poisson process of ``rate_per_s`` on ``[0, duration_s)``."""
    n = int(rng.poisson(rate_per_s * duration_s)) if rate_per_s > 0 else 0
    t = rng.uniform(0.0, duration_s, n)
    t.sort()
    return t


@dataclass(frozen=True)
class Poisson:
    """Poisson arrivals: exponential gaps of mean ``1/rate_per_s`` seconds."""

    name: ClassVar[str] = "poisson"
    parameters: ClassVar[tuple[str, ...]] = ("rate",)
    required: ClassVar[tuple[str, ...]] = ("rate",)

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        return _poisson_times(rng, rate_per_s, duration_s)

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        return _homogeneous_slices(rng, rate_per_s, edges)


@dataclass(frozen=True)
class Deterministic:
    """One arrival every ``1/rate_per_s`` seconds, the first at time 0."""

    name: ClassVar[str] = "deterministic"
    parameters: ClassVar[tuple[str, ...]] = ("rate",)
    required: ClassVar[tuple[str, ...]] = ("rate",)

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        if rate_per_s <= 0:
            return np.empty(0)
        t = np.arange(math.ceil(duration_s * rate_per_s) + 1, dtype=np.float64) / rate_per_s
        return t[t < duration_s]

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        for a, b in itertools.pairwise(edges.tolist()):
            if rate_per_s <= 0:
                yield np.empty(0), None
                continue
            k = np.arange(max(math.floor(a * rate_per_s) - 1, 0), math.ceil(b * rate_per_s) + 1,
                          dtype=np.float64)
            t = k / rate_per_s                     # the k-th time as k / rate, as `times` computes it
            yield t[(t >= a) & (t < b)], None


@dataclass(frozen=True)
class Gamma:
    """Renewal arrivals with gamma gaps: mean ``1/rate_per_s`` seconds, coefficient of variation ``cv``.

    Gaps are drawn in chunks (about ``rate · duration`` plus a margin, then more if the horizon is not
    reached) and cumulated. The first arrival comes after ``U · L``, with ``U`` uniform and ``L`` a
    length-biased gap (gamma with shape ``k + 1``): that is the residual life of a stationary renewal
    process, so arrivals are stationary from time 0.
    """

    name: ClassVar[str] = "gamma"
    parameters: ClassVar[tuple[str, ...]] = ("rate", "cv")
    required: ClassVar[tuple[str, ...]] = ("rate", "cv")
    cv: float = 1.0                        # of the gaps (dimensionless, > 0)

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        if rate_per_s <= 0:
            return np.empty(0)
        shape = 1.0 / self.cv**2
        scale = 1.0 / (rate_per_s * shape)    # s: mean gap shape·scale = 1/rate
        first = rng.uniform() * rng.gamma(shape + 1.0, scale)
        if first >= duration_s:
            return np.empty(0)
        expected = rate_per_s * (duration_s - first)
        chunks = [np.array([first])]
        end = first
        while end < duration_s:
            n = int(expected + 5.0 * math.sqrt(expected) * self.cv + 16)
            t = end + np.cumsum(rng.gamma(shape, scale, n))
            chunks.append(t)
            end = float(t[-1])
            expected = rate_per_s * max(duration_s - end, 0.0)
        t = np.concatenate(chunks)
        return t[t < duration_s]

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        """Gaps drawn ahead in blocks of about a slice's arrivals; the ones past a slice wait for the
        next (the renewal process is one sequence of gaps, cut at the edges)."""
        bounds = edges.tolist()
        if rate_per_s <= 0:
            for _ in bounds[1:]:
                yield np.empty(0), None
            return
        shape = 1.0 / self.cv**2
        scale = 1.0 / (rate_per_s * shape)
        ahead = np.array([bounds[0] + rng.uniform() * rng.gamma(shape + 1.0, scale)])
        for b in bounds[1:]:
            parts = []
            while ahead[-1] < b:
                parts.append(ahead)
                expected = rate_per_s * (b - float(ahead[-1]))
                n = int(expected + 5.0 * math.sqrt(expected) * self.cv + 16)
                ahead = float(ahead[-1]) + np.cumsum(rng.gamma(shape, scale, n))
            cut = int(np.searchsorted(ahead, b, side="left"))
            parts.append(ahead[:cut])
            ahead = ahead[cut:]
            yield np.concatenate(parts), None


@dataclass(frozen=True)
class OnOff:
    """Bursts: exponential ON and OFF periods of means ``on_s`` and ``off_s`` seconds; Poisson while ON.

    ``rate_per_s`` is the long-run mean rate; while ON requests arrive at ``rate · (on_s + off_s) / on_s``
    per second and while OFF none do. Periods are drawn in chunks of at most `CHUNK_PERIODS` until they
    cover the horizon; each ON period of a chunk gets a Poisson count of arrivals placed uniformly in it
    before the next chunk is drawn. So memory is bounded by the chunk and the arrivals, however many
    periods there are (short periods over a long run: billions of them; their number is capped at load,
    ``limits.max_onoff_periods``). Draws, per chunk: its period lengths, then the ON periods' counts,
    then the arrivals' positions.
    """

    name: ClassVar[str] = "onoff"
    parameters: ClassVar[tuple[str, ...]] = ("rate", "on", "off")
    required: ClassVar[tuple[str, ...]] = ("rate", "on", "off")
    CHUNK_PERIODS: ClassVar[int] = 2**16   # ON and OFF periods drawn at a time (even: ON/OFF alternate)
    on_s: float | None = None              # mean ON period (s, > 0)
    off_s: float | None = None             # mean OFF period (s, > 0)

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        if self.on_s is None or self.off_s is None:
            raise ValueError("onoff arrivals need on_s and off_s")
        if rate_per_s <= 0:
            return np.empty(0)
        cycle = self.on_s + self.off_s
        peak = rate_per_s * cycle / self.on_s
        start_on = bool(rng.uniform() < self.on_s / cycle)
        # Periods alternate ON, OFF, ON, ... starting with ON or OFF: even positions have the first state.
        means = (self.on_s, self.off_s) if start_on else (self.off_s, self.on_s)
        on = slice(0 if start_on else 1, None, 2)
        parts: list[np.ndarray] = []
        covered = 0.0
        while covered < duration_s:
            # enough periods to cover the rest with a margin, at most a chunk; even: ON/OFF alternate on
            n = 2 * int(min((duration_s - covered) / cycle + 8.0, self.CHUNK_PERIODS // 2))
            length = rng.exponential(1.0, n) * np.tile(means, n // 2)
            end = covered + np.cumsum(length)
            a = np.concatenate(([covered], end[:-1]))[on]
            b = np.minimum(a + length[on], duration_s)
            covered = float(end[-1])
            keep = a < duration_s
            a, b = a[keep], b[keep]
            counts = rng.poisson(peak * (b - a))
            if counts.any():
                parts.append(np.repeat(a, counts)
                             + rng.uniform(0.0, 1.0, int(counts.sum())) * np.repeat(b - a, counts))
        t = np.concatenate(parts) if parts else np.empty(0)
        t.sort()
        return t[t < duration_s]

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        """Periods drawn a chunk at a time as in `times`; each slice gets the ON time inside it (an ON
        period cut by an edge gives each side its own Poisson count: counts over disjoint intervals are
        independent)."""
        bounds = edges.tolist()
        if self.on_s is None or self.off_s is None:
            raise ValueError("onoff arrivals need on_s and off_s")
        if rate_per_s <= 0:
            for _ in bounds[1:]:
                yield np.empty(0), None
            return
        cycle = self.on_s + self.off_s
        peak = rate_per_s * cycle / self.on_s
        start_on = bool(rng.uniform() < self.on_s / cycle)
        means = (self.on_s, self.off_s) if start_on else (self.off_s, self.on_s)
        on = slice(0 if start_on else 1, None, 2)
        covered = bounds[0]
        pending_a, pending_b = np.empty(0), np.empty(0)   # ON intervals drawn, not yet placed
        for a, b in itertools.pairwise(bounds):
            while covered < b:
                n = 2 * int(min((b - covered) / cycle + 8.0, self.CHUNK_PERIODS // 2))
                length = rng.exponential(1.0, n) * np.tile(means, n // 2)
                end = covered + np.cumsum(length)
                starts = np.concatenate(([covered], end[:-1]))[on]
                pending_a = np.concatenate((pending_a, starts))
                pending_b = np.concatenate((pending_b, starts + length[on]))
                covered = float(end[-1])
            lo, hi = np.maximum(pending_a, a), np.minimum(pending_b, b)
            keep = hi > lo
            lo, hi = lo[keep], hi[keep]
            counts = rng.poisson(peak * (hi - lo))
            t = np.repeat(lo, counts) + rng.uniform(0.0, 1.0, int(counts.sum())) * np.repeat(hi - lo, counts)
            t.sort()
            later = pending_b > b
            pending_a, pending_b = pending_a[later], pending_b[later]
            yield t[(t >= a) & (t < b)], None


@dataclass(frozen=True)
class Diurnal:
    """Poisson arrivals whose rate follows a daily cosine (see the module docstring for the curve).

    Drawn by thinning (Lewis–Shedler), vectorised: a homogeneous Poisson stream at the peak rate
    ``rate · (1 + amplitude)`` of which each time ``t`` is kept with probability ``rate(t) / peak``.
    Times of day are seconds since midnight; ``period_s`` defaults to 24 h and ``peak_at_s`` to 14:00.
    """

    name: ClassVar[str] = "diurnal"
    parameters: ClassVar[tuple[str, ...]] = ("rate", "amplitude", "period", "peak_at", "start")
    required: ClassVar[tuple[str, ...]] = ("rate", "amplitude")
    amplitude: float = 0.0                 # relative swing around the mean rate, in [0, 1)
    period_s: float = 86_400.0             # s: length of one cycle (a day)
    peak_at_s: float = 14 * 3600.0         # s: time of day of the peak
    start_s: float = 0.0                   # s: time of day at t = 0

    def rate_at(self, rate_per_s: float, t: np.ndarray) -> np.ndarray:
        """The instantaneous rate (per second) at run times ``t`` (s)."""
        phase = 2.0 * np.pi * (self.start_s + t - self.peak_at_s) / self.period_s
        return rate_per_s * (1.0 + self.amplitude * np.cos(phase))

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        peak = rate_per_s * (1.0 + self.amplitude)
        t = _poisson_times(rng, peak, duration_s)
        if len(t) == 0:
            return t
        return t[rng.uniform(0.0, peak, len(t)) < self.rate_at(rate_per_s, t)]

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        peak = rate_per_s * (1.0 + self.amplitude)
        for t, _ in _homogeneous_slices(rng, peak, edges):
            yield t[rng.uniform(0.0, peak, len(t)) < self.rate_at(rate_per_s, t)], None


@dataclass(frozen=True)
class Steps:
    """Poisson arrivals at a piecewise-constant rate: ``steps`` = ((at_s, rate per s), ...), the first at 0.

    Each step ``[at_k, at_{k+1})`` (the last to ``duration_s``) is drawn as `Poisson` at its rate, in order,
    from the one generator: the count, then the positions. A step that starts at or after ``duration_s``
    is not drawn.
    """

    name: ClassVar[str] = "steps"
    parameters: ClassVar[tuple[str, ...]] = ("steps",)
    required: ClassVar[tuple[str, ...]] = ("steps",)
    steps: tuple[tuple[float, float], ...] = ()

    def intervals(self, duration_s: float) -> list[tuple[float, float, float]]:
        """``(start_s, end_s, rate)`` of each step inside ``[0, duration_s)``."""
        out = []
        for k, (at, rate) in enumerate(self.steps):
            end = self.steps[k + 1][0] if k + 1 < len(self.steps) else duration_s
            end = min(end, duration_s)
            if at < end:
                out.append((at, end, rate))
        return out

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        """The rate (per second) at run times ``t`` (s)."""
        at = np.array([a for a, _ in self.steps])
        rates = np.array([r for _, r in self.steps])
        return rates[np.maximum(np.searchsorted(at, t, side="right") - 1, 0)]

    def mean_rate_per_s(self, duration_s: float) -> float:
        """The mean rate over ``[0, duration_s)``."""
        return sum((b - a) * r for a, b, r in self.intervals(duration_s)) / duration_s

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        if not self.steps:
            raise ValueError("steps arrivals need at least one step")
        parts = []
        for a, b, rate in self.intervals(duration_s):
            n = int(rng.poisson(rate * (b - a))) if rate > 0 else 0
            t = rng.uniform(a, b, n)
            t.sort()
            parts.append(t[t < b])               # (uniform on [a, b) may round to b)
        return np.concatenate(parts) if parts else np.empty(0)

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        """Each slice as a Poisson process per step within it (counts over disjoint intervals are
        independent, so cutting the steps at the edges keeps the process)."""
        if not self.steps:
            raise ValueError("steps arrivals need at least one step")
        bounds = edges.tolist()
        steps = self.intervals(bounds[-1])
        for a, b in itertools.pairwise(bounds):
            parts = []
            for lo, hi, rate in steps:
                lo, hi = max(lo, a), min(hi, b)
                if lo < hi:
                    t, _ = next(_homogeneous_slices(rng, rate, np.array([lo, hi])))
                    parts.append(t)
            yield (np.concatenate(parts) if parts else np.empty(0)), None


@dataclass(frozen=True)
class TraceReplay:
    """Replay of a recorded trace (see `capacity.sim.traces`), optionally one tenant's share of it."""

    name: ClassVar[str] = "trace"
    parameters: ClassVar[tuple[str, ...]] = ("file", "format", "time_scale", "rate_scale", "start")
    required: ClassVar[tuple[str, ...]] = ("file",)
    trace: Trace | None = None
    time_scale: float = 1.0                # run seconds per trace second
    rate_scale: float = 1.0                # rate multiplier: thinning (< 1), shifted copies (> 1)
    start_s: float = 0.0                   # trace time at t = 0 (s)
    tenant_weights: tuple[float, ...] | None = None   # tenants drawn with these odds (else the column)
    tenant_index: int | None = None        # keep only this tenant's requests (None: all)

    def _trace(self) -> Trace:
        if self.trace is None:
            raise ValueError("trace arrivals need the trace's requests (see capacity.sim.traces)")
        return self.trace

    def sample(self, rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Sorted run times in ``[0, duration_s)`` and the trace row of each request of this class."""
        trace = self._trace()
        t, rows = replay(trace, rng, duration_s, time_scale=self.time_scale,
                         rate_scale=self.rate_scale, start_s=self.start_s)
        if self.tenant_index is None:
            return t, rows
        keep = self.tenants(rng, rows) == self.tenant_index
        return t[keep], rows[keep]

    def tenants(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        """The tenant index of each replayed request: drawn with ``tenant_weights``, or the trace's."""
        if self.tenant_weights is not None:
            p = np.asarray(self.tenant_weights, dtype=np.float64)
            return rng.choice(len(p), size=len(rows), p=p / p.sum())
        tenant = self._trace().tenant
        if tenant is None:
            raise ValueError("a tenant split needs tenant_weights or a trace with a tenant column")
        return tenant[rows]

    def mean_rate_per_s(self, duration_s: float) -> float:
        """Expected requests per second of the whole replay over ``[0, duration_s)`` (all tenants)."""
        _, rows, _ = replay_window(self._trace(), duration_s, self.time_scale, self.start_s)
        return len(rows) * self.rate_scale / duration_s

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        return self.sample(rng, duration_s)[0]

    def slices(self, rng: np.random.Generator, rate_per_s: float, edges: np.ndarray) -> Iterator[Slice]:
        """The replay of `capacity.sim.traces.replay` a slice at a time: the copies' offsets are drawn
        first; then, per slice, each copy's requests in it (a shifted copy's rows in the slice are one or
        two runs of the sorted window), the thinned copy's keep/drop draws for them, and the tenants'."""
        trace = self._trace()
        bounds = edges.tolist()
        base, rows, span = replay_window(trace, bounds[-1], self.time_scale, self.start_s)
        whole = math.floor(self.rate_scale)
        fraction = self.rate_scale - whole
        copies = whole + (1 if fraction > 0 else 0)
        offsets = [0.0] + [float(rng.uniform(0.0, span)) for _ in range(1, copies)]
        for a, b in itertools.pairwise(bounds):
            times, sources = [], []
            for copy, u in enumerate(offsets):
                # (t + u) mod span in [a, b): t in [a − u, b − u) or [a − u + span, b − u + span)
                for lo, hi in ((a - u, b - u), (a - u + span, b - u + span)) if copy else ((a, b),):
                    i, j = np.searchsorted(base, [lo, hi], side="left").tolist()
                    t = np.mod(base[i:j] + u, span) if copy else base[i:j]
                    r = rows[i:j]
                    if copy == whole:
                        keep = rng.random(len(t)) < fraction
                        t, r = t[keep], r[keep]
                    times.append(t)
                    sources.append(r)
            t = np.concatenate(times) if times else np.empty(0)
            r = np.concatenate(sources) if sources else np.empty(0, dtype=np.int64)
            order = np.argsort(t, kind="stable")
            t, r = t[order], r[order]
            if self.tenant_index is not None:
                keep = self.tenants(rng, r) == self.tenant_index
                t, r = t[keep], r[keep]
            yield t, r


ARRIVAL_PROCESSES: dict[str, type[ArrivalProcess]] = {
    Poisson.name: Poisson,
    Deterministic.name: Deterministic,
    Gamma.name: Gamma,
    OnOff.name: OnOff,
    Diurnal.name: Diurnal,
    TraceReplay.name: TraceReplay,
    Steps.name: Steps,
}


def arrival_process(arrivals: Arrivals) -> ArrivalProcess:
    """The process of ``arrivals``, its parameters taken from the `Arrivals` fields of the same names."""
    cls = ARRIVAL_PROCESSES[arrivals.process]
    params = {f.name: getattr(arrivals, f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**params)
