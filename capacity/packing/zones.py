"""Zone split: spread over zones and zone-failure tolerance at cluster scale, through the pattern formulation.

The pattern formulation (`capacity.packing.patterns`) fills one node at a time and cannot count replicas
per zone, so ``spread`` and ``survive`` send a problem to the aggregated model, which has a binary per
node and service: 10,000 nodes x 1,000 services is far beyond it. The **zone split** fixes, before the
search, how many replicas of each such service go to each zone, and then packs with patterns:

* a service with a zone ``spread`` or ``survive`` (``failure: zone``) has its replicas split over the
  domains of its allowed pools **as evenly as possible** (``n // k`` each, the remainder to the domains
  after a rotation by the service's index, so that the remainders do not all land in the first zone);
  each share becomes a service of its own, restricted to that zone's allowed pools;
* an even split is the best there is for both rules: the counts differ by at most 1 (every
  ``max_skew >= 1`` holds), and it minimises the largest zone, which is all that ``survive`` limits
  (``placed - lost >= ceil(keep * placed)``, i.e. at most ``floor((1 - keep) * placed)`` in one zone).
  When even that breaks ``survive`` no split can meet it, and the problem goes to the aggregated model,
  which explains the infeasibility;
* ``survive`` with ``failure: node`` is exactly a per-node cap (``floor((1 - keep) * placed)``), which
  the instance already folds into ``per_node``; it needs no split.

The plan of the split problem is mapped back to the original services and checked there
(`capacity.packing.plan.violations`). **Bound.** Fixing the split can cost nodes, so the split problem's
bound is no bound on the original; the proven bound is the pattern LP bound of the **relaxation**
without the zone rules (`capacity.packing.patterns.pattern_bound`), which every plan of the original
problem also obeys, together with the combinatorial bounds of the original. The gap is reported against
it, honestly: an uneven optimum (a zone with more room than the others) shows as a gap.

Used by `capacity.packing.engine.solve` (``formulation="auto"``) when the problem is larger than the
aggregated model can take (`ZONE_SPLIT_MIN_SIZE` nodes x services) and the zone rules are its only
obstacles; ``formulation="zones"`` asks for it directly.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from capacity.packing.instance import keep_cap
from capacity.packing.objectives import OBJECTIVES, compile_problem
from capacity.packing.outcome import finish
from capacity.packing.plan import NodePlan, violations
from capacity.packing.problem import PackingProblem, Placement, Service

log = logging.getLogger(__name__)

ZONE_SPLIT_MIN_SIZE = 2_000_000
"""Nodes x services above which ``auto`` packs zone rules by the zone split, not the aggregated model."""


def zone_obstacles(problem: PackingProblem) -> list[str]:
    """What the zone split cannot take (empty: it can): what patterns cannot express beyond zone rules."""
    objective = OBJECTIVES.lookup(problem.objective)
    out = []
    if "patterns" not in objective.formulations:
        out.append(f"objective {objective.name}")
    for s in problem.services:
        if s.spread is not None and (s.spread.per_node or s.spread.domains):
            out.append(f"service {s.name}: spread over nodes or over unusable domains")
        if s.affinity or s.anti_affinity:
            out.append(f"service {s.name}: pod affinity")
        survive = s.survive if s.survive is not None and s.survive.failure == "zone" else None
        if s.spread is not None and survive is not None and s.spread.topology != survive.topology:
            out.append(f"service {s.name}: spread and survive over different labels")
    if problem.existing:
        out.append("existing")
    if problem.move_cost:
        out.append("move_cost")
    return out


def _zone_label(s: Service) -> str | None:
    if s.spread is not None:
        return s.spread.topology
    if s.survive is not None and s.survive.failure == "zone":
        return s.survive.topology
    return None


@dataclasses.dataclass(frozen=True)
class ZoneSplit:
    """The split problem and, per split service, the original service's index."""

    problem: PackingProblem
    origin: tuple[int, ...]  # [split service] index of the original service

    @classmethod
    def build(cls, problem: PackingProblem) -> ZoneSplit | None:
        """The split (see the module docstring); None when an even split breaks some ``survive``."""
        services: list[Service] = []
        origin: list[int] = []
        for i, s in enumerate(problem.services):
            label = _zone_label(s)
            if label is None:
                services.append(s)
                origin.append(i)
                continue
            allowed = [p for p in problem.pools if s.selects(p)]
            domains = sorted({p.labels[label] for p in allowed})
            if not domains:
                services.append(s)  # nowhere to go: the packer explains it
                origin.append(i)
                continue
            k = len(domains)
            shift = i % k
            order = domains[shift:] + domains[:shift]
            shares = {d: s.replicas // k + (1 if j < s.replicas % k else 0) for j, d in enumerate(order)}
            survive = s.survive if s.survive is not None and s.survive.failure == "zone" else None
            if survive is not None and max(shares.values()) > keep_cap(survive.keep, s.replicas):
                return None
            for d in domains:
                if shares[d] == 0:
                    continue
                pools = tuple(p.name for p in allowed if p.labels[label] == d)
                services.append(
                    dataclasses.replace(
                        s,
                        name=f"{s.name}@{d}",
                        replicas=shares[d],
                        pools=pools,
                        node_selector=None,
                        spread=None,
                        survive=None,
                        max_per_node=_node_cap(s),
                    )
                )
                origin.append(i)
        split = dataclasses.replace(problem, services=tuple(services))
        return cls(split, tuple(origin))


def _node_cap(s: Service) -> int | None:
    """``max_per_node`` of a split share: the service's own, and its ``survive`` node cap (computed on all
    its replicas, as the original rule is; the share itself carries no ``survive``)."""
    caps = [s.max_per_node] if s.max_per_node is not None else []
    if s.survive is not None and s.survive.failure == "node":
        caps.append(keep_cap(s.survive.keep, s.replicas))
    return min(caps) if caps else None


def relaxation(problem: PackingProblem) -> PackingProblem:
    """The problem without its zone rules (``survive`` over nodes kept): every plan of it bounds ours."""
    services = tuple(
        dataclasses.replace(
            s,
            spread=None,
            survive=s.survive if s.survive is not None and s.survive.failure == "node" else None,
        )
        for s in problem.services
    )
    return dataclasses.replace(problem, services=services)


def solve_by_zones(problem: PackingProblem) -> Placement | None:
    """Pack ``problem`` by the zone split (see the module docstring); None when the split cannot be made
    (an even split breaks ``survive``) or its plan breaks a rule of the original (never expected)."""
    from capacity.packing.patterns import pattern_bound, solve_patterns

    started = time.perf_counter()
    split = ZoneSplit.build(problem)
    if split is None:
        return None
    # the split search gets 3/4 of the limit; the relaxation's bound the rest (both on work budgets)
    work = problem.work_s if problem.work_s is not None else problem.time_limit_s
    plan = solve_patterns(
        dataclasses.replace(split.problem, time_limit_s=0.75 * problem.time_limit_s, work_s=0.75 * work)
    )
    inst, objective = compile_problem(problem)
    index = {s.name: j for j, s in enumerate(split.problem.services)}
    pool_index = {p.name: j for j, p in enumerate(problem.pools)}
    by_node: dict[str, dict[int, int]] = {}
    pools: dict[str, int] = {}
    for replica, node_name in plan.assignment.items():
        s = split.origin[index[replica.rsplit("-", 1)[0]]]
        counts = by_node.setdefault(node_name, {})
        counts[s] = counts.get(s, 0) + 1
    for usage in plan.nodes:
        pools[usage.name] = pool_index[usage.pool]
    nodes = [NodePlan(pools[n], dict(sorted(c.items()))) for n, c in sorted(by_node.items())]
    if wrong := violations(inst, nodes, {}):
        log.warning("zones: the split plan breaks a rule of the problem, ignored: %s", "; ".join(wrong[:3]))
        return None
    relaxed = dataclasses.replace(
        relaxation(problem), time_limit_s=0.25 * problem.time_limit_s, work_s=0.25 * work
    )
    bound_value, bound_nodes = pattern_bound(relaxed)
    value = objective.value(inst, nodes, {})
    bound_value = min(bound_value, value)
    return finish(
        inst,
        objective,
        nodes,
        {},
        solver=plan.solver,
        lower_bound=min(bound_nodes, len(nodes)),
        objective_bound=bound_value,
        started=started,
        time_limit_reached=plan.time_limit_reached,
    )
