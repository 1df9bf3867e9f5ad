"""import-k8s on the shop manifests (tests/k8s/data/shop) and a kubectl node list: every workload with its
replicas and exact requests, pools from node shapes, DaemonSet overhead, what is ignored, and a plan that is
feasible on the real nodes."""

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from capacity import pipeline
from capacity.k8s import import_k8s, scenario_yaml
from capacity.k8s.export import node_names
from capacity.scenario import load_scenario
from capacity.units import parse_quantity_exact

DATA = Path(__file__).parent / "data"
NODES = DATA / "nodes.json"
GIB, MIB, KIB = 2**30, 2**20, 2**10


@pytest.fixture(scope="module")
def shop():
    return import_k8s([DATA / "shop"], nodes_path=str(NODES), name="shop")


@pytest.fixture(scope="module")
def shop_unfilled():
    return import_k8s([DATA / "shop"], nodes_path=str(NODES), name="shop", fill_from_limits=False)


def services(result):
    return {s["name"]: s for s in result.scenario["services"]}


def requests(svc):
    return {r: parse_quantity_exact(v) for r, v in svc["resources"].items()}


def test_every_workload_with_its_replicas(shop):
    got = {s["name"]: s["replicas"] for s in shop.scenario["services"]}
    # reports (0 replicas) is left out; the ReplicaSet owned by frontend is not counted twice.
    assert got == {"frontend": 3, "api": 4, "cart": 2, "inference": 3, "redis": 3, "batch-runner": 1}
    kinds = shop.scenario["kubernetes"]["workloads"]
    assert kinds["redis"] == {"kind": "StatefulSet", "namespace": "shop", "name": "redis"}
    assert kinds["inference"] == {"kind": "Deployment", "namespace": "ml", "name": "inference"}
    assert kinds["batch-runner"]["kind"] == "Pod"


def test_requests_in_every_notation_are_exact(shop):
    s = services(shop)
    assert requests(s["frontend"]) == {"cpu": Fraction(1, 4), "memory": 256 * MIB, "pods": 1}
    # redis: cpu 0.2 (a JSON number), memory 128974848 (plain bytes)
    assert requests(s["redis"]) == {"cpu": Fraction(1, 5), "memory": 128974848, "pods": 1}
    # batch-runner: cpu "1.5", memory "1e9"
    assert requests(s["batch-runner"]) == {"cpu": Fraction(3, 2), "memory": 10**9, "pods": 1}
    # inference: the GPU is only a limit (extended resources: request = limit)
    assert requests(s["inference"]) == {"cpu": 4, "memory": 24 * GIB, "nvidia.com/gpu": 1, "pods": 1}


def test_sidecar_and_init_containers_follow_kubernetes(shop):
    api = requests(services(shop)["api"])
    # app 0.5 + sidecar 0.1 = 0.6 CPU, but db-migrate (2) runs beside the sidecar started before it: 2.1
    assert api["cpu"] == Fraction(21, 10)
    # memory: app 1G + sidecar 128Mi beats db-migrate 512Mi + 128Mi
    assert api["memory"] == 10**9 + 128 * MIB


def test_requests_are_taken_from_limits_unless_the_old_reading_is_asked_for(shop, shop_unfilled):
    filled = requests(services(shop)["cart"])
    assert filled["cpu"] == Fraction(3, 10) and filled["memory"] == 256 * MIB
    assert filled["ephemeral-storage"] == 2 * GIB
    assert not any("shop/cart" in m for m in shop.missing)
    assert any(line.startswith("Deployment shop/cart: container cart: cpu 300m, memory 256Mi")
               for line in shop.from_limits)
    cart = requests(services(shop_unfilled)["cart"])
    assert cart["cpu"] == 0 and cart["memory"] == 0 and cart["ephemeral-storage"] == 2 * GIB
    assert any("shop/cart" in m and "no cpu request (limit 300m" in m for m in shop_unfilled.missing)
    assert any("shop/cart" in m and "no memory request (limit 256Mi" in m for m in shop_unfilled.missing)


def test_pools_from_node_shapes_labels_and_taints(shop):
    pools = {p["name"]: p for p in shop.scenario["cluster"]["pools"]}
    # 3 shapes, split by zone because inference spreads over zones... or not, when spread is not modelled:
    # either way every schedulable node is in exactly one pool, the cordoned one in none.
    assert sum(p["count"] for p in pools.values()) == 11
    listed = [n for names in shop.scenario["kubernetes"]["nodes"].values() for n in names]
    assert len(listed) == len(set(listed)) == 11
    assert "ip-10-0-9-9.eu-west-1.compute.internal" not in listed
    types = Counter(p["labels"]["node.kubernetes.io/instance-type"] for p in pools.values() for _ in
                    range(p["count"]))
    assert types == {"m5.2xlarge": 6, "r5.2xlarge": 3, "g5.12xlarge": 2}
    for p in pools.values():
        assert "kubernetes.io/hostname" not in p["labels"]
        assert p["name"].startswith(p["labels"]["node.kubernetes.io/instance-type"])
    gpu = [d for d in shop.pools if "g5" in d.name]
    assert gpu and all(str(t) == "nvidia.com/gpu=present:NoSchedule" for d in gpu for t in d.taints)
    assert any("cordoned" in n for n in shop.notes)
    assert any("transient taint node.kubernetes.io/disk-pressure" in n for n in shop.notes)


def test_daemonsets_are_taken_off_the_pools_they_run_on(shop):
    by_type = {}
    for p in shop.scenario["cluster"]["pools"]:
        by_type[p["labels"]["node.kubernetes.io/instance-type"]] = {
            r: parse_quantity_exact(v) for r, v in p["resources"].items()}
    # m5: 7910m - fluent-bit 100m - node-exporter 100m; 31482240Ki - 128Mi - 5e7; 58 pods - 2
    assert by_type["m5.2xlarge"]["cpu"] == Fraction(7710, 1000)
    assert by_type["m5.2xlarge"]["memory"] == 31482240 * KIB - 128 * MIB - 50_000_000
    assert by_type["m5.2xlarge"]["pods"] == 56
    # g5 (tainted): fluent-bit tolerates everything, the device plugin selects it, node-exporter does not
    assert by_type["g5.12xlarge"]["cpu"] == Fraction(47810 - 150, 1000)
    assert by_type["g5.12xlarge"]["memory"] == 192545900 * KIB - 128 * MIB - 64 * MIB
    assert by_type["g5.12xlarge"]["nvidia.com/gpu"] == 4
    overhead = {d.label: d for d in shop.daemonsets}
    assert len(overhead["DaemonSet monitoring/node-exporter"].pools) == len(shop.pools) - 2
    assert all("g5" in p for p in overhead["DaemonSet kube-system/nvidia-device-plugin"].pools)


def test_selectors_tolerations_and_anti_affinity_become_pools_and_max_per_node(shop):
    s = services(shop)
    pool_type = {p["name"]: p["labels"]["node.kubernetes.io/instance-type"]
                 for p in shop.scenario["cluster"]["pools"]}
    assert {pool_type[p] for p in s["inference"]["pools"]} == {"g5.12xlarge"}
    assert {pool_type[p] for p in s["redis"]["pools"]} == {"r5.2xlarge"}
    for name in ("frontend", "api", "cart", "batch-runner"):   # no toleration: never on the GPU nodes
        assert {pool_type[p] for p in s[name]["pools"]} == {"m5.2xlarge", "r5.2xlarge"}
    assert s["frontend"]["max_per_node"] == 1       # required anti-affinity on hostname
    assert s["redis"]["max_per_node"] == 1          # anti-affinity written with matchExpressions
    # DoNotSchedule spread over hostnames, maxSkew 2: the scheduler's rule over the nodes it may use (its
    # node affinity keeps it off the GPU nodes, so they are no domains)
    assert s["api"]["spread"] == {"topology": "kubernetes.io/hostname", "max_skew": 2}
    assert "max_per_node" not in s["api"]
    assert "max_per_node" not in s["cart"]
    # DoNotSchedule spread over zones: the scenario's spread; the ScheduleAnyway one is only listed
    assert s["inference"]["spread"] == {"topology": "topology.kubernetes.io/zone", "max_skew": 1}
    zones = {p["labels"].get("topology.kubernetes.io/zone") for p in shop.scenario["cluster"]["pools"]}
    assert zones == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}


def test_everything_ignored_is_listed(shop):
    text = "\n".join(shop.ignored_lines())
    for expected in ("Service (", "shop/frontend", "ConfigMap (", "shop/api-config",
                     "PodDisruptionBudget (", "Job (",
                     "shop/db-backup",
                     "Namespace (", "preferred node affinity", "resource limits",
                     "ScheduleAnyway; the scenario takes one per service", "volumeClaimTemplates",
                     "0 replicas"):
        assert expected in text, expected
    assert any("counted through its owner Deployment shop/frontend" in n for n in shop.notes)
    # the HPA is not ignored: its range and metric go into the scenario
    assert services(shop)["api"]["autoscaling"] == {"min": 4, "max": 12, "metric": "utilisation",
                                                    "target": 0.7, "policy": "hpa"}
    assert any("HorizontalPodAutoscaler shop/api scales Deployment shop/api: HPA 4..12, utilisation 0.7"
               in n for n in shop.notes)


def test_scenario_file_round_trips(shop, tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(scenario_yaml(shop), encoding="utf-8")
    loaded = load_scenario(path)
    assert loaded.digest() == shop.validated().digest()
    assert loaded.workload is None


def test_plan_is_feasible_on_the_real_nodes(shop):
    scenario = shop.validated()
    placement = pipeline.pack(scenario)
    assert placement.status in ("optimal", "feasible") and not placement.unplaced
    names = node_names(scenario, placement)
    nodes = {n["metadata"]["name"]: n for n in json.loads(NODES.read_text())["items"]}
    overhead = {d.label: d for d in shop.daemonsets}
    svc = {s.name: s for s in scenario.services}
    per_node = Counter()
    for node in placement.nodes:
        real, existing = names[node.name]
        assert existing
        k8s = nodes[real]
        labels = k8s["metadata"]["labels"]
        allocatable = {r: parse_quantity_exact(v) for r, v in k8s["status"]["allocatable"].items()}
        used: dict[str, Fraction] = Counter()
        for ds in overhead.values():
            if node.pool in ds.pools:
                for r, v in ds.requests.items():
                    used[r] += v
        for replica in node.replicas:
            name = replica.rsplit("-", 1)[0]
            per_node[name, real] += 1
            for r, v in svc[name].resources.items():
                used[r] += parse_quantity_exact(repr(v)) if r != "memory" else Fraction(round(v))
            taints = k8s["spec"].get("taints", [])
            if name != "inference":
                assert not any(t["key"] == "nvidia.com/gpu" for t in taints), replica
            if name == "redis":
                assert labels.get("workload-class") == "memory"
        for r, v in used.items():
            assert v <= allocatable[r], (real, r)
    for (name, _), count in per_node.items():
        assert count <= (svc[name].max_per_node or count)
    zone_of = {real: nodes[real]["metadata"]["labels"]["topology.kubernetes.io/zone"]
               for real, _ in names.values()}
    per_zone = Counter(zone_of[real] for (name, real), k in per_node.items() if name == "inference"
                       for _ in range(k))
    assert sum(per_zone.values()) == 3 and max(per_zone.values()) - min(per_zone.values()) <= 1
