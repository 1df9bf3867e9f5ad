"""Executors: what runs a sweep's runs. ``local`` (worker processes on this machine, started by a fork
server, ending with the sweep even when it is killed), ``dask`` (a Dask distributed cluster, reached within
`CONNECT_TIMEOUT_S` before anything runs, or a local one) and ``serial`` (in this process), by name in
`EXECUTORS`. Each has ``open(runs)``, ``run(runs)`` (yields each run with its outcome as it finishes) and
``close(cancel=...)``. While a sweep runs SIGTERM stops it as Ctrl-C does (`sigterm_as_ctrl_c`)."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from capacity.whatif.errors import SweepError
from capacity.whatif.points import Run
from capacity.whatif.records import run_one

#: At most this many worker processes on one machine (``--workers``); a Dask cluster has no such cap.
MAX_WORKERS = 256
#: Seconds to reach a Dask scheduler given with ``--scheduler`` before giving up.
CONNECT_TIMEOUT_S = 10.0


def check_workers(workers: int | None, scheduler: str | None) -> None:
    """``--workers``: None (one per core) or a whole number from 1 to `MAX_WORKERS` (processes started on
    this machine; with a ``scheduler`` the cluster has its own workers and the number is not used)."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"--workers {workers}: give a whole number of worker processes, at least 1")
    if workers > MAX_WORKERS and scheduler is None:
        raise SweepError(f"--workers {workers}: at most {MAX_WORKERS} worker processes on one machine; for "
                         "more, run a Dask cluster and pass --executor dask --scheduler ADDRESS")


def _exit_with_the_sweep(alive: Any) -> None:
    """In a worker: wait on the read end of a pipe whose only write end the sweep holds, then end this
    process at once. The pipe reaches end-of-file when the sweep closes it or dies (SIGKILL included), so
    no worker outlives its sweep. (A worker's parent is the fork server, which lives as long as any
    worker does; so neither its death signal nor a change of parent would tell the worker in time.)"""
    with contextlib.suppress(Exception):
        alive.recv_bytes()                   # nothing is ever sent: this returns by EOFError
    os._exit(1)


def _start_worker(alive: Any) -> None:
    """Initializer of each local worker: leave SIGINT and SIGTERM to the sweep (which stops the workers;
    a Ctrl-C or a SIGTERM sent to the whole process group must not lose the runs being recorded), and
    end with the sweep (`_exit_with_the_sweep`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_sweep, args=(alive,), name="exit-with-the-sweep",
                     daemon=True).start()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes start (a process started with SIGINT ignored keeps it so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While the sweep runs, SIGTERM stops it exactly as Ctrl-C does (`KeyboardInterrupt` in the main
    thread: the finished runs are kept, ``capacity sweep`` exits 130). The caller's handler is back
    afterwards; a caller that ignores SIGTERM keeps ignoring it."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class SerialExecutor:
    """Every run in this process, one after the other (no parallelism; for debugging and small sweeps)."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise SweepError("--scheduler needs --executor dask")

    def open(self, runs: int) -> None:
        pass

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        for r in runs:
            yield r, run_one(r.doc, r.source, r.data_dirs)

    def close(self, *, cancel: bool = False) -> None:
        pass


class LocalExecutor:
    """Worker processes on this machine (`ProcessPoolExecutor`, default one per core), started by a fork
    server so that no solver thread of this process is copied into a worker. Each worker holds the read
    end of a pipe whose write end only the sweep holds, and ends when it reaches EOF: when the sweep
    closes it or is killed (`_exit_with_the_sweep`)."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise SweepError("--scheduler needs --executor dask")
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._alive: tuple[Any, Any] | None = None      # (read end for the workers, write end kept here)

    def open(self, runs: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["capacity.whatif.records", "capacity.pipeline"])
        self._alive = ctx.Pipe(duplex=False)
        self._pool = ProcessPoolExecutor(max_workers=max(1, min(self.workers, runs)), mp_context=ctx,
                                         initializer=_start_worker, initargs=(self._alive[0],))

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        if not runs:
            return
        if self._pool is None:
            self.open(len(runs))
        assert self._pool is not None
        futures = {self._pool.submit(run_one, r.doc, r.source, r.data_dirs): r for r in runs}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self, *, cancel: bool = False) -> None:
        if self._pool is not None:
            if cancel:
                processes = list((getattr(self._pool, "_processes", None) or {}).values())
                self._pool.shutdown(wait=False, cancel_futures=True)
                for p in processes:          # the runs in progress are lost anyway: do not wait for them
                    with contextlib.suppress(Exception):
                        p.kill()
            else:
                self._pool.shutdown(wait=True)
            self._pool = None
        if self._alive is not None:
            for end in self._alive:
                end.close()
            self._alive = None


#: The Dask schemes a scheduler address may use (``tcp://HOST:PORT`` is the usual one).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def scheduler_address(address: str) -> tuple[str, str, int]:
    """``--scheduler``: the scheme, host and port of a Dask scheduler address (``tcp://HOST:PORT``, or
    ``HOST:PORT`` for tcp); a `SweepError` naming the address when it is not one."""
    from distributed.comm.addressing import parse_address, parse_host_port

    usage = f"--scheduler {address!r}: not a scheduler address (expected tcp://HOST:PORT"
    try:
        scheme, location = parse_address(address.strip())
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise SweepError(f"{usage})") from None
    if scheme not in DASK_SCHEMES or not host or not isinstance(port, int) or not 0 < port < 65536:
        raise SweepError(f"{usage}; schemes: {', '.join(DASK_SCHEMES)})")
    return scheme, host, port


def _reason(exc: BaseException) -> str:
    """An exception as a short phrase for a one-line error."""
    text = getattr(exc, "strerror", None) or next(iter(str(exc).strip().splitlines()), "") \
        or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


#: Loggers of the Dask client's event loop, silenced while a sweep runs on Dask (see `DaskExecutor.open`).
_LOOP_LOGGERS = ("tornado.application", "tornado.general", "asyncio")


class DaskExecutor:
    """A Dask distributed cluster: the one at ``scheduler`` (``tcp://HOST:8786``), or a `LocalCluster` of
    ``workers`` single-threaded worker processes started for the sweep and closed after it. The address is
    checked when the executor is made, and reached (within `CONNECT_TIMEOUT_S`) before anything runs."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise SweepError("executor dask needs dask.distributed: pip install 'capacity[dask]'") from None
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self._where = None if scheduler is None else scheduler_address(scheduler)
        self._client: Any = None
        self._cluster: Any = None
        self._futures: list[Any] = []

    def open(self, runs: int) -> None:
        from distributed import Client, LocalCluster

        # Ctrl-C or SIGTERM inside `future.result()` makes the client cancel its pending call from its loop
        # thread, and tornado logs that callback's traceback (at ERROR, on `tornado.application`, which
        # distributed's logging config sets explicitly) while the sweep is already saying in one line what
        # it kept. Run outcomes come back as results, not logs, so these loggers say nothing the user needs.
        for name in _LOOP_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        if self._where is None:
            with _sigint_ignored():          # the workers inherit it: Ctrl-C is the sweep's to handle
                self._cluster = LocalCluster(n_workers=max(1, min(self.workers, runs)), threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            return
        scheme, host, port = self._where
        cannot = f"--scheduler {self.scheduler!r}: cannot connect"
        if scheme in ("tcp", "tls", "ws", "wss"):        # a refused or unknown address fails at once
            try:
                socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
            except OSError as exc:
                raise SweepError(f"{cannot} ({_reason(exc)})") from None
        try:
            self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"{cannot} within {CONNECT_TIMEOUT_S:g} s ({_reason(exc)})") from None

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        from distributed import as_completed

        if not runs:
            return
        if self._client is None:
            self.open(len(runs))
        futures = {self._client.submit(run_one, r.doc, r.source, r.data_dirs, pure=False): r for r in runs}
        self._futures = list(futures)
        for future in as_completed(self._futures):
            yield futures[future], future.result()

    def close(self, *, cancel: bool = False) -> None:
        if self._client is not None:
            if cancel and self._futures and self._cluster is None:   # a shared cluster: drop our tasks
                with contextlib.suppress(Exception):
                    self._client.cancel(self._futures)
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self._futures = []


#: The executors by name (``--executor``).
EXECUTORS: dict[str, type[SerialExecutor] | type[LocalExecutor] | type[DaskExecutor]] = {
    "local": LocalExecutor, "dask": DaskExecutor, "serial": SerialExecutor,
}
