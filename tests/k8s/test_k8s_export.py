"""plan --export k8s: node names (existing, then new), and the pool selector of each patch, on hand-made
pools where the right answer is known."""

import pytest
import yaml

from capacity import pipeline
from capacity.k8s.export import _pool_selector, export_plan, node_names
from capacity.scenario import Pool, scenario_from_dict


def pools(*specs):
    return [Pool(name=name, count=1, resources={"cpu": 1}, labels=labels) for name, labels in specs]


def test_node_selector_when_shared_labels_pick_the_used_pools():
    ps = pools(("a", {"type": "m5", "zone": "1"}), ("b", {"type": "m5", "zone": "2"}),
               ("c", {"type": "r5", "zone": "1"}))
    kind, body, warning = _pool_selector(ps, {"a", "b"}, {"a", "b", "c"})
    assert (kind, body, warning) == ("nodeSelector", {"type": "m5"}, "")
    # among the pools the workload may use, zone alone tells a from b
    assert _pool_selector(ps, {"a"}, {"a", "b"})[:2] == ("nodeSelector", {"zone": "1"})
    assert _pool_selector(ps, {"a", "b"}, {"a", "b"})[0] == "none"


def test_affinity_with_in_over_differing_values_then_per_pool_terms():
    ps = pools(("a", {"type": "m5", "zone": "1"}), ("b", {"type": "m5", "zone": "2"}),
               ("c", {"type": "m5", "zone": "3"}))
    kind, terms, _ = _pool_selector(ps, {"a", "b"}, {"a", "b", "c"})
    assert kind == "nodeAffinity"
    assert terms == [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["1", "2"]}]}]
    # b has a label that c lacks and c must be excluded: one term per pool
    ps = pools(("a", {"tier": "x"}), ("b", {"tier": "y", "ssd": "1"}), ("c", {"tier": "y"}))
    kind, terms, warning = _pool_selector(ps, {"a", "c"}, {"a", "b", "c"})
    assert kind == "nodeAffinity" and not warning
    exprs = [t["matchExpressions"] for t in terms]
    assert {"key": "ssd", "operator": "DoesNotExist"} in exprs[1]


def test_pools_with_the_same_labels_cannot_be_told_apart():
    ps = pools(("a", {"type": "m5"}), ("b", {"type": "m5"}), ("c", {"type": "r5"}))
    kind, _, warning = _pool_selector(ps, {"a"}, {"a", "b", "c"})
    assert kind == "nodeAffinity" and "cannot tell them apart" in warning


@pytest.fixture
def scenario():
    return scenario_from_dict({
        "name": "grow",
        "cluster": {"pools": [{"name": "std", "count": 4, "resources": {"cpu": 2, "memory": "4Gi"},
                               "labels": {"node.kubernetes.io/instance-type": "m5.large"}},
                              {"name": "big", "count": 1, "resources": {"cpu": 8, "memory": "32Gi"},
                               "labels": {"node.kubernetes.io/instance-type": "m5.2xlarge"}}]},
        "services": [{"name": "web", "replicas": 4, "resources": {"cpu": "1500m", "memory": "1Gi"},
                      "pools": ["std"]},
                     {"name": "job", "replicas": 1, "resources": {"cpu": 1, "memory": "1Gi"}}],
        "kubernetes": {"workloads": {"job": {"kind": "Pod", "namespace": "batch", "name": "job-1"}},
                       "nodes": {"std": ["node-a", "node-b"]}},
    })


def test_existing_nodes_first_then_new_ones(scenario):
    placement = pipeline.pack(scenario)
    names = node_names(scenario, placement)
    std = sorted(v for k, v in names.items() if k.startswith("std-"))
    assert std == [("node-a", True), ("node-b", True), ("std-new-0", False), ("std-new-1", False)]
    files, _ = export_plan(scenario, placement)
    assert "nodes.yaml" in files and "apply.sh" in files
    # web has no kubernetes entry: taken as Deployment default/web, and uses its only pool: no patch
    assert not any("deployment.default.web" in f for f in files)
    assert "Deployment default/web" in files["nodes.yaml"]
    pod = files["patches/pod.batch.job-1.yaml"]
    assert "nodeName:" in pod and "kubectl patch --local" in pod


def test_kubernetes_section_is_checked(scenario):
    from capacity.errors import ScenarioError

    doc = scenario.model_dump(mode="json")
    doc["kubernetes"]["nodes"]["big"] = ["x", "y"]
    with pytest.raises(ScenarioError, match="2 nodes listed but the pool has count 1"):
        scenario_from_dict(doc)
    doc["kubernetes"]["nodes"] = {"std": ["node-a", "node-a"]}
    with pytest.raises(ScenarioError, match="listed twice"):
        scenario_from_dict(doc)
    doc["kubernetes"] = {"workloads": {"nope": {"kind": "Deployment", "name": "x"}}}
    with pytest.raises(ScenarioError, match="no service named 'nope'"):
        scenario_from_dict(doc)


def test_empty_existing_nodes_are_named_and_assumed_namespaces_said_once():
    scenario = scenario_from_dict({
        "name": "shrink",
        "cluster": {"pools": [{"name": "std", "count": 3, "resources": {"cpu": 4, "memory": "8Gi"},
                               "labels": {"node.kubernetes.io/instance-type": "m5.xlarge"}}]},
        "services": [{"name": "web", "replicas": 2, "resources": {"cpu": 1, "memory": "1Gi"}},
                     {"name": "api", "replicas": 1, "resources": {"cpu": 1, "memory": "1Gi"}}],
        "kubernetes": {"workloads": {"api": {"kind": "Deployment", "namespace": "shop", "name": "api"}},
                       "nodes": {"std": ["node-a", "node-b", "node-c"]}},
    })
    placement = pipeline.pack(scenario)
    files, terminal = export_plan(scenario, placement)
    doc = yaml.safe_load(files["nodes.yaml"])
    assert doc["empty"] == ["node-b", "node-c"] and list(doc["nodes"]) == ["node-a"]
    assert "existing nodes left empty (cordon and drain): node-b, node-c" in terminal
    assert files["nodes.yaml"].count("namespace default") == 1
    assert sum("taken as Deployments in namespace default" in line for line in terminal) == 1
