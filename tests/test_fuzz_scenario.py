"""Fuzzing the scenario loader: random valid scenarios (built from the real schema) and mutated ones (wrong
types, missing keys, negative/huge/NaN numbers, bad units, unicode, deep nesting, lists for maps, duplicate
keys, anchors and aliases, tabs, binary junk) go through `load_scenario` (and a sample through the CLI).

Each document either loads -- and then plans and simulates briefly when it is small -- or raises
`ScenarioError` whose message is one line naming the file and a line or a field path. Any other exception
fails the test. Hypothesis runs derandomized and without an example database, so CI sees the same cases.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.cli import main
from capacity.errors import CapacityError, ScenarioError
from capacity.pipeline import run
from capacity.scenario import load_scenario

from .conftest import examples

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

NAMES = st.sampled_from(["a", "web", "gpu", "ranker", "llm-1", "b.c", "x_y"])


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A small scenario document that the schema accepts (units as users write them)."""
    pools = []
    for i in range(draw(st.integers(1, 2))):
        pools.append({"name": f"pool{i}", "count": draw(st.integers(1, 4)),
                      "resources": {"cpu": draw(st.sampled_from([4, 8, "16", "32000m"])),
                                    "memory": draw(st.sampled_from(["16Gi", "64Gi", "8G", 34359738368]))},
                      "cost": draw(st.sampled_from([0.5, 1, 2.25])),
                      "labels": {"zone": draw(st.sampled_from(["a", "b"]))}})
    services = []
    for i in range(draw(st.integers(1, 2))):
        serving: dict[str, Any] = {
            "concurrency": draw(st.integers(1, 4)),
            "service_time": draw(st.sampled_from([
                {"mean": "20ms"}, {"dist": "lognormal", "mean": "50ms", "cv": 0.5},
                {"dist": "deterministic", "mean": 0.01}])),
            "queue": {"discipline": draw(st.sampled_from(["fifo", "priority", "fair", "drr"])),
                      "max_length": draw(st.integers(0, 100))},
        }
        services.append({"name": f"svc{i}", "replicas": draw(st.integers(1, 3)),
                         "resources": {"cpu": draw(st.sampled_from([1, "500m", 2])), "memory": "1Gi"},
                         "serving": serving})
    classes = []
    for i in range(draw(st.integers(1, 2))):
        process = draw(st.sampled_from(["poisson", "deterministic", "gamma"]))
        arrivals: dict[str, Any] = {"process": process,
                                    "rate": draw(st.sampled_from([5, "10/s", "600/min", 20.5]))}
        if process == "gamma":
            arrivals["cv"] = draw(st.sampled_from([0.5, 2]))
        cls: dict[str, Any] = {"name": f"c{i}", "service": draw(st.sampled_from(services))["name"],
                               "priority": draw(st.integers(0, 3)), "arrivals": arrivals}
        if draw(st.booleans()):
            cls["slo"] = {"p99": draw(st.sampled_from(["100ms", "1s", 0.5]))}
        classes.append(cls)
    doc = {"name": draw(NAMES), "seed": draw(st.integers(0, 2**31)), "cluster": {"pools": pools},
           "services": services,
           "workload": {"duration": draw(st.sampled_from(["5s", 8, "10s"])), "warmup": "1s",
                        "classes": classes},
           "placement": {"objective": draw(st.sampled_from(["min-nodes", "min-cost", "balance"])),
                         "time_limit": "5s"}}
    if draw(st.booleans()):
        doc["failures"] = [{"at": "2s", "pool": "pool0", "recover": "1s"}]
    if draw(st.booleans()):
        doc["whatif"] = {"grid": {"services.svc0.replicas": [1, 2]}}
    return doc


#: Values that are wrong somewhere (or everywhere): the mutations' raw material.
JUNK = st.one_of(
    st.sampled_from([None, True, False, 0, -1, -0.0, 1e308, -1e308, 10**30, float("nan"), float("inf"),
                     "", " ", "nan", ".inf", "-.inf", "1e400", "NaN/s", "-5ms", "5 parsecs", "3Xi",
                     "10/fortnight",
                     "0x1F", "1_000", "∞", "Ω≈ç√", "💥", "\u202e", "a" * 300, [], {}, [[]], {"": None},
                     [1, 2, 3], {"name": "x"}, "2023-01-01", "~", "null", "yes", "on"]),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.recursive(st.none() | st.integers(-5, 5) | st.text(max_size=3),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                              max_size=3),
                 max_leaves=8),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a document (the document itself included)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A valid document with one to three structural mutations."""
    doc = copy.deepcopy(draw(valid_documents()))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "add-key", "wrap-list", "nest", "unwrap"]))
        if not path:
            if kind in ("replace", "wrap-list"):
                doc = draw(JUNK) if kind == "replace" else [doc]
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if kind == "replace":
            parent[key] = draw(JUNK)
        elif kind == "delete":
            del parent[key]
        elif kind == "add-key" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["extra", "Name", "ñame", "1", "cpu"]))] = draw(JUNK)
        elif kind == "wrap-list":
            parent[key] = [parent[key]]
        elif kind == "nest":
            value: Any = parent[key]
            for _ in range(draw(st.integers(1, 60))):
                value = {"x": value}
            parent[key] = value
        elif kind == "unwrap" and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key][0]
    return doc


def _text(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """YAML text mutations: tabs, duplicate keys, anchors and aliases, binary junk, cut files, tags."""
    text = _text(draw(valid_documents()))
    lines = text.splitlines()
    kind = draw(st.sampled_from(["tab", "duplicate", "anchors", "junk", "truncate", "tag", "bom-crlf",
                                 "alias-bomb", "flow-garbage", "unicode-key"]))
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "tab":
        lines[i] = "\t" + lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "anchors":
        lines = ["x-defaults: &d {cpu: 2, memory: 1Gi}", *lines]
        lines = [ln.replace("resources:", "resources: *d\n  ignored:", 1) if n == i else ln
                 for n, ln in enumerate(lines)]
    elif kind == "junk":
        lines[i] = lines[i] + draw(st.sampled_from(["\x00\x01", "\x7f", "\ufffe", "\x1b[31m", "\x85"]))
    elif kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    elif kind == "tag":
        lines.insert(i, draw(st.sampled_from([
            "evil: !!python/object/apply:os.system ['echo pwned']", "evil: !!python/name:os.system",
            "evil: !custom 3", "evil: !!binary aGVsbG8=", "evil: !!set {a, b}",
            "evil: !!timestamp 2001-12-14"])))
    elif kind == "bom-crlf":
        return "\ufeff" + "\r\n".join(lines)
    elif kind == "alias-bomb":
        lines = ["a: &a [x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: [*c, *c, *c, *c, *c, *c, *c, *c]", *lines]
    elif kind == "flow-garbage":
        lines[i] = lines[i] + draw(st.sampled_from([" {", " [", " ]]", ": :", " &", " *nope", " |", " >-"]))
    elif kind == "unicode-key":
        lines.insert(i, draw(st.sampled_from(["ñame: x", "名前: x", "? [a, b]\n: c", "? {a: 1}\n: c"])))
    return "\n".join(lines) + "\n"


def _small(s: Any) -> bool:
    nodes = sum(p.count for p in s.cluster.pools)
    replicas = sum(svc.replicas for svc in s.services)
    requests = 0.0
    if s.workload is not None:
        requests = sum((c.arrivals.rate or 0) * s.workload.duration for c in s.workload.classes)
    return nodes <= 8 and replicas <= 8 and requests <= 5_000


def check_text(text: str | bytes, folder: Path, *, simulate: bool = True) -> Any:
    """Load the text; on success run it briefly; on failure demand a one-line located ScenarioError."""
    path = folder / "fuzz.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        message = exc.one_line()
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(str(path)), message
        assert exc.line is not None or exc.path, message
        assert len(message) < 2000, message
        return None
    if simulate and _small(scenario):
        try:
            report = run(scenario).report
        except CapacityError:  # does not fit (exit 3) or solver trouble (exit 4): both reported on purpose
            return scenario
        assert report["scenario"] == scenario.name
    return scenario


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@settings(FUZZ, max_examples=examples(25))
@given(doc=valid_documents())
def test_valid_documents_load_and_run(doc, folder):
    scenario = check_text(_text(doc), folder)
    assert scenario is not None, "a document built from the schema must load"


@settings(FUZZ, max_examples=examples(150))
@given(doc=mutated_documents())
def test_mutated_documents_load_or_fail_with_a_located_one_line_error(doc, folder):
    check_text(_text(doc), folder)


@settings(FUZZ, max_examples=examples(120))
@given(text=mutated_texts())
def test_mutated_yaml_text_loads_or_fails_with_a_located_one_line_error(text, folder):
    check_text(text, folder)


@settings(FUZZ, max_examples=examples(40))
@given(data=st.binary(max_size=200))
def test_binary_junk_is_refused_in_one_line(data, folder):
    check_text(data, folder, simulate=False)


def test_python_tags_never_run_code(folder, monkeypatch):
    """SafeLoader (and the line-map subclass) refuse python tags: nothing is called, a located error."""
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    for tag in ("!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system",
                "!!python/object/new:os.system [x]", "!!python/module:os"):
        path = folder / "tag.yaml"
        path.write_text(f"name: {tag}\n", encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"tag\.yaml:1: invalid YAML"):
            load_scenario(path)
    assert calls == []


@settings(FUZZ, max_examples=examples(12))
@given(doc=mutated_documents())
def test_cli_exit_code_2_and_one_line_on_stderr(doc, folder, capsys):
    path = folder / "cli.yaml"
    path.write_text(_text(doc), encoding="utf-8")
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    else:
        assert out.startswith("ok: ") and err == ""
