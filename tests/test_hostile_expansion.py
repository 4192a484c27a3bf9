"""Hostile Dockerfile text: expansion, contexts and packages end, in bounded memory (issue 12: 9, 11, 12, 13).

Every row of the tables below is a file a fork's pull request could bring.
What must happen is named (a diagnostic code on a line, an error naming the
file and line 1, a value); what must not happen is checked for every row:
no exception other than imagegraph's own, and, for the exponential rows, no
hour of CPU and no gigabytes (they run once more in a child process with a
1 GiB address-space limit, and through the real CLI with a time bound).
Complexity is checked as a ratio of two sizes in one run, never as a time.
"""

from __future__ import annotations

import contextlib
import gc
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagegraph
from imagegraph import DockerfileSyntaxError, ImageGraphError, _shell, parse_dockerfile
from imagegraph.context import (
    ContextSource,
    DockerIgnore,
    _BadPattern,
    _Glob,
    _glob_tokens,
    context_use,
)
from imagegraph.diagnostics import Diagnostic
from imagegraph.instructions import read_directive
from imagegraph.packages import _PUNCTUATION, _shell_words, dockerfile_packages
from tests.hostile import assert_contained, build, run_cli


def doubling(keyword: str, count: int, *, first: str = "A0=xy") -> str:
    """``KEYWORD A0=xy`` then ``KEYWORD Ai=${A(i-1)}${A(i-1)}``: 2**i characters at line i+1."""
    lines = [f"{keyword} {first}"]
    lines += [f"{keyword} A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, count)]
    return "\n".join(lines) + "\n"


# 2 ** 20 characters is one over the limit of a word: A19 is the last value kept.
FIRST_OVER = 20
ARG_CHAIN = doubling("ARG", 29)  # the 29 lines of 609 bytes: 39 s and 10.5 GB
ENV_CHAIN = "FROM alpine:3\n" + doubling("ENV", 29)
STAGE_CHAIN = "FROM alpine:3 AS s0\nENV A0=xy\n" + "".join(
    f"FROM s{i - 1} AS s{i}\nENV A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 29)
)
SHELL_CHAIN = (
    "FROM alpine:3\nRUN p0=xy; "
    + " ".join(f'p{i}="$p{i - 1}$p{i - 1}";' for i in range(1, 40))
    + " apk add $p39\n"
)
PATTERN = "ARG V=" + "a" * 500 + "\n" + "ARG X=${V//*b/x}\n" * 20 + "FROM alpine:3\n"


def codes(diagnostics: tuple[Diagnostic, ...]) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in diagnostics if d.severity == "error"]


# (id, Dockerfile text, build args, what parse_dockerfile must report: the error
# diagnostics (code, line), and the value of each parent, None for unresolved).
PARSE_CASES = [
    (
        "ARG doubling in the global scope",
        ARG_CHAIN + "FROM alpine:$A28\nFROM alpine:${A5}\n",
        {},
        [("expansion-limit", FIRST_OVER + 1)],
        [None, "alpine:" + "xy" * 32],
    ),
    (
        "one FROM word past the limit from values under it",
        doubling("ARG", FIRST_OVER) + "FROM $A19$A19$A19\n",
        {},
        [("expansion-limit", FIRST_OVER + 1)],
        [None],
    ),
    (
        "FROM --platform past the limit",
        doubling("ARG", FIRST_OVER) + "FROM --platform=$A19$A19 alpine:3\n",
        {},
        [("expansion-limit", FIRST_OVER + 1)],
        ["alpine:3"],
    ),
    (
        "a build argument of the declaration feeds the doubling",
        "ARG A0\n" + doubling("ARG", 12, first="B=1")[len("ARG B=1\n") :] + "FROM $A11\n",
        {"A0": "x" * 4096},
        [("expansion-limit", 10)],  # 4096 * 2**8 = 2**20 at A8; A9 is over
        [None],
    ),
    (
        "many names under the limit, the file past its total",
        doubling("ARG", FIRST_OVER)
        + "".join(f"ARG B{i}=$A19\n" for i in range(20))
        + "FROM alpine:3\n",
        {},
        # 2**20 + 2**19 ... is 2 Mi; the 16 Mi of the file end within 15 copies.
        [("expansion-limit", FIRST_OVER + 15)],
        ["alpine:3"],
    ),
    (
        "pattern work is counted per file, not per expression",
        PATTERN,
        {},
        [("expansion-limit", 3)],  # one ${V//*b/x} on 500 characters is 3/4 of the budget
        ["alpine:3"],
    ),
    (
        "a FROM naming thousands of unknown variables: a short message",
        "FROM " + "".join(f"$V{i}" for i in range(3000)) + "\n",
        {},
        [],
        [None],
    ),
    (
        "reasons of unknown values do not nest (they doubled with every line)",
        "ARG A0\nARG B0\n"
        + "".join(
            f"ARG A{i}=$A{i - 1}$B{i - 1}\nARG B{i}=$A{i - 1}$B{i - 1}\n" for i in range(1, 40)
        )
        + "FROM alpine:$A39\n",
        {},
        [],
        [None],
    ),
]


@pytest.mark.parametrize(
    ("text", "build_args", "errors", "values"),
    [case[1:] for case in PARSE_CASES],
    ids=[case[0] for case in PARSE_CASES],
)
def test_hostile_expansion_in_the_parser(
    text: str, build_args: dict[str, str], errors: list[tuple[str, int]], values: list[str | None]
) -> None:
    df = parse_dockerfile(text, path="Dockerfile", build_args=build_args)
    assert codes(df.diagnostics) == errors
    assert [parent.value for parent in df.parents] == values
    for diagnostic in df.diagnostics:
        assert diagnostic.path == "Dockerfile"
        assert len(diagnostic.message) < 1000, diagnostic.message[:200]
    for parent in df.parents:
        assert parent.resolved or parent.unresolved  # never dropped: unresolved, named


# (id, Dockerfile text, the error diagnostics (code, line) context_use must give,
# the same for dockerfile_packages, and the context sources).
STAGE_CASES = [
    (
        "ENV doubling in a stage",
        ENV_CHAIN + "COPY conf/$A3 /etc/\nCOPY $A28 /x/\n",
        [("expansion-limit", FIRST_OVER + 2)],
        [("expansion-limit", FIRST_OVER + 2)],
        ["conf/" + "xy" * 8, "."],
    ),
    (
        "ENV doubling through a chain of stages",
        STAGE_CHAIN + "COPY $A27 /x/\n",
        [("expansion-limit", 2 * FIRST_OVER + 2)],
        [("expansion-limit", 2 * FIRST_OVER + 2)],
        ["."],
    ),
    (
        "a COPY word past the limit",
        "FROM alpine:3\n" + doubling("ARG", FIRST_OVER) + "COPY $A19$A19 /x/\n",
        [("expansion-limit", FIRST_OVER + 2)],
        [],
        ["."],
    ),
    (
        "a RUN --mount source past the limit",
        "FROM alpine:3\n"
        + doubling("ARG", FIRST_OVER)
        + "RUN --mount=type=bind,source=$A19$A19,target=/s make\n",
        [("expansion-limit", FIRST_OVER + 2)],
        [],
        ["."],
    ),
    (
        "a RUN line past the limit",
        "FROM alpine:3\n" + doubling("ENV", FIRST_OVER) + "RUN apk add $A19 $A19\n",
        [],
        [("expansion-limit", FIRST_OVER + 2)],
        [],
    ),
    (
        "shell variables doubling in one RUN",
        SHELL_CHAIN,
        [],
        [("expansion-limit", 2)],
        [],
    ),
    (
        "a malformed COPY pattern",
        # The lexer drops the backslash first (COPY sources are expanded): [\\]] is []].
        "FROM alpine:3\nCOPY src/[z-a].txt /x/\nCOPY [abc /y/\nCOPY ok/[\\]] /z/\n"
        "COPY ok/[a-c]/ /z/\n",
        [("bad-copy-pattern", 2), ("bad-copy-pattern", 3), ("bad-copy-pattern", 4)],
        [],
        [".", ".", ".", "ok/[a-c]"],
    ),
]


@pytest.mark.parametrize(
    ("text", "context_errors", "package_errors", "sources"),
    [case[1:] for case in STAGE_CASES],
    ids=[case[0] for case in STAGE_CASES],
)
def test_hostile_expansion_in_stages(
    text: str,
    context_errors: list[tuple[str, int]],
    package_errors: list[tuple[str, int]],
    sources: list[str],
) -> None:
    df = parse_dockerfile(text, path="Dockerfile")
    use = context_use(df)
    assert codes(use.diagnostics) == context_errors
    assert [source.pattern for source in use.sources] == sources
    packages = dockerfile_packages(df)
    assert codes(packages.diagnostics) == package_errors
    for diagnostic in (*use.diagnostics, *packages.diagnostics):
        assert diagnostic.path == "Dockerfile"
        assert len(diagnostic.message) < 1000, diagnostic.message[:200]


def test_a_malformed_copy_pattern_covers_every_file() -> None:
    # BuildKit fails on the pattern: any change must reach the build, where that shows.
    assert ContextSource("src/[z-a]", "COPY", 2, "s").covers("anything/at/all")
    assert ContextSource("ok/[\\]]", "COPY", 2, "s").covers("ok/]/x")
    assert not ContextSource("ok/[\\]]", "COPY", 2, "s").covers("ok/a/x")


# -- .dockerignore ------------------------------------------------------------------

# (.dockerignore text, the line of the bad-dockerignore-pattern error or None,
# {path: ignored}). Where a pattern is malformed BuildKit fails the build, so
# nothing is ignored: any change counts.
IGNORE_CASES = [
    ("*.md\n[z-a]\n", 2, {"a.md": False}),  # a backwards range: Docker's regexp does not compile
    ("*.md\n\n[]a]\n", 3, {"a.md": False}),  # Go: a class may not start with ]
    ("[^]\n", 1, {"x": False}),  # Go: an empty negated class
    ("[a-\\]]\n", 1, {"a": False}),  # ']' is before 'a': backwards again
    ("[abc\n", 1, {"a": False}),  # unclosed
    ("a\\\n", 1, {"a": False}),  # a trailing backslash
    ("*.md\n!\n", 2, {"a.md": False}),  # "illegal exclusion pattern"
    ("[a-]\n", 1, {"a": False}),  # a range without its end
    ("[\\]]\n", None, {"]": True, "a": False}),  # an escaped ] is a class of one
    ("[]]\n", 1, {"]": False}),
    ("[!a]x\n", None, {"!x": True, "ax": True, "bx": False}),  # ! is no negation in Go
    ("[^a]x\n", None, {"bx": True, "ax": False}),
    ("[a-c]/**\n", None, {"b/x/y": True, "d/x": False}),
    ("x[*]y\n", None, {"x*y": True, "xay": False}),
    ("[\\-]\n", None, {"-": True}),
]


@pytest.mark.parametrize(("text", "line", "ignored"), IGNORE_CASES)
def test_hostile_dockerignore(text: str, line: int | None, ignored: dict[str, bool]) -> None:
    ignore = DockerIgnore.parse(text, "app/.dockerignore")
    expected = [] if line is None else [("bad-dockerignore-pattern", line)]
    assert codes(ignore.diagnostics) == expected
    assert all(d.path == "app/.dockerignore" for d in ignore.diagnostics)
    assert {path: ignore.ignores(path) for path in ignored} == ignored


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="[]^!-\\*?/ab.\n#", max_size=20), st.text(alphabet="[]^!-\\ab/.", max_size=8)
)
def test_any_dockerignore_reads_and_matches_without_an_exception(text: str, path: str) -> None:
    ignore = DockerIgnore.parse(text, ".dockerignore")
    ignore.ignores(path or "x")
    ContextSource(text.strip() or ".", "COPY", 1, "s").covers(path or "x")


def reference_regex(pattern: str, *, double_star: bool) -> re.Pattern[str]:
    """What the matcher replaced: the tokens as a regular expression (fine on
    small inputs, exponential on hostile ones)."""
    out = []
    for token in _glob_tokens(pattern, double_star=double_star):
        kind = token[0]
        if kind == "=":
            out.append(re.escape(str(token[1])))
        elif kind == "?":
            out.append("[^/]")
        elif kind == "[":
            ranges = "".join(f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in token[2])  # type: ignore[attr-defined]
            out.append(f"[{'^' if token[1] else ''}{ranges}]")
        else:
            out.append({"*": "[^/]*", "**": ".*", "**/": "(?:.*/)?"}[str(kind)])
    return re.compile("".join(out))


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="ab/*?[]^-\\", max_size=10),
    st.text(alphabet="ab/-^]", max_size=10),
    st.booleans(),
)
def test_the_pattern_automaton_matches_as_the_regex_did(
    pattern: str, path: str, double_star: bool
) -> None:
    try:
        glob = _Glob(pattern, double_star=double_star)
    except _BadPattern:
        return
    regex = reference_regex(pattern, double_star=double_star)
    parts = path.split("/")
    expected = any(regex.fullmatch("/".join(parts[: i + 1])) for i in range(len(parts)))
    assert glob.matches_prefix(path) == expected


# (.dockerignore of app/, exit code, whether app/README.md or DEEP reaches the build, must
# say); either is ignored by the *.md or the last pattern where all patterns are well formed.
IGNORE_CLI_CASES = [
    ("*.md\n" + "a/" * 40 + "a" * 60, 0, False, []),
    # Patterns a backtracking regex takes hours on, against a path 40 deep; the last
    # one ignores it.
    ("*.md\n" + "**/" * 12 + "x\n" + "*a" * 10 + "b\n" + "**/" * 12 + "a" * 60, 0, False, []),
    ("*.md\n[z-a]\n", 1, True, ["app/.dockerignore:2", "bad-dockerignore-pattern"]),
    ("*.md\n[^]\n", 1, True, ["app/.dockerignore:2", "bad-dockerignore-pattern"]),
]


DEEP = "app/" + "a/" * 40 + "a" * 60


@pytest.mark.parametrize(("ignore", "code", "reached", "must_say"), IGNORE_CLI_CASES)
def test_a_malformed_dockerignore_through_the_cli(
    tmp_path: Path, ignore: str, code: int, reached: bool, must_say: list[str]
) -> None:
    root = build(
        tmp_path / "repo",
        {
            "app/Dockerfile": "FROM alpine:3\nCOPY . /src\n",
            "app/.dockerignore": ignore,
            "app/README.md": "x",
            DEEP: "x",
        },
    )
    argv = ["plan", "--no-cache", "--changed-files", "-", "--format", "json", "."]
    ran = run_cli(argv, cwd=root, stdin=f"app/README.md\n{DEEP}\n", timeout=60)
    assert ran.code == code, ran.output[-2000:]
    assert ('"name": "app"' in ran.stdout) is reached
    for text in must_say:
        assert text in ran.output
    assert_contained(ran)


# -- encodings ----------------------------------------------------------------------

TEXT = "FROM alpine:3\nRUN apk add curl\n"
ENCODING_CASES = [
    ("utf-16 with a BOM", TEXT.encode("utf-16"), "UTF-16"),
    ("utf-16-le without a BOM", TEXT.encode("utf-16-le"), "UTF-16"),
    ("utf-16-be without a BOM", TEXT.encode("utf-16-be"), "UTF-16"),
    ("utf-16-be with a BOM", b"\xfe\xff" + TEXT.encode("utf-16-be"), "UTF-16"),
    ("utf-32 with a BOM", TEXT.encode("utf-32"), "UTF-32"),
]


@pytest.mark.parametrize(
    ("data", "named"), [c[1:] for c in ENCODING_CASES], ids=[c[0] for c in ENCODING_CASES]
)
def test_wide_encodings_are_named(data: bytes, named: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile(data, path="app/Dockerfile")
    assert (caught.value.path, caught.value.line) == ("app/Dockerfile", 1)
    assert named in caught.value.message
    assert "not supported" in caught.value.message
    assert "\x00" not in str(caught.value)
    prepared = imagegraph.dockerfile.prepare_dockerfile(data, path="app/Dockerfile")
    assert prepared.error is not None
    assert named in str(prepared.error)


def test_invalid_utf8_and_control_bytes_are_read_with_a_warning() -> None:
    df = parse_dockerfile(b"FROM alpine:3\nRUN \xff\x1b[31m \x00 make\nFROM alp\xfeine\n", path="D")
    assert [(d.code, d.line) for d in df.diagnostics] == [
        ("invalid-utf8", 2),
        ("invalid-reference", 3),
    ]
    # The bad byte is a U+FFFD in the message, not a raw byte.
    assert "alp\ufffdine" in df.diagnostics[1].message
    assert "\x00" not in df.diagnostics[1].message


# -- the CLI and memory ---------------------------------------------------------------

CLI_REPOSITORY = {
    "args/Dockerfile": ARG_CHAIN + "FROM alpine:$A28\nRUN apk add curl\n",
    "env/Dockerfile": ENV_CHAIN + "RUN apk add $A28 openssl\nCOPY $A27 /x/\n",
    "stages/Dockerfile": STAGE_CHAIN + "RUN apk add openssl\n",
    "pattern/Dockerfile": PATTERN + "RUN apk add openssl\n",
    "declared/Dockerfile": "ARG A0\n" + doubling("ARG", 29, first="B=1")[8:] + "FROM $A28\n",
    "imagegraph.toml": "".join(
        f'[[image]]\nname = "{name}"\ndockerfile = "{name}/Dockerfile"\n'
        for name in ("args", "env", "stages", "pattern", "wide")
    )
    + '[[image]]\nname = "declared"\ndockerfile = "declared/Dockerfile"\n'
    + 'args = { A0 = "'
    + "x" * 4096
    + '" }\n',
    "wide/Dockerfile": TEXT.encode("utf-16"),
}


@pytest.mark.parametrize(
    ("argv", "code", "must_say"),
    [
        # Exit 1: the errors are reported (on stderr), and the plan is still written.
        (
            ["plan", "--package", "openssl", "--format", "json", "--no-cache"],
            1,
            [
                *("expansion-limit", '"env"', '"stages"', '"pattern"', "declared/Dockerfile:10"),
                *("wide/Dockerfile:1", "UTF-16"),
            ],
        ),
        (["packages", "--no-cache", "--format", "json"], 1, ["expansion-limit", "pkg:apk"]),
        (["parse", "wide/Dockerfile"], 1, ["wide/Dockerfile:1", "UTF-16"]),
    ],
    ids=["plan --package", "packages", "parse utf-16"],
)
def test_hostile_expansion_through_the_cli(
    tmp_path: Path, argv: list[str], code: int, must_say: list[str]
) -> None:
    root = build(tmp_path / "repo", CLI_REPOSITORY)
    ran = run_cli([*argv] if argv[0] == "parse" else [*argv, "."], cwd=root, timeout=60)
    assert ran.code == code, ran.output[-2000:]
    for text in must_say:
        assert text in ran.output, ran.output[-2000:]
    assert "\x00" not in ran.output
    # Values are written as they are (parse shows ARG values), but never past the budget.
    assert len(ran.output) < 4 * _shell.MAX_FILE_CHARS
    assert_contained(ran)


MEMORY_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from imagegraph import parse_dockerfile
from imagegraph.context import context_use
from imagegraph.packages import dockerfile_packages
for text in sys.stdin.read().split("\\0"):
    df = parse_dockerfile(text)
    context_use(df)
    dockerfile_packages(df)
print("ended")
"""


def test_exponential_cases_stay_within_a_gigabyte() -> None:
    texts = [
        ARG_CHAIN + "FROM alpine:$A28\n",
        ENV_CHAIN + "RUN apk add $A28\nCOPY $A28 /x/\n",
        STAGE_CHAIN + "RUN apk add $A27\n",
        SHELL_CHAIN,
    ]
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT],
        input="\0".join(texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ended"


# -- properties -----------------------------------------------------------------------


@pytest.fixture
def tiny_limits() -> Iterator[None]:
    saved = _shell.MAX_WORD_CHARS, _shell.MAX_FILE_CHARS, _shell.MAX_PATTERN_WORK
    _shell.MAX_WORD_CHARS, _shell.MAX_FILE_CHARS, _shell.MAX_PATTERN_WORK = 6, 20, 50
    try:
        yield
    finally:
        _shell.MAX_WORD_CHARS, _shell.MAX_FILE_CHARS, _shell.MAX_PATTERN_WORK = saved


# Lines of Dockerfiles that expand: cheaper to draw than tests.property's strategy.
TEMPLATES = [
    "ARG A={}", "ARG B={}", "ENV V={}", "FROM {} AS t", "COPY {} /d", "RUN apk add {}",
    "RUN --mount=source={} make", "FROM s", 'RUN p={}; q="$p$p"; apk add $q',
    'RUN sh -c "apk add {}"',
]  # fmt: skip
PIECES = [
    "$A", "${B}", "${V//a/b}", "${A#?}", "${B%%b*}", "${A:-$B$B}", "${V:+$A}", "x", "'", '"',
    "\\", "/", "[a-z]", "*",
]  # fmt: skip
lines = st.lists(
    st.tuples(st.sampled_from(TEMPLATES), st.lists(st.sampled_from(PIECES), max_size=6)).map(
        lambda line: line[0].format("".join(line[1]))
    ),
    max_size=8,
).map("\n".join)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines, st.dictionaries(st.sampled_from(["A", "B", "V"]), st.text(max_size=8)))
def test_limits_raise_nothing_but_imagegraph_errors(
    tiny_limits: None, text: str, build_args: dict[str, str]
) -> None:
    # Limits so low that most expansions reach them: every path that stops at a
    # limit runs, and each must end in a result or imagegraph's own error.
    text = "ARG A=abcd\nARG B=$A$A\nFROM x AS s\nENV V=$B$B\n" + text
    try:
        df = parse_dockerfile(text, build_args=build_args)
    except ImageGraphError:
        return
    context_use(df)
    dockerfile_packages(df)


def shlex_words(text: str) -> list[str] | str:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as err:
        return str(err)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="ab \t\r\n;&|()<>'\"\\#$-", max_size=16))
def test_the_linear_splitter_gives_what_shlex_gives(text: str) -> None:
    try:
        mine: list[str] | str = _shell_words(text)
    except ValueError as err:
        mine = str(err)
    assert mine == shlex_words(text)


# -- complexity: ratios of two sizes in one run ---------------------------------------


def cost_ratio(function: Callable[[], object], other: Callable[[], object]) -> float:
    """How many times longer *other* takes than *function*: the best of three timings of
    each, every timing repeated until *function*'s lasts 30 ms (a few milliseconds
    are mostly noise), without the garbage collector (whose passes over every live
    object would make any large enough input look superlinear)."""
    start = time.perf_counter()
    function()
    repeat = max(1, int(0.03 / max(time.perf_counter() - start, 1e-6)))

    def best(target: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeat):
                target()
            times.append(time.perf_counter() - start)
        return min(times)

    gc.collect()
    gc.disable()
    try:
        return best(other) / best(function)
    finally:
        gc.enable()


def chain(n: int) -> str:
    return "FROM alpine:3 AS s0\n" + "".join(
        f"FROM s{i - 1} AS s{i}\nENV V{i}=x\nCOPY f$V{i} /\n" for i in range(1, n)
    )


def fan_in(n: int) -> str:
    stages = "".join(f"FROM alpine:3 AS s{i}\nCOPY f{i} /\n" for i in range(n))
    return stages + "FROM alpine:3\n" + "".join(f"COPY --from=s{i} / /\n" for i in range(n))


def many_variables(n: int) -> str:
    names = "".join(f"$V{i}" for i in range(n))
    return "FROM alpine:3\n" + "".join(f"ARG V{i}=x\n" for i in range(n)) + f"COPY {names} /\n"


def long_word(n: int) -> str:
    # One package word of n * 1,000 characters, over continuation lines.
    return "FROM alpine:3\nRUN apk add a\\\n" + ("b" * 1000 + "\\\n") * n + "c\n"


COMPLEXITY_CASES = [
    ("a chain of stages: context", chain, 1000, context_use),
    ("a chain of stages: packages", chain, 2000, dockerfile_packages),
    ("a final stage copying from every stage", fan_in, 1000, context_use),
    ("many variables in one COPY word", many_variables, 2000, context_use),
    ("one long word in RUN", long_word, 60, dockerfile_packages),
]


@pytest.mark.parametrize(
    ("make", "n", "function"),
    [c[1:] for c in COMPLEXITY_CASES],
    ids=[c[0] for c in COMPLEXITY_CASES],
)
def test_linear_in_the_size_of_the_file(
    make: Callable[[int], str], n: int, function: Callable[[imagegraph.Dockerfile], object]
) -> None:
    small, large = parse_dockerfile(make(n)), parse_dockerfile(make(4 * n))
    ratio = cost_ratio(lambda: function(small), lambda: function(large))
    assert ratio < 8, f"4x the input took {ratio:.1f}x the time: worse than linear"


def test_many_stages_from_one_image_link_in_linear_time(tmp_path: Path) -> None:
    # Each stage is one more use of alpine:3 by the same build: checking every
    # new use against a list of the earlier ones made 20,000 stages take a minute.
    def fleet(n: int) -> Path:
        return build(tmp_path / f"app{n}", {"Dockerfile": fan_in(n)})

    small, large = fleet(1000), fleet(4000)
    assert len(imagegraph.scan(large, cache=False).edges("alpine:3", "app4000")) == 4001
    ratio = cost_ratio(
        lambda: imagegraph.scan(small, cache=False), lambda: imagegraph.scan(large, cache=False)
    )
    assert ratio < 8, f"4x the stages took {ratio:.1f}x the time: worse than linear"


# Lines the fast path's expressions backtracked on, quadratic in their blanks (a
# line of 16 KiB, the most the fast path reads, took seconds; a file holds many).
PARSE_COMPLEXITY_CASES = [
    ("a directive", lambda n: f"# syntax=a{' ' * n}b\n# check=x{' ' * n}\nFROM alpine:3\n"),
    ("an exec form that is not", lambda n: f"FROM a\nRUN [{' ' * n}\t{' ' * n}#\n"),
    ("words before a quote", lambda n: f'FROM a\nCOPY a{" " * n}"\nCOPY a {" " * n}b\n'),
]


@pytest.mark.parametrize(
    "make", [c[1] for c in PARSE_COMPLEXITY_CASES], ids=[c[0] for c in PARSE_COMPLEXITY_CASES]
)
def test_long_blank_runs_are_read_in_linear_time(make: Callable[[int], str]) -> None:
    def parse(text: str) -> None:
        with contextlib.suppress(ImageGraphError):
            parse_dockerfile(text)

    small, large = make(1000), make(4000)
    ratio = cost_ratio(lambda: parse(small), lambda: parse(large))
    assert ratio < 8, f"4x the input took {ratio:.1f}x the time: worse than linear"


DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\s]*=[\s]*(.+?)[\s]*", re.ASCII)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="ab1= \t\r\f\v\n\x1c\xa0`x", max_size=12))
def test_directives_read_as_buildkits_expression_reads_them(text: str) -> None:
    match = DIRECTIVE.fullmatch(text)
    assert read_directive(text) == (None if match is None else match.groups())
