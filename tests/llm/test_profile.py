"""Measured profiles: grid points come back exactly, the rest is interpolated linearly, and every bad file is
one `ProfileError` line naming file, line and field that never quotes the file."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.llm import LlmEngine, ProfileError, ProfileRangeError, parse_profile, read_profile
from capacity.llm import profile as profile_module

from ..conftest import examples

GRID = [(b, t, c, 0.001 * b + 0.00001 * t + 0.000001 * c + 0.002)
        for b, t, c in itertools.product([1, 8, 64], [1, 512, 4096], [0, 1000, 8000])]


HEADER = "batch_size,tokens,context,time_s"


def csv_text(rows: list[tuple[int, int, int, float]], header: str = HEADER) -> str:
    return "\n".join([header, *(f"{b},{t},{c},{s!r}" for b, t, c, s in rows)]) + "\n"


def write(tmp_path: Path, text: str | bytes, name: str = "profile.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@settings(max_examples=examples(40), deadline=None)
@given(axes=st.tuples(*(st.lists(st.integers(lo, 10_000), min_size=1, max_size=4, unique=True)
                        for lo in (1, 1, 0))),
       seed=st.integers(0, 2**32 - 1))
def test_grid_points_are_reproduced_exactly(axes: tuple[list[int], list[int], list[int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = [(b, t, c, float(rng.uniform(1e-4, 1.0))) for b, t, c in itertools.product(*axes)]
    rng.shuffle(rows)                                             # any row order
    profile = parse_profile(csv_text(rows).splitlines(keepends=True))
    for b, t, c, seconds in rows:
        assert profile.time(b, t, c) == seconds


def test_between_grid_points_the_time_is_linear() -> None:
    profile = parse_profile(csv_text(GRID).splitlines())
    expected = 0.001 * 4.5 + 0.00001 * 256.5 + 0.000001 * 500 + 0.002
    assert profile.time(4.5, 256.5, 500) == pytest.approx(expected)


def test_the_engine_api_maps_a_batch_onto_the_grid() -> None:
    profile = parse_profile(csv_text(GRID).splitlines())
    # decodes with 900 and 1100 cached, a chunk of 510 tokens after 1000: batch 3, tokens 512, context 1000
    assert profile.iteration_time([900, 1100], [(510, 1000)]) == pytest.approx(profile.time(3, 512, 1000))
    assert profile.decode_step_time(8, 1000) == pytest.approx(profile.time(8, 8, 1000))
    assert profile.prefill_time(512) == pytest.approx(profile.time(1, 512, 0))
    assert profile.iteration_time() == 0.0
    engine = LlmEngine.from_spec("llama-3-8b", "h100-sxm", profile=profile)
    assert engine.iteration_time([900, 1100], [(510, 1000)]) == profile.time(3, 512, 1000)


def test_outside_the_grid_is_an_error_naming_the_axis_or_clamped() -> None:
    profile = parse_profile(csv_text(GRID).splitlines(), "p.csv")
    with pytest.raises(ProfileRangeError, match=r"p\.csv: context 9000 is outside .* \[0, 8000\]"):
        profile.time(8, 8, 9000)
    clamped = parse_profile(csv_text(GRID).splitlines(), outside="clamp")
    assert clamped.time(100, 8, 9000) == clamped.time(64, 8, 8000)


def test_a_single_value_axis_is_held_constant() -> None:
    rows = [(b, t, 0, 0.01 * b + 0.001 * t) for b, t in itertools.product([1, 2], [1, 3])]
    profile = parse_profile(csv_text(rows).splitlines())
    assert profile.time(1.5, 2, 0) == pytest.approx(0.015 + 0.002)
    with pytest.raises(ProfileRangeError, match="context 5"):
        profile.time(1, 1, 5)


SECRET = "AKIA-SECRET-VALUE"


@pytest.mark.parametrize(("text", "expected"), [
    ("", r"f\.csv:1: empty file: expected a header row batch_size,tokens,context,time_s"),
    (f"batch_size,tokens,{SECRET},time_s\n", r"f\.csv:1: field 3 of the header is not one of"),
    ("batch_size,tokens,time_s\n", r"f\.csv:1: the header has no column context"),
    ("batch_size,tokens,context,time_s,tokens\n", r"f\.csv:1: field 5 .*|repeats column 'tokens'"),
    ("batch_size,tokens,context,time_s\n", r"f\.csv: no rows"),
    (f"batch_size,tokens,context,time_s\n1,{SECRET},0,0.1\n", r"f\.csv:2: tokens: expected a whole number"),
    (f"{HEADER}\n0,1,0,0.1\n", r"f\.csv:2: batch_size: expected a whole number from 1"),
    (f"{HEADER}\n1,1,0,{SECRET}\n", r"f\.csv:2: time_s: expected a number of seconds"),
    ("batch_size,tokens,context,time_s\n1,1,0,nan\n", r"f\.csv:2: time_s: expected a number of seconds > 0"),
    ("batch_size,tokens,context,time_s\n1,1,0,-1\n", r"f\.csv:2: time_s"),
    ("batch_size,tokens,context,time_s\n1,1,0,0.1,9\n", r"f\.csv:2: expected 4 fields"),
    ("batch_size,tokens,context,time_s\n1,1,0,0.1\n\n1,1,0,0.2\n", r"f\.csv:4: the same .* as line 2"),
    ("batch_size,tokens,context,time_s\n1,1,0,0.1\n2,1,0,0.2\n1,2,0,0.3\n",
     r"f\.csv: the rows are not a complete grid: 4 combinations .* 3 rows; missing batch_size=2, tokens=2"),
    (b"batch_size,tokens,context,time_s\n1,1,0,\xff\n", r"f\.csv:2: not UTF-8 text"),
])
def test_bad_files_are_one_line_naming_file_line_and_field_never_the_content(
        tmp_path: Path, text: str | bytes, expected: str) -> None:
    with pytest.raises(ProfileError, match=expected) as info:
        read_profile(write(tmp_path, text, "f.csv"))
    message = str(info.value)
    assert SECRET not in message and "\n" not in message


def test_a_byte_order_mark_is_allowed(tmp_path: Path) -> None:
    profile = read_profile(write(tmp_path, b"\xef\xbb\xbf" + csv_text(GRID).encode()))
    assert profile.time(1, 1, 0) == GRID[0][3]


def test_line_length_and_row_count_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProfileError, match=r":1: the line is longer than 4096 bytes .*MAX_LINE_LENGTH"):
        read_profile(write(tmp_path, "x" * 10**6))
    monkeypatch.setattr(profile_module, "MAX_ROWS", 5)
    with pytest.raises(ProfileError, match=r":7: more than 5 rows, .*MAX_ROWS"):
        read_profile(write(tmp_path, csv_text(GRID)))


def test_missing_files_and_non_regular_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"nope\.csv: no such file"):
        read_profile(tmp_path / "nope.csv")
    with pytest.raises(ProfileError, match="is not a regular file"):
        read_profile(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="is not a regular file"):
        read_profile(fifo)
