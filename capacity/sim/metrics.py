"""Metrics: turn a run's per-request records into the ``simulation`` section of the report.

All statistics use the window ``[warmup_s, duration_s]`` (see `capacity.sim.result`): counts, latencies
and waits are over the *measured* requests (arrived in ``[warmup_s, duration_s)``); busy time and
utilisation over slot-seconds of service inside the window. Times are seconds, rates per second.

* **Per class**: the outcome counts of its measured requests — ``arrived = completed + rejected +
  timed_out + dropped + lost`` (`capacity.sim.result` defines each outcome: *rejected* on arrival by a
  full queue or a service with no live replica, *timed out* in the queue, *dropped* by deadline-aware
  admission, *lost* to a node failure) — and ``retried`` (how many of them a failure sent to another
  replica; they are also counted by their final outcome).
  ``throughput_per_s = completed / window length``; ``goodput_per_s`` = requests **completed within
  their SLO target** per second of the window (``None`` for a class without an SLO): the useful work,
  throughput minus the requests that were served too late. ``latency_s`` (wait plus service) and
  ``wait_s`` (time before the first service) summarise the completed requests, ``ttft_s`` (time to first
  token, ``first_token_s − arrival``) too when the run has token timings (key absent otherwise). The
  SLO: ``attained`` is the fraction of measured requests whose latency is at most ``target_s`` (a request
  that did not complete counts as a miss), ``met = attained >= quantile`` and ``status`` says it in words,
  ``"met"`` or ``"missed"`` (`slo_entry`). A class none of whose requests arrived in the window has **no
  data**: ``attained`` and ``met`` are ``None`` and ``status`` is ``"no data"`` — nothing was measured,
  which is not a pass. A class whose requests arrived and were all refused (rejected, timed out, dropped,
  lost) *was* measured: 0 % within the target, ``"missed"`` (its users saw every request fail).
* A **summary** ``{mean, p50, p95, p99, max}`` uses numpy's default (linear interpolation) percentiles;
  every value is ``None`` when there is no sample.
* **Per tenant**: the same counts, throughput, latency, wait and TTFT over its classes' measured
  requests; ``goodput_per_s`` sums its classes that have an SLO (``None`` if none has); ``share`` is the
  tenant's fraction of all busy slot-seconds delivered in the window (``None`` if nothing was served).
* **Per replica / node / pool / service**: utilisation is busy slot-seconds / (slots × window length);
  ``served`` counts the measured requests the replica completed; ``down_s`` the seconds of the window it
  was down (failures). A service with no replica has utilisation ``None``. A **batching** service's
  replicas and the service also get ``batch_occupancy``: the time-average number of requests held by
  their running batches / (slots × ``max_size``) over the window (`capacity.sim.batching`); under
  continuous batching utilisation is ~1 whenever an engine holds anything, the occupancy says how full.
* **Fairness**: Jain's index ``(Σx)² / (n·Σx²)`` over the weighted shares ``x_i = share_i / weight_i``
  of the ``n`` tenants, where a tenant's weight is the **sum** of its classes' weights (two classes of
  weight 1 are entitled to as much as one class of weight 2). 1.0 means shares exactly proportional to
  weights, ``1/n`` the least fair. 1.0 with one tenant (or none), even if it was not served; with
  several, ``None`` if nothing was served.
* **Failures**: one entry per failure, in the order they happened: ``at_s``, ``target``, the
  ``replicas`` it took down, ``recover_at_s`` and how many requests it ``retried`` and ``lost`` (all
  requests, the warm-up included).
* **Over time** (``over_time``): the window cut into consecutive windows of ``interval_s`` (the model's
  ``interval_s``, default the window / 60; the last may be shorter), ``edges_s`` their bounds. Per class
  and window, over the measured requests that **arrived** in it: the outcome counts and the latency
  ``p50``/``p99`` of those that completed (``None`` when none did) — a failure shows as a spike in the
  window of the requests it hit. Per replica, node, pool and service and window: utilisation, the busy
  slot-seconds inside that window / (slots × its length), where a request's busy time is spread evenly
  over its service ``[start, end]`` (or its segments, when cut). Counts sum to the class totals and
  busy time to the utilisation totals (the window-length-weighted mean of a utilisation series is its
  total). Floats in ``over_time`` are rounded to 6 significant digits.

Every value is a plain Python ``int``, ``float``, ``str``, ``list``, ``dict`` or ``None`` (JSON-ready), and
the same result always gives the same dictionary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from capacity.sim.histogram import ITL_BINS, itl_quantiles
from capacity.sim.model import RequestClass, SimModel
from capacity.sim.result import SimResult, busy_in_window

QUANTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
DEFAULT_WINDOWS = 60
"""The statistics window is cut into this many time-series windows unless the model sets ``interval_s``."""

OUTCOMES = ("completed", "rejected", "timed_out", "dropped", "lost")


def summary(values: np.ndarray) -> dict[str, float | None]:
    """``{mean, p50, p95, p99, max}`` of a sample (seconds), each ``None`` when the sample is empty."""
    if len(values) == 0:
        return {"mean": None, **dict.fromkeys(QUANTILES), "max": None}
    qs = np.percentile(values, list(QUANTILES.values()))
    return {"mean": float(np.mean(values)),
            **{k: float(q) for k, q in zip(QUANTILES, qs, strict=True)},
            "max": float(np.max(values))}


def jain_index(x: list[float]) -> float | None:
    """Jain's fairness index of non-negative allocations: 1.0 when all equal; None if all are 0."""
    if len(x) <= 1:
        return 1.0
    total = sum(x)
    squares = sum(v * v for v in x)
    if squares == 0:
        return None
    return float(total * total / (len(x) * squares))


def mean_in_system(result: SimResult, start: float, end: float) -> float:
    """Time-average number of requests in the system (waiting or in service) over ``[start, end]``.

    Each admitted request (completed, timed out or lost) is present from its arrival to its end
    (completion, timeout or loss); requests refused on arrival (rejected, dropped) never enter. This is
    the ``L`` of Little's law, ``L = λ W`` with λ the rate of admitted requests and W their mean time in
    the system.
    """
    entered = ~np.isnan(result.end_s)
    present = busy_in_window(result.arrival_s[entered], result.end_s[entered], start, end)
    return float(present.sum() / (end - start))


def outcomes(result: SimResult) -> dict[str, np.ndarray]:
    """Boolean mask per outcome (``completed``, ``rejected``, ``timed_out``, ``dropped``, ``lost``); each
    request is in exactly one."""
    return {"completed": result.completed, "rejected": result.refused,
            "timed_out": result.timed_out_mask, "dropped": result.dropped_mask, "lost": result.lost_mask}


def window_edges(lo: float, hi: float, interval_s: float | None) -> np.ndarray:
    """Edges ``[lo, lo + w, ..., hi]`` of the time-series windows (the last may be shorter)."""
    if interval_s is None:
        return np.linspace(lo, hi, DEFAULT_WINDOWS + 1)
    count = max(1, math.ceil((hi - lo) / interval_s - 1e-9))
    edges = lo + interval_s * np.arange(count + 1, dtype=np.float64)
    edges[-1] = hi
    return edges


_NICE_WIDTHS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200,
                  1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86_400)


def window_width(duration_s: float, target_windows: int = 60) -> float:
    """A round window width (seconds) that cuts ``duration_s`` into about ``target_windows`` windows (the
    report's plot series, `capacity.report.series`)."""
    goal = duration_s / target_windows
    return next((w for w in _NICE_WIDTHS_S if w >= goal * 0.999), _NICE_WIDTHS_S[-1])


def series_edges(duration_s: float, target_windows: int = 60) -> tuple[float, np.ndarray]:
    """The plot series' window width and edges ``[0, w, 2w, ..., duration_s]`` (the last may be shorter)."""
    width = window_width(duration_s, target_windows)
    edges = np.arange(0.0, duration_s, width)
    edges = np.append(edges, duration_s) if edges.size else np.array([0.0, duration_s])
    return width, edges


def busy_by_window(replica: np.ndarray, start: np.ndarray, end: np.ndarray, weight: np.ndarray,
                   edges: np.ndarray, n_replicas: int) -> np.ndarray:
    """Busy slot-seconds per replica and window (shape ``(n_replicas, windows)``): each interval
    ``[start, end]`` on ``replica`` contributes ``weight`` × its overlap with every window."""
    lo, hi = float(edges[0]), float(edges[-1])
    windows = len(edges) - 1
    s = np.clip(start, lo, hi)
    e = np.clip(end, lo, hi)
    keep = e > s
    r, s, e, w = replica[keep].astype(np.int64), s[keep], e[keep], weight[keep]
    first = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, windows - 1)
    last = np.clip(np.searchsorted(edges, e, side="left") - 1, 0, windows - 1)
    size = n_replicas * windows
    same = first == last
    out = np.zeros(size)
    out += np.bincount(r[same] * windows + first[same], weights=w[same] * (e[same] - s[same]),
                       minlength=size)
    r, s, e, w, first, last = r[~same], s[~same], e[~same], w[~same], first[~same], last[~same]
    out += np.bincount(r * windows + first, weights=w * (edges[first + 1] - s), minlength=size)
    out += np.bincount(r * windows + last, weights=w * (e - edges[last]), minlength=size)
    # windows wholly covered: a difference array of weights, summed along the windows
    inner = last > first + 1
    cover = np.zeros((n_replicas, windows + 1))
    np.add.at(cover, (r[inner], first[inner] + 1), w[inner])
    np.add.at(cover, (r[inner], last[inner]), -w[inner])
    widths = np.diff(edges)
    # the running sum of fractional weights (batch shares) can end a hair below 0 (-1e-16) where it is 0
    covered = np.maximum(np.cumsum(cover, axis=1)[:, :windows], 0.0)
    return out.reshape(n_replicas, windows) + covered * widths


def busy_intervals(result: SimResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every busy interval of the run: (replica, start, end, weight). A request served in one piece is
    busy over ``[start, end]`` with weight ``busy seconds / clipped length`` (1 unless the engine
    weighted it, e.g. a batch); a cut request over its segments, weight 1."""
    lo, hi = result.window_s
    whole = result.completed.copy()
    if result.segments is not None:
        whole[result.segments[0]] = False
    start, end = result.start_s[whole], result.end_s[whole]
    weight = np.ones(len(start))
    if result.busy_request_s is not None:
        length = busy_in_window(start, end, lo, hi)
        inside = length > 0
        weight[inside] = result.busy_request_s[whole][inside] / length[inside]
    replica = result.replica[whole]
    if result.segments is not None:
        _, seg_replica, seg_start, seg_end = result.segments
        replica = np.concatenate([replica, seg_replica])
        start = np.concatenate([start, seg_start])
        end = np.concatenate([end, seg_end])
        weight = np.concatenate([weight, np.ones(len(seg_start))])
    return replica, start, end, weight


def _round(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.6g}")


def _counts(masks: dict[str, np.ndarray], mine: np.ndarray) -> dict[str, int]:
    return {k: int(np.count_nonzero(mine & m)) for k, m in masks.items()}


def _group_stats(model: SimModel, result: SimResult, mine: np.ndarray, masks: dict[str, np.ndarray],
                 span: float, goodput_hits: int | None) -> dict[str, Any]:
    """Counts, throughput, goodput and latency / wait / TTFT summaries of the measured requests ``mine``."""
    counts = _counts(masks, mine)
    served = mine & masks["completed"]
    out: dict[str, Any] = {"arrived": int(np.count_nonzero(mine)), **counts,
                           "retried": int(np.count_nonzero(mine & result.retried_mask)),
                           "throughput_per_s": counts["completed"] / span,
                           "goodput_per_s": None if goodput_hits is None else goodput_hits / span,
                           "latency_s": summary(result.latency_s[served]),
                           "wait_s": summary(result.wait_s[served])}
    ttft, tpot = result.ttft_s, result.tpot_s
    if ttft is not None:
        values = ttft[served]
        out["ttft_s"] = summary(values[~np.isnan(values)])
    if tpot is not None:
        values = tpot[served]
        out["tpot_s"] = summary(values[~np.isnan(values)])
    return out


def itl_summary(result: SimResult, k: int) -> dict[str, float | None] | None:
    """``{mean, p50, p95, p99, max}`` of the inter-token latencies of class ``k``'s measured requests on an
    LLM engine (`capacity.sim.llm_batching`: quantiles from its histogram, within 1.2 %; mean and max
    exact); None when the class is not served by one."""
    counts = np.zeros(ITL_BINS, dtype=np.int64)
    total, longest, found = 0.0, 0.0, False
    for record in result.llm:
        if k in record.itl:
            counts += np.asarray(record.itl[k], dtype=np.int64)
            total += record.itl_sum[k]
            longest = max(longest, record.itl_max[k])
            found = True
        found = found or k in record.classes
    if not found:
        return None
    n = int(counts.sum())
    if n == 0:
        return {"mean": None, **dict.fromkeys(QUANTILES), "max": None}
    qs = itl_quantiles(counts, tuple(q / 100.0 for q in QUANTILES.values()))
    return {"mean": total / n, **dict(zip(QUANTILES, qs, strict=True)), "max": longest}


def class_slos(c: RequestClass, result: SimResult, mine: np.ndarray, done: np.ndarray,
               arrived: int) -> tuple[dict[str, Any] | None, int | None]:
    """A class's ``slos`` entry (one `slo_entry` per target: ``latency``, ``ttft``, ``tpot``; None when it
    has no token SLO) and its goodput hits: measured requests completed within **every** target (None
    without any SLO). A request with no TTFT (no output token) or no TPOT (fewer than 2) meets that target."""
    ok = mine & done
    targets: list[tuple[str, np.ndarray, float, float]] = []
    if c.slo_target_s is not None and c.slo_quantile is not None:
        targets.append(("latency", result.latency_s, c.slo_target_s, c.slo_quantile))
    for t in c.token_slos:
        values = result.ttft_s if t.metric == "ttft" else result.tpot_s
        if values is None:
            values = np.full(len(result), np.nan)
        targets.append((t.metric, values, t.target_s, t.quantile))
    if not targets:
        return None, None
    entries: dict[str, Any] = {}
    for metric, values, target, quantile in targets:
        with np.errstate(invalid="ignore"):
            within = (values <= target) | np.isnan(values)
        entries[metric] = slo_entry(target, quantile, int(np.count_nonzero(mine & done & within)), arrived)
        ok &= within
    return (entries if c.token_slos else None), int(np.count_nonzero(ok))


def llm_services(model: SimModel, result: SimResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``llm`` entries of the LLM engine services and of their replicas (the report's
    ``simulation.services.NAME.llm`` and ``simulation.replicas.NAME.llm``)."""
    lo, hi = result.window_s
    span = hi - lo
    present = result.present_s()
    services: dict[str, Any] = {}
    replicas: dict[str, Any] = {}
    for record in result.llm:
        seconds = [float(present[g]) for g in record.replicas]
        capacity_s = [b * sec for b, sec in zip(record.kv_blocks, seconds, strict=True)]
        for k, g in enumerate(record.replicas):
            replicas[result.replica_names[g]] = {
                "gpu": record.gpu_names[k], "gpus": record.gpus[k],
                "kv_capacity_tokens": record.kv_capacity_tokens[k],
                "kv_utilisation": record.kv_block_s[k] / capacity_s[k] if capacity_s[k] > 0 else None,
                "preemptions": record.preemptions[k],
                "output_tokens_per_s": record.output_tokens[k] / span}
        tokens = sum(record.output_tokens)
        replica_s = sum(seconds)
        gpu_s = sum(sec * n for sec, n in zip(seconds, record.gpus, strict=True))
        widths = np.diff(record.windows)
        blocks = float(sum(record.kv_blocks))
        series = (np.sum(record.kv_series, axis=0) / (blocks * widths)).tolist() if blocks else []
        services[record.service] = {
            "kv_capacity_tokens": min(record.kv_capacity_tokens, default=0),
            "kv_utilisation": (sum(record.kv_block_s) / sum(capacity_s)) if sum(capacity_s) > 0 else None,
            "kv_utilisation_over_time": [_round(float(x)) for x in series],
            "preemptions": sum(record.preemptions),
            "output_tokens_per_s": tokens / span,
            "output_tokens_per_s_per_replica": tokens / replica_s if replica_s > 0 else None,
            "output_tokens_per_s_per_gpu": tokens / gpu_s if gpu_s > 0 else None,
            "gpus": sum(record.gpus)}
    return services, replicas


def _over_time(model: SimModel, result: SimResult, masks: dict[str, np.ndarray],
               edges: np.ndarray) -> dict[str, Any]:
    """The ``over_time`` section (module docstring)."""
    lo = float(edges[0])
    windows = len(edges) - 1
    measured = result.measured
    index = np.clip(np.searchsorted(edges, result.arrival_s, side="right") - 1, 0, windows - 1)
    latency = result.latency_s
    classes: dict[str, Any] = {}
    for k, c in enumerate(model.classes):
        mine = measured & (result.cls == k)
        row: dict[str, Any] = {name: np.bincount(index[mine & m], minlength=windows).tolist()
                               for name, m in masks.items()}
        row["arrived"] = np.bincount(index[mine], minlength=windows).tolist()
        served = mine & masks["completed"]
        b, lat = index[served], latency[served]
        order = np.lexsort((lat, b))
        b, lat = b[order], lat[order]
        bounds = np.searchsorted(b, np.arange(windows + 1))
        p50: list[float | None] = []
        p99: list[float | None] = []
        for w in range(windows):
            chunk = lat[bounds[w]:bounds[w + 1]]
            if len(chunk):
                q50, q99 = np.percentile(chunk, [50.0, 99.0])
                p50.append(_round(float(q50)))
                p99.append(_round(float(q99)))
            else:
                p50.append(None)
                p99.append(None)
        row["latency_p50_s"], row["latency_p99_s"] = p50, p99
        classes[c.name] = row

    n_replicas = len(result.replica_names)
    busy = busy_by_window(*busy_intervals(result), edges, n_replicas)
    return {
        "interval_s": _round(float(np.diff(edges)[0])) if windows else None,
        "edges_s": [_round(float(x)) for x in edges],
        "start_s": _round(lo),
        "classes": classes,
        "utilisation": utilisation_over_time(model, busy, edges, result.replica_slots),
    }


def utilisation_over_time(model: SimModel, busy: np.ndarray, edges: np.ndarray,
                          replica_slots: np.ndarray) -> dict[str, dict[str, list[float | None]]]:
    """``over_time.utilisation``: per replica, node, pool and service of the model, each window's busy
    slot-seconds (``busy``, shape ``(replicas, windows)``, global replica order) / (slots × its length)."""
    windows = len(edges) - 1
    widths = np.diff(edges)
    slots = replica_slots.astype(np.float64)

    def utilisation(rows: list[int]) -> list[float | None]:
        capacity = float(slots[rows].sum())
        if not rows or capacity <= 0:
            return [None] * windows
        return [_round(float(x)) for x in busy[rows].sum(axis=0) / (capacity * widths)]

    replicas, nodes, pools, services = {}, {}, {}, {}
    g = 0
    node_rows: dict[str, list[int]] = {}
    pool_rows: dict[str, list[int]] = {}
    for s in model.services:
        rows = list(range(g, g + len(s.replicas)))
        for r, rep in zip(rows, s.replicas, strict=True):
            replicas[rep.name] = utilisation([r])
            node_rows.setdefault(rep.node, []).append(r)
            pool_rows.setdefault(rep.pool, []).append(r)
        services[s.name] = utilisation(rows)
        g += len(s.replicas)
    for name, rows in node_rows.items():
        nodes[name] = utilisation(rows)
    for name, rows in pool_rows.items():
        pools[name] = utilisation(rows)
    return {"replicas": replicas, "nodes": nodes, "pools": pools, "services": services}


def _down_in_window(result: SimResult) -> np.ndarray:
    """Seconds of the window each replica was down."""
    lo, hi = result.window_s
    down = np.zeros(len(result.replica_names))
    if result.downtime is not None:
        replica, start, end = result.downtime
        np.add.at(down, replica, busy_in_window(start, end, lo, hi))
    return down


def summarize(model: SimModel, result: SimResult) -> dict[str, Any]:
    """The report's ``simulation`` section; keys are described in the module docstring."""
    lo, hi = result.window_s
    span = hi - lo
    measured = result.measured
    masks = outcomes(result)
    done = masks["completed"]
    latency = result.latency_s

    classes: dict[str, Any] = {}
    hits_of_class: list[int | None] = []
    for k, c in enumerate(model.classes):
        mine = measured & (result.cls == k)
        arrived = int(np.count_nonzero(mine))
        slo = hits = None
        if c.slo_target_s is not None and c.slo_quantile is not None:
            hits = int(np.count_nonzero(latency[mine & done] <= c.slo_target_s))
            slo = slo_entry(c.slo_target_s, c.slo_quantile, hits, arrived)
        slos, every = class_slos(c, result, mine, done, arrived)
        if every is not None:
            hits = every
        hits_of_class.append(hits)
        classes[c.name] = {**_group_stats(model, result, mine, masks, span, hits), "slo": slo}
        if slos is not None:
            classes[c.name]["slos"] = slos
        itl = itl_summary(result, k)
        if itl is not None:
            classes[c.name]["itl_s"] = itl

    # tenants: busy slot-seconds inside the window, whichever request delivered them
    busy_per_request = result.busy_per_request()
    total_busy = float(busy_per_request.sum())
    tenant_names = list(dict.fromkeys(c.tenant for c in model.classes))
    tenants: dict[str, Any] = {}
    weighted: list[float] = []
    for t in tenant_names:
        ks = [k for k, c in enumerate(model.classes) if c.tenant == t]
        of_tenant = np.isin(result.cls, ks)
        share = float(busy_per_request[of_tenant].sum()) / total_busy if total_busy > 0 else None
        tenant_hits = [h for h in (hits_of_class[k] for k in ks) if h is not None]
        tenants[t] = {**_group_stats(model, result, of_tenant & measured, masks, span,
                                     sum(tenant_hits) if tenant_hits else None),
                      "share": share}
        weight = sum(model.classes[k].weight for k in ks)
        weighted.append((share or 0.0) / weight)

    fleet = fleet_sections(model, span, result.busy_s, result.served, result.sequence_s,
                           _down_in_window(result))
    if result.llm:
        llm_of_service, llm_of_replica = llm_services(model, result)
        for name, entry in llm_of_service.items():
            fleet["services"][name]["llm"] = entry
        for name, entry in llm_of_replica.items():
            if name in fleet["replicas"]:
                fleet["replicas"][name]["llm"] = entry
    return {
        "classes": classes,
        "tenants": tenants,
        **fleet,
        "fairness": {"jain": jain_index(weighted)},
        "failures": [{"at_s": f.at_s, "target": f.target, "replicas": list(f.replicas),
                      "recover_at_s": f.recover_at_s, "retried": f.retried, "lost": f.lost}
                     for f in result.failures],
        "window_s": {"start": float(lo), "end": float(hi)},
        "over_time": _over_time(model, result, masks, window_edges(lo, hi, model.interval_s)),
        "statistics": {"mode": "exact", "relative_error": None},
    }


def fleet_sections(model: SimModel, span: float, busy_s: np.ndarray, served: np.ndarray,
                   sequence_s: np.ndarray | None, down: np.ndarray) -> dict[str, Any]:
    """The ``replicas``, ``nodes``, ``pools`` and ``services`` sections from per-replica totals (global
    replica order, the model's replicas first): busy slot-seconds and measured requests served in the
    window, batch occupancy (``sequence_s``, batching runs) and seconds down."""
    replicas: dict[str, Any] = {}
    nodes: dict[str, dict[str, Any]] = {}
    pools: dict[str, list[float]] = {}
    services: dict[str, Any] = {}
    g = 0
    for s in model.services:
        busy_total = slot_s = held_s = 0.0
        # batch size limit of a batching service (0: it does not batch)
        room = s.batching.max_size if s.batching is not None and sequence_s is not None else 0
        for r in s.replicas:
            busy, slots = float(busy_s[g]), s.concurrency * span
            replicas[r.name] = {"node": r.node, "pool": r.pool, "utilisation": busy / slots,
                                "served": int(served[g]), "down_s": float(down[g])}
            if room and sequence_s is not None:
                held = float(sequence_s[g])
                held_s += held
                replicas[r.name]["batch_occupancy"] = held / (slots * room)
            node = nodes.setdefault(r.node, {"pool": r.pool, "busy": 0.0, "slots": 0.0,
                                             "replicas": []})
            node["busy"] += busy
            node["slots"] += slots
            node["replicas"].append(r.name)
            pool = pools.setdefault(r.pool, [0.0, 0.0])
            pool[0] += busy
            pool[1] += slots
            busy_total += busy
            slot_s += slots
            g += 1
        services[s.name] = {"utilisation": _utilisation(busy_total, slot_s),
                            "replicas": len(s.replicas), "slots": len(s.replicas) * s.concurrency}
        if room:
            services[s.name]["batch_occupancy"] = _utilisation(held_s, slot_s * room)
    return {
        "replicas": replicas,
        "nodes": {name: {"pool": v["pool"], "utilisation": _utilisation(v["busy"], v["slots"]),
                         "replicas": v["replicas"]} for name, v in nodes.items()},
        "pools": {name: {"utilisation": _utilisation(b, s)} for name, (b, s) in pools.items()},
        "services": services,
    }


#: An SLO's ``status``: its requests were measured and met it, measured and missed it, or none arrived.
SLO_STATUSES = ("met", "missed", "no data")


def slo_entry(target_s: float, quantile: float, hits: int, arrived: int) -> dict[str, Any]:
    """A class's ``slo`` entry from ``hits`` (measured requests completed within ``target_s``) out of
    ``arrived`` (its measured requests): ``{target_s, quantile, attained, met, status}``; with no arrival,
    ``attained`` and ``met`` are ``None`` and ``status`` is ``"no data"`` (see the module docstring)."""
    if arrived == 0:
        return {"target_s": float(target_s), "quantile": float(quantile), "attained": None, "met": None,
                "status": "no data"}
    attained = hits / arrived
    met = bool(attained >= quantile)
    return {"target_s": float(target_s), "quantile": float(quantile), "attained": attained, "met": met,
            "status": "met" if met else "missed"}


def _utilisation(busy_s: float, slot_seconds: float) -> float | None:
    return float(busy_s / slot_seconds) if slot_seconds > 0 else None
