"""Host ports as the scheduler's ``NodePorts`` filter reads them (kubernetes/kubernetes
``pkg/scheduler/framework/plugins/nodeports/node_ports.go``; conflicts by ``HostPortInfo.CheckConflict`` in
``pkg/scheduler/framework/types.go``): a pod does not fit on a node where another pod already uses one of
its host ports with the same protocol on an overlapping IP (``hostIP`` empty or ``0.0.0.0`` overlaps every
IP). Ports of the app containers and (Kubernetes 1.33+) of sidecars count; ordinary init containers' do
not. With ``hostNetwork: true`` the API server defaults every container port's ``hostPort`` to its
``containerPort`` (``SetDefaults_Pod`` in ``pkg/apis/core/v1/defaults.go``), so such pods conflict too.
Docs: "Configuration Best Practices" (https://kubernetes.io/docs/concepts/configuration/overview/):
*when you bind a Pod to a hostPort, it limits the number of places the Pod can be scheduled, because
each <hostIP, hostPort, protocol> combination must be unique*."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.k8s import import_k8s, parse_pool_option

POOL = parse_pool_option("n=cpu:8,memory:32Gi,count:6")


def deployment(name: str, replicas: int, spec: str) -> str:
    body = textwrap.indent(textwrap.dedent(spec), " " * 6)
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
        """) + body + "---\n"


def services(tmp_path: Path, text: str, pools=(POOL,)) -> dict:
    path = tmp_path / "apps.yaml"
    path.write_text(text)
    result = import_k8s([path], pools=list(pools))
    return {s["name"]: s for s in result.scenario["services"]}, result


def test_host_network_ports_are_host_ports(tmp_path):
    """``hostNetwork: true`` with a container port: the pod takes that port on its node, so two replicas
    never share one (4 replicas, 4 nodes)."""
    s, result = services(tmp_path, deployment("agent", 4, """\
        hostNetwork: true
        containers: [{name: a, ports: [{containerPort: 9100}]}]
        """))
    assert s["agent"]["max_per_node"] == 1
    assert pipeline.pack(result.validated()).nodes_used == 4


def test_a_pod_network_container_port_is_no_host_port(tmp_path):
    s, _ = services(tmp_path, deployment("web", 4, """\
        containers: [{name: a, ports: [{containerPort: 8080}]}]
        """))
    assert "max_per_node" not in s["web"]


def test_two_workloads_on_the_same_host_port_do_not_share_a_node(tmp_path):
    """An ingress controller on hostPort 80 and a second proxy on hostNetwork port 80: anti-affinity both
    ways over the hostname. A third workload on 80/UDP does not conflict with them; a fourth on 80 bound to
    10.0.0.1 conflicts with both (their empty hostIP is 0.0.0.0, every IP)."""
    s, result = services(tmp_path, deployment("ingress", 2, """\
        containers: [{name: a, ports: [{containerPort: 8080, hostPort: 80}]}]
        """) + deployment("proxy", 2, """\
        hostNetwork: true
        containers: [{name: a, ports: [{containerPort: 80}]}]
        """) + deployment("dns", 2, """\
        containers: [{name: a, ports: [{containerPort: 53, hostPort: 80, protocol: UDP}]}]
        """) + deployment("bound", 1, """\
        containers: [{name: a, ports: [{containerPort: 80, hostPort: 80, hostIP: 10.0.0.1}]}]
        """))
    hostname = "kubernetes.io/hostname"
    assert s["ingress"]["anti_affinity"] == [{"service": "proxy", "topology": hostname},
                                             {"service": "bound", "topology": hostname}]
    assert s["proxy"]["anti_affinity"] == [{"service": "ingress", "topology": hostname},
                                           {"service": "bound", "topology": hostname}]
    assert "anti_affinity" not in s["dns"]
    assert s["bound"]["anti_affinity"] == [{"service": "ingress", "topology": hostname},
                                           {"service": "proxy", "topology": hostname}]
    placement = pipeline.pack(result.validated())
    nodes: dict[str, set[str]] = {}
    for replica, node in placement.assignment.items():
        nodes.setdefault(node, set()).add(replica.rsplit("-", 1)[0])
    for names in nodes.values():
        assert len(names & {"ingress", "proxy", "bound"}) <= 1
    assert placement.nodes_used == 5          # 2 + 2 + 1 port-80/TCP pods, one per node; dns fits beside


def test_two_specific_ips_do_not_conflict(tmp_path):
    s, _ = services(tmp_path, deployment("a", 1, """\
        containers: [{name: a, ports: [{containerPort: 80, hostPort: 80, hostIP: 10.0.0.1}]}]
        """) + deployment("b", 1, """\
        containers: [{name: a, ports: [{containerPort: 80, hostPort: 80, hostIP: 10.0.0.2}]}]
        """))
    assert "anti_affinity" not in s["a"] and "anti_affinity" not in s["b"]


def test_init_container_host_ports_do_not_count_sidecar_ones_do(tmp_path):
    """The NodePorts filter reads ``spec.containers`` and, since kubernetes/kubernetes#132040 (1.33+),
    sidecars (``restartPolicy: Always``); an ordinary init container's host port is listed, not counted
    (the kubelet does not hold it either: kubernetes/kubernetes#57443)."""
    s, result = services(tmp_path, deployment("job", 3, """\
        initContainers: [{name: i, ports: [{containerPort: 81, hostPort: 81}]}]
        containers: [{name: a}]
        """) + deployment("mesh", 3, """\
        initContainers:
        - {name: proxy, restartPolicy: Always, ports: [{containerPort: 15090, hostPort: 15090}]}
        containers: [{name: a}]
        """))
    assert "max_per_node" not in s["job"] and s["mesh"]["max_per_node"] == 1
    assert any(k.startswith("hostPort 81 of init container i") for k in result.ignored)


def test_a_daemonset_holding_a_host_port_keeps_conflicting_workloads_off_its_nodes(tmp_path):
    """A DaemonSet on hostPort 9100 (node-exporter's) runs on every node of the pools it selects; a
    Deployment asking for 9100 fits only on nodes without it: the pool the DaemonSet selects is excluded
    with the reason, and when every pool runs it, the Deployment cannot be placed."""
    ds = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: node-exporter, namespace: monitoring}
        spec:
          selector: {matchLabels: {app: ne}}
          template:
            metadata: {labels: {app: ne}}
            spec:
              nodeSelector: {tier: a}
              hostNetwork: true
              containers: [{name: ne, ports: [{containerPort: 9100}]}]
        ---
        """)
    pools = [parse_pool_option("a=cpu:8,memory:32Gi,count:2,label:tier=a"),
             parse_pool_option("b=cpu:8,memory:32Gi,count:2,label:tier=b")]
    s, result = services(tmp_path, ds + deployment("exporter", 2, """\
        containers: [{name: a, ports: [{containerPort: 9100, hostPort: 9100}]}]
        """), pools)
    assert s["exporter"]["pools"] == ["b"]
    assert "hostPort 9100/TCP is held by DaemonSet monitoring/node-exporter" in (
        result.scenario["kubernetes"]["excluded"]["exporter"]["a"])
    placement = pipeline.pack(result.validated())
    assert all(n.startswith("b-") for n in placement.assignment.values())
    everywhere = ds.replace("nodeSelector: {tier: a}", "nodeSelector: {}") + deployment(
        "exporter", 2, "containers: [{name: a, ports: [{containerPort: 9100, hostPort: 9100}]}]\n")
    with pytest.raises(ScenarioError, match=r"no pool may run its pods.*hostPort 9100/TCP is held by "
                                            r"DaemonSet monitoring/node-exporter"):
        services(tmp_path, everywhere, pools)
