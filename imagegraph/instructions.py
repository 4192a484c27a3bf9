"""Dockerfile text to instructions, line by line the way BuildKit's parser reads it.

This is the first step of imagegraph's pipeline. It owns everything BuildKit
decides before any variable is expanded: the ``# syntax=`` / ``# escape=`` /
``# check=`` directives, the byte-order mark, CRLF endings, comments,
line continuations (including comment and empty lines inside one, trailing
blanks after the escape character and a continuation at end of file), how
each instruction splits into flags and arguments (JSON exec form or shell
form), heredocs, ``ONBUILD`` triggers, and the checks BuildKit makes on each
instruction (argument counts, known flags, stage names).

The hot path does no per-character work on ordinary lines: a line is
classified by its first and last characters, and only the rare shapes (flags
with quotes, heredoc markers, JSON arrays) go through the slower lexers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Protocol

from imagegraph._pickling import positional_reduce
from imagegraph._shell import GO_SPACE, ShellError, heredoc_words, split_heredoc_name
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import DockerfileSyntaxError

__all__ = ["Heredoc", "Instruction", "ParsedInstructions", "parse_instructions"]

# BuildKit reads with a bufio.Scanner: a physical line may hold 64 KiB - 1 bytes.
MAX_LINE_BYTES = 65535
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE_KEY = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\s]*=", re.ASCII)
_ASCII_SPACE = " \t\n\r\f\v"
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")
_HEREDOC_SPACE = "\t\n\f\r "
# The bytes Go's unicode.IsSpace calls blank when BuildKit tests a byte as a rune.
_BYTE_SPACE = "\t\n\v\f\r \x85\xa0"


@dataclass(frozen=True, slots=True)
class Heredoc:
    """A here-document attached to a ``RUN``, ``COPY`` or ``ADD`` instruction.

    ``content`` is the body exactly as written, line endings included;
    ``body`` is what BuildKit uses after ``<<-`` tab stripping.
    """

    name: str
    """The delimiter word, quotes removed (``EOF`` for ``<<'EOF'``)."""
    content: str
    expand: bool
    """``False`` when the delimiter was quoted: the body is taken literally."""
    chomp: bool
    """``True`` for ``<<-``: leading tabs are stripped from the body and terminator."""
    fd: int = 0
    """The file descriptor written before ``<<`` (``2<<EOF``), 0 if none."""

    @property
    def body(self) -> str:
        """The content after ``<<-`` tab stripping."""
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction as BuildKit's parser splits it.

    ``args`` are the parser's words: for shell-form ``RUN``/``CMD``/
    ``ENTRYPOINT``/``SHELL`` the whole command line as one string, for
    the exec (JSON) form the array items (``json`` is then ``True``), for
    ``FROM``/``COPY``/``ADD``/``EXPOSE``/``VOLUME`` the whitespace-separated
    words, for ``ARG`` the ``name[=value]`` words, and for ``ENV``/``LABEL``
    flat ``(key, value, separator)`` triples (see :meth:`pairs`). Values
    are not expanded: ``$VAR`` is still there.

    >>> from imagegraph import parse_dockerfile
    >>> copy = parse_dockerfile("FROM a\\nCOPY --from=build --chown=1:1 /out /app").instructions[1]
    >>> copy.keyword, copy.args, copy.flags, copy.line
    ('COPY', ('/out', '/app'), ('--from=build', '--chown=1:1'), 2)
    >>> copy.flag("from")
    'build'
    """

    keyword: str
    """The instruction in upper case (``RUN``), as BuildKit dispatches on it."""
    args: tuple[str, ...]
    flags: tuple[str, ...]
    """The ``--name=value`` flags before the arguments, quotes removed."""
    line: int
    """1-based line where the instruction starts."""
    end_line: int
    """1-based last line, heredoc bodies included."""
    original: str
    """The logical line: continuations joined, comments dropped, heredocs not included."""
    json: bool = False
    """``True`` for the exec form (``CMD ["a", "b"]``)."""
    heredocs: tuple[Heredoc, ...] = ()
    trigger: Instruction | None = None
    """For ``ONBUILD``: the instruction it registers."""
    written: str = field(default="", compare=False)
    """The keyword as written (``from``, ``Run``)."""

    __reduce__ = positional_reduce

    def flag(self, name: str) -> str | None:
        """The value of flag ``--name`` (the last one if repeated); ``"true"`` for a bare flag."""
        found: str | None = None
        for value in self.flag_values(name):
            found = value
        return found

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Every value given for ``--name``, in order (``--mount`` repeats)."""
        prefix = "--" + name
        values = []
        for item in self.flags:
            if item == prefix:
                values.append("true")
            elif item.startswith(prefix + "="):
                values.append(item[len(prefix) + 1 :])
        return tuple(values)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """``(key, value)`` pairs of an ``ENV`` or ``LABEL`` (empty for other keywords).

        Values are raw (quotes kept), as BuildKit stores them before expansion.

        >>> from imagegraph import parse_dockerfile
        >>> parse_dockerfile('FROM a\\nENV A=1 B="two words"').instructions[1].pairs()
        (('A', '1'), ('B', '"two words"'))
        """
        if self.keyword in ("ENV", "LABEL"):
            return tuple(zip(self.args[0::3], self.args[1::3], strict=True))
        return ()


@dataclass(frozen=True, slots=True)
class ParsedInstructions:
    """What the line parser found, before stages are worked out."""

    instructions: tuple[Instruction, ...]
    directives: dict[str, str]
    escape: str
    diagnostics: tuple[Diagnostic, ...]

    __reduce__ = positional_reduce


def parse_instructions(text: str, *, path: str | None = None) -> ParsedInstructions:
    """Split Dockerfile *text* into instructions; raise :class:`DockerfileSyntaxError`.

    >>> parsed = parse_instructions("# escape=`\\nFROM alpine\\nRUN echo a `\\n  b")
    >>> parsed.escape, [i.args for i in parsed.instructions]
    ('`', [('alpine',), ('echo a   b',)])
    """
    from imagegraph._fastpath import outline

    # Most files take the fast route, which gives the same instructions (the
    # tests compare the two); everything it does not handle comes here.
    found = outline(text, path, complete=True)
    if found is not None:
        return found.parsed
    return _LineParser(text, path, validate=True).run()


class _LineParser:
    __slots__ = (
        "diagnostics",
        "directives",
        "directives_done",
        "escape",
        "lines",
        "path",
        "pos",
        "validate",
    )

    def __init__(self, text: str, path: str | None, *, validate: bool) -> None:
        # validate=False stops at BuildKit's parser layer, before its
        # instruction checks: only for comparing with BuildKit's parser tests.
        self.validate = validate
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.lines = lines
        self.path = path
        self.pos = 0
        self.escape = "\\"
        self.directives: dict[str, str] = {}
        self.directives_done = False
        self.diagnostics: list[Diagnostic] = []

    def error(
        self, message: str, line: int, end_line: int | None = None, source: str | None = None
    ) -> DockerfileSyntaxError:
        if source is None and 0 < line <= len(self.lines):
            source = self.lines[line - 1]
        return DockerfileSyntaxError(
            message, path=self.path, line=line, end_line=end_line, source=source
        )

    def physical(self) -> str:
        """The next physical line, without its newline; checks BuildKit's length limit."""
        raw = self.lines[self.pos]
        self.pos += 1
        if (
            len(raw) > MAX_LINE_BYTES // 4
            and len(raw.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES
        ):
            raise self.error(
                f"dockerfile line greater than max allowed size of {MAX_LINE_BYTES}",
                self.pos,
                source="",
            )
        return raw

    def run(self) -> ParsedInstructions:
        out: list[Instruction] = []
        lines = self.lines
        count = len(lines)
        while self.pos < count:
            raw = self.physical()
            start = self.pos
            stripped = raw.rstrip("\r").lstrip(GO_SPACE)
            if not self.directives_done:
                self.directive(stripped, start)
            if not stripped or stripped[0] == "#":
                continue
            body, more = self.trim_continuation(stripped)
            parts = [body]
            empty_continuation = False
            while more and self.pos < count:
                raw = self.physical()
                content = raw.rstrip("\r")
                lead = content.lstrip(GO_SPACE)
                if not lead:
                    empty_continuation = True
                    continue
                if lead[0] == "#":
                    continue
                body, more = self.trim_continuation(content)
                parts.append(body)
            logical = "".join(parts) if len(parts) > 1 else parts[0]
            if empty_continuation:
                self.diagnostics.append(
                    Diagnostic(
                        "empty-continuation-line",
                        Severity.WARNING,
                        "empty continuation line inside an instruction; BuildKit warns "
                        "these will become errors",
                        self.path,
                        self.pos,
                    )
                )
            try:
                instruction = self.instruction(logical, start)
            except ShellError as err:
                raise self.error(str(err), start, self.pos, source=logical) from None
            out.append(instruction)
        if not out:
            raise self.error("file with no instructions", max(self.pos, 1), source="")
        if self.validate:
            self.check(out)
        return ParsedInstructions(tuple(out), self.directives, self.escape, tuple(self.diagnostics))

    def check(self, instructions: list[Instruction]) -> None:
        """BuildKit's instruction checks, after its parser has read the whole file
        (its errors come first), one instruction after another, with the check
        that each but a global ARG comes after a FROM in between, as in
        BuildKit's ``instructions.Parse``."""
        staged = False
        for instruction in instructions:
            _check(instruction, self.escape, self.error)
            if instruction.keyword == "FROM":
                staged = True
            elif not staged and instruction.keyword != "ARG":
                raise self.error(
                    "no build stage in current context",
                    instruction.line,
                    instruction.end_line,
                    source=instruction.original,
                )

    # -- directives and continuations ----------------------------------------
    def directive(self, line: str, lineno: int) -> None:
        if not line.startswith("#"):
            self.directives_done = True
            return
        found = read_directive(line[1:].lstrip(GO_SPACE))
        if found is None or found[0].lower() not in _KNOWN_DIRECTIVES:
            self.directives_done = True
            return
        key, value = found[0].lower(), found[1]
        if key in self.directives:
            raise self.error(f"only one {key} parser directive can be used", lineno)
        if key == "escape":
            if value not in ("\\", "`"):
                raise self.error(f"invalid escape token '{value}' does not match ` or \\", lineno)
            self.escape = value
        self.directives[key] = value

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """Drop a trailing escape character (and blanks after it); say whether one was there."""
        esc = self.escape
        if not line or esc not in line:
            return line, False
        trimmed = line.rstrip(" \t")
        if not trimmed.endswith(esc):
            return line, False
        # An escaped escape character at the end is not a continuation, but a
        # lone escape character on its line is.
        if len(trimmed) >= 2 and trimmed[-2] == esc:
            return line, False
        return trimmed[:-1], True

    # -- one instruction -------------------------------------------------------
    def instruction(self, logical: str, start: int) -> Instruction:
        node = _split_node(logical, self.escape)
        heredocs: tuple[Heredoc, ...] = ()
        target = node.trigger if node.keyword == "ONBUILD" and node.trigger is not None else node
        if "<<" in logical and target.keyword in ("RUN", "COPY", "ADD") and not target.json:
            heredocs = self.read_heredocs(logical, start)
        instruction = Instruction(
            keyword=node.keyword,
            args=node.args,
            flags=node.flags,
            line=start,
            end_line=self.pos,
            original=logical,
            json=node.json,
            heredocs=heredocs,
            trigger=node.trigger,
            written=node.written,
        )
        return instruction

    def read_heredocs(self, logical: str, start: int) -> tuple[Heredoc, ...]:
        found: list[Heredoc] = []
        for word in heredoc_words(logical):
            marker = _heredoc_marker(word)
            if marker is None:
                continue
            fd, chomp, rest = marker
            named = split_heredoc_name(rest)
            if named is None:
                continue
            name, expand = named
            body: list[str] = []
            terminated = False
            while self.pos < len(self.lines):
                raw = self.physical()
                candidate = raw.rstrip("\r")
                if chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == name:
                    terminated = True
                    break
                body.append(raw)
                body.append("\n")
            if not terminated:
                raise self.error("unterminated heredoc", start, self.pos, source=logical)
            found.append(Heredoc(name, "".join(body), expand, chomp, fd))
        return tuple(found)


def read_directive(text: str) -> tuple[str, str] | None:
    """``(key, value)`` of a parser directive (the comment after ``#``), or ``None``.

    What BuildKit's ``([a-zA-Z][a-zA-Z0-9]*)\\s*=\\s*(.+?)\\s*`` full match
    gives, without a regular expression's backtracking (quadratic in the
    blanks of a line: 19 s for a 64 KiB one).

    >>> read_directive("syntax = docker/dockerfile:1  "), read_directive("escape=`")
    (('syntax', 'docker/dockerfile:1'), ('escape', '`'))
    """
    match = _DIRECTIVE_KEY.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    value = rest.strip(_ASCII_SPACE)
    if value:
        return None if "\n" in value else (match.group(1), value)  # "." is no newline
    # Only blanks: the value is the last that is no newline, as the expression has it.
    rest = rest.rstrip("\n")
    return (match.group(1), rest[-1]) if rest else None


def _heredoc_marker(word: str) -> tuple[int, bool, str] | None:
    """``(fd, chomp, rest)`` for a word of the form ``[n]<<[-][blanks]rest``."""
    digits = 0
    while digits < len(word) and word[digits] in "0123456789":
        digits += 1
    if not word.startswith("<<", digits):
        return None
    pos = digits + 2
    chomp = word.startswith("-", pos)
    if chomp:
        pos += 1
    while pos < len(word) and word[pos] in _HEREDOC_SPACE:
        pos += 1
    rest = word[pos:]
    if not rest or "<" in rest:
        return None
    fd = int(word[:digits]) if digits else 0
    return fd, chomp, rest


@dataclass(frozen=True, slots=True)
class _Node:
    keyword: str
    written: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool
    trigger: Instruction | None


# Go's unicode.ToLower / ToUpper map one rune to one rune (the simple case
# mappings); Python's str.lower / str.upper apply the full ones. Where the two
# differ on a rune that could make or unmake a keyword, Go's answer is here:
# U+0130 lowers to "i" (Python: "i" and U+0307); U+212A KELVIN SIGN lowers to
# "k" in both. To upper case, U+0131 and U+017F become "I" and "S" in both,
# and no other rune becomes ASCII; a rune whose full upper case is several
# runes keeps its single-rune title case, or itself.
_GO_LOWER = {"\u0130": "i"}


def go_lower(text: str) -> str:
    """*text* lower-cased as Go's ``strings.ToLower`` does it (rune by rune).

    >>> go_lower("WOR\u212aDIR"), go_lower("\u017fHELL"), go_lower("\u0130")
    ('workdir', '\u017fhell', 'i')
    """
    if text.isascii():
        return text.lower()
    return "".join(_GO_LOWER.get(ch) or ch.lower() for ch in text)


def go_upper(text: str) -> str:
    """*text* upper-cased as Go's ``strings.ToUpper`` does it (rune by rune).

    >>> go_upper("onbu\u0131ld"), go_upper("stra\u00dfe")
    ('ONBUILD', 'STRA\u00dfE')
    """
    if text.isascii():
        return text.upper()
    out = []
    for ch in text:
        upper = ch.upper()
        if len(upper) != 1:
            title = ch.title()
            upper = title if len(title) == 1 else ch
        out.append(upper)
    return "".join(out)


def _keyword(written: str) -> str:
    """The keyword BuildKit dispatches on: Go's lower case of what is written, in
    upper case; as written when that is no ASCII (never a keyword then)."""
    lowered = go_lower(written)
    return lowered.upper() if lowered.isascii() else written


def _equal_fold_as(word: str) -> bool:
    """Whether Go's ``strings.EqualFold(word, "as")`` holds (U+017F folds to s)."""
    return len(word) == 2 and word[0] in "aA" and word[1] in "sS\u017f"


def _split_node(line: str, escape: str) -> _Node:
    """BuildKit's splitCommand plus the per-keyword argument parser.

    ``ONBUILD ONBUILD ...`` nests one trigger in another; the chain is read in
    a loop, not by recursion, so 8,000 of them on one line (BuildKit reads them,
    then refuses the chaining) raise no RecursionError.
    """
    chain: list[tuple[str, str, tuple[str, ...], str]] = []
    while True:
        parts = _WHITESPACE.split(line.strip(GO_SPACE), maxsplit=1)
        written = parts[0]
        rest = parts[1] if len(parts) == 2 else ""
        flags: tuple[str, ...] = ()
        if rest:
            rest, flags = _extract_flags(rest, escape)
            rest = rest.strip(GO_SPACE)
        keyword = _keyword(written)
        if keyword != "ONBUILD" or not rest:
            break
        chain.append((keyword, written, flags, rest))
        line = rest
    args, is_json = _arguments(keyword, rest, escape)
    node = _Node(keyword, written, flags, args, is_json, None)
    for keyword, written, flags, rest in reversed(chain):
        trigger = Instruction(
            keyword=node.keyword,
            args=node.args,
            flags=node.flags,
            line=0,
            end_line=0,
            original=rest,
            json=node.json,
            trigger=node.trigger,
            written=node.written,
        )
        node = _Node(keyword, written, flags, (), False, trigger)
    return node


def _arguments(keyword: str, rest: str, escape: str) -> tuple[tuple[str, ...], bool]:
    """The arguments of an instruction other than ``ONBUILD`` with a trigger, and
    whether they are the exec form."""
    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        return _maybe_json(rest)
    if keyword in ("COPY", "ADD", "VOLUME"):
        args, is_json = _maybe_json(rest)
        return (args, True) if is_json else (_ws_split(rest), False)
    if keyword in ("FROM", "EXPOSE"):
        return _ws_split(rest), False
    if keyword == "ARG":
        return tuple(_parse_words(rest, escape)), False
    if keyword in ("ENV", "LABEL"):
        return _name_values(rest, keyword, escape), False
    if keyword in ("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"):
        return ((rest,) if rest else ()), False
    if keyword == "HEALTHCHECK":
        return _health(rest)
    return (), False


def _ws_split(rest: str) -> tuple[str, ...]:
    if not rest:
        return ()
    return tuple(_WHITESPACE.split(rest))


class _NotGoJSON(ValueError):
    """Text Go's encoding/json refuses where Python's json module may not."""


def _reject_constant(name: str) -> object:
    # Go's encoding/json has no NaN or Infinity; such text is not JSON there.
    raise _NotGoJSON(name)


def _go_number(text: str) -> float:
    # Go decodes a number into a float64 and fails on one out of its range
    # (1e999); Python would give inf, or an int of any size.
    value = float(text)
    if value in (_INF, -_INF):
        raise _NotGoJSON(text)
    return value


_INF = float("inf")
_NOT_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"
# What Go's JSON scanner reads, one token at a time, for text too deeply nested
# for Python's recursive decoder.
_JSON_TOKEN = re.compile(
    r"[ \t\n\r]*(?:(?P<open>[\[{])|(?P<close>[\]}])|(?P<sep>[,:])"
    r'|(?P<string>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")'
    r"|(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<literal>true|false|null))"
)
_GO_JSON_MAX_DEPTH = 10000  # encoding/json's maxNestingDepth


def _go_json_valid(text: str) -> bool:
    """Whether Go's ``json.Unmarshal`` into ``[]any`` accepts *text*, without recursion:
    syntax, nesting of at most 10,000, numbers within a float64's range."""
    stack: list[str] = []
    pos = 0
    # "value" (a value may come), "after" (a value just ended), "key" (a key or "}")
    state = "value"
    while True:
        match = _JSON_TOKEN.match(text, pos)
        if match is None:
            return state == "after" and not stack and not text[pos:].strip(" \t\n\r")
        pos = match.end()
        kind = match.lastgroup
        token = match.group(kind or "")
        if state in ("value", "first"):
            if kind == "open":
                if len(stack) >= _GO_JSON_MAX_DEPTH:
                    return False
                stack.append(token)
                state = "first" if token == "[" else "key"
                continue
            if kind == "close" and state == "first" and token == "]":
                stack.pop()
                state = "after"
                continue
            if kind == "number":
                try:
                    _go_number(token)
                except _NotGoJSON:
                    return False
            elif kind not in ("string", "literal"):
                return False
            state = "after"
        elif state in ("key", "key-only"):
            if kind == "close" and token == "}" and state == "key":
                stack.pop()
                state = "after"
            elif kind == "string":
                state = "colon"
            else:
                return False
        elif state == "colon":
            if token != ":":
                return False
            state = "value"
        else:  # after a value
            if not stack:
                return False
            if kind == "close" and token == ("]" if stack[-1] == "[" else "}"):
                stack.pop()
            elif token == ",":
                state = "value" if stack[-1] == "[" else "key-only"
            else:
                return False


def _maybe_json(rest: str) -> tuple[tuple[str, ...], bool]:
    """The exec form when *rest* is a JSON array of strings, else the shell form.

    JSON as Go's encoding/json reads it (BuildKit's ``json.Unmarshal``):
    nothing after the array, no NaN, no number out of a float64's range, a
    lone surrogate escape decoded as U+FFFD, nesting up to 10,000 deep.

    >>> _maybe_json('["a", "\\\\ud800"]'), _maybe_json("[1e999]"), _maybe_json('["a"] b')
    ((('a', '\ufffd'), True), (('[1e999]',), False), (('["a"] b',), False))
    """
    if not rest:
        return (), False
    candidate = rest.lstrip(GO_SPACE)
    if candidate.startswith("["):
        value: object
        try:
            value = json.loads(
                candidate,
                parse_constant=_reject_constant,
                parse_float=_go_number,
                parse_int=_go_number,
            )
        except RecursionError:
            # Deeper than Python's decoder goes: an array in the array, so when
            # Go reads it at all it is not an array of strings.
            if _go_json_valid(candidate):
                raise ShellError(_NOT_STRINGS) from None
            value = None
        except ValueError:
            value = None
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ShellError(_NOT_STRINGS)
            return tuple(_no_surrogates(item) for item in value), True
    return (rest,), False


def _no_surrogates(text: str) -> str:
    # Go's decoder turns an escaped surrogate that is not half of a pair into U+FFFD.
    if text.isascii():
        return text
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def _health(rest: str) -> tuple[tuple[str, ...], bool]:
    """HEALTHCHECK's type and command; BuildKit finds the end of the type byte by byte
    (see :func:`_extract_flags`), so ``CMD\u00a0x`` has the type ``CMD`` and a stray byte.

    >>> _health("CMD  curl -f x"), _health("CMD\u00a0x")
    ((('CMD', 'curl -f x'), False), (('CMD\ufffd', 'x'), False))
    """
    view = _bytes_view(rest)
    sep = 0
    while sep < len(view) and view[sep] not in _BYTE_SPACE:
        sep += 1
    if sep == 0:
        return (), False
    after = sep
    while after < len(view) and view[after] in _BYTE_SPACE:
        after += 1
    kind = _from_bytes_view(view[:sep])
    command, is_json = _maybe_json(_from_bytes_view(view[after:]))
    return (kind, *command), is_json


def _bytes_view(text: str) -> str:
    """*text* with one character per UTF-8 byte, as Go code indexing a string sees it
    (and as its ``WriteRune(rune(byte))`` writes it back: Latin-1)."""
    return text if text.isascii() else text.encode("utf-8", "surrogatepass").decode("latin-1")


def _from_bytes_view(view: str) -> str:
    """Text again from a slice of :func:`_bytes_view` (a cut inside a character, which
    Go would keep as a stray byte, becomes U+FFFD as elsewhere in imagegraph)."""
    return view if view.isascii() else view.encode("latin-1").decode("utf-8", "replace")


def _extract_flags(line: str, escape: str) -> tuple[str, tuple[str, ...]]:
    """The leading ``--flag`` words of *line* and the text after them.

    BuildKit reads flags byte by byte: a byte is blank when Go's
    ``unicode.IsSpace`` says so of it as a rune (the bytes 0x85 and 0xA0
    too, which occur inside UTF-8 characters), and each byte of a flag is
    kept as the character of that code point, so ``--from=café`` gives
    ``--from=cafÃ©`` and U+00A0 (bytes C2 A0) ends a flag after ``Â``.

    >>> _extract_flags("--from=a\u00a0/b /c", "\\\\")
    ('/b /c', ('--from=a\u00c2',))
    >>> _extract_flags("\u2028--from=x a b", "\\\\")
    ('\u2028--from=x a b', ())
    """
    if line.isascii():
        return _extract_flag_bytes(line, escape)
    rest, words = _extract_flag_bytes(_bytes_view(line), escape)
    return _from_bytes_view(rest), words


def _extract_flag_bytes(line: str, escape: str) -> tuple[str, tuple[str, ...]]:
    """:func:`_extract_flags` on one character per byte (see :func:`_bytes_view`)."""
    start = 0
    end = len(line)
    while start < end and line[start] in _BYTE_SPACE:
        start += 1
    if not line.startswith("--", start):
        return line, ()
    words: list[str] = []
    pos = start
    while True:
        # At the start of a word: only a "--" word is a flag.
        while pos < end and line[pos] in _BYTE_SPACE:
            pos += 1
        if pos >= end:
            return "", tuple(words)
        if not line.startswith("--", pos):
            return line[pos:], tuple(words)
        buf: list[str] = []
        blank_ok = False
        quote = ""
        while pos < end:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                    pos += 1
                    continue
                if ch == escape:
                    if pos + 1 == end:
                        quote = ""
                        pos += 1
                        continue
                    pos += 1
                    ch = line[pos]
                buf.append(ch)
                pos += 1
                continue
            if ch in _BYTE_SPACE:
                break
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == end:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
        word = "".join(buf)
        if pos >= end:
            if word != "--" and (blank_ok or word):
                words.append(word)
            return "", tuple(words)
        if word == "--":
            return line[pos:], tuple(words)
        if blank_ok or word:
            words.append(word)


def _parse_words(rest: str, escape: str) -> list[str]:
    """BuildKit's parseWords: split on blanks outside quotes, keeping quotes and escapes."""
    words: list[str] = []
    buf: list[str] = []
    blank_ok = False
    quote = ""
    in_word = False
    pos = 0
    end = len(rest)
    while pos < end:
        ch = rest[pos]
        if not in_word:
            if ch in GO_SPACE:
                pos += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            if ch == escape and quote != "'" and ch != quote:
                if pos + 1 == end:
                    quote = ""
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch in GO_SPACE:
            if blank_ok or buf:
                words.append("".join(buf))
            buf = []
            blank_ok = False
            in_word = False
            pos += 1
            continue
        if ch in ("'", '"'):
            quote = ch
            blank_ok = True
        if ch == escape:
            if pos + 1 == end:
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


def _name_values(rest: str, keyword: str, escape: str) -> tuple[str, ...]:
    words = _parse_words(rest, escape)
    if not words:
        return ()
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ShellError(f"{keyword} must have two arguments")
        return (parts[0], parts[1], "")
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise ShellError(
                f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        key, _, value = word.partition("=")
        out += (key, value, "=")
    return tuple(out)


# -- BuildKit's checks on each instruction ---------------------------------------


class _ErrorFactory(Protocol):
    def __call__(
        self, message: str, line: int, end_line: int | None = None, source: str | None = None
    ) -> DockerfileSyntaxError: ...


class _Fail(Protocol):
    def __call__(self, message: str) -> DockerfileSyntaxError: ...


_BOOL, _STRING, _STRINGS = "bool", "string", "strings"
_FLAGS: dict[str, dict[str, str]] = {
    "FROM": {"platform": _STRING},
    "COPY": {
        "chown": _STRING,
        "from": _STRING,
        "chmod": _STRING,
        "link": _BOOL,
        "exclude": _STRINGS,
        "parents": _BOOL,
    },
    "ADD": {
        "chown": _STRING,
        "chmod": _STRING,
        "link": _BOOL,
        "keep-git-dir": _BOOL,
        "checksum": _STRING,
        "unpack": _BOOL,
        "exclude": _STRINGS,
    },
    "RUN": {"mount": _STRINGS, "network": _STRING, "security": _STRING, "device": _STRINGS},
    "HEALTHCHECK": {
        "interval": _STRING,
        "timeout": _STRING,
        "start-period": _STRING,
        "start-interval": _STRING,
        "retries": _STRING,
    },
}
_KEYWORDS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
_EXACTLY_ONE = frozenset({"MAINTAINER", "WORKDIR", "USER", "STOPSIGNAL"})
_AT_LEAST_ONE = frozenset({"EXPOSE", "VOLUME", "ARG", "ENV", "LABEL", "HEALTHCHECK"})


# Keywords whose argument count BuildKit checks before their flags; ARG and
# STOPSIGNAL have no flags parsed at all (any --x is accepted and ignored), nor
# has HEALTHCHECK NONE.
_ARGS_FIRST = frozenset(
    {"MAINTAINER", "ADD", "COPY", "FROM", "ONBUILD", "WORKDIR", "EXPOSE", "USER", "VOLUME"}
)
_NO_FLAGS = frozenset({"ARG", "STOPSIGNAL"})
_NETWORKS = ("default", "none", "host")
_SECURITY = ("insecure", "sandbox")
_HEALTH_INTERVALS = ("interval", "timeout", "start-period", "start-interval")


def _check(instruction: Instruction, escape: str, error: _ErrorFactory) -> None:
    """Raise what BuildKit's instruction parser raises for this instruction, in its order."""
    keyword = instruction.keyword
    args = instruction.args
    line, end = instruction.line, instruction.end_line

    def fail(message: str) -> DockerfileSyntaxError:
        return error(message, line, end)

    if keyword not in _KEYWORDS:
        hint = ""
        if instruction.written.startswith("\ufeff"):
            hint = " (a byte-order mark U+FEFF; BuildKit drops only one, at the file's start)"
        raise fail(f"unknown instruction: {instruction.written}{hint}")
    if keyword not in _ARGS_FIRST and keyword not in _NO_FLAGS and keyword != "HEALTHCHECK":
        _check_flags(instruction, fail)
    if keyword in _EXACTLY_ONE and len(args) != 1:
        raise fail(f"{keyword} requires exactly one argument")
    if keyword in _AT_LEAST_ONE and not args:
        raise fail(f"{keyword} requires at least one argument")
    if keyword in ("ENV", "LABEL") and any(key == "" for key in args[0::3]):
        raise fail(f"{keyword} names can not be blank")
    if keyword == "ARG" and any(word.partition("=")[0] == "" for word in args if "=" in word):
        raise fail("ARG names can not be blank")
    if keyword in ("COPY", "ADD"):
        if len(args) < 2:
            raise fail(
                f"{keyword} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
    elif keyword == "FROM":
        if len(args) == 3 and _equal_fold_as(args[1]):
            if not _STAGE_NAME.fullmatch(go_lower(args[2])):
                raise fail(
                    f'invalid name for build stage: "{args[2]}", name can\'t start with a '
                    "number or contain symbols"
                )
        elif len(args) != 1:
            raise fail("FROM requires either one or three arguments")
    elif keyword == "ONBUILD" and instruction.trigger is None:
        raise fail("ONBUILD requires at least one argument")
    if keyword in _ARGS_FIRST:
        _check_flags(instruction, fail)
    if keyword in ("COPY", "ADD"):
        if _heredoc_marker(args[-1]) is not None:
            raise fail(f"{keyword} cannot accept a heredoc as a destination")
    elif keyword == "ONBUILD":
        assert instruction.trigger is not None
        trigger = go_upper(instruction.trigger.written.strip(GO_SPACE))
        if trigger == "ONBUILD":
            raise fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif keyword == "HEALTHCHECK":
        _check_health(instruction, fail)
    elif keyword == "VOLUME" and any(not item.strip(GO_SPACE) for item in args):
        raise fail("VOLUME specified can not be an empty string")
    elif keyword == "SHELL":
        if not args:
            raise fail("SHELL requires at least one argument")
        if not instruction.json:
            raise fail("SHELL requires the arguments to be in JSON form")
    elif keyword == "RUN":
        _check_run(instruction, fail)


def _check_health(instruction: Instruction, fail: _Fail) -> None:
    args = instruction.args
    kind = go_upper(args[0])
    if kind == "NONE":
        if len(args) != 1:
            raise fail("HEALTHCHECK NONE takes no arguments")
        return
    _check_flags(instruction, fail)
    if kind != "CMD":
        raise fail(f"Unknown type {_go_quote(kind)} in HEALTHCHECK (try CMD)")
    if len(args) < 2:
        raise fail("Missing command after HEALTHCHECK CMD")
    for name in _HEALTH_INTERVALS:
        value = instruction.flag(name)
        if not value:
            continue
        try:
            nanoseconds = go_duration(value)
        except ValueError as err:
            raise fail(str(err)) from None
        if nanoseconds and nanoseconds < 1_000_000:
            raise fail(f"Interval {_go_quote(name)} cannot be less than 1ms")
    retries = instruction.flag("retries")
    if retries:
        count = _go_int32(retries)
        if count is None:
            raise fail(f"strconv.ParseInt: parsing {_go_quote(retries)}: invalid syntax")
        if not -(1 << 31) <= count < 1 << 31:
            raise fail(f"strconv.ParseInt: parsing {_go_quote(retries)}: value out of range")
        if count < 0:
            raise fail(f"--retries cannot be negative ({count})")


def _check_run(instruction: Instruction, fail: _Fail) -> None:
    # BuildKit's RUN hooks run in the order of their files: devices, mounts,
    # network, security.
    for device in instruction.flag_values("device"):
        _check_device(device, fail)
    for mount in instruction.flag_values("mount"):
        _check_mount(mount, fail)
    network = instruction.flag("network")
    if network is not None and network not in _NETWORKS:
        raise fail(f"invalid network mode {_go_quote(network)}")
    security = instruction.flag("security")
    if security is not None and security not in _SECURITY:
        raise fail(f"security {_go_quote(security)} is not valid")


_GO_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)


def _check_device(spec: str, fail: _Fail) -> None:
    """BuildKit's ParseDevice: ``name[,required[=bool]]`` or ``name=...,required=...``."""
    try:
        fields = csv_fields(spec)
    except ValueError as err:
        raise fail(f"failed to parse csv devices: {err}") from None
    name = ""
    for item in fields:
        key, has_value, value = item.partition("=")
        key = go_lower(key)
        if not has_value:
            if key == "required":
                continue
            if not name:
                name = item
                continue
            raise fail(f"invalid field '{item}' must be a key=value pair")
        if key == "name":
            if name:
                raise fail(f"device name already set to {name}")
            name = value
        elif key == "required":
            if value not in _GO_BOOLS:
                raise fail(f"invalid value for {key}: {value}")
        elif not name:
            name = item
        else:
            raise fail(f"unexpected key '{key}' in '{item}'")


def _go_quote(text: str) -> str:
    """A string quoted about as Go's ``%q`` quotes it."""
    return json.dumps(text, ensure_ascii=False)


_GO_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)", re.ASCII)


def _go_int32(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 32)``'s number (range unchecked), ``None`` for bad syntax."""
    return int(text) if _GO_INT.fullmatch(text) else None


def go_duration(text: str) -> int:
    """Nanoseconds of a duration as Go's ``time.ParseDuration`` reads it; ``ValueError``
    with Go's message when it does not.

    >>> go_duration("1m30s"), go_duration("1.5h"), go_duration("-2ms"), go_duration("0")
    (90000000000, 5400000000000, -2000000, 0)
    >>> go_duration("abc")
    Traceback (most recent call last):
    ...
    ValueError: time: invalid duration "abc"
    """
    invalid = ValueError(f"time: invalid duration {_go_quote(text)}")
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    pos = 0
    while pos < len(rest):
        if not (rest[pos] == "." or "0" <= rest[pos] <= "9"):
            raise invalid
        match = _DURATION_PART.match(rest, pos)
        assert match is not None
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        if not whole and not fraction:
            raise invalid
        if not unit:
            raise ValueError(f"time: missing unit in duration {_go_quote(text)}")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(text)}")
        value = int(whole or "0")
        if value > (1 << 63) // scale:
            raise invalid
        value *= scale
        if fraction.strip("0"):
            value += int(int(fraction) * scale / 10 ** len(fraction))
        total += value
        if total > 1 << 63:
            raise invalid
        pos = match.end()
    if not negative and total > (1 << 63) - 1:
        raise invalid
    return -total if negative else total


def _check_flags(instruction: Instruction, fail: _Fail) -> None:
    if not instruction.flags:
        return
    known = _FLAGS.get(instruction.keyword, {})
    seen: set[str] = set()
    for item in instruction.flags:
        if item == "--":
            return
        name, has_value, value = item.partition("=")
        flag = name[2:]
        kind = known.get(flag)
        if kind is None:
            raise fail(f"unknown flag: {name}")
        if flag in seen and kind != _STRINGS:
            raise fail(f"duplicate flag specified: {name}")
        seen.add(flag)
        if kind == _BOOL:
            if has_value and value == "":
                raise fail(f"missing a value on flag: {name}")
            if go_lower(value) not in ("true", "false", ""):
                raise fail(f"expecting boolean value for flag {name}, not: {value}")
        elif not has_value:
            raise fail(f"missing a value on flag: {name}")


def _check_mount(spec: str, fail: _Fail) -> None:
    try:
        fields = csv_fields(spec)
    except ValueError as err:
        raise fail(f"failed to parse csv mounts: {err}") from None
    for item in fields:
        key, has_value, value = item.partition("=")
        if not has_value:
            continue
        if go_lower(key) == "from":
            dollar = value.find("$")
            if dollar != -1 and dollar != len(value) - 1:
                raise fail("'from' doesn't support variable expansion, define alias stage instead")


def csv_fields(text: str) -> list[str]:
    """Split one CSV record the way Go's encoding/csv does (RFC 4180 quoting).

    >>> csv_fields('type=bind,"source=a,b",target=/x')
    ['type=bind', 'source=a,b', 'target=/x']
    """
    fields: list[str] = []
    pos = 0
    end = len(text)
    while True:
        if pos < end and text[pos] == '"':
            buf: list[str] = []
            pos += 1
            while True:
                close = text.find('"', pos)
                if close < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                buf.append(text[pos:close])
                pos = close + 1
                if pos < end and text[pos] == '"':
                    buf.append('"')
                    pos += 1
                    continue
                break
            if pos < end and text[pos] != ",":
                raise ValueError('extraneous or missing " in quoted-field')
            fields.append("".join(buf))
        else:
            comma = text.find(",", pos)
            stop = end if comma < 0 else comma
            value = text[pos:stop]
            if '"' in value:
                raise ValueError('bare " in non-quoted-field')
            fields.append(value)
            pos = stop
        if pos >= end:
            return fields
        pos += 1  # the comma
