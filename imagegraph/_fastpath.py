"""The outline of a Dockerfile: only the instructions the image graph needs, read fast.

A scan of a large fleet needs, from each Dockerfile, its global ``ARG``\\ s,
its ``FROM`` lines, ``COPY --from`` and ``RUN --mount=from=``, plus the
certainty that BuildKit would accept every other line. The full parser in
:mod:`imagegraph.instructions` builds an :class:`~imagegraph.Instruction`
for every line; this module gets the same answer for the common shape of
file at a fraction of the cost:

* whole-file checks (one regular expression each) decide whether the file
  is in the fast subset: no carriage returns, heredocs, escaped escape
  characters or empty lines inside continuations, no exotic
  whitespace, no overlong lines, and the default escape character;
* logical lines are cut out by one regular expression, at C speed;
* a line whose shape is known to pass BuildKit's checks (``RUN make``,
  ``ENV A=1``, ``ENTRYPOINT ["/app"]``, ``RUN --mount=type=cache,...``)
  and that the graph does not need is only counted;
* every other line goes through the full parser's own splitting and
  checks, so what is kept is exactly what the full parser would keep.

Whenever the file is outside the subset, or the full parser's code raises
on a line, :func:`outline` returns ``None`` and the caller parses the whole
file with :func:`imagegraph.instructions.parse_instructions`, which gives
the exact error. The tests compare both routes on every Dockerfile they have.
"""

from __future__ import annotations

import re

from imagegraph._installers import OPEN, may_install, may_name_one
from imagegraph._shell import GO_SPACE, ShellError
from imagegraph.errors import DockerfileSyntaxError
from imagegraph.instructions import (
    _KNOWN_DIRECTIVES,
    MAX_LINE_BYTES,
    Instruction,
    ParsedInstructions,
    _check,
    _maybe_json,
    _split_node,
    csv_fields,
    read_directive,
)

__all__ = ["Outline", "outline"]

# Anything here (or a carriage return, or "<<") sends the whole file to the full parser.
_EXOTIC_SPACE = re.compile(r"[\v\f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_AWKWARD_ESCAPE = re.compile(
    r"\\(?:"
    r"\\[ \t]*(?:\n|\Z)"  # an escaped escape character at a line's end
    # an empty line inside a continuation (a warning), or a comment line ending the file in one
    r"|[ \t]*\n(?:[ \t]*#[^\n]*\n)*[ \t]*(?:\n|\Z|#[^\n]*\Z)"
    r"|[ \t]*\Z"  # a continuation at the end of the file
    r")"
)
_LONG_LINE = re.compile(rf"[^\n]{{{MAX_LINE_BYTES // 4 + 1},}}")
# One physical blank or comment line, or one logical line with its continuations.
_LINE = re.compile(
    r"(?P<comment>[ \t]*(?:#[^\n]*)?)(?:\n|\Z)"
    r"|(?P<logical>[^\n\\]*(?:\\[ \t]*\n(?:[ \t]*#[^\n]*\n)*[^\n\\]*|\\[^\n][^\n\\]*)*)(?:\n|\Z)"
)
# A line continuation, with the comment lines inside it that BuildKit drops.
_CONTINUATION = re.compile(r"\\[ \t]*\n(?:[ \t]*#[^\n]*\n)*")

# Lines BuildKit accepts and the graph does not need. Each alternative is a
# shape for which the full parser's split and checks are known to succeed;
# _TRIVIAL reads a logical line (continuations joined), _TRIVIAL_RUN a run
# of them in the raw text, where only RUN/CMD/ENTRYPOINT commands may span
# continuations (and single-line shapes hold no backslash at all).
_BLANKS = r"[ \t]+"
# The blanks before "]" belong to the optional strings: two blank runs side by side
# would be split every way on a line that fails, quadratic in its blanks.
_JSON_STRINGS = r'\[[ \t]*(?:"[^"\\\x00-\x1f]*"(?:[ \t]*,[ \t]*"[^"\\\x00-\x1f]*")*[ \t]*)?\][ \t]*'
_JSON_SOME = r'\[[ \t]*"[^"\\\x00-\x1f]*"(?:[ \t]*,[ \t]*"[^"\\\x00-\x1f]*")*[ \t]*\][ \t]*'
# Flags are read byte by byte (a non-ASCII character in one is kept byte for byte
# as Latin-1): only printable ASCII here, quotes, backslashes and commas aside.
_MOUNT_FIELD = r"(?![Ff][Rr][Oo][Mm]=)[!#-&(-+\--\[\]-~]*"
_MOUNT = rf"(?-i:--mount=){_MOUNT_FIELD}(?:,{_MOUNT_FIELD})*"  # flags are case-sensitive
_PAIR = r"""[^\s"'\\=]+=(?:"[^"\\\n]*"|'[^'\\\n]*'|[^\s"'\\]*)"""
_ID_VALUE = r"[A-Za-z_][A-Za-z0-9_]*(?:=[^\s\"'\\]*)?"
_SINGLE_LINE = (
    rf"|(?:env|label){_BLANKS}(?!--)(?:{_PAIR}(?:{_BLANKS}{_PAIR})*[ \t]*"
    r"|[A-Za-z_][A-Za-z0-9_]*[ \t]+[^\s\\][^\n\\]*)"
    r"|(?:user|workdir|maintainer|stopsignal|expose)[ \t]+(?!--)[^\s\\][^\n\\]*"
    r"|volume[ \t]+(?!--|\[)[^\s\\][^\n\\]*"
    r"|(?:copy|add)[ \t]+(?!--|\[)[^\s\\]+(?:[ \t]+[^\s\\]+)+[ \t]*"
    rf"|arg{_BLANKS}{_ID_VALUE}(?:{_BLANKS}{_ID_VALUE})*[ \t]*"
    rf"|healthcheck{_BLANKS}(?:none[ \t]*|cmd{_BLANKS}(?:(?!--)[^\[\s\\][^\n\\]*|{_JSON_SOME}))"
)
_COMMAND = rf"(?!--)(?:[^\[ \t].*|{_JSON_STRINGS})"
# re.ASCII: Unicode case folding would make WOR\u212aDIR a WORKDIR, which BuildKit does not.
_TRIVIAL = re.compile(
    rf"(?i:(?:run(?:{_BLANKS}{_MOUNT})*|cmd|entrypoint){_BLANKS}{_COMMAND}{_SINGLE_LINE})",
    re.ASCII,
)
_RAW_CONTINUATION = r"\\[ \t]*\n(?:[ \t]*#[^\n]*\n)*"
_RAW_COMMAND = (
    rf"(?:{_RAW_CONTINUATION}[ \t]*)*"
    rf"(?:(?!--)[^\[\s\\](?:[^\n\\]++|{_RAW_CONTINUATION}|\\(?![ \t]*\n)[^\n])*+|{_JSON_STRINGS})"
)
_TRIVIAL_RUN = re.compile(
    r"(?:(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*"
    rf"(?i:(?:run(?:{_BLANKS}{_MOUNT})*|cmd|entrypoint){_BLANKS}{_RAW_COMMAND}{_SINGLE_LINE})\n)*",
    re.ASCII,
)


# The trivial RUN/CMD/ENTRYPOINT and ENV/LABEL shapes again, with groups for _plain.
_PLAIN_COMMAND = re.compile(
    rf"(?:(?P<run>(?i:run))(?P<flags>(?:{_BLANKS}{_MOUNT})*)|(?P<other>(?i:cmd|entrypoint)))"
    rf"{_BLANKS}(?P<rest>{_COMMAND})",
    re.ASCII,
)
_PAIR_WORD = re.compile(_PAIR, re.ASCII)
_PLAIN_PAIRS = re.compile(
    rf"(?P<kw>(?i:env|label)){_BLANKS}(?!--)"
    rf"(?:(?P<pairs>{_PAIR}(?:{_BLANKS}{_PAIR})*)[ \t]*"
    r"|(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]+(?P<value>[^\s\\][^\n\\]*))",
    re.ASCII,
)
# A keyword, plain --flags and plain words: what _quick splits without the full lexers.
# The words end at their last character that is no blank: a lazy "[^...]*?[ \t]*"
# would try every blank run to the end of the line, quadratic in its blanks.
_PLAIN_WORDS = re.compile(
    r"([A-Za-z]+)((?:[ \t]+--[A-Za-z-]+(?:=[!#-&(-\[\]-~]*)?)*)[ \t]+"
    r"((?!--)[^\s\"'\\\[](?:[^\"'\\]*[^ \t\"'\\])?)[ \t]*"
)
_WORDS = re.compile(r"[ \t]+")
# What the package reader needs of a run of trivial lines (continuations
# joined): RUN lines that may install (a variable, escape or command
# substitution, an odd number of quotes, the JSON form, an installer's name),
# and ENV and stage ARG lines, which are needed at once where they substitute
# and otherwise only once the file keeps a RUN. Possessive: linear in the text.
# Searched in "\n" + the lines: a pattern that starts with a newline is found at
# the speed of a plain text search, where "^" would be tried at every character.
_COMMENTS = re.compile(r"(?:[ \t]*+(?:#[^\n]*+)?\n)*+")
_COMMENT_LINE = re.compile(r"^[ \t]*+#[^\n]*+\n", re.MULTILINE)
_RUN_LINE = re.compile(r"\n[ \t]*+((?i:run)[ \t][^\n]*+)")
_VALUE_LINE = re.compile(r"\n[ \t]*+(?i:env|arg)[ \t]")
_VALUE_SUBSTITUTES = re.compile(r"\n[ \t]*+(?i:env|arg)[ \t][^\n]*?[$`\\" + re.escape(OPEN) + r"]")
# A line with an odd number of either quote, in text cut down to its quotes and newlines.
_ODD_QUOTES = re.compile(
    rb"\n(?:(?:[^'\n]*+'[^'\n]*+')*+[^'\n]*+'|(?:[^\"\n]*+\"[^\"\n]*+\")*+[^\"\n]*+\")"
)
_NOT_QUOTES = bytes(c for c in range(256) if c not in b"'\"\n")
_JSON_RUN = re.compile(r"(?i:run)(?:[ \t]++--[^ \t\n]*+)*+[ \t]++\[")
_SKIP, _DEFER, _READ = 0, 1, 2
_PACKAGE_KEYWORDS = frozenset({"RUN", "ENV", "ARG"})


class Outline:
    r"""The instructions of a Dockerfile that its stages and parents depend on.

    ``parsed.instructions`` holds the global ``ARG``\\ s, every ``FROM``,
    each ``COPY`` with ``--from`` and each ``RUN`` whose mounts name a
    source (and, read with *packages*, every ``ARG`` and ``ENV`` and the
    ``RUN`` lines that may install a package); ``ends`` holds, for each
    stage, the last line of its last instruction (kept or not), which
    :class:`imagegraph.Stage` reports.
    """

    __slots__ = ("ends", "parsed")

    def __init__(self, parsed: ParsedInstructions, ends: tuple[int, ...]) -> None:
        self.parsed = parsed
        self.ends = ends

    def __reduce__(self) -> tuple[object, ...]:
        return (Outline, (self.parsed, self.ends))


def outline(
    text: str, path: str | None, *, complete: bool = False, packages: bool = False
) -> Outline | None:
    """The outline of *text*, or ``None`` when the full parser must read it.

    With *complete*, every instruction is kept, exactly as the full parser
    builds it (:func:`imagegraph.instructions.parse_instructions` reads
    through here); the lines of the trivial shapes are still split without
    the full lexers. With *packages*, the outline also keeps what the
    package reader (:func:`imagegraph.packages.dockerfile_packages`) reads:
    every ``ARG`` and ``ENV`` and each ``RUN`` whose text may install a
    package (:func:`imagegraph._installers.may_install`, or the JSON form),
    so that the packages of an outline are those of the whole file; runs of
    trivial lines with nothing of the kind are still skipped at C speed.

    >>> o = outline("ARG V=1\\nFROM a:$V AS b\\nRUN make\\nCOPY --from=b /x /y\\n", None)
    >>> [i.keyword for i in o.parsed.instructions], o.ends
    (['ARG', 'FROM', 'COPY'], (4,))
    >>> outline("FROM a\\nRUN <<EOF\\nx\\nEOF\\n", None) is None
    True
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if (
        "\r" in text
        or "<<" in text
        or "\v" in text
        or "\f" in text
        or (not text.isascii() and _EXOTIC_SPACE.search(text))
        or ("\\" in text and _AWKWARD_ESCAPE.search(text))
        or (len(text) > MAX_LINE_BYTES // 4 and _LONG_LINE.search(text))
    ):
        return None
    if not text.endswith("\n"):
        text += "\n"  # the same file to BuildKit, and every line now ends alike
    kept: list[Instruction] = []
    ends: list[int] = []
    directives: dict[str, str] = {}
    header = True
    seen_from = False
    last_end = 0
    lineno = 1
    pos = 0
    size = len(text)
    trivial = _TRIVIAL.fullmatch
    trivial_run = _TRIVIAL_RUN.match
    match_line = _LINE.match
    read_until = 0  # trivial lines up to here hold what the package reader needs
    deferred: list[tuple[int, int, int]] = []  # runs of plain ENV/ARG lines, kept if need be
    for_packages = False  # whether a stage instruction was kept for the package reader
    while pos < size:
        if seen_from and not complete and pos >= read_until:
            run_end = trivial_run(text, pos).end()  # type: ignore[union-attr]
            if run_end > pos:
                verdict = _package_matter(text, pos, run_end) if packages else _SKIP
                if verdict == _READ:
                    read_until = run_end  # read one by one below, not matched again
                else:
                    if verdict == _DEFER:
                        deferred.append((pos, run_end, lineno))
                    lineno += text.count("\n", pos, run_end)
                    pos = run_end
                    last_end = lineno - 1
                    if pos >= size:
                        break
            else:
                # Comment and blank lines the run could not end (no trivial line
                # after them): skipped at once, or each would be tried again as the
                # start of a run, quadratic in their number.
                skipped = _COMMENTS.match(text, pos).end()  # type: ignore[union-attr]
                if skipped > pos:
                    lineno += text.count("\n", pos, skipped)
                    pos = skipped
                    if pos >= size:
                        break
                    continue
        match = match_line(text, pos)
        if match is None:  # pragma: no cover - the pattern matches every line
            return None
        pos = match.end()
        segment = match.group("logical")
        if segment is None:
            if header:
                comment = match.group("comment").lstrip(" \t")
                known = _directive(comment, directives) if comment else False
                if known is None:
                    return None
                header = known
            lineno += 1
            continue
        header = False
        start = lineno
        logical, newlines = _joined(segment)
        end = lineno + newlines
        lineno = end + 1
        if seen_from and trivial(logical):
            last_end = end
            if not (complete or packages):
                continue
            if not complete and logical[:3].upper() not in _PACKAGE_KEYWORDS:
                continue  # CMD, LABEL, COPY, USER, ...: nothing the package reader reads
            # Every trivial RUN and ENV has a plain shape; a trivial ARG is read below.
            instruction = _plain(logical, start, end)
            if instruction is not None:  # a trivial shape: known to pass the checks
                if complete:
                    kept.append(instruction)
                elif _for_packages(instruction):
                    kept.append(instruction)
                    for_packages = True
                continue
        try:
            instruction = _read(logical, start, end)
            keyword = instruction.keyword
            if keyword == "FROM":
                if seen_from:
                    ends.append(last_end)
                seen_from = True
                kept.append(instruction)
            elif not seen_from:
                if keyword != "ARG":
                    return None  # the full parser raises "no build stage"
                kept.append(instruction)
            elif packages and not complete and _for_packages(instruction):
                kept.append(instruction)
                for_packages = True
            elif (
                complete
                or (keyword == "COPY" and instruction.flag("from"))
                or (
                    keyword == "RUN"
                    and any(_names_source(m) for m in instruction.flag_values("mount"))
                )
            ):
                kept.append(instruction)
        except (ShellError, ValueError, RecursionError, DockerfileSyntaxError):
            return None  # the full parser says exactly what is wrong
        last_end = end
    if not seen_from:
        return None
    ends.append(last_end)
    if deferred and for_packages:
        values = _values(text, deferred)
        if values is None:
            return None
        kept = sorted([*kept, *values], key=lambda instruction: instruction.line)
    return Outline(ParsedInstructions(tuple(kept), directives, "\\", ()), tuple(ends))


def _joined(segment: str) -> tuple[str, int]:
    """The logical line of *segment* (a line with its continuations) as BuildKit
    joins it, and how many newlines it spans: the first line loses its leading
    blanks, continuation lines keep theirs, comment lines inside go."""
    segment = segment.lstrip(GO_SPACE)
    if "\\" not in segment:
        return segment, 0
    newlines = segment.count("\n")
    return (_CONTINUATION.sub("", segment) if newlines else segment), newlines


def _read(logical: str, start: int, end: int) -> Instruction:
    """*logical* split and checked as the full parser does it (raising as it does,
    for the caller to hand the file over)."""
    instruction = _quick(logical, start, end)
    if instruction is None:
        node = _split_node(logical, "\\")
        instruction = Instruction(
            keyword=node.keyword, args=node.args, flags=node.flags, line=start,
            end_line=end, original=logical, json=node.json, trigger=node.trigger,
            written=node.written,
        )  # fmt: skip
    _check(instruction, "\\", _refuse)
    return instruction


def _package_matter(text: str, start: int, end: int) -> int:
    """What the package reader needs of the run of trivial lines
    ``text[start:end]`` (see *packages* in :func:`outline`): ``_READ`` its
    lines now, ``_DEFER`` its ENV and ARG lines until a RUN is kept, or
    ``_SKIP`` it. Cheap tests on the whole run first (most runs: ``make``,
    ``COPY``, ``ENV A=1``), the RUN lines alone when one of them hits."""
    lines = text[start:end]
    if "#" in lines:  # comment lines first: one may end in what looks like a continuation
        lines = _COMMENT_LINE.sub("", lines)
    if "\\" in lines:
        lines = _CONTINUATION.sub("", lines)  # logical lines, as the parser joins them
    lines = "\n" + lines
    substitutes = _substitutes(lines)
    if substitutes or "'" in lines or '"' in lines or "[" in lines or may_name_one(lines):
        found = _RUN_LINE.findall(lines)
        runs = "\n" + "\n".join(found)
        if (
            _substitutes(runs)
            or may_name_one(runs)
            or (
                ("'" in runs or '"' in runs)
                and _ODD_QUOTES.search(runs.encode().translate(None, _NOT_QUOTES))
            )
            or ("[" in runs and any(_JSON_RUN.match(line) for line in found))
        ):
            return _READ
        if substitutes and _VALUE_SUBSTITUTES.search(lines):
            return _READ
    return _DEFER if _VALUE_LINE.search(lines) else _SKIP


def _substitutes(text: str) -> bool:
    """Whether *text* holds a variable, an escape, a command substitution or an
    unresolved value: what makes a shell text more than its words."""
    return "$" in text or "\\" in text or "`" in text or OPEN in text


def _values(text: str, runs: list[tuple[int, int, int]]) -> list[Instruction] | None:
    """The ENV and ARG instructions of the runs of trivial lines *runs*
    (start, end, first line), read as :func:`outline` reads a line;
    ``None`` if one fails (the full parser says why)."""
    found: list[Instruction] = []
    match_line = _LINE.match
    for pos, stop, lineno in runs:
        while pos < stop:
            match = match_line(text, pos)
            if match is None:  # pragma: no cover - the pattern matches every line
                return None
            pos = match.end()
            segment = match.group("logical")
            if segment is None:
                lineno += 1
                continue
            start = lineno
            logical, newlines = _joined(segment)
            end = lineno + newlines
            lineno = end + 1
            if logical[:3].upper() not in ("ENV", "ARG"):
                continue
            try:
                instruction = _plain(logical, start, end) or _read(logical, start, end)
            except (ShellError, ValueError, RecursionError, DockerfileSyntaxError):
                return None
            if instruction.keyword in ("ENV", "ARG"):
                found.append(instruction)
    return found


def _for_packages(instruction: Instruction) -> bool:
    """Whether the package reader reads *instruction* (in a stage)."""
    keyword = instruction.keyword
    if keyword in ("ARG", "ENV"):
        return True
    if keyword != "RUN":
        return False
    return (
        instruction.json
        or bool(instruction.heredocs)
        or may_install(instruction.args[0] if instruction.args else "")
    )


def _plain(logical: str, start: int, end: int) -> Instruction | None:
    """A trivial ``RUN``/``CMD``/``ENTRYPOINT`` or ``ENV``/``LABEL`` line split as the
    full parser splits it, without its lexers; ``None`` for other shapes."""
    match = _PLAIN_COMMAND.fullmatch(logical)
    if match is not None:
        written = match.group("run") or match.group("other")
        flags = match.group("flags")
        args, is_json = _maybe_json(match.group("rest").rstrip(" \t"))
        return Instruction(
            keyword=written.upper(), args=args,
            flags=tuple(_WORDS.split(flags.strip(" \t"))) if flags else (),
            line=start, end_line=end, original=logical, json=is_json, written=written,
        )  # fmt: skip
    match = _PLAIN_PAIRS.fullmatch(logical)
    if match is not None:
        written = match.group("kw")
        values: list[str] = []
        if match.group("pairs") is not None:
            for word in _PAIR_WORD.findall(match.group("pairs")):
                key, _, value = word.partition("=")
                values += (key, value, "=")
        else:
            values += (match.group("key"), match.group("value").rstrip(" \t"), "")
        return Instruction(
            keyword=written.upper(), args=tuple(values), flags=(), line=start, end_line=end,
            original=logical, written=written,
        )  # fmt: skip
    return None


def _quick(logical: str, start: int, end: int) -> Instruction | None:
    """``FROM``, ``COPY`` and ``ARG`` lines with plain words split as the full parser
    would split them (no quotes, escapes or JSON); ``None`` for anything else."""
    match = _PLAIN_WORDS.fullmatch(logical)
    if match is None:
        return None
    written = match.group(1)
    keyword = written.upper()
    flags = match.group(2)
    if keyword not in ("FROM", "COPY") and not (keyword == "ARG" and not flags):
        return None
    return Instruction(
        keyword=keyword,
        args=tuple(_WORDS.split(match.group(3))),
        flags=tuple(_WORDS.split(flags.strip(" \t"))) if flags else (),
        line=start,
        end_line=end,
        original=logical,
        written=written,
    )


def _directive(comment: str, directives: dict[str, str]) -> bool | None:
    """Read a header comment as the full parser does: ``True`` for a directive,
    ``False`` for a plain comment (which ends the header), ``None`` to hand the
    file over to the full parser."""
    found = read_directive(comment[1:].lstrip(GO_SPACE))
    if found is None or found[0].lower() not in _KNOWN_DIRECTIVES:
        return False
    key, value = found[0].lower(), found[1]
    if key in directives or key == "escape":
        return None  # a duplicate (an error) or an escape directive (rare)
    directives[key] = value
    return True


def _names_source(spec: str) -> bool:
    return any(
        key.lower() == "from" and has_value
        for key, has_value, _ in (item.partition("=") for item in csv_fields(spec))
    )


def _refuse(
    message: str, line: int, end_line: int | None = None, source: str | None = None
) -> DockerfileSyntaxError:
    # Only a signal here: the full parser reads the file again and reports it exactly.
    return DockerfileSyntaxError(message, path=None, line=line)
