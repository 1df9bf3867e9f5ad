"""capacity import-k8s and capacity plan --export k8s from the command line: files written, exit codes,
one-line errors naming the file and document, the patches, and the boutique demo end to end."""

import math
from pathlib import Path

import pytest
import yaml

from capacity.scenario import load_scenario
from capacity.units import parse_quantity_exact

from ..cli_support import run_cli

DATA = Path(__file__).parent / "data"
MIB = 2**20


@pytest.fixture(scope="module")
def shop_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("shop")
    assert run_cli("import-k8s", DATA / "shop", "--nodes", DATA / "nodes.json", "-o", out / "shop.yaml") == 0
    assert run_cli("plan", out / "shop.yaml", "--export", "k8s", "--export-dir", out / "k8s") == 0
    return out


def test_import_then_plan_then_export(shop_export, capsys):
    scenario = load_scenario(shop_export / "shop.yaml")
    assert scenario.name == "shop"
    nodes = yaml.safe_load((shop_export / "k8s" / "nodes.yaml").read_text())
    assert nodes["status"] in ("optimal", "feasible") and nodes["unplaced"] == []
    placed = sorted(p["replica"] for n in nodes["nodes"].values() for p in n["pods"])
    assert placed == sorted(f"{s.name}-{i}" for s in scenario.services for i in range(s.replicas))
    for name, node in nodes["nodes"].items():
        assert node["existing"] is True and name.endswith(".compute.internal")
        for r, used in node["requested"].items():
            assert parse_quantity_exact(used) <= parse_quantity_exact(node["allocatable"][r])
        for p in node["pods"]:
            if p["replica"].startswith("inference"):
                assert p["workload"] == "Deployment ml/inference"
                assert p["requests"]["nvidia.com/gpu"] == 1


def test_patches_keep_each_workload_on_its_planned_pools(shop_export):
    scenario = load_scenario(shop_export / "shop.yaml")
    nodes = yaml.safe_load((shop_export / "k8s" / "nodes.yaml").read_text())
    pool_labels = {p.name: p.labels for p in scenario.cluster.pools}
    patches = shop_export / "k8s" / "patches"
    pod = yaml.safe_load((patches / "pod.shop.batch-runner.yaml").read_text())
    where = next(n for n, v in nodes["nodes"].items()
                 if any(p["replica"] == "batch-runner-0" for p in v["pods"]))
    assert pod == {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "batch-runner", "namespace": "shop"}, "spec": {"nodeName": where}}
    for path in patches.glob("deployment.*.yaml"):
        text = path.read_text()
        assert "# Apply: kubectl patch deployment" in text
        # Each patch names its object (apiVersion, kind, metadata), as a kustomize patch must.
        head = yaml.safe_load(text)
        kind, namespace, name = path.stem.split(".", 2)
        assert (head["apiVersion"], head["kind"].lower(), head["metadata"]) == (
            "apps/v1", kind, {"name": name, "namespace": namespace})
        body = yaml.safe_load(text)["spec"]["template"]["spec"]
        service = path.stem.split(".")[-1]
        used = {v["pool"] for v in nodes["nodes"].values() for p in v["pods"]
                if p["replica"].rsplit("-", 1)[0] == service}
        svc = scenario.service(service)
        allowed = set(svc.pools or pool_labels)
        if "nodeSelector" in body:   # merged with the workload's own selectors: picks used out of allowed
            picked = {p for p in allowed if body["nodeSelector"].items() <= pool_labels[p].items()}
        else:                        # replaces its affinity: must pick used out of every pool
            terms = body["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"]
            picked = {p for p in pool_labels
                      if any(all(_holds(e, pool_labels[p]) for e in t["matchExpressions"]) for t in terms)}
            picked &= allowed
        assert picked == used, service
    script = (shop_export / "k8s" / "apply.sh").read_text()
    assert 'cd "$(dirname "$0")"' in script   # the patch paths are relative to the script
    assert "kubectl patch deployment frontend -n shop" in script


def _holds(expr, labels):
    value = labels.get(expr["key"])
    if expr["operator"] == "In":
        return value in expr["values"]
    if expr["operator"] == "DoesNotExist":
        return value is None
    raise AssertionError(expr)


def test_import_prints_what_it_ignored(tmp_path, capsys):
    assert run_cli("import-k8s", DATA / "shop" / "apps.yaml", "--pool",
               "std=cpu:8,memory:32Gi,count:4,label:node.kubernetes.io/instance-type=m5.2xlarge",
               "-o", tmp_path / "s.yaml") == 0
    out = capsys.readouterr().out
    assert "PodDisruptionBudget (" in out and "shop/api" in out
    assert "HPA 4..12, utilisation 0.7" in out and "missing requests" not in out
    assert "requests taken from limits, as the API server defaults them (1)" in out
    assert "Deployment shop/cart: container cart: cpu 300m, memory 256Mi" in out
    assert "wrote" in out
    # without --nodes, pools from --pool; an undeclared ephemeral-storage request is reported, not planned
    scenario = load_scenario(tmp_path / "s.yaml")
    assert [p.name for p in scenario.cluster.pools] == ["std"]
    assert "ephemeral-storage" not in scenario.service("cart").resources
    assert "ephemeral-storage requests are not planned" in out


def test_import_without_output_prints_the_scenario(capsys):
    assert run_cli("import-k8s", DATA / "boutique", "--pool", "std=cpu:4,memory:16Gi,count:3") == 0
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out)["cluster"]["pools"][0]["name"] == "std"
    assert "imported 12 services" in captured.err


@pytest.mark.parametrize(("text", "expected"), [
    ("kind: Deployment\nmetadata: {name: a}\nspec: {replicas: [1", "bad.yaml:3: invalid YAML"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\nkind: Deployment\nmetadata: {name: web}\n"
     "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: c\n"
     "          resources: {requests: {cpu: 4 cores}}\n",
     "bad.yaml:5: document 2 (Deployment web) spec.template.spec.containers[0].resources.requests.cpu: "
     "bad quantity '4 cores'"),
    ("kind: Deployment\nmetadata: {name: web}\nspec: {replicas: two, template: {spec: {containers: []}}}\n",
     "document 1 (Deployment web) spec.replicas: expected an integer"),
    ("- 1\n- 2\n", "document 1 item 0: expected a Kubernetes object"),
    ("kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
     "      nodeSelector: {disk: ssd}\n      containers: [{name: c}]\n",
     "no pool may run its pods (nodeSelector disk=ssd"),
])
def test_bad_input_is_one_line_naming_file_and_document(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert run_cli("import-k8s", path, "--pool", "std=cpu:4,memory:16Gi", "-o", tmp_path / "o.yaml") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert expected in err
    assert str(path) in err
    assert not (tmp_path / "o.yaml").exists()


@pytest.mark.parametrize("args", [
    ["--pool", "std"], ["--pool", "std=cpu:four"], ["--pool", "std=cpu:4,count:0"], [],
    ["--nodes", str(DATA / "shop" / "apps.yaml")],
])
def test_bad_pools_and_nodes_exit_2(tmp_path, capsys, args):
    assert run_cli("import-k8s", DATA / "boutique", *args, "-o", tmp_path / "o.yaml") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


# ---------------------------------------------------------------------------------------------- boutique

BOUTIQUE = {   # Deployment: (replicas, cpu, memory) as written in tests/k8s/data/boutique/boutique.yaml
    "emailservice": (1, "100m", "64Mi"), "checkoutservice": (1, "100m", "64Mi"),
    "recommendationservice": (1, "100m", "220Mi"), "frontend": (2, "100m", "64Mi"),
    "paymentservice": (1, "100m", "64Mi"), "productcatalogservice": (1, "100m", "64Mi"),
    "cartservice": (1, "200m", "64Mi"), "currencyservice": (1, "100m", "64Mi"),
    "shippingservice": (1, "200m", "128Mi"),   # limits only: filled from them
    "adservice": (1, "200m", "180Mi"), "loadgenerator": (1, "300m", "256Mi"),
    "redis-cart": (1, "70m", "200Mi"),
}


def test_boutique_demo_every_deployment_with_its_requests(tmp_path):
    out = tmp_path / "boutique.yaml"
    assert run_cli("import-k8s", DATA / "boutique", "--pool",
               "e2-standard-2=cpu:1930m,memory:5.5Gi,pods:110,count:4,cost:0.067", "-o", out) == 0
    scenario = load_scenario(out)
    got = {s.name: s for s in scenario.services}
    assert set(got) == set(BOUTIQUE)
    for name, (replicas, cpu, memory) in BOUTIQUE.items():
        svc = got[name]
        assert svc.replicas == replicas, name
        assert svc.resources["cpu"] == pytest.approx(float(parse_quantity_exact(cpu))), name
        assert svc.resources["memory"] == float(parse_quantity_exact(memory)), name
        assert svc.resources["pods"] == 1
    assert run_cli("plan", out, "--set", "placement.objective=min-cost", "--export", "k8s",
               "--export-dir", tmp_path / "k8s") == 0
    nodes = yaml.safe_load((tmp_path / "k8s" / "nodes.yaml").read_text())["nodes"]
    cpu = sum(parse_quantity_exact(c) * r for r, c, _ in BOUTIQUE.values())          # 1770m in all
    memory = sum(parse_quantity_exact(m) * r for r, _, m in BOUTIQUE.values())
    bound = max(math.ceil(cpu / parse_quantity_exact("1930m")),
                math.ceil(memory / parse_quantity_exact("5.5Gi")))
    assert len(nodes) == bound == 1
    assert all(not n["existing"] and n["pool"] == "e2-standard-2" for n in nodes.values())
    assert sum(len(n["pods"]) for n in nodes.values()) == 13
