"""Cross-checks: the rules pydantic cannot express per field, each problem as ``(loc, message)``.

Names refer to what exists (pools, services, labels, nodes), parameters go with the process, batching and
service-time forms go together, failures and existing placements name nodes a plan can have, token-priced
queues have token counts, and trace files lie in the allowed folders (`capacity.sandbox`) and exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capacity.packing.existing import overflow as existing_overflow
from capacity.packing.objectives import OBJECTIVES, names_text
from capacity.sandbox import allowed_dirs, outside_problem
from capacity.scenario.cluster import gpu_of
from capacity.scenario.document import Scenario
from capacity.scenario.kubernetes import KubernetesSection
from capacity.scenario.paths import resolve_path
from capacity.scenario.services import Service, Serving
from capacity.scenario.travel import path_problems
from capacity.scenario.workload import Arrivals
from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.service_times import SERVICE_TIMES


def check_references(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules pydantic cannot express per field; each problem as (loc, message)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def unique(items: Sequence[Any], section: tuple[str | int, ...], what: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                problems.append(((*section, i, "name"), f"duplicate {what} name {item.name!r}"))
            seen.add(item.name)

    unique(s.cluster.pools, ("cluster", "pools"), "pool")
    unique(s.services, ("services",), "service")
    pools = {p.name for p in s.cluster.pools}
    for i, svc in enumerate(s.services):
        st = svc.serving.service_time if svc.serving else None
        if svc.serving is not None and svc.serving.llm is not None:
            problems.extend(llm_problems(s, i))
        elif svc.serving is not None:
            problems.extend(_serving_problems(s, svc.serving, ("services", i, "serving")))
        if st is not None:
            at: tuple[str | int, ...] = ("services", i, "serving", "service_time", "cv")
            problems.extend(_cv_problems(st.distribution, st.cv, at))
        for j, pool in enumerate(svc.pools or []):
            if pool not in pools:
                problems.append(((("services", i, "pools", j)),
                                 f"no pool named {pool!r} (pools: {', '.join(sorted(pools))})"))
    services = {svc.name: svc for svc in s.services}
    if s.workload is not None:
        if s.workload.warmup >= s.workload.duration:
            problems.append((("workload", "warmup"),
                             f"warmup ({s.workload.warmup:g}s) must be shorter than duration "
                             f"({s.workload.duration:g}s)"))
        unique(s.workload.classes, ("workload", "classes"), "class")
        for i, cls in enumerate(s.workload.classes):
            target = services.get(cls.service)
            if target is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"no service named {cls.service!r} (services: {', '.join(services)})"))
            elif target.serving is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"service {cls.service!r} has no 'serving' section, so it cannot "
                                 "serve requests"))
            problems.extend(_arrival_problems(cls.arrivals, ("workload", "classes", i, "arrivals")))
            problems.extend(path_problems(cls, services, ("workload", "classes", i)))
            serving = target.serving if target is not None else None
            if (serving is not None and serving.times.form == "tokens" and cls.tokens is None
                    and cls.arrivals.process != "trace"):
                problems.append((("workload", "classes", i, "tokens"),
                                 f"service {cls.service!r} has a token service time: give the class "
                                 "token counts (tokens: {input: ..., output: ...}) or trace arrivals"))
            if serving is not None and serving.batching is not None and cls.admission == "deadline":
                problems.append((("workload", "classes", i, "admission"),
                                 "deadline-aware admission is not available with batching"))
        problems.extend(_token_problems(s))
    if isinstance(s.placement.headroom, Mapping):
        known = {r for p in s.cluster.pools for r in p.resources}
        for r in s.placement.headroom:
            if r not in known:
                problems.append((("placement", "headroom", r),
                                 f"no pool declares resource {r!r} (resources: {', '.join(sorted(known))})"))
    objective = OBJECTIVES.get(s.placement.objective)
    if objective is not None and objective.needs_costs:
        for i, p in enumerate(s.cluster.pools):
            if p.cost is None:
                problems.append((("cluster", "pools", i, "cost"),
                                 f"objective {objective.name} needs a cost on every pool"))
    if s.kubernetes is not None:
        problems.extend(_kubernetes_problems(s, s.kubernetes))
    problems.extend(_failure_admission_problems(s))
    problems.extend(_placement_constraint_problems(s))
    return problems


def _placement_constraint_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Label selectors, spread, survive, existing placements and move costs (`capacity.packing`)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    labels = sorted({k for p in s.cluster.pools for k in p.labels})
    known = f"(labels: {', '.join(labels) or 'none'})"
    for i, svc in enumerate(s.services):
        for key in svc.node_selector or {}:
            if key not in labels:
                problems.append((("services", i, "node_selector", key), f"no pool has label {key!r} {known}"))
        if svc.spread is not None and svc.spread.topology not in (*labels, "kubernetes.io/hostname"):
            problems.append((("services", i, "spread", "topology"),
                             f"no pool has label {svc.spread.topology!r} {known}"))
        if svc.survive is not None:
            if svc.survive.failures == "1 node" and svc.survive.topology is not None:
                problems.append((("services", i, "survive", "topology"),
                                 "topology applies to failures: 1 zone"))
            zone = svc.survive.topology or "zone"
            if svc.survive.failures == "1 zone" and zone not in labels:
                key = "topology" if svc.survive.topology else "failures"
                problems.append((("services", i, "survive", key),
                                 f"failures: 1 zone needs pools labelled {zone!r} {known}"))
    pools = {p.name: p for p in s.cluster.pools}
    services = {svc.name: svc for svc in s.services}
    for i, svc in enumerate(s.services):
        for kind in ("anti_affinity", "affinity"):
            for j, term in enumerate(getattr(svc, kind) or ()):
                if term.service not in services:
                    problems.append((("services", i, kind, j, "service"),
                                     f"no service named {term.service!r} (services: {', '.join(services)})"))
                if term.topology not in (*labels, "kubernetes.io/hostname"):
                    problems.append((("services", i, kind, j, "topology"),
                                     f"no pool has label {term.topology!r} {known}"))
    for node, counts in s.placement.existing.items():
        pool, sep, index = node.rpartition("-")
        where = ("placement", "existing", node)
        checkable = True
        if not sep or pool not in pools or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
            problems.append((where, f"a node name is <pool>-<index> of a pool (pools: {', '.join(pools)})"))
            checkable = False
        elif int(index) >= pools[pool].count:
            problems.append((where, f"pool {pool!r} has {pools[pool].count} nodes, numbered from 0"))
            checkable = False
        for name, k in counts.items():
            if name not in services:
                problems.append(((*where, name),
                                 f"no service named {name!r} (services: {', '.join(services)})"))
                checkable = False
            elif k < 0:
                problems.append(((*where, name), f"replicas must be 0 or more (got {k})"))
                checkable = False
        if checkable:   # the node holds what runs on it (capacity before headroom: capacity.packing.existing)
            why = existing_overflow(counts, {n: services[n].resources for n in counts}, pools[pool].resources)
            if why is not None:
                problems.append((where, why))
    objective = OBJECTIVES.get(s.placement.objective)
    if objective is not None and objective.needs_existing and not s.placement.existing:
        problems.append((("placement", "objective"),
                         f"{objective.name} needs placement.existing (the running placement)"))
    if objective is not None and s.placement.move_cost and not objective.prices_moves:
        priced = names_text(o.name for o in OBJECTIVES.values() if o.prices_moves)
        problems.append((("placement", "move_cost"),
                         f"move_cost applies to objectives {priced}, not {objective.name}"))
    return problems


def _failure_admission_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Failures name nodes that a plan can have (``POOL-INDEX``, index below the pool's count), zones
    that some pool is labelled with, existing pools, and a time inside the workload; a class with
    ``admission: deadline`` has an SLO."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    counts = {p.name: p.count for p in s.cluster.pools}
    zones = sorted({p.labels["zone"] for p in s.cluster.pools if "zone" in p.labels})
    for i, f in enumerate(s.failures):
        where: tuple[str | int, ...] = ("failures", i)
        if s.workload is None:
            problems.append((where, "failures need a workload to simulate"))
        elif f.at >= s.workload.duration:
            problems.append(((*where, "at"), f"must be before the end of the workload "
                                            f"({f.at:g}s >= duration {s.workload.duration:g}s)"))
        if f.node is not None:
            pool, _, index = f.node.rpartition("-")
            if (pool not in counts or not index.isdigit() or str(int(index)) != index
                    or int(index) >= counts[pool]):
                ranges = ", ".join(f"{p}-0..{p}-{c - 1}" for p, c in counts.items())
                problems.append(((*where, "node"), f"no node {f.node!r}: nodes are named POOL-INDEX as in "
                                                   f"the placement (nodes: {ranges})"))
        if f.zone is not None and f.zone not in zones:
            problems.append(((*where, "zone"), f"no pool has the label zone: {f.zone} "
                                               f"(zones: {', '.join(zones) or 'none'})"))
        if f.pool is not None and f.pool not in counts:
            problems.append(((*where, "pool"), f"no pool named {f.pool!r} (pools: {', '.join(counts)})"))
    if s.workload is not None:
        for i, cls in enumerate(s.workload.classes):
            if cls.admission == "deadline" and (cls.slo is None or cls.slo.latency_target is None):
                problems.append((("workload", "classes", i, "admission"),
                                 "deadline admission drops requests that would miss the SLO: "
                                 "give the class an slo with a latency target"))
    return problems


def _kubernetes_problems(s: Scenario, k8s: KubernetesSection) -> list[tuple[tuple[str | int, ...], str]]:
    """The ``kubernetes`` section names existing services and pools, and no more nodes than a pool has."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    services = {svc.name for svc in s.services}
    for name in k8s.workloads:
        if name not in services:
            problems.append((("kubernetes", "workloads", name), f"no service named {name!r}"))
    counts = {p.name: p.count for p in s.cluster.pools}
    for name, pools in k8s.excluded.items():
        if name not in services:
            problems.append((("kubernetes", "excluded", name), f"no service named {name!r}"))
        for pool in pools:
            if pool not in counts:
                problems.append((("kubernetes", "excluded", name, pool), f"no pool named {pool!r}"))
    seen: set[str] = set()
    for pool, nodes in k8s.nodes.items():
        if pool not in counts:
            problems.append((("kubernetes", "nodes", pool), f"no pool named {pool!r}"))
        elif len(nodes) > counts[pool]:
            problems.append((("kubernetes", "nodes", pool),
                             f"{len(nodes)} nodes listed but the pool has count {counts[pool]}"))
        for j, node in enumerate(nodes):
            if node in seen:
                problems.append((("kubernetes", "nodes", pool, j), f"node {node!r} is listed twice"))
            seen.add(node)
    return problems


def _serving_problems(s: Scenario, serving: Serving, where: tuple[str | int, ...]
                      ) -> list[tuple[tuple[str | int, ...], str]]:
    """Batching and service-time forms that do not go together (see `ServiceTime` and `Batching`)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    st, b = serving.times, serving.batching
    form = st.form
    mode = b.mode if b is not None else None
    discipline = serving.queue.discipline or s.scheduling.discipline
    if form == "batch" and mode is None:
        problems.append(((*where, "service_time", "per_item"),
                         "a batch latency {base, per_item} needs dynamic batching: add batching: "
                         "{max_size: ..., max_delay: ...}"))
    if mode == "dynamic" and form != "batch":
        problems.append(((*where, "batching", "mode"),
                         "dynamic batching needs a batch latency: service_time: {base: ..., per_item: ...} "
                         "(a batch of k takes base + per_item·k)"))
    if mode == "continuous" and form != "tokens":
        problems.append(((*where, "batching", "mode"),
                         "continuous batching needs a token service time: service_time: {base: ..., "
                         "per_input_token: ..., per_output_token: ...}"))
    if b is not None and b.max_delay is not None and mode != "dynamic":
        problems.append(((*where, "batching", "max_delay"), "max_delay applies to mode dynamic"))
    if b is not None and b.step_growth is not None and mode != "continuous":
        problems.append(((*where, "batching", "step_growth"), "step_growth applies to mode continuous"))
    if DISCIPLINES[discipline].preemptive and (b is not None or form == "tokens"):
        at = (*where, "queue", "discipline") if serving.queue.discipline else ("scheduling", "discipline")
        what = "a batching service" if b is not None else "a token service"
        problems.append((at, f"{what} cannot use the {discipline} discipline"))
    if b is not None and serving.queue.max_length == 0:
        problems.append(((*where, "queue", "max_length"),
                         "a batching service needs waiting places (>= 1): requests wait to form a batch"))
    if b is not None and serving.queue.admission == "deadline":
        problems.append(((*where, "queue", "admission"),
                         "deadline-aware admission is not available with batching"))
    return problems


def _cv_problems(dist: str, cv: float | None, loc: tuple[str | int, ...]
                 ) -> list[tuple[tuple[str | int, ...], str]]:
    """A ``cv`` given to a distribution whose cv is fixed by definition (`capacity.sim.service_times`)."""
    fixed = SERVICE_TIMES[dist].fixed_cv
    if cv is None or fixed is None or cv == fixed:
        return []
    free = " or ".join(name for name, d in SERVICE_TIMES.items() if d.fixed_cv is None)
    return [(loc, f"the cv of the {dist} distribution is {fixed:g}; use dist: {free} for another cv")]


def _arrival_problems(a: Arrivals, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Parameters given to a process that does not use them, required ones missing, times of day."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    accepted = ARRIVAL_PROCESSES[a.process].parameters
    for key in ("rate", "cv", "on", "off", "amplitude", "period", "peak_at", "start", "file", "format",
                "time_scale", "rate_scale", "steps"):
        if getattr(a, key) is not None and key not in accepted:
            users = [name for name, p in ARRIVAL_PROCESSES.items() if key in p.parameters]
            if key == "rate" and a.process == "steps":
                problems.append(((*where, key), "steps arrivals take their rates from steps"))
                continue
            if key == "rate":
                problems.append(((*where, key), "a trace brings its own rate: change it with rate_scale "
                                                "(more or fewer requests) or time_scale (stretch time)"))
                continue
            problems.append(((*where, key), f"{key!r} applies to process {' or '.join(users)}, "
                                            f"not {a.process}"))
    for key in ARRIVAL_PROCESSES[a.process].required:
        if getattr(a, key) is None:
            problems.append(((*where, key), f"process {a.process} needs {key!r}"))
    if a.process == "steps" and a.steps:
        if a.steps[0].at != 0:
            problems.append(((*where, "steps", 0, "at"), "the first step starts at 0"))
        for k in range(1, len(a.steps)):
            if a.steps[k].at <= a.steps[k - 1].at:
                now, before = a.steps[k].at, a.steps[k - 1].at
                message = f"each step starts after the one before it ({now:g}s <= {before:g}s)"
                problems.append(((*where, "steps", k, "at"), message))
                break
    if a.process == "diurnal":
        period = a.period if a.period is not None else 86_400.0
        for key in ("peak_at", "start"):
            value = getattr(a, key)
            if value is not None and value >= period:
                problems.append(((*where, key), f"{key} is a time of day and must be shorter than the "
                                                f"period ({value:g}s >= {period:g}s)"))
    return problems


def _token_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Token specs, tenant splits and token-priced queues: what each needs of the rest of the scenario."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if s.workload is None:
        return problems
    for i, cls in enumerate(s.workload.classes):
        where: tuple[str | int, ...] = ("workload", "classes", i)
        trace = cls.arrivals.process == "trace"
        if cls.tokens is not None and trace:
            problems.append(((*where, "tokens"), "a trace gives each request's token counts: remove "
                                                 "tokens (or use a synthetic process)"))
        for part in ("input", "output"):
            spec = getattr(cls.tokens, part) if cls.tokens is not None else None
            if spec is None:
                continue
            problems.extend(_cv_problems(spec.dist, spec.cv, (*where, "tokens", part, "cv")))
            if spec.max is not None and spec.max < spec.min:
                problems.append(((*where, "tokens", part, "max"),
                                 f"max ({spec.max}) must be at least min ({spec.min})"))
        if cls.tenants is not None:
            if not trace:
                problems.append(((*where, "tenants"), "tenants splits a trace's requests; for "
                                                      "synthetic traffic give one class per tenant"))
            if "tenant" in cls.model_fields_set:
                problems.append(((*where, "tenant"), "the tenants section names the tenants: remove "
                                                     "tenant"))
            if cls.tenants.weights is not None and "weight" in cls.model_fields_set:
                problems.append(((*where, "weight"), "tenants.weights gives each tenant's weight: "
                                                     "remove weight"))
    for i, svc in enumerate(s.services):
        if svc.serving is None or svc.serving.queue.cost != "tokens":
            continue
        discipline = svc.serving.queue.discipline or s.scheduling.discipline
        if not DISCIPLINES[discipline].tenant_aware:
            fair = ", ".join(name for name, d in DISCIPLINES.items() if d.tenant_aware)
            problems.append((("services", i, "serving", "queue", "cost"),
                             f"cost applies to the fair disciplines ({fair}), not {discipline}"))
        for j, cls in enumerate(s.workload.classes):
            if cls.service == svc.name and cls.tokens is None and cls.arrivals.process != "trace":
                problems.append((("workload", "classes", j, "tokens"),
                                 f"service {svc.name!r} charges tokens (queue.cost: tokens), so this "
                                 "class needs token counts: a tokens section, or trace arrivals"))
    return problems


def trace_file_problems(s: Scenario, source: str,
                         data_dirs: Sequence[Path]) -> list[tuple[tuple[str | int, ...], str]]:
    """Trace files outside the allowed folders (`capacity.sandbox`: checked first, so that nothing is said
    of a file outside), then those that are missing or not regular files (the pipeline reads them; loading
    only looks)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    allowed = allowed_dirs(source, data_dirs)
    for i, cls in enumerate(s.workload.classes if s.workload is not None else []):
        if cls.arrivals.process == "trace" and cls.arrivals.file is not None:
            loc: tuple[str | int, ...] = ("workload", "classes", i, "arrivals", "file")
            path = resolve_path(source, cls.arrivals.file)
            outside = outside_problem(path, allowed)
            if outside is not None:
                problems.append((loc, outside))
            elif not path.is_file():
                what = "is not a regular file" if path.exists() else "does not exist"
                problems.append((loc, f"trace file {str(path)!r} {what}"))
    return problems


#: The resource names a replica's GPUs go by (Kubernetes device plugins' and the plain one).
GPU_RESOURCES = ("gpu", "nvidia.com/gpu", "amd.com/gpu")


def llm_pools(s: Scenario, svc: Service) -> list[int]:
    """The pools an LLM engine service may be placed on: those it allows (``pools``, ``node_selector``) that
    offer its GPU resource."""
    gpu = next((r for r in svc.resources if r in GPU_RESOURCES), None)
    out = []
    for k, p in enumerate(s.cluster.pools):
        if svc.pools is not None and p.name not in svc.pools:
            continue
        if svc.node_selector and any(p.labels.get(key) != v for key, v in svc.node_selector.items()):
            continue
        if gpu is not None and p.resources.get(gpu, 0) > 0:
            out.append(k)
    return out


def llm_problems(s: Scenario, i: int) -> list[tuple[tuple[str | int, ...], str]]:
    """An LLM engine service: one engine per replica without service_time or batching, ``tensor_parallel``
    GPUs per replica in its resources, a GPU named by every pool it may use, and a model that fits it."""
    from capacity.llm import LlmEngine, LlmError

    svc = s.services[i]
    assert svc.serving is not None and svc.serving.llm is not None
    llm, where = svc.serving.llm, ("services", i, "serving")
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if svc.serving.service_time is not None:
        problems.append(((*where, "service_time"), "an LLM engine (llm) times itself from its model and "
                                                   "GPU: drop service_time"))
    if svc.serving.batching is not None:
        problems.append(((*where, "batching"), "an LLM engine (llm) batches as vLLM does: drop batching "
                                               "(its settings are llm.max_num_seqs, "
                                               "llm.max_num_batched_tokens, llm.chunked_prefill)"))
    if svc.serving.concurrency != 1:
        problems.append(((*where, "concurrency"), "an LLM engine replica is one engine: concurrency must "
                                                  "be 1"))
    gpu = next((r for r in svc.resources if r in GPU_RESOURCES), None)
    tp = llm.tensor_parallel
    if gpu is None:
        problems.append((("services", i, "resources"), f"an LLM engine replica takes tensor_parallel ({tp}) "
                                                        f"GPUs: add gpu: {tp} to its resources"))
        return problems
    if svc.resources[gpu] != tp:
        problems.append((("services", i, "resources", gpu),
                         f"{svc.resources[gpu]:g} GPUs, but serving.llm.tensor_parallel is {tp}: a "
                         "tensor-parallel replica takes one GPU per rank, all on one node"))
    checked: set[str] = set()
    for k in llm_pools(s, svc):
        pool = s.cluster.pools[k]
        if pool.gpu is None:
            problems.append((("cluster", "pools", k, "gpu"),
                             f"pool {pool.name} may run the LLM engine service {svc.name} but names no "
                             "GPU: give gpu: h100-sxm (a catalogue name) or its figures"))
            continue
        spec = gpu_of(pool.gpu)
        if spec.name in checked:
            continue
        checked.add(spec.name)
        try:
            LlmEngine.from_spec(llm.model_spec, spec, tp, llm.dtype, llm.kv_dtype,
                                gpu_memory_utilization=llm.gpu_memory_utilization,
                                block_size=llm.block_size, max_num_seqs=llm.max_num_seqs,
                                max_num_batched_tokens=llm.max_num_batched_tokens)
        except LlmError as exc:
            problems.append(((*where, "llm"), f"{exc} (pool {pool.name})"))
    return problems
