"""Why services do not fit: `Shortage` records that tell a planner what to change.

`shortages` runs before any solver and finds the problems that need no search to prove:

* **selector** — a service's node selector names no existing pool, its ``node_selector`` labels match no
  pool, or no allowed pool carries the label its ``spread`` or zone ``survive`` is over;
* **survive** — one replica cannot survive the loss of its node (``keep`` > 0 of a single replica), or
  ``floor((1 - keep) * replicas)`` per zone times the zones the service may use (each zone also holding
  at most what its nodes take) is less than the replicas;
* **spread** — with ``H_a`` the most replicas the nodes of domain ``a`` can take (alone), the domains
  together hold at most ``sum_a min(H_a, min_b H_b + max_skew)`` under the skew limit, fewer than the
  replicas;
* **one replica too large** — a replica needs more of a resource than the largest node its selector
  allows offers after headroom (or no allowed node offers all its resources at once);
* **anti-affinity** — ``max_per_node`` times the nodes where a replica fits is less than the replicas
  (and the same count when what fits on one node, not ``max_per_node``, is the limit);
* **aggregate** — services that must share some pools ask for more of a resource than all nodes of those
  pools offer, or need more nodes than exist because their replicas are too large to share nodes
  (large replicas, conflicts: see `capacity.packing.bounds`).

Each shortage names the service and the resource (or ``selector``, ``anti-affinity``), with amounts in the
resource's units (memory in binary multiples of bytes, ``Gi``). `explain_unplaced` words the case the
checks above cannot see: the solver proved that the replicas do not pack (or found no plan in time).
`unplaced_reasons` says, under objective ``fit``, why each service's unplaced replicas are not placed:
its shortages, or what stops one more replica on every node that may take it (a resource, a per-node
limit, spread, survive) and that no unused node is left.
"""

from __future__ import annotations

import numpy as np

from capacity.errors import Shortage
from capacity.packing.amounts import amount, number
from capacity.packing.bounds import Bounds, Evidence
from capacity.packing.instance import NO_LIMIT, Instance, fits, keep_cap
from capacity.packing.plan import NodePlan
from capacity.packing.problem import HOSTNAME

_PRIORITY = {"per-node": 0, "capacity": 1, "large-replicas": 2, "conflicts": 3}


def _pools(inst: Instance, pools: tuple[int, ...] | list[int]) -> str:
    names = [inst.pools[p].name for p in pools]
    return ("pool " if len(names) == 1 else "pools ") + ", ".join(names)


def _have(inst: Instance, pools: tuple[int, ...] | list[int], nodes: int) -> str:
    """``pool a has 4 nodes`` / ``pools a, b have 6 nodes``."""
    verb = "has" if len(pools) == 1 else "have"
    return f"{_pools(inst, pools)} {verb} {nodes} node{'s' if nodes != 1 else ''}"


def _after_headroom(inst: Instance, resource: str) -> str:
    h = inst.problem.headroom.get(resource, 0.0)
    return f"after {number(h * 100)}% headroom" if h > 0 else ""


def _services(inst: Instance, services: tuple[int, ...]) -> str:
    names = [inst.services[s].name for s in services]
    if len(names) > 6:
        names = [*names[:5], f"and {len(names) - 5} more"]
    return ("service " if len(names) == 1 else "services ") + ", ".join(names)


def _need(inst: Instance, services: tuple[int, ...]) -> str:
    """``service a needs`` / ``services a, b need``."""
    return _services(inst, services) + (" needs" if len(services) == 1 else " need")


def shortages(inst: Instance, bounds: Bounds) -> list[Shortage]:
    """Every shortage found without search (empty when none); see the module docstring."""
    out: list[Shortage] = []
    for s, svc in enumerate(inst.services):
        if svc.replicas == 0:
            continue
        if not inst.selected[s].any():
            out.append(_selector(inst, s))
        elif inst.node_limit[s] == 0:
            out.append(_single_replica(inst, s))
        elif not inst.placeable[s].any():
            out.extend(_too_large(inst, s))
    seen: set[tuple[str, str]] = set()
    named = {sh.service for sh in out}
    # The most specific evidence first; the conflict clique only for services nothing else explains.
    for e in sorted((e for e in bounds.evidence if e.impossible), key=lambda e: _PRIORITY[e.kind]):
        for sh in _from_evidence(inst, e):
            if (sh.service, sh.resource) in seen or (e.kind == "conflicts" and sh.service in named):
                continue
            seen.add((sh.service, sh.resource))
            out.append(sh)
        named |= {sh.service for sh in out}
    out.extend(sh for sh in constraint_shortages(inst) if sh.service not in named)
    return out


def _percent(f: float) -> str:
    return f"{number(f * 100)}%"


def _single_replica(inst: Instance, s: int) -> Shortage:
    svc = inst.services[s]
    keep = svc.survive.keep if svc.survive else 0.0
    return Shortage(
        svc.name, "survive",
        f"survive 1 node keeping {_percent(keep)} of {svc.replicas} replica"
        f"{'s' if svc.replicas != 1 else ''} leaves no replica that a node may lose "
        f"(losing any one must keep {svc.replicas - keep_cap(keep, svc.replicas)}); "
        "add replicas or lower keep",
    )


def _hold(inst: Instance, s: int, domain: np.ndarray, size: int | None = None) -> np.ndarray:
    """[domain] most replicas of ``s`` the nodes of each domain take (the service alone); ``size`` domains
    (default: the highest index + 1; spread domains with no allowed pool hold 0)."""
    top = int(domain.max()) + 1 if len(domain) else 0
    out = np.zeros(size if size is not None else top, dtype=np.int64)
    for p, d in enumerate(domain):
        if d >= 0:
            out[d] += int(inst.count[p]) * int(inst.per_node[s, p])
    return out


def _self_affinity_shortages(inst: Instance, s: int, n: int) -> list[Shortage]:
    """Required pod anti-affinity of a service with itself over a pool label allows one replica per domain,
    and any number on nodes without the label (in no domain: the scheduler's InterPodAffinity filter lets
    them pass); affinity with itself puts every replica in one domain (the scheduler leaves the rest
    Pending)."""
    svc, out = inst.services[s], []
    for kind, terms in (("anti-affinity", svc.anti_affinity), ("affinity", svc.affinity)):
        for term in terms:
            if term.service != svc.name or term.topology == HOSTNAME:
                continue
            hold: dict[str, int] = {}
            free = 0      # room on nodes without the label: in no domain, never blocked by anti-affinity
            for p, pool in enumerate(inst.pools):
                if not inst.placeable[s, p]:
                    continue
                d = pool.labels.get(term.topology)
                room = int(inst.count[p]) * int(inst.per_node[s, p])
                if d is not None:
                    hold[d] = hold.get(d, 0) + room
                else:
                    free += room
            most = len(hold) + free if kind == "anti-affinity" else max(hold.values(), default=0)
            if n > most:
                rule = ("at most one replica per " + term.topology if kind == "anti-affinity"
                        else "every replica in one " + term.topology)
                out.append(Shortage(svc.name, kind,
                                    f"required pod {kind} with itself over {term.topology} ({rule}): "
                                    f"at most {most} of the {n} replicas across {', '.join(sorted(hold))} "
                                    "(the scheduler leaves the rest Pending)"))
    return out


def constraint_shortages(inst: Instance) -> list[Shortage]:
    """Spread and zone-survive shortages (see the module docstring), for services a replica of which fits
    somewhere (the others are explained by `shortages`)."""
    out = []
    for s, svc in enumerate(inst.services):
        n = int(inst.replicas[s])
        if n == 0 or not inst.placeable[s].any():
            continue
        if inst.zone_spread(s) and svc.spread is not None:
            hold = _hold(inst, s, inst.spread_domain[s], inst.domain_count(s))
            names = inst.domain_names(s, "spread")
            most = int(np.minimum(hold, hold.min() + svc.spread.max_skew).sum())
            if hold.sum() >= n > most:
                low = int(np.argmin(hold))
                out.append(Shortage(
                    svc.name, "spread",
                    f"spread over {svc.spread.topology} with max_skew {svc.spread.max_skew}: "
                    f"{svc.spread.topology} {names[low]} holds at most {int(hold[low])} replicas, so each "
                    f"other {svc.spread.topology} at most {int(hold[low]) + svc.spread.max_skew}: at most "
                    f"{most} of the {n} replicas across {', '.join(names)}",
                ))
        out.extend(_self_affinity_shortages(inst, s, n))
        if svc.survive is not None and svc.survive.failure == "zone":
            cap = keep_cap(svc.survive.keep, n)
            hold = _hold(inst, s, inst.zone[s])
            names = inst.domain_names(s, "zone")
            most = int(np.minimum(hold, cap).sum())
            if hold.sum() >= n > most:
                label = svc.survive.topology
                zones = f"{len(names)} {label}{'s' if len(names) != 1 else ''} ({', '.join(names)})"
                out.append(Shortage(
                    svc.name, "survive",
                    f"survive 1 {label} keeping {_percent(svc.survive.keep)} allows at most {cap} of the {n} "
                    f"replicas in one {label}; the service may use {zones}, which hold at most {most}",
                ))
    return out


def _selector(inst: Instance, s: int) -> Shortage:
    svc = inst.services[s]
    existing = ", ".join(p.name for p in inst.pools) or "none"
    by_name = [p for p in inst.pools if svc.pools is None or p.name in svc.pools]
    if not inst.pools:
        return Shortage(svc.name, "selector", "the cluster has no pools")
    if svc.pools is not None and not svc.pools:
        return Shortage(svc.name, "selector", "the node selector allows no pool")
    if not by_name:
        return Shortage(
            svc.name, "selector",
            f"the node selector names {', '.join(svc.pools or ())}, no such pool exists (pools: {existing})",
        )
    wanted = dict(svc.node_selector or {})
    by_label = [p for p in by_name if all(p.labels.get(k) == v for k, v in wanted.items())]
    if not by_label:
        among = f" among pools {', '.join(p.name for p in by_name)}" if svc.pools is not None else ""
        have = "; ".join(
            f"{p.name} {{{', '.join(f'{k}: {v}' for k, v in sorted(p.labels.items()))}}}" for p in by_name
        )
        asked = ", ".join(f"{k}: {v}" for k, v in wanted.items())
        return Shortage(svc.name, "selector",
                        f"node_selector {{{asked}}} matches no pool{among} (labels: {have})")
    for label, what in ((svc.spread.topology if svc.spread and not svc.spread.per_node else None, "spread"),
                        (svc.survive.topology if svc.survive and svc.survive.failure == "zone" else None,
                         "survive")):
        if label is not None and not any(label in p.labels for p in by_label):
            return Shortage(
                svc.name, what,
                f"{what} over label {label!r} needs pools that carry it; none of the allowed pools "
                f"({', '.join(p.name for p in by_label)}) has it",
            )
    return Shortage(svc.name, "selector", "no pool is allowed")


def _too_large(inst: Instance, s: int) -> list[Shortage]:
    svc = inst.services[s]
    allowed = [int(p) for p in np.flatnonzero(inst.selected[s])]
    out = []
    for r, name in enumerate(inst.resources):
        d = inst.demand[s, r]
        if d <= 0:
            continue
        best = max(allowed, key=lambda p: (inst.usable[p, r], -p))
        if fits(d, inst.usable[best, r]):
            continue
        if inst.usable[best, r] <= 0:
            reason = (
                f"needs {amount(name, d)} {name} per replica, and no allowed node offers "
                f"{name} ({_pools(inst, allowed)})"
            )
        else:
            note = ", ".join(x for x in (f"pool {inst.pools[best].name}", _after_headroom(inst, name)) if x)
            reason = (
                f"needs {amount(name, d)} {name} per replica, the largest allowed node "
                f"offers {amount(name, inst.usable[best, r])} ({note})"
            )
        out.append(Shortage(svc.name, name, reason))
    if out:
        return out
    # Every resource fits on some allowed node, but no allowed node offers all of them at once.
    wanted = [r for r in range(len(inst.resources)) if inst.demand[s, r] > 0]
    needs = " and ".join(
        f"{amount(inst.resources[r], inst.demand[s, r])} {inst.resources[r]}" for r in wanted
    )
    offers = "; ".join(
        f"pool {inst.pools[p].name} offers "
        + " and ".join(f"{amount(inst.resources[r], inst.usable[p, r])} {inst.resources[r]}" for r in wanted)
        for p in allowed
    )
    label = "+".join(inst.resources[r] for r in wanted)
    return [
        Shortage(
            svc.name, label, f"needs {needs} per replica, no allowed node offers all of it at once ({offers})"
        )
    ]


def _from_evidence(inst: Instance, e: Evidence) -> list[Shortage]:
    if e.kind == "per-node":
        return [_per_node(inst, e)]
    if e.kind == "conflicts":
        why = f" (together they overflow {e.resource})" if e.resource else ""
        reason = (
            f"the replicas of {_services(inst, e.services)} pairwise cannot share a "
            f"node{why}, so they need at least {int(e.nodes)} nodes, "
            f"{_have(inst, e.pools, e.available)}"
        )
        return [Shortage(inst.services[s].name, e.resource or "nodes", reason) for s in e.services]
    r = inst.resources.index(e.resource)
    who = _need(inst, e.services)
    headroom = _after_headroom(inst, e.resource)
    headroom = f", {headroom}" if headroom else ""
    if e.kind == "capacity":
        reason = (
            f"{who} {amount(e.resource, e.demand)} {e.resource} in total, the "
            f"{e.available} nodes of {_pools(inst, e.pools)} offer "
            f"{amount(e.resource, e.offered)} {e.resource}{headroom}; short by "
            f"{amount(e.resource, e.demand - e.offered)} {e.resource}"
        )
    else:
        reason = (
            f"{who} at least {int(e.nodes)} nodes by {e.resource} (replicas larger "
            f"than half a node cannot share one), {_have(inst, e.pools, e.available)}"
            f"{headroom}"
        )
    return [Shortage(inst.services[s].name, e.resource, reason) for s in e.services if inst.demand[s, r] > 0]


def _per_node(inst: Instance, e: Evidence) -> Shortage:
    (s,) = e.services
    svc = inst.services[s]
    if e.available == 0:
        return Shortage(svc.name, "nodes", f"{_have(inst, e.pools, 0)}, and a replica fits only there")
    k = int(inst.node_limit[s])
    if k < NO_LIMIT and k * e.available < svc.replicas:
        if svc.max_per_node is not None and svc.max_per_node == k:
            what, rule = "anti-affinity", f"max_per_node {k}"
        else:
            keep = svc.survive.keep if svc.survive else 0.0
            what, rule = "survive", f"survive 1 node keeping {_percent(keep)} (at most {k} per node)"
        return Shortage(
            svc.name,
            what,
            f"{rule} allows at most {k * e.available} replicas on the "
            f"{e.available} nodes of {_pools(inst, e.pools)} where a replica fits, "
            f"{svc.replicas} are requested",
        )
    # What fits on one node is the limit: name the resource that limits the roomiest pool.
    p = max(e.pools, key=lambda p: (inst.per_node[s, p], -p))
    fit = int(inst.per_node[s, p])
    ratios = [
        (inst.usable[p, r] / inst.demand[s, r], r)
        for r in range(len(inst.resources))
        if inst.demand[s, r] > 0
    ]
    r = min(ratios)[1]
    name = inst.resources[r]
    fit_words = "1 replica fits" if fit == 1 else f"{fit} replicas fit"
    return Shortage(
        svc.name,
        name,
        f"at most {fit_words} on one node of pool {inst.pools[p].name} "
        f"({amount(name, inst.demand[s, r])} {name} each, "
        f"{amount(name, inst.usable[p, r])} per node), so the {e.available} nodes "
        f"of {_pools(inst, e.pools)} hold at most {int(e.offered)} of the "
        f"{svc.replicas} replicas",
    )


def explain_unplaced(
    inst: Instance,
    bounds: Bounds,
    unplaced: dict[int, int],
    *,
    proven: bool,
    solver: str,
    time_limit_s: float,
) -> list[Shortage]:
    """Shortages when the quick checks pass but no placement came out of the search.

    ``proven``: the solver proved that no placement exists; otherwise it found none in time (and the
    greedy plan left ``unplaced`` replicas). Every service of each component (services that share pools)
    with unplaced replicas is named, with the component's tightest resource: the largest share of what
    its pools offer that its services ask for. The full explanation is given once per component, on its
    first service; the others carry its first clause and point there (a component can hold hundreds of
    services).
    """
    out = []
    for comp in bounds.components:
        if not any(s in unplaced for s in comp.services):
            continue
        tight = _tightest(inst, comp.evidence)
        resource = tight.resource if tight is not None else "nodes"
        nodes = int(inst.count[list(comp.pools)].sum())
        where = f"the {nodes} nodes of {_pools(inst, comp.pools)}"
        if tight is not None:
            share = tight.demand / tight.offered
            where += (
                f"; the tightest resource is {resource}: {_services(inst, tight.services)} "
                f"{'asks' if len(tight.services) == 1 else 'ask'} for "
                f"{amount(resource, tight.demand)} of the {amount(resource, tight.offered)} "
                f"{resource} they offer ({share:.0%})"
            )
        if proven:
            headline = f"no placement exists ({solver} proved it)"
            reason = (
                f"{headline}: the replicas of "
                f"{_services(inst, comp.services)} do not pack into {where}; add nodes, or "
                f"lower replicas or requests"
            )
        else:
            left = ", ".join(
                f"{unplaced[s]} of {inst.services[s].name}" for s in comp.services if s in unplaced
            )
            headline = (
                f"no placement found within the {number(time_limit_s)} s time limit and "
                f"none proven impossible"
            )
            reason = (
                f"{headline} (first-fit decreasing left {left} unplaced) on "
                f"{where}; raise the time limit or add nodes"
            )
        first = inst.services[comp.services[0]].name
        out.append(Shortage(first, resource, reason))
        out.extend(
            Shortage(inst.services[s].name, resource, f"{headline} (see service {first!r})")
            for s in comp.services[1:]
        )
    return out


def _tightest(inst: Instance, evidence: tuple[Evidence, ...]) -> Evidence | None:
    """The capacity evidence with the largest share of demand to offer."""
    best: Evidence | None = None
    for e in evidence:
        if (
            e.kind == "capacity"
            and e.offered > 0
            and (best is None or e.demand / e.offered > best.demand / best.offered)
        ):
            best = e
    return best


def unplaced_reasons(
    inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int], found: list[Shortage]
) -> dict[str, str]:
    """{service: why its unplaced replicas are not placed} (see the module docstring)."""
    out = {}
    placed = np.zeros(len(inst.services), dtype=np.int64)
    for node in nodes:
        for t, k in node.counts.items():
            placed[t] += k
    for s, k in sorted(unplaced.items()):
        if k <= 0:
            continue
        svc = inst.services[s]
        head = f"{k} of {svc.replicas} replicas not placed (priority {svc.priority})"
        mine = [sh for sh in found if sh.service == svc.name]
        if mine:
            out[svc.name] = head + ": " + "; ".join(f"{sh.resource}: {sh.reason}" for sh in mine)
        else:
            out[svc.name] = head + ": " + _blocked(inst, nodes, s, placed)
    return out


def _blocked(inst: Instance, nodes: list[NodePlan], s: int, placed: np.ndarray) -> str:
    """What stops one more replica of ``s`` on every node that may take one."""
    svc = inst.services[s]
    reasons: dict[str, int] = {}
    used_per_pool = np.zeros(len(inst.pools), dtype=np.int64)
    domains = np.zeros(max(inst.domain_count(s), 1), dtype=np.int64)
    zones = np.zeros(max(inst.zone_count(s), 1), dtype=np.int64)
    for node in nodes:
        used_per_pool[node.pool] += 1
        here = node.counts.get(s, 0)
        if here and inst.zone_spread(s):
            domains[inst.spread_domain[s, node.pool]] += here
        if here and svc.survive is not None and svc.survive.failure == "zone":
            zones[inst.zone[s, node.pool]] += here

    def spread_blocks(p: int) -> bool:
        return svc.spread is not None and inst.zone_spread(s) and (
            domains[inst.spread_domain[s, p]] + 1 - domains.min() > svc.spread.max_skew
        )

    def survive_blocks(p: int, here: int) -> bool:
        if svc.survive is None:
            return False
        cap = keep_cap(svc.survive.keep, int(placed[s]) + 1)
        if svc.survive.failure == "node":
            return here + 1 > cap
        return zones[inst.zone[s, p]] + 1 > cap

    def note(reason: str) -> None:
        reasons[reason] = reasons.get(reason, 0) + 1

    for node in nodes:
        p = node.pool
        if not inst.placeable[s, p]:
            continue
        here = node.counts.get(s, 0)
        used = node.used(inst) + inst.demand[s]
        short = [inst.resources[r] for r in np.flatnonzero(~fits(used, inst.usable[p]))]
        if short:
            note("no room for " + " and ".join(short))
        elif here >= inst.per_node[s, p]:
            note("at max_per_node" if svc.max_per_node is not None else "at the per-node limit")
        elif svc.spread is not None and spread_blocks(p):
            note(f"spread over {svc.spread.topology} at max_skew")
        elif svc.survive is not None and survive_blocks(p, here):
            note(f"at the survive 1 {svc.survive.failure} limit")
        else:
            note("room left (the solver stopped before using it)")
    ranked = sorted(reasons.items(), key=lambda t: -t[1])
    parts = [f"{k} used node{'s' if k != 1 else ''} {why}" for why, k in ranked]
    allowed = [p for p in range(len(inst.pools)) if inst.placeable[s, p]]
    idle = {p: int(inst.count[p] - used_per_pool[p]) for p in allowed if inst.count[p] > used_per_pool[p]}
    if not allowed:
        parts.append("no pool may take it")
    elif not idle:
        parts.append(f"no unused node left in {_pools(inst, allowed)}")
    else:
        blocked = [p for p in idle if spread_blocks(p) or survive_blocks(p, 0)]
        if blocked:
            parts.append(
                f"the unused nodes of {_pools(inst, blocked)} would break its spread or survive rule"
            )
        free = [p for p in idle if p not in blocked]
        if free:
            parts.append(f"unused nodes of {_pools(inst, free)} left (the solver stopped before using them)")
    return "; ".join(parts)
