"""Errors of the LLM serving model, each one line that names what is wrong and how to fix it.

* `LlmError` — the base class (a `ValueError`): an unknown catalogue name, figures that do not validate.
* `ModelDoesNotFit` — the weights and the activation reserve leave no room for a KV cache on that GPU at that
  tensor-parallel degree (the message gives the memory figures, in GiB, and what to change).
* `ProfileError` — a measured iteration-time profile (CSV) that cannot be read: ``FILE:LINE: field: what``,
  never quoting the file's content.
* `ProfileRangeError` — a query outside the grid that a profile measured (the axis, the value, the range).
"""

from __future__ import annotations

from capacity.errors import CapacityError, printable


class LlmError(CapacityError, ValueError):
    """Bad LLM serving figures or a request the model cannot answer (one line)."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


class ModelDoesNotFit(LlmError):
    """The model's weights and activation reserve exceed the memory budget at this tensor-parallel degree."""


class ProfileError(LlmError):
    """A measured profile that cannot be read: ``FILE:LINE: field: what is wrong`` (parts unknown left out).
    The message says what was expected, never what the file holds."""

    def __init__(self, message: str, *, file: str, line: int | None = None, field: str | None = None) -> None:
        self.file, self.line, self.field = file, line, field
        where = file + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class ProfileRangeError(LlmError):
    """An iteration outside the batch sizes, token counts or contexts that the profile measured."""
