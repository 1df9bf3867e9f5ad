"""Shapes found in public manifests and cluster dumps (Helm charts, kustomize directories, ``kubectl get``
output) that the importer must not miscount: each test is a few hand-written lines reproducing one shape."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from capacity.errors import ScenarioError
from capacity.k8s import import_k8s, parse_pool_option

POOL = parse_pool_option("std=cpu:4,memory:16Gi,pods:110,count:3")


def write(path: Path, *parts: str) -> Path:
    """Each part dedented on its own, then joined."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(textwrap.dedent(part) for part in parts))
    return path


DEPLOY = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: a, resources: {requests: {cpu: 250m, memory: 128Mi}}}]
    """)


def services(result) -> dict[str, tuple[int, dict]]:
    return {s["name"]: (s["replicas"], s["resources"]) for s in result.scenario["services"]}


def test_the_same_object_twice_is_counted_once_the_later_wins(tmp_path):
    first = write(tmp_path / "base.yaml", DEPLOY)
    second = write(tmp_path / "prod.yaml", DEPLOY.replace("replicas: 2", "replicas: 5"))
    result = import_k8s([first, second], pools=[POOL])
    assert services(result) == {"web": (5, {"cpu": "250m", "memory": "128Mi", "pods": 1})}
    assert any("given twice" in n and "prod.yaml" in n for n in result.notes)


def test_a_chart_or_kustomize_directory_imports_its_manifests_and_lists_the_rest(tmp_path):
    write(tmp_path / "app" / "deploy.yaml", DEPLOY)
    write(tmp_path / "app" / "kustomization.yaml", """\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [deploy.yaml]
        """)
    write(tmp_path / "app" / "Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
    write(tmp_path / "app" / "values.yaml", "replicaCount: 1\nimage: {repository: nginx}\n")
    template = write(tmp_path / "app" / "templates" / "deployment.yaml", """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "web.fullname" . }}
          labels:
            {{- include "web.labels" . | nindent 4 }}
        """)
    result = import_k8s([tmp_path / "app"], pools=[POOL])
    assert services(result) == {"web": (2, {"cpu": "250m", "memory": "128Mi", "pods": 1})}
    lines = "\n".join(result.ignored_lines())
    assert "Chart.yaml" in lines and "values.yaml" in lines and "Kustomization" in lines
    assert "helm template" in lines and "templates/deployment.yaml" in lines
    # Named on the command line, a template is an error that says what to do.
    with pytest.raises(ScenarioError, match=r"unrendered Helm/Go template.*helm template"):
        import_k8s([template], pools=[POOL])


def test_helm_test_hooks_are_not_services(tmp_path):
    path = write(tmp_path / "rendered.yaml", DEPLOY, """\
    ---
    # Source: web/templates/tests/test-connection.yaml
    apiVersion: v1
    kind: Pod
    metadata:
      name: "web-test-connection"
      annotations: {"helm.sh/hook": test}
    spec:
      containers: [{name: wget, image: busybox}]
      restartPolicy: Never
    """)
    result = import_k8s([path], pools=[POOL])
    assert set(services(result)) == {"web"}
    assert any(k.startswith("Helm hook (test") for k in result.ignored)


def test_a_cluster_dump_counts_each_pod_once(tmp_path):
    """kubectl get deploy,pods -A -o yaml: pods of the Deployment (its ReplicaSet not dumped), a DaemonSet's
    pod pinned to its node, a finished Job pod, and the pods of a ReplicaSet and StatefulSet not dumped."""
    def pod(name: str, owner: str, labels: dict[str, str], cpu: str, phase: str = "Running") -> dict:
        kind, owner_name = owner.split("/")
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop", "labels": labels, "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": kind, "name": owner_name, "controller": True}]},
                "spec": {"nodeName": "node-1", "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
                "status": {"phase": phase}}

    items = [
        yaml.safe_load(DEPLOY),
        pod("web-5d9c7b-aaaaa", "ReplicaSet/web-5d9c7b", {"app": "web", "pod-template-hash": "5d9"}, "250m"),
        pod("web-5d9c7b-bbbbb", "ReplicaSet/web-5d9c7b", {"app": "web", "pod-template-hash": "5d9"}, "250m"),
        pod("proxy-x1", "DaemonSet/proxy", {"app": "proxy"}, "100m"),
        pod("migrate-x", "Job/migrate", {"job": "migrate"}, "1", phase="Succeeded"),
        pod("seed-x", "Job/seed", {"job": "seed"}, "1"),
        pod("api-7f9c-aaaaa", "ReplicaSet/api-7f9c", {"app": "api"}, "500m"),
        pod("api-7f9c-bbbbb", "ReplicaSet/api-7f9c", {"app": "api"}, "500m"),
        pod("db-0", "StatefulSet/db", {"app": "db"}, "1"),
    ]
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    result = import_k8s([path], pools=[POOL])
    assert {k: v[0] for k, v in services(result).items()} == {"web": 2, "api-7f9c": 2, "db": 1}
    workloads = result.scenario["kubernetes"]["workloads"]
    assert workloads["api-7f9c"] == {"kind": "ReplicaSet", "namespace": "shop", "name": "api-7f9c"}
    assert [d.label for d in result.daemonsets] == ["DaemonSet shop/proxy"]
    assert result.pools[0].allocatable["cpu"] * 1000 == 3900   # 100m per node for the DaemonSet
    assert result.ignored["finished pod (status.phase Succeeded)"] == ["Pod shop/migrate-x"]
    assert any(k.startswith("pod of a Job") for k in result.ignored)


def test_a_daemonset_pod_pinned_to_its_node_does_not_split_pools(tmp_path):
    nodes = tmp_path / "nodes.json"
    nodes.write_text("""{"kind": "List", "apiVersion": "v1", "items": [""" + ",".join(
        f"""{{"kind": "Node", "apiVersion": "v1",
             "metadata": {{"name": "n{i}", "labels": {{"kubernetes.io/hostname": "n{i}",
                          "node.kubernetes.io/instance-type": "m5.large"}}}},
             "status": {{"allocatable": {{"cpu": "1930m", "memory": "7548Mi", "pods": "29"}}}}}}"""
        for i in range(3)) + "]}")
    path = write(tmp_path / "pods.yaml", """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: kube-proxy-abcde
          namespace: kube-system
          ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: kube-proxy, controller: true}]
        spec:
          nodeName: n1
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                - matchFields: [{key: metadata.name, operator: In, values: [n1]}]
          tolerations: [{operator: Exists}]
          containers: [{name: kube-proxy, resources: {requests: {cpu: 100m}}}]
        ---
        """, DEPLOY)
    result = import_k8s([path], nodes_path=str(nodes))
    assert [(p.name, p.count) for p in result.pools] == [("m5.large", 3)]
    assert result.pools[0].allocatable["cpu"] * 1000 == 1830
    assert set(services(result)) == {"web"}


def test_custom_resources_and_rbac_are_listed_with_a_reason(tmp_path):
    path = write(tmp_path / "operator.yaml", DEPLOY, """\
    ---
    apiVersion: monitoring.coreos.com/v1
    kind: Prometheus
    metadata: {name: k8s, namespace: monitoring}
    spec: {replicas: 2}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: reader}
    ---
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: prometheuses.monitoring.coreos.com}
    """)
    result = import_k8s([path], pools=[POOL])
    kinds = {k.split(" ")[0]: k for k in result.ignored}
    assert "custom resource" in kinds["Prometheus"] and "operator" in kinds["Prometheus"]
    assert "access control" in kinds["ClusterRole"]
    assert "API type" in kinds["CustomResourceDefinition"]
