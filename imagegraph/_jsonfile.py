"""Reading JSON data files (OSV advisories, SBOMs) that may have been written by anyone.

Every failure is a :class:`~imagegraph.inventory.ConfigError` naming the
file, and, for a value of the wrong type, the field: never ``ValueError``
from a number of thousands of digits, ``RecursionError`` from deep nesting,
or a hang on a named pipe where a file should be.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from imagegraph.inventory import ConfigError

__all__ = ["MAX_JSON_BYTES", "field_error", "json_kind", "read_json"]

MAX_JSON_BYTES = 256 * 1024 * 1024
"""The largest advisory or SBOM read: syft's SBOM of a large image runs to tens of megabytes."""


def read_json(
    path: str | os.PathLike[str],
    what: str,
    *,
    pipes: bool = False,
    root: str | os.PathLike[str] | None = None,
) -> Any:
    """The JSON value in the file at *path*; *what* names it in errors (``SBOM``).

    Only a regular file is read, opened without blocking, unless *pipes*
    allows a pipe the user named (``--osv <(curl ...)``). With *root* (a
    file a repository brings), it is read as :func:`imagegraph._files.read_bytes`
    reads: only when it really lies inside *root*, and at most
    :data:`~imagegraph._files.MAX_SBOM_BYTES`.
    """
    display = os.fspath(path)
    if root is not None:
        from imagegraph._files import MAX_SBOM_BYTES, read_bytes

        try:
            data = read_bytes(path, root=root, limit=MAX_SBOM_BYTES)
        except OSError as err:
            raise ConfigError(f"cannot read {what}: {err.strerror}", path=display) from None
        return _decode(data, what, display)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ConfigError(f"cannot read {what}: {err.strerror}", path=display) from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode))):
            raise ConfigError(f"{what} is not a regular file", path=display)
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)  # a pipe the user named: wait for its writer
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise ConfigError(f"{what} is larger than {MAX_JSON_BYTES} bytes", path=display)
    except OSError as err:
        raise ConfigError(f"cannot read {what}: {err.strerror}", path=display) from None
    finally:
        os.close(fd)
    return _decode(data, what, display)


def _decode(data: bytes, what: str, display: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} is not UTF-8 text: {err.reason}", path=display) from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what} is not JSON: {err.msg}", path=display, line=err.lineno) from None
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply to read", path=display) from None
    except ValueError:
        # int() refuses numbers of more than sys.get_int_max_str_digits() digits.
        raise ConfigError(f"{what} holds a number too long to read", path=display) from None


_KINDS: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words (``an array``), never its content."""
    return _KINDS.get(type(value), type(value).__name__)


def field_error(path: str, field: str, expected: str, value: object) -> ConfigError:
    """A wrong-type error for *field* (``affected[0].ranges``) of the file at *path*."""
    if len(field) > 160:  # deep nesting: the start and the end say where
        field = f"{field[:70]}...{field[-70:]}"
    return ConfigError(f"{field}: expected {expected}, found {json_kind(value)}", path=path)
