"""Scenario files: the user-facing description of a cluster, its services and their traffic (version 1).

A scenario is a YAML document with these sections (all quantities in the units of `capacity.units`):

* ``cluster.pools`` — pools of identical nodes: how many may be used (``count``), what each offers
  (``resources``: cpu, memory and any other named resource), an hourly ``cost`` and ``labels``.
* ``services`` — what runs: ``replicas`` identical replicas, each requesting ``resources``; optional
  ``pools`` (node selector) and ``max_per_node`` (anti-affinity); ``serving`` says how one replica serves
  requests (``concurrency`` slots, a ``service_time`` distribution, an optional queue ``discipline``).
* ``workload`` — request ``classes`` (each a tenant's traffic to one service at a priority, arriving by a
  stochastic process, with an optional latency SLO), the simulated ``duration`` and the ``warmup`` excluded
  from statistics.
* ``scheduling`` — how requests are routed to replicas and the default queue discipline.
* ``placement`` — the packer's ``objective``, ``headroom`` kept free on every node, ``solver`` and
  ``time_limit``.

Loading is strict: unknown keys, wrong types, bad units and dangling references are refused with a
`ScenarioError` that names the file, the line, the field path (list items by their ``name``, e.g.
``services.ranker.resources.cpu``) and what is wrong. ``--set`` overrides (``services.ranker.replicas=8``)
are applied to the document before validation, so an override is checked exactly like the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from capacity.errors import ScenarioError
from capacity.units import parse_duration, parse_fraction, parse_quantity, parse_rate

# ---------------------------------------------------------------------------------------------- types

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Quantity = Annotated[float, BeforeValidator(parse_quantity), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Rate = Annotated[float, BeforeValidator(parse_rate), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, lt=1)]

#: SLO keys and the quantile each one stands for.
SLO_QUANTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------- cluster

class Pool(_Model):
    """A pool of identical nodes; ``count`` is the most nodes the planner may use."""

    name: Name
    count: int = Field(ge=1, le=100_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    cost: float | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)


class Cluster(_Model):
    pools: list[Pool] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------- services

class ServiceTime(_Model):
    """Time one request occupies one slot of a replica: a distribution with a mean (and a cv)."""

    dist: Literal["exponential", "deterministic", "lognormal"] = "exponential"
    mean: PositiveDuration
    cv: float | None = Field(default=None, ge=0, le=100)

    @property
    def effective_cv(self) -> float:
        if self.dist == "exponential":
            return 1.0
        if self.dist == "deterministic":
            return 0.0
        return 1.0 if self.cv is None else self.cv


DisciplineName = Literal["fifo", "priority", "preemptive", "fair", "drr", "priority-fair"]
RoutingName = Literal["central", "round-robin", "random", "least-outstanding", "power-of-two"]


class Queue(_Model):
    """The queue in front of a service (or of each replica, with per-replica routing)."""

    discipline: DisciplineName | None = None
    max_length: int | None = Field(default=None, ge=0)     # waiting places; a full queue rejects
    timeout: PositiveDuration | None = None                # a request still waiting this long leaves
    preemption: Literal["resume", "restart"] = "resume"    # what an interrupted request does


class Serving(_Model):
    """How one replica serves requests: ``concurrency`` slots, each holding a request for a service time."""

    concurrency: int = Field(default=1, ge=1, le=100_000)
    service_time: ServiceTime
    queue: Queue = Field(default_factory=Queue)
    routing: RoutingName | None = None                     # defaults to scheduling.routing


class Service(_Model):
    name: Name
    replicas: int = Field(ge=1, le=1_000_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    pools: list[Name] | None = Field(default=None, min_length=1)
    max_per_node: int | None = Field(default=None, ge=1)
    serving: Serving | None = None


# ---------------------------------------------------------------------------------------------- workload

ArrivalProcessName = Literal["poisson", "deterministic", "gamma", "onoff", "diurnal"]


class Arrivals(_Model):
    """How a class arrives: a process at a mean ``rate``, with the parameters of that process only.

    ``gamma``: ``cv`` of the gaps (required). ``onoff``: mean ``on`` and ``off`` periods (required; ``rate``
    is the long-run mean). ``diurnal``: ``amplitude`` (required), ``period`` (24h), ``peak_at`` (time of day
    of the peak, 14h) and ``start`` (time of day at t = 0, 0 = midnight). See `capacity.sim.arrivals`.
    """

    process: ArrivalProcessName = "poisson"
    rate: Rate
    cv: float | None = Field(default=None, gt=0, le=100)
    on: PositiveDuration | None = None
    off: PositiveDuration | None = None
    amplitude: Fraction | None = None
    period: PositiveDuration | None = None
    peak_at: Duration | None = None
    start: Duration | None = None


#: The parameters each arrival process accepts, and which of them it requires.
ARRIVAL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "poisson": (), "deterministic": (), "gamma": ("cv",), "onoff": ("on", "off"),
    "diurnal": ("amplitude", "period", "peak_at", "start"),
}
ARRIVAL_REQUIRED: dict[str, tuple[str, ...]] = {"gamma": ("cv",), "onoff": ("on", "off"),
                                                 "diurnal": ("amplitude",)}


class SLO(_Model):
    """A latency objective: exactly one of p50, p90, p95, p99, p999 (a duration)."""

    p50: PositiveDuration | None = None
    p90: PositiveDuration | None = None
    p95: PositiveDuration | None = None
    p99: PositiveDuration | None = None
    p999: PositiveDuration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLO:
        given = [k for k in SLO_QUANTILES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SLO_QUANTILES)} (got {len(given)})")
        return self

    @property
    def key(self) -> str:
        return next(k for k in SLO_QUANTILES if getattr(self, k) is not None)

    @property
    def quantile(self) -> float:
        return SLO_QUANTILES[self.key]

    @property
    def target_s(self) -> float:
        return float(getattr(self, self.key))


class RequestClass(_Model):
    name: Name
    service: Name
    priority: int = Field(default=0, ge=0, le=1000)
    tenant: Name = "default"
    weight: float = Field(default=1.0, gt=0)
    arrivals: Arrivals
    slo: SLO | None = None


class Workload(_Model):
    duration: PositiveDuration
    warmup: Duration = 0.0
    classes: list[RequestClass] = Field(default_factory=list)



class Scheduling(_Model):
    routing: RoutingName = "central"
    discipline: DisciplineName = "fifo"


class PlacementOptions(_Model):
    objective: Literal["min-nodes", "min-cost"] = "min-nodes"
    headroom: Fraction | dict[ResourceName, Fraction] = 0.0
    solver: Literal["highs", "cbc"] = "highs"
    time_limit: PositiveDuration = 30.0

    def headroom_for(self, resources: Iterable[str]) -> dict[str, float]:
        """Headroom per resource: one fraction for all, or the per-resource map (others 0)."""
        if isinstance(self.headroom, Mapping):
            return {r: float(self.headroom.get(r, 0.0)) for r in resources}
        return {r: float(self.headroom) for r in resources}


# ---------------------------------------------------------------------------------------------- scenario

class Scenario(_Model):
    """A validated scenario. Build it with `load_scenario` (a file) or `scenario_from_dict`."""

    version: Literal[1] = 1
    name: Name
    description: str | None = None
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    cluster: Cluster
    services: list[Service] = Field(min_length=1)
    workload: Workload | None = None
    scheduling: Scheduling = Field(default_factory=Scheduling)
    placement: PlacementOptions = Field(default_factory=PlacementOptions)

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def source(self) -> str:
        """The file the scenario was loaded from (or ``<dict>``)."""
        return self._source

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def pool(self, name: str) -> Pool:
        return next(p for p in self.cluster.pools if p.name == name)

    def digest(self) -> str:
        """SHA-256 of the validated scenario in canonical JSON: equal scenarios, equal digests."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- loading

Path_ = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.2 booleans: only true/false. PyYAML follows YAML 1.1, where on/off/yes/no are booleans too, which
# would turn the onoff arrival keys ``on:``/``off:`` (and label values such as ``spot: yes``) into True/False.
_BOOL_TAG = "tag:yaml.org,2002:bool"
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))


def _line_map(node: yaml.Node | None, path: Path_ = (), out: dict[Path_, int] | None = None) -> dict:
    """Map every path in the YAML tree to the 1-based line where its key (or list item) starts."""
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _line_map(item, (*path, i), out)
    return out


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML safely (data only, no tags that run code); return the data and its line map."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise ScenarioError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", file=file) from None
    return data, _line_map(node)


def display_path(data: Any, loc: Sequence[str | int]) -> str:
    """``('services', 0, 'resources', 'cpu')`` → ``services.ranker.resources.cpu`` (items by name)."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(str(name) if isinstance(name, str) and name else str(key))
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def _line_of(lines: Mapping[Path_, int], loc: Sequence[str | int]) -> int | None:
    loc = tuple(loc)
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


# ---------------------------------------------------------------------------------------------- --set

def _resolve_override(data: Any, key: str, file: str) -> tuple[Any, str | int, Path_]:
    """Find the container and final key that ``key`` (dotted, list items by name) addresses."""
    parts = key.split(".")
    if not key or any(p == "" for p in parts):
        raise ScenarioError(f"--set {key!r}: expected a dotted key such as services.ranker.replicas",
                            file=file)
    node: Any = data
    path: list[str | int] = []
    i = 0
    while i < len(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            # Resource names may contain dots (nvidia.com/gpu): take the longest key that exists.
            for j in range(len(parts), i, -1):
                candidate = ".".join(parts[i:j])
                if candidate in node:
                    break
            else:
                # A missing section is created; validation then names any unknown field.
                j = i + 1 if not last else len(parts)
                candidate = ".".join(parts[i:j])
                if j < len(parts):
                    node[candidate] = {}
            if j == len(parts):
                return node, candidate, (*path, candidate)
            path.append(candidate)
            node = node[candidate]
            i = j
        elif isinstance(node, list):
            part = parts[i]
            index = next((n for n, item in enumerate(node)
                          if isinstance(item, dict) and item.get("name") == part), None)
            if index is None and part.isdigit() and int(part) < len(node):
                index = int(part)
            if index is None:
                names = [str(item.get("name")) for item in node if isinstance(item, dict)]
                where = display_path(data, path)
                raise ScenarioError(
                    f"--set {key}: {where} has no item named {part!r} (have: {', '.join(names)})",
                    file=file)
            if last:
                return node, index, (*path, index)
            path.append(index)
            node = node[index]
            i += 1
        else:
            where = display_path(data, path)
            raise ScenarioError(f"--set {key}: {where} is a value, not a section", file=file)
    raise AssertionError("unreachable")


def apply_overrides(data: Any, overrides: Iterable[str], file: str) -> tuple[Any, list[Path_]]:
    """Apply ``KEY=VALUE`` overrides (VALUE parsed as YAML) to the raw document; return it and the
    paths that were set."""
    changed: list[Path_] = []
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. services.ranker.replicas=8",
                                file=file)
        key, _, text = item.partition("=")
        key = key.strip()
        try:
            value = yaml.load(text, Loader=_LineLoader) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        container, last, path = _resolve_override(data, key, file)
        container[last] = value
        changed.append(path)
    return data, changed


# ---------------------------------------------------------------------------------------------- errors

def _allowed_fields(loc: Sequence[str | int]) -> list[str] | None:
    """The field names the model at ``loc`` accepts (for an 'unknown key' message)."""
    model: Any = Scenario
    for key in loc:
        if isinstance(key, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(key)
        if field is None:
            return None
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return None


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Mapping[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """Turn one pydantic error into (loc, message) in the planner's words."""
    # Drop the validator labels pydantic puts in locations of union members ("function-before[...]").
    loc = tuple(k for k in error["loc"]
                if not (isinstance(k, str) and ("[" in k or k.startswith("function-"))))
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        tail = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return loc, f"unknown field {loc[-1]!r}{tail}"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "string_pattern_mismatch":
        msg = "use letters, digits, '.', '_' and '-', starting with a letter or digit"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in error and kind not in ("model_type", "dict_type", "list_type"):
        value = error["input"]
        short = isinstance(value, str | int | float) and not isinstance(value, bool) and len(repr(value)) < 60
        if short and repr(value) not in msg:
            msg = f"{msg} (got {value!r})"
    return loc, msg


def _from_validation(exc: ValidationError, data: Any, lines: Mapping[Path_, int], file: str,
                     overridden: Sequence[Path_]) -> ScenarioError:
    errors = exc.errors(include_url=False)
    loc, msg = _message(errors[0])
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return _located(msg, loc, data, lines, file, overridden)


def _located(msg: str, loc: Sequence[str | int], data: Any, lines: Mapping[Path_, int], file: str,
             overridden: Sequence[Path_]) -> ScenarioError:
    loc = tuple(loc)
    path = display_path(data, loc)
    for o in overridden:
        if loc[: len(o)] == o:
            return ScenarioError(msg, file=f"{file} (--set {display_path(data, o)})", path=path)
    return ScenarioError(msg, file=file, line=_line_of(lines, loc), path=path)


# ---------------------------------------------------------------------------------------------- references

def _check_references(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules pydantic cannot express per field; each problem as (loc, message)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def unique(items: Sequence[Any], section: tuple[str | int, ...], what: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                problems.append(((*section, i, "name"), f"duplicate {what} name {item.name!r}"))
            seen.add(item.name)

    unique(s.cluster.pools, ("cluster", "pools"), "pool")
    unique(s.services, ("services",), "service")
    pools = {p.name for p in s.cluster.pools}
    for i, svc in enumerate(s.services):
        st = svc.serving.service_time if svc.serving else None
        if st is not None and st.cv is not None and st.dist != "lognormal" and st.cv != st.effective_cv:
            problems.append((("services", i, "serving", "service_time", "cv"),
                             f"the cv of the {st.dist} distribution is {st.effective_cv:g}; "
                             "use dist: lognormal for another cv"))
        for j, pool in enumerate(svc.pools or []):
            if pool not in pools:
                problems.append(((("services", i, "pools", j)),
                                 f"no pool named {pool!r} (pools: {', '.join(sorted(pools))})"))
    services = {svc.name: svc for svc in s.services}
    if s.workload is not None:
        if s.workload.warmup >= s.workload.duration:
            problems.append((("workload", "warmup"),
                             f"warmup ({s.workload.warmup:g}s) must be shorter than duration "
                             f"({s.workload.duration:g}s)"))
        unique(s.workload.classes, ("workload", "classes"), "class")
        for i, cls in enumerate(s.workload.classes):
            svc = services.get(cls.service)
            if svc is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"no service named {cls.service!r} (services: {', '.join(services)})"))
            elif svc.serving is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"service {cls.service!r} has no 'serving' section, so it cannot "
                                 "serve requests"))
            problems.extend(_arrival_problems(cls.arrivals, ("workload", "classes", i, "arrivals")))
    if isinstance(s.placement.headroom, Mapping):
        known = {r for p in s.cluster.pools for r in p.resources}
        for r in s.placement.headroom:
            if r not in known:
                problems.append((("placement", "headroom", r),
                                 f"no pool declares resource {r!r} (resources: {', '.join(sorted(known))})"))
    if s.placement.objective == "min-cost":
        for i, p in enumerate(s.cluster.pools):
            if p.cost is None:
                problems.append((("cluster", "pools", i, "cost"),
                                 "objective min-cost needs a cost on every pool"))
    return problems


def _arrival_problems(a: Arrivals, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Parameters given to a process that does not use them, required ones missing, times of day."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    accepted = ARRIVAL_PARAMETERS[a.process]
    for key in ("cv", "on", "off", "amplitude", "period", "peak_at", "start"):
        if getattr(a, key) is not None and key not in accepted:
            users = [p for p, keys in ARRIVAL_PARAMETERS.items() if key in keys]
            problems.append(((*where, key), f"{key!r} applies to process {' or '.join(users)}, "
                                            f"not {a.process}"))
    for key in ARRIVAL_REQUIRED.get(a.process, ()):
        if getattr(a, key) is None:
            problems.append(((*where, key), f"process {a.process} needs {key!r}"))
    if a.process == "diurnal":
        period = a.period if a.period is not None else 86_400.0
        for key in ("peak_at", "start"):
            value = getattr(a, key)
            if value is not None and value >= period:
                problems.append(((*where, key), f"{key} is a time of day and must be shorter than the "
                                                f"period ({value:g}s >= {period:g}s)"))
    return problems


# ---------------------------------------------------------------------------------------------- entry points

def scenario_from_dict(data: Any, *, source: str = "<dict>", lines: Mapping[Path_, int] | None = None,
                       overrides: Iterable[str] = (), overridden: Sequence[Path_] = ()) -> Scenario:
    """Validate a scenario document (already parsed) and return the `Scenario`.

    Raises `ScenarioError` naming ``source``, the line (when ``lines`` is given), the field path and the
    problem. ``overrides`` (``KEY=VALUE``) are applied to a copy of ``data`` first.
    """
    lines = lines or {}
    if not isinstance(data, dict):
        raise ScenarioError("a scenario must be a mapping (name:, cluster:, services:, ...)",
                            file=source, line=1)
    data = json.loads(json.dumps(data, default=str))  # a deep copy of plain data
    data, changed = apply_overrides(data, overrides, source)
    overridden = [*overridden, *changed]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, data, lines, source, overridden) from None
    problems = _check_references(scenario)
    if problems:
        loc, msg = problems[0]
        if len(problems) > 1:
            msg += f" (and {len(problems) - 1} more)"
        raise _located(msg, loc, data, lines, source, overridden)
    scenario._source = source
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, parse and validate a scenario file, applying ``--set`` style ``overrides`` first."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", file=file) from None
    except IsADirectoryError:
        raise ScenarioError("is a directory, not a scenario file", file=file) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=file) from None
    data, lines = parse_yaml(text, file)
    if data is None:
        raise ScenarioError("the file is empty", file=file, line=1)
    return scenario_from_dict(data, source=file, lines=lines, overrides=overrides)
