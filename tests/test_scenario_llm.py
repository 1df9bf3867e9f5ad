"""LLM engine services in a scenario: ``cluster.pools[].gpu`` and ``serving.llm`` loaded, placed (a
tensor-parallel replica's GPUs on one node), simulated and reported; and the one-line errors for what does
not go together."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.llm import GPUS, MODELS, LlmEngine
from capacity.report.model import parse_report
from capacity.scenario import scenario_from_dict

CHAT: dict[str, Any] = {
    "name": "chat",
    "seed": 3,
    "cluster": {"pools": [
        {"name": "h100", "count": 2, "resources": {"cpu": 96, "memory": "1Ti", "gpu": 8}, "cost": 98.3,
         "gpu": "h100-sxm"},
        {"name": "cpu", "count": 2, "resources": {"cpu": 16, "memory": "64Gi"}, "cost": 0.7},
    ]},
    "services": [{
        "name": "chat", "replicas": 2, "resources": {"cpu": 8, "memory": "64Gi", "gpu": 2},
        "serving": {"llm": {"model": "llama-3-8b", "tensor_parallel": 2}},
    }],
    "workload": {"duration": "40s", "warmup": "5s", "classes": [{
        "name": "chat", "service": "chat", "arrivals": {"process": "poisson", "rate": "6/s"},
        "tokens": {"input": {"dist": "lognormal", "mean": 800, "cv": 1, "max": 6000},
                   "output": {"dist": "lognormal", "mean": 150, "cv": 1, "max": 1000}},
        "slo": {"ttft": {"p99": "1s"}, "tpot": {"p99": "30ms"}, "latency": {"p95": "30s"}},
    }]},
}


def scenario(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CHAT)
    for path, value in changes.items():
        node: Any = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return data


def test_an_llm_service_runs_end_to_end_with_its_report_keys() -> None:
    result = pipeline.run(scenario_from_dict(CHAT))
    report = result.report
    parse_report(report)                              # every key declared in capacity/report/model.py
    chat = report["simulation"]["classes"]["chat"]
    assert chat["completed"] == chat["arrived"] > 100
    assert chat["ttft_s"]["p99"] is not None and chat["tpot_s"]["p99"] is not None
    assert all(chat["slos"][metric] is not None for metric in ("latency", "ttft", "tpot"))
    llm = report["simulation"]["services"]["chat"]["llm"]
    engine = LlmEngine.from_spec("llama-3-8b", "h100-sxm", 2)
    assert llm["kv_capacity_tokens"] == engine.kv_capacity_tokens
    assert llm["gpus"] == 4 and llm["preemptions"] == 0
    assert llm["output_tokens_per_s"] > 0 and 0 < llm["kv_utilisation"] < 1
    # a tensor-parallel replica takes its GPUs on one node
    for node in report["placement"]["nodes"]:
        assert node["used"].get("gpu", 0) in (0, 2, 4)


def test_the_replica_speed_follows_the_gpu_of_its_pool() -> None:
    fast = scenario(**{"cluster.pools.0.gpu": "h100-sxm"})
    slow = scenario(**{"cluster.pools.0.gpu": "l40s"})
    a = pipeline.run(scenario_from_dict(fast)).report["simulation"]["classes"]["chat"]
    b = pipeline.run(scenario_from_dict(slow)).report["simulation"]["classes"]["chat"]
    assert a["tpot_s"]["p50"] < b["tpot_s"]["p50"]


def test_a_gpu_may_be_given_by_its_figures() -> None:
    h100 = GPUS["h100-sxm"]
    figures = {"name": "my-h100", "memory": "80Gi", "usable_memory": h100.usable_memory_bytes,
               "memory_bandwidth": "3.35T", "bf16_flops": "989.4T", "fp8_flops": "1978.9T",
               "interconnect_bandwidth": "450G"}
    a = pipeline.run(scenario_from_dict(scenario(**{"cluster.pools.0.gpu": figures})))
    b = pipeline.run(scenario_from_dict(CHAT))
    assert (a.report["simulation"]["classes"]["chat"]["tpot_s"]
            == b.report["simulation"]["classes"]["chat"]["tpot_s"])


def test_vllm_defaults_when_absent() -> None:
    s = scenario_from_dict(CHAT)
    llm = s.services[0].serving.llm                   # type: ignore[union-attr]
    assert (llm.gpu_memory_utilization, llm.block_size, llm.max_num_seqs, llm.max_num_batched_tokens,
            llm.chunked_prefill, llm.kv_dtype, llm.dtype) == (0.9, 16, 256, 8192, True, "auto", None)
    assert llm.model_spec == MODELS["llama-3-8b"]


def test_an_older_scenario_keeps_its_digest() -> None:
    # the new fields (pool gpu, serving llm, SLO by timing) are left out of the canonical form at default
    plain = scenario(**{"cluster.pools.0.gpu": None})
    plain["services"][0]["serving"] = {"service_time": {"base": "20ms", "per_input_token": "0.1ms",
                                                        "per_output_token": "20ms"}}
    plain["workload"]["classes"][0]["slo"] = {"p99": "30s"}
    canonical = scenario_from_dict(plain).canonical()
    assert "gpu" not in canonical["cluster"]["pools"][0]
    assert "llm" not in canonical["services"][0]["serving"]
    assert set(canonical["workload"]["classes"][0]["slo"]) == {"p50", "p90", "p95", "p99", "p999"}


@pytest.mark.parametrize(("changes", "path", "message"), [
    ({"cluster.pools.0.gpu": None}, "cluster.pools.h100.gpu", "pool h100 may run the LLM engine service chat "
                                                            "but names no GPU"),
    ({"cluster.pools.0.gpu": "h900"}, "cluster.pools.h100.gpu", "unknown GPU 'h900': the catalogue has"),
    ({"cluster.pools.0.gpu": {"name": "x", "memory": "80Gi"}}, "cluster.pools.h100.gpu.memory_bandwidth",
     "required field is missing"),
    ({"services.0.serving.llm.model": "llama-9"}, "services.chat.serving.llm.model",
     "unknown model 'llama-9'"),
    ({"services.0.serving.llm.model": "llama-3-70b", "services.0.serving.llm.tensor_parallel": 1,
      "services.0.resources.gpu": 1}, "services.chat.serving.llm",
     "llama-3-70b (bf16) does not fit on h100-sxm at tensor_parallel 1"),
    ({"services.0.resources.gpu": 1}, "services.chat.resources.gpu",
     "1 GPUs, but serving.llm.tensor_parallel is 2"),
    ({"services.0.resources.gpu": None}, "services.chat.resources", "add gpu: 2 to its resources"),
    ({"services.0.serving.service_time": {"mean": "1s"}}, "services.chat.serving.service_time",
     "drop service_time"),
    ({"services.0.serving.batching": {"max_size": 8}}, "services.chat.serving.batching", "drop batching"),
    ({"services.0.serving.concurrency": 2}, "services.chat.serving.concurrency", "concurrency must be 1"),
    ({"services.0.serving.llm.tensor_parallel": 3, "services.0.resources.gpu": 3},
     "services.chat.serving.llm", "cannot be split over tensor_parallel 3"),
    ({"workload.classes.0.slo": {"p99": "1s", "ttft": {"p99": "1s"}}}, "workload.classes.chat.slo",
     "give the latency target as latency: {p99: ...} beside ttft"),
    ({"workload.classes.0.slo": {"ttft": {"p99": "1s", "p50": "1s"}}}, "workload.classes.chat.slo.ttft",
     "give exactly one of"),
    ({"services.0.serving.llm.gpu_memory_utilization": 1.5},
     "services.chat.serving.llm.gpu_memory_utilization", "less than or equal to 1"),
])
def test_what_does_not_go_together_is_one_line(changes: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario(**changes))
    assert err.value.path == path
    assert message in err.value.message
    assert "\n" not in str(err.value)
