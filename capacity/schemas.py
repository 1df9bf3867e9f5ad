"""The published JSON Schemas (draft 2020-12) of the two documents capacity reads and writes, generated from
their pydantic models: a scenario file (`capacity.scenario.Scenario`) and report.json
(`capacity.report.model.Report`). ``capacity schema scenario|report`` prints them.

An editor that reads JSON Schema completes and checks a scenario with it, e.g. the YAML language server
(VS Code's YAML extension, Neovim, Helix, ...) from a first line ``# yaml-language-server:
$schema=capacity-scenario.schema.json``. The loader stays the authority: it also checks what a schema cannot
say (references between sections, units beyond their text form, files, the caps on the work).

The models' own schema describes values as validated: numbers in base units. A scenario file may write
them with units (``500m``, ``8Gi``, ``50ms``, ``40/s``, ``10%``), so each field read by a unit parser of
`capacity.units` (its before-validator, found in the model's core schema: `UNIT_PARSERS`) becomes "a number
within its bounds, or a text of that unit" (`capacity.units.TEXT_PATTERNS`); a new field of a unit type
gets it without anything more. Bounds that pydantic writes with its own words (``ge``, ``gt``, ``le``,
``lt``) are written as JSON Schema's (``minimum``, ``exclusiveMinimum``, ``maximum``,
``exclusiveMaximum``). Names read from registries (disciplines, objectives, ...) are those registered when
the schema is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from capacity.report.model import Report
from capacity.scenario import Scenario
from capacity.scenario.services import target_value
from capacity.units import TEXT_PATTERNS, parse_duration, parse_fraction, parse_quantity, parse_rate

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}

#: The before-validators that read a value with a unit, and the kind of text each accepts.
UNIT_PARSERS: dict[Callable[..., Any], str] = {
    parse_quantity: "quantity", parse_duration: "duration", parse_rate: "rate", parse_fraction: "fraction",
    target_value: "fraction or rate",
}
UNIT = "x-unit"          # the mark `_Units` leaves on a unit field, replaced by `standard`


class _Units(GenerateJsonSchema):
    """pydantic's JSON Schema generator, marking the fields a unit parser reads (`UNIT_PARSERS`)."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        out = super().function_before_schema(schema)
        kind = UNIT_PARSERS.get(schema["function"]["function"])
        return {**out, UNIT: kind} if kind is not None else out


def standard(node: Any, *, units: bool) -> Any:
    """``node`` (a JSON Schema from pydantic) with standard bound keywords, and with the unit fields
    accepting their text form when ``units``."""
    if isinstance(node, list):
        return [standard(item, units=units) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: standard(value, units=units) for key, value in node.items()}
    if out.get("type") in ("number", "integer"):
        out = {_BOUNDS.get(key, key): value for key, value in out.items()}
    kind = out.pop(UNIT, None)
    if kind is None or not units:
        return out
    outer = {key: out.pop(key) for key in ("title", "description", "default") if key in out}
    return {**outer, "anyOf": [out, {"type": "string", "pattern": TEXT_PATTERNS[kind]}]}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (YAML read as JSON data)."""
    schema = standard(Scenario.model_json_schema(schema_generator=_Units), units=True)
    return {"$schema": DRAFT, **schema}


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json (what ``capacity report`` accepts)."""
    schema = standard(Report.model_json_schema(), units=False)
    return {"$schema": DRAFT, **schema}


#: The schemas by name (``capacity schema NAME``).
SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {"scenario": scenario_schema, "report": report_schema}
