"""Output paths and atomic writes: a file, or a whole folder of files, appears complete or not at all.

**Files.** `write_bytes` writes a temporary file beside the target (same folder, so the same file
system), fsyncs it, renames it over the target and fsyncs the folder: a reader sees the old file or the
new one, never a part. A symbolic link at the target is replaced, not followed. A character device or a
FIFO (``/dev/stdout``, ``/dev/null``, a named pipe), or an existing file reached through ``/dev`` or
``/proc`` (``/dev/stdout`` redirected to a file), cannot be replaced: it is written in place.

**Folders.** A report folder holds one run's files, never a mix (one run's report.md beside another's
plots). `write_folder` writes the whole set into a temporary folder beside the target
(``.NAME.capacity-new-XXXXXXXX``), fsyncs every file and the folder, and only then swaps it in: the old
folder is renamed away (``.NAME.capacity-old-XXXXXXXX``), the new one renamed to the target and the old
one removed. Until the swap the target is untouched; the two renames run with SIGINT and SIGTERM held
back (`capacity.interrupts.deferred`), so only a kill (SIGKILL, a power cut) can fall between them, and
that leaves both sets whole under their temporary names. The next write to the same target removes such
leftovers. Each writer holds its temporary folder locked (``flock``) while it writes and holds the parent
folder locked while it swaps, so two runs into one folder never spoil each other: the last to finish
wins, and each set stays whole.

Since the swap replaces the whole folder, it only ever replaces a folder that holds nothing but the files
its `FolderKind` writes (a run report: report.json, report.md, report.html and the plots; a Kubernetes
export: nodes.yaml, apply.sh and patches/): a folder with anything else in it (a sweep, a project with
``-o .``) is refused, never emptied.

**Errors.** Every problem is an `OutputError` that names the path, with exit code 2 when the path is wrong
(a file where a folder is wanted or the other way round, a parent that is a file, a place where nothing
can be written such as /proc or a read-only file system, an empty path, a folder of other files) and 5
when the disk fails (full, over quota, an I/O error). `check_file` and `check_folder` find the wrong paths
**before** a long run starts; they create nothing (writability is probed with a temporary file, removed at
once). The writers check again, since the file system can change while a run works.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from capacity import interrupts

try:                                     # POSIX; elsewhere temporaries are not locked (and not reclaimed)
    import fcntl
except ImportError:                      # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

EXIT_BAD_PATH = 2
EXIT_IO_FAILURE = 5

#: errno values that say the path is wrong (exit 2); every other OSError is an I/O failure (exit 5).
_PATH_ERRNOS = frozenset({
    errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS,
    errno.ENAMETOOLONG, errno.ELOOP, errno.EINVAL, errno.EXDEV, errno.EBUSY, errno.ENXIO, errno.ENODEV,
    errno.ENOTEMPTY})

#: Kernel file systems: capacity writes to what exists there (a device, a redirected ``/dev/stdout``) in
#: place, and creates nothing; /dev/shm is an ordinary (memory) file system.
_KERNEL = (Path("/dev"), Path("/proc"), Path("/sys"))
_ORDINARY = (Path("/dev/shm"),)

#: Temporary names keep at most this much of the target's name (a name has at most 255 bytes).
_STEM = 100

#: Entries of an existing folder looked at before writing over it: more than this and it is not a report.
SCAN_LIMIT = 10_000


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Permissions of written files and folders: what ``open()`` and ``mkdir`` give (0666 and 0777 less the
#: umask); a temporary file or folder alone would be private (0600, 0700), and a report is to be shared.
FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


class OutputError(Exception):
    """An output that cannot be written: the path as given, what is wrong, and the exit code (2: the path
    is wrong; 5: the disk failed)."""

    def __init__(self, path: str | os.PathLike[str], problem: str, *, exit_code: int = EXIT_BAD_PATH):
        super().__init__(f"{_shown(path)}: {problem}")
        self.path = str(path)
        self.problem = problem
        self.exit_code = exit_code

    def one_line(self) -> str:
        """``PATH: what is wrong``, on one line."""
        return str(self)


def _shown(path: str | os.PathLike[str]) -> str:
    """A path as printed: as given, or quoted (``repr``) when it holds a control character."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)


def from_os_error(path: str | os.PathLike[str], exc: OSError, doing: str) -> OutputError:
    """The `OutputError` of an ``OSError`` met while doing ``doing`` to ``path``: exit code 2 when the
    error says the path is wrong (no such folder, permission denied, read-only file system, ...), else 5."""
    reason = exc.strerror or exc.__class__.__name__
    code = EXIT_BAD_PATH if exc.errno in _PATH_ERRNOS else EXIT_IO_FAILURE
    return OutputError(path, f"cannot {doing}: {reason}", exit_code=code)


def _given(path: str | os.PathLike[str]) -> Path:
    if os.fspath(path) == "":
        raise OutputError("''", "empty path: name a file or folder")
    return Path(path)


def _stat(path: Path, shown: str | os.PathLike[str]) -> os.stat_result | None:
    """``os.stat`` (links followed), None when nothing is there (or a parent is a file: found later)."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise from_os_error(shown, exc, "look it up") from None


def _in_kernel_fs(path: Path) -> bool:
    """Whether ``path`` lies in /dev, /proc or /sys, lexically or once links are resolved."""
    def under(c: Path, roots: tuple[Path, ...]) -> bool:
        return any(c == r or r in c.parents for r in roots)

    candidates = {Path(os.path.abspath(path)), Path(os.path.realpath(path.parent)) / path.name}
    return any(under(c, _KERNEL) and not under(c, _ORDINARY) for c in candidates)


def _probe(folder: Path, shown: str | os.PathLike[str]) -> None:
    """Whether a file can be created in ``folder`` (created and removed at once)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".capacity-probe-", dir=folder)
    except OSError as exc:
        raise from_os_error(shown, exc, f"write in {_shown(folder)}") from None
    os.close(fd)
    with suppress(OSError):
        os.unlink(name)


def _check_parent(path: Path, shown: str | os.PathLike[str]) -> None:
    """The nearest existing folder above ``path`` is a folder, outside the kernel file systems, and
    writable; a file on the way is named."""
    if _in_kernel_fs(path):
        raise OutputError(shown, "is in /dev, /proc or /sys, where capacity creates no file or folder")
    ancestors = list(path.parents)                   # as given first (names shown as the user wrote them)
    ancestors += list(path.absolute().parents)[len(ancestors) - 1:] if not path.is_absolute() else []
    for ancestor in ancestors:
        st = _stat(ancestor, shown)
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise OutputError(shown, f"{_shown(ancestor)} is a file, not a folder")
        _probe(ancestor, shown)
        return


def _writes_in_place(st: os.stat_result | None, path: Path) -> bool:
    """A device or FIFO, or a file reached through /dev or /proc: written in place, never replaced."""
    if st is None:
        return False
    return stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode) or (
        stat.S_ISREG(st.st_mode) and _in_kernel_fs(path))


def check_file(path: str | os.PathLike[str]) -> None:
    """Raise `OutputError` unless a file can be written at ``path`` (nothing is created)."""
    target = _given(path)
    st = _stat(target, path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(path, "is a folder; name a file, e.g. "
                                f"{_shown(os.path.join(os.fspath(path), 'report.json'))}")
    if _writes_in_place(st, target):
        return
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(path, "exists and is not a regular file")
    _check_parent(target, path)


# ---------------------------------------------------------------------------------------------- files

def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename, a new file) durable; a file system that cannot sync a
    folder (EINVAL) is taken as it is."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _makedirs(folder: Path, shown: str | os.PathLike[str]) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        _check_parent(folder / "x", shown)            # names the file in the way
        raise OutputError(shown, f"{_shown(folder)} is not a folder") from None
    except OSError as exc:
        raise from_os_error(shown, exc, f"create the folder {_shown(folder)}") from None


def _write_in_place(path: Path, data: bytes, shown: str | os.PathLike[str]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise from_os_error(shown, exc, "write it") from None


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to the file ``path`` atomically (see the module docstring); returns ``Path(path)``.

    Raises `OutputError` (exit code 2 for a wrong path, 5 for a failing disk); a temporary file never
    outlives a failure or an interrupt. Unlike `write_folder` it does not refuse to write after an
    interrupt was recorded: a sweep saves the runs it finished after Ctrl-C on purpose.
    """
    target = _given(path)
    st = _stat(target, path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(path, "is a folder, not a file")
    if _writes_in_place(st, target):
        _write_in_place(target, data, path)
        return target
    if _in_kernel_fs(target):
        raise OutputError(path, "is in /dev, /proc or /sys, where capacity creates no file or folder")
    folder = target.parent
    _makedirs(folder, path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_STEM]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise from_os_error(path, exc, f"write in {_shown(folder)}") from None
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        with interrupts.deferred():
            os.replace(tmp, target)
        _fsync_dir(folder)
    except BaseException as exc:
        with interrupts.deferred(), suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise from_os_error(path, exc, "write it") from None
        raise
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------- folders

@dataclass(frozen=True)
class FolderKind:
    """The files a writer of one kind of folder puts there: only a folder that holds nothing else may be
    replaced by a new set of that kind.

    ``files`` are the names at the top of the folder; ``subfolders`` maps a subfolder's name to the pattern
    (``fnmatch``) of the files it may hold. Temporary files that earlier versions of capacity left beside a
    file (``.report.md.XXXX.tmp``) count as the folder's own.
    """

    what: str
    files: frozenset[str]
    subfolders: Mapping[str, str] = field(default_factory=dict)

    def owns(self, name: str) -> bool:
        """Whether a top-level file ``name`` is one this kind writes (or a leftover temporary of one)."""
        if name in self.files:
            return True
        return name.startswith(".") and name.endswith(".tmp") and any(
            name.startswith(f".{own}.") for own in self.files)

    def foreign(self, folder: Path) -> list[str]:
        """The entries of ``folder`` that this kind does not write (relative names, folders with a ``/``),
        sorted; the scan stops after `SCAN_LIMIT` entries (a folder that large is not a report)."""
        found: list[str] = []
        for k, entry in enumerate(_entries(folder)):
            if k >= SCAN_LIMIT:
                found.append("...")
                break
            if entry.name in self.subfolders and entry.is_dir(follow_symlinks=False):
                pattern = self.subfolders[entry.name]
                found += [f"{entry.name}/{e.name}" for e in _entries(Path(entry.path))
                          if not (e.is_file(follow_symlinks=False) and fnmatch.fnmatchcase(e.name, pattern))]
            elif not (self.owns(entry.name) and not entry.is_dir(follow_symlinks=False)):
                found.append(entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
        return sorted(found)


def _entries(folder: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        yield from it


def _holds_cwd(folder: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        return False
    return cwd == folder or folder in cwd.parents


def check_folder(path: str | os.PathLike[str], kind: FolderKind) -> None:
    """Raise `OutputError` unless a folder of ``kind`` can be written at ``path`` (nothing is created):
    nothing there yet, or a folder that holds only files of that kind."""
    target = _given(path)
    st = _stat(target, path)
    if st is None:
        _check_parent(target, path)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(path, "exists and is not a folder")
    real = Path(os.path.realpath(target))
    if _in_kernel_fs(real):
        raise OutputError(path, "is in /dev, /proc or /sys, where capacity creates no file or folder")
    try:
        foreign = kind.foreign(real)
    except FileNotFoundError:                        # gone meanwhile (another writer's swap): as if absent
        foreign = []
    except OSError as exc:
        raise from_os_error(path, exc, "list the folder") from None
    if foreign:
        more = f" (and {len(foreign) - 3} more)" if len(foreign) > 3 else ""
        raise OutputError(path, f"holds {', '.join(repr(n) for n in foreign[:3])}{more}, which capacity did "
                                f"not write there; writing {kind.what} replaces the whole folder, so choose "
                                "an empty or new folder")
    if _holds_cwd(real):
        raise OutputError(path, f"is the current folder (or holds it), and writing {kind.what} replaces the "
                                "whole folder: name a folder inside it, e.g. out/report")
    _check_parent(real, path)


class _Staging:
    """The temporary folder a new set is written into, held locked by its writer (see `_reclaim`)."""

    def __init__(self, target: Path, shown: str | os.PathLike[str]):
        self.target, self.shown = target, shown
        try:
            self.path = Path(tempfile.mkdtemp(prefix=f".{target.name[:_STEM]}.capacity-new-",
                                              dir=target.parent))
        except OSError as exc:
            raise from_os_error(shown, exc, f"write in {_shown(target.parent)}") from None
        self.token = self.path.name.rsplit("-", 1)[-1]
        try:
            self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except BaseException:
            os.rmdir(self.path)
            raise
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_EX)  # a fresh folder: nobody else holds it
            os.chmod(self.path, DIR_MODE)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Remove the folder and what was written into it, with interrupts held back; release the lock."""
        with interrupts.deferred():
            shutil.rmtree(self.path, ignore_errors=True)
            self.close()

    def add(self, name: str, data: bytes) -> None:
        """Write the file ``name`` (a relative path, ``/``-separated) into the folder and fsync it."""
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"not a relative file name: {name!r}")
        path = self.path.joinpath(*parts)
        try:
            for folder in reversed(path.relative_to(self.path).parents[:-1]):
                (self.path / folder).mkdir(exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise from_os_error(self.shown, exc, f"write {name}") from None

    def sync(self) -> None:
        """fsync every folder of the set (the file entries), deepest first."""
        try:
            for folder, _, _ in sorted(os.walk(self.path), key=lambda w: -len(w[0])):
                _fsync_dir(Path(folder))
        except OSError as exc:
            raise from_os_error(self.shown, exc, "write it") from None

    def close(self) -> None:
        """Release the lock (once)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _temp_name(target: Path, state: str, token: str) -> Path:
    return target.with_name(f".{target.name[:_STEM]}.capacity-{state}-{token}")


def _swap(staging: _Staging) -> list[Path]:
    """Rename the target away and the staging folder to the target; returns the old folders to remove.
    If the second rename fails, the old folder goes back."""
    target = staging.target
    olds: list[Path] = []
    for attempt in range(3):
        old = _temp_name(target, "old", f"{staging.token}{attempt or ''}")
        try:
            os.rename(target, old)
            olds.append(old)
        except FileNotFoundError:
            pass
        try:
            os.rename(staging.path, target)
            return olds
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and attempt < 2:
                continue                             # a folder appeared there meanwhile: move it away too
            if olds:
                with suppress(OSError):
                    os.rename(olds[-1], target)
            raise
    raise AssertionError("unreachable")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder`` locked (``flock``), so that one writer at a time swaps and reclaims in it; where
    folders cannot be locked (some network file systems), go on without."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if fcntl is not None:
            with suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _reclaim(target: Path) -> None:
    """Remove the temporaries that writers of ``target`` left when they were killed: old folders (only
    ever present, under the parent's lock, when their writer died mid-swap) and new folders that no live
    writer holds locked. Best effort: what cannot be removed now is tried again next time."""
    prefix = f".{target.name[:_STEM]}.capacity-"
    for entry in _entries(target.parent):
        state = entry.name[len(prefix):].split("-", 1)[0] if entry.name.startswith(prefix) else ""
        if state not in ("old", "new") or not entry.is_dir(follow_symlinks=False):
            continue
        if state == "new" and fcntl is None:
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # fails while its writer lives
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass
        finally:
            os.close(fd)


def write_folder(path: str | os.PathLike[str], files: Mapping[str, bytes], kind: FolderKind) -> list[Path]:
    """Replace the folder ``path`` with exactly ``files`` (relative name → bytes), all at once (see the
    module docstring). Returns the paths written, in the order of ``files``.

    Raises `OutputError` (exit code 2 for a wrong path or a folder of other files, 5 for a failing disk)
    with the old folder intact; an interrupt before the swap leaves it intact too.
    """
    check_folder(path, kind)
    target = Path(os.path.realpath(_given(path)))    # a link to a folder stays a link to the new one
    _makedirs(target.parent, path)
    staging = _Staging(target, path)
    try:
        for name, data in files.items():
            staging.add(name, data)
        staging.sync()
        interrupts.check()                           # an interrupt Python swallowed stops us here
        with _locked(target.parent):
            with interrupts.deferred():
                try:
                    olds = _swap(staging)
                except OSError as exc:
                    raise from_os_error(path, exc, "replace it") from None
                with suppress(OSError):
                    _fsync_dir(target.parent)
                # the old set goes with the swap: an interrupt during the removal would leave it half
                # removed beside the new one (a report folder holds a few files: the hold is short)
                for old in olds:
                    shutil.rmtree(old, ignore_errors=True)
            _reclaim(target)
    except BaseException:
        staging.discard()                            # after the swap its name is gone: nothing to remove
        raise
    staging.close()
    return [Path(path) / name for name in files]
