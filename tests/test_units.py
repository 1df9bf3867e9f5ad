"""Units: Kubernetes quantities, durations, rates and fractions."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.units import (
    format_duration,
    parse_duration,
    parse_fraction,
    parse_quantity,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5), ("2", 2.0), (2, 2.0), (0.25, 0.25), ("1.5", 1.5), ("100m", 0.1),
        ("8Gi", 8 * 2**30), ("512Mi", 512 * 2**20), ("1G", 1e9), ("1e9", 1e9), ("1E3", 1000.0),
        ("128974848", 128974848.0), ("129M", 129e6), ("123Mi", 123 * 2**20), ("1k", 1000.0),
        ("1Ki", 1024.0), ("2Ti", 2 * 2**40), (".5", 0.5), ("0", 0.0), ("1Ei", 2.0**60),
    ],
)
def test_quantities_follow_kubernetes(text, value):
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "1.5.2", "5x", "8GB", "8 Gi", "Gi", "1e", True, None, [1],
                                  "nan", "inf", float("nan"), float("inf")])
def test_bad_quantities_are_refused_with_the_text(text):
    with pytest.raises(ValueError) as err:
        parse_quantity(text)
    assert str(err.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("50ms", 0.05), ("2s", 2.0), ("10m", 600.0), ("1h", 3600.0), ("1d", 86400.0), (3, 3.0),
     ("0.5", 0.5), ("250us", 250e-6), ("1.5min", 90.0)],
)
def test_durations(text, value):
    assert parse_duration(text) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("40/s", 40.0), ("1200/min", 20.0), ("3600/h", 1.0), (5, 5.0), ("2.5", 2.5), ("1/ms", 1000.0)],
)
def test_rates(text, value):
    assert parse_rate(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["40/q", "/s", "fast", "40 per s"])
def test_bad_rates(text):
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), (0.1, 0.1), ("0.25", 0.25), ("0%", 0.0)])
def test_fractions(text, value):
    assert parse_fraction(text) == pytest.approx(value)


def test_bad_duration_names_the_text():
    with pytest.raises(ValueError, match="'5 parsecs'"):
        parse_duration("5 parsecs")


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_plain_numbers_pass_through(x):
    assert parse_quantity(x) == x
    assert parse_quantity(repr(x)) == pytest.approx(x)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi", "m", "k", "M", "G"]))
def test_suffix_roundtrip(n, suffix):
    factor = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}[suffix]
    assert math.isclose(parse_quantity(f"{n}{suffix}"), n * factor)


def test_format_duration():
    assert format_duration(0.0123) == "12.3ms"
    assert format_duration(None) == "-"
    assert format_duration(1.5) == "1.5s"
