"""Generate the reference pages of the documentation from the JSON Schemas of the scenario and the report.

    python docs/tools/generate.py          # rewrite docs/pages/reference/*.md
    python docs/tools/generate.py --check  # exit 1, naming the stale pages, if one is out of date

The pages are committed (so that they read on GitHub too) and ``tests/test_docs.py`` fails when one is out of
date, naming this command. Each page is one table per top-level key of the document: every key by its dotted
path (``cluster.pools[].resources.NAME``: ``[]`` for the items of a list, ``NAME`` for a key the user
chooses), its type, whether it is required or its default, and its constraints; a section's description is
its model's docstring (first paragraph), a key's the schema's ``description``.

The renderer (`render`) reads plain JSON Schema (draft 2020-12, with ``$defs``/``$ref``, ``anyOf``,
``enum``/``const``, numeric and length bounds, ``additionalProperties``) and nothing specific to capacity,
so it keeps working when the schemas grow. `PAGES` says which schema goes to which page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "pages" / "reference"

Schema = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One key of the document: its dotted path, type, required/default, constraints and description."""

    path: str
    type: str
    presence: str
    constraints: str
    description: str


# ---------------------------------------------------------------------------------------------- schema words

_BOUNDS = (("minimum", "≥"), ("ge", "≥"), ("exclusiveMinimum", ">"), ("gt", ">"),
           ("maximum", "≤"), ("le", "≤"), ("exclusiveMaximum", "<"), ("lt", "<"))


def _number(value: Any) -> str:
    """A bound as written in a scenario: ``1e+06`` → ``1000000``, ``1.0`` → ``1``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return json.dumps(value)


class Renderer:
    """Walk one JSON Schema into `Row`s (see the module docstring)."""

    def __init__(self, schema: Schema, *, stop: dict[str, str] | None = None) -> None:
        """``stop``: definitions not to expand (name → what to say instead, e.g. a link)."""
        self.schema = schema
        self.defs: dict[str, Schema] = schema.get("$defs", {})
        self.stop = stop or {}

    # -- resolving

    def resolve(self, node: Schema) -> tuple[Schema, str | None]:
        """``node`` with its ``$ref`` followed (and the definition's name), sibling keys kept."""
        ref = node.get("$ref")
        if ref is None:
            return node, None
        name = ref.rsplit("/", 1)[-1]
        target = dict(self.defs[name])
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return target, name

    def variants(self, node: Schema) -> tuple[list[Schema], bool]:
        """The non-null alternatives of ``node`` (``anyOf``/``oneOf``/``type`` lists) and whether null is
        allowed."""
        options = node.get("anyOf") or node.get("oneOf")
        if options is None:
            types = node.get("type")
            if isinstance(types, list):
                rest = {k: v for k, v in node.items() if k != "type"}
                return [dict(rest, type=t) for t in types if t != "null"], "null" in types
            return [node], False
        nullable = any(o.get("type") == "null" for o in options)
        return [o for o in options if o.get("type") != "null"], nullable

    # -- words

    def type_of(self, node: Schema) -> str:
        """``integer``, ``number or string``, ``list of mapping``, ``mapping of NAME → number``,
        ``one of ...``."""
        options, nullable = self.variants(node)
        words = [self._one_type(o) for o in options]
        text = " or ".join(dict.fromkeys(words)) or "any"
        return f"{text} (or null)" if nullable else text

    def _one_type(self, node: Schema) -> str:
        node, name = self.resolve(node)
        if name is not None and name in self.stop:
            return name
        if "const" in node:
            return f"`{_number(node['const'])}`"
        if "enum" in node:
            return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
        kind = node.get("type")
        if kind == "array":
            return f"list of {self.type_of(node.get('items', {}))}"
        if kind == "object" or "properties" in node:
            value = self.values_of(node)
            return f"mapping of NAME → {self.type_of(value)}" if value is not None else "mapping"
        if "anyOf" in node or "oneOf" in node:
            return self.type_of(node)
        return str(kind or "any")

    @staticmethod
    def values_of(node: Schema) -> Schema | None:
        """The schema of the values of a mapping whose keys the user chooses (no fixed properties)."""
        if "properties" in node:
            return None
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        patterns = list(node.get("patternProperties", {}).values())
        return patterns[0] if len(patterns) == 1 else None

    def constraints_of(self, node: Schema) -> str:
        """Bounds, lengths and patterns of ``node`` and its alternatives."""
        parts: list[str] = []
        options, _ = self.variants(node)
        for option in options:
            option, _ = self.resolve(option)
            for key, sign in _BOUNDS:
                if key in option and not isinstance(option[key], bool):
                    parts.append(f"{sign} {_number(option[key])}")
            for low, high, what in (("minLength", "maxLength", "characters"),
                                    ("minItems", "maxItems", "items"),
                                    ("minProperties", "maxProperties", "keys")):
                if low in option or high in option:
                    lo, hi = option.get(low), option.get(high)
                    span = (f"{lo}–{hi}" if lo is not None and hi is not None
                            else f"at least {lo}" if lo is not None else f"at most {hi}")
                    parts.append(f"{span} {what if (hi or lo) != 1 else what.rstrip('s')}")
            if "pattern" in option:
                parts.append(f"pattern `{option['pattern']}`")
            names = option.get("propertyNames", {})
            if "minLength" in names or "maxLength" in names:
                parts.append(f"names of {names.get('minLength', 0)}–{names.get('maxLength', '…')} characters")
            for pattern in option.get("patternProperties", {}):
                parts.append(f"names match `{pattern}`")
        return "; ".join(dict.fromkeys(parts))

    @staticmethod
    def description_of(node: Schema) -> str:
        """The first paragraph of a description, on one line (``|`` escaped for a table)."""
        text = node.get("description") or ""
        first = text.strip().split("\n\n", 1)[0]
        return " ".join(first.split()).replace("|", "\\|")

    # -- walking

    def rows(self, node: Schema, path: str, presence: str, seen: tuple[str, ...] = ()) -> Iterator[Row]:
        """The row of the key at ``path`` and, below it, every key it contains."""
        options, _ = self.variants(node)
        own = self.description_of(node)
        resolved = [self.resolve(o) for o in options]
        if not own:
            own = next((self.description_of(r) for r, name in resolved if name is not None
                        and name not in self.stop and self.description_of(r)), "")
        stopped = [self.stop[name] for _, name in resolved if name in self.stop]
        yield Row(path, self.type_of(node), presence, self.constraints_of(node),
                  " ".join(filter(None, [own, *stopped])))
        for target, name in resolved:
            if name is not None and (name in self.stop or name in seen):
                continue
            inner = (*seen, name) if name is not None else seen
            yield from self.children(target, path, inner)

    def children(self, node: Schema, path: str, seen: tuple[str, ...]) -> Iterator[Row]:
        """The keys inside an object (its properties, or ``NAME`` for a free mapping) or a list's items."""
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            items, _ = self.resolve(node["items"])
            if self._has_children(items):
                yield from self.children(items, f"{path}[]", seen)
            return
        required = set(node.get("required", ()))
        for key, child in node.get("properties", {}).items():
            yield from self.rows(child, f"{path}.{key}" if path else key, self.presence(key, child, required),
                                 seen)
        extra = self.values_of(node)
        if extra is not None:
            value, _ = self.resolve(extra)
            if self._has_children(value):
                yield from self.children(value, f"{path}.NAME", seen)

    def _has_children(self, node: Schema) -> bool:
        options, _ = self.variants(node)
        for option in options:
            option, name = self.resolve(option)
            if name in self.stop:
                continue
            if option.get("properties") or (isinstance(option.get("items"), dict) and self._has_children(
                    option["items"])):
                return True
            value = self.values_of(option)
            if value is not None and self._has_children(value):
                return True
        return False

    @staticmethod
    def presence(key: str, node: Schema, required: set[str]) -> str:
        if key in required:
            return "required"
        if "default" in node and node["default"] is not None and node["default"] not in ({}, []):
            return f"default `{_number(node['default'])}`"
        return "optional"


def render(schema: Schema, *, title: str, intro: str, stop: dict[str, str] | None = None) -> str:
    """The Markdown page of ``schema``: a heading per top-level key with a table of every key below it."""
    renderer = Renderer(schema, stop=stop)
    lines = [f"# {title}", "", "<!-- Generated by docs/tools/generate.py: do not edit by hand; run", "     "
             "python docs/tools/generate.py after changing the models. -->", "", intro.strip(), ""]
    required = set(schema.get("required", ()))
    for key, node in schema.get("properties", {}).items():
        rows = list(renderer.rows(node, key, Renderer.presence(key, node, required)))
        head, *rest = rows
        lines += [f"## `{key}`", "", f"{head.type}, {head.presence}."
                  + (f" {head.constraints}." if head.constraints else ""), ""]
        if head.description:
            lines += [head.description, ""]
        if rest:
            lines += ["| key | type | required / default | constraints | description |",
                      "|---|---|---|---|---|"]
            lines += [f"| `{r.path}` | {r.type} | {r.presence} | {r.constraints} | {r.description} |"
                      for r in rest]
            lines.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- the pages

def scenario_page() -> str:
    from capacity.scenario import Scenario

    return render(Scenario.model_json_schema(), title="Scenario schema", intro="""
Every key of a scenario file, generated from the scenario model (`capacity.scenario.Scenario`). How to write
one, with annotated examples and units, is [Scenario files](../scenarios.md); this page is the exhaustive
list. Keys are dotted paths: `[]` stands for the items of a list, `NAME` for a key you choose (a resource
name, a label, a tenant). Amounts are shown in the units they are validated to — CPU in cores, memory in
bytes, times in seconds, rates per second, fractions as numbers — and are written in a scenario with units:
`500m`, `8Gi`, `50ms`, `40/s`, `10%` (see [Units](../scenarios.md#units)). Unknown keys are refused.
""")


def report_page() -> str:
    from capacity.report.model import Report

    return render(Report.model_json_schema(), title="Report schema", intro="""
Every key of `report.json`, generated from the report model (`capacity.report.model.Report`). What the
numbers mean — the statistics window, outcomes, SLO status, stranded capacity — is in
[report.json](../report-json.md). Keys are dotted paths: `[]` stands for the items of a list, `NAME` for a
name from the scenario (a class, tenant, replica, node, pool, service, resource). Times are in seconds,
memory in bytes, CPU in cores, other resources in their own units, rates per second, fractions in [0, 1].
""", stop={"Scenario": "(the validated scenario: see the [scenario schema](scenario.md))",
           "Limits": "(the caps in force: see [Limits and safety](../limits.md#caps-on-the-work-limits))"})


PAGES: dict[str, Callable[[], str]] = {
    "scenario.md": scenario_page,
    "report.md": report_page,
}
"""Generated page (under docs/pages/reference/) → the function that renders it."""


def stale() -> list[Path]:
    """The generated pages whose committed text differs from what the models give now."""
    out = []
    for name, page in PAGES.items():
        path = REFERENCE / name
        if not path.exists() or path.read_text(encoding="utf-8") != page():
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say which pages are out of date")
    args = parser.parse_args(argv)
    if args.check:
        paths = stale()
        for path in paths:
            print(f"{path.relative_to(ROOT)} is out of date: run python docs/tools/generate.py",
                  file=sys.stderr)
        return 1 if paths else 0
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        (REFERENCE / name).write_text(page(), encoding="utf-8")
        print(f"wrote docs/pages/reference/{name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
