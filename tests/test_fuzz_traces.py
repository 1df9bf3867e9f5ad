"""Fuzzing trace files: random plain and azure CSVs, valid and broken (bad timestamps, negative or huge
token counts, unsorted rows, empty files, missing columns, BOM, CRLF, junk cells, NUL bytes, cut rows).

`read_trace` either returns a `Trace` (times finite, >= 0 and sorted; tokens >= 0) or raises `TraceError`
naming the file and -- whenever a row is to blame -- its line; through a scenario the CLI exits 2 with one
line. Derandomized, no example database.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.cli import main
from capacity.sim.traces import TraceError, read_trace

from .conftest import examples

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

BAD_CELLS = st.sampled_from(["", " ", "-1", "-0", "1e400", "nan", "NaN", "inf", "-inf", "1e308",
                             "9" * 40,
                             "1.5", "0x10", "١٢", "²", "1_000", "abc", "\x00", '"', '""',
                             "2023-02-30 00:00:00",
                             "2023-13-01 00:00:00", "2023-01-01T25:00:00", "2023-01-01 00:00:00+25:00",
                             "-2023-01-01", "9999-12-31 23:59:59.9999999", "0001-01-01 00:00:00",
                             "2023-01-01 00:00:00Z", "2023-01-01"])


@st.composite
def trace_texts(draw: st.DrawFn) -> tuple[str, bool]:
    """(CSV text, whether it was left valid)."""
    azure = draw(st.booleans())
    header = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"] if azure else ["time", "input_tokens",
                                                                              "output_tokens"]
    n = draw(st.integers(1, 12))
    rows = []
    for k in range(n):
        t = draw(st.floats(0, 1e5, allow_nan=False)) if draw(st.booleans()) else float(k)
        stamp = f"2023-11-16 18:{(k // 60) % 60:02d}:{k % 60:02d}.{k:07d}" if azure else repr(t)
        rows.append([stamp, str(draw(st.integers(0, 10_000))), str(draw(st.integers(0, 2_000)))])
    valid = True
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cell", "drop-column", "extra-field", "missing-field", "header",
                                     "empty", "no-rows", "swap"]))
        valid = valid and kind == "swap"
        if kind == "cell" and rows:
            row = rows[draw(st.integers(0, len(rows) - 1))]
            if row:
                row[draw(st.integers(0, len(row) - 1))] = draw(BAD_CELLS)
        elif kind == "drop-column":
            c = draw(st.integers(0, 2))
            header = header[:c] + header[c + 1:]
            rows = [r[:c] + r[c + 1:] for r in rows]
        elif kind == "extra-field" and rows:
            rows[draw(st.integers(0, len(rows) - 1))].append("x")
        elif kind == "missing-field" and rows:
            row = rows[draw(st.integers(0, len(rows) - 1))]
            if row:
                row.pop()
        elif kind == "header":
            header = [draw(st.sampled_from(["time", "TIME", "t", "", "time", "\ufefftime"])), *header[1:]]
        elif kind == "empty":
            return draw(st.sampled_from(["", "\n", "\ufeff", "\r\n\r\n"])), False
        elif kind == "no-rows":
            rows = []
        elif kind == "swap":
            rows.reverse()
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(",".join(r) for r in [header, *rows]) + newline
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, valid


def check_trace(path: Path) -> None:
    try:
        trace = read_trace(path)
    except TraceError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)), message
        if exc.line is None:  # only whole-file problems have no line
            assert any(w in exc.message for w in ("no requests", "UTF-8", "format")), message
        return
    assert np.all(np.isfinite(trace.time_s)) and np.all(trace.time_s >= 0)
    assert np.all(np.diff(trace.time_s) >= 0)
    assert np.all(trace.input_tokens >= 0) and np.all(trace.output_tokens >= 0)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@settings(FUZZ, max_examples=examples(150))
@given(case=trace_texts())
def test_trace_files_load_or_fail_naming_the_row(case, folder):
    text, valid = case
    path = folder / "trace.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    if valid:
        read_trace(path)  # a valid file (sorted or not, BOM, CRLF) must load
    check_trace(path)


@settings(FUZZ, max_examples=examples(30))
@given(data=st.binary(max_size=120))
def test_binary_trace_files_fail_in_one_line(data, folder):
    path = folder / "junk.csv"
    path.write_bytes(b"time,input_tokens,output_tokens\n" + data)
    check_trace(path)


SCENARIO = """\
name: fuzz-trace
cluster: {{pools: [{{name: p, count: 2, resources: {{cpu: 8, memory: 16Gi}}}}]}}
services:
  - name: llm
    replicas: 1
    resources: {{cpu: 1, memory: 1Gi}}
    serving: {{service_time: {{base: 1ms, per_input_token: 0.01ms, per_output_token: 0.1ms}}}}
workload:
  duration: 10s
  classes:
    - {{name: chat, service: llm, arrivals: {{process: trace, file: {file}}}}}
"""


@pytest.mark.parametrize("body, where", [
    ("time,input_tokens,output_tokens\n0,5,5\n1,-3,5\n", ":3: input_tokens"),
    ("time,input_tokens,output_tokens\n0,5,5\nsoon,5,5\n", ":3: time"),
    ("time,input_tokens,output_tokens\n", "no requests"),
    ("", "empty file"),
    ("time,input_tokens\n0,5\n", "unknown trace format"),
    ("time,input_tokens,output_tokens\r\n0,5,5\r\n1e400,5,5\r\n", ":3: time"),
    ("time,input_tokens,output_tokens\n0,5,99999999999999999999999999\n", ":2: output_tokens"),
])
def test_cli_names_the_trace_row_in_one_line(tmp_path, capsys, body, where):
    (tmp_path / "t.csv").write_text(body, encoding="utf-8", newline="")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(file="t.csv"), encoding="utf-8")
    assert main(["simulate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and where in err, err
    assert "workload.classes.chat.arrivals.file" in err
