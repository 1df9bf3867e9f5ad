"""The value types every scenario field is made of, and the base of every scenario model.

A number is an `Int` or a `Float` that refuses a boolean; a `Quantity` (Kubernetes quantity, ``500m``,
``4Gi``), a `Duration` (seconds: ``250ms``, ``1h``), a `Rate` (per second: ``30/s``, ``1800/min``) and a
`Fraction` (``5%`` or ``0.05``) are parsed by `capacity.units` at load, so everything downstream sees cores,
bytes, seconds and rates per second. Every model forbids unknown keys, is frozen and refuses NaN and infinity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from capacity.units import not_a_boolean, parse_duration, parse_fraction, parse_quantity, parse_rate

#: Every number of the scenario is one of these: an int or a float that refuses a boolean.
Int = Annotated[int, BeforeValidator(not_a_boolean)]
Float = Annotated[float, BeforeValidator(not_a_boolean)]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Quantity = Annotated[float, BeforeValidator(parse_quantity), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Rate = Annotated[float, BeforeValidator(parse_rate), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, lt=1)]


LabelKey = Annotated[str, Field(min_length=1, max_length=253)]

#: The tags of the unions a field accepts as a catalogue name or a mapping of figures (``gpu``, ``model``):
#: pydantic puts them in error locations, `capacity.scenario.messages` leaves them out.
UNION_TAGS = frozenset({"catalogue-name", "figures"})


def name_or_figures(value: object) -> str:
    """The union member of a catalogue-name-or-figures field: ``catalogue-name`` for a string."""
    return "catalogue-name" if isinstance(value, str) else "figures"


class OneOf:
    """Field annotation: the value is one of the names of a registry, ``Annotated[str, OneOf(lambda:
    DISCIPLINES)]``. The names are read when a scenario is validated (so a policy registered by a plugin is
    allowed) and when the JSON Schema is made (its ``enum``); a wrong value gets pydantic's message for a
    ``Literal``: ``Input should be 'fifo', 'priority' or 'fair'``."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self.names = names

    def check(self, value: object) -> object:
        names = list(self.names())
        if not isinstance(value, str) or value not in names:
            quoted = [repr(n) for n in names]
            listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)
            raise ValueError(f"Input should be {listed}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        out = handler(schema)
        out["enum"] = list(self.names())
        return out


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: Fields the format gained after scenarios were first hashed: left out of `Scenario.canonical` (and so
    #: of the digest) while they hold their default, so that an older scenario keeps its digest.
    added_fields: ClassVar[frozenset[str]] = frozenset()


def unused_added_fields(model: BaseModel) -> dict[Any, Any]:
    """The pydantic ``exclude`` pattern of the `Model.added_fields` at their default, at any depth."""
    out: dict[Any, Any] = {}
    added: frozenset[str] = getattr(type(model), "added_fields", frozenset())
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in added and value == info.get_default(call_default_factory=True):
            out[name] = True
        elif isinstance(value, BaseModel):
            if sub := unused_added_fields(value):
                out[name] = sub
        elif isinstance(value, list | tuple | dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            inner = {key: sub for key, item in items
                     if isinstance(item, BaseModel) and (sub := unused_added_fields(item))}
            if inner:
                out[name] = inner
    return out
