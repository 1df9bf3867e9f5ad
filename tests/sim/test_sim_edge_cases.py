"""Edge cases of the simulation inputs used through the library API (the scenario loader refuses most of
them earlier): arrival processes missing their parameters, zero rates, hand-made traces that break the
trace rules, tenant splits with nothing to split on."""

from __future__ import annotations

import numpy as np
import pytest

from capacity.sim.arrivals import ARRIVAL_PROCESSES, Diurnal, OnOff, TraceReplay
from capacity.sim.traces import Trace


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("params", [{}, {"on_s": 1.0}, {"off_s": 1.0}])
def test_onoff_without_its_periods_is_a_value_error(params):
    with pytest.raises(ValueError, match="onoff arrivals need on_s and off_s"):
        OnOff(**params).times(rng(), 10.0, 5.0)


@pytest.mark.parametrize("process", [OnOff(on_s=1.0, off_s=2.0), Diurnal(amplitude=0.5)])
def test_zero_rate_gives_no_arrivals(process):
    t = process.times(rng(), 0.0, 100.0)
    assert t.shape == (0,)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_onoff_times_are_sorted_inside_the_horizon_and_silent_while_off(seed):
    t = OnOff(on_s=0.5, off_s=4.5).times(rng(seed), 20.0, 60.0)
    assert len(t) > 0 and np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 60.0
    # Bursts at the ON rate 20 * 5 / 0.5 = 200/s, separated by silences of mean 4.5 s: some gap of
    # more than 1 s exists (with 60 s of run, the chance that none does is negligible).
    assert np.diff(t).max() > 1.0


def test_trace_replay_without_a_trace_is_a_value_error():
    with pytest.raises(ValueError, match="trace arrivals need the trace's requests"):
        TraceReplay().times(rng(), 1.0, 10.0)
    with pytest.raises(ValueError, match="trace arrivals need"):
        TraceReplay().mean_rate_per_s(10.0)


def test_a_tenant_split_needs_weights_or_a_tenant_column():
    trace = Trace.from_arrays([0.0, 1.0, 2.0], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="a tenant split needs tenant_weights or a trace with a tenant"):
        TraceReplay(trace=trace, tenant_index=0).sample(rng(), 10.0)


def test_tenant_split_by_column_partitions_the_replay():
    trace = Trace.from_arrays([0.0, 1.0, 2.0, 3.0], [1, 2, 3, 4], [1, 1, 1, 1],
                              tenants=["b", "a", "b", "a"])
    assert trace.tenant_names == ("a", "b")
    parts = [TraceReplay(trace=trace, tenant_index=k).sample(rng(5), 10.0) for k in (0, 1)]
    rows = sorted(int(r) for _, r in parts for r in r)
    assert rows == [0, 1, 2, 3]
    assert list(parts[0][1]) == [1, 3] and list(parts[1][1]) == [0, 2]


@pytest.mark.parametrize(
    "arrays, words",
    [
        (([0.0, 1.0], [1], [1, 1]), "differ in length"),
        (([-1.0, 1.0], [1, 1], [1, 1]), "finite, >= 0 and sorted"),
        (([0.0, float("nan")], [1, 1], [1, 1]), "finite, >= 0 and sorted"),
        (([0.0, 1.0], [1, -1], [1, 1]), "token counts must be >= 0"),
    ],
)
def test_a_hand_made_trace_is_checked(arrays, words):
    with pytest.raises(ValueError, match=words):
        Trace.from_arrays(*arrays)


def test_a_tenant_index_outside_the_names_is_refused():
    trace = Trace(np.array([0.0]), np.array([1]), np.array([1]), "t", np.array([3], dtype=np.int32), ("a",))
    with pytest.raises(ValueError, match="tenant must index tenant_names"):
        trace.check()


def test_an_empty_trace_ends_at_zero():
    trace = Trace.from_arrays([], [], [])
    assert len(trace) == 0 and trace.end_s == 0.0


def test_every_registered_process_is_named_by_its_key():
    assert {name: cls.name for name, cls in ARRIVAL_PROCESSES.items()} == {
        name: name for name in ARRIVAL_PROCESSES}
