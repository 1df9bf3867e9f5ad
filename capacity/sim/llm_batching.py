"""An LLM engine replica as vLLM runs it: iteration-level batching over a paged KV cache, chunked prefill,
preemption by recompute, and iteration times from the hardware (`capacity.llm`).

A service with ``llm`` (`capacity.sim.model.LlmServing`, batching mode ``llm``) runs here. Each replica is
**one engine** (concurrency 1) of ``tensor_parallel`` GPUs of its pool's type (`Replica.gpu`); its KV cache
holds `capacity.llm.LlmEngine.kv_capacity_blocks` blocks of ``block_size`` tokens. Requests wait in the
service's queue (its discipline and routing, as in `capacity.sim.batching`); at a decision point an engine
between iterations takes waiting requests into its own **waiting list** (vLLM's per-engine queue), up to
``max_num_seqs`` running plus waiting, to the engine with the fewest first (ties: lowest replica).

**A request's tokens.** A request with prompt ``in`` (at least 1 token) and ``out`` output tokens *knows*
``in + g`` tokens after generating ``g`` of them, and has ``computed`` of them in the KV cache. Each
iteration computes ``new`` tokens of it: ``known − computed`` split in chunks while it prefills, 1 while it
decodes (``known − computed = 1``: the token sampled last). When an iteration brings ``computed`` up to
``known``, the request samples a token: its first token comes at the end of its (last) prefill iteration,
as in vLLM, and each later one at the end of a decode step. It leaves when it has its ``out`` tokens (a
request with ``out = 0`` leaves after its prefill, with no token).

**Blocks and admission** (vLLM V0's block manager). A request holds ``ceil(tokens / block_size)`` blocks:
admission allocates the blocks of every token it knows (its prompt, or prompt and output so far after a
preemption), and a decode step that crosses a block boundary takes one more. A waiting request is admitted
only if its blocks fit and leave ``watermark × total`` blocks free (vLLM's ``watermark`` 0.01; an engine that
holds nothing admits its first request whenever it fits at all), in its waiting list's order (the first that
does not fit stops admission: no request overtakes). A request that could never fit — more ``in + out``
tokens than the smallest replica's KV cache holds (vLLM refuses a request longer than ``max_model_len``,
which must fit the cache) — is **rejected** on arrival.

**Preemption by recompute.** When a decode step needs a block and none is free, the engine preempts the
most recently admitted running request (the tail of the running list; itself if it is the tail): its blocks
are freed, its cache is dropped (``computed = 0``) and it goes to the front of the engine's waiting list,
to prefill its prompt and its output so far again (vLLM's ``RECOMPUTE`` mode). Nothing is lost; the
preemptions are counted. The request that was admitted first is never preempted, and a request alone fits
(the rejection rule), so every engine makes progress.

**One iteration** (``chunked_prefill``, vLLM's default and Sarathi-Serve's rule). The token budget is
``max_num_batched_tokens``. Running requests that decode go first (one token each, in admission order),
then running requests still prefilling (a chunk of ``min(remaining prompt, budget left)``), then waiting
requests are admitted (a first chunk each) while the budget lasts and fewer than ``max_num_seqs`` run. So
a long prompt never stalls the decodes: it is cut into chunks beside them.

**Unchunked** (``chunked_prefill: false``, vLLM V0's default scheduler): if any waiting request can be
admitted, the iteration is a **prefill-only** batch of the admissible waiting requests (whole prompts, their
sum within ``max_num_batched_tokens``; a first prompt longer than the budget runs alone), and the running
requests produce nothing meanwhile; otherwise it is a decode step of every running request.

**Iteration time** = `capacity.llm.LlmEngine.iteration_time` (the roofline, or a measured profile) of the
iteration's decodes (their cached context) and prefill chunks (tokens, cached context), divided by the
pool's ``speed`` (1 unless the scenario says otherwise). Engines are built once per GPU type: a replica's
speed and KV capacity follow the GPU of the pool it is placed on.

**What is measured** (`LlmRecord`, for the report): per replica, its KV capacity, the KV blocks in use
integrated over the window (time-average utilisation) and per time-series window, the output tokens it
generated inside the window, the preemptions it made; per class, a histogram of the **inter-token
latencies** (the gaps between consecutive tokens of a request; a preemption's recompute shows in its gap)
of its measured requests (`capacity.sim.histogram`: quantiles within 1.2 %). Busy time: an iteration
keeps its replica busy; its requests share it in proportion to the tokens each computes in it.

**Failures and lifecycle**: as in `capacity.sim.batching` — a failed replica's running and waiting requests
lose their progress (and their blocks) and are retried or lost; a draining replica under ``central``
routing runs what it holds to the end.

Times are seconds, memory in blocks of ``block_size`` tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from math import log10
from typing import ClassVar

import numpy as np
import simpy
from simpy.events import URGENT

from capacity.llm import GpuSpec, LlmEngine, LlmError
from capacity.sim.batcher import Batcher, BatchRecords
from capacity.sim.disciplines import EMPTY
from capacity.sim.events import Callbacks, Tick
from capacity.sim.histogram import ITL_BINS, ITL_BINS_PER_DECADE, ITL_LOW_S
from capacity.sim.metrics import window_edges
from capacity.sim.model import LlmServing, ServingService, SimModel
from capacity.sim.replicas import Fleet, ServingReplica


def build_engine(llm: LlmServing, replica_gpu: object) -> LlmEngine:
    """The engine of one replica: the service's model on ``tensor_parallel`` GPUs of its pool's type."""
    return LlmEngine.from_spec(
        llm.model, replica_gpu, llm.tensor_parallel, llm.dtype, llm.kv_dtype,  # type: ignore[arg-type]
        gpu_memory_utilization=llm.gpu_memory_utilization, block_size=llm.block_size,
        max_num_seqs=llm.max_num_seqs, max_num_batched_tokens=llm.max_num_batched_tokens,
        efficiency=llm.efficiency, profile=llm.profile)


@dataclass
class LlmRecord:
    """What the engines of one LLM service measured (see the module docstring). Per-replica lists are in
    the service's local replica order."""

    service: str
    block_size: int
    windows: np.ndarray                                   # time-series window edges (s)
    classes: tuple[int, ...] = ()                         # the classes it serves (indices)
    replicas: list[int] = field(default_factory=list)     # per replica: its global index in the run
    gpu_names: list[str] = field(default_factory=list)    # per replica: its GPU
    kv_blocks: list[int] = field(default_factory=list)   # per replica: its KV capacity (blocks)
    gpus: list[int] = field(default_factory=list)         # per replica: GPUs it takes (tensor_parallel)
    kv_block_s: list[float] = field(default_factory=list)  # per replica: blocks in use × s in the window
    kv_series: list[np.ndarray] = field(default_factory=list)  # per replica: blocks in use × s per window
    output_tokens: list[int] = field(default_factory=list)  # per replica: tokens generated in the window
    preemptions: list[int] = field(default_factory=list)  # per replica: requests it preempted (whole run)
    itl: dict[int, list[int]] = field(default_factory=dict)  # class index -> inter-token gap histogram
    itl_sum: dict[int, float] = field(default_factory=dict)   # class index -> sum of its gaps (s)
    itl_max: dict[int, float] = field(default_factory=dict)   # class index -> its longest gap (s)

    @property
    def kv_capacity_tokens(self) -> list[int]:
        """Per replica, the tokens its KV cache holds."""
        return [b * self.block_size for b in self.kv_blocks]


class LlmBatcher(Batcher):
    """An LLM engine per replica: see the module docstring."""

    mode: ClassVar[str] = "llm"
    tokens: ClassVar[bool] = True
    parameters: ClassVar[tuple[str, ...]] = ()
    base_time: ClassVar[bool] = False

    def __init__(self, env: simpy.Environment, fleet: Fleet, model: SimModel, index: int,
                 rec: BatchRecords) -> None:
        super().__init__(env, fleet, model, index, rec)
        llm = self.svc.llm
        assert llm is not None
        self.llm = llm
        self.block_size = llm.block_size
        self.chunked = llm.chunked_prefill
        self.budget = llm.max_num_batched_tokens
        self.max_seqs = llm.max_num_seqs
        n = len(rec.arrival)
        self.computed = [0] * n                            # tokens of each request in the KV cache
        self.generated = [0] * n                           # output tokens it has produced
        self.kv_held = [0] * n                             # KV blocks it holds
        inputs = rec.input_tokens
        self.prompt = [max(1, x) for x in inputs] if inputs else [1] * n   # a prompt has a token at least
        self.known = list(self.prompt)                     # prompt + output tokens so far
        self.last_token = [0.0] * n                        # when it produced its last token
        self._engines: dict[GpuSpec, LlmEngine] = {}
        lo, hi = rec.window
        self.record = LlmRecord(self.svc.name, llm.block_size, window_edges(lo, hi, model.interval_s),
                                tuple(k for k, c in enumerate(model.classes) if c.service == self.svc.name))
        self._class_of: list[int] = rec.cls.tolist() if len(rec.cls) else []
        self._measured_lo, self._measured_hi = lo, hi
        self.engine: list[LlmEngine] = []
        self.total_blocks: list[int] = []
        self.free_blocks: list[int] = []
        self.watermark_blocks: list[int] = []
        self.running: list[list[int]] = []                 # per engine: admission order
        self.local: list[deque[int]] = []                  # per engine: its waiting list
        self.plan: list[list[tuple[int, int, bool]]] = []  # per engine: (request, new tokens, decode)
        self.iteration_start: list[float] = []
        self.used_now: list[int] = []                      # blocks in use during the current iteration
        for replica in self.replicas:
            self._add_engine(replica)
        self.max_tokens = min((b * self.block_size for b in self.total_blocks), default=0)
        self.boundary: list[list[int]] = [[] for _ in range(self.n_groups)]
        self._done_callbacks: Callbacks = [self._on_iteration]
        rec.llm.append(self.record)

    @classmethod
    def validate_service(cls, svc: ServingService, bad: Callable[[str, str, object], ValueError]) -> None:
        """One engine per replica, settings in range, a GPU for every replica, and a model that fits it."""
        llm = svc.llm
        assert llm is not None
        where = f"services.{svc.name}"
        if svc.concurrency != 1:
            raise bad(f"{where}.concurrency", "an LLM engine replica is one engine: concurrency must be 1",
                      svc.concurrency)
        if not 0 <= llm.watermark < 1:
            raise bad(f"{where}.llm.watermark", "must be in [0, 1)", llm.watermark)
        for key in ("max_num_seqs", "max_num_batched_tokens"):
            if getattr(llm, key) < 1:
                raise bad(f"{where}.llm.{key}", "must be at least 1", getattr(llm, key))
        checked: set[GpuSpec] = set()
        for r in svc.replicas:
            if r.gpu is None:
                raise bad(f"{where}.replicas.{r.name}.gpu", f"pool {r.pool} names no GPU "
                          "(cluster.pools[].gpu), which an LLM engine needs", None)
            if r.gpu not in checked:
                checked.add(r.gpu)
                try:
                    build_engine(llm, r.gpu)
                except LlmError as exc:
                    raise bad(f"{where}.llm", str(exc), llm.model.name) from None

    # ----------------------------------------------------------------------------------------- engines

    def _add_engine(self, replica: ServingReplica) -> None:
        gpu = replica.spec.gpu
        if gpu is None:
            raise ValueError(f"replica {replica.name}: an LLM engine replica needs the GPU of its pool")
        key = gpu
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = build_engine(self.llm, gpu)
        blocks = engine.kv_capacity_blocks
        self.engine.append(engine)
        self.total_blocks.append(blocks)
        self.free_blocks.append(blocks)
        self.watermark_blocks.append(int(self.llm.watermark * blocks))
        self.running.append([])
        self.local.append(deque())
        self.plan.append([])
        self.iteration_start.append(0.0)
        self.used_now.append(0)
        r = self.record
        r.replicas.append(replica.index)
        r.gpu_names.append(gpu.name)
        r.kv_blocks.append(blocks)
        r.gpus.append(self.llm.tensor_parallel)
        r.kv_block_s.append(0.0)
        r.kv_series.append(np.zeros(len(r.windows) - 1))
        r.output_tokens.append(0)
        r.preemptions.append(0)

    def _grow_slots(self, n: int) -> None:
        self._add_engine(self.replicas[-1])
        self.max_tokens = min(self.max_tokens, self.total_blocks[-1] * self.block_size)
        if self.per_replica:
            self.boundary.append([])

    def _decoding(self, j: int) -> bool:
        """Whether request ``j`` decodes: it has a token and only that last one is not cached."""
        return self.generated[j] > 0 and self.known[j] - self.computed[j] == 1

    def _blocks(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    # ----------------------------------------------------------------------------------------- arrivals

    def readmit(self, i: int, now: float) -> bool:
        outputs = self.rec.output_tokens
        if self.prompt[i] + (outputs[i] if outputs else 0) > self.max_tokens:
            return False                               # longer than any engine's KV cache holds
        return super().readmit(i, now)

    # ----------------------------------------------------------------------------------------- decisions

    def decide(self, g: int, t: float) -> None:
        now = self.env._now
        if self.timeout is not None:
            self.expire(now)
        serving = self.serving
        ready = [s for s in self.boundary[g] if serving[s]]
        finishing = [s for s in self.boundary[g] if not serving[s]]
        self.boundary[g] = []
        if self.waiting[g]:
            idle = [s for r in self.replicas_of(g) if serving[r] for s in self.free[r]]
            for r in self.replicas_of(g):
                if serving[r]:
                    self.free[r] = []
            ready.extend(idle)
            heap = [(self._load(s), s) for s in ready if self._load(s) < self.max_seqs]
            heapify(heap)
            while self.waiting[g] and heap:
                load, s = heappop(heap)
                j = self.take(g)
                if j == EMPTY:
                    break
                self.local[s].append(j)
                self.rec.replica_of[j] = self.global_of[s]
                if load + 1 < self.max_seqs:
                    heappush(heap, (load + 1, s))
        for s in sorted(ready + finishing):
            self.start_iteration(s, now)

    def _load(self, s: int) -> int:
        return len(self.running[s]) + len(self.local[s])

    def requests_in_service(self) -> int:
        """Requests an engine holds: admitted to its batch, or routed to it and waiting for KV blocks."""
        return sum(len(r) + len(q) for r, q in zip(self.running, self.local, strict=True))

    def _preempt(self, s: int) -> int:
        """Preempt the most recently admitted running request of engine ``s`` (recompute); return it."""
        v = self.running[s].pop()
        self.free_blocks[s] += self.kv_held[v]
        self.kv_held[v] = 0
        self.computed[v] = 0
        self.local[s].appendleft(v)
        self.record.preemptions[s] += 1
        return v

    def _admit(self, s: int, budget: int, plan: list[tuple[int, int, bool]], whole: bool) -> int:
        """Admit waiting requests of engine ``s`` into ``plan`` (a first chunk each, or the whole prompt when
        ``whole``) while the budget, ``max_num_seqs`` and the blocks allow; return the budget left."""
        local, running = self.local[s], self.running[s]
        while local and budget > 0 and len(running) < self.max_seqs:
            j = local[0]
            known = self.known[j]
            need = self._blocks(known)
            free = self.free_blocks[s]
            if need > free or (running and free - need < self.watermark_blocks[s]):
                break
            if whole:
                if known > budget and plan:
                    break
                n = known
            else:
                n = min(known, budget)
            local.popleft()
            running.append(j)
            self.kv_held[j] = need
            self.free_blocks[s] = free - need
            rec = self.rec
            if rec.start_s[j] != rec.start_s[j]:        # NaN: its first start
                rec.start_s[j] = self.env._now
            plan.append((j, n, False))
            budget -= n
        return budget

    def _decodes(self, s: int, budget: int, plan: list[tuple[int, int, bool]]) -> int:
        """One decode token for each running request that decodes (admission order), preempting the tail
        when a block is missing; return the budget left."""
        running, computed, held = self.running[s], self.computed, self.kv_held
        known, generated = self.known, self.generated
        size = self.block_size
        i = 0
        while i < len(running) and budget > 0:
            j = running[i]
            if not generated[j] or known[j] - computed[j] != 1:
                i += 1                                 # still prefilling
                continue
            if computed[j] // size + 1 > held[j]:       # its next token opens a new block
                while self.free_blocks[s] == 0:
                    if self._preempt(s) == j:
                        return budget
                self.free_blocks[s] -= 1
                held[j] += 1
            plan.append((j, 1, True))
            budget -= 1
            i += 1
        return budget

    def _schedule(self, s: int) -> list[tuple[int, int, bool]]:
        """The (request, new tokens) of the next iteration of engine ``s`` (see the module docstring)."""
        plan: list[tuple[int, int, bool]] = []
        budget = self.budget
        if not self.chunked:
            self._admit(s, budget, plan, whole=True)
            if not plan:
                self._decodes(s, budget, plan)
            return plan
        budget = self._decodes(s, budget, plan)
        computed = self.computed
        for j in self.running[s]:
            if budget <= 0:
                break
            if not self._decoding(j):                  # prefilling (decodes were scheduled above)
                n = min(self.known[j] - computed[j], budget)
                plan.append((j, n, False))
                budget -= n
        self._admit(s, budget, plan, whole=False)
        return plan

    def start_iteration(self, s: int, now: float) -> None:
        """Run the next iteration on engine ``s``, or leave it idle when it holds nothing to do."""
        plan = self.plan[s] = self._schedule(s)
        if not plan:
            self.ticks[s] = None
            self.release(s)                            # idle
            return
        computed = self.computed
        decodes = [computed[j] for j, _, decode in plan if decode]
        chunks = [(n, computed[j]) for j, n, decode in plan if not decode]
        duration = self.engine[s].iteration_time(decodes, chunks) / self.speed[s]
        self.iteration_start[s] = now
        self.used_now[s] = self.total_blocks[s] - self.free_blocks[s]
        tick = self.ticks[s] = Tick(self.env, s)
        tick.callbacks = self._done_callbacks
        self.env.schedule(tick, URGENT, duration)

    def _account(self, s: int, now: float) -> None:
        """Busy time, KV use and the requests' shares of the iteration on ``s`` from its start to ``now``."""
        start, plan = self.iteration_start[s], self.plan[s]
        busy = self.account(s, start, now, len(self.running[s]))
        used = self.used_now[s]
        r = self.record
        r.kv_block_s[s] += used * busy
        if busy > 0.0:
            edges = r.windows
            k = max(0, int(np.searchsorted(edges, start, side="right")) - 1)
            series = r.kv_series[s]
            lo = max(start, float(edges[0]))
            while k < len(series) and lo < now:
                hi = min(now, float(edges[k + 1]))
                if hi > lo:
                    series[k] += used * (hi - lo)
                lo = hi
                k += 1
            total = sum(n for _, n, _ in plan)
            for j, n, _ in plan:
                self.rec.busy_request[j] += busy * n / total

    def _on_iteration(self, tick: Tick) -> None:
        s = tick.slot
        if tick is not self.ticks[s]:
            return                                     # an iteration of a failed replica
        now = self.env._now
        self._account(s, now)
        rec, computed, generated, known = self.rec, self.computed, self.generated, self.known
        outputs, arrival, last_token = rec.output_tokens, rec.arrival, self.last_token
        class_of = self._class_of
        lo, hi = self._measured_lo, self._measured_hi
        record = self.record
        in_window = lo <= now <= hi
        tokens = 0
        done: list[int] = []
        for j, n, _ in self.plan[s]:
            computed[j] += n
            if computed[j] < known[j]:
                continue                               # a prefill chunk that is not the last
            out = outputs[j] if outputs else 0
            if out <= 0:
                done.append(j)                         # a prefill with nothing to generate
                continue
            tokens += 1
            if not generated[j]:                       # its first token (again, after a failure)
                rec.first_token_s[j] = now
            elif lo <= arrival[j] < hi:
                k = class_of[j]
                hist = record.itl.get(k)
                if hist is None:
                    hist = record.itl[k] = [0] * ITL_BINS
                    record.itl_sum[k] = record.itl_max[k] = 0.0
                gap = now - last_token[j]
                b = int(log10(gap / ITL_LOW_S) * ITL_BINS_PER_DECADE) if gap > ITL_LOW_S else 0  # itl_bin
                hist[b if b < ITL_BINS else ITL_BINS - 1] += 1
                record.itl_sum[k] += gap
                if gap > record.itl_max[k]:
                    record.itl_max[k] = gap
            generated[j] += 1
            known[j] += 1
            last_token[j] = now
            if generated[j] >= out:
                done.append(j)
        if in_window:
            record.output_tokens[s] += tokens
        if done:
            running = self.running[s]
            gone = set(done)
            self.running[s] = [j for j in running if j not in gone]
            for j in done:
                self.free_blocks[s] += self.kv_held[j]
                self.kv_held[j] = 0
                self.finish(j, now)
        self.plan[s] = []
        self.ticks[s] = None
        g = self.group_of_replica(s)
        self.boundary[g].append(s)
        self.request_decision(g)

    # ----------------------------------------------------------------------------------------- failures

    def in_flight(self, slot: int) -> list[int]:
        s = slot
        if self.ticks[s] is not None:                  # an iteration is under way: count it so far
            self._account(s, self.env._now)
        members = list(self.running[s]) + list(self.local[s])
        for j in members:
            self.computed[j] = 0
            self.generated[j] = 0
            self.known[j] = self.prompt[j]
            self.kv_held[j] = 0
        self.free_blocks[s] = self.total_blocks[s]
        self.running[s], self.local[s], self.plan[s] = [], deque(), []
        return members

    def _take_down(self, replica: ServingReplica, was: object, now: float) -> list[int]:
        r = replica.local
        g = self.group_of_replica(r)
        out = super()._take_down(replica, was, now)  # type: ignore[arg-type]
        self.boundary[g] = [s for s in self.boundary[g] if s != r]
        return out

    def _holds_nothing(self, replica: ServingReplica) -> bool:
        r = replica.local
        if self.running[r] or self.local[r]:
            return False
        return super()._holds_nothing(replica)
