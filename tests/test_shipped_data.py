"""The trace excerpts shipped in scenarios/data/ are what their README says: minutes 20 to 30 of the Azure
LLM inference traces 2023, row for row (cut again here by `scenarios/data/make_excerpts.py` when the full
traces are beside the repository), small, and read by the trace reader through gzip."""

from __future__ import annotations

import gzip
import importlib.util

import pytest

from capacity.sim.traces import read_trace

from .conftest import SCENARIOS, SHARED_DATA

DATA = SCENARIOS / "data"
EXCERPTS = sorted(DATA.glob("*.csv.gz"))


def test_the_excerpts_are_small_and_credited():
    assert {p.name for p in EXCERPTS} == {"AzureLLMInferenceTrace_code.excerpt.csv.gz",
                                          "AzureLLMInferenceTrace_conv.excerpt.csv.gz"}
    assert sum(p.stat().st_size for p in EXCERPTS) < 300_000
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for words in ("Azure Public Dataset", "AzureLLMInferenceTrace 2023", "CC BY 4.0", "Splitwise",
                  "ISCA 2024", "--data-dir ../shared/data/traces"):
        assert words in readme


@pytest.mark.parametrize("path", EXCERPTS, ids=lambda p: p.name.split(".")[0])
def test_each_excerpt_covers_ten_minutes(path):
    trace = read_trace(path, "azure")
    assert len(trace) > 1000 and 570 < trace.end_s < 600          # the code trace pauses at the end


@pytest.mark.skipif(not (SHARED_DATA / "traces").is_dir(), reason=f"needs the full traces in {SHARED_DATA}")
def test_the_excerpts_are_cut_from_the_full_traces_row_for_row(tmp_path):
    spec = importlib.util.spec_from_file_location("make_excerpts", DATA / "make_excerpts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(str(SHARED_DATA / "traces"), str(tmp_path))
    for path in EXCERPTS:
        assert gzip.decompress((tmp_path / path.name).read_bytes()) == gzip.decompress(path.read_bytes())
