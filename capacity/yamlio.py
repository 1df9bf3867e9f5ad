"""Reading YAML: the one reader behind every YAML the package reads — scenario files, ``--set``, ``--grid``
and ``--case`` values, Kubernetes manifests and node lists — so each is read the same way.

* **YAML 1.2, core schema.** A plain (unquoted) scalar is ``null`` (``null``, ``~`` or nothing), a boolean
  (``true``/``false`` only: ``yes``, ``no``, ``on``, ``off`` are strings), an integer (decimal, so ``010`` is
  10; ``0o17`` octal, ``0x1F`` hexadecimal), a float (``1.5``, ``1e3``, ``.inf``, ``.nan``: validation then
  refuses what is not finite) or else a string: YAML 1.1's octal ``010`` = 8, base-60 ``1:30`` = 90 and dates
  are gone. Tags: only the core schema's (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!seq``, ``!!map``); any other (``!!python/...``, ``!!binary``, ``!!set``) is refused, so reading never
  runs code and always gives plain data.
* **Merge keys** (``<<: *defaults`` or ``<<: [*a, *b]``, YAML's merge type) insert the keys of other
  mappings: keys written in the mapping itself win, and of several merged mappings the earlier one wins.
* **Duplicate keys are refused** (YAML would keep the last one silently), naming the first one's line.
* **Bounded** (`capacity.limits.InputLimits`: process-level settings, raised by environment variables): the
  bytes of a file (`read_text`, which also refuses FIFOs and devices without waiting on them), the nodes
  after expanding aliases and the nesting depth (through aliases too). Both are counted on the event stream
  as it is parsed, with each anchor's expanded size and height kept once, so the check is linear in the
  text: an alias bomb or a 10,000-deep list is refused at its line before anything is expanded or recursed
  into.
* **Lines.** `LineMap` maps each value's path (``("services", 0, "resources", "cpu")``) to the line where
  its key or list item starts; a value reached through an alias or a merge key has the line where it was
  written (the map links the path to the anchor's, instead of copying the anchor's lines).

Data is built straight from the parser's events (libyaml's, through PyYAML, when present), without a node
tree: one pass, memory close to the data itself. An alias gives the anchored object itself (shared, as
PyYAML does); callers that change data copy it first.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev

from capacity.errors import ScenarioError
from capacity.limits import InputLimits

Loc = tuple[str | int, ...]


class YamlSyntaxError(ScenarioError):
    """Text that is not YAML this package reads: a syntax error, a refused tag, a duplicate key, a merge key
    of something else than mappings (a limit is a plain `ScenarioError`)."""


# ---------------------------------------------------------------------------------------------- files

def read_text(path: str | Path, *, what: str = "file", limits: InputLimits | None = None) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limits.max_bytes`` long.

    A FIFO, device or socket is refused without waiting for it (opened non-blocking, checked by its open
    descriptor, so a path swapped in between cannot slip through); so are a directory (``what`` names what
    was expected: ``is a directory, not a scenario file``), a larger file (before reading it) and bytes that
    are not UTF-8 (with their line).
    """
    file = str(path)
    limits = limits or InputLimits.from_env()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ScenarioError("no such file", file=file) from None
    except IsADirectoryError:
        raise ScenarioError(f"is a directory, not a {what}", file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=file) from None
    try:
        raw = _read_regular(fd, file, what, limits)
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file,
                            line=raw.count(b"\n", 0, exc.start) + 1) from None


def _read_regular(fd: int, file: str, what: str, limits: InputLimits) -> bytes:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"is a directory, not a {what}", file=file)
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                else "a device")
        raise ScenarioError(f"is not a regular file ({kind}): give a {what} saved on disk", file=file)
    if info.st_size > limits.max_bytes:
        raise ScenarioError(limits.error("max_bytes", f"the file holds {info.st_size} bytes"), file=file)
    chunks, size = [], 0
    while chunk := os.read(fd, min(1 << 20, limits.max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limits.max_bytes:  # the file grew while read (or its size was not known: /proc)
            raise ScenarioError(limits.error("max_bytes", "the file holds more bytes"), file=file)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- lines

class LineMap(Mapping[Loc, int]):
    """Path → 1-based line where the path's key (or list item) starts, following aliases and merge keys.

    ``lines`` holds the paths written out in the text; ``links`` maps a path reached through an alias or a
    merge key to the path it stands for (the anchor's, the merged mapping's key), so a path under it is
    looked up there: ``services.1.resources.cpu`` → ``services.0.resources.cpu`` when ``resources: *res``.
    Iterating gives the paths written out.
    """

    def __init__(self, lines: dict[Loc, int] | None = None, links: dict[Loc, Loc] | None = None) -> None:
        self._lines = lines if lines is not None else {}
        self._links = links if links is not None else {}

    def __getitem__(self, loc: Loc) -> int:
        loc = tuple(loc)
        for _ in range(len(self._links) + 1):  # each hop follows one link; links never form a cycle
            line = self._lines.get(loc)
            if line is not None:
                return line
            for n in range(len(loc), 0, -1):
                target = self._links.get(loc[:n])
                if target is not None:
                    loc = target + loc[n:]
                    break
            else:
                break
        raise KeyError(loc)

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)


@dataclass(frozen=True)
class Document:
    """One YAML document: its data, the line where it starts and its `LineMap`."""

    data: Any
    line: int
    lines: LineMap


# ---------------------------------------------------------------------------------------------- entry points

def load_document(text: str, source: str, *, limits: InputLimits | None = None) -> tuple[Any, LineMap]:
    """The one document of ``text`` (None when there is none) and its line map; a second document is an
    error. Raises `ScenarioError` (`YamlSyntaxError` for what is not YAML) naming ``source`` and the line."""
    found: Document | None = None
    for doc in documents(text, source, limits=limits):
        if found is not None:
            raise YamlSyntaxError("invalid YAML: expected one document, found a second one", file=source,
                                  line=doc.line)
        found = doc
    return (None, LineMap()) if found is None else (found.data, found.lines)


def load_value(text: str, source: str = "--set", *, limits: InputLimits | None = None) -> Any:
    """A command-line value (``--set``, ``--grid``, ``--case``) read as YAML: ``8``, ``600/s``, ``[a, b]``.
    Text that is not YAML is taken as the string itself; a value beyond the limits is an error."""
    if not text.strip():
        return ""
    try:
        data, _ = load_document(text, source, limits=limits)
    except YamlSyntaxError:
        return text
    return data


def _check_encodable(text: str, source: str) -> None:
    """A text that came from the command line may hold lone surrogates (bytes that are not UTF-8, decoded
    with Python's ``surrogateescape``), which no YAML reader takes: one line naming the first one."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        byte = f"byte {ord(char) - 0xDC00:#04x}" if 0xDC80 <= ord(char) <= 0xDCFF else f"{ord(char):#06x}"
        raise ScenarioError(f"not UTF-8 text ({byte} at character {exc.start + 1})", file=source,
                            line=_line_at(text, exc.start)) from None


def documents(text: str, source: str, *, line_depth: int | None = None,
              limits: InputLimits | None = None) -> Iterator[Document]:
    """Each document of ``text`` in turn (see the module docstring). ``line_depth`` keeps lines only for
    paths up to that length (a big manifest needs only its items' lines). The node bound counts all
    documents together: it bounds the work of reading the whole text."""
    limits = limits or InputLimits.from_env()
    _check_encodable(text, source)
    builder = _Builder(source, limits, line_depth)
    parser = _parser(text)
    try:
        yield from builder.documents(parser)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # libyaml puts the end of a text without a final newline on a line of its own: the last line
        line = min(mark.line + 1, text.count("\n") + 1) if mark is not None else None
        problem = exc.problem or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own bound (1000) ran out before ours
            raise ScenarioError(_too_deep(limits), file=source, line=line) from None
        raise YamlSyntaxError(f"invalid YAML: {problem}", file=source, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: its own message, no mark
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise YamlSyntaxError(f"invalid YAML: character {ord(char):#06x} is not allowed in YAML text",
                              file=source, line=_line_at(text, exc.position)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", file=source) from None
    finally:
        parser.dispose()


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def load_json(text: str, source: str, *, limits: InputLimits | None = None) -> Any:
    """A JSON document (``kubectl get -o json``), its nesting depth checked first on the brackets outside
    strings (a linear scan), so Python's recursive JSON reader never meets a document deeper than
    ``limits.max_depth``. Raises `YamlSyntaxError` (``invalid JSON: ...``) for what is not JSON."""
    limits = limits or InputLimits.from_env()
    brackets = _JSON_NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0) > limits.max_depth:
        raise ScenarioError(_too_deep(limits), file=source, line=_json_too_deep_line(text, limits.max_depth))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise YamlSyntaxError(f"invalid JSON: {exc.msg}", file=source, line=exc.lineno) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise YamlSyntaxError(f"invalid JSON: {exc}", file=source) from None


def _json_too_deep_line(text: str, max_depth: int) -> int:
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return _line_at(text, match.start())
        elif token in "]}":
            depth -= 1
    return 1


def _line_at(text: str, position: int) -> int:
    """The line of character ``position`` (libyaml counts bytes of UTF-8: close enough for ASCII lines)."""
    return text.count("\n", 0, max(0, position)) + 1


def _parser(text: str) -> Any:
    """libyaml's event parser when PyYAML was built with it, else PyYAML's own (the same events)."""
    try:
        from yaml._yaml import CParser
    except ImportError:
        return _PurePythonParser(text)
    return CParser(text)


class _PurePythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


# ---------------------------------------------------------------------------------------------- scalars

_CORE = "tag:yaml.org,2002:"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
#: First characters of a plain scalar that may be something else than a string.
_MAYBE_NOT_STR = frozenset("0123456789+-.~nNtTfF")
_MERGE = "<<"


def _plain(text: str) -> Any:
    """A plain scalar by the YAML 1.2 core schema."""
    if not text:
        return None
    if text[0] not in _MAYBE_NOT_STR:
        return text
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    number = _number(text)
    return text if number is None else number


def _number(text: str) -> int | float | None:
    if _INT.fullmatch(text):
        return _int(text, 10)
    if _OCT.fullmatch(text):
        return _int(text[2:], 8)
    if _HEX.fullmatch(text):
        return _int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return None


def _int(digits: str, base: int) -> int:
    try:
        return int(digits, base)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _Refused(f"an integer of {len(digits)} digits is too long") from None


def _tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit core-schema tag (``!!int "010"``)."""
    kind = tag.removeprefix(_CORE)
    if kind == "str":
        return text
    value = _plain(text)
    if kind == "null" and value is None:
        return None
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind in ("null", "bool", "int", "float"):
        raise _Refused(f"{text!r} is not a valid !!{kind}")
    raise _Refused(_unsupported(tag))


def _unsupported(tag: str) -> str:
    short = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
    return (f"tag {short!r} is not supported (data only: YAML 1.2 core types str, int, float, bool, null, "
            "lists and mappings)")


class _Refused(Exception):
    """A problem found while building data, reported by `_Builder` with the line of the event."""


# ---------------------------------------------------------------------------------------------- writing

class Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting also the strings that YAML 1.2 reads as numbers (``0o17``, ``1e3``;
    PyYAML writes by YAML 1.1, where they are strings), so that what it writes reads back the same here."""


Dumper.add_implicit_resolver(_CORE + "int", re.compile(r"^0o[0-7]+$"), ["0"])
Dumper.add_implicit_resolver(_CORE + "float", re.compile(rf"^{_FLOAT.pattern}$"), list("-+.0123456789"))


# ---------------------------------------------------------------------------------------------- building

@dataclass(slots=True)
class _Node:
    """A finished value as aliases see it: the data, its expanded node count and nesting height (a scalar
    0, a list of scalars 1, ...), and its path (for lines; None when lines are not kept that deep)."""

    value: Any
    size: int
    height: int
    loc: Loc | None


_OPEN = _Node(None, 0, 0, None)  # an anchor whose collection is still being read


@dataclass(slots=True)
class _Frame:
    """A list or mapping being read."""

    value: Any                           # the list, or the dict of the keys written in the mapping
    loc: Loc | None
    line: int
    anchor: str | None
    size: int = 1                        # nodes after expanding aliases, itself included
    height: int = 1
    key: Any = None                      # a mapping's key waiting for its value
    has_key: bool = False
    key_line: int = 0
    key_is_merge: bool = False           # the waiting key is a plain '<<'
    explicit: dict[Any, int] = field(default_factory=dict)   # written keys → their lines
    merge_line: int = 0                  # line of a '<<' key (0: none)
    merges: list[tuple[dict[Any, Any], Loc | None]] = field(default_factory=list)


class _Builder:
    """Builds the documents of one event stream into plain data, checking the limits as it goes."""

    def __init__(self, source: str, limits: InputLimits, line_depth: int | None) -> None:
        self.source = source
        self.limits = limits
        self.line_depth = math.inf if line_depth is None else line_depth
        self.nodes = 0

    def documents(self, parser: Any) -> Iterator[Document]:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is ev.DocumentStartEvent:
                yield self._document(parser)
            elif kind is ev.StreamEndEvent or event is None:
                return

    def _document(self, parser: Any) -> Document:
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Node] = {}
        self.lines: dict[Loc, int] = {}
        self.links: dict[Loc, Loc] = {}
        self.root: Any = None
        self.root_line = 1
        event = None
        try:
            while True:
                event = parser.get_event()
                kind = type(event)
                if kind is ev.ScalarEvent:
                    self._scalar(event)
                elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
                    self._open(event, kind is ev.MappingStartEvent)
                elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
                    self._close()
                elif kind is ev.AliasEvent:
                    self._alias(event)
                elif kind is ev.DocumentEndEvent:
                    break
        except _Refused as exc:
            line = event.start_mark.line + 1 if event is not None else None
            raise YamlSyntaxError(f"invalid YAML: {exc}", file=self.source, line=line) from None
        return Document(self.root, self.root_line, LineMap(self.lines, self.links))

    # ------------------------------------------------------------------ events

    def _scalar(self, event: Any) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            plain = tag is None and event.implicit[0]
            value = _plain(event.value) if plain else event.value
        else:
            plain = False
            value = _tagged(tag, event.value)
        self._add(value, 1, 0, None, event, plain and event.value == _MERGE)

    def _alias(self, event: Any) -> None:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise _Refused(f"alias *{event.anchor} is not defined above")
        if node is _OPEN:
            raise _Refused(f"alias *{event.anchor} is inside the node it names (a recursive alias)")
        self._check_depth(len(self.stack) + node.height, event)
        self._add(node.value, node.size, node.height, node.loc, event, False)

    def _open(self, event: Any, is_map: bool) -> None:
        tag = event.tag
        if tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
            raise _Refused(_unsupported(tag))
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.value.__class__ is dict and not parent.has_key:
            raise _Refused("a mapping key must be a plain value, not a list or mapping")
        self._count(1, event)
        self._check_depth(len(self.stack) + 1, event)
        loc = self._child_loc(parent) if parent is not None else ()
        if event.anchor is not None:
            self.anchors[event.anchor] = _OPEN
        self.stack.append(_Frame({} if is_map else [], loc, event.start_mark.line + 1, event.anchor))

    def _close(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            frame.value = self._merged(frame)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = _Node(frame.value, frame.size, frame.height, frame.loc)
        if not self.stack:
            self.root, self.root_line = frame.value, frame.line
            return
        self._place(frame.value, frame.size, frame.height, None, frame.line)

    # ------------------------------------------------------------------ placing values

    def _add(self, value: Any, size: int, height: int, alias_of: Loc | None, event: Any, merge: bool) -> None:
        """A scalar or an alias (``alias_of``: the anchor's path): count it, then place it as the root, a
        key, a list item or a value. ``merge``: a plain ``<<``."""
        self.nodes += size
        if self.nodes > self.limits.max_nodes:
            self._too_many(event)
        line = event.start_mark.line + 1
        stack = self.stack
        frame = stack[-1] if stack else None
        is_key = frame is not None and frame.value.__class__ is dict and not frame.has_key
        if event.anchor is not None and event.__class__ is ev.ScalarEvent:
            loc = () if frame is None else None if is_key else self._child_loc(frame)
            self.anchors[event.anchor] = _Node(value, 1, 0, loc)
        if frame is None:
            self.root, self.root_line = value, line
        elif is_key:
            self._key(frame, value, size, line, merge)
        else:
            self._place(value, size, height, alias_of, line)

    def _key(self, frame: _Frame, key: Any, size: int, line: int, merge: bool) -> None:
        if key.__class__ in (dict, list):
            raise _Refused("a mapping key must be a plain value, not a list or mapping")
        if merge:
            if frame.merge_line:
                raise _Refused(f"duplicate key '<<' (first on line {frame.merge_line})")
            frame.merge_line = line
        elif key in frame.explicit:
            raise _Refused(f"duplicate key {key!r} (first on line {frame.explicit[key]})")
        frame.key, frame.has_key, frame.key_line, frame.key_is_merge = key, True, line, merge
        frame.size += size

    def _place(self, value: Any, size: int, height: int, alias_of: Loc | None, line: int) -> None:
        """Put a finished value into the list or mapping on top of the stack."""
        frame = self.stack[-1]
        frame.size += size
        if height >= frame.height:
            frame.height = height + 1
        parent = frame.loc if frame.loc is not None and len(frame.loc) < self.line_depth else None
        if frame.value.__class__ is list:
            if parent is not None:
                self._note((*parent, len(frame.value)), line, alias_of)
            frame.value.append(value)
            return
        key, key_line = frame.key, frame.key_line
        frame.has_key = False
        loc = None if parent is None else (*parent, key)
        if frame.key_is_merge:
            self._merge_source(frame, value, key_line, loc)
        else:
            frame.value[key] = value
            frame.explicit[key] = key_line
        if loc is not None:
            self._note(loc, key_line, alias_of)

    def _note(self, loc: Loc, line: int, alias_of: Loc | None) -> None:
        self.lines[loc] = line
        if alias_of is not None and alias_of != loc:
            self.links[loc] = alias_of

    def _child_loc(self, parent: _Frame) -> Loc | None:
        """The path of the value being started inside ``parent`` (None beyond ``line_depth``)."""
        if parent.loc is None or len(parent.loc) >= self.line_depth:
            return None
        if parent.value.__class__ is list:
            return (*parent.loc, len(parent.value))
        return (*parent.loc, parent.key)

    # ------------------------------------------------------------------ merge keys

    def _merge_source(self, frame: _Frame, value: Any, line: int, loc: Loc | None) -> None:
        """Keep the mapping(s) a ``<<`` key names, to merge when the mapping ends."""
        if value.__class__ is dict:
            frame.merges.append((value, loc))
            return
        if value.__class__ is list and value and all(item.__class__ is dict for item in value):
            frame.merges.extend((item, None if loc is None else (*loc, i)) for i, item in enumerate(value))
            return
        raise _Refused(f"the merge key '<<' (line {line}) takes a mapping, an alias of one or a list of them")

    def _merged(self, frame: _Frame) -> dict[Any, Any]:
        """The mapping's keys after its merges: merged keys first, the earlier source winning, then the keys
        written in the mapping (which win over every merged one)."""
        chosen: dict[Any, tuple[Any, Loc | None]] = {}
        for source, source_loc in reversed(frame.merges):
            for key, value in source.items():
                chosen[key] = (value, source_loc)
        out: dict[Any, Any] = {}
        for key, (value, source_loc) in chosen.items():
            if key in frame.explicit:
                continue
            out[key] = value
            if frame.loc is not None and source_loc is not None and len(frame.loc) < self.line_depth:
                self.links[(*frame.loc, key)] = (*source_loc, key)
        out.update(frame.value)
        return out

    # ------------------------------------------------------------------ limits

    def _count(self, size: int, event: Any) -> None:
        self.nodes += size
        if self.nodes > self.limits.max_nodes:
            self._too_many(event)

    def _too_many(self, event: Any) -> None:
        raise ScenarioError(self.limits.error("max_nodes", "too many YAML nodes (values, keys, lists, "
                                                           "mappings) after expanding aliases"),
                            file=self.source, line=event.start_mark.line + 1)

    def _check_depth(self, depth: int, event: Any) -> None:
        if depth > self.limits.max_depth:
            raise ScenarioError(_too_deep(self.limits), file=self.source, line=event.start_mark.line + 1)


def _too_deep(limits: InputLimits) -> str:
    return limits.error("max_depth", "lists and mappings nested too deeply")
