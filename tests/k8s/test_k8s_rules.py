"""Kubernetes' own rules, each on a few hand-written lines: requests defaulted from limits (the API server's
``SetDefaults_Pod``), manifests the API server refuses (``ValidateResourceRequirements``), HorizontalPod-
Autoscalers, pod slots per pool. The source of each rule is cited where it is implemented."""

from __future__ import annotations

import json
import re
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from capacity import pipeline
from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.k8s import export_plan, import_k8s, parse_pool_option, scenario_yaml, summary_lines

GIB = 2**30


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def deployment(name: str = "web", replicas: int | None = 4, resources: str = "", extra: str = "",
               namespace: str = "shop") -> str:
    """A Deployment manifest; ``resources`` is the container's resources block (YAML, 12 spaces deep)."""
    reps = f"  replicas: {replicas}\n" if replicas is not None else ""
    ns = f", namespace: {namespace}" if namespace else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}{ns}}}\nspec:\n{reps}"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n"
            f"    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec:\n{extra}      containers:\n        - name: app\n          image: x\n"
            f"          resources:\n{resources}")


def services(result) -> dict:
    return {s["name"]: s for s in result.scenario["services"]}


# ---------------------------------------------------------------------------------------------- 1: limits

LIMITS_ONLY = "            limits: {cpu: 2, memory: 4Gi}\n"


def test_a_limit_without_request_requests_the_limit_and_says_so(tmp_path):
    path = write(tmp_path / "d.yaml", deployment(resources=LIMITS_ONLY))
    pool = parse_pool_option("n=cpu:4,memory:16Gi,pods:110,count:8")
    result = import_k8s([path], pools=[pool])
    assert services(result)["web"]["resources"] == {"cpu": 2, "memory": "4Gi", "pods": 1}
    assert result.from_limits == ["Deployment shop/web: container app: cpu 2, memory 4Gi"]
    assert not result.missing
    assert "requests taken from limits" in "\n".join(summary_lines(result))
    assert "# Requests taken from limits" in scenario_yaml(result)
    # 4 replicas of 2 CPU on 4-CPU nodes: 2 nodes (counting 0 would have said 1)
    assert pipeline.pack(result.validated()).nodes_used == 2
    # the old reading, on request
    old = import_k8s([path], pools=[pool], fill_from_limits=False)
    assert services(old)["web"]["resources"] == {"cpu": 0, "memory": 0, "pods": 1}
    assert len(old.missing) == 2 and not old.from_limits


def test_every_resource_kind_defaults_from_its_limit_in_init_containers_and_daemonsets(tmp_path):
    path = write(tmp_path / "d.yaml", """\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent, namespace: kube-system}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              containers:
                - name: a
                  resources: {limits: {cpu: 500m, memory: 256Mi}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: db, namespace: shop}
        spec:
          replicas: 1
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              initContainers:
                - name: warm
                  resources: {limits: {cpu: 3, memory: 1Gi}}
              containers:
                - name: app
                  resources:
                    requests: {cpu: 1}
                    limits: {cpu: 2, memory: 2Gi, hugepages-2Mi: 1Gi, example.com/fpga: 2,
                             ephemeral-storage: 1Gi}
        """)
    pool = parse_pool_option("n=cpu:8,memory:32Gi,hugepages-2Mi:4Gi,example.com/fpga:4,"
                             "ephemeral-storage:100Gi,pods:110,count:2")
    result = import_k8s([path], pools=[pool])
    db = services(result)["db"]["resources"]
    # cpu: the init container's limit 3 beats the app's request 1 (the request is kept, not the limit 2)
    assert db == {"cpu": 3, "memory": "2Gi", "ephemeral-storage": "1Gi", "example.com/fpga": 2,
                  "hugepages-2Mi": "1Gi", "pods": 1}
    assert result.pools[0].allocatable["cpu"] == Fraction(15, 2)          # DaemonSet: 500m from its limit
    assert result.pools[0].allocatable["memory"] == 32 * GIB - 256 * 2**20
    lines = "\n".join(result.from_limits)
    assert "DaemonSet kube-system/agent: container a: cpu 500m, memory 256Mi" in lines
    assert "container warm (init): cpu 3, memory 1Gi" in lines


def test_pod_level_limits_default_the_pod_request(tmp_path):
    text = deployment(replicas=1, resources="            requests: {cpu: 250m}\n",
                      extra="      resources: {limits: {cpu: 1, memory: 3Gi}}\n")
    result = import_k8s([write(tmp_path / "d.yaml", text)],
                        pools=[parse_pool_option("n=cpu:4,memory:16Gi,pods:110")])
    # cpu: a container requests it, so the pod request is the containers' 250m; memory: the pod limit
    assert services(result)["web"]["resources"] == {"cpu": "250m", "memory": "3Gi", "pods": 1}


# ---------------------------------------------------------------------------------------------- 5: refused

@pytest.mark.parametrize(("resources", "field", "message"), [
    ("            requests: {nvidia.com/gpu: 1}\n", "resources.limits.nvidia.com/gpu",
     "Limit must be set for non overcommitable resources"),
    ("            requests: {nvidia.com/gpu: 1}\n            limits: {nvidia.com/gpu: 2}\n",
     "resources.requests.nvidia.com/gpu", "1 must be equal to nvidia.com/gpu limit of 2"),
    ("            limits: {nvidia.com/gpu: 0.5}\n", "resources.limits.nvidia.com/gpu",
     "500m must be an integer"),
    ("            requests: {cpu: 2}\n            limits: {cpu: 1}\n", "resources.requests.cpu",
     "2 must be less than or equal to cpu limit of 1"),
    ("            requests: {memory: 500m}\n", "resources.requests.memory",
     "fractional byte value 500m is invalid, must be an integer"),
    ("            limits: {hugepages-2Mi: 1Gi}\n", "resources", "HugePages require cpu or memory"),
])
def test_requests_the_api_server_refuses_exit_2_naming_file_document_and_field(tmp_path, capsys, resources,
                                                                                 field, message):
    path = write(tmp_path / "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n"
                 + deployment(resources=resources))
    code = main(["import-k8s", str(path), "--pool", "n=cpu:4,memory:16Gi,nvidia.com/gpu:4",
                 "-o", str(tmp_path / "o.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:5: document 2 (Deployment shop/web) spec.template.spec.containers[0].{field}: " in err
    assert message in err
    assert not (tmp_path / "o.yaml").exists()


def test_a_gpu_limit_alone_is_valid_and_a_cpu_request_below_its_limit_too(tmp_path):
    text = deployment(resources="            requests: {cpu: 500m}\n"
                                "            limits: {cpu: 1, nvidia.com/gpu: 1}\n")
    result = import_k8s([write(tmp_path / "d.yaml", text)],
                        pools=[parse_pool_option("g=cpu:8,memory:32Gi,nvidia.com/gpu:4,pods:110,count:2")])
    assert services(result)["web"]["resources"]["nvidia.com/gpu"] == 1
    assert services(result)["web"]["resources"]["cpu"] == "500m"


def test_sub_milli_quantities_round_up_as_the_api_server_stores_them(tmp_path):
    text = deployment(resources="            requests: {cpu: 100u, memory: 64Mi}\n")
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[parse_pool_option("n=cpu:4,memory:16Gi")])
    assert services(result)["web"]["resources"]["cpu"] == "1m"



# ---------------------------------------------------------------------------------------------- 9: slots

def test_each_pool_keeps_its_own_pod_slots_and_110_when_unknown(tmp_path):
    nodes = write(tmp_path / "nodes.yaml", """\
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Node
          metadata: {name: small-1, labels: {node.kubernetes.io/instance-type: m5.large}}
          status: {allocatable: {cpu: "64", memory: 256Gi, pods: "58"}}
        """)
    text = deployment(replicas=150, resources="            requests: {cpu: 10m, memory: 16Mi}\n")
    result = import_k8s([write(tmp_path / "d.yaml", text)], nodes_path=str(nodes),
                        pools=[parse_pool_option("big=cpu:64,memory:256Gi,count:1")])
    slots = {p["name"]: p["resources"]["pods"] for p in result.scenario["cluster"]["pools"]}
    assert slots == {"m5.large": 58, "big": 110}
    assert any("pool big: pod slots not given, 110 assumed" in n for n in result.notes)
    # 150 pods need 58 + 110 slots: both nodes, never 150 on one
    placement = pipeline.pack(result.validated())
    per_node = sorted(len(n.replicas) for n in placement.nodes)
    assert sum(per_node) == 150 and per_node[0] <= 58 and per_node[1] <= 110


# ---------------------------------------------------------------------------------------------- 2: HPA

def hpa(target: str = "web", low: int | None = 3, high: int = 10, metrics: str = "") -> str:
    lows = f"  minReplicas: {low}\n" if low is not None else ""
    return (f"---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {target}, "
            f"namespace: shop}}\nspec:\n  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, "
            f"name: {target}}}\n{lows}  maxReplicas: {high}\n{metrics}")


REQ = "            requests: {cpu: 500m, memory: 256Mi}\n"
POOL = parse_pool_option("n=cpu:4,memory:16Gi,pods:110,count:8")


@pytest.mark.parametrize(("text", "field"), [
    (deployment(replicas=None, resources=REQ) + hpa(metrics=(
        "  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, "
        "averageUtilization: true}}\n")), "spec.metrics[0].resource.target.averageUtilization"),
    (deployment(resources=REQ, extra="      topologySpreadConstraints:\n        - {maxSkew: 1, topologyKey: "
                "zone, whenUnsatisfiable: DoNotSchedule, minDomains: true, labelSelector: "
                "{matchLabels: {app: web}}}\n"),
     "spec.template.spec.topologySpreadConstraints[0].minDomains"),
])
def test_a_boolean_where_kubernetes_wants_an_integer_is_refused(tmp_path, text, field):
    """YAML 1.2's true is no number (the API server refuses it in an int32 field), not 1 % nor 1 domain."""
    with pytest.raises(ScenarioError, match=re.escape(field) + ": expected an integer, got True"):
        import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])



@pytest.mark.parametrize(("replicas", "low", "expected", "note"), [
    (None, 3, 3, "no spec.replicas: 3 from HorizontalPodAutoscaler shop/web (minReplicas)"),
    (None, None, 1, "no spec.replicas: 1 from"),        # minReplicas defaults to 1
    (2, 3, 3, "spec.replicas 2 is below HorizontalPodAutoscaler shop/web's minReplicas: 3"),
    (12, 3, 10, "spec.replicas 12 is above HorizontalPodAutoscaler shop/web's maxReplicas: 10"),
    (5, 3, 5, None),
])
def test_an_hpa_keeps_its_target_within_min_and_max(tmp_path, replicas, low, expected, note):
    text = deployment(replicas=replicas, resources=REQ) + hpa(low=low)
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    web = services(result)["web"]
    assert web["replicas"] == expected
    assert web["autoscaling"]["min"] == (low if low is not None else 1) and web["autoscaling"]["max"] == 10
    if note:
        assert any(note in n for n in result.notes), result.notes
    assert "HPA" in "\n".join(summary_lines(result))


def test_a_target_at_zero_replicas_is_not_scaled(tmp_path):
    text = deployment(replicas=0, resources=REQ) + "---\n" + deployment(name="api", resources=REQ) + hpa()
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    assert set(services(result)) == {"api"}
    assert result.ignored["0 replicas, nothing to place"] == ["Deployment shop/web"]


@pytest.mark.parametrize(("metrics", "section", "ignored"), [
    ("", {"metric": "utilisation", "target": 0.8}, None),             # v2 without metrics: 80% cpu
    ("  metrics:\n  - type: Pods\n    pods:\n      metric: {name: vllm:num_requests_waiting}\n"
     "      target: {type: AverageValue, averageValue: '5'}\n",
     {"metric": "queue", "target": 5}, None),
    ("  metrics:\n  - type: Pods\n    pods:\n      metric: {name: http_requests_per_second}\n"
     "      target: {type: AverageValue, averageValue: 500m}\n"
     "  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}\n",
     {"metric": "rps", "target": 0.5}, "HPA metric 1 (the HPA scales to the largest count"),
    ("  metrics:\n  - type: External\n    external:\n      metric: {name: sqs_visible_messages}\n"
     "      target: {type: Value, value: '30'}\n", {"metric": "queue", "target": 30}, None),
    ("  metrics:\n  - type: Object\n    object:\n      metric: {name: temperature}\n"
     "      describedObject: {kind: Service, name: x}\n      target: {type: Value, value: '3'}\n",
     {}, "HPA Object metric temperature (no scenario metric stands for it"),
    ("  metrics:\n  - type: Resource\n    resource: {name: memory, target: {type: AverageValue, "
     "averageValue: 1Gi}}\n", {}, "HPA memory target averageValue 1Gi"),
])
def test_hpa_metrics_map_to_the_scenario_metrics(tmp_path, metrics, section, ignored):
    text = deployment(replicas=None, resources=REQ) + hpa(metrics=metrics)
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    assert services(result)["web"]["autoscaling"] == {"min": 3, "max": 10, **section, "policy": "hpa"}
    if ignored:
        assert any(k.startswith(ignored) for k in result.ignored), result.ignored
    result.validated()


def test_autoscaling_v1_and_an_hpa_without_its_target(tmp_path):
    text = deployment(replicas=None, resources=REQ) + (
        "---\napiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\n"
        "metadata: {name: web, namespace: shop}\n"
        "spec:\n  scaleTargetRef: {kind: Deployment, name: web}\n  maxReplicas: 6\n"
        "  targetCPUUtilizationPercentage: 50\n") + hpa(target="gone")
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    assert services(result)["web"]["autoscaling"] == {"min": 1, "max": 6, "metric": "utilisation",
                                                      "target": 0.5, "policy": "hpa"}
    assert result.ignored["HorizontalPodAutoscaler (its target is not in the input)"] == ["shop/gone"]


def test_the_autoscaling_section_is_validated_data():
    from capacity.scenario import scenario_from_dict

    doc = {"name": "a", "cluster": {"pools": [{"name": "p", "count": 1, "resources": {"cpu": 4}}]},
           "services": [{"name": "s", "replicas": 2, "resources": {"cpu": 1},
                         "autoscaling": {"min": 2, "max": 8, "metric": "rps", "target": "40/s"}}]}
    assert scenario_from_dict(doc).services[0].autoscaling.target == 40
    for bad, message in (({"min": 3, "max": 2}, "min (3) is above max (2)"),
                         ({"min": 1, "max": 2, "metric": "rps"}, "metric and target go together"),
                         ({"min": 1, "max": 2, "metric": "latency", "target": 1}, "metric"),
                         ({"min": 1, "max": 2, "cooldown": 1}, "cooldown"),
                         ({"min": True, "max": 2}, "expected a number, got a boolean"),
                         ({"min": 1, "max": True}, "expected a number, got a boolean")):
        doc["services"][0]["autoscaling"] = bad
        with pytest.raises(ScenarioError, match=re.escape(message)):
            scenario_from_dict(doc)


# ---------------------------------------------------------------------------------------- 10: namespaces

def test_workloads_keep_their_namespace_and_default_is_said_once(tmp_path):
    text = (deployment(name="a", namespace="", resources=REQ) + "---\n"
            + deployment(name="b", namespace="", resources=REQ) + "---\n"
            + deployment(name="c", namespace="ml", resources=REQ))
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    workloads = result.scenario["kubernetes"]["workloads"]
    assert [workloads[n]["namespace"] for n in "abc"] == ["default", "default", "ml"]
    said = [n for n in result.notes if "namespace default assumed" in n]
    assert len(said) == 1 and said[0].startswith("2 workloads have no metadata.namespace")


# ---------------------------------------------------------------------------------------------- 6: running

NODES3 = """\
    apiVersion: v1
    kind: NodeList
    items:
""" + "".join(f"""\
    - apiVersion: v1
      kind: Node
      metadata: {{name: node-{c}, labels: {{node.kubernetes.io/instance-type: m5.xlarge}}}}
      status: {{allocatable: {{cpu: "4", memory: 16Gi, pods: "110"}}}}
""" for c in "abc")


def running_pod(name: str, node: str | None, owner: str = "ReplicaSet/web-5d9c", app: str = "web",
                cpu: str = "1500m") -> str:
    kind, owner_name = owner.split("/")
    bound = f"  nodeName: {node}\n" if node else ""
    return (f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n"
            f"  labels: {{app: {app}}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: {kind}, "
            f"name: {owner_name}, controller: true}}]\nspec:\n{bound}  containers:\n  - name: app\n"
            f"    resources: {{requests: {{cpu: {cpu}, memory: 1Gi}}}}\nstatus: {{phase: "
            f"{'Running' if node else 'Pending'}}}\n")


def test_running_pods_are_the_existing_placement_and_plan_says_what_to_add(tmp_path):
    nodes = write(tmp_path / "nodes.yaml", NODES3)
    text = (deployment(replicas=5, resources="            requests: {cpu: 1500m, memory: 1Gi}\n")
            + running_pod("web-1", "node-a") + running_pod("web-2", "node-a") + running_pod("web-3", "node-c")
            + running_pod("web-4", None)
            + running_pod("db-0", "node-b", owner="StatefulSet/db", app="db", cpu="3"))
    result = import_k8s([write(tmp_path / "dump.yaml", text)], nodes_path=str(nodes), grow=2)
    (pool,) = result.scenario["cluster"]["pools"]
    assert pool["count"] == 5 and result.scenario["kubernetes"]["nodes"][pool["name"]] == [
        "node-a", "node-b", "node-c"]
    name = pool["name"]
    assert result.scenario["placement"] == {"objective": "min-moves", "existing": {
        f"{name}-0": {"web": 2}, f"{name}-1": {"db": 1}, f"{name}-2": {"web": 1}}}
    scenario = result.validated()
    placement = pipeline.pack(scenario)
    assert placement.moves == 0 and not placement.unplaced
    # web: 2 on node-a, 1 on node-c, and 2 more: node-c takes one (1.5 + 1.5 <= 4), one new node
    assert placement.nodes_used == 4
    files, _ = export_plan(scenario, placement)
    nodes_doc = yaml.safe_load(files["nodes.yaml"])["nodes"]
    assert [n for n, v in nodes_doc.items() if not v["existing"]] == [f"{name}-new-0"]


def test_running_pods_on_unknown_nodes_are_planned_afresh(tmp_path):
    text = deployment(replicas=1, resources=REQ) + running_pod("web-1", "gone-node", cpu="500m")
    result = import_k8s([write(tmp_path / "d.yaml", text)], pools=[POOL])
    assert "placement" not in result.scenario
    assert any("1 running pods are on nodes not in --nodes" in n for n in result.notes)


def test_grow_must_not_be_negative(tmp_path):
    with pytest.raises(ScenarioError, match="--grow -1"):
        import_k8s([write(tmp_path / "d.yaml", deployment(resources=REQ))], pools=[POOL], grow=-1)


# ---------------------------------------------------------------------------------------------- 8: taints

GPU_POOLS = ["cpu=cpu:8,memory:32Gi,pods:110,count:2",
             "gpu=cpu:16,memory:64Gi,nvidia.com/gpu:4,pods:110,count:2,taint:nvidia.com/gpu=present:NoSchedule"]
GPU_REQ = "            limits: {nvidia.com/gpu: 1}\n            requests: {cpu: 1, memory: 4Gi}\n"


def test_an_untolerated_taint_is_named_when_the_gpu_service_cannot_be_placed(tmp_path, capsys):
    path = write(tmp_path / "d.yaml", deployment(replicas=2, resources=GPU_REQ))
    out = tmp_path / "s.yaml"
    pools = [x for p in GPU_POOLS for x in ("--pool", p)]
    assert main(["import-k8s", str(path), *pools, "-o", str(out)]) == 0
    assert "pool gpu offers nvidia.com/gpu but its taint nvidia.com/gpu=present:NoSchedule is not " \
           "tolerated" in capsys.readouterr().out
    assert main(["plan", str(out)]) == 3
    err = capsys.readouterr().err
    assert "service 'web': nvidia.com/gpu:" in err
    assert ("pool gpu offers nvidia.com/gpu but its taint nvidia.com/gpu=present:NoSchedule is not "
            "tolerated by the pods") in err


def test_extended_resource_toleration_lets_gpu_pods_onto_gpu_taints(tmp_path):
    path = write(tmp_path / "d.yaml", deployment(replicas=2, resources=GPU_REQ) + "---\n"
                 + deployment(name="api", resources=REQ))
    pools = [parse_pool_option(p) for p in GPU_POOLS]
    result = import_k8s([path], pools=pools, extended_resource_toleration=True)
    s = services(result)
    assert "pools" not in s["web"]                   # the GPU request brings the toleration: any pool
    assert s["api"]["pools"] == ["cpu"]              # no GPU request: still kept off the GPU nodes
    placement = pipeline.pack(result.validated())
    assert {placement.assignment[f"web-{i}"].rsplit("-", 1)[0] for i in range(2)} == {"gpu"}
    without = services(import_k8s([path], pools=pools))
    assert without["web"]["pools"] == ["cpu"]          # without the plugin the GPU taint keeps it off


# ---------------------------------------------------------------------------------------------- 3: spread

def nodes_file(tmp_path: Path, zones: dict[str, str], taints: dict[str, str] | None = None) -> Path:
    """A node list: node name -> zone; ``taints``: node name -> taint key (NoSchedule)."""
    items = []
    for name, zone in zones.items():
        taint = (taints or {}).get(name)
        spec = f"  spec: {{taints: [{{key: {taint}, effect: NoSchedule}}]}}\n" if taint else ""
        items.append(f"- apiVersion: v1\n  kind: Node\n  metadata:\n    name: {name}\n    labels: "
                     f"{{node.kubernetes.io/instance-type: m5.xlarge, topology.kubernetes.io/zone: {zone}}}\n"
                     f"{spec}  status: {{allocatable: {{cpu: '4', memory: 16Gi, pods: '110'}}}}\n")
    path = tmp_path / "nodes.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems:\n" + "".join(items))
    return path


def spread(key: str, skew: int = 1, extra: str = "") -> str:
    return (f"      topologySpreadConstraints:\n      - maxSkew: {skew}\n        topologyKey: {key}\n"
            f"        whenUnsatisfiable: DoNotSchedule\n"
            f"        labelSelector: {{matchLabels: {{app: web}}}}\n"
            + extra)


CPU15 = "            requests: {cpu: 1500m, memory: 1Gi}\n"


def test_a_hostname_spread_lets_the_scheduler_put_two_per_node(tmp_path):
    """6 replicas, maxSkew 1 over hostnames, 3 nodes: 2 per node (a cap of 1 per node would not fit)."""
    nodes = nodes_file(tmp_path, {"n1": "a", "n2": "a", "n3": "a"})
    text = deployment(replicas=6, resources=CPU15, extra=spread("kubernetes.io/hostname"))
    result = import_k8s([write(tmp_path / "d.yaml", text)], nodes_path=str(nodes))
    web = services(result)["web"]
    assert web["spread"] == {"topology": "kubernetes.io/hostname", "max_skew": 1}
    assert "max_per_node" not in web
    placement = pipeline.pack(result.validated())
    assert sorted(len(n.replicas) for n in placement.nodes) == [2, 2, 2]


def test_a_tainted_zone_that_the_node_affinity_admits_counts_as_an_empty_domain(tmp_path, capsys):
    nodes = nodes_file(tmp_path, {"a1": "a", "a2": "a", "b1": "b", "b2": "b", "c1": "c"}, {"c1": "dedicated"})
    text = deployment(replicas=4, resources=CPU15, extra=spread("topology.kubernetes.io/zone"))
    path = write(tmp_path / "d.yaml", text)
    result = import_k8s([path], nodes_path=str(nodes))
    web = services(result)["web"]
    assert web["spread"]["domains"] == ["c"]
    assert any("also counts c" in n for n in result.notes)
    # zone c holds 0, so a and b hold at most 1 each: 2 of 4 replicas, as the scheduler leaves 2 Pending
    scenario_path = tmp_path / "s.yaml"
    scenario_path.write_text(scenario_yaml(result))
    assert main(["plan", str(scenario_path)]) == 3
    assert "spread" in capsys.readouterr().err
    # nodeTaintsPolicy: Honor leaves the tainted zone out: 2 + 2
    honor = write(tmp_path / "h.yaml", deployment(replicas=4, resources=CPU15, extra=spread(
        "topology.kubernetes.io/zone", extra="        nodeTaintsPolicy: Honor\n")))
    placement = pipeline.pack(import_k8s([honor], nodes_path=str(nodes)).validated())
    assert len(placement.assignment) == 4


def test_min_domains_and_schedule_anyway(tmp_path):
    nodes = nodes_file(tmp_path, {"a1": "a", "a2": "a", "b1": "b", "b2": "b"})
    text = deployment(replicas=4, resources=CPU15, extra=spread("topology.kubernetes.io/zone",
                                                                extra="        minDomains: 3\n"))
    web = services(import_k8s([write(tmp_path / "d.yaml", text)], nodes_path=str(nodes)))["web"]
    assert web["spread"]["domains"] == ["(minDomains 2)"]     # 2 zones < 3: the smallest count is 0
    soft = deployment(replicas=4, resources=CPU15, extra=spread("topology.kubernetes.io/zone").replace(
        "DoNotSchedule", "ScheduleAnyway"))
    result = import_k8s([write(tmp_path / "s.yaml", soft)], nodes_path=str(nodes))
    assert services(result)["web"]["spread"]["when_unsatisfiable"] == "ScheduleAnyway"
    assert len(pipeline.pack(result.validated()).assignment) == 4    # a preference: no rule of the plan


# ---------------------------------------------------------------------------------------------- 4: affinity

def pod_affinity(kind: str, app: str, key: str) -> str:
    return (f"      affinity:\n        {kind}:\n          requiredDuringSchedulingIgnoredDuringExecution:\n"
            f"          - labelSelector: {{matchLabels: {{app: {app}}}}}\n            topologyKey: {key}\n")


ZONE_KEY = "topology.kubernetes.io/zone"


def test_required_anti_affinity_over_zones_places_one_per_zone_and_leaves_the_rest(tmp_path, capsys):
    nodes = nodes_file(tmp_path, {"a1": "a", "b1": "b", "c1": "c"})
    text = deployment(replicas=4, resources=REQ, extra=pod_affinity("podAntiAffinity", "web", ZONE_KEY))
    result = import_k8s([write(tmp_path / "d.yaml", text)], nodes_path=str(nodes))
    assert services(result)["web"]["anti_affinity"] == [{"service": "web", "topology": ZONE_KEY}]
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml(result))
    assert main(["plan", str(path)]) == 3                      # the fourth pod stays Pending
    capsys.readouterr()
    report = tmp_path / "p.json"
    assert main(["plan", str(path), "--set", "services.web.replicas=3", "--json", str(report)]) == 0
    plan = json.loads(report.read_text())["placement"]
    assert plan["nodes_used"] == 3                             # one per zone


def test_anti_affinity_and_affinity_between_workloads(tmp_path):
    nodes = nodes_file(tmp_path, {"a1": "a", "a2": "a", "b1": "b", "b2": "b"})
    cache = deployment(name="cache", replicas=1, resources=REQ)
    web_apart = deployment(replicas=2, resources=REQ,
                           extra=pod_affinity("podAntiAffinity", "cache", "kubernetes.io/hostname"))
    result = import_k8s([write(tmp_path / "d.yaml", cache + "---\n" + web_apart)], nodes_path=str(nodes))
    assert services(result)["web"]["anti_affinity"] == [{"service": "cache",
                                                         "topology": "kubernetes.io/hostname"}]
    placement = pipeline.pack(result.validated())
    where = {r.rsplit("-", 1)[0]: n for r, n in placement.assignment.items()}
    assert where["web"] != where["cache"] and placement.nodes_used == 2
    web_with = deployment(replicas=3, resources=REQ, extra=pod_affinity("podAffinity", "cache", ZONE_KEY))
    result = import_k8s([write(tmp_path / "w.yaml", cache + "---\n" + web_with)], nodes_path=str(nodes))
    assert services(result)["web"]["affinity"] == [{"service": "cache", "topology": ZONE_KEY}]
    placement = pipeline.pack(result.validated())
    zone_of = {p.name: p.labels[ZONE_KEY] for p in result.validated().cluster.pools}
    zones = {zone_of[n.pool] for n in placement.nodes}
    assert len(zones) == 1                                     # web follows cache into its zone
