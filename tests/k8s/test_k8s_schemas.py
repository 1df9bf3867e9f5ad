"""Every exported patch, merged into the manifest it patches, is a valid Kubernetes object: checked offline
against the Kubernetes OpenAPI schemas (the ``kubernetes-validate`` package, strict: no unknown field).

The merge follows strategic merge patch for the fields the export writes: maps merge key by key
(``nodeSelector``), and ``nodeSelectorTerms`` (no patch merge key) and ``nodeName`` are replaced."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from capacity import pipeline
from capacity.k8s import export_plan, import_k8s, parse_pool_option
from capacity.k8s.manifests import read_manifests

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DATA = Path(__file__).parent / "data"
SCHEMA_VERSION = "1.31.0"


def merged(base: Any, patch: Any) -> Any:
    """``patch`` merged into ``base``: maps by key, everything else replaced (see the module docstring)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            out[k] = merged(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def validate(obj: dict) -> None:
    try:
        kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')}: {exc.message}") from None


def export(manifests: list[Path], **kwargs) -> tuple[dict[str, str], dict]:
    result = import_k8s(manifests, **kwargs)
    scenario = result.validated()
    files, _ = export_plan(scenario, pipeline.pack(scenario))
    objects = {(m.kind, m.namespace, m.name): m.obj for m in read_manifests(manifests)}
    return files, objects


TWO_POOLS = [parse_pool_option("a=cpu:8,memory:4Gi,nvidia.com/gpu:1,count:2,label:tier=a"),
             parse_pool_option("b=cpu:8,memory:1Gi,count:5,label:tier=b")]


@pytest.mark.parametrize(("inputs", "kwargs"), [
    ([DATA / "shop"], {"nodes_path": str(DATA / "nodes.json")}),
    ([DATA / "otel-demo"], {"pools": TWO_POOLS}),
    ([DATA / "vllm" / "vllm.yaml"], {"pools": [parse_pool_option(
        "a=cpu:8,memory:32Gi,nvidia.com/gpu:1,ephemeral-storage:100Gi,label:tier=a"), parse_pool_option(
        "b=cpu:8,memory:32Gi,ephemeral-storage:100Gi,label:tier=b")]}),
    ([DATA / "website" / "zookeeper.yaml", DATA / "website" / "hpa"], {"pools": TWO_POOLS}),
])
def test_every_patch_merged_into_its_manifest_is_a_valid_object(inputs, kwargs):
    files, objects = export(inputs, **kwargs)
    patches = {name: yaml.safe_load(text) for name, text in files.items() if name.startswith("patches/")}
    assert patches
    for name, patch in patches.items():
        assert "pods are replaced" in files[name] or patch["kind"] == "Pod"
        key = (patch["kind"], patch["metadata"]["namespace"], patch["metadata"]["name"])
        base = objects[key]
        result = merged(base, patch)
        validate(result)
        assert result["metadata"]["namespace"] == base["metadata"].get("namespace", "default")


def test_a_broken_patch_is_caught():
    """The check can fail: a misspelt field is refused by the strict schema."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                      "metadata": {"labels": {"a": "b"}},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    validate(deployment)
    with pytest.raises(AssertionError, match="nodeSelectorr"):
        validate(merged(deployment, {"spec": {"template": {"spec": {"nodeSelectorr": {"x": "y"}}}}}))
