"""Interrupts: Ctrl-C (SIGINT) and SIGTERM always end a command with exit 130, before it writes anything.

Python turns SIGINT into a `KeyboardInterrupt` raised wherever the main thread happens to be. When that is
inside a destructor (``__del__``), a weakref or garbage-collector callback or a callback from C code, the
exception cannot propagate: Python prints ``Exception ignored in ...: KeyboardInterrupt`` and carries on,
and a command could then finish and write a full report as if nothing had happened.

`handling()` (used by `capacity.cli.main` around every command) therefore installs handlers for SIGINT and
SIGTERM (a service manager's or ``kill``'s polite stop: the same as Ctrl-C) that **record** the signal as
well as raise `KeyboardInterrupt`. A recorded interrupt is never lost:

* `check()` raises `KeyboardInterrupt` if a signal was recorded. The CLI calls it before it writes its
  outputs, the report-folder writer just before it swaps a new folder in
  (`capacity.report.output.write_folder`), and the CLI once more before it returns a code: a swallowed
  interrupt stops the command before it writes, or at the latest turns its exit code into 130. (A sweep
  that catches Ctrl-C to save the runs it finished writes them: single-file writes do not check.)
* `deferred()` holds SIGINT and SIGTERM back for a few system calls that must not be cut in two (the
  renames that swap a finished report folder in, the removal of temporary files); a signal that arrives
  meanwhile is delivered as soon as the block ends.
* The unraisable hook (what prints "Exception ignored") stays quiet about a `KeyboardInterrupt`: it is
  recorded and acted on, so the one line the user sees is ``interrupted``.

The ``capacity`` command calls `install` first, so that the handlers stay for the whole process: a signal
that arrives after the command has finished is recorded, raises nothing and still makes the exit code 130;
once that code is decided, `settle` ignores any later signal while the interpreter shuts down. Called
from Python, `capacity.cli.main` installs the handlers for the command only and restores the previous
ones (and forgets the record) afterwards; the library used without the CLI installs nothing, and
`check()` then never raises.

Before the handlers exist (the interpreter starting and importing capacity, a fraction of a second) Python's
own default applies: Ctrl-C then ends the process with a short KeyboardInterrupt traceback (killed by
SIGINT, which a shell also shows as 130), before anything is written.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: The signals that interrupt a command. SIGTERM is what ``kill`` and service managers send to stop a
#: process politely: it behaves exactly as Ctrl-C.
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class _State:
    """What the handlers know: the signal recorded (None: none yet), whether a command is running (the
    handlers raise `KeyboardInterrupt` only then: ``armed``) and whether they stay for the whole process
    (`install`)."""

    received: int | None = None
    armed: bool = False
    installed: bool = False


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    _state.received = signum
    if _state.armed:
        raise KeyboardInterrupt


def _quiet_unraisable(previous: Any) -> Any:
    """An unraisable hook that records a swallowed `KeyboardInterrupt` instead of printing it."""

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _state.received = _state.received or signal.SIGINT
            return
        previous(unraisable)

    return hook


def received() -> int | None:
    """The signal recorded by the handlers (None: no interrupt)."""
    return _state.received


def check() -> None:
    """Raise `KeyboardInterrupt` if an interrupt was recorded, even one that Python swallowed."""
    if _state.received is not None:
        raise KeyboardInterrupt


def install() -> None:
    """Install the handlers for the rest of the process (the ``capacity`` command): signals that arrive
    outside `handling()`, e.g. while the interpreter shuts down, are recorded and raise nothing."""
    for s in SIGNALS:
        signal.signal(s, _handler)
    sys.unraisablehook = _quiet_unraisable(sys.unraisablehook)
    _state.installed = True


def settle() -> None:
    """The command is over and its exit code decided: ignore SIGINT and SIGTERM from now on. (While the
    interpreter shuts down, Python puts back the default action of every signal that has a Python
    handler, so a Ctrl-C in the last milliseconds would kill the finished process instead of leaving its
    exit code alone; an ignored signal stays ignored.)"""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


@contextmanager
def handling() -> Iterator[None]:
    """Run one command: within the block SIGINT and SIGTERM are recorded and raise `KeyboardInterrupt`.

    Unless `install` put the handlers in place for the whole process, they are installed on entry (the
    record cleared) and the previous ones restored on leaving. Nested blocks run inside the outer one;
    outside the main thread (where Python cannot install handlers) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread() or _state.armed:
        yield
        return
    restore = not _state.installed
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    previous_hook = sys.unraisablehook
    if restore:
        _state.received = None
        for s in SIGNALS:
            signal.signal(s, _handler)
        sys.unraisablehook = _quiet_unraisable(previous_hook)
    _state.armed = True
    try:
        yield
    finally:
        _state.armed = False
        if restore:
            with deferred():
                for s, handler in previous.items():
                    signal.signal(s, handler)
                sys.unraisablehook = previous_hook
                _state.received = None


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs (they are delivered when it ends). Where signal
    masks do not exist (Windows), the block runs unprotected."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
