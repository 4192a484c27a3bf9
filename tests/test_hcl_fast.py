"""The fast HCL reader gives python-hcl2's answer exactly, or steps aside.

``imagegraph._sources._hcl.loads`` must return what ``hcl2.loads`` (comments
left out) returns, or ``None`` so that hcl2 reads the file: never another
value, never an exception. Checked on generated bake files (hypothesis), on
every HCL file of this repository's tests and examples, on buildx's own bake
test files when its mirror is present, and on hostile text; and the fast path
must be the one taken for the generated fleets and for typical bake files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imagegraph._sources import _hcl

ROOT = Path(__file__).parent.parent
BUILDX = Path("/work/.mirror/docker+buildx/repo")
OPTIONS = hcl2.SerializationOptions(with_comments=False)


def _hcl2(text: str) -> object:
    try:
        return hcl2.loads(text, serialization_options=OPTIONS)
    except Exception as err:  # whatever hcl2 raises is its refusal
        return ("refused", type(err).__name__)


def _agrees(text: str) -> object:
    """The fast reader's answer when it gives one, checked against hcl2's."""
    fast = _hcl.loads(text)
    if fast is not None:
        want = _hcl2(text)
        assert fast == want, text
        assert repr(fast) == repr(want), text  # the same types, the same key order
    return fast


# --- generated bake files ----------------------------------------------------------------------

NAMES = st.sampled_from(
    ["a", "tags", "context", "args", "x_1", "my-name", "format", "input", "iffy", "nullable"]
)
KEYWORDS = st.sampled_from(["if", "in", "for", "true", "null", "endif"])
SPACE = st.sampled_from(["", " ", "  ", "\t", " \r"])
NEWLINE = st.sampled_from(
    ["\n", "\r\n", "\n\n", " # note\n", "// note\n", "\n/* a\nb */\n", " /* c */\n", "#\n"]
)
STRING_PART = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\$%\n'),
        max_size=6,
    ),
    st.sampled_from(
        [
            '\\"', "\\\\", "\\n", "\\t", "\\u00e9", "\\U0001F600", "\\x", "${A}", "${ TAG }",
            "${a.b}", "${in}", "${true}", "$${A}", "%%{x}", "%{if A}y%{endif}", "$", "%", "$$",
            "é", "\x00", "${f(1)}", "\n", "${ TAG }", "${A}",
        ]
    ),
)  # fmt: skip
STRINGS = st.lists(STRING_PART, max_size=5).map(lambda parts: '"' + "".join(parts) + '"')
NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["007", "-0", "1e3", "1.5E-2", "- 3", "1.", "1_0", "0x10", "-0.0"]),
)
EXPRESSIONS = st.sampled_from(
    [
        "REGISTRY", "true", "false", "null", 'upper("x")', "a.b", "a[0]", "x ? 1 : 2",
        "1 + 2", "[for x in y: x]", "{for k, v in m: k => v}", "-a", "!b", '"a" == "b"',
        'notequal("", X) ? "${X}/app" : "app"', "<<EOT\nFROM x\nEOT\n", "<<-EOT\n  a\n  EOT\n",
        "(1)", "a\n+ b", "f(\n1,\n2\n)", "join(\",\", [\"a\", \"b\"])", "x.*.y", "a::b::c()",
        'f("}")', '"${f("}")}"', '"${X}" # c',
    ]
)  # fmt: skip


def _values(leaf: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        separator = st.sampled_from([",", ", ", ",\n", "\n,", ",\n  ", " ,", "\n"])
        comma = st.sampled_from([",", ", ", ",\n", "\n,", ",\n  ", " ,"])
        lists = st.tuples(
            st.lists(st.tuples(inner, comma), max_size=4),
            st.sampled_from(["", ",", "\n", " "]),
            st.sampled_from(["", "\n", " ", "# c\n"]),
        ).map(lambda t: "[" + t[2] + "".join(v + s for v, s in t[0]).rstrip(",\n ") + t[1] + "]")
        key = st.one_of(
            NAMES, NAMES, STRINGS, STRINGS, KEYWORDS, st.sampled_from(["1", "a.b", "(k)"])
        )
        equals = st.sampled_from([" = ", "=", ": ", " :"])
        objects = st.tuples(
            st.lists(st.tuples(key, equals, inner, separator), max_size=4),
            st.sampled_from(["", "\n", " "]),
        ).map(lambda t: "{" + t[1] + "".join(k + e + v + s for k, e, v, s in t[0]) + t[1] + "}")
        return st.one_of(lists, objects)

    return st.recursive(leaf, extend, max_leaves=8)


VALUES = _values(st.one_of(STRINGS, STRINGS, NUMBERS, NUMBERS, EXPRESSIONS, NAMES))


@st.composite
def bake_files(draw: st.DrawFn) -> str:
    def attribute() -> str:
        name = draw(st.one_of(NAMES, NAMES, NAMES, KEYWORDS, st.just("__is_block__")))
        return name + draw(SPACE) + "=" + draw(SPACE) + draw(VALUES) + draw(SPACE)

    def block(depth: int) -> str:
        kind = draw(st.sampled_from(["target", "group", "variable", "function", "foo", "tags"]))
        labels = draw(
            st.lists(st.one_of(NAMES, STRINGS, st.sampled_from(['"app"', '"a b"'])), max_size=2)
        )
        head = (
            kind
            + "".join(" " + label for label in labels)
            + draw(st.sampled_from([" ", "", " ", "\n"]))
        )
        items = draw(st.lists(st.booleans(), max_size=4))
        inner = [block(depth + 1) if nested and depth < 2 else attribute() for nested in items]
        if draw(st.booleans()) and len(inner) == 1:
            return head + "{ " + inner[0] + " }"
        return head + "{" + draw(NEWLINE) + "".join(i + draw(NEWLINE) for i in inner) + "}"

    items = draw(st.lists(st.booleans(), max_size=5))
    text = draw(st.sampled_from(["", "", "\n", "# head\n", "\ufeff"]))
    text += "".join((block(0) if b else attribute()) + draw(NEWLINE) for b in items)
    if draw(st.booleans()):
        text = text.rstrip("\n")
    if draw(st.integers(0, 4)) == 0 and text:  # now and then, a mistake
        at = draw(st.integers(0, len(text) - 1))
        text = (
            text[:at]
            + draw(st.sampled_from(["", '"', "{", "}", "[", "=", "/*", "<<EOT\n"]))
            + text[at + 1 :]
        )
    return text


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bake_files())
@example('target "app" {\n  tags = ["${REG}/app:${TAG}"]\n}\n')
@example("a = {a = 1 b = 2}")
@example("t\n{}")
@example("a = 1\na {}")
@example("a {}\na = 1\na {}")
def test_the_fast_reader_gives_hcl2s_answer_or_none(text: str) -> None:
    _agrees(text)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_any_attribute_value_is_read_as_hcl2_reads_it(value: str) -> None:
    _agrees(f"x = {value}\n")
    _agrees(f'target "t" {{\n  x = {value}\n}}\n')
    _agrees(f'target "t" {{ x = {value} }}')


# --- real files -------------------------------------------------------------------------------


def _repository_files() -> list[Path]:
    return sorted(
        path for top in ("tests", "examples", "benchmarks") for path in (ROOT / top).rglob("*.hcl")
    )


@pytest.mark.parametrize("path", _repository_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_hcl_file_of_the_repository(path: Path) -> None:
    assert _agrees(path.read_text(encoding="utf-8")) is not None


RAW_STRING = re.compile(r"`([^`]*)`", re.DOTALL)


def _buildx_texts() -> list[str]:
    """buildx's bake test files (the raw strings of its Go tests) and its .hcl files."""
    if not BUILDX.exists():
        return []

    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", str(BUILDX), *args], capture_output=True, check=True)
        return run.stdout.decode("utf-8", "replace")

    names = git("ls-tree", "-r", "HEAD", "--name-only").split("\n")
    texts = [git("show", f"HEAD:{name}") for name in names if name.endswith(".hcl")]
    for name in ("bake/hcl_test.go", "bake/bake_test.go"):
        if name in names:
            texts += [m.group(1) for m in RAW_STRING.finditer(git("show", f"HEAD:{name}"))]
    return texts


def test_buildx_bake_test_files() -> None:
    texts = _buildx_texts()
    if not texts:
        pytest.skip("no mirror of docker/buildx here")
    fast = [text for text in texts if _agrees(text) is not None]
    readable = [text for text in texts if not isinstance(_hcl2(text), tuple)]
    # Every file hcl2 reads is read fast: expressions go to hcl2 one at a time.
    assert len(fast) == len(readable) > 100


def test_the_generated_fleets_take_the_fast_path(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate_fleet import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for seed in (1, 2):
        out = tmp_path / f"fleet{seed}"
        generate(out, 0, seed, dockerfiles=600, format="bake-hcl")
        text = (out / "docker-bake.hcl").read_text(encoding="utf-8")
        assert "matrix" in text
        assert _agrees(text) is not None


TYPICAL = """# A typical bake file
variable "REGISTRY" {
  default = "ghcr.io/acme"
}
variable "TAG" { default = "1.0" }

group "default" {
  targets = ["base", "app"]  // both
}

/* the base image */
target "base" {
  context    = "base"
  dockerfile = "Dockerfile"
  platforms  = ["linux/amd64", "linux/arm64"]
  args = {
    DEBIAN: "bookworm",
    "PY_VERSION" = 3.12
    RETRIES = -1
    CACHE = null
    ON = true
  }
  tags = [
    "${REGISTRY}/base:${TAG}",
    "${ REGISTRY }/base:latest", # and latest
  ]
  labels = { "org.opencontainers.image.title" = "base \\"image\\"" }
}

target "app" {
  inherits = ["base"]
  contexts = { base = "target:base" }
  tags = [tag("app")]
  cache-from = notequal("", TAG) ? ["type=registry,ref=${REGISTRY}/app:cache"] : []
  dockerfile-inline = <<EOT
FROM base
RUN echo "${TAG}"
EOT
  matrix = {
    tgt = ["a", "b"]
  }
  name = "app-${tgt}"
}

function "tag" {
  params = [name]
  result = "${REGISTRY}/${name}:${TAG}"
}
"""


def test_a_typical_bake_file_takes_the_fast_path() -> None:
    assert _agrees(TYPICAL) is not None
    assert _agrees(TYPICAL.replace("\n", "\r\n")) is not None


# --- hostile text -----------------------------------------------------------------------------

HOSTILE = [
    "a = " + "[" * 5000 + "]" * 5000,
    "a = " + "{a = " * 3000 + "1" + "}" * 3000,
    "a " * 3000 + "{" * 3000 + "}" * 3000,
    "a = " + "(" * 3000 + "1" + ")" * 3000,
    'a = "' + "x" * 1_000_000 + '"',
    "a = " + "9" * 5000,
    'a = "x\x00y"\n',
    "a\x00 = 1",
    'a = "unterminated\n',
    'a = "${unterminated',
    "a = 1 /* unterminated",
    "/* unterminated",
    "a = <<EOT\nnever closed\n",
    "a = <<-EOT\n  never closed\n",
    'target "t" {\n  a = 1\n',
    "}",
    "{",
    "a = [1, 2",
    "a = {b = 1",
    'target "t" "" {}',
    "a = \u00a0 1",
    "\ufeffa = 1",
    "a = f(\n#c\n1)",
    'a = "\\',
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_gives_hcl2s_answer_or_none_and_never_raises(text: str) -> None:
    _agrees(text)
