"""The roofline iteration-time model (`capacity.llm`) against published LLM serving measurements.

Every row is a figure somebody published — its source URL, the engine that measured it, the workload — and
the prediction of `capacity.llm` with the **default** `Efficiency` (one set for all rows, none fitted to
them). A second prediction uses efficiencies fitted (least log-error, Nelder-Mead) on the even rows and is
shown for the odd rows only, where it was not fitted: how much a calibration to your own engine would buy.

How each figure is predicted (the model of one iteration, `LlmEngine.iteration_time`):

* **end-to-end latency of a static batch** (vLLM's ``benchmark_latency``: ``B`` prompts of ``I`` tokens, ``O``
  tokens each) — one iteration prefilling all prompts, then ``O − 1`` decode steps of the batch with the
  context growing by one token each;
* **TTFT at concurrency 1** — one prefill iteration of the prompt; **ITL at concurrency 1** — the mean
  decode step of one request over its output;
* **throughput of a static batch** (TensorRT-LLM's ``gptSessionBenchmark`` before in-flight batching,
  v0.5–0.6) — ``B × O`` over the static batch's latency as above. These need no simulator: the batch is fixed.
  Throughput under continuous batching at high concurrency depends on the scheduler and is left to the
  engine integration, which will add those rows with the simulator.

Models served as: Llama-3.1-8B and Llama-3.3-70B have the architectures of Llama-3-8B and Llama-3-70B (their
config.json differ in RoPE scaling only); TensorRT-LLM's "LLaMA 7B/70B" are Llama-2-7B/70B.

    python benchmarks/llm_validation.py [--markdown]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capacity.llm import Efficiency, LlmEngine  # noqa: E402

VLLM_A100 = "https://buildkite.com/vllm/performance-benchmark/builds/9523"
VLLM_H100 = "https://buildkite.com/vllm/performance-benchmark/builds/9555"
VLLM_H200 = "https://buildkite.com/vllm/performance-benchmark/builds/9515"
TRTLLM = ("https://github.com/NVIDIA/TensorRT-LLM/blob/138f96d45f90b9667426f7c47297d8c06bafac73/"
          "docs/source/performance.md")
NIM = "https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance"


def static_latency(engine: LlmEngine, batch: int, n_in: int, n_out: int) -> float:
    """Seconds for a static batch: one prefill iteration of every prompt, then ``n_out − 1`` decode steps."""
    seconds = engine.iteration_time([], [(n_in, 0)] * batch)
    return seconds + sum(engine.decode_step_time(batch, n_in + k) for k in range(n_out - 1))


def mean_itl(engine: LlmEngine, n_in: int, n_out: int) -> float:
    """Mean seconds between output tokens of a lone request (its ``n_out − 1`` decode steps)."""
    return sum(engine.decode_step_time(1, n_in + k) for k in range(n_out - 1)) / (n_out - 1)


@dataclass(frozen=True)
class Row:
    """One published figure and how to predict it."""

    source: str
    url: str
    gpu: str
    model: str
    tp: int
    dtype: str
    kv_dtype: str
    workload: str
    metric: str                    # "latency (ms)" or "throughput (tok/s)"
    measured: float
    predict: Callable[[LlmEngine], float]

    @property
    def is_latency(self) -> bool:
        return self.metric.startswith(("e2e", "TTFT", "ITL"))

    def engine(self, efficiency: Efficiency) -> LlmEngine:
        return LlmEngine.from_spec(self.model, self.gpu, self.tp, self.dtype, self.kv_dtype,
                                   efficiency=efficiency)


def _vllm(url: str, gpu: str, label: str, measured: tuple[float, float, float]) -> list[Row]:
    def e2e(engine: LlmEngine) -> float:
        return 1e3 * static_latency(engine, 8, 32, 128)

    return [Row(f"vLLM nightly ({label})", url, gpu, model, tp, "bf16", "auto",
                "static batch 8, in 32, out 128", "e2e latency (ms)", value, e2e)
            for (model, tp), value in zip((("llama-3-8b", 1), ("llama-3-70b", 4), ("mixtral-8x7b", 2)),
                                          measured, strict=True)]


def _ttft(n: int) -> Callable[[LlmEngine], float]:
    return lambda engine: 1e3 * engine.prefill_time(n)


def _trt_ttft(gpu: str, model: str, tp: int, dtype: str, values: tuple[float, float]) -> list[Row]:
    kv = "fp8" if dtype == "fp8" else "auto"
    return [Row("TensorRT-LLM v0.5", TRTLLM, gpu, model, tp, dtype, kv, f"batch 1, in {n}",
                "TTFT (ms)", value, _ttft(n)) for n, value in zip((128, 2048), values, strict=True)]


def _trt_throughput(gpu: str, dtype: str, label: str,
                    cases: tuple[tuple[int, int, int, float], ...]) -> list[Row]:
    kv = "fp8" if dtype == "fp8" else "auto"

    def throughput(batch: int, n_in: int, n_out: int) -> Callable[[LlmEngine], float]:
        return lambda engine: batch * n_out / static_latency(engine, batch, n_in, n_out)

    return [Row(label, TRTLLM, gpu, "llama-2-7b", 1, dtype, kv, f"static batch {b}, in {i}, out {o}",
                "throughput (tok/s)", value, throughput(b, i, o)) for b, i, o, value in cases]


def _nim(n_in: int, n_out: int, ttft: float, itl: float) -> list[Row]:
    workload = f"concurrency 1, in {n_in}, out {n_out}"
    return [Row("NIM 1.8 (TensorRT-LLM)", NIM, "h100-sxm", "llama-3-70b", 2, "fp8", "auto", workload,
                "TTFT (ms)", ttft, _ttft(n_in)),
            Row("NIM 1.8 (TensorRT-LLM)", NIM, "h100-sxm", "llama-3-70b", 2, "fp8", "auto", workload,
                "ITL (ms)", itl, lambda engine: 1e3 * mean_itl(engine, n_in, n_out))]


ROWS: list[Row] = [
    *_vllm(VLLM_A100, "a100-80gb-sxm", "A100", (1579.27, 3990.59, 3643.84)),
    *_vllm(VLLM_H100, "h100-sxm", "H100", (997.542, 2444.47, 2326.97)),
    *_vllm(VLLM_H200, "h200", "H200", (833.421, 2077.53, 1917.44)),
    *_nim(5000, 500, 406.77, 18.58),
    *_nim(500, 2000, 47.77, 18.91),
    *_trt_ttft("h100-sxm", "llama-2-7b", 1, "fp8", (7, 36)),
    *_trt_ttft("l40s", "llama-2-7b", 1, "fp8", (14, 73)),
    *_trt_ttft("a100-80gb-sxm", "llama-2-7b", 1, "fp16", (16, 133)),
    *_trt_ttft("h100-sxm", "llama-2-70b", 4, "fp8", (26, 109)),
    *_trt_ttft("a100-80gb-sxm", "llama-2-70b", 4, "fp16", (47, 377)),
    *_trt_throughput("l40s", "fp8", "TensorRT-LLM v0.5",
                     ((64, 128, 128, 3240), (64, 128, 2048, 1622), (32, 2048, 128, 581),
                      (16, 2048, 2048, 531))),
    *_trt_throughput("a100-80gb-sxm", "fp16", "TensorRT-LLM v0.6.1",
                     ((384, 128, 128, 5586), (60, 128, 2048, 1928), (52, 2048, 128, 591))),
    *_trt_throughput("h100-sxm", "fp8", "TensorRT-LLM v0.6.1",
                     ((768, 128, 128, 19694), (112, 128, 2048, 6818), (80, 2048, 128, 2244),
                      (48, 2048, 2048, 2740))),
]


def predictions(efficiency: Efficiency, rows: list[Row]) -> np.ndarray:
    """Each row's prediction under ``efficiency``."""
    return np.array([row.predict(row.engine(efficiency)) for row in rows])


def fit(rows: list[Row]) -> Efficiency:
    """Efficiencies minimising the mean squared log error over ``rows`` (compute, compute_fp8, memory in
    (0, 1]; overhead in [0, 20 ms])."""
    measured = np.array([row.measured for row in rows])

    def efficiency(x: np.ndarray) -> Efficiency:
        c, c8, m, o = (float(v) for v in x)
        return Efficiency(compute=min(max(c, 0.05), 1.0), compute_fp8=min(max(c8, 0.05), 1.0),
                          memory=min(max(m, 0.05), 1.0), overhead_s=min(max(o, 0.0), 0.02))

    def loss(x: np.ndarray) -> float:
        return float(np.mean(np.log(predictions(efficiency(x), rows) / measured) ** 2))

    d = Efficiency()
    result = minimize(loss, np.array([d.compute, d.compute_fp8, d.memory, d.overhead_s]),
                      method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-7, "maxiter": 2000})
    return efficiency(result.x)


def mape(errors: np.ndarray) -> float:
    """Mean absolute percentage error (%) of relative errors."""
    return float(np.mean(np.abs(errors)) * 100) if errors.size else math.nan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown only")
    parser.parse_args(argv)
    measured = np.array([row.measured for row in ROWS])
    default = predictions(Efficiency(), ROWS)
    errors = default / measured - 1
    train = [r for k, r in enumerate(ROWS) if k % 2 == 0]
    fitted_eff = fit(train)
    fitted = predictions(fitted_eff, ROWS)
    fitted_errors = fitted / measured - 1
    held_out = np.array([k % 2 == 1 for k in range(len(ROWS))])
    latency = np.array([row.is_latency for row in ROWS])

    print("| # | source | GPU | model, TP, weights/KV | workload | metric | measured | predicted | error "
          "| fitted on even rows |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, row in enumerate(ROWS):
        fit_cell = f"{fitted[k]:,.1f} ({fitted_errors[k]:+.0%})" if held_out[k] else "(fit row)"
        print(f"| {k + 1} | [{row.source}]({row.url}) | {row.gpu} | {row.model}, TP {row.tp}, "
              f"{row.dtype}/{row.kv_dtype} | {row.workload} | {row.metric} | {row.measured:,.2f} | "
              f"{default[k]:,.1f} | {errors[k]:+.1%} | {fit_cell} |")
    print()
    print(f"MAPE, default efficiencies: all {len(ROWS)} rows {mape(errors):.1f} %; latency rows "
          f"({int(latency.sum())}) {mape(errors[latency]):.1f} %; throughput rows ({int((~latency).sum())}) "
          f"{mape(errors[~latency]):.1f} %; latency rows within 20 %: "
          f"{int((np.abs(errors[latency]) <= 0.2).sum())} of {int(latency.sum())}.")
    for source in dict.fromkeys(row.source for row in ROWS):
        mask = np.array([row.source == source for row in ROWS])
        print(f"  {source}: {int(mask.sum())} rows, MAPE {mape(errors[mask]):.1f} %")
    print(f"Held-out (odd) rows: default {mape(errors[held_out]):.1f} %, fitted on the even rows "
          f"{mape(fitted_errors[held_out]):.1f} % (fitted: compute {fitted_eff.compute:.2f}, compute_fp8 "
          f"{fitted_eff.compute_fp8:.2f}, memory {fitted_eff.memory:.2f}, overhead "
          f"{fitted_eff.overhead_s * 1e3:.2f} ms).")


if __name__ == "__main__":
    main()
