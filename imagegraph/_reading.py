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
It is read with an unpickler that only builds imagegraph's own value types.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from imagegraph._pickling import paused_gc
from imagegraph.dockerfile import Prepared, prepare_dockerfile

__all__ = [
    "MAX_CACHE_FILES",
    "PARALLEL_THRESHOLD",
    "RACY_NS",
    "Progress",
    "cache_directory",
    "read_dockerfiles",
    "stamp",
]

MAX_CACHE_FILES = 32
"""Repositories whose parse results are kept; the least recently scanned go first."""
PARALLEL_THRESHOLD = 2000
"""Dockerfiles to parse before a process pool pays for its start-up."""
_FORMAT = 1
RACY_NS = 2_000_000_000
"""How recent a change may be for a recorded stamp to miss it: coarse file
systems record times to the second or two (git's "racy" case)."""
_CHUNK = 256

Progress = Callable[[int], None]
"""Called with the number of Dockerfiles just read."""
# path -> (size, mtime_ns, ctime_ns, inode, content hash or b"", prepared)
_Entry = tuple[int, int, int, int, bytes, Prepared]


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
) -> dict[str, Prepared | OSError]:
    """Every Dockerfile of *paths* (relative to *root*) prepared, or the error reading it.

    *jobs* is the number of processes to parse with (default: the cores,
    once there are :data:`PARALLEL_THRESHOLD` files to parse; 1 parses here).
    """
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
            stat = os.stat(full)
        except OSError as err:
            result[path] = err
            continue
        entry = old.get(path)
        reusable = entry is not None and entry[:4] == stamp(stat)
        if reusable and entry is not None and (not entry[4] or _digest(full) == entry[4]):
            result[path] = entry[5]
            fresh[path] = entry
            continue
        todo.append((path, stat))
    if progress is not None and len(result):
        progress(len(result))
    work = [
        (path, started - stat.st_mtime_ns < RACY_NS or started - stat.st_ctime_ns < RACY_NS)
        for path, stat in todo
    ]
    for (path, stat), (item, digest) in zip(
        todo, _prepare(base, work, jobs, progress), strict=True
    ):
        result[path] = item
        if not isinstance(item, OSError):
            fresh[path] = (*stamp(stat), digest, item)
    if store is not None and (todo or fresh.keys() != old.keys()):
        store.save(fresh)
    return result


def stamp(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What a cache records of a file or directory: size, times and inode."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _digest(full: str) -> bytes | None:
    try:
        with open(full, "rb") as handle:
            return hashlib.blake2b(handle.read(), digest_size=16).digest()
    except OSError:
        return None


def _prepare(
    base: str, work: list[tuple[str, bool]], jobs: int | None, progress: Progress | None
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
            out.extend(_prepare_chunk(base, chunk))
            if progress is not None:
                progress(len(chunk))
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for done in pool.map(_prepare_chunk, [base] * len(chunks), chunks):
            out.extend(done)
            if progress is not None:
                progress(len(done))
    return out


def _prepare_chunk(
    base: str, chunk: list[tuple[str, bool]]
) -> list[tuple[Prepared | OSError, bytes]]:
    with paused_gc():
        done: list[tuple[Prepared | OSError, bytes]] = []
        for path, racy in chunk:
            try:
                with open(os.path.join(base, path), "rb") as handle:
                    data = handle.read()
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
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
            header, entries = restricted_load(data, _CACHE_TYPES)
            if header != self.header or not isinstance(entries, dict):
                return {}
            for entry in entries.values():
                if not (isinstance(entry, tuple) and len(entry) == 6):
                    return {}
        except Exception:  # missing, truncated, foreign or corrupt: start afresh
            return {}
        touch(self.path)  # recently used: the last to be trimmed
        return entries

    def save(self, entries: dict[str, _Entry]) -> None:
        write_cache_file(self.path, (self.header, entries))


def code_version() -> str:
    """imagegraph's version and a hash of its source: what wrote a cache must read it.

    The version alone would let an install from a newer commit trust what an
    older parser cached.
    """
    from imagegraph import __version__

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
    """Mark a cache file as just used (trimming goes by modification time)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def write_cache_file(path: Path, value: object) -> None:
    """Pickle *value* to *path* atomically, then trim the files of its kind to
    :data:`MAX_CACHE_FILES`; failing to write only costs the next run time."""
    kind = path.name.partition("-")[0]
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{kind}-", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        temporary = None
    except (OSError, pickle.PicklingError, RecursionError):
        return
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    try:
        files = sorted(
            path.parent.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for stale in files[MAX_CACHE_FILES:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


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
