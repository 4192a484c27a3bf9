"""The outline route (imagegraph._fastpath) against the full parser: same stages, parents,
diagnostics and errors on every input, and the fast route taken where it should be."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import ImageGraphError, parse_dockerfile
from imagegraph._fastpath import outline
from imagegraph.dockerfile import Dockerfile, prepare_dockerfile, resolve_dockerfile
from imagegraph.instructions import ParsedInstructions, _LineParser, parse_instructions
from imagegraph.packages import dockerfile_packages
from tests.property.strategies import dockerfile_shaped, image, name, simple_dockerfile, variable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _summary(dockerfile: Dockerfile) -> tuple[object, ...]:
    stages = tuple(dataclasses.replace(stage, instructions=()) for stage in dockerfile.stages)
    return (
        stages, dockerfile.args, dockerfile.parents, dockerfile.diagnostics,
        dockerfile.directives, dockerfile.escape, dockerfile.build_args,
    )  # fmt: skip


def _routes(
    text: str | bytes, args: dict[str, str] | None, summary: Callable[[Dockerfile], object]
) -> tuple[object, object]:
    """*summary* of the full parse of *text* and of its prepared (outline) reading,
    or the error each raises."""
    try:
        full: object = summary(parse_dockerfile(text, path="Dockerfile", build_args=args))
    except ImageGraphError as err:
        full = ("error", str(err))
    try:
        prepared = prepare_dockerfile(text, path="Dockerfile")
        fast: object = summary(resolve_dockerfile(prepared, build_args=args, path="Dockerfile"))
    except ImageGraphError as err:
        fast = ("error", str(err))
    return full, fast


def _both(text: str | bytes, args: dict[str, str] | None = None) -> tuple[object, object]:
    return _routes(text, args, _summary)


def _instructions_both(text: str) -> tuple[object, object]:
    """parse_instructions (fast route where it applies) against the line parser alone."""

    def summary(function: Callable[[], ParsedInstructions]) -> object:
        try:
            parsed = function()
        except ImageGraphError as err:
            return ("error", str(err))
        written = [i.written for i in parsed.instructions]  # not compared by ==
        return parsed.instructions, written, parsed.directives, parsed.escape, parsed.diagnostics

    return (
        summary(lambda: _LineParser(text, None, validate=True).run()),
        summary(lambda: parse_instructions(text)),
    )


def _packages_both(text: str | bytes, args: dict[str, str] | None = None) -> tuple[object, object]:
    """What the package reader finds in the whole file and in its outline (the scan's
    reading, kept in the parse cache), for every target: the same packages and notes."""

    def summary(dockerfile: Dockerfile) -> object:
        found = []
        for target in [None, *(stage.name for stage in dockerfile.stages if stage.name)]:
            try:
                use = dockerfile_packages(dockerfile, target)
            except ImageGraphError as err:
                found.append(("error", str(err)))
            else:
                found.append((use.packages, use.diagnostics))
        return found

    return _routes(text, args, summary)


COMPARE = pytest.mark.parametrize(
    "compare",
    [_both, _instructions_both, _packages_both],
    ids=["stages", "instructions", "packages"],
)


# (text, whether the fast route reads it)
CASES = [
    ("FROM alpine\nRUN make\n", True),
    (
        "ARG B=debian:12\nFROM ${B} AS build\nRUN --mount=type=cache,target=/c make\nFROM build\n",
        True,
    ),
    (
        "FROM a AS b\nRUN --mount=type=bind,from=b,target=/x true\nFROM c\nCOPY --from=b /x /y\n",
        True,
    ),
    (
        "FROM a\nRUN apt-get update \\\n  # a comment inside\n    && apt-get install -y curl\nUSER 1\n",
        True,
    ),
    ("FROM a\nRUN echo a \\\n\n  b\n", False),  # empty continuation line: a warning
    ("FROM a\r\nRUN b\r\n", False),
    ("FROM a\nRUN <<EOF\nset -e\nEOF\n", False),
    ("# escape=`\nFROM a\nRUN echo `\n  b\n", False),
    ("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n", True),
    ("# a comment\n# syntax=docker/dockerfile:1\nFROM a\n", True),  # not a directive any more
    ('FROM a\nENV A=1 B="two words" C=\'x y\'\nLABEL org.example.v=1\nCMD ["/app", "--x"]\n', True),
    ("FROM a\nENV PATH /usr/bin:$PATH\nEXPOSE 80 443\nWORKDIR /src\nHEALTHCHECK NONE\n", True),
    ("FROM a\nWORKDIR a b\n", True),  # one argument: the whole rest
    ("FROM a\nCOPY onlyone\n", False),  # refused: the full parser says why
    ("FROM a\nENV A\n", False),
    ("FROM a\nCMD --x\n", False),
    ("FROM a\nRUN --bogus=1 make\n", False),
    ("FROM a\nRUN --mount=type=bind,from=$X,target=/x true\n", False),
    ("FROM a\nCOPY --from=0 /a /b\n", True),
    ("RUN early\nFROM a\n", False),
    ("ARG A\n", False),
    ("", False),
    ("FROM a \\", False),
    ("FROM a\nRUN echo \\\\\nUSER 1\n", False),
    ("FROM a\nRUN a \\ \nb\n", True),  # blanks after the escape still continue
    ("\ufeffFROM a\n", True),
    ("FROM a\nonbuild RUN x\nhealthcheck --interval=5s CMD true\n", True),
    ("FROM a AS 1bad\n", False),
    ("FROM --platform=$BUILDPLATFORM golang AS b\nFROM b\n", True),
    ('FROM a\nVOLUME [""]\n', False),
    ('FROM a\nRUN ["a", 1]\n', False),
    ("from a as B\nrun make\ncopy --from=b x y\n", True),
    ("FROM a\nCOPY --FROM=b x y\n", False),  # flags are case-sensitive: unknown flag
    # Found in review: each was read differently by the fast route once.
    ("FROM a\nRUN \v--mount=type=bind,from=build,target=/x make\n", False),
    ("FROM a\nRUN \v[1]\n", False),
    ("FROM a\vb\n", False),
    ("ARG A=x\vB\nFROM a\n", False),
    ("FROM a\nRUN echo \\\n\f\nCOPY --from=b x y\n", False),
    ("FROM a\nRUN --MOUNT=type=cache,target=/x make\n", False),
    ("FROM a\nENV --foo=bar\n", False),
    ("FROM a\nLABEL --x=1\n", False),
    ("FROM a\nHEALTHCHECK CMD []\n", False),
    ("FROM a\nWOR\u212aDIR /x\n", True),  # Go lower-cases KELVIN SIGN to k: WORKDIR
    ('FROM a\nENTRYPO\u0130NT ["x"]\n', True),  # and U+0130 to i
    # BuildKit's last parser differences (issue 14): the full parser's answer, both routes.
    ('FROM a\n\u017fHELL ["sh"]\n', False),  # LONG S lowers to itself: no SHELL
    ("FROM a\nCOPY --from=builder\u00a0/app /x\n", False),  # flags are read byte by byte
    ("FROM a AS b\nCOPY --from=b\u00e9 /a /x\n", True),
    ("FROM a\nRUN --mount=type=cache,id=\u00e9,target=/x make\n", True),
    ("FROM a\nCOPY \u2028--from=x a b\n", False),
    ("FROM a\nHEALTHCHECK CMD\u00a0x\n", False),
    ('FROM a\nRUN <<EOF "\nx\n', False),
    ("FROM a\nCMD [1e999]\n", True),
    ('FROM a\nCMD ["\\ud800"]\n', True),
    ("FROM a\nCMD " + "[" * 1500 + "]" * 1500 + "\n", False),
    ("FROM a\nCMD " + "[" * 10001 + "]" * 10001 + "\n", False),  # a long line: full route
    ('FROM a\nCMD ["a"] b\n', True),
    ("ARG --x=1 A=1\nFROM a\n", True),
    ("FROM a\nSTOPSIGNAL --x SIGTERM\n", True),
    ("FROM a\nHEALTHCHECK --x=1 NONE\n", True),
    ("FROM a\nHEALTHCHECK --interval=abc CMD true\n", False),
    ("FROM a\nHEALTHCHECK --retries=-1 CMD true\n", False),
    ("FROM a\nHEALTHCHECK --interval=1m30s --retries=3 CMD true\n", True),
    ("FROM a\nRUN --network=bridge make\n", False),
    ("FROM a\nRUN --security=foo make\n", False),
    ("FROM a\nRUN --device=/dev/x,bogus=1 make\n", False),
    ("FROM a\nRUN --network=none --device=/dev/x,required make\n", True),
    ('FROM a\nVOLUME [" "]\n', False),
    ("RUN x\nFROM a\nFOO y\n", False),
    ("\ufeff\ufeffFROM a\n", False),
    ("FROM a AS b\nFROM b\nCOPY --from=B\u0130 x y\n", True),
    # a comment line that ends like a continuation, before a RUN the package reader needs
    ("FROM a AS s0a\n  # indented comment \\\nRUN apt-get install -y curl=8.5\n", True),
]


@COMPARE
@pytest.mark.parametrize(("text", "fast"), CASES)
def test_outline_matches_full_parser(
    compare: Callable[[str], tuple[object, object]], text: str, fast: bool
) -> None:
    full, quick = compare(text)
    assert quick == full
    assert (outline(text, None) is not None) == fast
    assert (outline(text, None, complete=True) is not None) == fast


def test_outline_keeps_the_logical_line_as_buildkit_joins_it() -> None:
    text = "   \\\n  FROM a\n"
    found = outline(text, None)
    assert found is not None
    assert found.parsed.instructions[0].original == parse_dockerfile(text).instructions[0].original


def test_outline_keeps_only_what_stages_need() -> None:
    text = "ARG V=1\nFROM a:$V AS b\nRUN make\nENV X=1\nCOPY --from=b /x /y\nUSER 1\n"
    found = outline(text, None)
    assert found is not None
    assert [i.keyword for i in found.parsed.instructions] == ["ARG", "FROM", "COPY"]
    assert found.ends == (6,)
    resolved = resolve_dockerfile(prepare_dockerfile(text), build_args={})
    assert resolved.stages[0].end_line == parse_dockerfile(text).stages[0].end_line == 6


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.rglob("Dockerfile*")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_example_fleet_reads_alike(path: Path) -> None:
    full, quick = _both(path.read_bytes(), {"PYTHON_VERSION": "3.12"})
    assert quick == full
    slow, fast = _instructions_both(path.read_text())
    assert fast == slow


_FAST_LINES = st.sampled_from(
    [
        "RUN make", "RUN --mount=type=cache,target=/c make \\\n    && make install",
        "RUN a \\\n  # note\n  b", 'ENV A=1 B="x y"', "ENV PATH /bin:$PATH", "USER 1001",
        'ENTRYPOINT ["/app/run"]', "CMD run", "EXPOSE 8080", "COPY . .", "WORKDIR /src",
        "ARG X=1", "ARG X", "LABEL a.b=c", "HEALTHCHECK CMD true", "COPY --chown=1:1 a b",
        "RUN --network=host make", "", "# comment", "  # indented comment \\",
        "RUN --mount=type=bind,from=base,target=/x true", "ADD a b", "VOLUME /data",
        # what the package reader reads: installers, values, quotes, the JSON form
        "RUN apt-get install -y curl=8.5", "RUN pip3.12 install flask==3.0.3", "ARG V=2.1",
        "RUN apk add --no-cache \\\n    git~2 \\\n    # note\n    curl", "ENV NODE_VERSION=20.1",
        "RUN npm i -g yarn@$NODE_VERSION", 'RUN ap""t-get install -y vim', "RUN echo 'odd",
        'RUN ["apt-get", "install", "-y", "jq"]', "ENV PKG=vim", "RUN make && /usr/bin/yum -y install x",
        "RUN pip install requests==${V}", "ENV A=$PKG B=2", "ARG PKG", "RUN echo 'a' \"b\"",
        "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y tzdata",
        "RUN ./build.sh --go", "env LOWER=1", "Run dnf5 install -y gcc",
    ]
)  # fmt: skip


@st.composite
def fast_shaped(draw: st.DrawFn) -> str:
    """Files mostly in the fast subset, with the shapes it handles and their neighbours."""
    lines = [f"ARG {v}={draw(image)}" for v in draw(st.lists(variable, max_size=2))]
    for index in range(draw(st.integers(1, 3))):
        stage = f"s{index}{draw(name)}"
        lines.append(f"FROM {draw(image)} AS {stage}")
        lines += draw(st.lists(_FAST_LINES, max_size=8))
        if draw(st.booleans()):
            lines.append(
                f"COPY --from={draw(st.sampled_from([stage, 's0x', '0', 'busybox']))} /a /b"
            )
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@COMPARE
@settings(max_examples=300, deadline=None)
@given(fast_shaped())
def test_fast_shaped_files_read_alike(
    compare: Callable[[str], tuple[object, object]], text: str
) -> None:
    full, quick = compare(text)
    assert quick == full


@COMPARE
@settings(max_examples=300, deadline=None)
@given(dockerfile_shaped())
def test_odd_files_read_alike(compare: Callable[[str], tuple[object, object]], text: str) -> None:
    full, quick = compare(text)
    assert quick == full


@settings(max_examples=150, deadline=None)
@given(simple_dockerfile())
def test_plain_files_read_alike(case: tuple[str, list[str]]) -> None:
    full, quick = _both(case[0])
    assert quick == full


_INSTALLER_TEXT = st.lists(
    st.sampled_from(
        [*"aptgeinsl_-.'\"35 /;\n\t$\u00e9\u00ab", "pip", "apt", "python", "dnf", "go", "sh"]
    ),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_INSTALLER_TEXT)
def test_the_quick_installer_test_misses_no_name(text: str) -> None:
    # may_name_one lets the outline skip runs of lines: it may say yes wrongly, never no.
    from imagegraph._installers import MAY_INSTALL, NO_QUOTES, may_name_one

    if MAY_INSTALL.search(text.translate(NO_QUOTES)):
        assert may_name_one(text)


def test_the_outline_keeps_values_only_for_a_file_that_installs() -> None:
    # ENV and stage ARG lines go with the first RUN the package reader needs, not before.
    plain = "FROM a\nENV A=1\nARG B=2\nRUN make\n"
    found = outline(plain, None, packages=True)
    assert found is not None
    assert [i.keyword for i in found.parsed.instructions] == ["FROM"]
    installs = plain + "RUN apt-get install -y curl\n"
    found = outline(installs, None, packages=True)
    assert found is not None
    assert [i.keyword for i in found.parsed.instructions] == ["FROM", "ENV", "ARG", "RUN"]
    assert [i.line for i in found.parsed.instructions] == [1, 2, 3, 5]


@pytest.mark.parametrize(
    "shape",
    [
        lambda n: "FROM a\n" + "# c\n" * n,
        lambda n: "FROM a\n" + "  # c\n" * n + "COPY --from=a x y\n",
        lambda n: "FROM a\nRUN make\n" + "\n# c\n" * n + 'RUN ["x"]\n',
    ],
    ids=["at the end", "before a kept line", "blank and comment lines"],
)
def test_comment_lines_cost_in_proportion_to_their_number(
    shape: Callable[[int], str],
) -> None:
    # Each line no run of trivial lines could end was once tried again as the start
    # of a run: a Dockerfile of comments took quadratic time (a pull request's DoS).
    import time

    def seconds(lines: int) -> float:
        text = shape(lines)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            prepare_dockerfile(text)
            best = min(best, time.perf_counter() - started)
        return best

    small, large = seconds(4_000), seconds(16_000)
    assert large < 8 * small + 0.01, (small, large)  # linear: 4x; quadratic: 16x
