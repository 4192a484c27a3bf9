"""The files changed since a git revision, found without letting the repository run anything.

``git diff --name-only REV`` compares the working tree with REV through the
index, and on the way it may run what the repository configures: it
refreshes and rewrites ``.git/index`` for stat-dirty files (running the
``post-index-change`` hook), hashes those files through ``filter.<x>.clean``
or ``.process`` drivers named by ``.gitattributes``, asks a ``core.fsmonitor``
program what changed, and honours ``diff.external``, textconv drivers and
pagers. No set of ``-c`` options neutralises filter drivers whose names are
not known in advance, so :func:`changed_files` uses git only to *read*:

* ``git rev-parse`` to find the work tree and resolve REV to a tree;
* ``git ls-tree -r`` for REV's files and ``git ls-files --stage`` for the index's;

and compares those with the working tree itself, in Python: a file whose
``lstat`` matches its index entry (as git's own racy-git rule decides) has the
index's blob; any other file is hashed as git hashes a blob without filters
(``sha1("blob <size>\\0" + bytes)``, or SHA-256 in a SHA-256 repository). Only
regular files and symbolic links are read (never a FIFO or a device, never
through a symbolic link), and nothing is written.

The result is the same list ``git diff --name-only --no-renames REV`` prints
(tracked files: in REV, in the index or both), relative to the top of the work
tree, except that a file a filter or an end-of-line conversion rewrites, and
that was touched since the index was written, is listed even when git would
find it unchanged: an extra rebuild rather than a missed one.

Every git command runs with ``core.fsmonitor=false``, hooks pointing at an empty
place, no transport allowed (``GIT_ALLOW_PROTOCOL`` empty: a partial clone cannot
fetch, whatever ``protocol.<name>.allow`` says), no credential
helper, proxy or ssh command, ``safe.bareRepository=explicit`` (a bare
repository planted in the work tree is not one) and ``GIT_OPTIONAL_LOCKS=0``;
git's ``safe.directory`` ownership check is kept. A ``.git`` file (``gitdir:``)
is followed only to a linked work tree that points back at it or into the
``.git`` directory of an enclosing repository (a submodule).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imagegraph._files import open_kept
from imagegraph.errors import ImageGraphError

__all__ = [
    "GitChanges",
    "GitError",
    "changed_files",
    "check_revision",
    "tree_listing",
    "tree_of",
    "work_tree",
]


class GitError(ImageGraphError):
    """git could not say what changed: no repository, an unknown revision, a refusal."""


@dataclass(frozen=True, slots=True)
class GitChanges:
    """What :func:`changed_files` found: the work tree's top and the changed paths in it."""

    top: Path
    """The top of the work tree (absolute, symbolic links resolved)."""
    paths: tuple[str, ...]
    """Changed files, ``/``-separated and relative to :attr:`top`, sorted."""


#: Options that make every configured program a no-op for the commands run here.
_NEUTRAL = (
    "--no-pager",
    "-c", "core.fsmonitor=false",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.untrackedCache=false",
    "-c", "core.pager=cat",
    "-c", "core.sshCommand=false",
    "-c", "core.gitProxy=",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "diff.external=",
    "-c", "protocol.allow=never",
    "-c", "safe.bareRepository=explicit",
)  # fmt: skip

#: Environment variables of the caller that name programs for git to run.
_PROGRAMS = frozenset(
    {
        "GIT_EXTERNAL_DIFF", "GIT_PAGER", "PAGER", "GIT_SSH", "GIT_SSH_COMMAND",
        "GIT_ASKPASS", "SSH_ASKPASS", "GIT_PROXY_COMMAND", "GIT_EDITOR", "EDITOR",
        "VISUAL", "GIT_SEQUENCE_EDITOR",
    }
)  # fmt: skip

# Where the caller's environment would point git instead of at the repository
# holding the scanned path (set inside a git hook, say): never the one meant.
_LOCATIONS = frozenset(
    {
        "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
    }
)  # fmt: skip

_TIMEOUT = 600.0
_GITLINK = 0o160000
_SYMLINK = 0o120000
_EXECUTABLE = 0o100755
_REGULAR = 0o100644
_BAD_COMPONENT = re.compile(r"^(?:|\.|\.\.|\.git)$", re.IGNORECASE)
_PRINTABLE = re.compile(r"[^\x20-\x7e\n\t]")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PROGRAMS and k not in _LOCATIONS}
    env.update(
        GIT_OPTIONAL_LOCKS="0",  # no opportunistic index refresh, hence no index hook
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_LAZY_FETCH="1",  # git >= 2.44
        # No transport at all, whatever protocol.<name>.allow the repository sets
        # (it wins over protocol.allow=never): a partial clone cannot fetch.
        GIT_ALLOW_PROTOCOL="",
    )
    return env


def _git(args: Sequence[str], *, cwd: Path, what: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *_NEUTRAL, *args],
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(f"{what}: git is not installed") from None
    except OSError as err:
        raise GitError(f"{what}: cannot run git: {err.strerror}") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"{what}: git did not answer within {_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").splitlines()
        message = " ".join(line.strip() for line in lines if line.strip())
        shown = _PRINTABLE.sub("?", message)[:600] or f"exit {done.returncode}"
        raise GitError(f"{what}: {shown}")
    return done.stdout


def check_revision(revision: str, what: str) -> None:
    """Refuse what cannot be a revision given to git (empty, an option, a line break)."""
    if not revision or revision.startswith("-") or any(c in revision for c in "\0\n\r"):
        raise GitError(f"{what} is not a revision")


def work_tree(start: Path, what: str, shown: Path | None = None) -> tuple[Path, Path]:
    """The top of the work tree holding the directory *start* and its git directory,
    the latter checked as :func:`changed_files` checks it; messages name *shown*
    (default: *start*)."""
    named = os.fspath(start if shown is None else shown)
    located = _git(
        ["rev-parse", "--path-format=absolute", "--show-toplevel", "--absolute-git-dir"],
        cwd=start, what=f"{what} in {named}",
    ).decode("utf-8", "surrogateescape").splitlines()  # fmt: skip
    if len(located) != 2:
        raise GitError(f"{what}: {named} is not in a git work tree")
    top, git_dir = Path(located[0]), Path(located[1])
    _check_gitdir_link(top, git_dir)
    return top, git_dir


def tree_of(top: Path, revision: str, what: str) -> str:
    """The id of the tree *revision* names in the repository whose work tree is *top*."""
    try:
        return _git(
            ["rev-parse", "--verify", "--end-of-options", f"{revision}^{{tree}}"],
            cwd=top, what="git said",
        ).decode("ascii", "replace").strip()  # fmt: skip
    except GitError as err:
        raise GitError(
            f"{what}: no commit or tree of that name can be read in the git repository at "
            f"{os.fspath(top)} ({err})"
        ) from None


def tree_listing(top: Path, tree: str, what: str) -> dict[bytes, tuple[int, bytes]]:
    """Every file of the tree *tree* (an id), recursively: ``{path: (mode, object id)}``."""
    return _listing(_git(["ls-tree", "-r", "-z", "--full-tree", tree], cwd=top, what=what))


def changed_files(
    path: str | os.PathLike[str],
    revision: str,
    *,
    readable: str | os.PathLike[str] | None = None,
) -> GitChanges:
    """The tracked files of the work tree holding *path* that differ from *revision*.

    With *readable*, only the files inside that directory are compared (and
    none outside it is opened): nothing outside the directory files may be read
    from can change a build, and a fresh checkout's files cannot be vouched for
    by their stat data alone (git's "racy" case), so they would be listed as
    changed without being so.

    Raises :class:`GitError` when *path* is in no work tree git accepts, when
    *revision* names no commit or tree, or when git fails.
    """
    start = Path(path)
    what = f"--since {revision!r}"
    check_revision(revision, what)
    if not start.is_dir():
        raise GitError(f"{what}: {os.fspath(start)} is not a directory")
    located = _git(
        ["rev-parse", "--path-format=absolute", "--show-toplevel", "--absolute-git-dir",
         "--git-path", "index", "--show-object-format"],
        cwd=start, what=f"{what} in {os.fspath(start)}",
    ).decode("utf-8", "surrogateescape").splitlines()  # fmt: skip
    if len(located) != 4:
        raise GitError(f"{what}: {os.fspath(start)} is not in a git work tree")
    top, git_dir, index, object_format = Path(located[0]), Path(located[1]), located[2], located[3]
    _check_gitdir_link(top, git_dir)
    inside = os.path.realpath(start)
    if os.path.commonpath([inside, os.path.realpath(top)]) != os.path.realpath(top):
        raise GitError(f"{what}: {os.fspath(start)} is not inside its work tree")
    tree = tree_of(top, revision, what)
    before = tree_listing(top, tree, what)
    staged = _staged(_git(["ls-files", "-z", "--stage", "-t"], cwd=top, what=what))
    hasher = "sha256" if object_format == "sha256" else "sha1"
    stats = _index_stats(Path(index), 32 if hasher == "sha256" else 20)
    tree_root = Path(os.path.realpath(top))
    work = _WorkTree(tree_root, hasher, stats, readable)
    changed = []
    for name in sorted(before.keys() | staged.keys()):
        if not work.may_read(name):
            continue
        old = before.get(name)
        entry = staged.get(name)
        if old is None or entry is None or entry.conflicted:
            changed.append(name)
        elif _GITLINK in (old[0], entry.mode) or entry.skip_worktree:
            # A submodule's commit, or a file sparse checkout left out: the index says.
            if old != (entry.mode, entry.oid):
                changed.append(name)
        elif work.blob(name, entry) != old:
            changed.append(name)
    return GitChanges(tree_root, tuple(os.fsdecode(n) for n in changed))


def _check_gitdir_link(top: Path, git_dir: Path) -> None:
    """Refuse a ``.git`` file (``gitdir:``) or link that sends git to a repository that is
    not this one's: only a linked work tree that names this ``.git`` back, or a
    submodule's directory inside an enclosing repository's ``.git``, are followed."""
    dot_git = top / ".git"
    try:
        kind = stat.S_IFMT(os.lstat(dot_git).st_mode)
    except OSError:
        return  # GIT_DIR from the environment: the caller's choice
    if kind not in (stat.S_IFREG, stat.S_IFLNK):
        return
    real = Path(os.path.realpath(git_dir))
    if kind == stat.S_IFLNK and real.is_relative_to(os.path.realpath(top)):
        return
    back_link = real / "gitdir"  # a linked work tree names its .git file there
    try:
        if back_link.is_file() and not back_link.is_symlink():
            with back_link.open("rb") as handle:
                named = handle.read(4096).decode("utf-8", "replace").strip()
            if os.path.realpath(named) == os.path.realpath(dot_git):
                return
    except (OSError, ValueError):
        pass
    for above in Path(os.path.realpath(top)).parents:  # a submodule: in its superproject's .git
        holder = above / ".git"
        if holder.is_dir() and not holder.is_symlink() and real.is_relative_to(holder):
            return
    raise GitError(
        f"{os.fspath(dot_git)} sends git to a git directory that is neither a linked work "
        "tree of it nor inside an enclosing repository: not followed"
    )


def _listing(output: bytes) -> dict[bytes, tuple[int, bytes]]:
    """``git ls-tree -r -z`` -> ``{path: (mode, object id)}``."""
    found: dict[bytes, tuple[int, bytes]] = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        head, _, name = record.partition(b"\t")
        mode, _, rest = head.partition(b" ")
        oid = rest.partition(b" ")[2]
        found[name] = (int(mode, 8), oid)
    return found


@dataclass(frozen=True, slots=True)
class _Staged:
    mode: int
    oid: bytes
    conflicted: bool
    skip_worktree: bool


def _staged(output: bytes) -> dict[bytes, _Staged]:
    """``git ls-files -z --stage -t`` -> ``{path: entry}``; any stage but 0 is a conflict."""
    found: dict[bytes, _Staged] = {}
    for record in output.split(b"\0"):
        if not record:
            continue
        head, _, name = record.partition(b"\t")
        tag, mode, oid, stage = head.split(b" ")
        conflicted = stage != b"0" or (name in found and found[name].conflicted)
        found[name] = _Staged(int(mode, 8), oid, conflicted, tag == b"S")
    return found


_Stat = tuple[int, int, int, int, int, int, int, int, int, int]


def _index_stats(index: Path, hash_size: int) -> tuple[dict[bytes, _Stat], int] | None:
    """The stat data of the index's stage-0 entries and the index's own mtime (ns), or
    ``None`` when the index cannot be read here (then every file is hashed)."""
    opened = open_kept(index)
    if opened is None:
        return None
    handle, info = opened
    try:
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read()
    except OSError:
        return None
    finally:
        os.close(handle)
    try:
        return _parse_index(data, hash_size), info.st_mtime_ns
    except (struct.error, ValueError, IndexError):
        return None


def _parse_index(data: bytes, hash_size: int) -> dict[bytes, _Stat]:
    """Entries of a version 2, 3 or 4 index (see git's gitformat-index); a split index
    (its entries live in another file) gives nothing."""
    if data[:4] != b"DIRC":
        raise ValueError("not an index")
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        raise ValueError("unknown index version")
    position, previous = 12, b""
    found: dict[bytes, _Stat] = {}
    fixed = 40 + hash_size + 2
    for _ in range(count):
        start = position
        fields: _Stat = struct.unpack_from(">10I", data, position)
        (flags,) = struct.unpack_from(">H", data, position + 40 + hash_size)
        position += fixed
        if flags & 0x4000 and version >= 3:
            position += 2
        if version == 4:
            strip, position = _varint(data, position)
            end = data.index(b"\0", position)
            if strip > len(previous):
                raise ValueError("bad path compression")
            name = previous[: len(previous) - strip] + data[position:end]
            position = end + 1
        else:
            end = data.index(b"\0", position)
            name = data[position:end]
            position = start + ((end - start + 8) & ~7)
        previous = name
        if (flags >> 12) & 3 == 0:
            found[name] = fields
    while position + 8 <= len(data) - hash_size:
        signature = data[position : position + 4]
        (size,) = struct.unpack_from(">I", data, position + 4)
        if signature == b"link":
            return {}
        position += 8 + size
    return found


def _varint(data: bytes, position: int) -> tuple[int, int]:
    byte = data[position]
    value = byte & 0x7F
    position += 1
    while byte & 0x80:
        byte = data[position]
        position += 1
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, position


class _WorkTree:
    """Blob ids of work-tree files, read as git would hash them without filters."""

    def __init__(
        self,
        top: Path,
        hasher: str,
        stats: tuple[dict[bytes, _Stat], int] | None,
        readable: str | os.PathLike[str] | None,
    ) -> None:
        self.top = os.fsencode(top)
        self.readable = None if readable is None else os.fsencode(os.path.realpath(readable))
        self.hasher = hasher
        self.stats, self.index_mtime_ns = stats if stats is not None else ({}, 0)
        self.plain_dirs: dict[bytes, bool] = {}

    def may_read(self, name: bytes) -> bool:
        """Whether the work-tree file *name* lies inside the directory files may be read from."""
        if self.readable is None:
            return True
        full = os.path.join(self.top, name)
        return full == self.readable or full.startswith(self.readable.rstrip(b"/") + b"/")

    def blob(self, name: bytes, entry: _Staged) -> tuple[int, bytes] | None:
        """``(mode, object id)`` of the file *name*, or ``None`` when it is not a readable
        file (missing, a directory, a FIFO, below a symbolic link: git sees it deleted)."""
        parts = name.split(b"/")
        if any(_BAD_COMPONENT.match(os.fsdecode(p)) for p in parts):
            return None
        directory = os.path.join(self.top, *parts[:-1]) if len(parts) > 1 else self.top
        if not self._plain(directory, len(parts) - 1):
            return None
        full = os.path.join(self.top, name)
        try:
            info = os.lstat(full)
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            mode = _SYMLINK
        elif stat.S_ISREG(info.st_mode):
            mode = _EXECUTABLE if info.st_mode & 0o100 else _REGULAR
        else:
            return None
        if self._clean(name, info, entry):
            return entry.mode, entry.oid
        try:
            if mode == _SYMLINK:
                return mode, self._digest([os.readlink(full)])
            return mode, self._digest_file(full)
        except OSError:
            return None

    def _plain(self, directory: bytes, depth: int) -> bool:
        """Whether *directory* and its parents up to the top are real directories."""
        known = self.plain_dirs.get(directory)
        if known is not None:
            return known
        if depth == 0:
            result = True
        else:
            try:
                result = stat.S_ISDIR(os.lstat(directory).st_mode) and self._plain(
                    os.path.dirname(directory), depth - 1
                )
            except OSError:
                result = False
        self.plain_dirs[directory] = result
        return result

    def _clean(self, name: bytes, info: os.stat_result, entry: _Staged) -> bool:
        """Whether *name* is unchanged since the index recorded it (git's stat check)."""
        fields = self.stats.get(name)
        if fields is None:
            return False
        ctime_s, ctime_ns, mtime_s, mtime_ns, _dev, ino, mode, uid, gid, size = fields
        mask = 0xFFFFFFFF
        if mode != entry.mode or stat.S_IFMT(mode) != stat.S_IFMT(info.st_mode):
            return False
        if (mode == _EXECUTABLE) != bool(info.st_mode & 0o100) and mode != _SYMLINK:
            return False
        observed = (
            int(info.st_ctime) & mask, info.st_ctime_ns % 1_000_000_000,
            int(info.st_mtime) & mask, info.st_mtime_ns % 1_000_000_000,
            info.st_ino & mask, info.st_uid & mask, info.st_gid & mask, info.st_size & mask,
        )  # fmt: skip
        if observed != (ctime_s, ctime_ns, mtime_s, mtime_ns, ino, uid, gid, size):
            return False
        # Racily clean when written in the same clock tick as the index, maybe after it.
        return mtime_s * 1_000_000_000 + mtime_ns < self.index_mtime_ns

    def _digest(self, chunks: list[bytes]) -> bytes:
        body = b"".join(chunks)
        digest = hashlib.new(self.hasher, b"blob %d\0" % len(body))
        digest.update(body)
        return digest.hexdigest().encode()

    def _digest_file(self, full: bytes) -> bytes:
        handle = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            info = os.fstat(handle)
            if not stat.S_ISREG(info.st_mode):
                raise OSError("not a regular file")
            digest = hashlib.new(self.hasher, b"blob %d\0" % info.st_size)
            remaining = info.st_size
            while remaining > 0:
                chunk = os.read(handle, min(remaining, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk)
                remaining -= len(chunk)
            if remaining:
                raise OSError("file shrank while read")
            return digest.hexdigest().encode()
        finally:
            os.close(handle)
