"""``docker buildx bake`` files (``docker-bake.hcl``, ``docker-bake.json``): one build per target.

Read as bake reads them: ``variable`` defaults (overridden only by the
*variables* given, never by the environment), ``${...}`` interpolation,
``inherits`` (parents in order, then the target's own attributes; ``args``,
``contexts`` and ``labels`` merge key by key), ``matrix`` with ``name``,
and groups, nested. With no targets asked for, the ``default`` group is
built if there is one, else every target; targets that a selected one
names in a ``target:`` context are built too, as bake does.

python-hcl2 parses the HCL but evaluates nothing: literals come back with
their quotes and expressions as ``${...}`` text. This module evaluates the
small expression language bake files use: variables, matrix values and
their attributes, string and number literals, ``== != && || !``, the
conditional ``c ? a : b``, and the functions ``equal``, ``notequal``,
``and``, ``or``, ``not``, ``lower``, ``upper``, ``trimprefix``,
``trimsuffix``, ``join`` and ``replace``. Anything else is never guessed:
the value is left out and a ``bake-unresolved`` diagnostic names the file,
the target and the expression.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from imagegraph._sources.common import SourceResult, parse_tags, relative
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError, ImageBuild

__all__ = ["read_bake"]

_KNOWN = {
    "context", "dockerfile", "dockerfile-inline", "target", "tags", "args", "platforms",
    "contexts", "inherits", "matrix", "name", "labels", "annotations", "attest", "cache-from",
    "cache-to", "call", "description", "entitlements", "extra-hosts", "network", "no-cache",
    "no-cache-filter", "output", "pull", "secret", "shm-size", "ssh", "ulimits",
}  # fmt: skip
_MERGED_MAPS = ("args", "contexts", "labels", "annotations")
_REMOTE = ("https://", "http://", "git://", "git@", "ssh://", "github.com/")


class _Unresolved(Exception):
    """An expression this evaluator does not know; the value is left out."""


class _Expr(str):
    """An HCL expression (python-hcl2 hands them over as ``${...}`` text)."""


class _Template(str):
    """An HCL string literal, unquoted, still holding its ``${...}`` interpolations."""


def read_bake(
    path: Path,
    root: Path,
    *,
    aliases: Mapping[str, str],
    targets: Sequence[str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> SourceResult:
    """The builds of the bake file at *path*; see the module docstring."""
    display = relative(root, path.parent, path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
    ):
        raise ConfigError("'targets' must be a list of target or group names", path=display)
    if variables is not None and (
        not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values())
    ):
        raise ConfigError("'variables' must be a table of strings", path=display)
    data = _load_json(text, display) if path.suffix == ".json" else _load_hcl(text, display)
    reader = _Reader(data, text, display, path.parent, root, aliases, dict(variables or {}))
    try:
        return reader.read(targets)
    except _Unresolved as err:
        # Groups, inherits and variables must be known to read the file at all.
        raise ConfigError(f"cannot evaluate: {err}", path=display) from None
    except (TypeError, AttributeError, ValueError) as err:
        raise ConfigError(f"unexpected shape: {err}", path=display) from None


def _load_json(text: str, display: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"not valid JSON: {err.msg}", path=display, line=err.lineno) from None
    if not isinstance(data, dict):
        raise ConfigError("a bake file holds an object", path=display)
    blocks: dict[str, Any] = {}
    for kind in ("variable", "group", "target", "function"):
        section = data.get(kind, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{kind!r} must be an object of named blocks", path=display)
        blocks[kind] = {name: _json_value(body) for name, body in section.items()}
    return blocks


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return _Template(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _load_hcl(text: str, display: str) -> dict[str, Any]:
    import hcl2

    try:
        raw = hcl2.loads(text)
    except Exception as err:  # lark's errors have no common base worth naming
        line = getattr(err, "line", None)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"not valid HCL: {first}", path=display, line=line if isinstance(line, int) else None
        ) from None
    blocks: dict[str, Any] = {"variable": {}, "group": {}, "target": {}, "function": {}}
    for kind in blocks:
        for entry in raw.get(kind, []):
            for label, body in entry.items():
                name = _unquote(label) if label.startswith('"') else label
                blocks[kind][name] = {
                    _unquote(k) if k.startswith('"') else k: _hcl_value(v)
                    for k, v in body.items()
                    if k != "__is_block__"
                }
    return blocks


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(
        r'\\(["\\nrt])', lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), body
    )


def _hcl_value(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            inner = value[1:-1]
            heredoc = re.fullmatch(r"<<(-?)(\w+)\n(.*)\n[ \t]*\2", inner, re.DOTALL)
            if heredoc:
                body = heredoc[3] + "\n"
                if heredoc[1]:
                    lines = body.splitlines(keepends=True)
                    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
                    body = "".join(x[indent:] for x in lines)
                return _Template(body)
            return _Template(_unquote(value))
        return _Expr(value)
    if isinstance(value, list):
        return [_hcl_value(v) for v in value]
    if isinstance(value, dict):
        return {
            (_unquote(k) if k.startswith('"') else k): _hcl_value(v)
            for k, v in value.items()
            if k != "__is_block__"
        }
    return value


class _Reader:
    def __init__(
        self,
        data: dict[str, Any],
        text: str,
        display: str,
        base: Path,
        root: Path,
        aliases: Mapping[str, str],
        overrides: dict[str, str],
    ) -> None:
        self.data, self.text, self.display = data, text, display
        self.base, self.root, self.aliases = base, root, aliases
        self.overrides = overrides
        self.variables: dict[str, Any] = {}
        self.evaluating: set[str] = set()
        self.result = SourceResult(files=[display])

    # -- variables ----------------------------------------------------------

    def variable(self, name: str) -> Any:
        if name in self.overrides:
            return self.overrides[name]
        if name not in self.data["variable"]:
            raise _Unresolved(f"unknown variable {name!r}")
        if name not in self.variables:
            if name in self.evaluating:
                raise ConfigError(f"variable {name!r} is defined through itself", path=self.display)
            self.evaluating.add(name)
            default = self.data["variable"][name].get("default", "")
            self.variables[name] = "" if default is None else self.value(default, {})
            self.evaluating.discard(name)
        return self.variables[name]

    # -- values -------------------------------------------------------------

    def value(self, raw: Any, scope: Mapping[str, Any]) -> Any:
        if isinstance(raw, _Expr):
            inner = raw[2:-1] if raw.startswith("${") and raw.endswith("}") else raw
            return _Evaluator(inner, lambda n: self.lookup(n, scope)).run()
        if isinstance(raw, _Template):
            return self.template(raw, scope)
        if isinstance(raw, list):
            return [self.value(v, scope) for v in raw]
        if isinstance(raw, dict):
            return {k: self.value(v, scope) for k, v in raw.items()}
        return raw

    def lookup(self, name: str, scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        return self.variable(name)

    def template(self, text: str, scope: Mapping[str, Any]) -> str:
        out: list[str] = []
        position = 0
        while True:
            start = text.find("${", position)
            escaped = text.find("$${", position)
            if start < 0:
                out.append(text[position:])
                break
            if escaped >= 0 and escaped == start - 1:
                out.append(text[position:escaped] + "${")
                position = start + 2
                continue
            out.append(text[position:start])
            end = _closing(text, start + 2)
            if end < 0:
                raise _Unresolved(f"unclosed interpolation in {text!r}")
            out.append(
                _string(_Evaluator(text[start + 2 : end], lambda n: self.lookup(n, scope)).run())
            )
            position = end + 1
        return "".join(out)

    # -- targets ------------------------------------------------------------

    def line_of(self, kind: str, name: str) -> int | None:
        pattern = re.compile(rf'^\s*{kind}\s+"{re.escape(name)}"', re.MULTILINE)
        match = pattern.search(self.text)
        if match is None:
            match = re.compile(rf'"{re.escape(name)}"\s*:').search(self.text)
        return self.text.count("\n", 0, match.start()) + 1 if match else None

    def resolved(self, name: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in chain:
            loop = " -> ".join([*chain, name])
            raise ConfigError(
                f"targets inherit from themselves: {loop}",
                path=self.display,
                line=self.line_of("target", name),
            )
        body = self.data["target"][name]
        merged: dict[str, Any] = {}
        parents = body.get("inherits", [])
        if not isinstance(parents, list):
            parents = [parents]
        for parent in parents:
            parent_name = self.value(parent, {})
            if not isinstance(parent_name, str) or parent_name not in self.data["target"]:
                known = ", ".join(sorted(self.data["target"]))
                raise ConfigError(
                    f"target {name!r} inherits {parent_name!r}, which is not a target (targets: {known})",
                    path=self.display,
                    line=self.line_of("target", name),
                )
            _merge(merged, self.resolved(parent_name, (*chain, name)))
        own = {k: v for k, v in body.items() if k != "inherits"}
        _merge(merged, own)
        return merged

    def selected(self, asked: Sequence[str] | None) -> list[str]:
        targets, groups = self.data["target"], self.data["group"]
        if asked is None:
            asked = ["default"] if "default" in groups else list(targets)
        chosen: list[str] = []

        def add(name: str, trail: tuple[str, ...]) -> None:
            if name in targets:
                if name not in chosen:
                    chosen.append(name)
            elif name in groups:
                if name in trail:
                    raise ConfigError(
                        f"group {name!r} contains itself",
                        path=self.display,
                        line=self.line_of("group", name),
                    )
                for member in self.value(groups[name].get("targets", []), {}):
                    add(member, (*trail, name))
            else:
                known = ", ".join(sorted({*targets, *groups}))
                raise ConfigError(
                    f"no target or group {name!r} (known: {known})", path=self.display
                )

        for name in asked:
            add(name, ())
        return chosen

    def read(self, asked: Sequence[str] | None) -> SourceResult:
        queue = self.selected(asked)
        done: set[str] = set()
        builds: dict[str, ImageBuild] = {}
        while queue:
            name = queue.pop(0)
            if name in done:
                continue
            done.add(name)
            for build in self.target_builds(name):
                builds[build.name] = build
                for value in build.contexts.values():
                    other = value.removeprefix("target:")
                    if value.startswith("target:") and other not in done:
                        if other not in self.data["target"] and not self.is_generated(other):
                            raise ConfigError(
                                f"target {name!r} takes a context from {value!r}, and this "
                                f"file has no target {other!r}",
                                path=self.display,
                                line=self.line_of("target", name),
                            )
                        if other in self.data["target"]:
                            queue.append(other)
        self.result.builds.extend(builds.values())
        return self.result

    def is_generated(self, name: str) -> bool:
        return any(b.name == name for b in self.result.builds)

    def target_builds(self, name: str) -> list[ImageBuild]:
        line = self.line_of("target", name)
        attrs = self.resolved(name)
        for key in sorted(set(attrs) - _KNOWN):
            self.note(
                "bake-unknown-attribute",
                Severity.WARNING,
                f"target {name!r} has an attribute bake does not know: {key!r}",
                line,
            )
        raw_matrix = attrs.get("matrix") or {}
        try:
            matrix = self.value(raw_matrix, {})
        except _Unresolved as err:
            self.note(
                "bake-unresolved",
                Severity.WARNING,
                f"target {name!r}: matrix not evaluated ({err}); target skipped",
                line,
            )
            return []
        if not isinstance(matrix, dict) or not all(
            isinstance(v, list) and v for v in matrix.values()
        ):
            raise ConfigError(
                f"target {name!r}: 'matrix' must map names to non-empty lists",
                path=self.display,
                line=line,
            )
        keys = list(matrix)
        builds = []
        for combination in itertools.product(*(matrix[k] for k in keys)):
            scope = dict(zip(keys, combination, strict=True))
            try:
                build = self.build(name, attrs, scope, line)
            except _Unresolved as err:
                self.note(
                    "bake-unresolved",
                    Severity.WARNING,
                    f"target {name!r} not evaluated ({err}); it is not in the inventory",
                    line,
                )
                continue
            if build is not None:
                builds.append(build)
        return builds

    def attr(
        self,
        name: str,
        attrs: Mapping[str, Any],
        key: str,
        scope: Mapping[str, Any],
        line: int | None,
    ) -> Any:
        if key not in attrs or attrs[key] is None:
            return None
        try:
            return self.value(attrs[key], scope)
        except _Unresolved as err:
            self.note(
                "bake-unresolved",
                Severity.WARNING,
                f"target {name!r}: {key} not evaluated ({err}); left out",
                line,
            )
            return None

    def build(
        self, name: str, attrs: Mapping[str, Any], scope: dict[str, Any], line: int | None
    ) -> ImageBuild | None:
        build_name = name
        if scope:
            given = self.attr(name, attrs, "name", scope, line)
            if isinstance(given, str) and given:
                build_name = given
            else:
                build_name = "-".join([name, *(_text(v) for v in scope.values())])
                self.note(
                    "bake-matrix-name",
                    Severity.WARNING,
                    f"target {name!r} has a matrix and no 'name'; calling a variant {build_name!r}",
                    line,
                )
        context = self.attr(name, attrs, "context", scope, line)
        context = "." if context is None else _string(context)
        if context.startswith(_REMOTE):
            self.note(
                "bake-remote-context",
                Severity.WARNING,
                f"target {build_name!r} builds from a remote context ({context}); imagegraph reads only this repository",
                line,
            )
            return None
        context_dir = self.base / context
        context_rel = relative(self.root, self.base, context)
        inline = self.attr(name, attrs, "dockerfile-inline", scope, line)
        dockerfile = self.attr(name, attrs, "dockerfile", scope, line)
        dockerfile_rel = relative(
            self.root, context_dir, _string(dockerfile) if dockerfile else "Dockerfile"
        )
        tags = []
        for index, raw in enumerate(attrs.get("tags") or []):
            try:
                tags.append(_string(self.value(raw, scope)))
            except _Unresolved as err:
                self.note(
                    "bake-unresolved",
                    Severity.WARNING,
                    f"target {build_name!r}: tag {index + 1} not evaluated ({err}); left out",
                    line,
                )
        args: dict[str, str] = {}
        for key, raw in (attrs.get("args") or {}).items():
            if raw is None:
                continue  # null: the Dockerfile's default
            try:
                args[key] = _string(self.value(raw, scope))
            except _Unresolved as err:
                self.note(
                    "bake-unresolved",
                    Severity.WARNING,
                    f"target {build_name!r}: arg {key} not evaluated ({err}); not passed",
                    line,
                )
        contexts: dict[str, str] = {}
        for key, raw in (attrs.get("contexts") or {}).items():
            try:
                value = _string(self.value(raw, scope))
            except _Unresolved as err:
                self.note(
                    "bake-unresolved",
                    Severity.WARNING,
                    f"target {build_name!r}: context {key} not evaluated ({err}); left out",
                    line,
                )
                continue
            if not value.startswith(("target:", "docker-image://", "oci-layout://", *_REMOTE)):
                value = relative(self.root, self.base, value)
            contexts[key] = value
        platforms = self.attr(name, attrs, "platforms", scope, line) or []
        target = self.attr(name, attrs, "target", scope, line)
        return ImageBuild(
            name=build_name,
            dockerfile=dockerfile_rel,
            context=context_rel,
            tags=parse_tags(tags, self.aliases, path=self.display, line=line),
            args=args,
            target=_string(target) if target else None,
            platforms=tuple(_string(p) for p in platforms),
            contexts=contexts,
            variant={k: _text(v) for k, v in scope.items()},
            origin=f"{self.display}:{line}" if line else self.display,
            dockerfile_inline=_string(inline) if inline is not None else None,
        )

    def note(self, code: str, severity: Severity, message: str, line: int | None) -> None:
        self.result.diagnostics.append(Diagnostic(code, severity, message, self.display, line))


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if key in _MERGED_MAPS and isinstance(value, dict) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}
        else:
            into[key] = value


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    raise _Unresolved(f"{value!r} is not a string")


def _text(value: Any) -> str:
    # Matrix values may be objects; a variant records them as JSON.
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return _string(value)


def _closing(text: str, start: int) -> int:
    depth, position, quote = 0, start, False
    while position < len(text):
        char = text[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == '"':
                quote = False
        elif char == '"':
            quote = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    return -1


_TOKEN = re.compile(
    r'\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z_][\w-]*)'
    r"|(?P<op>==|!=|&&|\|\||[!?:(),.\[\]]))"
)
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "equal": lambda a, b: a == b,
    "notequal": lambda a, b: a != b,
    "and": lambda a, b: bool(a) and bool(b),
    "or": lambda a, b: bool(a) or bool(b),
    "not": lambda a: not a,
    "lower": lambda s: _string(s).lower(),
    "upper": lambda s: _string(s).upper(),
    "trimprefix": lambda s, p: _string(s).removeprefix(_string(p)),
    "trimsuffix": lambda s, p: _string(s).removesuffix(_string(p)),
    "join": lambda sep, items: _string(sep).join(_string(i) for i in items),
    "replace": lambda s, old, new: _string(s).replace(_string(old), _string(new)),
}


class _Evaluator:
    """A recursive-descent evaluator for the expressions bake files use."""

    def __init__(self, text: str, lookup: Callable[[str], Any]) -> None:
        self.text, self.lookup = text, lookup
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise _Unresolved(f"cannot read {text!r}")
            kind = match.lastgroup or "op"
            self.tokens.append((kind, match[kind]))
            position = match.end()
        self.index = 0

    def run(self) -> Any:
        value = self.conditional()
        if self.index != len(self.tokens):
            raise _Unresolved(f"cannot read {self.text!r}")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise _Unresolved(f"unexpected end of {self.text!r}")
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise _Unresolved(f"expected {expected!r} in {self.text!r}")
        self.index += 1
        return token

    def conditional(self) -> Any:
        condition = self.either()
        if self.peek() == "?":
            self.take()
            yes = self.conditional()
            self.take(":")
            no = self.conditional()
            return yes if condition else no
        return condition

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            right = self.both()
            value = bool(value) or bool(right)
        return value

    def both(self) -> Any:
        value = self.equality()
        while self.peek() == "&&":
            self.take()
            right = self.equality()
            value = bool(value) and bool(right)
        return value

    def equality(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.unary()
            value = (value == right) if op == "==" else (value != right)
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.conditional()
                self.take("]")
            try:
                value = value[key] if not isinstance(value, list) else value[int(key)]
            except (KeyError, IndexError, TypeError, ValueError):
                raise _Unresolved(f"no {key!r} in {self.text!r}") from None
        return value

    def primary(self) -> Any:
        kind, token = self.take()
        if kind == "num":
            return int(token) if token.isdigit() else float(token)
        if kind == "str":
            return _unquote(token)
        if kind == "name":
            if token in ("true", "false"):
                return token == "true"
            if token == "null":
                return None
            if self.peek() == "(":
                return self.call(token)
            return self.lookup(token)
        if token == "(":
            value = self.conditional()
            self.take(")")
            return value
        if token == "[":
            items = []
            while self.peek() != "]":
                items.append(self.conditional())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return items
        raise _Unresolved(f"cannot read {self.text!r}")

    def call(self, name: str) -> Any:
        self.take("(")
        arguments = []
        while self.peek() != ")":
            arguments.append(self.conditional())
            if self.peek() == ",":
                self.take()
        self.take(")")
        function = _FUNCTIONS.get(name)
        if function is None:
            raise _Unresolved(f"function {name}() is not evaluated by imagegraph")
        try:
            return function(*arguments)
        except TypeError:
            raise _Unresolved(f"{name}() given {len(arguments)} arguments") from None
