"""Reading Kubernetes manifests: files and directories of YAML or JSON into a flat list of objects.

A file may hold several YAML documents (``---``), JSON, or ``List`` objects (``kind: List`` or the
``DeploymentList``/``NodeList`` that ``kubectl get -o yaml|json`` prints) whose ``items`` are objects again;
a directory is read recursively (``*.yaml``, ``*.yml``, ``*.json``, in name order). Every object remembers
where it came from (file, 1-based document index, line, item index), so a bad field is reported as one line
``error: FILE:LINE: document N (Deployment shop/web) spec.replicas: what is wrong``.

YAML and JSON are read by `capacity.yamlio`, like scenarios: data only, YAML 1.2 (merge keys too), and bounded
(file size, nodes after expanding aliases, nesting depth); empty documents (a trailing ``---``) are skipped.

**Not manifests.** Only rendered YAML is in scope: a file that does not parse and holds ``{{`` is an
unrendered Helm/Go template, reported as such (render it with ``helm template``). In a *directory*, files that
are not Kubernetes manifests — templates, and files without any ``kind`` (a chart's ``Chart.yaml`` and
``values.yaml``) — are skipped and listed (``skipped``) instead of failing the import; a file named on the
command line must be a manifest. A kustomize ``Kustomization`` (no ``metadata.name``) is read under its file
name, so the importer can list it as not built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from capacity.errors import ScenarioError
from capacity.yamlio import YamlSyntaxError, documents, load_json, read_text

SUFFIXES = (".yaml", ".yml", ".json")
T = TypeVar("T")


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and where it was read."""

    obj: dict[str, Any]
    file: str
    doc: int                   # 1-based document index in the file
    line: int | None           # line where the object starts (YAML only)
    item: int | None = None    # index in a List's items

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")

    @property
    def label(self) -> str:
        """``Deployment shop/web`` (cluster-scoped objects without a namespace: ``Node gpu-1``)."""
        ns = self.metadata.get("namespace")
        return f"{self.kind} {ns}/{self.name}" if ns else f"{self.kind} {self.name}"

    @property
    def ref(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    def where(self) -> str:
        item = f" item {self.item}" if self.item is not None else ""
        return f"document {self.doc}{item} ({self.label})"

    def error(self, message: str, field: str = "") -> NoReturn:
        raise ScenarioError(message, file=self.file, line=self.line,
                            path=f"{self.where()}{' ' + field if field else ''}")

    def get(self, path: str, kind: type[T], default: T | None = None, obj: Any = None, at: str = "") -> T:
        """The value at dotted ``path`` (from ``obj``, default the object) if it has type ``kind``;
        ``default`` when absent or null; otherwise a one-line error naming the field (``at`` + ``path``)."""
        node = self.optional(path, kind, obj, at)
        if node is None:
            if default is None:
                self.error("required field is missing", at + path)
            return default
        return node

    def optional(self, path: str, kind: type[T], obj: Any = None, at: str = "") -> T | None:
        """`get` of a field that may be absent: None when absent or null (a boolean is never an integer or
        a number: YAML 1.2's ``true`` in an int32 field is refused, as the API server refuses it)."""
        node: Any = self.obj if obj is None else obj
        for part in path.split("."):
            if not isinstance(node, dict):
                node = None
                break
            node = node.get(part)
        if node is None:
            return None
        if kind is float and isinstance(node, int) and not isinstance(node, bool):
            return node  # type: ignore[return-value]
        if not isinstance(node, kind) or (kind in (int, float) and isinstance(node, bool)):
            self.error(f"expected {_KIND_WORDS.get(kind, kind.__name__)}, got {node!r:.60}", at + path)
        return node


_KIND_WORDS = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false"}


def manifest_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: each file as given, each directory's manifest files recursively in name order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise ScenarioError("directory holds no .yaml, .yml or .json file", file=str(path))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError("no such file or directory", file=str(path))
    return files


def read_manifests(paths: Iterable[str | Path], skipped: list[str] | None = None) -> list[Manifest]:
    """Every object in the files and directories ``paths`` (``List`` kinds flattened), in reading order.

    With ``skipped`` (a list to fill), files found in a directory that are not manifests (see the module
    docstring) are left out and described there; without it, or for a file named directly, they are errors.
    """
    paths = list(paths)
    named = {Path(p) for p in paths if not Path(p).is_dir()}
    out: list[Manifest] = []
    for path in manifest_files(paths):
        if skipped is None or path in named:
            out.extend(read_file(path))
            continue
        try:
            out.extend(read_file(path))
        except NotManifest as exc:
            skipped.append(f"{path}: {exc.why}")
    return out


class NotManifest(ScenarioError):
    """A file that is not a Kubernetes manifest (an unrendered template, a chart's values.yaml)."""

    def __init__(self, why: str, file: str, line: int | None = None) -> None:
        super().__init__(why, file=file, line=line)
        self.why = why


def read_file(path: Path) -> list[Manifest]:
    """Every object of one manifest file (bounded like every input: `capacity.yamlio`)."""
    file = str(path)
    text = read_text(path, what="manifest file")
    docs = list(_documents(text, file))
    first = next((d for d in docs if d[0] is not None), None)
    if (first is not None and isinstance(first[0], dict)
            and not any(_has_kind(data) for data, _, _ in docs)):
        raise NotManifest("not a Kubernetes manifest (no document has a 'kind': a chart's Chart.yaml or "
                          "values.yaml?)", file=file, line=first[1])
    out: list[Manifest] = []
    for doc, (data, line, lines) in enumerate(docs, start=1):
        if data is None:
            continue
        found = _objects(data, file, doc, line, None)
        out.extend(_at_item_lines(found, data, line, lines))
    return out


def _at_item_lines(found: list[Manifest], data: Any, line: int | None,
                   lines: Mapping[tuple[str | int, ...], int]) -> list[Manifest]:
    """The objects of a ``List`` (or a bare list) in YAML, each at its own item's line."""
    prefix: tuple[str, ...] = ("items",) if isinstance(data, dict) else ()
    out = []
    for m in found:
        item_line = lines.get((*prefix, m.item)) if m.item is not None and m.line == line else None
        out.append(m if item_line is None else Manifest(obj=m.obj, file=m.file, doc=m.doc, line=item_line,
                                                        item=m.item))
    return out


def _documents(text: str, file: str) -> Iterator[tuple[Any, int | None, Mapping[tuple[str | int, ...], int]]]:
    """(data, start line, line map down to the items of a ``List``) per document: JSON when the text is
    JSON, else YAML."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            yield load_json(text, file), None, {}
            return
        except YamlSyntaxError:
            if file.endswith(".json"):
                raise
            # Flow-style YAML that is not JSON: read it as YAML below.
    try:
        for doc in documents(text, file, line_depth=2):
            yield doc.data, doc.line, doc.lines
    except YamlSyntaxError as exc:
        if "{{" in text:
            raise NotManifest(TEMPLATE_HINT, file=file, line=exc.line) from None
        raise


TEMPLATE_HINT = ("an unrendered Helm/Go template ('{{ ... }}'), not YAML: render it first (helm template "
                 "RELEASE CHART > rendered.yaml) and import the rendered file")


def _has_kind(data: Any) -> bool:
    if isinstance(data, list):
        return any(_has_kind(x) for x in data)
    return isinstance(data, dict) and bool(data.get("kind"))


def _objects(data: Any, file: str, doc: int, line: int | None, item: int | None) -> list[Manifest]:
    where = f"document {doc}" + (f" item {item}" if item is not None else "")
    if isinstance(data, list):  # a bare JSON/YAML array of objects
        return [m for i, entry in enumerate(data) for m in _objects(entry, file, doc, line, i)]
    if not isinstance(data, dict):
        raise ScenarioError(f"expected a Kubernetes object (a mapping with kind:), got {data!r:.60}",
                            file=file, line=line, path=where)
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ScenarioError("not a Kubernetes object: 'kind' is missing", file=file, line=line, path=where)
    if kind == "List" or (kind.endswith("List") and "items" in data):
        items = data.get("items") or []
        if not isinstance(items, list):
            raise ScenarioError(f"{kind}: 'items' must be a list", file=file, line=line, path=where)
        return [m for i, entry in enumerate(items) for m in _objects(entry, file, doc, line, i)]
    manifest = Manifest(obj=data, file=file, doc=doc, line=line, item=item)
    meta = data.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        if kind in ("Kustomization", "Component") and str(data.get("apiVersion", "")).startswith("kustomize"):
            name = Path(file).parent.name or Path(file).stem  # a kustomize build file has no name
            data = {**data, "metadata": {**(meta if isinstance(meta, dict) else {}), "name": name}}
            return [Manifest(obj=data, file=file, doc=doc, line=line, item=item)]
        if not (isinstance(meta, dict) and meta.get("generateName")):
            manifest.error("metadata.name is missing")
        data = {**data, "metadata": {**meta, "name": str(meta["generateName"]).rstrip("-")}}
        manifest = Manifest(obj=data, file=file, doc=doc, line=line, item=item)
    return [manifest]
