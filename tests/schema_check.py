"""Checking documents against the published JSON Schemas (`capacity.schemas`) with the ``jsonschema``
package: one validator per schema for the session, and a failure that names every wrong place."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from capacity.schemas import SCHEMAS


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = SCHEMAS[name]()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The innermost errors of ``error`` (an ``anyOf`` failure holds one per alternative)."""
    return [leaf for inner in error.context for leaf in _leaves(inner)] if error.context else [error]


def problems(name: str, document: Any) -> list[str]:
    """Where ``document`` breaks the schema ``name``: ``path: message`` each, innermost first."""
    errors = [leaf for e in validator(name).iter_errors(document) for leaf in _leaves(e)]
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in errors)


def assert_valid(name: str, document: Any) -> None:
    found = problems(name, document)
    assert not found, f"{len(found)} problems against `capacity schema {name}`: {found[:5]}"
