"""Reading a fleet's Dockerfiles for a scan: a parse cache, and both cores when it pays.

Each Dockerfile is read once, whatever number of builds use it, into a
:class:`~imagegraph.dockerfile.Prepared` (what its text says whatever the
build arguments). The cache keeps those between runs, one file per
repository under the user cache directory, keyed like git's index: an entry
is reused when the file's size, modification and change times and inode
are those recorded, and, for an entry recorded within the file system's
timestamp granularity of its last change (git's "racy" case), when its
content hash matches too. Anything else, a changed imagegraph version, or a
cache file that cannot be read, is ignored and rewritten, never trusted.

The cache file is written to a temporary name and renamed into place, so
concurrent runs each see a whole file (the last one to finish wins); it
holds only the Dockerfiles of the last scan, and at most
:data:`MAX_CACHE_FILES` repositories are kept (the least recently used go).

Whatever is in the cache directory is distrusted: a cache file is read only
when it is a regular file (a named pipe there would block forever; a
symbolic link is not imagegraph's), with an unpickler that only builds
imagegraph's own value types, and every entry read back must have the
types and shapes its fields are declared with (:func:`valid_entry`): an
entry that does not is parsed again, never used. A cache file starts with
:data:`MAGIC`; trimming deletes only files that do, and temporary files a
killed run left behind are deleted by a later save once they are
:data:`STALE_TEMPORARY_S` seconds old. Writing goes to a new temporary file
(``O_EXCL``: never one that is there, nor through a link) renamed over the
cache file, so an entry of the directory never makes imagegraph write
anywhere else.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import re
import stat as stat_module
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from imagegraph._files import inspect, open_kept, read_bytes
from imagegraph._pickling import conforms, paused_gc
from imagegraph.dockerfile import Prepared, prepare_dockerfile

__all__ = [
    "MAGIC",
    "MAX_CACHE_FILES",
    "PARALLEL_THRESHOLD",
    "RACY_NS",
    "STALE_TEMPORARY_S",
    "Progress",
    "cache_directory",
    "read_cache_file",
    "read_dockerfiles",
    "read_kept",
    "stamp",
    "valid_entry",
]

MAX_CACHE_FILES = 32
"""Repositories whose parse results are kept; the least recently scanned go first."""
PARALLEL_THRESHOLD = 2000
"""Dockerfiles to parse before a process pool pays for its start-up."""
_FORMAT = 2
MAGIC = b"imagegraph cache\n"
"""The first bytes of every cache file imagegraph writes, before the pickle."""
STALE_TEMPORARY_S = 15 * 60
"""How old a temporary file of a cache save must be before a later save deletes it
(a save takes seconds; one this old was left by a run that was killed)."""
RACY_NS = 2_000_000_000
"""How recent a change may be for a recorded stamp to miss it: coarse file
systems record times to the second or two (git's "racy" case)."""
_CHUNK = 256

Progress = Callable[[int], None]
"""Called with the number of Dockerfiles just read."""
# path -> (size, mtime_ns, ctime_ns, inode, content hash or b"", prepared)
_Entry = tuple[int, int, int, int, bytes, Prepared]
_DIGEST_BYTES = 16


def cache_directory() -> Path:
    """Where parse caches live: ``IMAGEGRAPH_CACHE_DIR``, else the user cache directory."""
    override = os.environ.get("IMAGEGRAPH_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("imagegraph", appauthor=False))


def read_dockerfiles(
    root: Path,
    paths: Sequence[str],
    *,
    cache: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    boundary: str | os.PathLike[str] | None = None,
    prune: bool = True,
    stamps: dict[str, tuple[tuple[int, int, int, int], bool]] | None = None,
) -> dict[str, Prepared | OSError]:
    """Every Dockerfile of *paths* (relative to *root*) prepared, or the error reading it.

    *jobs* is the number of processes to parse with (default: the cores,
    once there are :data:`PARALLEL_THRESHOLD` files to parse; 1 parses here).
    Files are read as :mod:`imagegraph._files` reads them, inside *boundary*
    (default: *root*): a FIFO, a device, a file over the size cap or one
    outside the boundary is a :class:`~imagegraph._files.RefusedFile`, found
    before the cache is consulted, so no cached entry is served for it.
    The cache kept is that of *paths* (a scan's: the files of other paths are
    gone from the fleet); with *prune* false, one that reads some of the
    files again keeps the others' entries too. *stamps*, when given, gets each
    read file's stamp (:func:`stamp`, taken before it was read) and whether it
    changed too recently for the stamp to show a later change (:data:`RACY_NS`).
    """
    limit = os.path.realpath(boundary if boundary is not None else root)
    store = _Store(root, code_version()) if cache else None
    old = store.load() if store is not None else {}
    result: dict[str, Prepared | OSError] = {}
    fresh: dict[str, _Entry] = {}
    todo: list[tuple[str, os.stat_result]] = []
    started = time.time_ns()
    base = os.fspath(root)
    for path in dict.fromkeys(paths):
        full = os.path.join(base, path)
        try:
            stat = inspect(full, root=limit)
        except OSError as err:
            result[path] = err
            continue
        stamped = stamp(stat)
        if stamps is not None:
            stamps[path] = (stamped, _racy(stat, started))
        entry = old.get(path)
        reusable = entry is not None and entry[:4] == stamped
        if reusable and entry is not None and (not entry[4] or _digest(full, limit) == entry[4]):
            result[path] = entry[5]
            fresh[path] = entry
            continue
        todo.append((path, stat))
    if progress is not None and len(result):
        progress(len(result))
    work = [(path, _racy(stat, started)) for path, stat in todo]
    for (path, stat), (item, digest) in zip(
        todo, _prepare(base, work, jobs, progress, limit), strict=True
    ):
        result[path] = item
        if not isinstance(item, OSError):
            fresh[path] = (*stamp(stat), digest, item)
    if store is not None and prune and (todo or fresh.keys() != old.keys()):
        store.save(fresh)
    elif store is not None and todo:
        store.save({**old, **fresh})
    return result


def _racy(stat: os.stat_result, started: int) -> bool:
    """Whether the file changed within :data:`RACY_NS` of *started* (its stamp could
    not show a change made later in the same clock tick)."""
    return started - stat.st_mtime_ns < RACY_NS or started - stat.st_ctime_ns < RACY_NS


def stamp(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What a cache records of a file or directory: size, times and inode."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _digest(full: str, limit: str) -> bytes | None:
    try:
        return hashlib.blake2b(read_bytes(full, root=limit), digest_size=16).digest()
    except OSError:
        return None


def _prepare(
    base: str,
    work: list[tuple[str, bool]],
    jobs: int | None,
    progress: Progress | None,
    limit: str,
) -> list[tuple[Prepared | OSError, bytes]]:
    """Read and prepare each ``(path, racy)``; a racy one comes with its content hash.

    The workers read the files themselves: sending the text through a pipe
    cost more than parsing it.
    """
    if jobs is None:
        jobs = (os.cpu_count() or 1) if len(work) >= PARALLEL_THRESHOLD else 1
    chunks = [work[start : start + _CHUNK] for start in range(0, len(work), _CHUNK)]
    out: list[tuple[Prepared | OSError, bytes]] = []
    if jobs <= 1 or len(chunks) < 2:
        for chunk in chunks:
            out.extend(_prepare_chunk(base, chunk, limit))
            if progress is not None:
                progress(len(chunk))
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for done in pool.map(_prepare_chunk, [base] * len(chunks), chunks, [limit] * len(chunks)):
            out.extend(done)
            if progress is not None:
                progress(len(done))
    return out


def _prepare_chunk(
    base: str, chunk: list[tuple[str, bool]], limit: str
) -> list[tuple[Prepared | OSError, bytes]]:
    with paused_gc():
        done: list[tuple[Prepared | OSError, bytes]] = []
        for path, racy in chunk:
            try:
                data = read_bytes(os.path.join(base, path), root=limit)
            except OSError as err:
                done.append((err, b""))
                continue
            digest = hashlib.blake2b(data, digest_size=16).digest() if racy else b""
            done.append((prepare_dockerfile(data, path=path), digest))
        return done


class _Store:
    def __init__(self, root: Path, version: str) -> None:
        self.directory = cache_directory()
        key = hashlib.sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:24]
        self.path = self.directory / f"parse-{key}.pickle"
        self.header = ("imagegraph-parse-cache", _FORMAT, version, os.fspath(root))

    def load(self) -> dict[str, _Entry]:
        entries = read_cache_entries(self.path, _CACHE_TYPES, self.header)
        if entries is None:
            return {}
        # An entry that is not what this version writes is parsed again.
        kept = {
            path: entry
            for path, entry in entries.items()
            if type(path) is str and valid_entry(entry)
        }
        touch(self.path)  # recently used: the last to be trimmed
        return kept

    def save(self, entries: dict[str, _Entry]) -> None:
        write_cache_file(self.path, (self.header, entries))


def read_cache_entries(
    path: Path, allowed: frozenset[tuple[str, str]], header: tuple[object, ...]
) -> dict[Any, Any] | None:
    """The entries of a cache file written as ``(header, {key: entry})``, unpickled
    with only *allowed* types, or ``None`` when the file is missing, foreign,
    corrupt, of another header (version, format, root) or not such a pair.
    Each entry is still the caller's to check."""
    data = read_cache_file(path)
    if data is None:
        return None
    try:
        loaded = restricted_load(data, allowed)
    except Exception:  # truncated, foreign or corrupt: start afresh
        return None
    if not (type(loaded) is tuple and len(loaded) == 2 and loaded[0] == header):
        return None
    entries = loaded[1]
    return entries if type(entries) is dict else None


def valid_entry(entry: object) -> bool:
    """Whether *entry* is a parse cache entry as :func:`read_dockerfiles` writes them.

    Every field has its declared type (down to each instruction's words),
    and what the reader relies on holds: a file is either parsed or refused
    (``None`` for both would make every build parent-less), a content hash
    is absent or whole, and an outline records the end of each of its stages.
    """
    if not conforms(entry, _Entry):
        return False
    assert isinstance(entry, tuple)
    digest, prepared = entry[4], entry[5]
    if len(digest) not in (0, _DIGEST_BYTES) or min(entry[:4]) < 0:
        return False
    parsed, ends = prepared.parsed, prepared.ends
    if (parsed is None) == (prepared.error is None):
        return False
    if parsed is None:
        return ends is None
    if not parsed.instructions:
        return False
    stages = sum(1 for instruction in parsed.instructions if instruction.keyword == "FROM")
    return ends is None or len(ends) == stages


def code_version() -> str:
    """imagegraph's version and a hash of its source: what wrote a cache must read it.

    The version alone would let an install from a newer commit trust what an
    older parser cached.
    """
    from imagegraph._version import __version__

    return f"{__version__}+{_source_digest()}"


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def touch(path: Path) -> None:
    """Mark a cache file as just used (trimming goes by modification time).

    A symbolic link is not followed: the time of a file elsewhere is not
    imagegraph's to change.
    """
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(path, follow_symlinks=False)


def read_kept(path: Path, limit: int = -1) -> bytes | None:
    """The bytes of the file imagegraph keeps at *path* (at most *limit* of them), read
    without following a link; ``None`` when it is missing, not a regular file or
    larger than memory."""
    opened = open_kept(path)
    if opened is None:
        return None
    fd, _ = opened
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    except (OSError, MemoryError):  # MemoryError: a file (sparse, say) larger than memory
        return None
    finally:
        os.close(fd)


def read_cache_file(path: Path) -> bytes | None:
    """The pickle in the cache file at *path*, after its :data:`MAGIC`; ``None`` when it is
    missing, not a regular file, larger than memory, or not a cache file imagegraph wrote."""
    data = read_kept(path)
    if data is None or not data.startswith(MAGIC):
        return None
    return data[len(MAGIC) :]


def _is_ours(path: Path, *, empty_ok: bool = False) -> bool:
    """Whether *path* is a regular file that starts with :data:`MAGIC` (or, with
    *empty_ok*, is empty: a temporary file its writer did not get to fill)."""
    opened = open_kept(path)
    if opened is None:
        return False
    fd, status = opened
    try:
        if status.st_size == 0:
            return empty_ok
        return os.read(fd, len(MAGIC)) == MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def write_cache_file(path: Path, value: object) -> None:
    """Pickle *value* to *path* atomically, then trim the files of its kind to
    :data:`MAX_CACHE_FILES`; failing to write only costs the next run time.

    The value goes to a new temporary file in the same directory (created
    with ``O_EXCL``, so never a file or link that is already there), which
    replaces *path*: a link at *path* is replaced, not followed.
    """
    kind = path.name.partition("-")[0]
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{kind}-", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            handle.write(MAGIC)
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        temporary = None
    except (OSError, pickle.PicklingError, RecursionError):
        return
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    _trim(path.parent, kind)


def _trim(directory: Path, kind: str) -> None:
    """Delete the least recently used cache files of *kind* beyond :data:`MAX_CACHE_FILES`,
    and the temporary files of killed saves; only ever files imagegraph wrote."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    cache_file = re.compile(rf"{re.escape(kind)}-[0-9a-f]{{24}}\.pickle")
    # tempfile's names: the prefix, eight random letters, digits or underscores, the suffix.
    temporary_file = re.compile(rf"\.{re.escape(kind)}-[a-z0-9_]{{8}}\.tmp")
    now = time.time()
    files: list[tuple[float, Path]] = []
    for name in names:
        full = directory / name
        try:
            status = os.lstat(full)
        except OSError:
            continue
        if not stat_module.S_ISREG(status.st_mode):
            continue
        if cache_file.fullmatch(name):
            files.append((status.st_mtime, full))
        elif (
            temporary_file.fullmatch(name)
            and now - status.st_mtime > STALE_TEMPORARY_S
            and _is_ours(full, empty_ok=True)
        ):
            with contextlib.suppress(OSError):
                full.unlink()
    files.sort(reverse=True)
    for _, stale in files[MAX_CACHE_FILES:]:
        if _is_ours(stale):
            with contextlib.suppress(OSError):
                stale.unlink()


# What a parse cache may hold: imagegraph's own value types and the builtins inside them.
_CACHE_TYPES = frozenset(
    {
        ("imagegraph.dockerfile", "Prepared"),
        ("imagegraph.instructions", "ParsedInstructions"),
        ("imagegraph.instructions", "Instruction"),
        ("imagegraph.instructions", "Heredoc"),
        ("imagegraph.diagnostics", "Diagnostic"),
        ("imagegraph.diagnostics", "Severity"),
        ("imagegraph.errors", "_rebuild_syntax_error"),
    }
)


def restricted_load(data: bytes, allowed: frozenset[tuple[str, str]]) -> Any:
    """Unpickle *data*, building no type outside *allowed* (``(module, name)``).

    Caches are imagegraph's own files, but a file in a user directory is no
    reason to run whatever a pickle names: anything else is a corrupt cache.
    """

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if (module, name) not in allowed:
                raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache")
            return super().find_class(module, name)

    return Restricted(io.BytesIO(data)).load()
