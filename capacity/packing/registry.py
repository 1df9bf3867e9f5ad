"""A registry: the policies of one kind (packing objectives, greedy baselines), each under its name.

A **policy** is an object with a ``name`` (the word a scenario file, the CLI and the report use for it) that
carries everything else about itself: its parameters, its flags and its validation. A `Registry` holds the
policies of one kind in registration order; the scenario's allowed names, the CLI's choices and the lists
in the documentation are read from it, so that adding a policy is one class plus one `Registry.register`
call, and nothing else lists the names.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Greeting:
...     name: str
>>> greetings: Registry[Greeting] = Registry("greeting")
>>> greetings.register(Greeting("hello")).name
'hello'
>>> greetings.lookup("hola")
Traceback (most recent call last):
...
ValueError: greeting: must be one of hello, got 'hola'

Names are what a scenario file may carry: lower-case letters, digits and ``-``, starting with a letter.
A name is registered once (`register` refuses a second policy under the same name); `unregister` takes it
out again, for tests and for plugins that replace a policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar


class Named(Protocol):
    """What every policy has: the name it is registered and referred to by."""

    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=Named)

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
"""A policy name: lower-case words of letters and digits joined by single ``-`` (``k8s-most-allocated``)."""


class Registry(Mapping[str, P]):
    """The policies of one ``kind`` by name, in registration order (a read-only mapping plus `register`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, P] = {}

    def register(self, policy: P) -> P:
        """Add ``policy`` under ``policy.name`` and return it. `ValueError` when the name is malformed or
        taken."""
        name = policy.name
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValueError(f"{self.kind} name {name!r}: use lower-case letters, digits and '-', "
                             "starting with a letter")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = policy
        return policy

    def unregister(self, name: str) -> P:
        """Take the policy ``name`` out of the registry and return it (`KeyError` when there is none)."""
        return self._items.pop(name)

    def lookup(self, name: str) -> P:
        """The policy ``name``; `ValueError` naming the registered ones when there is none."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(f"{self.kind}: must be one of {', '.join(self._items)}, got {name!r}") from None

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._items)

    def __getitem__(self, name: str) -> P:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
