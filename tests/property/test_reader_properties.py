"""Properties: every declaration reader reads a file or refuses it with imagegraph's own error.

For each format (bake HCL and JSON, compose with its ``.env``,
``imagegraph.toml``, docker-library manifests) two kinds of text go through
:func:`imagegraph.load_inventory`: any text at all, and text shaped like the
format from the pieces that make its readers work hardest (interpolations,
functions, anchors, merge keys, tags, matrices, globs, continuation lines,
nesting), joined in any order. Loading either succeeds or raises
:class:`ImageGraphError` naming a file; nothing else may escape.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ImageGraphError, load_inventory
from imagegraph.inventory import ConfigError

SOME = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MORE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DOCKERFILE = "FROM alpine:3\n"


def loads_or_refuses(files: dict[str, str]) -> None:
    """Load a repository of *files*: it is read, or refused naming one of them."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in {"Dockerfile": DOCKERFILE, **files}.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        refused: ImageGraphError | None = None
        try:
            inventory = load_inventory(root)
        except ImageGraphError as err:
            refused = err
        if refused is None:
            assert all(build.name for build in inventory.builds)
        elif isinstance(refused, ConfigError) and refused.path is not None:
            assert refused.path in files, str(refused)


# --- bake -----------------------------------------------------------------------------------

_HCL_ATOMS = st.sampled_from(
    ['"x"', '"${A}"', '"${B}-${C}:1"', "A", "B", "C", "1", "-2.5", "true", "null", '"$${x}"',
     '"%{ if A }x%{ endif }"', '"${"', "[]", "{}", "A.x", "A[0]", "A[*]", "!A", "1 / 0",
     '"\\u00e9\\n"', '"acme/app:${upper(A)}"', "BAKE_CMD_CONTEXT", "target.t.tags",
     "[for x in A : x]", "1e999", "9" * 30, '"${A}${A}"', '"${replace(A, \\"x\\", A)}"']
)  # fmt: skip
_HCL = st.recursive(
    _HCL_ATOMS,
    lambda inner: st.one_of(
        st.builds(lambda a: f"[{a}]", inner),
        st.builds(lambda a, b: f"[{a}, {b}]", inner, inner),
        st.builds(lambda a, b: f"{{ x = {a}, y = {b} }}", inner, inner),
        st.builds(lambda a: f'"${{{a}}}"', inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda a, b: f"{a} + {b}", inner, inner),
        st.builds(lambda a, b, c: f"{a} ? {b} : {c}", inner, inner, inner),
        st.builds(
            lambda f, a, b: f"{f}({a}, {b})",
            st.sampled_from(["concat", "join", "replace", "split", "equal", "coalesce"]),
            inner,
            inner,
        ),
    ),
    max_leaves=8,
)
_HCL_KEYS = st.sampled_from(
    ["tags", "args", "matrix", "name", "inherits", "context", "dockerfile", "platforms",
     "target", "contexts", "dockerfile-inline", "targets", "default", "labels", "x"]
)  # fmt: skip
_HCL_LABELS = st.sampled_from(["A", "B", "C", "t", "u", "default", "bad name", ""])
_HCL_BLOCK = st.builds(
    lambda kind, label, body: (
        f'{kind} "{label}" {{\n' + "".join(f"  {key} = {value}\n" for key, value in body) + "}\n"
    ),
    st.sampled_from(["variable", "target", "group", "function", "thing"]),
    _HCL_LABELS,
    st.lists(st.tuples(_HCL_KEYS, _HCL), max_size=4),
)
_HCL_VARIABLE = st.builds(
    lambda label, value: f'variable "{label}" {{\n  default = {value}\n}}\n',
    st.sampled_from(["A", "B", "C"]),
    _HCL,
)
_HCL_TARGET = st.builds(
    lambda label, body: (
        f'target "{label}" {{\n' + "".join(f"  {key} = {value}\n" for key, value in body) + "}\n"
    ),
    st.sampled_from(["t", "u", "default"]),
    st.lists(st.tuples(_HCL_KEYS, _HCL), max_size=3),
)
_HCL_FILE = st.lists(
    _HCL_TARGET
    | _HCL_VARIABLE
    | _HCL_BLOCK
    | st.builds(lambda key, value: f"{key} = {value}\n", _HCL_LABELS, _HCL),
    max_size=6,
).map("".join)


@SOME
@given(st.text())
def test_any_text_as_a_bake_file(text: str) -> None:
    loads_or_refuses({"docker-bake.hcl": text})


@MORE
@given(_HCL_FILE)
def test_bake_shaped_hcl(text: str) -> None:
    loads_or_refuses({"docker-bake.hcl": text})


_TEMPLATES = st.sampled_from(
    ["${A}", "${B}-${A}", "x", "", "${", "$${A}", "${A}${A}", "${concat(A, A)}", "${t.x}",
     "target:t", "../..", "acme/app:${A}", "${upper(A)}"]
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEMPLATES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_HCL_KEYS | _HCL_LABELS, inner, max_size=4)
    ),
    max_leaves=12,
)
_JSON_BAKE = st.fixed_dictionaries(
    {
        "variable": st.dictionaries(
            st.sampled_from(["A", "B", "C"]), st.fixed_dictionaries({"default": _JSON}), max_size=3
        ),
        "target": st.dictionaries(
            st.sampled_from(["t", "u", "default"]),
            st.dictionaries(_HCL_KEYS, _JSON, max_size=4),
            min_size=1,
            max_size=3,
        ),
    },
    optional={
        "group": st.dictionaries(_HCL_LABELS, st.dictionaries(_HCL_KEYS, _JSON, max_size=2)),
        "A": _JSON,
    },
) | st.dictionaries(
    st.sampled_from(["variable", "target", "group", "A", "//"]),
    st.dictionaries(_HCL_LABELS, st.dictionaries(_HCL_KEYS, _JSON, max_size=4) | _JSON, max_size=4)
    | _JSON,
    max_size=4,
)


@SOME
@given(st.text())
def test_any_text_as_a_bake_json_file(text: str) -> None:
    loads_or_refuses({"docker-bake.json": text})


@MORE
@given(_JSON_BAKE)
def test_bake_shaped_json(document: object) -> None:
    loads_or_refuses({"docker-bake.json": json.dumps(document)})


# --- compose --------------------------------------------------------------------------------

_YAML_VALUES = st.sampled_from(
    [".", "./app", "~", "null", "''", "x/app:${TAG}", "${TAG:-1}", "${TAG:?no}", "$$x", "${",
     "${A:-${B:-${C}}}", "!reset null", "!override {context: .}", "*a", "[a, b]", "{}",
     "!!int x", "!!timestamp 1", "!!binary x", "https://github.com/x/y.git", "service:a",
     "target:t", "'3.10'", "no", "linux/amd64", "[KEY=VALUE, KEY]", "{<<: *a}"]
)  # fmt: skip
_YAML_KEYS = st.sampled_from(
    ["build", "image", "context", "dockerfile", "dockerfile_inline", "args", "target",
     "platforms", "platform", "tags", "additional_contexts", "extends", "service", "file",
     "<<", "x-a", "labels", "name", "include", "services"]
)  # fmt: skip


@st.composite
def _yaml_mapping(draw: st.DrawFn, indent: int = 4, depth: int = 0) -> str:
    lines = []
    keys = draw(st.lists(_YAML_KEYS, max_size=4, unique=True))
    for key in keys if indent != 4 else [k for k in keys if k != "build"]:
        if depth < 2 and draw(st.booleans()):
            lines.append(f"{' ' * indent}{key}:\n{draw(_yaml_mapping(indent + 2, depth + 1))}")
        else:
            lines.append(f"{' ' * indent}{key}: {draw(_YAML_VALUES)}\n")
    return "".join(lines) or f"{' ' * indent}{'image: x' if indent == 4 else 'context: .'}\n"


@st.composite
def _compose_file(draw: st.DrawFn) -> str:
    head = "x-a: &a {context: .}\n" + draw(
        st.sampled_from(["", "name: ${PROJECT}\n", "version: '3'\n"])
    )
    services = "".join(
        f"  {name}:\n    build:\n{draw(_yaml_mapping(6, 1))}{draw(_yaml_mapping())}"
        for name in draw(
            st.lists(
                st.sampled_from(["a", "b", "c", "~", "'1'"]), min_size=1, max_size=3, unique=True
            )
        )
    )
    return head + "services:\n" + services + draw(st.sampled_from(["", "x: *a\n", "\t\n", "...\n"]))


_ENV = st.lists(
    st.sampled_from(
        ["TAG=1", "A=${TAG}${TAG}", "export B='x'", 'C="multi', 'line"', "# c", "D", "=x",
         "E=${F:-${TAG}}", "G=$$", "H=${"]
    ),
    max_size=5,
).map("\n".join)  # fmt: skip


@SOME
@given(st.text(), st.text(max_size=40))
def test_any_text_as_a_compose_file(text: str, env: str) -> None:
    loads_or_refuses({"compose.yaml": text, ".env": env})


@MORE
@given(_compose_file(), _ENV)
def test_compose_shaped_yaml(text: str, env: str) -> None:
    loads_or_refuses({"compose.yaml": text, ".env": env})


# --- imagegraph.toml ------------------------------------------------------------------------

_TOML_VALUES = st.sampled_from(
    ['"x"', '"${V}"', '"Dockerfile"', '"app/Dockerfile"', '["a", "b"]', "[]", "{}",
     '{ V = ["1", "2"] }', '{ V = [] }', "1", "true", '["[z-a]"]', '["\\\\"]', '["**/x"]',
     '{ A = "1" }', '[["x"]]', '"../.."', '"docker-bake.hcl"', '"compose.yaml"']
)  # fmt: skip
_TOML_KEYS = st.sampled_from(
    ["name", "dockerfile", "context", "tags", "args", "matrix", "file", "targets", "path",
     "format", "exclude", "aliases", "ignore", "max_depth", "require_digest", "x"]
)  # fmt: skip
_TOML_TABLES = st.sampled_from(
    ["[[image]]", "[[bake]]", "[[compose]]", "[[manifests]]", "[lint]", ""]
)
# What each table needs to be read at all, unless the drawn keys replace it.
_TOML_NEEDS = {
    "[[image]]": {"dockerfile": '"Dockerfile"'},
    "[[bake]]": {"file": '"docker-bake.hcl"'},
    "[[compose]]": {"file": '"compose.yaml"'},
    "[[manifests]]": {"path": '"library/x"'},
}
_TOML_FILE = st.lists(
    st.builds(
        lambda table, pairs: (
            f"{table}\n"
            + "".join(f"{k} = {v}\n" for k, v in {**_TOML_NEEDS.get(table, {}), **pairs}.items())
        ),
        _TOML_TABLES,
        st.dictionaries(_TOML_KEYS, _TOML_VALUES, max_size=3),
    ),
    max_size=4,
).map("\n".join)


@SOME
@given(st.text())
def test_any_text_as_an_imagegraph_toml(text: str) -> None:
    loads_or_refuses({"imagegraph.toml": text})


@MORE
@given(_TOML_FILE)
def test_imagegraph_toml_shaped_text(text: str) -> None:
    loads_or_refuses(
        {
            "imagegraph.toml": text,
            "docker-bake.hcl": 'target "t" {}\n',
            "compose.yaml": "services:\n  c:\n    build: .\n",
            "library/x": "Maintainers: x\n\nTags: 1\n",
        }
    )


# --- docker-library manifests ---------------------------------------------------------------

_MANIFEST_LINES = st.sampled_from(
    ["Maintainers: x (@x)", "GitRepo: https://example.com/x.git", "Tags: 1, 1.0", "Tags: 2",
     "Tags: a,", "Tags: " + "x" * 200, "SharedTags: latest", "Architectures: amd64, arm64v8",
     "Architectures: mips", "Directory: d", "Directory: /../..", "File: Dockerfile",
     "arm64v8-Directory: e", "Constraints: windowsservercore", "Builder: oci-import", "",
     "   continued", "# comment", "no colon here", ": empty", "GitCommit: abc"]
)  # fmt: skip
_MANIFEST = st.builds(
    lambda header, entries: (
        "\n".join(["Maintainers: x (@x)", *header, ""])
        + "".join("\n".join([f"Tags: t{i}", *lines, "", ""]) for i, lines in enumerate(entries))
    ),
    st.lists(_MANIFEST_LINES, max_size=3),
    st.lists(st.lists(_MANIFEST_LINES, max_size=4), max_size=4),
) | st.lists(_MANIFEST_LINES, max_size=12).map("\n".join)
_MANIFEST_CONFIG = '[[manifests]]\npath = "library/x"\n'


@SOME
@given(st.text())
def test_any_text_as_a_library_manifest(text: str) -> None:
    loads_or_refuses({"imagegraph.toml": _MANIFEST_CONFIG, "library/x": text})


@MORE
@given(_MANIFEST)
def test_library_shaped_manifests(text: str) -> None:
    loads_or_refuses(
        {"imagegraph.toml": _MANIFEST_CONFIG, "library/x": text, "d/Dockerfile": DOCKERFILE}
    )
