"""Vector bin-packing instances with known optima (shared/data/vbp, see its README.txt).

A ``.vbp`` file: ``d``; ``d`` bin capacities; ``m``; then ``m`` lines ``w_1 .. w_d q`` (an item type,
``q`` copies). Here each item type becomes a service of ``q`` replicas (identical types merged) and the
bins a pool with as many nodes as items. Some Triplet/Caprara files hold negative sizes (a generator
artefact, e.g. ``24 -1 26`` in classC_120_3_0); those are skipped, since a negative request is refused
(reading them as 0 would make their triplets overflow the bin, so the known optimum would not apply), and
``benchmarks/packing_vbp.py`` lists the same four files as skipped.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter
from pathlib import Path

import pytest
from packing_checks import assert_honest, assert_valid

from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, lower_bound, solve

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vbp"
pytestmark = pytest.mark.skipif(not (DATA / "optima.csv").exists(), reason="no shared/data/vbp")


def optima() -> dict[str, dict[str, str]]:
    if not (DATA / "optima.csv").exists():
        return {}
    with open(DATA / "optima.csv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def load(name: str, **kwargs: object) -> PackingProblem | None:
    """The instance as a problem, or None when it holds negative sizes."""
    lines = (DATA / name).read_text().split()
    d = int(lines[0])
    capacity = [float(x) for x in lines[1 : 1 + d]]
    m = int(lines[1 + d])
    values = [int(x) for x in lines[2 + d : 2 + d + m * (d + 1)]]
    items: Counter[tuple[int, ...]] = Counter()
    for i in range(m):
        *sizes, copies = values[i * (d + 1) : (i + 1) * (d + 1)]
        items[tuple(sizes)] += copies
    if any(w < 0 for sizes in items for w in sizes):
        return None
    resources = [f"r{k}" for k in range(d)]
    pool = Pool("bin", count=sum(items.values()), capacity=dict(zip(resources, capacity, strict=True)))
    services = tuple(
        Service(f"i{k}", copies, dict(zip(resources, map(float, sizes), strict=True)))
        for k, (sizes, copies) in enumerate(sorted(items.items(), reverse=True))
    )
    return PackingProblem((pool,), services, **kwargs)  # type: ignore[arg-type]


def test_lower_bound_never_exceeds_the_known_optimum() -> None:
    checked = 0
    for name, row in optima().items():
        problem = load(name)
        if problem is None:
            continue
        bound = lower_bound(problem)
        assert int(row["L1"]) <= bound <= int(row["OPT"]), name
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    "name",
    [
        "Panigrahy/class1/class1_20_3_0.vbp",
        "Panigrahy/class2/class2_20_3_0.vbp",
        "Panigrahy/class3/class3_20_3_0.vbp",
    ],
)
def test_small_instances_are_solved_to_the_known_optimum(name: str) -> None:
    problem = load(name, time_limit_s=20)
    assert problem is not None
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.nodes_used == int(optima()[name]["OPT"])
    assert placement.status == "optimal"


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@pytest.mark.parametrize(
    "name", ["Triplet/Falkenauer/classF_120_3_0.vbp", "Panigrahy/class1/class1_120_3_0.vbp"]
)
def test_time_limit_on_a_hard_instance_gives_an_honest_valid_plan(name: str, solver: str) -> None:
    problem = load(name, time_limit_s=2, solver=solver)
    assert problem is not None
    placement = solve(problem)  # no wall-clock assertion: the machine is shared, timings are noisy
    optimum = int(optima()[name]["OPT"])

    assert_valid(problem, placement)
    assert_honest(placement)
    assert placement.solver == solver
    assert placement.lower_bound <= optimum <= placement.nodes_used
    assert placement.nodes_used <= first_fit_decreasing(problem).nodes_used
    if placement.nodes_used == placement.lower_bound:
        assert placement.status == "optimal"
    else:
        assert placement.status == "feasible"
        assert placement.gap is not None and placement.gap > 0


def test_benchmark_and_tests_skip_the_same_files_with_negative_sizes() -> None:
    spec = importlib.util.spec_from_file_location(
        "packing_vbp_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "packing_vbp.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    skipped = []
    for name in optima():
        negative = load(name) is None
        if negative:
            skipped.append(name)
            with pytest.raises(bench.NegativeSizes):
                bench.read_vbp(DATA / name, 1.0)
        else:
            bench.read_vbp(DATA / name, 1.0)
    assert len(skipped) == 4 and all(name.startswith("Triplet/Caprara/") for name in skipped)
