"""The Kubernetes rules on the examples of the Kubernetes documentation itself (kubernetes/website, CC BY 4.0;
tests/k8s/data/README.md lists each file): each test takes the published manifest and checks the plan
against what the documentation page says the cluster does with it.

Where a page describes a cluster (nodes, zones, pods already running) but publishes no file for it, the
test writes that side (nodes list, running-pod dump) and says so; the manifests themselves are as
published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from capacity import pipeline
from capacity.errors import InfeasiblePlacement
from capacity.k8s import export_plan, import_k8s, parse_pool_option

DATA = Path(__file__).parent / "data" / "website"


def services(result) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in result.scenario["services"]}


def nodes_file(path: Path, nodes: dict[str, dict[str, str]],
               allocatable: dict[str, str] | None = None) -> Path:
    """A ``kubectl get nodes -o json`` list: node name -> its labels (hostname added)."""
    alloc = allocatable or {"cpu": "2", "memory": "4Gi", "pods": "110"}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, **labels}},
         "status": {"allocatable": alloc}} for n, labels in nodes.items()]}))
    return path


def node_of(result, placement) -> dict[str, str]:
    """Replica -> the real node name it is planned on (plan node ``<pool>-<j>`` is the pool's j-th node)."""
    names = {d.name: d.nodes for d in result.pools}
    out = {}
    for replica, plan_node in placement.assignment.items():
        pool, _, j = plan_node.rpartition("-")
        out[replica] = names[pool][int(j)]
    return out


# ---------------------------------------------------------------------------------------------- 1: limits

def test_memory_defaults_page_a_limit_without_request_requests_its_limit():
    """"Configure Default Memory Requests and Limits for a Namespace"
    (https://kubernetes.io/docs/tasks/administer-cluster/manage-resources/memory-default-namespace/): in a
    namespace with the LimitRange (default 512Mi, defaultRequest 256Mi), a container that sets nothing
    requests 256Mi; one that sets only a 1Gi limit requests 1Gi ("the container's memory request is set to
    match its memory limit. Notice that the container was not assigned the default memory request value of
    256Mi"); one that sets only a 128Mi request keeps it."""
    result = import_k8s([DATA / "limits" / "memory-defaults.yaml"],
                        pools=[parse_pool_option("n=cpu:2,memory:1Gi,count:4")])
    memory = {n: s["resources"]["memory"] for n, s in services(result).items()}
    assert memory == {"default-mem-demo": "256Mi", "default-mem-demo-2": "1Gi", "default-mem-demo-3": "128Mi"}
    assert result.from_limits == ["Pod default-mem-demo-2: container defalt-mem-demo-2-ctr: memory 1Gi"]
    # 1Gi nodes: the 1Gi pod fills one, the other two (384Mi) share a second; read the old way, one node
    assert pipeline.pack(result.validated()).nodes_used == 2
    old = import_k8s([DATA / "limits" / "memory-defaults.yaml"],
                     pools=[parse_pool_option("n=cpu:2,memory:1Gi,count:4")], fill_from_limits=False)
    assert pipeline.pack(old.validated()).nodes_used == 1


def test_cpu_defaults_page_a_cpu_limit_without_request_requests_it():
    """"Configure Default CPU Requests and Limits for a Namespace": a container with only ``limits.cpu: 1``
    gets a CPU request of 1 (the page's output shows ``requests: cpu: "1"``)."""
    result = import_k8s([DATA / "limits" / "cpu-defaults-pod-2.yaml"],
                        pools=[parse_pool_option("n=cpu:1500m,memory:1Gi,count:2")])
    assert services(result)["default-cpu-demo-2"]["resources"]["cpu"] == 1
    assert result.from_limits == ["Pod default-cpu-demo-2: container default-cpu-demo-2-ctr: cpu 1"]


# ---------------------------------------------------------------------------------------------- 2: HPA

def test_hpa_walkthrough_php_apache(tmp_path):
    """"HorizontalPodAutoscaler Walkthrough": the php-apache Deployment omits ``replicas``; its HPA keeps it
    in 1..10 at an average CPU utilisation of 50 % of the 200m request. The cluster runs ``minReplicas``."""
    pools = [parse_pool_option("n=cpu:1,memory:4Gi,count:4")]
    result = import_k8s([DATA / "hpa" / "php-apache.yaml"], pools=pools)
    svc = services(result)["php-apache"]
    assert svc["replicas"] == 1
    assert svc["resources"]["cpu"] == "200m"                   # the request, not the 500m limit
    assert svc["autoscaling"] == {"min": 1, "max": 10, "metric": "utilisation", "target": 0.5,
                                  "policy": "hpa"}
    assert any("no spec.replicas: 1 from HorizontalPodAutoscaler default/php-apache" in n
               for n in result.notes)
    # the same HPA with minReplicas 6: six 200m pods on 1-CPU nodes, two nodes
    bigger = tmp_path / "php.yaml"
    bigger.write_text((DATA / "hpa" / "php-apache.yaml").read_text().replace("minReplicas: 1",
                                                                             "minReplicas: 6"))
    result = import_k8s([bigger], pools=pools)
    assert services(result)["php-apache"]["replicas"] == 6
    assert pipeline.pack(result.validated()).nodes_used == 2


# ---------------------------------------------------------------------------------------------- 3: spread

ZONES = {"node1": "zoneA", "node2": "zoneA", "node3": "zoneB", "node4": "zoneB", "node5": "zoneC"}


def docs_cluster(tmp_path: Path, example: str, node_count: int) -> Path:
    """The page's cluster, written for the test: nodes labelled ``node=<name>`` and ``zone=<zone>`` as the
    page's examples assume, and three ``foo: bar`` pods running on node1, node2 and node3. The published
    pod becomes the template of a 4-replica Deployment whose first three pods are those running pods, so
    the plan places the fourth, as the scheduler places the page's incoming pod."""
    pod = yaml.safe_load((DATA / "spread" / example).read_text())
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mypod"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"foo": "bar"}},
                           "template": {"metadata": {"labels": pod["metadata"]["labels"]},
                                        "spec": pod["spec"]}}}
    running = [{"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"mypod-5d9c-{i}", "labels": {"foo": "bar"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                             "name": "mypod-5d9c"}]},
        "spec": {**pod["spec"], "nodeName": f"node{i}"}, "status": {"phase": "Running"}} for i in (1, 2, 3)]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([deployment, *running]))
    nodes_file(tmp_path / "nodes.json",
               {n: {"node": n, "zone": z} for n, z in list(ZONES.items())[:node_count]})
    return path


def plan_docs_example(tmp_path: Path, example: str, node_count: int) -> tuple[str, Any]:
    path = docs_cluster(tmp_path, example, node_count)
    result = import_k8s([path], nodes_path=str(tmp_path / "nodes.json"))
    assert sum(sum(v.values()) for v in result.scenario["placement"]["existing"].values()) == 3
    placement = pipeline.pack(result.validated())
    assert not placement.unplaced and placement.moves == 0
    where = node_of(result, placement)
    new = [n for n in where.values()]
    for i in (1, 2, 3):
        new.remove(f"node{i}")
    return new[0], result


def test_spread_one_constraint_puts_the_fourth_pod_in_zone_b(tmp_path):
    """"Pod Topology Spread Constraints", example "one topology spread constraint"
    (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/): zoneA holds 2
    pods, zoneB 1; in zoneA the skew would be 3 - 1 = 2 > maxSkew 1, so "the incoming Pod can only be
    placed onto a node in zone B" (node3 or node4)."""
    node, _ = plan_docs_example(tmp_path, "one-constraint.yaml", 4)
    assert node in ("node3", "node4")


def test_spread_two_constraints_put_the_fourth_pod_on_node4(tmp_path):
    """Example "multiple topology spread constraints": zone (maxSkew 1) and ``node`` (maxSkew 1, a label
    with one node per value): "the only valid placement is onto node node4"."""
    node, result = plan_docs_example(tmp_path, "two-constraints.yaml", 4)
    assert node == "node4"
    assert not [k for k in result.ignored if "second topology spread" in k]


def test_spread_with_node_affinity_never_counts_or_uses_zone_c(tmp_path):
    """Example "topology spread constraints with node affinity": a fifth node in zoneC, excluded by the
    pod's node affinity (``zone NotIn [zoneC]``); "mypod will be placed into zone B instead of zone C"
    (nodeAffinityPolicy Honor: zoneC is no domain)."""
    node, result = plan_docs_example(tmp_path, "one-constraint-with-nodeaffinity.yaml", 5)
    assert node in ("node3", "node4")
    assert "domains" not in services(result)["mypod"]["spread"]


# ------------------------------------------------------------------------------- 4: pod (anti-)affinity

def test_zookeeper_tutorial_as_published_its_anti_affinity_picks_none_of_its_pods():
    """The ZooKeeper tutorial's StatefulSet, as published at the commit noted in the data README: its pods
    are labelled ``app.kubernetes.io/name: zk`` but its required anti-affinity selects ``app In (zk)``. The
    scheduler's InterPodAffinity filter rejects a node only for existing pods the term's selector matches
    (pkg/scheduler/framework/plugins/interpodaffinity/filtering.go), so this term constrains nothing: the
    three servers may share one node. The import must not cap them, and must say why."""
    result = import_k8s([DATA / "zookeeper.yaml"], pools=[parse_pool_option("n=cpu:4,memory:16Gi,count:3")])
    zk = services(result)["zk"]
    assert "max_per_node" not in zk and "anti_affinity" not in zk
    assert pipeline.pack(result.validated()).nodes_used == 1
    assert any("StatefulSet zk: its required pod anti-affinity over kubernetes.io/hostname picks no pod of "
               "the input" in n for n in result.notes)


def zookeeper_as_intended(tmp_path: Path) -> Path:
    """The tutorial's StatefulSet with its pods labelled ``app: zk``, the label its anti-affinity selects
    (the tutorial's text: "no two servers share a node"). Edited for the test."""
    path = tmp_path / "zookeeper.yaml"
    path.write_text((DATA / "zookeeper.yaml").read_text().replace(
        "    metadata:\n      labels:\n        app.kubernetes.io/name: zk\n",
        "    metadata:\n      labels:\n        app.kubernetes.io/name: zk\n        app: zk\n"))
    return path


def test_zookeeper_with_its_anti_affinity_matching_runs_one_server_per_node(tmp_path):
    """Required anti-affinity over ``kubernetes.io/hostname`` against its own pods: at most one per node
    (docs: "Assigning Pods to Nodes", inter-pod affinity and anti-affinity). Three servers need three nodes
    however small they are; on two nodes the third would stay Pending: the plan refuses, saying why."""
    path = zookeeper_as_intended(tmp_path)
    result = import_k8s([path], pools=[parse_pool_option("n=cpu:4,memory:16Gi,count:5")])
    assert services(result)["zk"]["max_per_node"] == 1
    placement = pipeline.pack(result.validated())
    assert placement.nodes_used == 3 and len(set(placement.assignment.values())) == 3
    two = import_k8s([path], pools=[parse_pool_option("n=cpu:4,memory:16Gi,count:2")])
    with pytest.raises(InfeasiblePlacement, match=r"service 'zk': anti-affinity: max_per_node 1 allows at "
                                                  r"most 2 replicas on the 2 nodes of pool n"):
        pipeline.pack(two.validated())


def test_redis_cache_and_web_server_are_co_located_one_pair_per_node():
    """"Assigning Pods to Nodes", "Always co-located in the same node": redis-cache (3 replicas,
    anti-affinity to its own pods over hostname) and web-server (3 replicas, anti-affinity to its own pods,
    affinity to ``app=store`` over hostname). The page's result: each of the three nodes runs one
    web-server and one cache."""
    result = import_k8s([DATA / "redis-web.yaml"], pools=[parse_pool_option("n=cpu:4,memory:16Gi,count:5")])
    s = services(result)
    assert s["redis-cache"]["max_per_node"] == 1 and s["web-server"]["max_per_node"] == 1
    assert s["web-server"]["affinity"] == [{"service": "redis-cache", "topology": "kubernetes.io/hostname"}]
    placement = pipeline.pack(result.validated())
    per_node: dict[str, list[str]] = {}
    for replica, node in placement.assignment.items():
        per_node.setdefault(node, []).append(replica.rsplit("-", 1)[0])
    assert sorted(sorted(v) for v in per_node.values()) == [["redis-cache", "web-server"]] * 3


def test_pod_affinity_over_zones_follows_the_security_s1_pod(tmp_path):
    """"Assigning Pods to Nodes", pod-with-pod-affinity.yaml: the pod may only run in a zone that runs a
    pod labelled ``security=S1`` (required pod affinity over ``topology.kubernetes.io/zone``); its
    preferred anti-affinity is a preference. The S1 pod and the zoned nodes are written for the test: the
    S1 pod is pinned to zone b, so the affine pod must go to zone b's node."""
    s1 = tmp_path / "s1.yaml"
    s1.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "s1", "labels": {"security": "S1"}}, "spec": {
        "nodeSelector": {"topology.kubernetes.io/zone": "b"},
        "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.8"}]}}))
    nodes = nodes_file(tmp_path / "nodes.json", {f"n-{z}": {"topology.kubernetes.io/zone": z} for z in "abc"})
    result = import_k8s([DATA / "pod-with-pod-affinity.yaml", s1], nodes_path=str(nodes))
    s = services(result)
    assert s["with-pod-affinity"]["affinity"] == [{"service": "s1",
                                                   "topology": "topology.kubernetes.io/zone"}]
    assert any(k.startswith("preferred pod anti-affinity") for k in result.ignored)
    where = node_of(result, pipeline.pack(result.validated()))
    assert where["with-pod-affinity-0"] == where["s1-0"] == "n-b"


# ---------------------------------------------------------------------------------------------- 9, 10

def test_zookeeper_nodes_plus_a_pool_each_keep_their_pod_slots_and_export(tmp_path):
    """``--nodes`` (written for the test: five nodes of 58 pod slots, as an EKS m5.xlarge reports) plus a
    ``--pool`` that names no pod slots: the nodes keep their 58, the pool gets the kubelet's default 110
    (docs: kubelet ``maxPods``). The plan uses three of the five existing nodes; the export names the two
    it leaves empty (to cordon and drain) and puts the StatefulSet in ``default`` (no namespace given),
    saying so once."""
    path = zookeeper_as_intended(tmp_path)
    nodes = nodes_file(tmp_path / "nodes.json", {f"ip-10-0-{i}-1": {
        "node.kubernetes.io/instance-type": "m5.xlarge"} for i in range(5)},
        {"cpu": "3920m", "memory": "14Gi", "pods": "58"})
    result = import_k8s([path], nodes_path=str(nodes),
                        pools=[parse_pool_option("big=cpu:16,memory:64Gi,count:2,cost:3")])
    slots = {p["name"]: p["resources"]["pods"] for p in result.scenario["cluster"]["pools"]}
    assert slots == {"m5.xlarge": 58, "big": 110}
    assert sum("namespace default assumed" in n for n in result.notes) == 1
    scenario = result.validated()
    placement = pipeline.pack(scenario)
    assert placement.nodes_used == 3 and not placement.unplaced
    files, _ = export_plan(scenario, placement)
    plan = yaml.safe_load(files["nodes.yaml"])
    assert len(plan["empty"]) == 2 and set(plan["empty"]) < {f"ip-10-0-{i}-1" for i in range(5)}
    used = {n for n, v in plan["nodes"].items() if v["pods"]}
    assert all(plan["nodes"][n]["pods"][0]["workload"].startswith("StatefulSet default/zk") for n in used)
