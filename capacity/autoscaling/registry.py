"""The replica autoscalers by name (`POLICIES`), with every shipped policy registered: `policies` holds
the registry and the policy protocol; `hpa` and `kpa` register themselves when imported, as here."""

from __future__ import annotations

from capacity.autoscaling import hpa as _hpa  # noqa: F401  (registers the policy)
from capacity.autoscaling import kpa as _kpa  # noqa: F401  (registers the policy)
from capacity.autoscaling.policies import POLICIES

__all__ = ["POLICIES"]
