"""Sizing an LLM engine service: which GPU, which tensor-parallel degree and how many replicas meet every SLO
of its classes (latency, TTFT, TPOT) at the lowest cost.

**Candidates.** Every pool the service may use that names a GPU (`capacity.scenario.checks.llm_pools`)
gives one GPU type; each is tried at the tensor-parallel degrees 1, 2, 4, 8, ... up to the GPUs of one of
its nodes that split the model's heads and leave room for a KV cache (`capacity.llm.LlmEngine`; the others
are listed with the reason). A candidate's **cost** is ``replicas × TP × the pool's cost per GPU``
(``cost / GPUs per node``): the GPUs it occupies, whole nodes not rounded up (the final placement, by the
packer, prices whole nodes). Without a cost on every candidate pool the GPU count ranks them instead.

**Search.** Candidates are tried from the cheapest GPU-hour per replica; for each one the fewest replicas
that meet every SLO, as `capacity.sizing` searches a service (doubling from 1 with the scenario's seed,
bisecting, then every replication at the boundary), with one bound added: a count whose cost is already
above the cheapest candidate found so far is not simulated (the candidate is listed as dearer). The
replicas run on a virtual node of the candidate's pool (its GPU and speed).

**The answer** is the cheapest candidate that met every SLO with every seed (ties: fewer GPUs, then the
order tried); `capacity.sizing.size` writes it into the scenario (the service's pool, ``tensor_parallel``,
its GPU request and replicas) and places and simulates the result. The table of candidates — GPU, TP,
replicas, cost/h, TTFT p99, TPOT p99 (the first seed, at that count), met — is part of the result.

Units: seconds, costs per hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from capacity import sim
from capacity.llm import LlmEngine, LlmError
from capacity.scenario import Scenario, gpu_of
from capacity.scenario.checks import GPU_RESOURCES, llm_pools
from capacity.sim.model import RequestClass, ServingService, SimModel


@dataclass
class LlmCandidate:
    """One (GPU pool, TP) candidate and what its search found (``replicas`` None: none met the SLOs, or it
    was not searched; ``note`` says why)."""

    pool: str
    gpu: str
    tp: int
    cost_per_gpu_hour: float | None
    replicas: int | None = None
    ttft_p99_s: float | None = None
    tpot_p99_s: float | None = None
    met: bool = False
    note: str = ""

    @property
    def gpus(self) -> int | None:
        return None if self.replicas is None else self.replicas * self.tp

    @property
    def cost_per_hour(self) -> float | None:
        if self.replicas is None or self.cost_per_gpu_hour is None:
            return None
        return self.replicas * self.tp * self.cost_per_gpu_hour

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "gpu": self.gpu, "tp": self.tp, "replicas": self.replicas,
                "cost_per_hour": self.cost_per_hour, "ttft_p99_s": self.ttft_p99_s,
                "tpot_p99_s": self.tpot_p99_s, "met": self.met, "note": self.note}


@dataclass
class LlmSizing:
    """The chosen candidate of an LLM engine service and every candidate compared."""

    service: str
    chosen: LlmCandidate
    candidates: list[LlmCandidate]
    trials: list[Any]                    # `capacity.sizing.Trial`, every step of every candidate's search

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.chosen.pool, "gpu": self.chosen.gpu, "tensor_parallel": self.chosen.tp,
                "replicas": self.chosen.replicas, "cost_per_hour": self.chosen.cost_per_hour,
                "candidates": [c.to_dict() for c in self.candidates]}

    def table(self) -> list[str]:
        """The candidates as text: GPU, TP, replicas, cost/h, TTFT p99, TPOT p99, met."""
        lines = [f"LLM service {self.service}: candidates (GPU × TP × replicas, cheapest meeting every SLO "
                 "chosen)",
                 f"  {'pool':<12} {'GPU':<14} {'TP':>3} {'replicas':>8} {'cost/h':>9} {'TTFT p99':>9} "
                 f"{'TPOT p99':>9}  met"]
        for c in self.candidates:
            cost = "-" if c.cost_per_hour is None else f"{c.cost_per_hour:.2f}"
            ttft = "-" if c.ttft_p99_s is None else f"{c.ttft_p99_s * 1e3:.0f}ms"
            tpot = "-" if c.tpot_p99_s is None else f"{c.tpot_p99_s * 1e3:.1f}ms"
            replicas = "-" if c.replicas is None else str(c.replicas)
            mark = ("yes" if c.met else "no") + (" *" if c is self.chosen else "")
            lines.append(f"  {c.pool:<12} {c.gpu:<14} {c.tp:>3} {replicas:>8} {cost:>9} {ttft:>9} {tpot:>9}  "
                         f"{mark}{'  ' + c.note if c.note else ''}")
        return lines


def _candidates(scenario: Scenario, service: str) -> list[LlmCandidate]:
    """Every (pool, TP) candidate, in the order to try: cheapest GPU-hour first, then TP ascending."""
    svc = scenario.service(service)
    assert svc.serving is not None and svc.serving.llm is not None
    gpu_resource = next(r for r in svc.resources if r in GPU_RESOURCES)
    out = []
    for k in llm_pools(scenario, svc):
        pool = scenario.cluster.pools[k]
        if pool.gpu is None:
            continue
        per_node = int(pool.resources[gpu_resource])
        per_gpu = pool.cost / per_node if pool.cost is not None else None
        tp = 1
        while tp <= per_node:
            out.append(LlmCandidate(pool.name, gpu_of(pool.gpu).name, tp, per_gpu))
            tp *= 2
    out.sort(key=lambda c: (math.inf if c.cost_per_gpu_hour is None else c.cost_per_gpu_hour, c.tp))
    return out


def _p99(result: sim.SimResult, values: np.ndarray | None) -> float | None:
    if values is None:
        return None
    served = values[result.measured & result.completed]
    served = served[~np.isnan(served)]
    return float(np.quantile(served, 0.99)) if len(served) else None


def _missed_alone(engine: LlmEngine, speed: float, model: SimModel, result: sim.SimResult) -> str:
    """Why no replica count can help: a TTFT or TPOT target that too many requests miss even alone on an
    engine (prefill in one iteration, then decode steps of one request; ``""`` when none). The decode steps
    of a request alone are linear in its context, so their mean is the step at the mean context."""
    for k, c in enumerate(model.classes):
        mine = result.measured & (result.cls == k)
        tokens_in, tokens_out = result.input_tokens, result.output_tokens
        if not c.token_slos or not np.any(mine) or tokens_in is None or tokens_out is None:
            continue
        pairs = list(zip(tokens_in[mine].tolist(), tokens_out[mine].tolist(), strict=True))
        for t in c.token_slos:
            if t.metric == "ttft":
                alone = [engine.prefill_time(max(1, i)) / speed if o > 0 else 0.0 for i, o in pairs]
            else:
                alone = [engine.decode_step_time(1, max(1, i) + (o - 2) / 2) / speed if o >= 2 else 0.0
                         for i, o in pairs]
            share = float(np.mean(np.asarray(alone) <= t.target_s))
            if share < t.quantile:
                return (f"{t.metric} p{100 * t.quantile:g} missed even alone ({100 * share:.1f}% within): "
                        "no count helps")
    return ""


@dataclass(frozen=True)
class Search:
    """What `capacity.sizing` lends the search (passed in, so that this module does not import it): its
    evaluator class (``_Evaluator``), its one-seed bracket-and-bisect (``_bracket``), its boundary search
    with every seed (``_first_passing_from``) and its error."""

    evaluator: Callable[..., Any]
    bracket: Callable[[int, int, int, Callable[[int], bool]], int | None]
    first_passing: Callable[[int, int, Callable[[int], bool], str], int]
    error: type[Exception]


def size_llm_service(scenario: Scenario, svc: ServingService, classes: tuple[RequestClass, ...],
                     model: SimModel, seeds: list[int], rule: Callable[[Sequence[Any]], bool],
                     measure: str, max_replicas: int, max_requests: float, search: Search) -> LlmSizing:
    """The cheapest (GPU, TP, replicas) of the LLM engine service ``svc`` meeting every SLO of ``classes``
    (module docstring); ``search.error`` (`capacity.sizing.SizingError`) when no candidate does."""
    assert svc.llm is not None
    candidates = _candidates(scenario, svc.name)
    uses_cost = all(c.cost_per_gpu_hour is not None for c in candidates)
    best: LlmCandidate | None = None
    trials: list[Any] = []

    def price(c: LlmCandidate, n: int) -> float:
        return n * c.tp * (c.cost_per_gpu_hour if uses_cost and c.cost_per_gpu_hour is not None else 1.0)

    for cand in candidates:
        pool = scenario.pool(cand.pool)
        assert pool.gpu is not None
        gpu = gpu_of(pool.gpu)
        llm = replace(svc.llm, tensor_parallel=cand.tp)
        try:
            engine = LlmEngine.from_spec(llm.model, gpu, cand.tp, llm.dtype, llm.kv_dtype,
                                gpu_memory_utilization=llm.gpu_memory_utilization, block_size=llm.block_size,
                                max_num_seqs=llm.max_num_seqs,
                                max_num_batched_tokens=llm.max_num_batched_tokens)
        except LlmError as exc:
            cand.note = "does not fit" if "does not fit" in str(exc) else "TP does not split the heads"
            continue
        budget = math.inf if best is None else price(best, best.replicas or 0)

        def build(n: float, seed: int, *, _llm: sim.LlmServing = llm, _gpu: Any = gpu,
                  _speed: float = pool.speed) -> SimModel:
            replicas = tuple(sim.Replica(name=f"{svc.name}-{i}", node="virtual", pool="virtual", speed=_speed,
                                         gpu=_gpu) for i in range(int(n)))
            return replace(model, services=(replace(svc, replicas=replicas, llm=_llm),), classes=classes,
                           seed=seed, failures=())

        ev = search.evaluator(build, rule, measure, max_requests)
        limit = max_replicas
        while limit > 0 and price(cand, limit) > budget:
            limit -= 1
        if limit < 1:
            cand.note = "dearer than the best at 1 replica"
            continue

        floor = _missed_alone(engine, pool.speed, *ev.run(1, seeds[0]))
        if floor:
            cand.note = floor
            continue

        def one_seed(n: int, _ev: Any = ev) -> bool:
            return _ev.trial(n, seeds[:1]).passed

        bracketed = search.bracket(0, 1, limit, one_seed)
        found = bracketed is not None
        hi = limit if bracketed is None else bracketed
        if found:
            def every_seed(n: int, _ev: Any = ev) -> bool:
                return _ev.trial(n, seeds).passed

            try:
                hi = search.first_passing(hi, limit, every_seed, "")
            except search.error:
                found = False
        trials.extend(ev.trials)
        shown = hi if found else limit
        _, result = ev.run(shown, seeds[0])
        cand.replicas, cand.met = shown, found
        cand.ttft_p99_s, cand.tpot_p99_s = _p99(result, result.ttft_s), _p99(result, result.tpot_s)
        if not found:
            cand.note = (f"no count up to {limit} met every SLO" if limit == max_replicas
                         else f"dearer than the best below {limit + 1} replicas")
            continue
        if best is None or (price(cand, hi), hi * cand.tp) < (price(best, best.replicas or 0),
                                                             (best.replicas or 0) * best.tp):
            best = cand
    if best is None:
        raise search.error(f"service {svc.name!r}: no GPU, tensor-parallel degree and replica count up to "
                          f"{max_replicas} meets every SLO of its classes")
    return LlmSizing(svc.name, best, candidates, trials)
