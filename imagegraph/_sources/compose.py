"""Compose files (``compose.yaml``): one build per service that has a ``build:`` section.

The compose-spec build section is read as docker compose reads it: ``build``
is a context path or a mapping (``context``, ``dockerfile``,
``dockerfile_inline``, ``args``, ``target``, ``platforms``, ``tags``,
``additional_contexts``); the context is relative to the compose file's
directory and the Dockerfile to the context. The service's ``image:`` and
``build.tags`` are the tags; without ``image:`` compose names the image
``<project>-<service>`` and so does imagegraph (``inferred-name``). Services
that only name an ``image:`` consume images rather than build them and are
skipped. ``extends`` within the file, YAML anchors, merge keys (``<<``) and
the ``!reset``/``!override`` tags are followed.

Scalars stay strings as compose reads them: ``3.10`` is not ``3.1`` and
``no`` is not ``False``. ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?error}``, ``${VAR:+alt}``, ``$VAR`` and ``$$`` are interpolated from
the ``.env`` file next to the compose file; imagegraph does not read the
environment, so a variable ``.env`` does not set, with no default, is left
unresolved and reported as ``compose-unresolved``: a tag or platform that
needs it is left out, a build arg that needs it is not passed, and other
values keep the text as written.

The file may come from a stranger's pull request, so what it can make
imagegraph do is bounded: YAML nested deeper than the parser can follow,
merge keys (``<<``) that would make more than :data:`MAX_MERGED` entries
and ``${...}`` nested more than :data:`MAX_NESTING` deep are a
:class:`ConfigError`; interpolation may produce at most
:data:`EXPANSION_BASE` plus :data:`EXPANSION_FACTOR` times the size of the
compose and ``.env`` files in text, and a service whose values go over is
left out with an ``expansion-too-large`` error. Aliases share what they
name, so a "billion laughs" of anchors costs what it is written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from imagegraph._files import MAX_DECLARATION_BYTES, exists, read_text
from imagegraph._sources.common import SourceResult, parse_tags, relative
from imagegraph._sources.common import brief as _brief
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import InvalidReference
from imagegraph.inventory import ConfigError, ImageBuild
from imagegraph.reference import ImageRef

__all__ = ["EXPANSION_BASE", "EXPANSION_FACTOR", "MAX_MERGED", "MAX_NESTING", "read_compose"]

MAX_NESTING = 32
"""How deep ``${...}`` may nest in one another (``${A:-${B:-...}}``)."""
MAX_MERGED = 1_000_000
"""The most mapping entries merge keys (``<<``) may make, over the whole file."""
EXPANSION_BASE = 4 * 1024 * 1024
"""What interpolating one compose file (and its ``.env``) may produce, in characters..."""
EXPANSION_FACTOR = 16
"""... plus this many times the size of the two files."""

_STR_TAG = "tag:yaml.org,2002:str"
_KEPT_RESOLVERS = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
# What compose-go takes as a context outside the local file system (paths/context.go).
_REMOTE_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")
_MAPPING_KEYS = ("args", "additional_contexts", "labels")
_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_ENV_LINE = re.compile(r"(?P<key>[\w.\[\]-]+)[ \t]*(?:(?P<sep>[=:])[ \t]*(?P<rest>.*))?")
_ENV_ESCAPE = re.compile(r'\\([abfnrtv\\"$])')
_ENV_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "$": "$$",
}  # fmt: skip


class _Str(str):
    """A YAML string that remembers the line it was written on."""

    line: int

    def __new__(cls, value: str, line: int) -> _Str:
        self = super().__new__(cls, value)
        self.line = line
        return self


class _Reset:
    """A value tagged ``!reset``: the key is as good as absent."""


_RESET = _Reset()


@dataclass(frozen=True)
class _Override:
    """A value tagged ``!override``: it replaces what ``extends`` brings instead of merging."""

    value: object


# libyaml's parser where PyYAML was built with it (three times faster on a
# large compose file), else PyYAML's own; both refuse control characters and
# yield the same nodes, and libyaml also bounds how deep a document nests.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that resolves only nulls and merge keys: every other plain scalar is a string."""


_Loader.yaml_implicit_resolvers = {
    first: kept
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if (kept := [(tag, regexp) for tag, regexp in resolvers if tag in _KEPT_RESOLVERS])
}


def _construct_str(loader: yaml.SafeLoader, node: yaml.Node) -> _Str:
    assert isinstance(node, yaml.ScalarNode)
    return _Str(loader.construct_scalar(node), node.start_mark.line + 1)


def _construct_reset(loader: yaml.SafeLoader, node: yaml.Node) -> _Reset:
    return _RESET


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> _Override:
    if isinstance(node, yaml.MappingNode):
        return _Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return _Override(loader.construct_sequence(node, deep=True))
    return _Override(_construct_str(loader, node))


_Loader.add_constructor(_STR_TAG, _construct_str)
_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


def read_compose(
    path: Path,
    root: Path,
    *,
    aliases: Mapping[str, str],
    services: Sequence[str] | None = None,
) -> SourceResult:
    """The builds of the compose file at *path*; only the *services* named, if given.

    Raises :class:`ConfigError` for a file that cannot be read, is not YAML or
    has values of the wrong type, for an unknown service in *services*,
    ``extends`` or ``additional_contexts``, and for an invalid ``${...}``.
    """
    display = relative(root, path.parent, path.name) if path.is_relative_to(root) else str(path)
    try:
        text = read_text(path, encoding="utf-8-sig", limit=MAX_DECLARATION_BYTES)
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
    data = _load(text, display)
    if data is None:
        raise ConfigError("the file is empty; a compose file needs 'services'", path=display)
    if not isinstance(data, dict):
        raise ConfigError("a compose file must be a mapping with 'services'", path=display, line=1)
    reader = _Reader(path, root, display, aliases, data, len(text))
    return reader.read(services)


def _load(text: str, display: str) -> object:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # refuses a control character here, before parsing
        node = loader.get_single_node()
        if node is None:
            return None
        tagged = _check_nodes(node, display)
        try:
            return loader.construct_document(node)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as err:
            # PyYAML's constructors of !!int, !!float, !!bool, !!timestamp raise these.
            raise ConfigError(
                f"not valid YAML: a value tagged {_failing_tag(loader, tagged)} cannot be read "
                f"({_brief(str(err).splitlines()[0] if str(err) else type(err).__name__)[1:-1]})",
                path=display,
                line=_failing_line(loader, tagged),
            ) from None
    except RecursionError:
        raise ConfigError(_TOO_DEEP, path=display) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1 if isinstance(err.position, int) else None
        raise ConfigError(
            f"not valid YAML: control character U+{err.character:04X} is not allowed"
            if isinstance(err.character, int)
            else f"not valid YAML: {err.reason}",
            path=display,
            line=line,
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        if "maximum nesting depth" in (err.problem or ""):  # libyaml's own bound
            raise ConfigError(
                _TOO_DEEP, path=display, line=mark.line + 1 if mark else None
            ) from None
        reason = ": ".join(part for part in (err.context, err.problem) if part)
        raise ConfigError(
            f"not valid YAML: {reason}",
            path=display,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {_brief(str(err))}", path=display) from None
    except UnicodeEncodeError:  # libyaml reads UTF-8: a lone surrogate cannot be passed to it
        raise ConfigError("not valid YAML: a lone surrogate code point", path=display) from None
    finally:
        if loader is not None:
            loader.dispose()


_TOO_DEEP = "nested too deeply to read (lists, mappings or merge keys in one another)"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _failing(loader: _Loader, tagged: list[yaml.ScalarNode]) -> yaml.ScalarNode | None:
    """The first node with an explicit tag whose constructor fails."""
    for node in tagged:
        construct = loader.yaml_constructors.get(node.tag)
        if construct is None:
            continue
        try:
            construct(loader, node)
        except Exception:  # what the constructor raised for the document: find which node
            return node
    return None


def _failing_tag(loader: _Loader, tagged: list[yaml.ScalarNode]) -> str:
    node = _failing(loader, tagged)
    return "!!" + node.tag.rpartition(":")[2] if node is not None else "explicitly"


def _failing_line(loader: _Loader, tagged: list[yaml.ScalarNode]) -> int | None:
    node = _failing(loader, tagged)
    return node.start_mark.line + 1 if node is not None else None


def _check_nodes(root: yaml.Node, display: str) -> list[yaml.ScalarNode]:
    """Refuse a key given twice in one mapping, as compose does (YAML would keep the last),
    and merge keys that would make more than :data:`MAX_MERGED` entries; return
    the scalars with a tag of YAML's own other than ``!!str`` (``!!int 1e5`` ...).

    PyYAML copies what ``<<`` merges into the mapping, so mappings that each
    merge the one before twice double at every level: counted here first,
    without recursion, every node once however many aliases name it.
    """
    merged: dict[int, int] = {}  # mapping node -> its entries once merged
    total = 0
    tagged: list[yaml.ScalarNode] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            assert isinstance(node, yaml.MappingNode)
            size = 0
            for key, value in node.value:
                if key.tag != _MERGE_TAG:
                    size += 1
                elif isinstance(value, yaml.MappingNode):
                    size += merged.get(id(value), 0)
                elif isinstance(value, yaml.SequenceNode):
                    size += sum(merged.get(id(item), 0) for item in value.value)
            merged[id(node)] = size
            if size > len(node.value):
                total += size
                if total > MAX_MERGED:
                    raise ConfigError(
                        f"merge keys (<<) would make more than {MAX_MERGED:,} entries",
                        path=display,
                        line=node.start_mark.line + 1,
                    )
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    line = key.start_mark.line + 1
                    if key.value in lines:
                        raise ConfigError(
                            f"key {_brief(key.value)} is given twice in one mapping (first on "
                            f"line {lines[key.value]})",
                            path=display,
                            line=line,
                        )
                    lines[key.value] = line
            stack.append((node, True))
            for key, value in reversed(node.value):
                stack.append((value, False))
                stack.append((key, False))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, False) for item in reversed(node.value))
        elif node.tag.startswith("tag:yaml.org,2002:") and node.tag not in _PLAIN_TAGS:
            assert isinstance(node, yaml.ScalarNode)
            tagged.append(node)
    return tagged


_PLAIN_TAGS = (_STR_TAG, "tag:yaml.org,2002:null", _MERGE_TAG)


class _Reader:
    def __init__(
        self,
        path: Path,
        root: Path,
        display: str,
        aliases: Mapping[str, str],
        data: dict[Any, Any],
        size: int = 0,
    ) -> None:
        self.root = root
        self.base = path.parent
        self.display = display
        self.aliases = aliases
        self.data = data
        self.result = SourceResult(files=[display])
        self.env_display: str | None = None
        self.budget = _Budget(EXPANSION_BASE + EXPANSION_FACTOR * size)
        self.variables = self.read_dotenv()
        try:
            self.project = self.project_name(path)
        except _TooLarge as err:
            raise ConfigError(
                f"'name': {err}", path=display, line=_key_line(data, "name")
            ) from None
        self.variables.setdefault("COMPOSE_PROJECT_NAME", self.project)
        raw = _get(data, "services")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(
                "'services' must be a mapping of service names to services",
                path=display,
                line=_key_line(data, "services"),
            )
        for name in raw:
            if not isinstance(name, str):
                raise ConfigError(
                    "a service has no name (null)"
                    if name is None
                    else f"service name {_brief(name)} must be a string",
                    path=display,
                    line=_key_line(data, "services"),
                )
        self.services: dict[Any, Any] = raw
        # Each service's line, read once: a look-up per service, where a scan of
        # the keys for each one was quadratic in the number of services.
        self.service_lines: dict[str, int | None] = {str(k): _line(k) for k in raw}
        self.resolved: dict[str, dict[Any, Any]] = {}

    def read(self, selection: Sequence[str] | None) -> SourceResult:
        if "include" in self.data:
            self.note(
                "compose-include", Severity.WARNING,
                "files under 'include' are not read; list them as [[compose]] files in "
                "imagegraph.toml to declare their builds",
                _key_line(self.data, "include"),
            )  # fmt: skip
        names = [str(name) for name in self.services]
        if selection is not None:
            if not isinstance(selection, list | tuple) or not all(
                isinstance(s, str) for s in selection
            ):
                raise ConfigError(
                    f"the services to read must be a list of names, not {_brief(selection)}",
                    path=self.display,
                )
            for name in selection:
                if name not in self.services:
                    raise ConfigError(
                        f"no service {name!r} in this compose file (services: {_some(names)})",
                        path=self.display,
                    )
            chosen = set(selection)
            names = [name for name in names if name in chosen]
        for name in names:
            try:
                build = self.build(name)
            except _TooLarge as err:
                self.note(
                    "expansion-too-large", Severity.ERROR,
                    f"service {name!r}: {err}; the service is left out",
                    self.service_lines.get(str(name)),
                )  # fmt: skip
                continue
            if build is not None:
                self.result.builds.append(build)
        self.result.diagnostics = list(dict.fromkeys(self.result.diagnostics))
        return self.result

    # --- project, .env and interpolation --------------------------------------------

    def read_dotenv(self) -> dict[str, str]:
        path = self.base / ".env"
        display = relative(self.root, self.base, ".env")
        if not exists(path):
            # Watched all the same: creating it changes the builds (a cached scan checks).
            self.result.watched.append(display)
            return {}
        try:
            text = read_text(path, encoding="utf-8-sig")
        except OSError as err:
            raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
        self.env_display = display
        self.result.files.append(display)
        self.budget.limit += EXPANSION_FACTOR * len(text)
        return _parse_dotenv(text, display, self.result.diagnostics, self.budget)

    def project_name(self, path: Path) -> str:
        raw = _get(self.data, "name")
        if raw is not None and not isinstance(raw, str):
            raise ConfigError(
                "'name' must be a string", path=self.display, line=_key_line(self.data, "name")
            )
        if isinstance(raw, str):
            name, resolved = self.expand(raw, "project name", "the directory name is used instead")
            if resolved and _normalize_project(name):
                return _normalize_project(name)
        return _normalize_project(path.absolute().parent.name)

    def expand(self, text: str, what: str, consequence: str) -> tuple[str, bool]:
        """*text* interpolated, and whether every variable in it had a value.

        What has no value stays as written; a ``compose-unresolved``
        diagnostic says what and what becomes of it.
        """
        line = _line(text)
        problems: list[str] = []
        try:
            value = _substitute(text, self.variables, problems, self.budget)
        except _TooDeep:
            raise ConfigError(
                f"{what} {_shown(text)} nests ${{...}} more than {MAX_NESTING} deep",
                path=self.display,
                line=line,
            ) from None
        except _InvalidTemplate:
            raise ConfigError(
                f"{what} {_shown(text)} has an invalid ${{...}} (write $$ for a literal $)",
                path=self.display,
                line=line,
            ) from None
        if not problems:
            return value, True
        where = f"in {self.env_display}" if self.env_display else "(there is no .env)"
        self.note(
            "compose-unresolved", Severity.WARNING,
            f"{what} {_shown(text)}: {', '.join(dict.fromkeys(problems))} {where}, and imagegraph "
            f"does not read the environment; {consequence}",
            line,
        )  # fmt: skip
        return value, False

    def note(self, code: str, severity: Severity, message: str, line: int | None) -> None:
        self.result.diagnostics.append(Diagnostic(code, severity, message, self.display, line))

    def error(self, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, path=self.display, line=line)

    # --- services ---------------------------------------------------------------------

    def service(self, name: str) -> dict[Any, Any]:
        """The service *name* with what it ``extends`` in this file merged in.

        The chain of ``extends`` is followed without recursion, however long."""
        chain: list[tuple[str, dict[Any, Any], str | None]] = []
        on_chain: set[str] = set()
        current = name
        while current not in self.resolved:
            raw = _plain(self.services[current])
            line = self.service_lines.get(str(current))
            if raw is None:
                raw = {}
            if not isinstance(raw, dict):
                raise self.error(f"service {current!r} must be a mapping", line)
            on_chain.add(current)
            extends = _get(raw, "extends")
            if extends is None:
                chain.append((current, raw, None))
                break
            extends_line = _key_line(raw, "extends", line)
            base, file = self.extends(current, extends, extends_line)
            if file is not None:
                self.note(
                    "compose-extends", Severity.WARNING,
                    f"service {current!r} extends {base!r} from {_brief(file)}, which "
                    "imagegraph does not read; its build: is taken from this file only",
                    extends_line,
                )  # fmt: skip
                chain.append((current, {k: v for k, v in raw.items() if k != "extends"}, None))
                break
            if base not in self.services:
                raise self.error(
                    f"service {current!r} extends {base!r}, which is not in this file",
                    extends_line,
                )
            if base in on_chain:
                names = [*(entry[0] for entry in chain), current, base]
                if len(names) > 12:
                    names = [*names[:5], f"... ({len(names) - 10} more)", *names[-5:]]
                raise self.error(
                    f"services extend each other in a loop: {' -> '.join(names)}", extends_line
                )
            chain.append((current, raw, base))
            current = base
        for service_name, raw, base in reversed(chain):
            self.resolved[service_name] = (
                raw if base is None else _merge_service(self.resolved[base], raw)
            )
        return self.resolved[name]

    def extends(self, name: str, extends: object, line: int | None) -> tuple[str, object]:
        """The service and the file (``None``: this one) that *extends* names."""
        file: object = None
        if isinstance(extends, str):
            base: object = extends
        elif isinstance(extends, dict):
            base, file = _get(extends, "service"), _get(extends, "file")
        else:
            raise self.error(
                f"service {name!r}: 'extends' must be a service name or a mapping", line
            )
        if not isinstance(base, str):
            raise self.error(f"service {name!r}: 'extends' needs a 'service'", line)
        return base, file

    def build(self, name: str) -> ImageBuild | None:
        service = self.service(name)
        line = self.service_lines.get(str(name))
        raw = _get(service, "build")
        if raw is None:
            return None
        build_line = _key_line(service, "build", line)
        if isinstance(raw, str):
            spec: dict[Any, Any] = {"context": raw}
        elif isinstance(raw, dict):
            spec = raw
        else:
            raise self.error(
                f"service {name!r}: 'build' must be a context path or a mapping", build_line
            )
        where = f"service {name!r}"
        context_text = self.string(spec, "context", where, build_line)
        context = "."
        if context_text is not None:
            context, _ = self.expand(context_text, f"{where} context", "it is kept as written")
        if context.startswith(_REMOTE_PREFIXES) or context.startswith("~"):
            self.note(
                "compose-remote-context", Severity.WARNING,
                f"{where} builds from {context}, outside this repository; imagegraph reads "
                "only local Dockerfiles, so the service is left out",
                _line(context_text, build_line),
            )  # fmt: skip
            return None
        context_rel = relative(self.root, self.base, context)
        dockerfile_text = self.string(spec, "dockerfile", where, build_line)
        inline_text = self.string(spec, "dockerfile_inline", where, build_line)
        inline = None
        if inline_text is not None:
            if dockerfile_text is not None:
                raise self.error(
                    f"{where} sets both 'dockerfile' and 'dockerfile_inline'",
                    _key_line(spec, "dockerfile_inline", build_line),
                )
            inline, _ = self.expand(
                inline_text, f"{where} dockerfile_inline", "it is kept as written"
            )
            dockerfile = "Dockerfile" if context_rel == "." else f"{context_rel}/Dockerfile"
        else:
            file = "Dockerfile"
            if dockerfile_text is not None:
                file, _ = self.expand(
                    dockerfile_text, f"{where} dockerfile", "it is kept as written"
                )
            dockerfile = relative(self.root, self.base / context, file)
        target_text = self.string(spec, "target", where, build_line)
        target = None
        if target_text is not None:
            target, _ = self.expand(target_text, f"{where} target", "it is kept as written")
        build = ImageBuild(
            name=name,
            dockerfile=dockerfile,
            context=context_rel,
            tags=self.tags(name, service, spec, line),
            args=self.args(spec, where, build_line),
            target=target,
            platforms=self.platforms(service, spec, where, build_line),
            contexts=self.contexts(spec, where, build_line),
            variant={},
            origin=f"{self.display}:{line}" if line is not None else self.display,
            dockerfile_inline=inline,
        )
        return replace(build, **{f.name: _exact(getattr(build, f.name)) for f in fields(build)})

    def tags(
        self, name: str, service: dict[Any, Any], spec: dict[Any, Any], line: int | None
    ) -> tuple[ImageRef, ...]:
        where = f"service {name!r}"
        image = self.string(service, "image", where, line)
        texts: list[tuple[str, int | None]] = []
        if image is not None:
            texts.append((image, _line(image, line)))
        else:
            default = f"{self.project}-{name}"
            try:
                ImageRef.parse(default)
            except InvalidReference as err:
                self.note(
                    "inferred-name", Severity.WARNING,
                    f"{where} sets no image:, and the name compose would give it, {default!r}, "
                    f"is not an image name ({err.reason}); it has no tag",
                    line,
                )  # fmt: skip
            else:
                texts.append((default, line))
                self.note(
                    "inferred-name", Severity.INFO,
                    f"{where} sets no image:, so compose tags it {default!r} (project "
                    f"{self.project!r})",
                    line,
                )  # fmt: skip
        extra = self.strings(spec, "tags", where, line)
        texts.extend((tag, _line(tag, line)) for tag in extra)
        tags: list[ImageRef] = []
        for text, tag_line in texts:
            value, resolved = self.expand(text, f"{where} tag", "the tag is left out")
            if resolved:
                tags.extend(parse_tags([value], self.aliases, path=self.display, line=tag_line))
        return tuple(dict.fromkeys(tags))

    def args(self, spec: dict[Any, Any], where: str, line: int | None) -> dict[str, str]:
        args: dict[str, str] = {}
        for key, value, key_line in self.pairs(spec, "args", where, line):
            if value is None:
                if key in self.variables:
                    args[key] = self.variables[key]
                else:
                    self.note(
                        "compose-env-arg", Severity.INFO,
                        f"{where} build arg {key} takes its value from the environment, which "
                        "imagegraph does not read; it is not passed",
                        key_line,
                    )  # fmt: skip
                continue
            expanded, resolved = self.expand(
                value, f"{where} build arg {key}", "the build arg is not passed"
            )
            if resolved:
                args[key] = expanded
        return args

    def platforms(
        self, service: dict[Any, Any], spec: dict[Any, Any], where: str, line: int | None
    ) -> tuple[str, ...]:
        texts = self.strings(spec, "platforms", where, line)
        if "platforms" not in spec:
            # Without build.platforms compose builds for the service's platform.
            platform = self.string(service, "platform", where, line)
            texts = [platform] if platform is not None else []
        platforms = []
        for text in texts:
            value, resolved = self.expand(text, f"{where} platform", "the platform is left out")
            if resolved:
                platforms.append(value)
        return tuple(dict.fromkeys(platforms))

    def contexts(self, spec: dict[Any, Any], where: str, line: int | None) -> dict[str, str]:
        contexts: dict[str, str] = {}
        for key, raw, key_line in self.pairs(spec, "additional_contexts", where, line):
            if raw is None:
                raise self.error(f"{where} additional context {key!r} has no value", key_line)
            value, _ = self.expand(
                raw, f"{where} additional context {key}", "it is kept as written"
            )
            if value.startswith("service:"):
                contexts[key] = self.service_context(
                    value.removeprefix("service:"), key, where, key_line
                )
            elif "://" in value or value.startswith(("target:", *_REMOTE_PREFIXES)):
                contexts[key] = value
            else:
                contexts[key] = relative(self.root, self.base, value)
        return contexts

    def service_context(self, other: str, key: str, where: str, line: int | None) -> str:
        """``service:<name>`` as the graph knows it: that service's build, or its image."""
        if other not in self.services:
            raise self.error(
                f"{where} additional context {key!r} names service {other!r}, which is not in "
                f"this file (services: {', '.join(str(s) for s in self.services)})",
                line,
            )
        service = self.service(other)
        if _get(service, "build") is not None:
            return f"target:{other}"
        image = self.string(service, "image", f"service {other!r}", line)
        if image is None:
            raise self.error(
                f"{where} additional context {key!r} names service {other!r}, which neither "
                "builds nor names an image",
                line,
            )
        value, _ = self.expand(image, f"service {other!r} image", "it is kept as written")
        return f"docker-image://{value}"

    # --- typed access -------------------------------------------------------------------

    def string(self, mapping: dict[Any, Any], key: str, where: str, line: int | None) -> str | None:
        value = _get(mapping, key)
        if value is None or isinstance(value, str):
            return value
        raise self.error(f"{where}: {key!r} must be a string", _key_line(mapping, key, line))

    def strings(self, mapping: dict[Any, Any], key: str, where: str, line: int | None) -> list[str]:
        value = _get(mapping, key)
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise self.error(
            f"{where}: {key!r} must be a list of strings", _key_line(mapping, key, line)
        )

    def pairs(
        self, mapping: dict[Any, Any], key: str, where: str, line: int | None
    ) -> Iterator[tuple[str, str | None, int | None]]:
        """A mapping or ``KEY=VALUE`` list as (key, value or ``None``, line)."""
        value = _get(mapping, key)
        if value is None:
            return
        key_line = _key_line(mapping, key, line)
        try:
            items = _as_mapping(value)
        except TypeError:
            raise self.error(
                f"{where}: {key!r} must be a mapping or a list of KEY=VALUE strings", key_line
            ) from None
        for name, raw in items.items():
            if raw is _RESET:
                continue
            item = _plain(raw)
            if item is not None and not isinstance(item, str):
                raise self.error(f"{where}: {key}.{name} must be a string", _line(name, key_line))
            yield str(name), item, _line(name, key_line)


def _exact(value: Any) -> Any:
    """*value* with every string an exact ``str``: a build keeps no :class:`_Str`
    (the line a YAML string came from), which the caches refuse to load (a
    compose fleet's graph was never loaded from its snapshot)."""
    if isinstance(value, str):
        return str(value)  # a copy of exact type for a subclass, the same object otherwise
    if isinstance(value, tuple):
        return tuple(_exact(item) for item in value)
    if isinstance(value, Mapping):
        return {_exact(key): _exact(item) for key, item in value.items()}
    if isinstance(value, ImageRef):
        return replace(value, **{f.name: _exact(getattr(value, f.name)) for f in fields(value)})
    return value


def _plain(value: object) -> Any:
    """*value* without its ``!override`` tag; ``None`` for ``!reset``."""
    if isinstance(value, _Override):
        return value.value
    if value is _RESET:
        return None
    return value


def _get(mapping: dict[Any, Any], key: str) -> Any:
    return _plain(mapping.get(key))


def _line(value: object, default: int | None = None) -> int | None:
    return value.line if isinstance(value, _Str) else default


def _key_line(mapping: dict[Any, Any], key: str, default: int | None = None) -> int | None:
    for candidate in mapping:
        if candidate == key:
            return _line(candidate, default)
    return default


def _as_mapping(value: object) -> dict[Any, Any]:
    """A compose mapping written as a mapping or as ``KEY=VALUE`` strings (bare ``KEY``: null)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        raise TypeError(value)
    items: dict[Any, Any] = {}
    for item in value:
        if not isinstance(item, str):
            raise TypeError(item)
        line = _line(item)
        name, equals, rest = item.partition("=")
        key = _Str(name, line) if line is not None else name
        items.pop(key, None)
        items[key] = (_Str(rest, line) if line is not None else rest) if equals else None
    return items


def _merge_service(base: dict[Any, Any], child: dict[Any, Any]) -> dict[Any, Any]:
    """*child* over *base*, by compose's merge rules, for what imagegraph reads."""
    merged = {k: v for k, v in base.items() if k != "extends"}
    for key, value in child.items():
        if key == "extends":
            continue
        old = merged.pop(key, None)
        if value is _RESET:
            continue
        if key == "build" and old is not None and not isinstance(value, _Override):
            merged[key] = _merge_build(_plain(old), value)
        else:
            merged[key] = _plain(value)
    return merged


def _merge_build(base: object, child: object) -> object:
    def as_dict(value: object) -> dict[Any, Any] | None:
        if isinstance(value, str):
            return {"context": value}
        return value if isinstance(value, dict) else None

    base_map, child_map = as_dict(base), as_dict(child)
    if base_map is None or child_map is None:
        return child
    merged = dict(base_map)
    for key, value in child_map.items():
        old = merged.pop(key, None)
        if value is _RESET:
            continue
        if isinstance(value, _Override) or old is None:
            merged[key] = _plain(value)
        elif key in _MAPPING_KEYS:
            try:
                merged[key] = {**_as_mapping(_plain(old)), **_as_mapping(value)}
            except TypeError:
                merged[key] = value
        elif isinstance(value, list) and isinstance(old, list):
            try:
                known = set(old)
            except TypeError:  # mappings in the list: not something compose merges by value
                merged[key] = [*old, *value]
            else:
                merged[key] = [*old, *(v for v in value if v not in known)]
        else:
            merged[key] = value
    return merged


def _some(names: Sequence[str]) -> str:
    """The first names of a list, for a message."""
    shown = ", ".join(names[:20]) or "none"
    return shown + (f" and {len(names) - 20:,} more" if len(names) > 20 else "")


def _shown(text: str) -> str:
    """*text* quoted for a message, cut to its first line and 60 characters.

    >>> _shown("FROM base\\nRUN make")
    "'FROM base...'"
    """
    first = text.split("\n", 1)[0]
    if len(first) > 60:
        first = first[:57]
    return repr(first + "...") if first != text else repr(text)


def _normalize_project(name: str) -> str:
    """compose-go's ``NormalizeProjectName``: lowercase, ``[a-z0-9_-]`` only, no leading ``_-``.

    >>> _normalize_project("My App.v2")
    'myappv2'
    """
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


class _InvalidTemplate(Exception):
    pass


class _TooDeep(_InvalidTemplate):
    """``${...}`` nested more than :data:`MAX_NESTING` deep."""


class _TooLarge(Exception):
    """Interpolation went past the file's budget."""


class _Budget:
    """What interpolating may still produce, in characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, amount: int) -> None:
        self.used += amount
        if self.used > self.limit:
            self.used = self.limit + 1
            raise _TooLarge(
                f"interpolating ${{...}} makes more than {self.limit:,} characters of text "
                "(values that repeat other values, again and again)"
            )


def _substitute(
    text: str,
    variables: Mapping[str, str],
    problems: list[str],
    budget: _Budget | None = None,
    depth: int = 0,
) -> str:
    """Interpolate *text* as compose does; what has no value stays as written.

    Each variable without a value adds a line to *problems*.

    >>> problems = []
    >>> _substitute("a:${V:-1}-$W-${X}-$$Y", {"W": "w"}, problems), problems
    ('a:1-w-${X}-$Y', ['${X} is not set'])
    """
    if depth > MAX_NESTING:
        raise _TooDeep(text)
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        following = text[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            i = dollar + 2
        elif following == "{":
            end = _closing_brace(text, dollar + 2)
            if end < 0:
                raise _InvalidTemplate(text)
            whole = text[dollar : end + 1]
            value = _braced(text[dollar + 2 : end], whole, variables, problems, budget, depth)
            if budget is not None:
                budget.spend(len(value))
            out.append(value)
            i = end + 1
        elif match := _NAME.match(text, dollar + 1):
            name = match.group()
            if name in variables:
                if budget is not None:
                    budget.spend(len(variables[name]))
                out.append(variables[name])
            else:
                problems.append(f"${name} is not set")
                out.append("$" + name)
            i = match.end()
        else:
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _braced(
    body: str,
    whole: str,
    variables: Mapping[str, str],
    problems: list[str],
    budget: _Budget | None,
    depth: int,
) -> str:
    match = _NAME.match(body)
    if match is None:
        raise _InvalidTemplate(whole)
    name, rest = match.group(), body[match.end() :]
    value = variables.get(name)
    if not rest:
        if value is None:
            problems.append(f"${{{name}}} is not set")
            return whole
        return value
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise _InvalidTemplate(whole)
    word = rest[len(operator) :]
    present = value is not None and (value != "" or not operator.startswith(":"))
    if operator.endswith("-"):
        if present and value is not None:
            return value
        return _substitute(word, variables, problems, budget, depth + 1)
    if operator.endswith("+"):
        return _substitute(word, variables, problems, budget, depth + 1) if present else ""
    if present and value is not None:
        return value
    reason = _substitute(word, variables, [], budget, depth + 1)
    reason = reason if len(reason) <= 80 else reason[:77] + "..."
    problems.append(
        f"${{{name}}} is required" + (f" ({reason})" if reason else "") + " and not set"
    )
    return whole


def _parse_dotenv(
    text: str, display: str, diagnostics: list[Diagnostic], budget: _Budget | None = None
) -> dict[str, str]:
    """``KEY=VALUE`` lines as compose-go's dotenv reads them (``export``, quotes, comments)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if re.match(r"export[ \t]", line):
            line = line[len("export") :].lstrip()
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            raise ConfigError(f"line {line!r} is not KEY=VALUE", path=display, line=number)
        key, rest = match["key"], match["rest"]
        if match["sep"] is None:
            continue  # KEY alone: taken from the environment, which imagegraph does not read
        assert rest is not None
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            reading = _Quoted(quote)
            reading.feed(rest[1:])
            # Line by line until the quote closes, each read once (reading the value
            # again from its start at every line was quadratic in an unclosed one).
            while not reading.closed and index < len(lines):
                reading.feed("\n" + lines[index].rstrip("\r"))
                index += 1
            value, closed = reading.value(), reading.closed
            if not closed:
                raise ConfigError(
                    f"value of {key} has no closing {quote}", path=display, line=number
                )
            if quote == "'":
                values[key] = value
                continue
            value = _ENV_ESCAPE.sub(lambda m: _ENV_ESCAPES[m.group(1)], value)
        else:
            value = rest.split(" #", 1)[0].rstrip()
        problems: list[str] = []
        try:
            expanded = _substitute(value, values, problems, budget)
        except _TooDeep:
            raise ConfigError(
                f"value of {key} nests ${{...}} more than {MAX_NESTING} deep",
                path=display,
                line=number,
            ) from None
        except _InvalidTemplate:
            raise ConfigError(
                f"value of {key} has an invalid ${{...}}", path=display, line=number
            ) from None
        except _TooLarge as err:
            raise ConfigError(f"value of {key}: {err}", path=display, line=number) from None
        if problems:
            message = (
                f"{key}: {', '.join(problems)} earlier in this file, and imagegraph does not "
                f"read the environment; {key} is left unset"
            )
            diagnostics.append(
                Diagnostic("compose-unresolved", Severity.WARNING, message, display, number)
            )
            continue
        values[key] = expanded
    return values


class _Quoted:
    """A quoted ``.env`` value read as it comes: the text up to the next unescaped quote."""

    def __init__(self, quote: str) -> None:
        self.quote = quote
        self.chars: list[str] = []
        self.escaped = False
        self.closed = False

    def feed(self, text: str) -> None:
        """Read *text*, which follows what was read; nothing after the closing quote."""
        chars, quote = self.chars, self.quote
        for char in text:
            if self.escaped:
                self.escaped = False
                if char != quote:
                    chars.append("\\")
                chars.append(char)
            elif char == "\\":
                self.escaped = True
            elif char == quote:
                self.closed = True
                return
            else:
                chars.append(char)

    def value(self) -> str:
        return "".join(self.chars) if self.closed else ""
