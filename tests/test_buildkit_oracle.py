"""imagegraph's parser against BuildKit's own, as a differential oracle (issue 14).

The PyPI package ``dockerfile`` (3.x) wraps BuildKit's Go parser
(``frontend/dockerfile/parser`` at v0.12.5): what it returns for a text is
what BuildKit's parser layer makes of it, before the instruction checks. The
tests compare it with imagegraph's line parser at the same layer
(``_LineParser(validate=False)``): keyword as written, lines, flags, values,
exec form, heredocs, and whether the parser refuses the text at all.

imagegraph follows today's BuildKit, which changed a few things since
v0.12.5; the texts those touch are left out of the differential test by the
named predicates below (each with the change and the first release that has
it), and :data:`CHANGED_SINCE` pins both readings. The oracle is a test
dependency only (the ``test`` extra): nothing in ``imagegraph`` imports it.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from imagegraph import DockerfileSyntaxError
from imagegraph.instructions import Instruction, _LineParser

dockerfile = pytest.importorskip("dockerfile", reason="BuildKit's parser (the test extra)")

_KNOWN = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip

Reading = tuple[str, object]


def _values(instruction: Instruction) -> tuple[str, ...]:
    # The binding drops ENV/LABEL's separator node; an instruction BuildKit's
    # parser does not know has one empty value there.
    if instruction.keyword in ("ENV", "LABEL"):
        return tuple(v for i, v in enumerate(instruction.args) if i % 3 != 2)
    if instruction.keyword not in _KNOWN:
        return ("",)
    if instruction.keyword == "ONBUILD":
        # Its trigger hangs off an empty node, whose value the binding reports.
        return ("",) if instruction.trigger is not None else ()
    return instruction.args


def ours(text: str) -> Reading:
    try:
        parsed = _LineParser(text, None, validate=False).run()
    except DockerfileSyntaxError:
        return ("error", None)
    out = []
    for i in parsed.instructions:
        trigger = i.trigger
        out.append(
            (
                i.written,
                trigger.written if trigger is not None else None,
                # The binding reports an ONBUILD's trigger's exec form as its own.
                trigger.json if trigger is not None else i.json,
                i.line,
                i.end_line,
                i.flags,
                _values(trigger) if trigger is not None else _values(i),
                # The binding reads an ONBUILD's heredocs from its trigger, which has
                # none (BuildKit keeps them on the ONBUILD; its end line shows them read).
                tuple((h.name, h.fd, h.content) for h in i.heredocs) if trigger is None else (),
            )
        )
    return ("ok", out)


def theirs(text: str) -> Reading:
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError:
        return ("error", None)
    return (
        "ok",
        [
            (
                c.cmd,
                c.sub_cmd,
                c.json,
                c.start_line,
                c.end_line,
                c.flags,
                c.value,
                tuple((h.name, h.file_descriptor, h.content) for h in c.heredocs),
            )
            for c in commands
        ],
    )


# -- What BuildKit changed since v0.12.5 (imagegraph reads these as today) ------


def check_directive_in_header(text: str) -> bool:
    """``# check=`` is a parser directive since BuildKit v0.14.0 (dockerfile 1.8.0,
    commit e3c0a07b0 "Adds controls for checking dockerfile lint rules"); to
    v0.12.5 it is a comment that ends the directives, so an ``# escape=`` after it
    is no directive there."""
    for line in text.lstrip("\ufeff").split("\n"):
        stripped = line.strip(" \t\r")
        if not stripped.startswith("#"):
            return False
        if re.match(r"#\s*check\s*=", stripped, re.IGNORECASE):
            return True
    return False


def heredoc_marker_with_blank(text: str) -> bool:
    """``<< EOF`` (blanks between ``<<`` and the name) is a heredoc since BuildKit
    v0.22.0 (dockerfile 1.16.0, commit 0b77373ab "dockerfile: allow whitespace
    in heredocs"); to v0.12.5 it is none."""
    return re.search(r"<<-?[ \t\f\r]", text) is not None


def flag_escaped_with_backtick(text: str) -> bool:
    """Flags honour the ``# escape=`` character since BuildKit v0.21.0 (dockerfile
    1.15.0, commit 877d8a771); v0.12.5 escaped flags with a backslash whatever
    the directive said."""
    return "escape" in text and "`" in text and "--" in text


def json_with_trailing_text(text: str) -> bool:
    """An exec form followed by more text (``CMD ["a"] b``) is the shell form since
    BuildKit v0.15.0 (dockerfile 1.9.0, commit 80518e257 "dockerfile: fix invalid
    usage of json.NewDecoder": json.Unmarshal refuses what follows the array);
    v0.12.5 decoded the array and dropped the rest. Any array followed by more
    text on its line counts here."""
    for match in re.finditer(r"\[", text):
        try:
            _, end = json.JSONDecoder().raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if text[end:].split("\n", 1)[0].strip(" \t\r"):
            return True
    return False


# -- The differential test ------------------------------------------------------

_KEYWORDS = st.sampled_from(
    [
        "FROM", "from", "RUN", "Run", "COPY", "ADD", "CMD", "ENTRYPOINT", "SHELL", "ENV",
        "LABEL", "ARG", "EXPOSE", "VOLUME", "WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER",
        "HEALTHCHECK", "ONBUILD", "ONBUILD RUN", "ONBUILD COPY", "FOO",
        "WOR\u212aDIR", "\u017fHELL", "ENTRYPO\u0130NT", "onbu\u0131ld", "\ufeffRUN",
    ]
)  # fmt: skip
_FLAGS = st.sampled_from(
    [
        "--from=build", "--mount=type=cache,target=/x", "--chown=1:1", '--from="a b"',
        "--link", "--x", "--from=caf\u00e9", "--from=b\u00a0/app", "--a\\", "--", "-- x",
        "\u2028--from=x", "--f\\rom=y", "--'q'=1", "--interval=5s", "--network=none",
        "--from=\u00e9\u0085z",
    ]
)  # fmt: skip
_WORDS = st.sampled_from(
    [
        "a", "b c", "/x", "$V", "${V:-d}", "A=1", 'B="two words"', "C='x y'", "'", '"',
        '"unclosed', "\\", "`", "\\ ", "NONE", "CMD", "CMD true", "--y", "AS", "as",
        "a\u017f", "st", '["a", "b"]', '["a"]', "[1]", "[1e999]", '["\\ud800"]',
        '["\\ud83d\\ude00"]', "[", "[[[", "[" * 40 + "]" * 40, '[" "]', "{}", "<<EOF",
        "<<-EOF", "<<'EOF'", '<<"E"OF', "2<<EOF", "<<EOF /dst", "cat <<EOF", "x<<EOF",
        "\u00a0", "\u2028", "\u3000", "\x85", "\t", "\u00e9", "#", "=",
    ]
)  # fmt: skip
_ENDS = st.sampled_from(
    ["\n", "\n", "\n", "\r\n", " \\\n", "\\\n  ", "\\\n# c\n", "\\\n\n", "`\n", " \\  \n"]
)
_HEADERS = st.sampled_from(
    ["", "", "# escape=`\n", "# syntax=x/y\n", "\ufeff", "# a comment\n", "# escape=\\\n"]
)
_BODIES = st.sampled_from(["", "x\nEOF\n", "\tx\n\tEOF\n", "x\nE\n", "EOF\n"])


@st.composite
def dockerfile_texts(draw: st.DrawFn) -> str:
    """Dockerfile text from instruction, flag, word, quote, heredoc, continuation,
    comment and escape-directive pieces, the Unicode ones of issue 14 among them."""
    parts = [draw(_HEADERS)]
    for _ in range(draw(st.integers(1, 6))):
        keyword = draw(_KEYWORDS)
        flags = draw(st.lists(_FLAGS, max_size=2))
        words = draw(st.lists(_WORDS, max_size=4))
        parts.append(" ".join([keyword, *flags, *words]))
        parts.append(draw(_ENDS))
        if any("<<" in word for word in words):
            parts.append(draw(_BODIES))
    return "".join(parts)


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(dockerfile_texts())
def test_the_parser_reads_as_buildkit(text: str) -> None:
    if (
        check_directive_in_header(text)
        or heredoc_marker_with_blank(text)
        or flag_escaped_with_backtick(text)
        or json_with_trailing_text(text)
    ):
        reject()
    try:
        expected = theirs(text)
    except UnicodeDecodeError:
        # A flag split inside a UTF-8 character leaves a stray byte, which the
        # binding cannot hand to Python (imagegraph has U+FFFD there).
        reject()
    assert ours(text) == expected


# -- The cases of issue 14, each read as BuildKit reads it ------------------------

AGREE = [
    # 1. flags are read byte by byte
    "FROM a\nCOPY --from=builder\u00a0/app /x\n",
    "FROM a\nCOPY --from=caf\u00e9 a b\n",
    "FROM a\nCOPY \u2028--from=x a b\n",
    "FROM a\nRUN --mount=type=bind,from=\u00e9,target=/x make\n",
    # 2. keywords lower-cased as Go does
    "FROM a\nWOR\u212aDIR /x\n",
    'FROM a\n\u017fHELL ["sh"]\n',
    'FROM a\nENTRYPO\u0130NT ["x"]\n',
    # 3. HEALTHCHECK's type split byte by byte
    "FROM a\nHEALTHCHECK CMD\u3000true\n",
    # 4. no heredoc after an unclosed quote
    'FROM a\nRUN <<EOF "\nx\nEOF\n',
    'FROM a\nRUN "<<EOF\nx\nEOF\n',
    # 5. JSON as Go's encoding/json reads it
    "FROM a\nCMD [1e999]\n",
    'FROM a\nCMD ["a", 1e999]\n',
    'FROM a\nCMD ["\\ud800", "\\udc00x", "\\ud83d\\ude00"]\n',
    "FROM a\nCMD " + "[" * 1500 + "]" * 1500 + "\n",
    "FROM a\nCMD " + "[" * 10001 + "]" * 10001 + "\n",
    "FROM a\nCMD [NaN]\n",
    # 6. ARG and STOPSIGNAL take flags without a complaint from the parser
    "ARG --x=1 A=1\nFROM a\nSTOPSIGNAL --x SIGTERM\n",
    # 9. one byte-order mark
    "\ufeff\ufeffFROM a\n",
    "\ufeffFROM a\n",
    # 10. BuildKit's lexer (Go's text/scanner) skips a byte-order mark that
    # starts what it reads: a heredoc name is read without one
    "FROM a\nRUN <<\ufeffx\nx\n\ufeffx\n",
    "FROM a\nRUN <<\ufeff\nx\n",
]


@pytest.mark.parametrize("text", AGREE, ids=[repr(t[:40]) for t in AGREE])
def test_issue_14_cases_read_as_buildkit(text: str) -> None:
    assert ours(text) == theirs(text)


# -- What changed since v0.12.5, each read both ways ------------------------------


def test_json_with_trailing_text_is_the_shell_form_today() -> None:
    text = 'FROM a\nCMD ["a"] b\n'
    assert json_with_trailing_text(text)
    assert theirs(text)[1][1][2::4] == (True, ("a",))  # type: ignore[index]
    assert ours(text)[1][1][2::4] == (False, ('["a"] b',))  # type: ignore[index]


def test_heredoc_with_a_blank_is_one_today() -> None:
    assert heredoc_marker_with_blank("FROM a\nRUN << EOF\nx\nEOF\n")
    their = theirs("FROM a\nRUN << EOF\nx\nEOF\n")
    mine = ours("FROM a\nRUN << EOF\nx\nEOF\n")
    assert len(their[1]) == 4  # type: ignore[arg-type]  # x and EOF read as instructions
    assert mine[1][1][7] == (("EOF", 0, "x\n"),)  # type: ignore[index]


def test_backtick_escapes_flags_today() -> None:
    text = "# escape=`\nFROM a\nCOPY --from=a\\b`c x y\n"
    assert flag_escaped_with_backtick(text)
    assert theirs(text)[1][1][5] == ("--from=ab`c",)  # type: ignore[index]
    assert ours(text)[1][1][5] == ("--from=a\\bc",)  # type: ignore[index]


def test_check_directive_keeps_the_header_open_today() -> None:
    text = "# check=skip=all\n# escape=`\nFROM a\nRUN a `\n  b\n"
    assert check_directive_in_header(text)
    assert theirs(text)[1][1][6] == ("a `",)  # type: ignore[index]
    assert ours(text)[1][1][6] == ("a   b",)  # type: ignore[index]


def test_the_oracle_is_not_on_the_runtime_path() -> None:
    from pathlib import Path

    import imagegraph

    package = Path(imagegraph.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import dockerfile\b|from dockerfile\b)", text, re.M), source
