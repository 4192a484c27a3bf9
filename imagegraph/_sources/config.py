"""``imagegraph.toml`` (or ``[tool.imagegraph]`` in ``pyproject.toml``): the native declarations.

The file may come from a stranger's pull request: TOML nested deeper than
the parser can follow and an ``exclude`` glob that is not a pattern are a
:class:`ConfigError` naming the file (and line); an ``[[image]]`` whose
``matrix`` has more than :data:`MAX_MATRIX` combinations (counted before
any is made) is left out with a ``matrix-too-large`` error.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from imagegraph._files import MAX_DECLARATION_BYTES, read_text
from imagegraph._sources.common import (
    SourceResult,
    expand_matrix,
    interpolate,
    parse_tags,
    relative,
)
from imagegraph._sources.common import brief as _brief
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError, ImageBuild

__all__ = ["MAX_MATRIX", "Config", "read_config"]

MAX_MATRIX = 1024
"""The most matrix combinations one ``[[image]]`` may have: one build each."""

_TOP_KEYS = {
    "aliases", "exclude", "sboms", "sbom_dir", "image", "bake", "compose", "manifests", "lint",
}  # fmt: skip
_LINT_KEYS = ("ignore", "max_depth", "require_digest")
_IMAGE_KEYS = {
    "name", "dockerfile", "context", "tags", "args", "target", "platforms", "contexts", "matrix",
}  # fmt: skip


@dataclass
class Config:
    """A parsed config file: its own images and the other declaration files it lists."""

    path: Path
    display: str
    aliases: dict[str, str] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    sboms: dict[str, str] = field(default_factory=dict)
    sbom_dir: str | None = None
    """Image (a build name or a reference) -> SBOM file, relative to the root."""
    images: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)
    bake: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)
    compose: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)
    manifests: list[tuple[dict[str, Any], int | None]] = field(default_factory=list)
    lint: dict[str, object] = field(default_factory=dict)
    """The ``[lint]`` table, checked: see :attr:`imagegraph.Inventory.lint`."""


def read_config(path: Path, root: Path, *, pyproject: bool = False) -> Config | None:
    """Parse *path*; ``None`` for a ``pyproject.toml`` without ``[tool.imagegraph]``."""
    display = relative(root, path.parent, path.name) if path.is_relative_to(root) else str(path)
    try:
        text = read_text(path, encoding="utf-8", limit=MAX_DECLARATION_BYTES)
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
    try:
        data = _load_toml(text)
    except tomllib.TOMLDecodeError as err:
        line = _toml_error_line(str(err))
        raise ConfigError(f"not valid TOML: {err}", path=display, line=line) from None
    except RecursionError:
        raise ConfigError(
            "nested too deeply to read (arrays or tables in one another)", path=display
        ) from None
    except ValueError:  # tomllib's int() of an integer past Python's limit on digits
        raise ConfigError(
            "not valid TOML: a number has more digits than imagegraph reads (4,300)",
            path=display,
        ) from None
    prefix = ""
    if pyproject:
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "imagegraph" not in tool:
            return None
        data, prefix = tool["imagegraph"], "tool.imagegraph."
        if not isinstance(data, dict):
            raise ConfigError("[tool.imagegraph] must be a table", path=display)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key {_brief(unknown[0])} (known: {', '.join(sorted(_TOP_KEYS))})",
            path=display,
        )
    config = Config(path=path, display=display)
    config.aliases = _string_table(data.get("aliases", {}), "aliases", display, None)
    config.exclude = _globs(
        _string_list(data.get("exclude", []), "exclude", display, None), display, text, prefix
    )
    sbom_dir = _string(data.get("sbom_dir"), "sbom_dir", display, None)
    config.sbom_dir = relative(root, path.parent, sbom_dir) if sbom_dir else None
    config.sboms = {
        image: relative(root, path.parent, sbom)
        for image, sbom in _string_table(data.get("sboms", {}), "sboms", display, None).items()
    }
    if "lint" in data:
        config.lint = _lint_table(data["lint"], text, prefix, display)
    for key in ("image", "bake", "compose", "manifests"):
        entries = data.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{key!r} must be written as [[{prefix}{key}]] tables", path=display)
        lines = _header_lines(text, prefix + key)
        located = [(entry, lines[i] if i < len(lines) else None) for i, entry in enumerate(entries)]
        setattr(config, "images" if key == "image" else key, located)
    return config


def _load_toml(text: str) -> dict[str, Any]:
    # rtoml (Rust) reads a fleet's 400,000-line imagegraph.toml four times as
    # fast as tomllib; tomllib reads what rtoml refuses, so errors keep
    # tomllib's messages and line numbers.
    try:
        import rtoml
    except ImportError:  # pragma: no cover - a declared dependency, but not a required one
        return tomllib.loads(text)
    try:
        data: dict[str, Any] = rtoml.loads(text)
    except Exception:
        return tomllib.loads(text)
    return data


def _globs(patterns: list[str], display: str, text: str, prefix: str) -> list[str]:
    """*patterns*, each checked to be a gitignore pattern the tree walk can use."""
    for pattern in patterns:
        try:
            pathspec.GitIgnoreSpec.from_lines([pattern]).match_file("probe")
        except Exception as err:  # re.error, pathspec's pattern errors: whatever a bad glob raises
            reason = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(
                f"'exclude' pattern {_brief(pattern)} is not a gitignore pattern: "
                f"{_brief(reason)[1:-1]}",
                path=display,
                line=_key_line(text, "exclude", prefix),
            ) from None
    return patterns


def _key_line(text: str, key: str, prefix: str) -> int | None:
    """The line where top-level *key* of the config (under *prefix*) is set, if it is found."""
    wanted = [*(part for part in prefix.split(".") if part), key]
    table: list[str] = []
    for number, content in enumerate(text.split("\n"), start=1):
        found = _HEADER_RE.match(content)
        if found:
            table = _key_parts(found.group(2))
        elif (found := _KEY_LINE_RE.match(content)) and table + _key_parts(
            found.group(1)
        ) == wanted:
            return number
    return None


def config_images(config: Config, root: Path) -> SourceResult:
    """The builds of the config's ``[[image]]`` entries, matrices expanded."""
    result = SourceResult(files=[config.display])
    for entry, line in config.images:
        count = _combinations(entry, config.display, line)
        if count > MAX_MATRIX:
            result.diagnostics.append(
                Diagnostic(
                    "matrix-too-large",
                    Severity.ERROR,
                    f"[[image]] {_brief(entry.get('name') or entry.get('dockerfile'))}: the matrix "
                    f"makes {count:,} combinations, more than the {MAX_MATRIX:,} imagegraph "
                    "expands for one entry; the entry is left out",
                    config.display,
                    line,
                )
            )
            continue
        result.builds.extend(_image_builds(entry, line, config, root))
    return result


def _combinations(entry: dict[str, Any], path: str, line: int | None) -> int:
    """How many builds the entry's matrix makes (1 without one), before making any."""
    raw_matrix = entry.get("matrix", {})
    if not isinstance(raw_matrix, dict):
        raise ConfigError("'matrix' must be a table of lists", path=path, line=line)
    return math.prod(
        len(_string_list(values, f"matrix.{key}", path, line)) for key, values in raw_matrix.items()
    )


def _image_builds(
    entry: dict[str, Any], line: int | None, config: Config, root: Path
) -> list[ImageBuild]:
    path = config.display
    unknown = sorted(set(entry) - _IMAGE_KEYS)
    if unknown:
        raise ConfigError(
            f"[[image]] has unknown key {_brief(unknown[0])} (known: {', '.join(sorted(_IMAGE_KEYS))})",
            path=path,
            line=line,
        )
    if "dockerfile" not in entry and "context" not in entry:
        raise ConfigError("[[image]] needs a 'dockerfile' or a 'context'", path=path, line=line)
    name = _string(entry.get("name"), "name", path, line)
    dockerfile = _string(entry.get("dockerfile"), "dockerfile", path, line)
    context = _string(entry.get("context"), "context", path, line)
    target = _string(entry.get("target"), "target", path, line)
    tags = _string_list(entry.get("tags", []), "tags", path, line)
    platforms = _string_list(entry.get("platforms", []), "platforms", path, line)
    args = _string_table(entry.get("args", {}), "args", path, line)
    contexts = _string_table(entry.get("contexts", {}), "contexts", path, line)
    raw_matrix = entry.get("matrix", {})
    if not isinstance(raw_matrix, dict):
        raise ConfigError("'matrix' must be a table of lists", path=path, line=line)
    matrix = {
        key: _string_list(values, f"matrix.{key}", path, line) for key, values in raw_matrix.items()
    }
    base = config.path.parent
    builds = []
    for variant in expand_matrix(matrix, path=path, line=line):

        def sub(text: str, what: str, variant: Mapping[str, str] = variant) -> str:
            return interpolate(text, variant, path=path, line=line, what=what)

        if dockerfile is not None:
            dockerfile_rel = relative(root, base, sub(dockerfile, "dockerfile"))
            context_rel = (
                relative(root, base, sub(context, "context"))
                if context is not None
                else _parent(dockerfile_rel)
            )
        else:
            assert context is not None
            context_rel = relative(root, base, sub(context, "context"))
            dockerfile_rel = "Dockerfile" if context_rel == "." else f"{context_rel}/Dockerfile"
        build_name = sub(name, "name") if name is not None else _parent(dockerfile_rel)
        if variant and (name is None or "${" not in name):
            build_name = "-".join([build_name, *variant.values()])
        builds.append(
            ImageBuild(
                name=build_name,
                dockerfile=dockerfile_rel,
                context=context_rel,
                tags=parse_tags(
                    [sub(t, "tag") for t in tags], config.aliases, path=path, line=line
                ),
                args={k: sub(v, f"args.{k}") for k, v in args.items()},
                target=sub(target, "target") if target is not None else None,
                platforms=tuple(sub(p, "platform") for p in platforms),
                contexts={k: sub(v, f"contexts.{k}") for k, v in contexts.items()},
                variant=dict(variant),
                origin=f"{path}:{line}" if line else path,
            )
        )
    return builds


def _parent(path: str) -> str:
    head = path.rpartition("/")[0]
    return head or "."


def _header_lines(text: str, key: str) -> list[int]:
    pattern = re.compile(r"^[ \t]*\[\[[ \t]*" + re.escape(key) + r"[ \t]*\]\]", re.MULTILINE)
    lines, line, counted = [], 1, 0
    for match in pattern.finditer(text):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        lines.append(line)
    return lines


def _lint_table(value: object, text: str, prefix: str, display: str) -> dict[str, object]:
    """The ``[lint]`` table checked and in plain values (a cached inventory holds
    only builtins and imagegraph's value types): ``require_digest`` as a bool or
    a tuple of patterns, ``max_depth``, ``ignore`` as a tuple, and ``source``."""
    from imagegraph.findings import IGNORABLE_CODES, unknown_code_message

    table = f"{prefix}lint"
    header, lines = _lint_lines(text, prefix)
    if not isinstance(value, dict):
        raise ConfigError(
            f"'{table}' must be a table ([{table}]), not {_brief(value)}", path=display, line=header
        )
    out: dict[str, object] = {}
    for key, item in value.items():
        line = lines.get(key, header)
        if key not in _LINT_KEYS:
            raise ConfigError(
                f"[{table}] has unknown key {_brief(key)} (known: {', '.join(_LINT_KEYS)})",
                path=display,
                line=line,
            )
        if key == "require_digest":
            if isinstance(item, bool):
                out[key] = item
            elif isinstance(item, list) and all(isinstance(p, str) and p for p in item):
                out[key] = tuple(item)
            else:
                raise ConfigError(
                    "'require_digest' must be true, false, or a list of repository patterns "
                    f'such as ["docker.io/*", "ghcr.io/*"], not {_brief(item)}',
                    path=display,
                    line=line,
                )
        elif key == "max_depth":
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise ConfigError(
                    f"'max_depth' must be a whole number of at least 1, not {_brief(item)}",
                    path=display,
                    line=line,
                )
            out[key] = item
        else:
            codes = _string_list(item, "ignore", display, line)
            unknown = [code for code in codes if code not in IGNORABLE_CODES]
            if unknown:
                raise ConfigError(
                    f"'ignore' names {unknown_code_message(unknown[0])}", path=display, line=line
                )
            out[key] = tuple(codes)
    out["source"] = f"{display}:{header}" if header is not None else display
    return out


_KEY_PART = r"""[ \t]*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)[ \t]*"""
_DOTTED_KEY = re.compile(rf"{_KEY_PART}(?:\.{_KEY_PART})*")
_HEADER_RE = re.compile(rf"[ \t]*\[(\[?)({_DOTTED_KEY.pattern})\]")
_KEY_LINE_RE = re.compile(rf"({_DOTTED_KEY.pattern})=")
_PART_RE = re.compile(_KEY_PART)


def _key_parts(text: str) -> list[str]:
    """``['tool', 'imagegraph', 'lint']`` for ``tool . "imagegraph".lint``."""
    parts = []
    for found in _PART_RE.finditer(text):
        part = found.group(0).strip()
        if part[:1] in ('"', "'"):
            part = part[1:-1]
        parts.append(part)
    return parts


def _lint_lines(text: str, prefix: str) -> tuple[int | None, dict[str, int]]:
    """Where ``[lint]`` is written: its header's line (or that of ``[[lint]]``,
    ``lint = {...}``, ``lint.key = ...``, ``[lint.key]``) and the line of each key
    set in it (``key = ...``, ``key.sub = ...``, ``[lint.key]``, ``[[lint.key]]``).

    A light reading of the lines, enough to point at them: the values are TOML's
    to check, not this function's."""
    lint = [p for p in prefix.split(".") if p] + ["lint"]
    parent = lint[:-1]
    header: int | None = None
    keys: dict[str, int] = {}
    table: list[str] = []  # the table the line is in: [] at the top of the file
    for number, content in enumerate(text.split("\n"), start=1):
        found = _HEADER_RE.match(content)
        if found:
            table = _key_parts(found.group(2))
            if table[: len(lint)] == lint:
                header = header or number
                if len(table) > len(lint):
                    keys.setdefault(table[len(lint)], number)
            continue
        found = _KEY_LINE_RE.match(content)
        if found is None:
            continue
        key = table + _key_parts(found.group(1))
        if key[: len(lint)] != lint or (table != lint and table != parent):
            continue
        if table == parent:
            header = header or number  # lint = {...}, lint.key = ...
        if len(key) > len(lint):
            keys.setdefault(key[len(lint)], number)
    return header, keys


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


def _string(value: object, key: str, path: str, line: int | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{key!r} must be a string, not {_brief(value)}", path=path, line=line)


def _string_list(value: object, key: str, path: str, line: int | None) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(
        f"{key!r} must be a list of strings, not {_brief(value)}", path=path, line=line
    )


def _string_table(value: object, key: str, path: str, line: int | None) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise ConfigError(
        f"{key!r} must be a table of strings, not {_brief(value)}", path=path, line=line
    )
