"""The existing placement: what runs today, and when such a statement cannot be true.

``existing`` (``{node: {service: replicas}}``) is a snapshot of the cluster as it runs now; the plan says
where replicas should run next, and ``moves`` counts the replicas that leave their node
(`capacity.packing.problem`). A snapshot may break the *plan's* rules: that is what the moves are for.
Read in `capacity.packing.model` (rows ``moved_*``) and `capacity.packing.baselines.greedy`
(``Cluster._seed_existing``):

* **headroom** — a margin the plan keeps free (usable capacity = capacity × (1 − headroom)). A node that is
  fuller today is running, so it is true; the packer moves replicas off it until the headroom holds, and
  counts them. Headroom therefore does **not** count here.
* **selectors, ``max_per_node``, spread, survive** — rules of the plan, too: replicas the plan no longer
  allows on a node leave it (the model's constant offset, the baselines' "keep what still obeys every
  rule") and are counted as moves.
* **more replicas running than the service now has** — a scale-down: the plan removes the extra replicas
  without moving them (``moved = removed − max(0, E − P)``, documented as "scaling down is not a move").
  Kubernetes deletes the surplus pods and leaves the others where they are, so a planned scale-down is a
  true question for a running placement, and it stays allowed.

What no plan can change is the node itself: its **capacity** (allocatable, before headroom) holds every
replica running on it, by each resource, with the scenario's requests — which are the running replicas'
requests (in Kubernetes a changed request means new pods: a rolling update restarts every replica, so a
request change is not a question of which replicas stay). `overflow` says, with the packer's own rule
(`capacity.packing.amounts.fits`, the ``FIT_RTOL`` tolerance on float sums), why replicas cannot be
running on a node; `capacity.packing.instance` refuses such a problem and `capacity.scenario` refuses
such a scenario at load, naming the node, the services and the resource. (That the nodes exist — names
``POOL-INDEX`` with an index below the pool's count — and the services too, is checked beside it.)
"""

from __future__ import annotations

from collections.abc import Mapping

from capacity.packing.amounts import amount, fits


def overflow(counts: Mapping[str, int], demand: Mapping[str, Mapping[str, float]],
             capacity: Mapping[str, float]) -> str | None:
    """Why ``counts`` (``{service: running replicas}``) cannot be running on one node offering
    ``capacity`` (``{resource: amount}``, before headroom) when each replica of a service requests
    ``demand[service]``: for the first resource (by name) they overflow,
    ``"3 replicas of 'web' and 2 of 'api' need 5 cpu, the node has 4"``. None when they fit."""
    running = {s: k for s, k in counts.items() if k > 0}
    resources = sorted({r for s in running for r, v in demand[s].items() if v > 0})
    for r in resources:
        askers = [(s, k) for s, k in running.items() if demand[s].get(r, 0.0) > 0]
        need = sum(k * demand[s][r] for s, k in askers)
        have = float(capacity.get(r, 0.0))
        if not fits(need, have):
            verb = "needs" if len(askers) == 1 and askers[0][1] == 1 else "need"
            return f"{_replicas(askers)} {verb} {amount(r, need)} {r}, the node has {amount(r, have)}"
    return None


def _replicas(askers: list[tuple[str, int]]) -> str:
    """``3 replicas of 'web'``, ``3 replicas of 'web' and 2 of 'api'``, ``1 replica of 'llm'``."""
    (first, k), rest = askers[0], askers[1:]
    parts = [f"{k} replica{'s' if k != 1 else ''} of {first!r}"] + [f"{n} of {s!r}" for s, n in rest]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
