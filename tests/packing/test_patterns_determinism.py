"""Repeatability of the pattern search (`capacity.packing.effort`): phases end on work budgets, not on
the clock, so the same problem gives the same plan byte for byte, however fast the machine is; the
time limit is only a safety net, and a run it cuts says so (``time_limit_reached``).

The instance: 120 random three-dimensional items (seeded), where first-fit decreasing needs 50 bins, the
rounded LP 46 and a dive finds 45, the proven optimum: every phase up to the dives runs before the proof.
No test here depends on how long anything takes: the slow machine is a clock that jumps ahead.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from packing_checks import assert_honest, assert_valid

from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, solve
from capacity.packing import effort as effort_module
from capacity.packing.patterns import solve_patterns


def random_items(seed: int, n: int = 120, d: int = 3, time_limit_s: float = 600.0) -> PackingProblem:
    rng = np.random.default_rng(seed)
    res = [f"r{k}" for k in range(d)]
    services = tuple(
        Service(f"s{i}", replicas=1, demand={r: int(rng.integers(10, 60)) for r in res}) for i in range(n)
    )
    pool = Pool("bin", count=n, capacity=dict.fromkeys(res, 100))
    return PackingProblem((pool,), services, time_limit_s=time_limit_s)


def fingerprint(plan: object) -> dict[str, object]:
    """Every field of a `Placement` but its run time."""
    out = dataclasses.asdict(plan)  # type: ignore[call-overload]
    out.pop("solve_time_s")
    return out


@pytest.fixture(scope="module")
def instance() -> PackingProblem:
    return random_items(3)


@pytest.fixture(scope="module")
def first(instance: PackingProblem):
    return solve_patterns(instance)


def test_the_instance_needs_the_search_and_ends_on_a_proof(instance, first):
    assert first_fit_decreasing(instance).nodes_used >= first.nodes_used + 3
    assert_valid(instance, first)
    assert_honest(first, instance)
    assert first.status == "optimal" and first.lower_bound == first.nodes_used
    assert not first.time_limit_reached


def test_two_runs_give_the_same_plan_byte_for_byte(instance, first):
    again = solve_patterns(instance)
    assert fingerprint(again) == fingerprint(first)
    assert repr(sorted(again.assignment.items())) == repr(sorted(first.assignment.items()))


def test_a_slow_machine_gives_the_same_plan(instance, first, monkeypatch):
    """A clock that jumps 10 ms at every reading (the search reads it thousands of times: minutes of
    'time') changes nothing while the limit is not reached."""
    ticks = itertools.count()
    real = time.perf_counter
    monkeypatch.setattr(effort_module.time, "perf_counter", lambda: real() + 0.01 * next(ticks))
    slow = solve_patterns(dataclasses.replace(instance, time_limit_s=1e6))
    assert fingerprint(slow) | {"time_limit_reached": False} == fingerprint(first)
    assert not slow.time_limit_reached


def test_the_engine_route_is_repeatable_too(instance):
    a, b = solve(instance), solve(instance)
    assert fingerprint(a) == fingerprint(b)


def test_a_run_cut_by_the_time_limit_says_so(instance, monkeypatch):
    """A clock past the deadline from the first reading on: the safety net fires, the plan is still
    valid and honest (the greedy one at worst), and the Placement reports the expiry."""
    ticks = itertools.count()
    real = time.perf_counter
    monkeypatch.setattr(effort_module.time, "perf_counter", lambda: real() + 1e4 * next(ticks))
    plan = solve_patterns(instance)
    assert plan.time_limit_reached
    assert_valid(instance, plan)
    assert_honest(plan, instance)


def test_work_s_sets_the_budgets_apart_from_the_safety_net(instance):
    """The same ``work_s`` under two time limits (neither reached) gives the same plan; the limit alone
    no longer decides how far the search goes."""
    short = solve_patterns(dataclasses.replace(instance, time_limit_s=1e4, work_s=5.0))
    long = solve_patterns(dataclasses.replace(instance, time_limit_s=1e6, work_s=5.0))
    assert not short.time_limit_reached and not long.time_limit_reached
    assert fingerprint(short) == fingerprint(long)


@pytest.mark.parametrize("work_s", [0.0, -1.0, float("inf"), float("nan")])
def test_work_s_must_be_a_positive_number(instance, work_s):
    with pytest.raises(ValueError, match="work_s"):
        solve_patterns(dataclasses.replace(instance, work_s=work_s))
