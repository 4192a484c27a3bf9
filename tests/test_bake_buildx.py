"""Bake files as ``docker buildx bake`` reads them: what it refuses, what it evaluates.

Every row of :data:`CASES` was run through the real buildx, built from
docker/buildx's source (``bake -f docker-bake.hcl --print TARGETS``, an
empty environment): a row with ``error`` is a file buildx refuses (exit 1),
a row with ``builds`` gives the values buildx printed. The tests check
imagegraph's reader against the table; with ``IMAGEGRAPH_BUILDX`` naming a
buildx binary, :func:`test_the_table_is_what_buildx_prints` checks the table
against buildx itself again (CI has no buildx: it is skipped there).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph._sources.bake import read_bake
from imagegraph.diagnostics import Severity
from imagegraph.inventory import ConfigError, ImageBuild
from tests.hostile import build, run_cli

EXAMPLE = Path(__file__).parent.parent / "examples" / "fleet"
BUILDX = os.environ.get("IMAGEGRAPH_BUILDX", "")


@dataclass(frozen=True)
class Case:
    text: str
    targets: tuple[str, ...] = ("t",)
    builds: dict[str, dict[str, object]] = field(default_factory=dict)
    """What buildx prints per target: only the fields given are compared."""
    error: str | None = None
    """A part of imagegraph's message for a file buildx refuses."""
    line: int | None = None
    """The line imagegraph's error names (the block's)."""


# Each row: confirmed with the real buildx (bake --print), see the module docstring.
CASES: dict[str, Case] = {
    # --- names that are no variable: refused where buildx evaluates them ----------------------
    "an undefined variable in a tag": Case(
        'target "t" {\n  tags = ["x:${UNDEF}"]\n}\n',
        error="there is no variable named 'UNDEF'",
        line=1,
    ),
    "an undefined variable in a variable nothing uses": Case(
        'variable "X" {\n  default = "1"\n}\nvariable "UNUSED" {\n  default = "${NOPE}"\n}\n'
        'target "t" {\n  tags = ["x:${X}"]\n}\n',
        error="variable 'UNUSED': there is no variable named 'NOPE'",
        line=4,
    ),
    "an undefined variable in a target not asked for": Case(
        'target "b" {\n  tags = ["x:${UNDEF}"]\n}\ntarget "t" {}\n',
        error="target 'b': there is no variable named 'UNDEF'",
        line=1,
    ),
    "an undefined variable in the branch a condition does not take": Case(
        'target "t" {\n  tags = [true ? "x:1" : "x:${UNDEF}"]\n}\n',
        builds={"t": {"tags": ["x:1"]}},
    ),
    "an undefined variable in the branch taken": Case(
        'variable "X" {\n  default = false ? "a" : UNDEF2\n}\ntarget "t" {}\n',
        error="there is no variable named 'UNDEF2'",
        line=1,
    ),
    "an undefined variable after || that is not evaluated": Case(
        'target "t" {\n  args = { A = true || UNDEF }\n}\n', builds={"t": {"args": {"A": "true"}}}
    ),
    "an undefined variable in one matrix combination": Case(
        'target "t" {\n  matrix = { v = ["1", "2"] }\n  name = "t-${v}"\n'
        '  tags = ["x:${v == "1" ? v : UNDEF}"]\n}\n',
        error="there is no variable named 'UNDEF'",
        line=1,
    ),
    "an undefined variable in an attribute imagegraph does not read": Case(
        'target "t" {\n  output = ["type=local,dest=${OUT}"]\n}\n',
        error="there is no variable named 'OUT'",
        line=1,
    ),
    "a variable without a default: null with a type, else empty": Case(
        'variable "X" {\n  type = string\n}\nvariable "Y" {}\n'
        'target "t" {\n  args = { X = X, Y = Y, Z = X == null ? "null" : "set" }\n}\n',
        builds={"t": {"args": {"Y": "", "Z": "null"}}},
    ),
    "a null variable written into a tag": Case(
        'variable "X" {\n  type = string\n}\ntarget "t" {\n  tags = ["a:${X}"]\n}\n',
        error="is null, which cannot be written into a string",
        line=4,
    ),
    "labels that are not a map of strings": Case(
        'target "t" {\n  labels = { K = ["a"] }\n}\n',
        error="'labels' must be a map of strings",
        line=1,
    ),
    # --- inherits ------------------------------------------------------------------------------
    "inherits from a target the file lacks": Case(
        'target "t" {\n  inherits = ["nope"]\n}\n', error="inherits from 'nope'", line=1
    ),
    "inherits with a typo": Case(
        'target "_jvm" {\n  platforms = ["linux/amd64"]\n}\n'
        'target "t" {\n  inherits = ["_jmv"]\n}\n',
        error="did you mean '_jvm'?",
        line=4,
    ),
    # --- functions -----------------------------------------------------------------------------
    "a function buildx does not have": Case(
        'variable "X" {\n  default = tostring(1)\n}\ntarget "t" {}\n',
        error="there is no function named tostring()",
        line=1,
    ),
    "a function buildx lacks in the branch not taken": Case(
        'variable "X" {\n  default = true ? "a" : tostring(1)\n}\n'
        'target "t" {\n  tags = ["x:${X}"]\n}\n',
        builds={"t": {"tags": ["x:a"]}},
    ),
    "length() of a string (strlen() counts characters)": Case(
        'target "t" {\n  args = { N = length("abc") }\n}\n',
        error="length() takes a list or a map",
        line=1,
    ),
    "a call with too many arguments": Case(
        'target "t" {\n  tags = [upper("a", "b")]\n}\n',
        error="upper() takes 1 arguments, not 2",
        line=1,
    ),
    "string functions": Case(
        """variable "V" {
  default = "v1.2.3"
}
target "t" {
  args = {
    FORMAT = format("%s-%03d/%v", "x", 7, true)
    JOIN = join(",", split(".", trimprefix(V, "v")))
    REPLACE = replace(upper(V), ".", "_")
    LOWER = lower("ABC")
    COALESCE = coalesce(null, "fallback")
    COALESCE_EMPTY = "[${coalesce("", "fallback")}]"
    NOTEQUAL = notequal(V, "") ? "set" : "empty"
    LOGIC = and(true, or(false, not(false)))
    LENGTH = strlen(V)
    COUNT = length([V, V])
    SUBSTR = substr(V, 1, 3)
    SUFFIX = trimsuffix("image-dev", "-dev")
    TRIMSPACE = trimspace("  x  ")
    CHOMP = chomp("line\\n")
    SANITIZE = sanitize("a/b:c")
    SHA = substr(sha256("x"), 0, 12)
  }
}
""",
        builds={
            "t": {
                "args": {
                    "FORMAT": "x-007/true",
                    "JOIN": "1,2,3",
                    "REPLACE": "V1_2_3",
                    "LOWER": "abc",
                    "COALESCE": "fallback",
                    "COALESCE_EMPTY": "[]",
                    "NOTEQUAL": "set",
                    "LOGIC": "true",
                    "LENGTH": "6",
                    "COUNT": "2",
                    "SUBSTR": "1.2",
                    "SUFFIX": "image",
                    "TRIMSPACE": "x",
                    "CHOMP": "line",
                    "SANITIZE": "a_b_c",
                    "SHA": "2d711642b726",
                }
            }
        },
    ),
    "collection functions": Case(
        """target "t" {
  args = {
    CONCAT = join(",", concat(["a"], ["b", "c"]))
    FLATTEN = join(",", flatten([["a"], [["b"]], "c"]))
    DISTINCT = join(",", distinct(["b", "a", "b"]))
    CONTAINS = contains(["a", "b"], "b")
    KEYS = join(",", keys({ z = 1, a = 2 }))
    VALUES = join(",", values({ z = "1", a = "2" }))
    LOOKUP = lookup({ a = "1" }, "b", "default")
    ELEMENT = element(["x", "y"], 3)
    INDEX = index(["a", "b"], 1)
    INDEXOF = indexof(["a", "b"], "b")
    RANGE = join(",", range(1, 4))
    SORT = join(",", sort(["b", "c", "a"]))
    MERGE = jsonencode(merge({ a = "1" }, { b = "2" }))
  }
}
""",
        builds={
            "t": {
                "args": {
                    "CONCAT": "a,b,c",
                    "FLATTEN": "a,b,c",
                    "DISTINCT": "b,a",
                    "CONTAINS": "true",
                    "KEYS": "a,z",
                    "VALUES": "2,1",
                    "LOOKUP": "default",
                    "ELEMENT": "y",
                    "INDEX": "b",
                    "INDEXOF": "1",
                    "RANGE": "1,2,3",
                    "SORT": "a,b,c",
                    "MERGE": '{"a":"1","b":"2"}',
                }
            }
        },
    ),
    "numbers, hashes, encodings, paths and format verbs": Case(
        """target "t" {
  args = {
    TRIM = trim("--a-b--", "-")
    REVERSE = reverse("abc")
    SLICE = join(",", slice(["a", "b", "c", "d"], 1, 3))
    COMPACT = join(",", compact(["a", "", "b"]))
    ZIPMAP = jsonencode(zipmap(["a", "b"], [1, 2]))
    REVERSELIST = join(",", reverselist(["a", "b"]))
    ADD = add(1, 2)
    SUB = subtract(5, 7)
    MUL = multiply(3, 4)
    GT = greaterthan(2, 1)
    LE = lessthanorequalto(2, 1)
    MAX = max(1, 5, 3)
    MIN = min(4, 2)
    NEG = negate(3)
    ABS = absolute(-4)
    FLOOR = floor(2.7)
    CEIL = ceil(2.1)
    MD5 = md5("x")
    SHA1 = sha1("x")
    SHA512 = substr(sha512("x"), 0, 16)
    B64 = base64encode("hello")
    B64D = base64decode("aGVsbG8=")
    URL = urlencode("a b&c/d")
    BASE = basename("/a/b/c.txt")
    DIR = dirname("/a/b/c.txt")
    DIR2 = dirname("c.txt")
    JSON = jsonencode({ b = [1, "x", true], a = null })
    FQ = format("%q", "a\\"b")
    FW = format("[%5s][%-5s]", "ab", "cd")
    FF = format("%.2f", 3.14159)
    FD = format("%d", "7")
    FV = format("%v", 1.5)
    DIV = 7 / 2
    MOD = 7 % 3
    RANGE = join(",", range(5, 0, -2))
    RANGE1 = join(",", range(3))
    NUMSTR = "${1.50}"
    BIG = 1e3
    DISTINCT = length(distinct([1, "1"]))
    CONTAINSNUM = contains([1, 2], "2")
    EQ = equal(1, "1")
    SORTN = join(",", sort([10, 9]))
  }
}
""",
        builds={
            "t": {
                "args": {
                    "ABS": "4",
                    "ADD": "3",
                    "B64": "aGVsbG8=",
                    "B64D": "hello",
                    "BASE": "c.txt",
                    "BIG": "1000",
                    "CEIL": "3",
                    "COMPACT": "a,b",
                    "CONTAINSNUM": "false",
                    "DIR": "/a/b",
                    "DIR2": ".",
                    "DISTINCT": "1",
                    "DIV": "3.5",
                    "EQ": "false",
                    "FD": "7",
                    "FF": "3.14",
                    "FLOOR": "2",
                    "FQ": '"a\\"b"',
                    "FV": "1.5",
                    "FW": "[   ab][cd   ]",
                    "GT": "true",
                    "JSON": '{"a":null,"b":[1,"x",true]}',
                    "LE": "false",
                    "MAX": "5",
                    "MD5": "9dd4e461268c8034f5c8564e155c67a6",
                    "MIN": "2",
                    "MOD": "1",
                    "MUL": "12",
                    "NEG": "-3",
                    "NUMSTR": "1.5",
                    "RANGE": "5,3,1",
                    "RANGE1": "0,1,2",
                    "REVERSE": "cba",
                    "REVERSELIST": "b,a",
                    "SHA1": "11f6ad8ec52a2984abaafd7c3b516503785c2072",
                    "SHA512": "a4abd4448c49562d",
                    "SLICE": "b,c",
                    "SORTN": "10,9",
                    "SUB": "-2",
                    "TRIM": "a-b",
                    "URL": "a+b%26c%2Fd",
                    "ZIPMAP": '{"a":1,"b":2}',
                }
            }
        },
    ),
    "for expressions": Case(
        """variable "VERSIONS" {
  default = ["3.11", "3.12", "3.13"]
}
target "t" {
  tags = [for v in VERSIONS : "acme/py:${v}" if v != "3.11"]
  args = { for k, v in { A = "1", B = "2" } : k => "${v}0" }
}
""",
        builds={"t": {"tags": ["acme/py:3.12", "acme/py:3.13"], "args": {"A": "10", "B": "20"}}},
    ),
    "a for expression binds a name a variable has": Case(
        'variable "X" {\n  default = ["a", "b"]\n}\n'
        'variable "v" {\n  default = [for v in X : "${v}-1"]\n}\n'
        'target "t" {\n  tags = [for t in v : "x:${t}"]\n}\n',
        builds={"t": {"tags": ["x:a-1", "x:b-1"]}},
    ),
    "user functions with params and variadic_params": Case(
        """variable "REPO" {
  default = "acme"
}
function "tags" {
  params = [name]
  variadic_params = versions
  result = [for v in versions : "${REPO}/${name}:${v}"]
}
target "t" {
  tags = tags("app", "1", "latest")
}
""",
        builds={"t": {"tags": ["acme/app:1", "acme/app:latest"]}},
    ),
    "a user function names an undefined variable in a branch": Case(
        'function "f" {\n  params = [a]\n  result = true ? a : UNDEF\n}\n'
        'target "t" {\n  tags = [f("x:1")]\n}\n',
        error="function 'f': there is no variable named 'UNDEF'",
        line=1,
    ),
    # --- values that are not there -------------------------------------------------------------
    "a missing map element": Case(
        'variable "M" {\n  default = { a = "1" }\n}\ntarget "t" {\n  args = { X = M["b"] }\n}\n',
        error="the map has no element 'b'",
        line=4,
    ),
    "try() catches a missing map element": Case(
        'variable "M" {\n  default = { a = "1" }\n}\n'
        'target "t" {\n  args = { X = try(M["b"], "none"), Y = can(M["a"]) }\n}\n',
        builds={"t": {"args": {"X": "none", "Y": "true"}}},
    ),
    # --- references to other targets ---------------------------------------------------------
    "target.<name>.<attribute>": Case(
        'target "foo" {\n  dockerfile = "xxx"\n  context = target.bar.context\n}\n'
        'target "bar" {\n  dockerfile = target.foo.dockerfile\n  context = "yyy"\n'
        "  target = target.bar.context\n}\n",
        targets=("foo", "bar"),
        builds={
            "foo": {"dockerfile": "yyy/xxx", "context": "yyy"},
            "bar": {"dockerfile": "yyy/xxx", "context": "yyy", "target": "yyy"},
        },
    ),
    "target.<name>.name, and an attribute no block sets": Case(
        'target "t" {\n  dockerfile = target.t.name\n  target = target.t.context\n}\n',
        builds={"t": {"dockerfile": "t", "target": None}},
    ),
    "target.<name> of a target renamed by its matrix": Case(
        'target "t" {\n  dockerfile = target.xyz.dockerfile\n}\n'
        'target "abc" {\n  name = "xyz"\n  matrix = {}\n  dockerfile = "foo"\n}\n',
        builds={"t": {"dockerfile": "foo"}},
    ),
    "target.<label> of a target its matrix renamed": Case(
        'target "t" {\n  dockerfile = target.abc.dockerfile\n}\n'
        'target "abc" {\n  name = "xyz"\n  matrix = {}\n  dockerfile = "foo"\n}\n',
        error="there is no target 'abc'",
        line=1,
    ),
    "target: contexts in a loop": Case(
        'target "t" {\n  contexts = { m = "target:mid" }\n}\n'
        'target "mid" {\n  contexts = { t = "target:t" }\n}\n',
        error="targets take each other as contexts in a loop: t -> mid -> t",
        line=4,  # the target whose context closes the loop
    ),
    "a target that takes itself as a context": Case(
        'target "t" {\n  contexts = { m = "target:t" }\n}\n',
        error="takes itself as a context",
        line=1,
    ),
    "a context target without all of the platforms": Case(
        'target "t" {\n  platforms = ["linux/amd64", "linux/riscv64"]\n'
        '  contexts = { m = "target:mid" }\n}\n'
        'target "mid" {\n  platforms = ["linux/amd64", "linux/arm64"]\n}\n',
        error="only for linux/amd64, linux/arm64",
        line=1,
    ),
    "a context target with more platforms": Case(
        'target "t" {\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        '  contexts = { m = "target:mid" }\n}\n'
        'target "mid" {\n  platforms = ["linux/amd64", "linux/arm64", "linux/riscv64"]\n}\n',
        targets=("t",),
        builds={
            "t": {"platforms": ["linux/amd64", "linux/arm64"]},
            "mid": {"platforms": ["linux/amd64", "linux/arm64", "linux/riscv64"]},
        },
    ),
    # --- variable validation -------------------------------------------------------------------
    "a validation that fails": Case(
        'variable "FOO" {\n  default = ""\n  validation {\n    condition = FOO != ""\n'
        '    error_message = "FOO is required."\n  }\n}\ntarget "t" {}\n',
        error="fails its validation: 'FOO is required.'",
        line=1,
    ),
    "a validation that holds": Case(
        'variable "FOO" {\n  default = "x"\n  validation {\n    condition = FOO != ""\n'
        '    error_message = "FOO is required."\n  }\n}\ntarget "t" {\n  tags = ["a:${FOO}"]\n}\n',
        builds={"t": {"tags": ["a:x"]}},
    ),
    # --- what bake builds ----------------------------------------------------------------------
    "empty tags and platforms are dropped": Case(
        'target "t" {\n  tags = ["a:1", ""]\n  platforms = ["", "linux/amd64"]\n}\n',
        builds={"t": {"tags": ["a:1"], "platforms": ["linux/amd64"]}},
    ),
    "platforms bake parses": Case(
        'target "t" {\n  platforms = ["linux/foo", "amd64", "x86_64", "Linux/AMD64", "local", '
        '"windows(10.0.17763)/amd64", "linux/arm/v7"]\n}\n',
        builds={
            "t": {
                "platforms": [
                    "linux/foo",
                    "amd64",
                    "x86_64",
                    "Linux/AMD64",
                    "local",
                    "windows(10.0.17763)/amd64",
                    "linux/arm/v7",
                ]
            }
        },
    ),
    "a platform that is no operating system or architecture": Case(
        'target "t" {\n  platforms = ["linux/amd64", "a"]\n}\n',
        error="platform 'a' is refused by bake",
        line=1,
    ),
    "a platform of four parts": Case(
        'target "t" {\n  platforms = ["linux/arm64/v8/x"]\n}\n',
        error="it is not os[/arch[/variant]]",
        line=1,
    ),
    "lookup() without a default": Case(
        'variable "M" {\n  default = { a = "1" }\n}\n'
        'target "t" {\n  args = { A = lookup(M, "a") }\n}\n',
        error="lookup() takes 3 arguments, not 2",
        line=4,
    ),
    "a group and a target of one name": Case(
        'group "foo" {\n  targets = ["foo"]\n}\ntarget "foo" {\n  dockerfile = "bar"\n}\n'
        'target "image" {\n  inherits = ["foo"]\n}\n',
        targets=("foo", "image"),
        builds={"foo": {"dockerfile": "bar"}, "image": {"dockerfile": "bar"}},
    ),
    "two blocks of one label with their own names": Case(
        'target "x" {\n  name = "y"\n  matrix = {}\n  dockerfile = "foo"\n}\n'
        'target "x" {\n  name = "z"\n  matrix = {}\n  dockerfile = "bar"\n}\n',
        targets=("x",),
        builds={"y": {"dockerfile": "foo"}, "z": {"dockerfile": "bar"}},
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "docker-bake.hcl"
    path.write_text(text, encoding="utf-8")
    return path


def fields(build: ImageBuild) -> dict[str, object]:
    """A build as bake prints a target (paths relative to the bake file's directory)."""
    return {
        "tags": [t.text or t.familiar for t in build.tags],
        "args": dict(build.args),
        "platforms": list(build.platforms),
        "dockerfile": build.dockerfile,
        "context": build.context,
        "target": build.target,
    }


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_imagegraph_reads_what_buildx_reads_and_refuses_what_it_refuses(
    tmp_path: Path, case: Case
) -> None:
    path = write(tmp_path, case.text)
    if case.error is not None:
        with pytest.raises(ConfigError) as caught:
            read_bake(path, tmp_path, aliases={}, targets=list(case.targets))
        assert (caught.value.path, caught.value.line) == ("docker-bake.hcl", case.line)
        assert case.error in caught.value.message
        return
    result = read_bake(path, tmp_path, aliases={}, targets=list(case.targets))
    assert [d for d in result.diagnostics if d.severity is not Severity.INFO] == []
    got = {b.name: fields(b) for b in result.builds}
    assert set(got) == set(case.builds)
    for name, expected in case.builds.items():
        assert {k: got[name][k] for k in expected} == expected


def test_a_value_known_only_when_bake_runs_is_left_out_with_a_warning(tmp_path: Path) -> None:
    # buildx prints the date of the day; imagegraph cannot know it: the tag is left out, said so.
    text = 'target "t" {\n  tags = ["a:1", "a:${formatdate("YYYYMMDD", timestamp())}"]\n}\n'
    result = read_bake(write(tmp_path, text), tmp_path, aliases={})
    assert [t.familiar for t in result.builds[0].tags] == ["a:1"]
    assert [(d.code, d.severity, d.line) for d in result.diagnostics] == [
        ("bake-unresolved", Severity.WARNING, 1)
    ]
    assert "timestamp() is known only when bake runs" in result.diagnostics[0].message


def test_a_group_member_that_cannot_be_named_is_an_error(tmp_path: Path) -> None:
    # A build the group names would leave the plan: never without an error.
    text = 'group "default" {\n  targets = [cidrhost("10.0.0.0/8", 2)]\n}\ntarget "t" {}\n'
    result = read_bake(write(tmp_path, text), tmp_path, aliases={})
    assert [(d.code, d.severity, d.line) for d in result.diagnostics] == [
        ("bake-unresolved", Severity.ERROR, 1)
    ]


def test_a_function_that_calls_itself_is_refused(tmp_path: Path) -> None:
    text = (
        'function "f" {\n  params = [a]\n  result = f(a)\n}\ntarget "t" {\n  tags = [f("x:1")]\n}\n'
    )
    with pytest.raises(ConfigError, match="calls itself") as caught:
        read_bake(write(tmp_path, text), tmp_path, aliases={})
    assert caught.value.line == 5


def test_the_example_fleet_with_an_inherits_typo_fails_the_plan(tmp_path: Path) -> None:
    """Issue 13: one typo in ``inherits`` took billing and search-indexer out of the plan
    with a warning and exit 0; now the command fails, naming the file and the line."""
    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLE, fleet)
    bake = fleet / "docker-bake.hcl"
    text = bake.read_text(encoding="utf-8")
    assert text.count('inherits = ["_jvm-app"]') == 2
    bake.write_text(text.replace('inherits = ["_jvm-app"]', 'inherits = ["_jvm-ap"]', 1))
    line = bake.read_text(encoding="utf-8").splitlines().index('target "billing" {') + 1
    ran = run_cli(["plan", "fleet", "--changed", "debian:bookworm"], cwd=tmp_path)
    assert ran.code == 1
    assert f"docker-bake.hcl:{line}:" in ran.stderr
    assert "did you mean '_jvm-app'?" in ran.stderr
    assert ran.stdout == ""


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"docker-bake.hcl": 'target "t" {\n  tags = ["x:${SECRET_NAME}"]\n}\n'}, "SECRET_NAME"),
        ({"docker-bake.hcl": 'target "t" {\n  inherits = ["base"]\n}\n'}, "'base'"),
        ({"docker-bake.hcl": 'variable "V" {\n  default = env("HOME")\n}\n'}, "env()"),
    ],
    ids=["undefined variable", "missing parent", "unknown function"],
)
def test_the_command_line_stops_on_what_buildx_refuses(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    root = build(tmp_path / "repo", {"Dockerfile": "FROM debian:bookworm\n", **files})
    ran = run_cli(["plan", ".", "--changed", "debian:bookworm"], cwd=root)
    assert ran.code == 1
    assert ran.stderr.startswith("imagegraph: docker-bake.hcl:")
    assert message in ran.stderr


def run_buildx(directory: Path, targets: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    config = directory / ".docker"
    config.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(directory), "DOCKER_CONFIG": str(config)}
    return subprocess.run(
        [BUILDX, "bake", "-f", "docker-bake.hcl", "--print", *targets],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not BUILDX, reason="IMAGEGRAPH_BUILDX names no buildx binary")
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_table_is_what_buildx_prints(tmp_path: Path, case: Case) -> None:
    write(tmp_path, case.text)
    ran = run_buildx(tmp_path, case.targets)
    if case.error is not None:
        assert ran.returncode != 0, ran.stdout
        return
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout)["target"]
    assert set(printed) == set(case.builds)
    for name, expected in case.builds.items():
        target = printed[name]
        shown = {
            "tags": target.get("tags", []),
            "args": target.get("args", {}),
            "platforms": target.get("platforms", []),
            "dockerfile": posixpath.normpath(
                posixpath.join(target.get("context", "."), target.get("dockerfile", "Dockerfile"))
            ),
            "context": posixpath.normpath(target.get("context", ".")),
            "target": target.get("target"),
        }
        assert {k: shown[k] for k in expected} == expected


def doubling_functions(depth: int) -> str:
    """Functions that each call the next twice: 2**depth calls from a few lines."""
    blocks = [
        f'function "f{i}" {{\n  params = [x]\n  result = f{i + 1}(x) + f{i + 1}(x)\n}}\n'
        for i in range(depth)
    ]
    blocks.append(f'function "f{depth}" {{\n  params = [x]\n  result = x\n}}\n')
    return "".join(blocks)


# Hostile files for what this reader newly evaluates: each must end in an error or a named
# diagnostic, under run_cli's hang guard, and the other target "u" must stay (unless
# buildx refuses the whole file).
HOSTILE: dict[str, tuple[str, str]] = {
    "functions calling the next twice, 30 deep": (
        doubling_functions(30) + 'target "t" {\n  args = { A = f0(1) }\n}\n',
        "expansion-too-large",
    ),
    "a for expression in a for expression, 3,000 by 3,000": (
        'target "t" {\n  args = { A = length(flatten([for a in range(3000) : '
        "[for b in range(3000) : b]])) }\n}\n",
        "expansion-too-large",
    ),
    "distinct() of 200,000 numbers": (
        'target "t" {\n  args = { A = length(distinct(range(200000))) }\n}\n',
        "",
    ),
    "format() padding to a billion characters": (
        'target "t" {\n  tags = [format("x:%999999999s", "a")]\n}\n',
        "bake-unresolved",
    ),
    "format() with a width of 5,000 digits": (
        'target "t" {\n  tags = [format("x:%' + "9" * 5000 + 's", "a")]\n}\n',
        "bake-unresolved",
    ),
    "a function that calls itself through another": (
        'function "f" {\n  params = [x]\n  result = g(x)\n}\n'
        'function "g" {\n  params = [x]\n  result = f(x)\n}\n'
        'target "t" {\n  args = { A = f(1) }\n}\n',
        "calls itself",
    ),
}


@pytest.mark.parametrize(("text", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bake_files_end_in_an_error_or_a_diagnostic(
    tmp_path: Path, text: str, expected: str
) -> None:
    files = {"Dockerfile": "FROM debian:bookworm\n", "docker-bake.hcl": text + 'target "u" {}\n'}
    root = build(tmp_path / "repo", files)
    ran = run_cli(["graph", ".", "--format", "json"], cwd=root)
    if expected == "calls itself":  # buildx refuses the file: nothing is answered
        assert (ran.code, ran.stdout) == (1, "")
        assert ran.stderr.startswith("imagegraph: docker-bake.hcl:9: ")
        return
    assert '"id": "u"' in ran.stdout  # the other target stays
    if expected in ("", "bake-unresolved"):  # read in full, or with a warning: t is there
        assert ran.code == 0, ran.stderr
        assert '"id": "t"' in ran.stdout
        assert expected in ran.stderr
        return
    assert ran.code == 1
    assert "docker-bake.hcl:" in ran.stderr
    assert expected in ran.stderr


PIECES = [
    'target "t" {',
    'function "f" {',
    'variable "V" {',
    "validation {",
    "}",
    "params = [a]",
    "params = []",
    "variadic_params = rest",
    "result = f(a)",
    'result = "${a}-${V}"',
    "result = [for x in rest : x if x != a]",
    'condition = V != ""',
    'error_message = "need ${V}"',
    'default = { a = "1" }',
    "default = [1, 2, 2]",
    'tags = [for v in V : "x:${v}"]',
    'tags = f("x:1")',
    "tags = [f()]",
    "args = { for k, v in V : k => v }",
    'args = { A = try(V["b"], "none"), B = can(V.a) }',
    'args = { A = format("%s-%d", V, 1) }',
    "args = { A = length(V) }",
    'args = { A = lookup(V, "a", null) }',
    "args = { A = distinct(V)[0] }",
    "args = { A = element(V, -1) }",
    "args = { A = range(1, 10, 0) }",
    "platforms = [tostring(1)]",
    "matrix = { i = V }",
    'name = "t-${i}"',
    "{",
    "[for",
    "=>",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_any_bake_text_with_functions_gives_builds_or_a_config_error(
    tmp_path: Path, lines: list[str]
) -> None:
    path = write(tmp_path, "\n".join(lines) + "\n")
    with contextlib.suppress(ConfigError):
        result = read_bake(path, tmp_path, aliases={})
        assert all(d.path == "docker-bake.hcl" for d in result.diagnostics)
