"""Required pod (anti-)affinity in the greedy baselines, as the scheduler's InterPodAffinity filter does.

A term (`capacity.packing.problem.PodAffinity`) relates the replicas of a service ``s`` to those of a service
``t`` in the **domains** of a topology: each node for ``kubernetes.io/hostname``, else the values of a pool
label (a node whose pool lacks the label is in no domain). The scheduler
(``pkg/scheduler/framework/plugins/interpodaffinity``) filters nodes for a pod by every term, and the greedy
packers do the same, replica by replica (`PodAffinityFilter`):

* **anti-affinity** — a replica of ``s`` may not go to a domain that holds ``t``, nor a replica of ``t`` to a
  domain that holds ``s`` (the scheduler also honours the anti-affinity of the pods already running); with
  itself, at most one replica of ``s`` per domain;
* **affinity** — a replica of ``s`` may go only to a domain that holds ``t`` (so never to a node without the
  label, and never to a new node over the hostname); with itself, the first replica goes anywhere with the
  label and the others follow it into its domain.

A service with an affinity term to another one arrives after it (`after_affinity`: the scheduler retries a
pending pod when the pods it waits for run, so the order of arrival does not decide). What a packer does
after placing (removing replicas for ``survive``, or an existing placement that already breaks a term) may
still break a term: `PodAffinityFilter.removals` then says which replicas leave (they stay Pending, as the
scheduler leaves them): the term's own service leaves the domains that break it (with itself: all but one
replica per domain, or all but its fullest domain).
"""

from __future__ import annotations

import numpy as np

from capacity.packing.instance import NO_LIMIT, AffinityKind, Instance
from capacity.packing.problem import HOSTNAME

Term = tuple[AffinityKind, int, int, str]
"""``(kind, s, t, topology)``: ``kind`` is ``anti`` or ``with`` (`Instance.affinity_terms`)."""


def after_affinity(inst: Instance, order: list[int]) -> list[int]:
    """``order`` with each service that has an affinity term to another service after that service (the
    earliest in ``order`` first among those free to go; services in a cycle of terms keep their order)."""
    waits: dict[int, set[int]] = {s: set() for s in order}
    for s, t, _ in inst.affinity_terms("with"):
        if s != t and t in waits:
            waits[s].add(t)
    if not any(waits.values()):
        return order
    out: list[int] = []
    left = list(order)
    while left:
        ready = next((s for s in left if not waits[s] - set(out)), left[0])
        out.append(ready)
        left.remove(ready)
    return out


class PodAffinityFilter:
    """The required pod (anti-)affinity terms of a problem, asked about the open nodes of a greedy packer.

    The open nodes are given as ``pool_of`` [node] (pool index) and ``here`` [node, service] (replicas).
    ``apart[u]`` lists ``(v, topology)``: ``u`` may not share a domain with ``v`` (both directions of an
    anti-affinity term); ``together[s]`` lists ``(t, topology)`` of the affinity terms of ``s``.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        kinds: tuple[AffinityKind, ...] = ("anti", "with")
        self.terms: list[Term] = [(kind, s, t, topology) for kind in kinds
                                  for s, t, topology in inst.affinity_terms(kind)]
        self.apart: dict[int, list[tuple[int, str]]] = {}
        self.together: dict[int, list[tuple[int, str]]] = {}
        for kind, s, t, topology in self.terms:
            if kind == "with":
                self.together.setdefault(s, []).append((t, topology))
                continue
            self.apart.setdefault(s, []).append((t, topology))
            if t != s:
                self.apart.setdefault(t, []).append((s, topology))
        self._codes: dict[str, np.ndarray] = {}
        for _, _, _, topology in self.terms:
            if topology != HOSTNAME and topology not in self._codes:
                values = sorted({p.labels[topology] for p in inst.pools if topology in p.labels})
                self._codes[topology] = np.array(
                    [values.index(p.labels[topology]) if topology in p.labels else -1 for p in inst.pools],
                    dtype=np.int64)

    def involves(self, s: int) -> bool:
        """Some term filters the nodes of service ``s``."""
        return s in self.apart or s in self.together

    def _counts(self, topology: str, pool_of: np.ndarray, here: np.ndarray, s: int) -> np.ndarray:
        """[label value] replicas of ``s`` in each domain of a label ``topology``."""
        codes = self._codes[topology]
        dom = codes[pool_of]
        size = int(codes.max()) + 1 if len(codes) else 0
        return np.bincount(dom[dom >= 0], weights=here[dom >= 0, s], minlength=size).astype(np.int64)

    def pool_allowance(self, s: int, p: int, pool_of: np.ndarray, here: np.ndarray) -> int:
        """Most replicas of ``s`` the terms over pool labels let onto a node of pool ``p`` now
        (`NO_LIMIT`: no term limits it)."""
        out = NO_LIMIT
        for v, topology in self.apart.get(s, []):
            if topology == HOSTNAME or (d := int(self._codes[topology][p])) < 0:
                continue
            held = int(self._counts(topology, pool_of, here, v)[d])
            if v == s:
                out = min(out, max(0, 1 - held))
            elif held:
                return 0
        for t, topology in self.together.get(s, []):
            if topology == HOSTNAME:
                continue
            d = int(self._codes[topology][p])
            if d < 0:
                return 0
            counts = self._counts(topology, pool_of, here, t)
            if (t != s or counts.any()) and not counts[d]:
                return 0
        return out

    def node_mask(self, s: int, pool_of: np.ndarray, here: np.ndarray) -> np.ndarray:
        """[open node] False where a term over the hostname keeps ``s`` off the node."""
        ok = np.ones(len(pool_of), dtype=bool)
        for v, topology in self.apart.get(s, []):
            if topology == HOSTNAME:
                ok &= here[:, v] == 0
        for t, topology in self.together.get(s, []):
            if topology == HOSTNAME and (t != s or here[:, s].any()):
                ok &= here[:, t] > 0
        return ok

    def new_node_ok(self, s: int, here: np.ndarray) -> bool:
        """A new (empty) node may take ``s``: no affinity over the hostname with a service that is elsewhere
        (or not yet placed)."""
        return all(topology != HOSTNAME or (t == s and not here[:, s].any())
                   for t, topology in self.together.get(s, []))

    def removals(self, term: Term, pool_of: np.ndarray, here: np.ndarray) -> list[tuple[int, int]]:
        """``(node, replicas of the term's service to remove)`` so that ``term`` holds (see the module
        docstring)."""
        kind, s, t, topology = term
        dom = np.arange(len(pool_of)) if topology == HOSTNAME else self._codes[topology][pool_of]
        labelled = dom >= 0
        size = max(int(dom.max()) + 1 if len(dom) else 0, 1)   # one at least: dom -1 is indexed as 0
        mine = np.bincount(dom[labelled], weights=here[labelled, s], minlength=size)
        theirs = np.bincount(dom[labelled], weights=here[labelled, t], minlength=size)
        if kind == "with" and s == t:
            keep = max(range(size), key=lambda d: (mine[d], d), default=-1)
            drop = dom != keep
        elif kind == "with":
            drop = ~labelled | (theirs[np.maximum(dom, 0)] == 0)
        elif s != t:
            drop = labelled & (theirs[np.maximum(dom, 0)] > 0)
        else:
            return self._one_per_domain(s, dom, here)
        return [(int(i), int(here[i, s])) for i in np.flatnonzero(drop & (here[:, s] > 0))]

    @staticmethod
    def _one_per_domain(s: int, dom: np.ndarray, here: np.ndarray) -> list[tuple[int, int]]:
        out = []
        seen: set[int] = set()
        for i in np.flatnonzero(here[:, s] > 0):
            d = int(dom[i])
            k = int(here[i, s])
            if d < 0:
                continue
            keep = 0 if d in seen else 1
            seen.add(d)
            if k > keep:
                out.append((int(i), k - keep))
        return out
