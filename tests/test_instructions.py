"""The line parser: each case is a behaviour BuildKit documents or its parser shows."""

from __future__ import annotations

import pytest

from imagegraph import DockerfileSyntaxError, Heredoc, parse_dockerfile
from imagegraph.instructions import csv_fields, parse_instructions


def shape(text: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...], int, int]]:
    """Keyword, args, flags and line span of every instruction."""
    return [
        (i.keyword, i.args, i.flags, i.line, i.end_line)
        for i in parse_instructions(text).instructions
    ]


# (case id, Dockerfile text, expected instructions)
SYNTAX_CASES = [
    (
        "keywords are case-insensitive",
        "from alpine\nRun echo hi\nCoPy a b",
        [
            ("FROM", ("alpine",), (), 1, 1),
            ("RUN", ("echo hi",), (), 2, 2),
            ("COPY", ("a", "b"), (), 3, 3),
        ],
    ),
    (
        "backslash continuation keeps the next line's leading blanks",
        "FROM a\nRUN echo one \\\n    two",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("echo one     two",), (), 2, 3)],
    ),
    (
        "blanks after the escape character still continue the line",
        "FROM a\nRUN echo one \\  \t\n two",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("echo one  two",), (), 2, 3)],
    ),
    (
        "comment lines inside a continuation are dropped",
        "FROM a\nRUN apt-get update \\\n# a comment\n    # indented comment\n && apt-get install -y curl",
        [
            ("FROM", ("a",), (), 1, 1),
            ("RUN", ("apt-get update  && apt-get install -y curl",), (), 2, 5),
        ],
    ),
    (
        "empty and blank lines inside a continuation are skipped",
        "FROM a\nRUN one \\\n\n   \n two",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("one  two",), (), 2, 5)],
    ),
    (
        "a continuation at end of file ends the instruction",
        "FROM a\nRUN echo hi \\",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("echo hi",), (), 2, 2)],
    ),
    (
        "an escaped escape character at end of line is not a continuation",
        "FROM a\nRUN echo \\\\\nRUN two",
        [
            ("FROM", ("a",), (), 1, 1),
            ("RUN", ("echo \\\\",), (), 2, 2),
            ("RUN", ("two",), (), 3, 3),
        ],
    ),
    (
        "a hash inside a line is not a comment",
        "FROM a\nRUN echo a # b",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("echo a # b",), (), 2, 2)],
    ),
    (
        "indented instructions and comments",
        "   FROM a\n\t# comment\n  RUN b",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("b",), (), 3, 3)],
    ),
    (
        "CRLF line endings",
        "FROM a\r\nRUN one \\\r\n two\r\n",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("one  two",), (), 2, 3)],
    ),
    (
        "a UTF-8 byte-order mark before the first line",
        "\ufeffFROM a\nRUN b",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("b",), (), 2, 2)],
    ),
    (
        "backtick escape directive",
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore\nRUN dir `\n    c:\\",
        [
            ("FROM", ("mcr.microsoft.com/windows/servercore",), (), 2, 2),
            ("RUN", ("dir     c:\\",), (), 3, 4),
        ],
    ),
    (
        "with the backtick escape, a trailing backslash is text",
        "# escape=`\nFROM a\nRUN echo c:\\\nRUN b",
        [
            ("FROM", ("a",), (), 2, 2),
            ("RUN", ("echo c:\\",), (), 3, 3),
            ("RUN", ("b",), (), 4, 4),
        ],
    ),
    (
        "a directive after a comment is only a comment",
        "# hello\n# escape=`\nFROM a\nRUN x \\\n y",
        [("FROM", ("a",), (), 3, 3), ("RUN", ("x  y",), (), 4, 5)],
    ),
    (
        "a directive after an empty line is only a comment",
        "\n# escape=`\nFROM a\nRUN x \\\n y",
        [("FROM", ("a",), (), 3, 3), ("RUN", ("x  y",), (), 4, 5)],
    ),
    (
        "exec form is a JSON array",
        'FROM a\nCMD ["nginx", "-g", "daemon off;"]\nENTRYPOINT ["/bin/sh","-c"]',
        [
            ("FROM", ("a",), (), 1, 1),
            ("CMD", ("nginx", "-g", "daemon off;"), (), 2, 2),
            ("ENTRYPOINT", ("/bin/sh", "-c"), (), 3, 3),
        ],
    ),
    (
        "text that is not a JSON array is the shell form",
        "FROM a\nCMD [not json]\nRUN ['single', 'quotes']",
        [
            ("FROM", ("a",), (), 1, 1),
            ("CMD", ("[not json]",), (), 2, 2),
            ("RUN", ("['single', 'quotes']",), (), 3, 3),
        ],
    ),
    (
        "COPY in JSON form keeps spaces in paths",
        'FROM a\nCOPY ["my file", "/dst dir/"]',
        [("FROM", ("a",), (), 1, 1), ("COPY", ("my file", "/dst dir/"), (), 2, 2)],
    ),
    (
        "flags come before the arguments, quotes removed",
        'FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nCOPY --chown="app user" --link src /src',
        [
            ("FROM", ("golang:1.22", "AS", "build"), ("--platform=$BUILDPLATFORM",), 1, 1),
            ("COPY", ("src", "/src"), ("--chown=app user", "--link"), 2, 2),
        ],
    ),
    (
        "a lone -- ends the flags",
        "FROM a\nRUN --network=none -- --not-a-flag",
        [("FROM", ("a",), (), 1, 1), ("RUN", ("--not-a-flag",), ("--network=none",), 2, 2)],
    ),
    (
        "ENV in both forms, LABEL with quotes",
        'FROM a\nENV PYTHON_VERSION 3.12.4\nENV A=1 B="two words"\nLABEL "com.example.vendor"="ACME"',
        [
            ("FROM", ("a",), (), 1, 1),
            ("ENV", ("PYTHON_VERSION", "3.12.4", ""), (), 2, 2),
            ("ENV", ("A", "1", "=", "B", '"two words"', "="), (), 3, 3),
            ("LABEL", ('"com.example.vendor"', '"ACME"', "="), (), 4, 4),
        ],
    ),
    (
        "ARG words keep their quotes until expansion",
        'ARG A=1 B="x y"\nFROM a',
        [("ARG", ("A=1", 'B="x y"'), (), 1, 1), ("FROM", ("a",), (), 2, 2)],
    ),
    (
        "HEALTHCHECK splits its form from the command",
        'FROM a\nHEALTHCHECK --interval=5s CMD ["curl", "-f", "http://localhost/"]\nHEALTHCHECK NONE',
        [
            ("FROM", ("a",), (), 1, 1),
            ("HEALTHCHECK", ("CMD", "curl", "-f", "http://localhost/"), ("--interval=5s",), 2, 2),
            ("HEALTHCHECK", ("NONE",), (), 3, 3),
        ],
    ),
    # BuildKit's last parser differences (issue 14), each as today's BuildKit reads it.
    (
        "flags are split byte by byte: U+00A0 ends a flag after its first byte",
        "FROM a\nCOPY --from=builder\u00a0/app /x",
        [("FROM", ("a",), (), 1, 1), ("COPY", ("/app", "/x"), ("--from=builder\u00c2",), 2, 2)],
    ),
    (
        "a flag keeps each UTF-8 byte as one character, as Go's WriteRune(rune(byte))",
        "FROM a\nCOPY --chown=caf\u00e9 x y",
        [("FROM", ("a",), (), 1, 1), ("COPY", ("x", "y"), ("--chown=caf\u00c3\u00a9",), 2, 2)],
    ),
    (
        "U+2028 before -- is no blank to the flag splitter: no flag, three words",
        "FROM a\nCOPY \u2028--from=x a b",
        [("FROM", ("a",), (), 1, 1), ("COPY", ("--from=x", "a", "b"), (), 2, 2)],
    ),
    (
        "keywords are lower-cased as Go does: KELVIN SIGN is k",
        "FROM a\nWOR\u212aDIR /x\nENTRYPO\u0130NT top",
        [
            ("FROM", ("a",), (), 1, 1),
            ("WORKDIR", ("/x",), (), 2, 2),
            ("ENTRYPOINT", ("top",), (), 3, 3),
        ],
    ),
    (
        "no heredoc after an unclosed quote: BuildKit's lexer gives no words",
        'FROM a\nRUN <<EOF "\nUSER x',
        [("FROM", ("a",), (), 1, 1), ("RUN", ('<<EOF "',), (), 2, 2), ("USER", ("x",), (), 3, 3)],
    ),
    (
        "JSON as Go decodes it: a number out of float64's range is no JSON",
        'FROM a\nCMD [1e999]\nCMD ["\\ud800", "\\ud83d\\ude00"]',
        [
            ("FROM", ("a",), (), 1, 1),
            ("CMD", ("[1e999]",), (), 2, 2),
            ("CMD", ("\ufffd", "\U0001f600"), (), 3, 3),
        ],
    ),
    (
        "JSON nested past Go's 10,000 levels is the shell form",
        "FROM a\nCMD " + "[" * 10001 + "]" * 10001,
        [("FROM", ("a",), (), 1, 1), ("CMD", ("[" * 10001 + "]" * 10001,), (), 2, 2)],
    ),
    (
        "ARG and STOPSIGNAL parse no flags, HEALTHCHECK NONE neither",
        "ARG --x=1 A=1\nFROM a\nSTOPSIGNAL --x SIGTERM\nHEALTHCHECK --y NONE",
        [
            ("ARG", ("A=1",), ("--x=1",), 1, 1),
            ("FROM", ("a",), (), 2, 2),
            ("STOPSIGNAL", ("SIGTERM",), ("--x",), 3, 3),
            ("HEALTHCHECK", ("NONE",), ("--y",), 4, 4),
        ],
    ),
    (
        "HEALTHCHECK durations and retries as Go reads them",
        "FROM a\nHEALTHCHECK --interval=1m30s --timeout=0 --start-period=1.5h --retries=+3 CMD x",
        [
            ("FROM", ("a",), (), 1, 1),
            (
                "HEALTHCHECK",
                ("CMD", "x"),
                ("--interval=1m30s", "--timeout=0", "--start-period=1.5h", "--retries=+3"),
                2,
                2,
            ),
        ],
    ),
    (
        "RUN network, security and device values BuildKit knows",
        "FROM a\nRUN --network=host --security=insecure --device=/dev/fuse,required=true x",
        [
            ("FROM", ("a",), (), 1, 1),
            (
                "RUN",
                ("x",),
                ("--network=host", "--security=insecure", "--device=/dev/fuse,required=true"),
                2,
                2,
            ),
        ],
    ),
    (
        "FROM ... AS compares as Go's EqualFold: LONG S folds to s",
        "FROM a a\u017f b",
        [("FROM", ("a", "a\u017f", "b"), (), 1, 1)],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in SYNTAX_CASES], ids=[c[0] for c in SYNTAX_CASES]
)
def test_syntax(
    text: str, expected: list[tuple[str, tuple[str, ...], tuple[str, ...], int, int]]
) -> None:
    assert shape(text) == expected


def test_directives_are_recorded() -> None:
    parsed = parse_instructions("# syntax=docker/dockerfile:1.7\n#check=skip=all\nFROM a")
    assert parsed.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=all"}
    assert (
        parse_dockerfile("# syntax = docker/dockerfile:1\nFROM a").syntax == "docker/dockerfile:1"
    )


def test_exec_form_is_flagged() -> None:
    instructions = parse_instructions('FROM a\nCMD ["a"]\nCMD a').instructions
    assert [i.json for i in instructions] == [False, True, False]


def test_onbuild_holds_its_trigger() -> None:
    onbuild = parse_instructions("FROM a\nONBUILD COPY --chown=1 . /app").instructions[1]
    assert onbuild.keyword == "ONBUILD"
    assert onbuild.trigger is not None
    assert (onbuild.trigger.keyword, onbuild.trigger.args, onbuild.trigger.flags) == (
        "COPY",
        (".", "/app"),
        ("--chown=1",),
    )


def test_flag_values() -> None:
    run = parse_instructions(
        "FROM a\nRUN --mount=type=cache,target=/a --mount=type=secret,id=x --network=none make"
    ).instructions[1]
    assert run.flag_values("mount") == ("type=cache,target=/a", "type=secret,id=x")
    assert run.flag("network") == "none"
    assert run.flag("security") is None


# (case id, text after FROM line, expected heredocs of the second instruction, its end line)
HEREDOC_CASES = [
    (
        "RUN with a heredoc body",
        "RUN <<EOF\napt-get update\napt-get install -y curl\nEOF",
        [Heredoc("EOF", "apt-get update\napt-get install -y curl\n", True, False)],
        5,
    ),
    (
        "COPY of an inline file",
        "COPY <<EOF /etc/app.conf\nport=80\nEOF",
        [Heredoc("EOF", "port=80\n", True, False)],
        4,
    ),
    (
        "several heredocs on one line, read in order",
        "COPY <<ONE <<TWO /dst/\nfirst\nONE\nsecond\nTWO",
        [Heredoc("ONE", "first\n", True, False), Heredoc("TWO", "second\n", True, False)],
        6,
    ),
    (
        "<<- strips leading tabs from the terminator",
        "RUN <<-EOF\n\techo hi\n\tEOF",
        [Heredoc("EOF", "\techo hi\n", True, True)],
        4,
    ),
    (
        "a quoted delimiter turns expansion off",
        "RUN <<'EOF'\necho $HOME\nEOF",
        [Heredoc("EOF", "echo $HOME\n", False, False)],
        4,
    ),
    (
        "a partly quoted delimiter too",
        'RUN <<E"O"F\necho $HOME\nEOF',
        [Heredoc("EOF", "echo $HOME\n", False, False)],
        4,
    ),
    (
        "a file descriptor before <<",
        "RUN 3<<EOF\nx\nEOF",
        [Heredoc("EOF", "x\n", True, False, 3)],
        4,
    ),
    (
        "a heredoc feeding a program",
        "RUN python3 <<PY\nprint('hi')\nPY",
        [Heredoc("PY", "print('hi')\n", True, False)],
        4,
    ),
    (
        "comments and instructions inside a body are body text",
        "RUN <<EOF\n# not a comment\nFROM not-an-instruction\nEOF",
        [Heredoc("EOF", "# not a comment\nFROM not-an-instruction\n", True, False)],
        5,
    ),
    (
        "a quoted << is not a heredoc",
        'RUN echo "<<EOF"',
        [],
        2,
    ),
    (
        "the exec form has no heredocs",
        'RUN ["cat", "<<EOF"]',
        [],
        2,
    ),
    (
        "CRLF bodies keep their line endings",
        "RUN <<EOF\r\necho hi\r\nEOF\r",
        [Heredoc("EOF", "echo hi\r\n", True, False)],
        4,
    ),
]


@pytest.mark.parametrize(
    ("text", "heredocs", "end_line"),
    [c[1:] for c in HEREDOC_CASES],
    ids=[c[0] for c in HEREDOC_CASES],
)
def test_heredocs(text: str, heredocs: list[Heredoc], end_line: int) -> None:
    instructions = parse_instructions("FROM a\n" + text + "\nRUN after").instructions
    assert list(instructions[1].heredocs) == heredocs
    assert instructions[1].end_line == end_line
    assert instructions[2].line == end_line + 1
    assert instructions[2].args == ("after",)


def test_heredoc_body_strips_tabs_when_chomped() -> None:
    heredoc = (
        parse_instructions("FROM a\nRUN <<-EOF\n\t\techo hi\n\tEOF").instructions[1].heredocs[0]
    )
    assert heredoc.content == "\t\techo hi\n"
    assert heredoc.body == "echo hi\n"


def test_onbuild_run_heredoc() -> None:
    onbuild = parse_instructions("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF").instructions[1]
    assert onbuild.heredocs == (Heredoc("EOF", "echo hi\n", True, False),)


# (case id, Dockerfile, line, whole message)
ERROR_CASES = [
    ("empty file", "", 1, "file with no instructions"),
    ("only comments", "# hello\n# world\n\n", 3, "file with no instructions"),
    ("unterminated heredoc", "FROM a\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc"),
    ("FROM without arguments", "FROM", 1, "FROM requires either one or three arguments"),
    ("FROM with two arguments", "FROM a b", 1, "FROM requires either one or three arguments"),
    (
        "stage name with symbols",
        "FROM a AS 1st",
        1,
        'invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
    ),
    (
        "COPY without destination",
        "FROM a\nCOPY onlyone",
        2,
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
    ),
    ("ENV without value", "FROM busybox\n\nENV PATH", 3, "ENV must have two arguments"),
    ("ENV without arguments", "FROM a\nENV", 2, "ENV requires at least one argument"),
    ("ARG without arguments", "ARG\nFROM a", 1, "ARG requires at least one argument"),
    ("ARG with a blank name", "ARG =x\nFROM a", 1, "ARG names can not be blank"),
    ("WORKDIR without path", "FROM a\nWORKDIR", 2, "WORKDIR requires exactly one argument"),
    ("USER without name", "FROM a\nUSER", 2, "USER requires exactly one argument"),
    ("EXPOSE without port", "FROM a\nEXPOSE", 2, "EXPOSE requires at least one argument"),
    ("ONBUILD without trigger", "FROM a\nONBUILD", 2, "ONBUILD requires at least one argument"),
    (
        "ONBUILD ONBUILD",
        "FROM a\nONBUILD ONBUILD RUN x",
        2,
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    ),
    ("ONBUILD FROM", "FROM a\nONBUILD FROM b", 2, "FROM isn't allowed as an ONBUILD trigger"),
    ("unknown instruction", "FROM a\nFOO bar", 2, "unknown instruction: FOO"),
    ("unknown instruction keeps its case", "FROM a\nfoo bar", 2, "unknown instruction: foo"),
    ("unknown flag", "FROM a\nCOPY --user=me a b", 2, "unknown flag: --user"),
    ("duplicate flag", "FROM a\nCOPY --from=x --from=y a b", 2, "duplicate flag specified: --from"),
    ("string flag without value", "FROM a\nCOPY --from a b", 2, "missing a value on flag: --from"),
    (
        "bool flag with a word",
        "FROM a\nCOPY --link=maybe a b",
        2,
        "expecting boolean value for flag --link, not: maybe",
    ),
    (
        "JSON array of non-strings",
        'FROM a\nCMD [ "echo", [ "nested json" ] ]',
        2,
        "when using JSON array syntax, arrays must be comprised of strings only",
    ),
    (
        "SHELL in shell form",
        "FROM a\nSHELL /bin/bash -c",
        2,
        "SHELL requires the arguments to be in JSON form",
    ),
    (
        "HEALTHCHECK of unknown type",
        "FROM a\nHEALTHCHECK FOO x",
        2,
        'Unknown type "FOO" in HEALTHCHECK (try CMD)',
    ),
    (
        "HEALTHCHECK NONE with arguments",
        "FROM a\nHEALTHCHECK NONE x",
        2,
        "HEALTHCHECK NONE takes no arguments",
    ),
    (
        "HEALTHCHECK without arguments",
        "FROM a\nHEALTHCHECK",
        2,
        "HEALTHCHECK requires at least one argument",
    ),
    (
        "repeated directive",
        "# escape=\\\n# escape=`\nFROM a",
        2,
        "only one escape parser directive can be used",
    ),
    (
        "bad escape token",
        "# escape=x\nFROM a",
        1,
        "invalid escape token 'x' does not match ` or \\",
    ),
    (
        "COPY to a heredoc",
        "FROM a\nCOPY a <<EOF\nx\nEOF",
        2,
        "COPY cannot accept a heredoc as a destination",
    ),
    (
        "ENV word without =",
        "FROM a\nENV A=1 B",
        2,
        'Syntax error - can\'t find = in "B". Must be of the form: name=value',
    ),
    (
        "unquoted CSV quote in a mount",
        'FROM a\nRUN --mount=type=bind,source=a\\"b make',
        2,
        'failed to parse csv mounts: bare " in non-quoted-field',
    ),
    (
        "a physical line over BuildKit's 64 KiB limit",
        "FROM a\nRUN " + "x" * 70_000,
        2,
        "dockerfile line greater than max allowed size of 65535",
    ),
    # Issue 14: what BuildKit checks of values when it parses, and in which order.
    ("\u017fHELL is no SHELL", 'FROM a\n\u017fHELL ["sh"]', 2, "unknown instruction: \u017fHELL"),
    (
        "a second byte-order mark",
        "\ufeff\ufeffFROM a",
        1,
        "unknown instruction: \ufeffFROM (a byte-order mark U+FEFF; BuildKit drops only one, "
        "at the file's start)",
    ),
    (
        "HEALTHCHECK bad interval",
        "FROM a\nHEALTHCHECK --interval=abc CMD x",
        2,
        'time: invalid duration "abc"',
    ),
    (
        "HEALTHCHECK interval without unit",
        "FROM a\nHEALTHCHECK --timeout=5 CMD x",
        2,
        'time: missing unit in duration "5"',
    ),
    (
        "HEALTHCHECK interval unit",
        "FROM a\nHEALTHCHECK --timeout=5d CMD x",
        2,
        'time: unknown unit "d" in duration "5d"',
    ),
    (
        "HEALTHCHECK interval under 1ms",
        "FROM a\nHEALTHCHECK --start-interval=10us CMD x",
        2,
        'Interval "start-interval" cannot be less than 1ms',
    ),
    (
        "HEALTHCHECK negative retries",
        "FROM a\nHEALTHCHECK --retries=-1 CMD x",
        2,
        "--retries cannot be negative (-1)",
    ),
    (
        "HEALTHCHECK retries not a number",
        "FROM a\nHEALTHCHECK --retries=3x CMD x",
        2,
        'strconv.ParseInt: parsing "3x": invalid syntax',
    ),
    (
        "HEALTHCHECK retries past int32",
        "FROM a\nHEALTHCHECK --retries=2147483648 CMD x",
        2,
        'strconv.ParseInt: parsing "2147483648": value out of range',
    ),
    (
        "HEALTHCHECK flags before the type",
        "FROM a\nHEALTHCHECK --x=1 BOGUS x",
        2,
        "unknown flag: --x",
    ),
    (
        "HEALTHCHECK's type ends at a blank byte",
        "FROM a\nHEALTHCHECK CMD\u00a0x",
        2,
        'Unknown type "CMD\ufffd" in HEALTHCHECK (try CMD)',
    ),
    ("RUN network", "FROM a\nRUN --network=bridge x", 2, 'invalid network mode "bridge"'),
    ("RUN security", "FROM a\nRUN --security=foo x", 2, 'security "foo" is not valid'),
    (
        "RUN device field",
        "FROM a\nRUN --device=/dev/a,ro x",
        2,
        "invalid field 'ro' must be a key=value pair",
    ),
    (
        "RUN device name twice",
        "FROM a\nRUN --device=/dev/a,name=b x",
        2,
        "device name already set to /dev/a",
    ),
    (
        "RUN device required",
        "FROM a\nRUN --device=name=a,required=maybe x",
        2,
        "invalid value for required: maybe",
    ),
    (
        "RUN device csv",
        "FROM a\nRUN --device='a\"b' x",
        2,
        'failed to parse csv devices: bare " in non-quoted-field',
    ),
    (
        "RUN devices before mounts",
        "FROM a\nRUN --mount=from=$X --device=a,ro x",
        2,
        "invalid field 'ro' must be a key=value pair",
    ),
    ("VOLUME of blanks", 'FROM a\nVOLUME [" "]', 2, "VOLUME specified can not be an empty string"),
    (
        "VOLUME word of Unicode blanks",
        "FROM a\nVOLUME a \u3000 b",
        2,
        "VOLUME specified can not be an empty string",
    ),
    (
        "no build stage before a later error",
        "RUN x\nFROM a\nFOO y",
        1,
        "no build stage in current context",
    ),
    (
        "an instruction's own error before no build stage",
        "RUN --x=1 y\nFROM a",
        1,
        "unknown flag: --x",
    ),
    (
        "the parser's errors before the instructions'",
        "FROM a\nFOO x\nRUN <<EOF\n",
        3,
        "unterminated heredoc",
    ),
    (
        "deep JSON is still an array",
        "FROM a\nCMD " + "[" * 1500 + "]" * 1500,
        2,
        "when using JSON array syntax, arrays must be comprised of strings only",
    ),
    (
        "ONBUILD trigger upper-cased as Go does",
        "FROM a\nONBUILD onbu\u0131ld RUN x",
        2,
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "message"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_rejected(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_instructions(text, path="svc/Dockerfile")
    assert caught.value.message == message
    assert caught.value.line == line
    assert caught.value.path == "svc/Dockerfile"
    assert str(caught.value).startswith(f"svc/Dockerfile:{line}: {message}")


def test_error_quotes_the_offending_text_with_a_caret() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_instructions("FROM a\nCOPY --user=me a b", path="Dockerfile")
    assert str(caught.value) == (
        "Dockerfile:2: unknown flag: --user\n    COPY --user=me a b\n    ^~~~~~~~~~~~~~~~~~"
    )


def test_empty_continuation_line_is_a_diagnostic() -> None:
    parsed = parse_instructions("FROM a\nRUN one \\\n\n two", path="x/Dockerfile")
    assert [(d.code, d.line, d.path) for d in parsed.diagnostics] == [
        ("empty-continuation-line", 4, "x/Dockerfile")
    ]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("type=cache,target=/root/.cache", ["type=cache", "target=/root/.cache"]),
        ('"source=a,b",target=/x', ["source=a,b", "target=/x"]),
        ('"say ""hi""",x', ['say "hi"', "x"]),
        ("", [""]),
        ("a,,b", ["a", "", "b"]),
    ],
)
def test_csv_fields(text: str, fields: list[str]) -> None:
    assert csv_fields(text) == fields
