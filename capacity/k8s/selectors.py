"""Which nodes a pod may use: node selectors, required node affinity, taints and tolerations, label selectors.

* A **node requirement** is ``key operator values`` (``zone In [a, b]``). The operators are the small classes
  in `OPERATORS`: ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt`` (integer compare of a
  single value), with the Kubernetes meaning: ``NotIn`` and ``DoesNotExist`` hold when the label is absent.
* A pod's **node constraint** is its ``nodeSelector`` (every pair must match, ANDed) and its required node
  affinity ``nodeSelectorTerms`` (ORed; the requirements of one term ANDed; a term with none matches
  nothing). ``matchFields`` on ``metadata.name`` is evaluated as the pseudo-label ``metadata.name``.
* A **taint** ``key=value:Effect`` keeps off every pod that does not tolerate it when its effect is
  ``NoSchedule`` or ``NoExecute`` (``PreferNoSchedule`` is a preference and is not enforced). A toleration
  matches a taint when the effects agree (an empty effect matches all) and, with operator ``Equal`` (the
  default), key and value are equal, or with ``Exists`` the key is equal (an empty key matches every taint).
* A **label selector** (``matchLabels`` and ``matchExpressions`` with ``In``, ``NotIn``, ``Exists``,
  ``DoesNotExist``) picks pods by their labels, for pod anti-affinity and topology spread.

Everything here is pure: labels in, booleans out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

#: The pseudo-label under which a node's name is matched (``matchFields: [{key: metadata.name, ...}]``).
NODE_NAME_FIELD = "metadata.name"


class Operator:
    """A node-requirement operator: ``holds(value or None when the label is absent, values)``."""

    name: ClassVar[str]
    arity: ClassVar[str] = "many"      # "many" (>= 1 value), "none" (no values), "one" (one integer)

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        raise NotImplementedError


class In(Operator):
    name = "In"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        return value is not None and value in values


class NotIn(Operator):
    name = "NotIn"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        return value is None or value not in values


class Exists(Operator):
    name = "Exists"
    arity = "none"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        return value is not None


class DoesNotExist(Operator):
    name = "DoesNotExist"
    arity = "none"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        return value is None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


class Gt(Operator):
    name = "Gt"
    arity = "one"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        a, b = _int(value), _int(values[0])
        return a is not None and b is not None and a > b


class Lt(Operator):
    name = "Lt"
    arity = "one"

    @staticmethod
    def holds(value: str | None, values: Sequence[str]) -> bool:
        a, b = _int(value), _int(values[0])
        return a is not None and b is not None and a < b


OPERATORS: dict[str, type[Operator]] = {op.name: op for op in (In, NotIn, Exists, DoesNotExist, Gt, Lt)}
#: Operators a label selector (pods) accepts.
LABEL_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def holds(self, labels: Mapping[str, str]) -> bool:
        return OPERATORS[self.operator].holds(labels.get(self.key), self.values)

    def __str__(self) -> str:
        if self.operator == "In" and len(self.values) == 1:
            return f"{self.key}={self.values[0]}"
        if self.operator in ("Exists", "DoesNotExist"):
            return f"{self.key} {self.operator}"
        return f"{self.key} {self.operator} [{', '.join(self.values)}]"


def check_requirement(key: object, operator: object, values: object,
                      allowed: Sequence[str] = tuple(OPERATORS)) -> Requirement:
    """A validated requirement; `ValueError` with the reason when the operator or values are wrong."""
    if not isinstance(key, str) or not key:
        raise ValueError("'key' must be a non-empty string")
    if operator not in allowed:
        raise ValueError(f"operator {operator!r} is not one of {', '.join(allowed)}")
    values = [] if values is None else values
    if not isinstance(values, list) or not all(isinstance(v, str | int) for v in values):
        raise ValueError("'values' must be a list of strings")
    arity = OPERATORS[str(operator)].arity
    if arity == "none" and values:
        raise ValueError(f"operator {operator} takes no values")
    if arity == "many" and not values:
        raise ValueError(f"operator {operator} needs at least one value")
    if arity == "one" and (len(values) != 1 or _int(str(values[0])) is None):
        raise ValueError(f"operator {operator} needs exactly one integer value")
    return Requirement(key, str(operator), tuple(str(v) for v in values))


@dataclass(frozen=True)
class NodeConstraint:
    """``nodeSelector`` (ANDed) and required node affinity terms (ORed; None: no affinity)."""

    selector: tuple[Requirement, ...] = ()
    terms: tuple[tuple[Requirement, ...], ...] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        if not all(r.holds(labels) for r in self.selector):
            return False
        if self.terms is None:
            return True
        return any(term and all(r.holds(labels) for r in term) for term in self.terms)

    def keys(self) -> set[str]:
        keys = {r.key for r in self.selector}
        for term in self.terms or ():
            keys.update(r.key for r in term)
        return keys

    def merged(self, other: NodeConstraint) -> NodeConstraint:
        """Both constraints at once (a RuntimeClass's nodeSelector is merged into its pods')."""
        terms = self.terms
        if other.terms is not None:
            terms = other.terms if terms is None else tuple(a + b for a in terms for b in other.terms)
        return NodeConstraint(self.selector + other.selector, terms)

    def __str__(self) -> str:
        parts = []
        if self.selector:
            parts.append("nodeSelector " + ", ".join(str(r) for r in self.selector))
        if self.terms is not None:
            terms = " OR ".join("(" + " AND ".join(str(r) for r in t) + ")" if t else "(nothing)"
                                for t in self.terms)
            parts.append(f"node affinity {terms}")
        return "; ".join(parts) or "any node"

    @property
    def empty(self) -> bool:
        return not self.selector and self.terms is None


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    @property
    def enforced(self) -> bool:
        """NoSchedule and NoExecute keep pods off; PreferNoSchedule only discourages them."""
        return self.effect in ("NoSchedule", "NoExecute")

    def __str__(self) -> str:
        return f"{self.key}{'=' + self.value if self.value else ''}:{self.effect}"


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == taint.key
        return self.key == taint.key and self.value == taint.value


def untolerated(tolerations: Sequence[Toleration], taints: Sequence[Taint]) -> list[Taint]:
    """The enforced taints that no toleration matches (empty: the pod may run there)."""
    return [t for t in taints if t.enforced and not any(tol.tolerates(t) for tol in tolerations)]


@dataclass(frozen=True)
class LabelSelector:
    """A pod label selector; ``None`` in a pod-affinity term means "matches nothing" (Kubernetes)."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return (all(labels.get(k) == v for k, v in self.match_labels.items())
                and all(r.holds(labels) for r in self.expressions))
