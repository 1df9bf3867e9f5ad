"""Streaming runs: a day at production rates in bounded memory.

An exact run (`capacity.sim.engine`) keeps every request's record until the end, about 220 bytes a
request at its peak: a day at 1,000 requests/s (86.4 M requests) would need about 19 GB. A **streaming**
run keeps only the requests that can still change, and folds each finished request into running
statistics (`StreamingStats`), so its memory no longer grows with the number of requests:

* **Arrivals in chunks.** The run is cut into time slices holding about `CHUNK_REQUESTS` expected
  requests; each class draws its arrivals one slice at a time (``slices`` of its arrival process,
  `capacity.sim.arrivals`, from the class's own stream as in an exact run), with its service times, and
  the classes' slices are merged in sequence order (arrival time, then class order). Draws are taken
  slice by slice, so a streaming run is a different sample from the exact run of the same seed (the same
  processes, not the same numbers), and is itself reproducible byte for byte.
* **A ring of request slots.** The engine replays requests by index into per-request lists and arrays;
  here those hold `RING_BLOCKS` blocks of `BLOCK` requests, reused in turn. When the arrivals reach a
  block, the block that held it before is **harvested**: each of its requests must have finished (ended
  at or before the current time, or been refused on arrival) and its record goes to the statistics. A
  request still in the system there (more than ``RING_BLOCKS × BLOCK`` requests in the system at once: a
  queue of about 2 M requests, i.e. a badly overloaded service) stops the run with `StreamingBacklog`.
* **Statistics.** Counts, throughput, goodput, SLO attainment, means, maxima, busy time and utilisation
  are exact, as in an exact run. Latency and wait quantiles (per class, per tenant, and the per-window
  p50/p99 of ``over_time``) come from DDSketches (`capacity.sim.sketch`) within ``α`` =
  `capacity.sim.sketch.RELATIVE_ACCURACY` (1 %) of the sample's value at their rank; the report's
  ``simulation.statistics`` says ``streaming`` and gives ``α``.

What a streaming run does not cover yet (`unsupported` names it, and the scenario is refused at load):
batching services, service times computed from token counts, preemptive disciplines and failures (their
cut service segments are logged per request index), and time-to-first-token. Everything else — the fast
path, the general path (timeouts, queue limits, deadline admission, fair queueing) and controllers that
add and drain replicas (the autoscalers, `capacity.autoscaling`, whose arrival counts a block hook feeds:
``on_load``) — runs unchanged, on the same engine code. The report's plot series are kept too (`_Series`).

Memory: the ring (about 100 bytes a slot, ~200 MB), the statistics (a few hundred sketch buckets per class
and window) and one slice of arrivals: 0.48 GiB peak RSS for 5.4 M requests where an exact run takes
1.15 GiB, and flat with the run's length (benchmarks/day_scale.py). Times are seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from simpy.events import NORMAL

from capacity.sim.arrivals import TraceReplay, arrival_process
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.engine import _Replay, draw_tokens
from capacity.sim.events import Callbacks, Tick
from capacity.sim.metrics import (
    OUTCOMES,
    busy_by_window,
    fleet_sections,
    jain_index,
    series_edges,
    slo_entry,
    utilisation_over_time,
    window_edges,
)
from capacity.sim.model import SimModel
from capacity.sim.paths import has_path
from capacity.sim.records import tenants_of
from capacity.sim.requests import RequestStream
from capacity.sim.result import ReplicaTimeline, busy_in_window
from capacity.sim.runtime import Controller
from capacity.sim.service_times import draw_service_s
from capacity.sim.sketch import RELATIVE_ACCURACY, Summary
from capacity.sim.streams import ARRIVALS_STREAM, SERVICE_STREAM, TOKENS_STREAM, class_rng
from capacity.sim.validation import validate_model

CHUNK_REQUESTS = 2**16
"""Expected requests (all classes) per time slice of arrivals drawn at once."""
BLOCK = 2**16
"""Request slots harvested at a time."""
RING_BLOCKS = 32
"""Blocks in the ring: at most ``RING_BLOCKS × BLOCK`` (2,097,152) requests in the system at once."""


class StreamingBacklog(RuntimeError):
    """More requests in the system at once than the ring holds (a badly overloaded service)."""


def unsupported(model: SimModel) -> str | None:
    """Why ``model`` cannot run in streaming mode (the first reason, naming the field), or None."""
    for s in model.services:
        if s.batching is not None:
            return f"services.{s.name}.batching"
        if s.service_time.tokens:
            return f"services.{s.name}.service_time (from token counts)"
        if DISCIPLINES[s.discipline].preemptive:
            return f"services.{s.name}.discipline ({s.discipline})"
    if model.failures:
        return "failures"
    for c in model.classes:
        if has_path(c):
            return f"classes.{c.name}.path"
    return None


# ------------------------------------------------------------------------------------------- arrivals


def slice_edges(model: SimModel, chunk_requests: int = CHUNK_REQUESTS) -> np.ndarray:
    """Edges of the time slices over ``[0, duration_s)``: about ``chunk_requests`` expected requests each."""
    rate = sum(c.arrivals.rate_per_s for c in model.classes)
    count = max(1, math.ceil(rate * model.duration_s / chunk_requests))
    edges = np.linspace(0.0, model.duration_s, count + 1)
    edges[-1] = model.duration_s
    return edges


def request_chunks(model: SimModel, chunk_requests: int = CHUNK_REQUESTS) -> Iterator[RequestStream]:
    """The model's requests, one time slice at a time, each slice in sequence order (see the module
    docstring). Per class and slice, as `capacity.sim.engine.generate_requests` does for a whole run:
    arrivals (and a trace's rows), token counts, service times, each from the class's own stream."""
    validate_model(model)
    edges = slice_edges(model, chunk_requests)
    service_of = {s.name: s for s in model.services}
    sources = []
    for c in model.classes:
        process = arrival_process(c.arrivals)
        rng = class_rng(model.seed, c.arrivals.stream or c.name, ARRIVALS_STREAM)
        sources.append(
            (
                process.slices(rng, c.arrivals.rate_per_s, edges),
                class_rng(model.seed, c.name, SERVICE_STREAM),
                class_rng(model.seed, c.name, TOKENS_STREAM),
                isinstance(process, TraceReplay),
            )
        )
    has_tokens = any(c.tokens is not None or c.arrivals.process == "trace" for c in model.classes)
    for _ in range(len(edges) - 1):
        classes, arrivals, services, inputs, outputs = [], [], [], [], []
        for k, (c, (slices, service_rng, token_rng, is_trace)) in enumerate(
            zip(model.classes, sources, strict=True)
        ):
            t, rows = next(slices)
            tokens_in = tokens_out = None
            if is_trace:
                trace = c.arrivals.trace
                assert trace is not None and rows is not None
                tokens_in, tokens_out = trace.input_tokens[rows], trace.output_tokens[rows]
            elif c.tokens is not None:
                tokens_in = draw_tokens(c.tokens.input, token_rng, len(t))
                tokens_out = draw_tokens(c.tokens.output, token_rng, len(t))
            st = service_of[c.service].service_time
            services.append(draw_service_s(st, service_rng, len(t), tokens_in, tokens_out))
            classes.append(np.full(len(t), k, dtype=np.int32))
            arrivals.append(t)
            zeros = np.zeros(len(t), np.int64)
            inputs.append(tokens_in if tokens_in is not None else zeros)
            outputs.append(tokens_out if tokens_out is not None else zeros)
        if not classes:
            return
        yield RequestStream.from_arrays(
            np.concatenate(classes),
            np.concatenate(arrivals),
            np.concatenate(services),
            np.concatenate(inputs) if has_tokens else None,
            np.concatenate(outputs) if has_tokens else None,
        )


def blocks(chunks: Iterator[RequestStream], size: int = BLOCK) -> Iterator[RequestStream]:
    """The requests of ``chunks`` regrouped in blocks of ``size`` (the last may be smaller), in order."""
    parts: list[RequestStream] = []
    held = 0
    for chunk in chunks:
        parts.append(chunk)
        held += len(chunk)
        while held >= size:
            whole = _concat(parts)
            yield _part(whole, 0, size)
            rest = _part(whole, size, len(whole))
            parts, held = [rest], len(rest)
    if held:
        yield _concat(parts)


def _concat(parts: Sequence[RequestStream]) -> RequestStream:
    if len(parts) == 1:
        return parts[0]

    def joined(xs: list[np.ndarray | None]) -> np.ndarray | None:
        return None if xs[0] is None else np.concatenate(xs)  # type: ignore[arg-type]

    return RequestStream(
        np.concatenate([p.cls for p in parts]),
        np.concatenate([p.arrival_s for p in parts]),
        np.concatenate([p.service_s for p in parts]),
        joined([p.input_tokens for p in parts]),
        joined([p.output_tokens for p in parts]),
    )


def _part(s: RequestStream, lo: int, hi: int) -> RequestStream:
    return RequestStream(
        s.cls[lo:hi],
        s.arrival_s[lo:hi],
        s.service_s[lo:hi],
        None if s.input_tokens is None else s.input_tokens[lo:hi],
        None if s.output_tokens is None else s.output_tokens[lo:hi],
    )


# ------------------------------------------------------------------------------------------ statistics


def add_by_window(sketches: Sequence[Summary], window: np.ndarray, values: np.ndarray) -> None:
    """Add each of ``values`` to the sketch of its ``window`` (an index into ``sketches``): sorted by window
    once, then one `Summary.add` per window that has any."""
    order = np.argsort(window, kind="stable")
    window, values = window[order], values[order]
    bounds = np.searchsorted(window, np.arange(len(sketches) + 1)).tolist()
    for w in np.unique(window).tolist():
        sketches[w].add(values[bounds[w] : bounds[w + 1]])


class _Group:
    """Exact counts and sketched latency and wait of one class (or, merged, one tenant)."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("arrived", *OUTCOMES, "retried"), 0)
        self.latency = Summary()
        self.wait = Summary()
        self.hits = 0  # completed within the class's SLO target
        self.busy = 0.0  # busy slot-seconds in the window (tenant shares)

    def merge(self, other: _Group) -> None:
        for key, n in other.counts.items():
            self.counts[key] += n
        self.latency.merge(other.latency)
        self.wait.merge(other.wait)
        self.hits += other.hits
        self.busy += other.busy

    def entry(self, span: float, goodput_hits: int | None) -> dict[str, Any]:
        c = self.counts
        return {
            "arrived": c["arrived"],
            **{k: c[k] for k in OUTCOMES},
            "retried": c["retried"],
            "throughput_per_s": c["completed"] / span,
            "goodput_per_s": None if goodput_hits is None else goodput_hits / span,
            "latency_s": self.latency.summary(),
            "wait_s": self.wait.summary(),
        }


class _Series:
    """The report's plot series (`capacity.report.series`) of a streaming run, over all requests (the
    warm-up included) by the window of their arrival on ``[0, duration]`` (`capacity.sim.metrics.
    series_edges`): per class, arrivals, requests not completed and a latency sketch (p50, p99); per service,
    the number of requests waiting, integrated (mean) and at its highest (max) in each window, by a sweep
    over the waits ``[arrival, leave)`` of the blocks in arrival order (events before a block's last arrival
    are final: later blocks arrive after it)."""

    def __init__(self, model: SimModel) -> None:
        self.width, self.edges = series_edges(float(model.duration_s))
        windows = len(self.edges) - 1
        n_classes, n_services = len(model.classes), len(model.services)
        self.arrived = np.zeros((n_classes, windows), dtype=np.int64)
        self.failed = np.zeros((n_classes, windows), dtype=np.int64)
        self.latency = [[Summary() for _ in range(windows)] for _ in range(n_classes)]
        index = {s.name: i for i, s in enumerate(model.services)}
        self.service_of_class = np.array([index[c.service] for c in model.classes] or [0], dtype=np.int64)
        self.area = np.zeros((n_services, windows))
        self.peak = np.zeros((n_services, windows))
        # per service: events not yet final (time, +1 arrival / -1 leave), level and time of the last one
        self.pending = [(np.empty(0), np.empty(0)) for _ in range(n_services)]
        self.level = [0.0] * n_services
        self.since = [0.0] * n_services

    def add(self, cls: np.ndarray, arrival: np.ndarray, start: np.ndarray, end: np.ndarray,
            completed: np.ndarray) -> None:
        edges = self.edges
        windows = len(edges) - 1
        which = np.clip(np.searchsorted(edges, arrival, side="right") - 1, 0, windows - 1)
        latency = end - arrival
        for k in np.unique(cls).tolist():
            mine = cls == k
            self.arrived[k] += np.bincount(which[mine], minlength=windows)
            self.failed[k] += np.bincount(which[mine & ~completed], minlength=windows)
            ok = mine & completed
            add_by_window(self.latency[k], which[ok], latency[ok])
        # a request waits from its arrival until its first start, or until it left; refused: no wait
        leave = np.where(np.isfinite(start), start, np.where(np.isfinite(end), end, arrival))
        service = self.service_of_class[cls]
        cutoff = float(arrival[-1]) if len(arrival) else math.inf
        for i in range(len(self.level)):
            mine = (service == i) & (leave > arrival)
            times = np.concatenate((arrival[mine], leave[mine]))
            deltas = np.concatenate((np.ones(int(mine.sum())), -np.ones(int(mine.sum()))))
            self._sweep(i, times, deltas, cutoff)

    def finish(self) -> None:
        """The run is over: every pending event is final."""
        for i in range(len(self.level)):
            self._sweep(i, np.empty(0), np.empty(0), math.inf)

    def _sweep(self, i: int, times: np.ndarray, deltas: np.ndarray, cutoff: float) -> None:
        t = np.concatenate((self.pending[i][0], times))
        d = np.concatenate((self.pending[i][1], deltas))
        order = np.lexsort((d, t))                 # by time, leaves (-1) before arrivals at equal times
        t, d = t[order], d[order]
        n = int(np.searchsorted(t, cutoff, side="left"))
        self.pending[i] = (t[n:], d[n:])
        if n == 0:
            return
        t, d = t[:n], d[:n]
        levels = self.level[i] + np.cumsum(d)
        # constant segments: [since, t0) at the level before, [t_j, t_j+1) at levels[j]; the last one
        # goes on until the next event
        starts = np.concatenate(([self.since[i]], t[:-1]))
        ends = t
        values = np.concatenate(([self.level[i]], levels[:-1]))
        self._segments(i, starts, ends, values)
        self.level[i], self.since[i] = float(levels[-1]), float(t[-1])
        if cutoff == math.inf and self.level[i] > 0:   # (all waits end; a safety for held requests)
            self._segments(i, np.array([t[-1]]), np.array([self.edges[-1]]), np.array([self.level[i]]))

    def _segments(self, i: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Add constant-level segments ``[start, end)`` of service ``i``: their area per window, and their
        level to the peak of each window they reach (a segment at a window's start, or starting inside)."""
        edges = self.edges
        windows = len(edges) - 1
        keep = values > 0
        starts, ends, values = starts[keep], ends[keep], values[keep]
        if not len(starts):
            return
        self.area[i] += busy_by_window(np.zeros(len(starts), dtype=np.int64), starts, ends, values, edges,
                                       1)[0]
        lo = np.clip(np.searchsorted(edges, starts, side="right") - 1, 0, windows - 1)
        hi = np.clip(np.searchsorted(edges, ends, side="left") - 1, 0, windows - 1)
        hi = np.maximum(hi, lo)
        np.maximum.at(self.peak[i], lo, values)
        np.maximum.at(self.peak[i], hi, values)
        for a, b, v in zip(lo[hi > lo + 1].tolist(), hi[hi > lo + 1].tolist(), values[hi > lo + 1].tolist(),
                           strict=True):
            self.peak[i][a:b + 1] = np.maximum(self.peak[i][a:b + 1], v)


class StreamingStats:
    """Running statistics of a streaming run: `add` a block of finished requests, then `summarize`.

    Per class: `_Group` (exact counts, SLO hits and busy time; sketched latency and wait). Per class and
    time-series window: exact outcome counts and a latency sketch (p50, p99). Per replica (global index;
    arrays grow as controllers add replicas): busy slot-seconds and measured requests served in the
    window, and busy slot-seconds per window.
    """

    def __init__(self, model: SimModel) -> None:
        self.model = model
        self.lo, self.hi = float(model.warmup_s), float(model.duration_s)
        self.edges = window_edges(self.lo, self.hi, model.interval_s)
        windows = len(self.edges) - 1
        self.groups = [_Group() for _ in model.classes]
        self.window_counts = {
            k: np.zeros((len(model.classes), windows), dtype=np.int64) for k in ("arrived", *OUTCOMES)
        }
        self.window_latency = [[Summary() for _ in range(windows)] for _ in model.classes]
        self.window_hits = np.zeros((len(model.classes), windows), dtype=np.int64)  # within the SLO target
        self.busy_s = np.zeros(0)
        self.served = np.zeros(0, dtype=np.int64)
        self.busy_windows = np.zeros((0, windows))
        self.targets = [c.slo_target_s for c in model.classes]
        self.requests = 0
        self.series = _Series(model)

    def _grow(self, n_replicas: int) -> None:
        extra = n_replicas - len(self.busy_s)
        if extra > 0:
            self.busy_s = np.concatenate((self.busy_s, np.zeros(extra)))
            self.served = np.concatenate((self.served, np.zeros(extra, dtype=np.int64)))
            self.busy_windows = np.vstack((self.busy_windows, np.zeros((extra, len(self.edges) - 1))))

    def add(
        self,
        cls: np.ndarray,
        arrival: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        replica: np.ndarray,
        masks: dict[str, np.ndarray],
        retried: np.ndarray,
        n_replicas: int,
    ) -> None:
        """A block of finished requests: class, arrival, first start (NaN: never started), end (NaN:
        refused), the replica that completed it (-1: none), one boolean mask per outcome, retried."""
        self._grow(n_replicas)
        lo, hi = self.lo, self.hi
        self.requests += len(cls)
        completed = masks["completed"]
        busy = np.zeros(len(cls))
        busy[completed] = busy_in_window(start[completed], end[completed], lo, hi)
        self.busy_s += np.bincount(replica[completed], weights=busy[completed], minlength=n_replicas)
        self.busy_windows += busy_by_window(
            replica[completed],
            start[completed],
            end[completed],
            np.ones(int(completed.sum())),
            self.edges,
            n_replicas,
        )
        self.series.add(cls, arrival, start, end, completed)
        measured = (arrival >= lo) & (arrival < hi)
        self.served += np.bincount(replica[completed & measured], minlength=n_replicas)
        windows = len(self.edges) - 1
        index = np.clip(np.searchsorted(self.edges, arrival, side="right") - 1, 0, windows - 1)
        latency, wait = end - arrival, start - arrival
        for k in np.unique(cls).tolist():
            of_class = cls == k
            group = self.groups[k]
            group.busy += float(busy[of_class].sum())
            mine = of_class & measured
            group.counts["arrived"] += int(np.count_nonzero(mine))
            group.counts["retried"] += int(np.count_nonzero(mine & retried))
            for name, m in masks.items():
                group.counts[name] += int(np.count_nonzero(mine & m))
            done = mine & completed
            group.latency.add(latency[done])
            group.wait.add(wait[done])
            target = self.targets[k]
            if target is not None:
                hit = done & (latency <= target)
                group.hits += int(np.count_nonzero(hit))
                self.window_hits[k] += np.bincount(index[hit], minlength=windows)
            counts = self.window_counts
            counts["arrived"][k] += np.bincount(index[mine], minlength=windows)
            for name, m in masks.items():
                counts[name][k] += np.bincount(index[mine & m], minlength=windows)
            add_by_window(self.window_latency[k], index[done], latency[done])

    def summarize(self, replica_slots: np.ndarray) -> dict[str, Any]:
        """The report's ``simulation`` section, keys as `capacity.sim.metrics.summarize` writes them
        (failures, down time and batch occupancy do not arise: see `unsupported`)."""
        model, span = self.model, self.hi - self.lo
        n_replicas = len(replica_slots)
        self._grow(n_replicas)
        classes: dict[str, Any] = {}
        hits_of_class: list[int | None] = []
        for c, group in zip(model.classes, self.groups, strict=True):
            slo = hits = None
            if c.slo_target_s is not None and c.slo_quantile is not None:
                hits = group.hits
                slo = slo_entry(c.slo_target_s, c.slo_quantile, hits, group.counts["arrived"])
            hits_of_class.append(hits)
            classes[c.name] = {**group.entry(span, hits), "slo": slo}
        total_busy = sum(g.busy for g in self.groups)
        tenants: dict[str, Any] = {}
        weighted: list[float] = []
        for t in dict.fromkeys(c.tenant for c in model.classes):
            ks = [k for k, c in enumerate(model.classes) if c.tenant == t]
            merged = _Group()
            for k in ks:
                merged.merge(self.groups[k])
            share = merged.busy / total_busy if total_busy > 0 else None
            class_hits = [h for k in ks if (h := hits_of_class[k]) is not None]
            tenants[t] = {**merged.entry(span, sum(class_hits) if class_hits else None), "share": share}
            weighted.append((share or 0.0) / sum(model.classes[k].weight for k in ks))
        return {
            "classes": classes,
            "tenants": tenants,
            **fleet_sections(model, span, self.busy_s, self.served, None, np.zeros(n_replicas)),
            "fairness": {"jain": jain_index(weighted)},
            "failures": [],
            "window_s": {"start": self.lo, "end": self.hi},
            "over_time": self._over_time(replica_slots),
            "statistics": {"mode": "streaming", "relative_error": RELATIVE_ACCURACY},
        }

    def _over_time(self, replica_slots: np.ndarray) -> dict[str, Any]:
        edges = self.edges
        windows = len(edges) - 1
        classes: dict[str, Any] = {}
        for k, c in enumerate(self.model.classes):
            row: dict[str, Any] = {name: self.window_counts[name][k].tolist() for name in OUTCOMES}
            row["arrived"] = self.window_counts["arrived"][k].tolist()
            row["latency_p50_s"] = [_round(s.quantile(0.5)) for s in self.window_latency[k]]
            row["latency_p99_s"] = [_round(s.quantile(0.99)) for s in self.window_latency[k]]
            classes[c.name] = row
        return {
            "interval_s": _round(float(np.diff(edges)[0])) if windows else None,
            "edges_s": [_round(float(x)) for x in edges],
            "start_s": _round(float(edges[0])),
            "classes": classes,
            "utilisation": utilisation_over_time(self.model, self.busy_windows, edges, replica_slots),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.6g}")


class StreamingResult:
    """What a streaming run returns: its statistics (`summary`), the replicas, and the replay's size."""

    def __init__(
        self, stats: StreamingStats, replica_slots: np.ndarray, replica_names: tuple[str, ...], requests: int
    ) -> None:
        self.stats, self.replica_slots, self.replica_names = stats, replica_slots, replica_names
        self.requests = requests
        self.window_s = (stats.lo, stats.hi)
        self.replica_service = np.zeros(len(replica_names), dtype=np.int32)  # int32 per replica: its service
        self.timeline: ReplicaTimeline | None = None  # every replica's lifecycle, as `SimResult.timeline`

    def latency_quantile(self, k: int, q: float) -> float | None:
        """Class ``k``'s latency at level ``q`` over its measured completed requests (sketched)."""
        return self.stats.groups[k].latency.quantile(q)

    def slo_windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window edges, and per class and window the measured requests and those completed within the
        class's SLO target (`capacity.autoscaling.outcome.slo_over_time`)."""
        return self.stats.edges, self.stats.window_counts["arrived"], self.stats.window_hits

    def __len__(self) -> int:
        return self.requests

    def summary(self) -> dict[str, Any]:
        return self.stats.summarize(self.replica_slots)


# ---------------------------------------------------------------------------------------------- replay


class _StreamingReplay(_Replay):
    """The engine's replay (`capacity.sim.engine._Replay`) over a ring of request slots fed block by block
    (see the module docstring)."""

    def __init__(
        self,
        model: SimModel,
        chunks: Iterator[RequestStream],
        controllers: tuple[Controller, ...],
        block: int = BLOCK,
        ring_blocks: int = RING_BLOCKS,
    ) -> None:
        self.block, self.ring_blocks = block, ring_blocks
        ring = ring_blocks * block
        # the ring as a stream of placeholders: every per-request list and array of the engine is sized
        # to it, and `_load` writes each block's requests into its slots
        super().__init__(
            model, RequestStream(np.zeros(ring, np.int32), np.zeros(ring), np.ones(ring)), controllers
        )
        self.ring = ring
        self.blocks = blocks(chunks, block)
        self.stats = StreamingStats(model)
        self.cls_ring = np.zeros(ring, np.int32)
        self.arrival_ring = np.zeros(ring)
        self.service_ring = np.ones(ring)
        self.refused = np.zeros(ring, dtype=bool)
        self.size = [0] * ring_blocks  # requests in each block slot (0: empty)
        self.loaded = 0  # blocks loaded so far
        self.priority_of_class = np.array([c.priority for c in model.classes] or [0], dtype=np.int64)
        tenant_of_class, _ = tenants_of(model, np.arange(len(model.classes), dtype=np.int32))
        self.tenant_of_class = np.array(tenant_of_class or [0], dtype=np.int64)
        self.admit_of_class = [self.admit_of_service[c.service] for c in model.classes]
        self.admit_of_request: list[Any] = [None] * ring
        self.on_load: Callable[[RequestStream], None] | None = None
        self.requests = 0

    # --- the ring

    def _load_next(self, now: float) -> int:
        """Load the next block into the next ring position (harvesting the block there); return its
        first slot, or -1 when no request is left."""
        block = next(self.blocks, None)
        if block is None:
            return -1
        if self.on_load is not None:
            self.on_load(block)
        position = self.loaded % self.ring_blocks
        self._harvest(position, now)
        self.loaded += 1
        lo = position * self.block
        m = len(block)
        hi = lo + m
        cls = block.cls
        cls_list = cls.tolist()
        self.cls_ring[lo:hi] = cls
        self.arrival_ring[lo:hi] = block.arrival_s
        self.service_ring[lo:hi] = block.service_s
        self.refused[lo:hi] = False
        self.arrival[lo:hi] = block.arrival_s.tolist()
        self.service[lo:hi] = block.service_s.tolist()
        self.priority[lo:hi] = self.priority_of_class[cls].tolist()
        self.start_s[lo:hi] = np.nan
        self.replica_of[lo:hi] = -1
        admit_of_class = self.admit_of_class
        self.admit_of_request[lo:hi] = [admit_of_class[k] for k in cls_list]
        records = self.records
        if records is not None:
            records.end_s[lo:hi] = np.nan
            records.timed_out[lo:hi] = False
            for flags in (records.dropped, records.lost, records.retried):
                if flags is not None:
                    flags[lo:hi] = False
            if records.gone is not None:
                records.gone[lo:hi] = bytes(m)
            if records.cls:
                records.cls[lo:hi] = cls_list
            if records.tenant:
                records.tenant[lo:hi] = self.tenant_of_class[cls].tolist()
        self.size[position] = m
        self.requests += m
        return lo

    def _harvest(self, position: int, now: float) -> None:
        """Fold the requests of ring block ``position`` into the statistics (each must have finished)."""
        m = self.size[position]
        if not m:
            return
        lo = position * self.block
        hi = lo + m
        speeds = np.array([r.speed for r in self.fleet.replicas] or [1.0])
        start = self.start_s[lo:hi].copy()
        replica = self.replica_of[lo:hi].copy()
        service = self.service_ring[lo:hi]
        refused = self.refused[lo:hi]
        end = np.where(replica >= 0, start + service / speeds[np.maximum(replica, 0)], np.nan)
        records = self.records
        explicit = np.full(m, np.nan) if records is None else records.end_s[lo:hi]
        has_explicit = ~np.isnan(explicit)
        end[has_explicit] = explicit[has_explicit]
        finished = refused | (~np.isnan(end) & (end <= now))
        if now == math.inf:  # the run is over: a request still held never entered
            refused = refused | ~finished
            finished[:] = True
        if not finished.all():
            raise StreamingBacklog(
                f"more than {self.ring} requests in the system at once at t = {now:.6g} s (the oldest "
                f"arrived at {float(self.arrival_ring[lo:hi][~finished][0]):.6g} s): the service is "
                "overloaded; lower the load or run with workload.statistics: exact and a shorter duration"
            )
        if now < math.inf:  # (at the end of the run nothing reuses the slots)
            self._check_deadlines(float(self.arrival_ring[hi - 1]), now)
        lost = np.zeros(m, dtype=bool)
        timed_out = np.zeros(m, dtype=bool)
        dropped = np.zeros(m, dtype=bool)
        retried = np.zeros(m, dtype=bool)
        if records is not None:
            timed_out = records.timed_out[lo:hi].copy()
            if records.lost is not None:
                lost = records.lost[lo:hi].copy()
                replica[lost] = -1  # a lost request may have started: not served
            if records.dropped is not None:
                dropped = records.dropped[lo:hi].copy()
            if records.retried is not None:
                retried = records.retried[lo:hi].copy()
        end[refused] = np.nan
        completed = replica >= 0
        masks = {
            "completed": completed,
            "rejected": ~completed & ~timed_out & ~dropped & ~lost,
            "timed_out": timed_out,
            "dropped": dropped,
            "lost": lost,
        }
        self.stats.add(
            self.cls_ring[lo:hi],
            self.arrival_ring[lo:hi],
            start,
            end,
            replica,
            masks,
            retried,
            len(self.fleet.replicas),
        )
        self.size[position] = 0

    def _check_deadlines(self, last_arrival: float, now: float) -> None:
        """A queue timeout still pending for a harvested request (its deadline entry would act on the
        slot's next request): the timeout is longer than the ring's span of arrivals."""
        for runtime in self.runtimes:
            deadlines = getattr(runtime, "deadlines", None)
            pending = getattr(deadlines, "pending", None)
            if pending and pending[0][0] - deadlines.timeout_s <= last_arrival:  # type: ignore[union-attr]
                raise StreamingBacklog(
                    f"a queue timeout of {deadlines.timeout_s:.6g} s is still pending at t = {now:.6g} s "  # type: ignore[union-attr]
                    f"for a request more than {self.ring} arrivals old; run with workload.statistics: "
                    "exact"
                )

    def _refuse(self, j: int) -> None:
        self.refused[j] = True

    # --- the run

    def _schedule_arrivals(self) -> None:
        """The engine's arrival tick, reading the ring: at the end of a block it loads the next one."""
        env = self.env
        schedule = env.schedule
        arrival, admit_of_request, refused = self.arrival, self.admit_of_request, self.refused
        first = self._load_next(0.0)
        if first < 0:
            return
        state = [first, first + self.size[0]]  # the next request's slot, the end of its block

        def on_arrival(tick: Tick) -> None:
            i, end = state
            t = arrival[i]
            while True:  # every request arriving at this instant
                if not admit_of_request[i](i):
                    refused[i] = True
                i += 1
                if i == end:
                    i = self._load_next(t)
                    if i < 0:
                        return
                    end = i + self.size[(self.loaded - 1) % self.ring_blocks]
                if arrival[i] != t:
                    break
            state[0], state[1] = i, end
            tick.callbacks = again
            delay = arrival[i] - env._now
            schedule(tick, NORMAL, delay if delay > 0.0 else 0.0)

        again: Callbacks = [on_arrival]
        arrival_tick = Tick(env, -1)
        arrival_tick.callbacks = again
        schedule(arrival_tick, NORMAL, arrival[first])

    def run_streaming(self) -> StreamingResult:
        env = self.env
        self._start_controllers()
        self.admit_of_class = [self.admit_of_service[c.service] for c in self.model.classes]
        for runtime in self.runtimes:
            if runtime is not None:  # a held request refused when it enters
                runtime.on_refused = self._refuse
        self._schedule_arrivals()
        env.run()
        for k in range(self.ring_blocks):  # the last blocks, oldest first
            self._harvest((self.loaded + k) % self.ring_blocks, math.inf)
        self.stats.series.finish()
        result = StreamingResult(
            self.stats,
            np.array([r.slots for r in self.fleet.replicas], dtype=np.int64),
            tuple(r.name for r in self.fleet.replicas),
            self.requests,
        )
        result.replica_service = np.array([r.service for r in self.fleet.replicas], dtype=np.int32)
        result.timeline = self.fleet.timeline()
        return result


def simulate_streaming(
    model: SimModel,
    controllers: Sequence[Controller] = (),
    chunk_requests: int = CHUNK_REQUESTS,
    on_load: Callable[[RequestStream], None] | None = None,
) -> StreamingResult:
    """Draw ``model``'s requests slice by slice and replay them in streaming mode (module docstring);
    ``on_load`` sees each block of requests as it is loaded (before its first arrival)."""
    return replay_streaming(model, request_chunks(model, chunk_requests), controllers, on_load=on_load)


def replay_streaming(
    model: SimModel,
    chunks: Iterator[RequestStream],
    controllers: Sequence[Controller] = (),
    block: int = BLOCK,
    ring_blocks: int = RING_BLOCKS,
    on_load: Callable[[RequestStream], None] | None = None,
) -> StreamingResult:
    """Replay the requests of ``chunks`` (consecutive streams in sequence order) in streaming mode, over a
    ring of ``ring_blocks × block`` request slots; `ValueError` naming what streaming does not support
    yet, `StreamingBacklog` when more requests are in the system at once than the ring holds."""
    validate_model(model)
    reason = unsupported(model)
    if reason is not None:
        raise ValueError(f"{reason}: not supported by streaming statistics yet")
    replay = _StreamingReplay(model, chunks, tuple(controllers), block, ring_blocks)
    replay.on_load = on_load
    return replay.run_streaming()
