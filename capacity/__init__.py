"""capacity: a capacity planner for clusters that serve ML inference (API assembled by the lead)."""

__version__ = "0.1.0"
