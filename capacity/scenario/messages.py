"""Validation errors in the planner's words: one pydantic error becomes ``FILE:LINE: field.path: what is
wrong`` (unknown keys listed with the allowed ones, retired fields with their replacement, the offending
value when short); a field set by ``--set`` is named by its override instead of a line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from capacity.errors import ScenarioError
from capacity.limits import RETIRED_FIELDS
from capacity.scenario.document import Scenario
from capacity.scenario.fields import UNION_TAGS
from capacity.scenario.paths import Path_, display_path, line_of


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
                if not (isinstance(k, str) and ("[" in k or k.startswith("function-") or k in UNION_TAGS)))
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        if loc in RETIRED_FIELDS:
            return loc, RETIRED_FIELDS[loc]
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


def from_validation(exc: ValidationError, data: Any, lines: Mapping[Path_, int], file: str,
                     overridden: Sequence[Path_]) -> ScenarioError:
    errors = exc.errors(include_url=False)
    loc, msg = _message(errors[0])
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return located(msg, loc, data, lines, file, overridden)


def located(msg: str, loc: Sequence[str | int], data: Any, lines: Mapping[Path_, int], file: str,
             overridden: Sequence[Path_]) -> ScenarioError:
    loc = tuple(loc)
    path = display_path(data, loc)
    for o in overridden:
        if loc[: len(o)] == o:
            return ScenarioError(msg, file=f"{file} (--set {display_path(data, o)})", path=path)
    return ScenarioError(msg, file=file, line=line_of(lines, loc), path=path)
