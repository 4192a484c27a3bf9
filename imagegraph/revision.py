"""The fleet as it was at a git revision, read from git without a checkout.

:func:`scan_revision` builds the graph of a fleet at a commit (a branch, a
tag, ``HEAD~3``, a tree id) with the very code :func:`imagegraph.scan` runs
on a work tree. git is only asked to *read*, with the options and
environment of :mod:`imagegraph._git` (no fsmonitor, no hooks, no pager, no
transport, no credential helper, no external diff):

* ``git rev-parse`` finds the work tree and resolves the revision to a tree;
* ``git ls-tree`` walks down to the scanned directory's tree and lists it
  (``-r -z -l``: every entry with its mode, object id and size);
* one ``git cat-file --batch`` reads the blobs by object id.

Reading a blob by its id runs nothing: no ``.gitattributes`` filter, textconv,
``export-subst`` or end-of-line conversion applies to it (``git show``,
``checkout`` and ``archive`` would run or apply them), so the files are the
bytes committed.

The files are written once into a directory of the cache directory,
``revisions/<tree id>-<hash of name>/files/<name>``, named by the id of the tree of
the directory files may be read from and by that directory's name (which a
fleet found by convention names its top Dockerfile's build after): a tree id
covers every blob id below it, so a second scan of the same tree (of any
revision whose directory is unchanged) finds the directory complete and
reads nothing from git but the revision's name, and the parse cache and the
graph snapshot of :func:`~imagegraph.scan` then hit as for an unchanged work
tree. A directory is written under a temporary name and renamed when whole,
so one a killed run left half-written is never used (it is deleted once
:data:`~imagegraph._reading.STALE_TEMPORARY_S` old); at most
:data:`MAX_REVISION_TREES` trees are kept, the least recently used go.

What is written is what a checkout would hold, except:

* regular files are written ``0644`` whatever their mode in git (nothing
  the scan reads is run, and nothing written here is executable);
* a symbolic link is written as a symbolic link with its target text, so
  the scan's own rules refuse one that leads out of the root, as in a work
  tree (an absolute link into the work tree is refused too: it would read
  today's file, not the revision's);
* a blob over :data:`~imagegraph._files.MAX_DECLARATION_BYTES` (the scan
  would read no file that large; one between a Dockerfile's cap and this is
  written, and the scan refuses it as in a work tree), a submodule (a commit, not files: an empty directory is
  written, as a checkout without ``submodule update`` leaves), a link whose
  target holds a NUL byte, a name git itself refuses to check out (``..``,
  ``.git``, an empty part) and an entry that cannot be written are left
  out, each with a ``revision-file-skipped`` warning naming it.

Nothing is ever written through a symbolic link: directories are opened
with ``O_NOFOLLOW`` one level at a time and files created with ``O_EXCL``.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from imagegraph._files import MAX_DECLARATION_BYTES, MAX_FILE_BYTES
from imagegraph._git import (
    _GITLINK,
    _NEUTRAL,
    _SYMLINK,
    _TIMEOUT,
    GitError,
    _environment,
    _git,
    check_revision,
    tree_of,
    work_tree,
)
from imagegraph._reading import (
    STALE_TEMPORARY_S,
    cache_directory,
    code_version,
    read_kept,
    touch,
)
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError
from imagegraph.graph import ImageGraph, scan
from imagegraph.inventory import ConfigError

__all__ = ["MAX_REVISION_TREES", "SKIPPED", "scan_revision"]

MAX_REVISION_TREES = 16
"""Revision trees kept in the cache directory; the least recently scanned go first."""
SKIPPED = "revision-file-skipped"
"""The code of the diagnostic naming an entry of the revision that was not written."""

_FORMAT = 2  # 2: blobs kept up to MAX_DECLARATION_BYTES (1 left out those over 16 MiB)
_RECORD = "revision.json"
_FILES = "files"
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_KEY = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})-[0-9a-f]{16}")
_TEMPORARY = re.compile(rf"\.tmp-{_KEY.pattern}-[a-z0-9_]{{8}}")
_OPEN_DIRECTORIES = 64
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def scan_revision(
    path: str | os.PathLike[str],
    revision: str,
    *,
    config: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> ImageGraph:
    """The graph of the fleet at *path* as it was at git *revision*.

    Built by :func:`imagegraph.scan` from the files of the revision, read from
    git without a checkout and without running anything the repository
    configures (see the module's documentation): the same readers, parser
    and diagnostics, and the same paths, relative to the scanned directory,
    so builds compare by name and path with a scan of the work tree.

    *path* is a directory of a git work tree (as it is now: it need not
    exist any more, but an enclosing directory of the work tree must).
    *root* is the directory files may be read from, as for :func:`scan`
    (default: *path*); one above the top of the work tree is the top (the
    revision holds nothing above it). A relative *config* is relative to
    *path*; an absolute one inside *root* is read from the revision, one
    outside the repository as it is now (it is not versioned).

    *cache* false writes the files to a temporary directory, deleted when
    the graph is, and uses no cache; by default they are kept (see above).
    The graph's :attr:`~imagegraph.ImageGraph.inventory` root is the
    directory the files were written to: the revision's files can be read
    there while the graph lives.

    Raises :class:`~imagegraph._git.GitError` when *path* is in no git work
    tree, git is missing, *revision* names no commit or tree, or *path* was
    not a directory at *revision*; :class:`~imagegraph.ConfigError` as
    :func:`scan` does (a revision without the config file a scan of *path*
    names; without ``imagegraph.toml`` the fleet is found by convention).

    >>> import subprocess, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     repo = Path(tmp)
    ...     _ = (repo / "app").mkdir(), (repo / "app" / "Dockerfile").write_text("FROM debian:12\\n")
    ...     for step in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"]):
    ...         _ = subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b",
    ...                             *step], cwd=repo, check=True)
    ...     _ = (repo / "app" / "Dockerfile").write_text("FROM debian:13\\n")
    ...     scan_revision(repo, "HEAD", cache=False).parents("app")
    ['docker.io/library/debian:12']
    """
    what = f"revision {revision!r}"
    check_revision(revision, what)
    place = _locate(Path(path), None if root is None else Path(root), what)
    tree = _resolve(place, revision, what)
    if cache:
        store = _Store.open()
        if store is not None:
            key = _key(tree, place.name)
            kept = store.kept(key, place.name)
            if kept is None:
                kept = store.add(key, place.name, lambda into: _materialize(place, tree, into))
            if kept is not None:
                return _scan(place, kept, config, root is not None, what, cache=True)
    return _scan_once(place, tree, config, root is not None, what)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where the scan is in the work tree."""

    top: Path
    """The top of the work tree (real path), where git runs."""
    root: str
    """The directory files may be read from, ``/``-separated from the top ("" for the top)."""
    scanned: str
    """The scanned directory, ``/``-separated from :attr:`root` ("" for the root itself)."""
    shown_root: str
    """The real path of the root in the work tree: what diagnostics name."""

    @property
    def name(self) -> str:
        """The root directory's name, which the revision's files are written under (a
        Dockerfile at the top of a fleet found by convention is named after it)."""
        return os.path.basename(self.shown_root) or "root"


def _key(tree: str, name: str) -> str:
    """The kept directory of *tree* written under the directory *name*."""
    return f"{tree}-{hashlib.sha256(os.fsencode(name)).hexdigest()[:16]}"


@dataclass(frozen=True, slots=True)
class _Kept:
    """A revision tree written out: the directory of its files and what was left out."""

    files: Path
    skipped: tuple[tuple[str, str], ...]
    """``(path from the root, why)`` of each entry not written."""


def _locate(path: Path, root: Path | None, what: str) -> _Place:
    if os.path.lexists(path) and not path.is_dir():
        raise GitError(f"{what}: {os.fspath(path)} is not a directory")
    start = _existing(path)
    while not start.is_dir() and start.parent != start:  # below a file now: a directory then?
        start = start.parent
    top, _ = work_tree(start, what, shown=path)
    real_top = os.path.realpath(top)
    scanned = _inside(_real(path), real_top)
    if scanned is None:
        raise GitError(f"{what}: {os.fspath(path)} is not inside its work tree")
    if root is None:
        boundary = scanned
    else:
        inside = _inside(_real(root), real_top)
        # Above the work tree: the revision holds nothing more than the top.
        boundary = "" if inside is None else inside
    below = _inside(posixpath.join("/", scanned), posixpath.join("/", boundary))
    if below is None:
        outer = os.path.join(real_top, boundary)
        raise ConfigError(
            f"the directory to scan is not inside the root {outer!r} files may be read "
            "from (--root)",
            path=os.fspath(path),
        )
    shown = os.path.join(real_top, boundary) if boundary else real_top
    return _Place(Path(real_top), boundary, below, shown)


def _existing(path: Path) -> Path:
    """*path*, or its nearest enclosing directory that exists now."""
    current = Path(os.path.abspath(path))
    while not current.exists() and current.parent != current:
        current = current.parent
    return current


def _real(path: Path) -> str:
    """*path* with the links of its existing part resolved; the rest kept as written."""
    absolute = Path(os.path.abspath(path))
    existing = _existing(absolute)
    rest = absolute.relative_to(existing)
    return os.path.normpath(os.path.join(os.path.realpath(existing), rest))


def _inside(full: str, top: str) -> str | None:
    """*full* relative to *top*, ``/``-separated ("" for *top* itself), or ``None``."""
    relative = os.path.relpath(full, top)
    if relative == ".":
        return ""
    if relative == ".." or relative.startswith("../"):
        return None
    return relative.replace(os.sep, "/")


def _resolve(place: _Place, revision: str, what: str) -> str:
    """The id of the tree of the root at *revision*."""
    tree = tree_of(place.top, revision, what)
    walked = ""
    for part in filter(None, place.root.split("/")):
        walked = posixpath.join(walked, part)
        entries = _git(["ls-tree", "-z", "--full-tree", tree], cwd=place.top, what=what)
        for record in entries.split(b"\0"):
            head, _, name = record.partition(b"\t")
            if name == os.fsencode(part):
                _, kind, oid = head.split(b" ")
                if kind != b"tree":
                    raise GitError(f"{what}: {walked} is not a directory at that revision")
                tree = oid.decode("ascii")
                break
        else:
            raise GitError(f"{what}: {walked} did not exist at that revision")
    if not _OBJECT_ID.fullmatch(tree):
        raise GitError(f"{what}: git named the tree {tree[:80]!r}, not an object id")
    return tree


def _scan_once(
    place: _Place, tree: str, config: str | os.PathLike[str] | None, rooted: bool, what: str
) -> ImageGraph:
    """Write the tree to a temporary directory, deleted with the graph, and scan it."""
    try:
        holder = Path(tempfile.mkdtemp(prefix="imagegraph-revision-"))
    except OSError as err:
        raise ImageGraphError(f"{what}: no temporary directory for its files: {err}") from None
    try:
        try:
            kept = _materialize(place, tree, holder / _FILES / place.name)
        except OSError as err:
            raise ImageGraphError(f"{what}: its files cannot be written: {err}") from None
        graph = _scan(place, kept, config, rooted, what, cache=False)
    except BaseException:
        shutil.rmtree(holder, ignore_errors=True)
        raise
    weakref.finalize(graph, shutil.rmtree, holder, ignore_errors=True)
    return graph


def _scan(
    place: _Place,
    kept: _Kept,
    config: str | os.PathLike[str] | None,
    rooted: bool,
    what: str,
    *,
    cache: bool,
) -> ImageGraph:
    files = kept.files
    scanned = files / place.scanned if place.scanned else files
    if not _plain_directory(files, place.scanned):
        shown = os.path.join(place.shown_root, place.scanned)
        raise GitError(f"{what}: {shown} was not a directory at that revision")
    named = _config(place, files, config)
    real_files = os.path.realpath(files)
    written = tuple(dict.fromkeys((real_files, os.fspath(files))))
    try:
        started = time.time_ns()
        graph = scan(scanned, config=named, root=files if rooted else None, cache=cache)
    except ConfigError as err:
        raise ConfigError(
            _shown(err.message, written, place.shown_root),
            path=None if err.path is None else _shown(err.path, written, place.shown_root),
            line=err.line,
        ) from None
    # A graph loaded from a snapshot, or one scan() kept, has its inputs' stamps;
    # scan() keeps none of files written within RACY_NS, as these just were.
    if cache and ("", "input-stamps") not in graph._cache:
        versioned = named is None or Path(named).resolve().is_relative_to(real_files)
        boundary = files if rooted else None
        _keep_snapshot(graph, named, boundary, config_versioned=versioned, started=started)
    notes = [
        Diagnostic(
            SKIPPED,
            Severity.WARNING,
            f"not read from the revision: {why}",
            _relative_path(name, place.scanned),
        )
        for name, why in kept.skipped
    ]
    graph.diagnostics = (
        *notes,
        *(_relocated(d, written, place.shown_root) for d in graph.diagnostics),
    )
    return graph


def _plain_directory(files: Path, relative: str) -> bool:
    """Whether *relative* under *files* is a directory reached through no link."""
    current = files
    for part in filter(None, relative.split("/")):
        current = current / part
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return False
        except OSError:
            return False
    return True


def _config(place: _Place, files: Path, config: str | os.PathLike[str] | None) -> Path | None:
    """Where the scan reads *config* from: in the revision's files when it is the
    repository's, as named when it lies outside the repository."""
    if config is None:
        return None
    named = os.fspath(config)
    if not os.path.isabs(named):
        # Lexically, below a stand-in for the root: ".." must not climb out of it.
        stand_in = "/root"
        joined = posixpath.join(stand_in, place.scanned, named.replace(os.sep, "/"))
        inside = _inside(posixpath.normpath(joined), stand_in)
        if inside is None:
            raise ConfigError("a config outside the root is not read from a revision", path=named)
        return files / inside if inside else files
    real = _real(Path(named))
    inside = _inside(real, place.shown_root)
    if inside is not None:
        return files / inside if inside else files
    if _inside(real, os.fspath(place.top)) is not None:
        raise ConfigError(
            "a config of the repository outside the root is not read from a revision "
            "(--root DIR allows a larger one)",
            path=named,
        )
    return Path(named)  # not versioned: read as it is


def _keep_snapshot(
    graph: ImageGraph,
    config: Path | None,
    root: Path | None,
    *,
    config_versioned: bool,
    started: int,
) -> None:
    """Keep the graph for the next scan of this tree.

    :func:`scan` keeps no snapshot of files changed within the last
    :data:`~imagegraph._reading.RACY_NS` (a change in the same clock tick
    would not show), and a tree's files were just written. They are never
    changed after their directory was renamed into place, so what the scan
    read is what is there: the snapshot is kept now, as :func:`scan` keys it.
    A config read from outside the repository is held to the usual rule.
    """
    from imagegraph._reading import RACY_NS
    from imagegraph._snapshot import save_snapshot, snapshot_key

    # The key scan() gives a snapshot; tests/test_revision.py's second scan must find it.
    config_key = snapshot_key(config, root)
    after = time.time_ns() + RACY_NS + 1 if config_versioned else started
    save_snapshot(Path(graph.inventory.root), config_key, code_version(), graph, after)


def _relative_path(name: str, scanned: str) -> str:
    """*name* (from the root) as a path from the scanned directory."""
    if not scanned:
        return name
    return posixpath.relpath(name, scanned)


def _shown(text: str, written: tuple[str, ...], shown_root: str) -> str:
    """*text* naming the work tree's root where it names the revision's files (*written*:
    their directory's real path, then its path as given)."""
    for spelling in written:
        text = text.replace(spelling, shown_root)
    return text


def _relocated(diagnostic: Diagnostic, written: tuple[str, ...], shown_root: str) -> Diagnostic:
    text = f"{diagnostic.message}\0{diagnostic.path or ''}"
    if not any(spelling in text for spelling in written):
        return diagnostic
    return Diagnostic(
        diagnostic.code,
        diagnostic.severity,
        _shown(diagnostic.message, written, shown_root),
        None if diagnostic.path is None else _shown(diagnostic.path, written, shown_root),
        diagnostic.line,
    )


# -- the kept trees -------------------------------------------------------------


class _Store:
    """The ``revisions`` directory of the cache directory, opened without following a link."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def open(cls) -> _Store | None:
        """The store, or ``None`` when its directory cannot be made or is not a plain one."""
        directory = cache_directory() / "revisions"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not stat.S_ISDIR(os.lstat(directory).st_mode):
                return None
        except OSError:
            return None
        return cls(directory)

    def kept(self, key: str, name: str) -> _Kept | None:
        """The tree's files when a complete directory of them is there."""
        holder = self.directory / key
        try:
            for directory in (holder, holder / _FILES, holder / _FILES / name):
                if not stat.S_ISDIR(os.lstat(directory).st_mode):
                    return None
        except OSError:
            return None
        skipped = _read_record(holder / _RECORD, key, name)
        if skipped is None:
            return None
        touch(holder)  # recently used: the last to be trimmed
        return _Kept(holder / _FILES / name, skipped)

    def add(self, key: str, name: str, write: Callable[[Path], _Kept]) -> _Kept | None:
        """Write the tree's files with *write* under a temporary name, then rename them
        into place; ``None`` when the store cannot hold them (the caller writes them
        elsewhere)."""
        try:
            temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.directory))
        except OSError:
            return None
        final = self.directory / key
        try:
            written = write(temporary / _FILES / name)
            _write_record(temporary / _RECORD, key, name, written.skipped)
            try:
                os.rename(temporary, final)
            except OSError:
                # Another run finished it first, or a broken one is in the way.
                if self.kept(key, name) is None:
                    _remove(final)
                    os.rename(temporary, final)
        except OSError:
            return None
        finally:
            if temporary.exists():
                _remove(temporary)
        self._trim(key)
        return self.kept(key, name)

    def _trim(self, current: str) -> None:
        """Delete the least recently used trees beyond :data:`MAX_REVISION_TREES`, and the
        temporary directories of killed runs; only ever directories written here."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        now = time.time()
        trees: list[tuple[float, str]] = []
        for name in names:
            try:
                status = os.lstat(self.directory / name)
            except OSError:
                continue
            if not stat.S_ISDIR(status.st_mode):
                continue
            if _KEY.fullmatch(name) and name != current:
                trees.append((status.st_mtime, name))
            elif _TEMPORARY.fullmatch(name) and now - status.st_mtime > STALE_TEMPORARY_S:
                _remove(self.directory / name)
        trees.sort(reverse=True)
        for _, name in trees[MAX_REVISION_TREES - 1 :]:
            if (self.directory / name / _RECORD).exists():
                _remove(self.directory / name)


def _remove(directory: Path) -> None:
    """Delete *directory* and what it holds, never following a link out of it."""
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.lstat(directory).st_mode):
            shutil.rmtree(directory)  # fd-based on Linux: links are removed, not followed


def _write_record(path: Path, key: str, name: str, skipped: tuple[tuple[str, str], ...]) -> None:
    record = {
        "format": _FORMAT,
        "key": key,
        "name": name,
        "skipped": [list(entry) for entry in skipped],
    }
    fd = os.open(path, _FILE_FLAGS, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)


def _read_record(path: Path, key: str, name: str) -> tuple[tuple[str, str], ...] | None:
    """What a complete tree's record says was left out, or ``None`` for no valid record."""
    data = read_kept(path, MAX_FILE_BYTES)
    if data is None:
        return None
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not (
        type(record) is dict
        and record.get("format") == _FORMAT
        and record.get("key") == key
        and record.get("name") == name
        and type(record.get("skipped")) is list
    ):
        return None
    skipped = record["skipped"]
    if not all(type(e) is list and len(e) == 2 and all(type(s) is str for s in e) for e in skipped):
        return None
    return tuple((e[0], e[1]) for e in skipped)


# -- writing a tree out ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    mode: int
    oid: bytes
    size: int | None
    name: bytes


def _materialize(place: _Place, tree: str, files: Path) -> _Kept:
    """Write the files of *tree* into the new directory *files*."""
    listing = _git(["ls-tree", "-r", "-z", "-l", "--full-tree", tree], cwd=place.top,
                   what=f"the tree {tree}")  # fmt: skip
    files.parent.mkdir(mode=0o755, exist_ok=True)
    os.mkdir(files, 0o755)
    skipped: list[tuple[str, str]] = []
    wanted: dict[bytes, list[_Entry]] = {}
    with _Directories(files) as directories:

        def skip(entry: _Entry, why: str) -> None:
            skipped.append((os.fsdecode(entry.name), why))

        for entry in _entries(listing):
            parts = entry.name.split(b"/")
            if any(_bad_part(part) for part in parts):
                skip(entry, "a name git does not check out")
            elif entry.mode == _GITLINK:
                skip(entry, "a submodule (its files are in another repository)")
                _write(directories, entry, skip, _empty_directory)
            elif entry.size is None or entry.size > MAX_DECLARATION_BYTES:
                skip(entry, f"larger than the {MAX_DECLARATION_BYTES} bytes a scan reads of a file")
            else:
                wanted.setdefault(entry.oid, []).append(entry)

        def deliver(oid: bytes, data: bytes | None) -> None:
            # One copy of a blob however many entries name it (a tree can name one
            # large blob at a million paths for a few bytes of its own): the other
            # regular files are hard links to the first written.
            first: bytes | None = None
            for entry in wanted[oid]:
                if data is None:
                    skip(entry, "its object cannot be read from the repository")
                elif entry.mode == _SYMLINK:
                    if b"\0" in data:
                        skip(entry, "a symbolic link whose target holds a NUL byte")
                    else:
                        _write(directories, entry, skip, _link(data))
                elif first is None:
                    if _write(directories, entry, skip, _file(data)):
                        first = entry.name
                else:
                    _write(directories, entry, skip, _hard_link(directories, first))

        _read_blobs(place.top, list(wanted), deliver)
    skipped.sort()
    return _Kept(files, tuple(skipped))


def _entries(listing: bytes) -> Iterator[_Entry]:
    """``git ls-tree -r -z -l`` -> its entries (``size`` ``None`` where git gives none)."""
    for record in listing.split(b"\0"):
        if not record:
            continue
        head, _, name = record.partition(b"\t")
        fields = head.split()
        mode, oid, size = int(fields[0], 8), fields[2], fields[3]
        yield _Entry(mode, oid, int(size) if size.isdigit() else None, name)


def _bad_part(part: bytes) -> bool:
    return part in (b"", b".", b"..") or part.lower() == b".git"


def _empty_directory(parent: int, name: bytes) -> None:
    os.mkdir(name, 0o755, dir_fd=parent)


def _link(target: bytes) -> Callable[[int, bytes], None]:
    def make(parent: int, name: bytes) -> None:
        os.symlink(target, name, dir_fd=parent)

    return make


def _file(data: bytes) -> Callable[[int, bytes], None]:
    def make(parent: int, name: bytes) -> None:
        fd = os.open(name, _FILE_FLAGS, 0o644, dir_fd=parent)
        try:
            os.fchmod(fd, 0o644)  # whatever the umask and git's mode: never executable
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    return make


def _hard_link(directories: _Directories, first: bytes) -> Callable[[int, bytes], None]:
    """A hard link to the file *first* (from the top) wrote; its directories are the
    ones written here, never a link (``follow_symlinks`` false for the file itself)."""

    def make(parent: int, name: bytes) -> None:
        top = directories.open(())
        os.link(first, name, src_dir_fd=top, dst_dir_fd=parent, follow_symlinks=False)

    return make


def _write(
    directories: _Directories,
    entry: _Entry,
    skip: Callable[[_Entry, str], None],
    make: Callable[[int, bytes], None],
) -> bool:
    """Whether *make* wrote the entry (one that could not be written is skipped)."""
    parts = entry.name.split(b"/")
    try:
        make(directories.open(tuple(parts[:-1])), parts[-1])
    except OSError as err:
        skip(entry, f"cannot be written ({err.strerror or err})")
        return False
    return True


class _Directories:
    """Directories under a top one, created and opened one level at a time without
    following a link (``O_NOFOLLOW``); a few descriptors are kept open, the least
    recently used closed."""

    def __init__(self, top: Path) -> None:
        self.open_fds: collections.OrderedDict[tuple[bytes, ...], int] = collections.OrderedDict()
        self.open_fds[()] = os.open(top, _DIRECTORY_FLAGS)

    def __enter__(self) -> _Directories:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self.open_fds.values():
            os.close(fd)
        self.open_fds.clear()

    def open(self, parts: tuple[bytes, ...]) -> int:
        """A descriptor of the directory *parts*, valid until the next call."""
        fd = self.open_fds.get(parts)
        if fd is not None:
            self.open_fds.move_to_end(parts)
            return fd
        parent = self.open(parts[:-1])
        with contextlib.suppress(FileExistsError):
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
        fd = os.open(parts[-1], _DIRECTORY_FLAGS, dir_fd=parent)
        self.open_fds[parts] = fd
        while len(self.open_fds) > _OPEN_DIRECTORIES:
            oldest = next(key for key in self.open_fds if key)  # the top stays open
            os.close(self.open_fds.pop(oldest))
        return fd


def _read_blobs(
    top: Path, oids: Sequence[bytes], deliver: Callable[[bytes, bytes | None], None]
) -> None:
    """Each object of *oids* read by one ``git cat-file --batch`` and handed to *deliver*
    (``None`` for one that is missing or not a blob), in order."""
    if not oids:
        return
    what = "reading the revision's files"
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(
                ["git", *_NEUTRAL, "cat-file", "--batch"],
                cwd=top,
                env=_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        except FileNotFoundError:
            raise GitError(f"{what}: git is not installed") from None
        except OSError as err:
            raise GitError(f"{what}: cannot run git: {err.strerror}") from None
        assert process.stdin is not None
        assert process.stdout is not None
        feeder = threading.Thread(target=_feed, args=(process.stdin, oids), daemon=True)
        timer = threading.Timer(_TIMEOUT, process.kill)
        feeder.start()
        timer.start()
        complete = False
        try:
            complete = _answers(process.stdout, oids, deliver)
        finally:
            process.stdout.close()
            code = process.wait()
            timer.cancel()
            feeder.join()
        if not complete or code != 0:
            errors.seek(0)
            message = " ".join(errors.read(4096).decode("utf-8", "replace").split())
            shown = re.sub(r"[^\x20-\x7e]", "?", message)[:600] or f"exit {code}"
            raise GitError(f"{what}: git cat-file ended early: {shown}")


def _feed(stream: IO[bytes], oids: Sequence[bytes]) -> None:
    with contextlib.suppress(OSError):  # git ended early: the reader says so
        for start in range(0, len(oids), 1024):
            stream.write(b"".join(oid + b"\n" for oid in oids[start : start + 1024]))
    with contextlib.suppress(OSError):
        stream.close()


def _answers(
    stream: IO[bytes], oids: Sequence[bytes], deliver: Callable[[bytes, bytes | None], None]
) -> bool:
    """Read ``git cat-file --batch`` answers for *oids*; whether all came whole."""
    for oid in oids:
        header = stream.readline()
        fields = header.split()
        if len(fields) == 2 and fields[0] == oid and fields[1] == b"missing":
            deliver(oid, None)
            continue
        if len(fields) != 3 or fields[0] != oid or not fields[2].isdigit():
            return False
        size = int(fields[2])
        if size > MAX_DECLARATION_BYTES:  # not what the listing said: read past it, keep nothing
            remaining = size
            while remaining > 0:
                chunk = stream.read(min(remaining, 1 << 20))
                if not chunk:
                    return False
                remaining -= len(chunk)
            data = None
        else:
            data = stream.read(size)
            if len(data) != size:
                return False
        if stream.read(1) != b"\n":
            return False
        deliver(oid, data if fields[1] == b"blob" else None)
    return True
