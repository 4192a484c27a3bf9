"""The one way imagegraph reads a file a scanned repository brings.

Every file of a repository may be written by whoever opened the pull
request, so a read follows three rules, here and nowhere else:

* **Only inside the root.** The file, after every symbolic link, must lie
  in the directory the scan may read (the scanned directory, or the *root*
  the user names). A Dockerfile linked to ``/proc/self/environ`` or a
  declaration naming ``../../etc/passwd`` is refused, and nothing of it is
  read, so nothing of it can be quoted in a diagnostic.
* **Only regular files.** A FIFO would block forever, ``/dev/zero`` never
  ends, and opening a device can act (a watchdog starts, a tape rewinds):
  what ``stat`` does not call a regular file is refused unopened, and the
  file is opened without blocking, so the ``fstat`` of the open file (not a
  ``stat`` of its name, which a swap could outrun) has the last word before
  a byte is read.
* **Only so much.** At most :data:`MAX_FILE_BYTES` per file (16 MiB: real
  Dockerfiles are kilobytes, so more is a file made to exhaust memory),
  :data:`MAX_DECLARATION_BYTES` for a declaration file (one that declares a
  whole fleet runs to tens of megabytes: 137,000 bake targets are 40 MB),
  :data:`MAX_SBOM_BYTES` for an SBOM. A file that says it
  is smaller than it is (those of ``/proc`` say 0) is read only one byte
  past the cap.

A refusal is a :class:`RefusedFile`, an :class:`OSError` whose ``code``
names the rule (``outside-root``, ``not-regular-file``, ``file-too-large``)
and whose ``strerror`` says it in words without quoting the file; callers
that already report an unreadable file report it the same way.

The containment root is passed explicitly, or set for a whole scan of the
declaration files with :func:`confined` (the readers of each format read
their file through :func:`read_text` without threading it through).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import errno
import functools
import os
import stat
from collections.abc import Iterator

__all__ = [
    "CURRENT",
    "MAX_DECLARATION_BYTES",
    "MAX_FILE_BYTES",
    "MAX_SBOM_BYTES",
    "Boundary",
    "RefusedFile",
    "confined",
    "current_root",
    "exists",
    "inspect",
    "named_in",
    "named_outside",
    "open_kept",
    "outside_message",
    "read_bytes",
    "read_text",
    "within",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""The largest Dockerfile, ``.dockerignore``, ``.gitignore`` or ``.env`` file read."""
MAX_DECLARATION_BYTES = 256 * 1024 * 1024
"""The largest declaration file read (``imagegraph.toml``, a bake or compose file, a
library manifest): a fleet of a hundred thousand images declared in one file."""
MAX_SBOM_BYTES = 256 * 1024 * 1024
"""The largest SBOM read: syft's for a large image runs to tens of megabytes."""


class _Current(enum.Enum):
    CURRENT = "current"


CURRENT = _Current.CURRENT
"""As *root*: the root set by the innermost :func:`confined`, if any."""

_ROOT: contextvars.ContextVar[str | None] = contextvars.ContextVar("imagegraph_root", default=None)


class RefusedFile(OSError):
    """A repository file imagegraph will not read; ``code`` says why.

    ``strerror`` is the reason in words (it never quotes the file) and
    ``filename`` the path asked for.
    """

    def __init__(self, code: str, reason: str, filename: str) -> None:
        super().__init__(_ERRNO.get(code, errno.EPERM), reason, filename)
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # OSError pickles its (errno, strerror) args; process pools need all three.
        return (RefusedFile, (self.code, self.strerror, self.filename))


_ERRNO = {
    "outside-root": errno.EACCES,
    "not-regular-file": errno.EINVAL,
    "file-too-large": errno.EFBIG,
}


def current_root() -> str | None:
    """The real path files are confined to by the innermost :func:`confined`, or ``None``."""
    return _ROOT.get()


@contextlib.contextmanager
def confined(root: str | os.PathLike[str] | None) -> Iterator[None]:
    """Within the block, :func:`read_bytes` and :func:`read_text` called without
    a *root* refuse files outside *root* (``None``: no containment)."""
    token = _ROOT.set(None if root is None else os.path.realpath(root))
    try:
        yield
    finally:
        _ROOT.reset(token)


def _root(root: str | os.PathLike[str] | _Current | None) -> str | None:
    if root is CURRENT:
        return _ROOT.get()
    if root is None:
        return None
    assert not isinstance(root, _Current)
    return _real_root(os.fspath(root))


@functools.lru_cache(maxsize=16)
def _real_root(root: str) -> str:
    # realpath costs an lstat per component: once per root, not once per file.
    return os.path.realpath(root)


def within(real: str, root: str) -> bool:
    """True when the real path *real* is *root* or below it (both real, absolute).

    >>> within("/r/a/Dockerfile", "/r"), within("/rx/Dockerfile", "/r"), within("/x", "/")
    (True, False, True)
    """
    if real == root:
        return True
    return real.startswith(root if root.endswith(os.sep) else root + os.sep)


def _named_in(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> str | None:
    """*path* made absolute as written (its links not followed), when that lies
    inside *root*: a file of the repository, which a pull request may have made a
    link. ``None`` when it is named elsewhere (or there is no *root*)."""
    if root is None:
        return None
    limit = _real_root(os.fspath(root))
    written = os.fspath(path)
    named = os.path.normpath(os.path.join(os.path.realpath(os.getcwd()), written))
    return named if within(named, limit) or within(os.path.abspath(written), limit) else None


def named_in(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> bool:
    """Whether *path*, a file the user named on the command line, is named inside
    *root*: then it is held to *root* as the repository's own files are.

    >>> named_in("/etc/hostname", "/work/repo")
    False
    """
    return _named_in(path, root) is not None


def named_outside(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> bool:
    """Whether *path*, a file the user named on the command line, must be refused:
    named inside *root* (:func:`named_in`), it resolves outside it. Named
    elsewhere, it may be anywhere.

    >>> named_outside("/etc/hostname", "/work/repo")
    False
    """
    if root is None:
        return False
    named = _named_in(path, root)
    return named is not None and not within(os.path.realpath(named), _real_root(os.fspath(root)))


def outside_message(root: str) -> str:
    """What a refusal of a file outside *root* says."""
    return f"outside the root {root!r}, so not read (--root DIR allows a larger one)"


_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _not_regular(mode: int, name: str) -> RefusedFile:
    return RefusedFile(
        "not-regular-file",
        f"not a regular file ({_kind(mode)}); imagegraph reads only regular files",
        name,
    )


def _too_large(limit: int, name: str) -> RefusedFile:
    return RefusedFile(
        "file-too-large",
        f"larger than {limit // (1024 * 1024)} MiB, the most imagegraph reads of one file",
        name,
    )


_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_PROC_FD = "/proc/self/fd/"
_HAS_PROC_FD = os.path.isdir(_PROC_FD)


def _real_path_of(fd: int, name: str) -> str:
    """Where the open file *fd* really is: the kernel's own answer where it gives
    one (no race with a link swapped after the open), else ``realpath``."""
    if _HAS_PROC_FD:
        try:
            return os.readlink(f"{_PROC_FD}{fd}")
        except OSError:
            pass
    return os.path.realpath(name)


def _open(name: str, root: str | None) -> tuple[int, os.stat_result]:
    """Open *name* for reading and check the rules; the caller closes the descriptor.

    A ``stat`` first keeps what is not a regular file from being opened at
    all: opening a device can act (a watchdog starts, a tape rewinds). It
    decides nothing else: the ``fstat`` of the open file and the kernel's
    path of it are what a swap between the two cannot outrun.
    """
    try:
        mode = os.stat(name).st_mode
    except OSError:
        _refuse_if_outside(name, root)
        raise
    if not stat.S_ISREG(mode):
        _refuse_if_outside(name, root)
        raise _not_regular(mode, name)
    try:
        fd = os.open(name, _FLAGS)
    except OSError:
        _refuse_if_outside(name, root)
        raise
    try:
        info = os.fstat(fd)
        if root is not None and not within(_real_path_of(fd, name), root):
            raise RefusedFile("outside-root", outside_message(root), name)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode, name)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _refuse_if_outside(name: str, root: str | None) -> None:
    """Outside the root, a path is refused as such whether or not it is there,
    and whatever it is: the answer must not tell what exists out there."""
    if root is not None and not within(os.path.realpath(name), root):
        raise RefusedFile("outside-root", outside_message(root), name) from None


def inspect(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | _Current | None = CURRENT,
    limit: int = MAX_FILE_BYTES,
) -> os.stat_result:
    """The ``stat`` of the file at *path*, if :func:`read_bytes` would read it;
    otherwise what it would raise. Opens the file (without blocking) and
    closes it again: what a cache checks before it trusts an entry."""
    name = os.fspath(path)
    fd, info = _open(name, _root(root))
    os.close(fd)
    if info.st_size > limit:
        raise _too_large(limit, name)
    return info


def read_bytes(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | _Current | None = CURRENT,
    limit: int = MAX_FILE_BYTES,
) -> bytes:
    """The content of the regular file at *path*, inside *root*, at most *limit* bytes.

    *root* is the directory the file must really lie in (``None``: anywhere,
    for a file the user named; by default the one :func:`confined` set).
    Raises :class:`RefusedFile` for a file the rules refuse, and the
    :class:`OSError` of the open or read otherwise.
    """
    name = os.fspath(path)
    fd, info = _open(name, _root(root))
    try:
        if info.st_size > limit:
            raise _too_large(limit, name)
        # The size may lie (a file of /proc says 0, a file may grow): read one
        # byte past the limit to know.
        parts: list[bytes] = []
        total = 0
        want = min(info.st_size, limit) + 1
        while True:
            chunk = os.read(fd, max(want, 65536))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                raise _too_large(limit, name)
            want = limit + 1 - total
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def open_kept(path: str | os.PathLike[str]) -> tuple[int, os.stat_result] | None:
    """An open descriptor of *path* and its status when it is a regular file, not
    reached through a link, else ``None``; opening never blocks. For files that
    imagegraph or git keep (the caches, ``.git/index``) rather than files of the
    scanned tree: a link or a FIFO there is simply not read. The caller closes it.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        return None
    return fd, status


def read_text(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    root: str | os.PathLike[str] | _Current | None = CURRENT,
    limit: int = MAX_FILE_BYTES,
) -> str:
    """:func:`read_bytes` decoded, with universal newlines as :meth:`Path.read_text`
    reads them; raises :class:`UnicodeDecodeError` as it does."""
    data = read_bytes(path, root=root, limit=limit)
    text = data.decode(encoding, errors)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def exists(path: str | os.PathLike[str]) -> bool:
    """True when anything is at *path*: a file, a FIFO, a device, even a dangling
    link. Where a reader would skip what is not a regular file, it reads this
    instead and lets the read refuse it by name.

    Also True for any path outside the root :func:`confined` set: whether
    something is there must not show (a "not found" for ``../../etc/x`` but
    none for ``../../etc/passwd`` would tell), and the read refuses it anyway.
    """
    if os.path.lexists(path):
        return True
    root = _ROOT.get()
    return root is not None and not within(os.path.realpath(path), root)


class Boundary:
    """The test whether paths of one repository lie inside a root, after links.

    ``os.path.realpath`` costs an ``lstat`` per component of every path; this
    remembers each directory it resolved, so a fleet's thousands of contexts
    below a few shared directories cost about one ``lstat`` each.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._resolved: dict[str, str] = {}

    def contains(self, path: str | os.PathLike[str]) -> bool:
        """True when *path* (absolute, or relative to the working directory)
        resolves, after every link, to :attr:`root` or below it."""
        return within(self.real(path), self.root)

    def real(self, path: str | os.PathLike[str]) -> str:
        """``os.path.realpath(path)``, remembering the directories on the way."""
        name = os.fspath(path)
        if not os.path.isabs(name):
            name = os.path.join(os.getcwd(), name)  # not abspath: ".." after a link is not lexical
        current = os.sep
        for part in name.split(os.sep):
            if part in ("", "."):
                continue
            if part == "..":
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, part)
            found = self._resolved.get(candidate)
            if found is None:
                found = os.path.realpath(candidate) if os.path.islink(candidate) else candidate
                self._resolved[candidate] = found
            current = found
        return current
