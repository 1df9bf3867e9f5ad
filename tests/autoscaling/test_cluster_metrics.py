"""Online placement (the scheduler's scores), the node-pool expanders, and the metrics' definitions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from capacity import autoscaling as A
from capacity.autoscaling.cluster import Cluster, Pod
from capacity.autoscaling.metrics import LoadSamples


def cluster(scoring: str = "least-allocated", expander: str = "least-waste") -> Cluster:
    pools = (
        A.PoolSpec("small", {"cpu": 4.0, "memory": 16.0}, cost=1.0, autoscaling=A.PoolScaling(0, 5, 60.0)),
        A.PoolSpec("big", {"cpu": 16.0, "memory": 64.0}, cost=3.0, autoscaling=A.PoolScaling(0, 5, 60.0)),
    )
    spec = A.ClusterSpec(pools, (("a", "small"), ("b", "small")), expander=expander, scoring=scoring)
    return Cluster(spec, ["cpu", "memory"])


def pod(c: Cluster, name: str, cpu: float, memory: float, service: str = "svc") -> Pod:
    return Pod(name, service, c.vector({"cpu": cpu, "memory": memory}), (0, 1), None, 0.0)


@pytest.mark.parametrize(("scoring", "expected"), [("least-allocated", "b"), ("most-allocated", "a")])
def test_placement_scores_as_the_scheduler(scoring, expected):
    """Node a already holds 2 cpu / 8 memory of 4 / 16: LeastAllocated scores the new 1-cpu, 4-memory
    replica (4-3)*100//4 = 25 on a and 75 on b (spreads); MostAllocated 75 on a, 25 on b (packs)."""
    c = cluster(scoring)
    c.attach(pod(c, "x", 2.0, 8.0), c.node("a"), 0.0)
    placed = c.place(pod(c, "y", 1.0, 4.0), 0.0)
    assert placed is not None and placed.name == expected


def test_a_replica_that_fits_nowhere_is_pending_and_asks_for_a_node():
    c = cluster(expander="price")
    big = pod(c, "z", 6.0, 8.0)  # does not fit a 4-cpu node
    assert c.place(big, 0.0) is None
    c.pending.append(big)
    new = c.scale_up(10.0)
    assert [(n.pool, n.created_s, n.ready_s) for n in new] == [(1, 10.0, 70.0)]  # only "big" can hold it
    assert not c.place(big, 69.0) and c.place(big, 70.0).name == new[0].name  # schedulable at ready_s


@pytest.mark.parametrize(("expander", "pool"), [("price", 0), ("least-waste", 1)])
def test_expanders(expander, pool):
    """Five pending replicas of 3 cpu / 2 memory, the plan's nodes full. price: the cheaper small node.
    least-waste: a small node (4 cpu, 16 memory) takes one, leaving ((4-3)/4 + (16-2)/16)/2 = 0.5625
    unused; a big one (16, 64) takes all five, leaving ((16-15)/16 + (64-10)/64)/2 = 0.453: the big one."""
    c = cluster(expander=expander)
    for node in c.nodes:
        node.used = node.capacity.copy()
    for k in range(5):
        c.pending.append(pod(c, f"p{k}", 3.0, 2.0))
    new = c.scale_up(0.0)
    assert new[0].pool == pool
    # price: small nodes up to the pool's max of 5 (2 of the plan + 3 new), then a big one takes the last
    # two; least-waste: one big node takes all five (a pending replica that fits a node being provisioned
    # asks for no other)
    assert [n.pool for n in new] == ([0, 0, 0, 1] if pool == 0 else [1])


@dataclass
class FakeRuntime:
    """What `LoadSamples` reads of a running service."""

    c: int = 2
    busy: int = 0
    serving: int = 0
    waiting: int = 0
    ready: int = 1
    held: list[int] | None = None
    router: object = field(default=None)

    def __post_init__(self) -> None:
        self.router = self

    @property
    def n_ready(self) -> int:
        return self.ready

    def queued(self) -> int:
        return self.waiting

    def busy_slots(self) -> int:
        return self.busy

    def requests_in_service(self) -> int:
        return self.serving


def test_metrics_per_replica_and_total_over_the_window():
    rt = FakeRuntime()
    arrivals = np.arange(0.0, 100.0, 0.25)  # 4 per second
    samples = LoadSamples(rt, arrivals, keep_s=30.0)  # type: ignore[arg-type]
    for t, (ready, busy, serving, waiting) in enumerate([(1, 2, 2, 3), (2, 2, 2, 0), (2, 4, 4, 6)]):
        rt.ready, rt.busy, rt.serving, rt.waiting = ready, busy, serving, waiting
        samples.sample(10.0 + t)
    # window (9, 12]: three samples. utilisation: busy / c / ready = (1 + 0.5 + 1) / 3
    assert samples.per_replica("utilisation", 12.0, 3.0) == pytest.approx((1 + 0.5 + 1) / 3)
    # concurrency: (in service + waiting) / ready = (5 + 1 + 5) / 3
    assert samples.per_replica("concurrency", 12.0, 3.0) == pytest.approx((5 + 1 + 5) / 3)
    assert samples.per_replica("queue", 12.0, 3.0) == pytest.approx((3 + 0 + 3) / 3)
    # rps: arrivals in (9, 12] = 12, over 3 s, per mean ready replica 5/3
    assert samples.per_replica("rps", 12.0, 3.0) == pytest.approx(12 / 3 / (5 / 3))
    # totals (Knative): concurrency summed over replicas and averaged over the samples
    assert samples.total("concurrency", 12.0, 3.0) == pytest.approx((5 + 2 + 10) / 3)
    assert samples.total("rps", 12.0, 2.0) == pytest.approx(4.0)
    # the window holds (t − w, t]: at 12 with 1 s only the last sample
    assert samples.per_replica("utilisation", 12.0, 1.0) == pytest.approx(1.0)
