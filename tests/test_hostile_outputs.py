"""Hostile values in every output: encoded for the format, or refused naming the build.

Issue 12, items 1, 9 and 13: every value imagegraph writes comes from a
repository a fork may have written, and every output is read by a tool that
acts on it (make, docker/build-push-action, bake, Argo, Graphviz, Mermaid, a
browser, code scanning, a terminal, the GitHub Actions runner reading the
log). Each hostile value is put in each place a repository can put it (a
directory name the convention reader turns into a build, a build argument of
imagegraph.toml, a tag, a build name) and rendered in every format: the
format either refuses it with an :class:`ImageGraphError` naming the build,
or writes text its reader parses back, with the value as it was (or shown
escaped, for people), and nothing runs.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ConfigError, ImageBuild, ImageGraph, ImageGraphError, ImageRef, scan
from imagegraph.diagnostics import Diagnostic, Severity, printable
from imagegraph.findings import findings
from imagegraph.plan import load_durations
from imagegraph.render import argo, html
from imagegraph.render import findings as render_findings
from imagegraph.render import graph as render_graph
from imagegraph.render import plan as render_plan
from imagegraph.render._xml import xml_chars

from .hostile import SECRET, Entry, Ran, assert_contained, build, run_cli

MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")

Cli = Callable[..., Ran]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``main(argv)`` in this process, in *cwd*, with the environment :func:`run_cli`
    gives its child: for the cases where nothing can hang, at a fraction of the cost."""
    monkeypatch.setenv("IMAGEGRAPH_TEST_SECRET", SECRET)
    monkeypatch.setenv("IMAGEGRAPH_CACHE_DIR", str(tmp_path / ".cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")

    def run(argv: list[str], *, cwd: Path) -> Ran:
        from imagegraph.cli import main

        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


# -- the table of hostile values -------------------------------------------------------

HOSTILE = {
    "newline-recipe": "x\n\t+touch PWNED #",
    "newline-override": "x\nDOCKER_BUILD = touch PWNED",
    "carriage-return": "x\r\t+touch PWNED",
    "tab-plus": "\t+touch PWNED",
    "command-substitution": "$(touch PWNED)",
    "make-variable": "$$(touch PWNED)",
    "backquote": "`touch PWNED`",
    "hash": "a #b",
    "double-quote": 'a"b',
    "single-quote": "a'b",
    "script": "<script>alert(1)</script>",
    "cdata-end": "]]>&amp;",
    "mermaid-click": '"]\nclick n0 call alert()\n%%{init: {"securityLevel": "loose"}}%%',
    "osc-title": "\x1b]0;pwned\x07",
    "nul": "a\x00b",
    "line-separator": "a\u2028b\u2029c\x85d",
    "rich-markup": "evil[/]",
    "emoji-code": ":warning:[bold]x",
    "hcl-interpolation": "${BAKE_CMD_CONTEXT}%{if true}x%{endif}",
    "argo-expression": "{{workflow.serviceAccountName}}",
    "forged-log-line": "\n::error file=a,line=1::forged",
    "legacy-log-command": "##[stop-commands]token",
    "hcl-escaped": "$${BAKE_CMD_CONTEXT}%{if true}x",
    "second-build-arg": "v\nOTHER=evil",
}

# Every character a line of output must not hold: a terminal or the runner reads them.
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _toml(text: str) -> str:
    # A JSON string (ASCII, \uXXXX escapes) is a TOML basic string.
    return json.dumps(text)


def _repository(root: Path, place: str, value: str) -> Path:
    """A repository with *value* in *place*, and a plain build next to it."""
    files: dict[str, Entry] = {"ok/Dockerfile": "FROM debian:bookworm\n"}
    if place == "directory":
        files[f"d{value}/Dockerfile"] = "FROM debian\n"
    else:
        fields = {"name": _toml("app"), "dockerfile": '"app/Dockerfile"'}
        if place == "name":
            fields["name"] = _toml(value)
        elif place == "arg":
            fields["args"] = "{ A = %s }" % _toml(value)  # noqa: UP031 - TOML braces
        elif place == "tag":
            fields["tags"] = f"[{_toml(value)}]"
        files["app/Dockerfile"] = "FROM debian\nARG A\n"
        files["imagegraph.toml"] = (
            "[[image]]\n"
            + "".join(f"{key} = {text}\n" for key, text in fields.items())
            + '[[image]]\nname = "ok"\ndockerfile = "ok/Dockerfile"\n'
        )
    return build(root, files)


def _cases() -> Iterator[Any]:
    for place in ("directory", "arg", "tag", "name"):
        for key, value in HOSTILE.items():
            if place == "directory" and "\x00" in value:
                continue  # no file system holds it
            yield pytest.param(place, value, id=f"{place}-{key}")


# -- what each format's reader makes of the output --------------------------------------


def _lines_are_clean(text: str, *, tabs: bool = False) -> None:
    text.encode("utf-8")  # no lone surrogate
    for line in text.split("\n"):
        assert not CONTROL.search(line), repr(line)
        if not tabs:
            assert "\t" not in line, repr(line)


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)
    elif isinstance(data, dict):
        for key, item in data.items():
            yield key
            yield from _strings(item)


def _json(text: str) -> Any:
    _lines_are_clean(text)
    return json.loads(text)


def _hcl_literal(text: str) -> str:
    """What bake reads from a JSON string: fails on an interpolation or directive."""
    out, i = [], 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            out.append(text[i] + "{")
            i += 3
        elif text.startswith(("${", "%{"), i):
            raise AssertionError(f"bake would interpolate {text!r}")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_DOT_LINE = re.compile(
    r'  n\d+ \[label="((?:[^"\\]|\\.)*)", shape=(?:box|ellipse)'
    r'(?:, style=filled, fillcolor="#[0-9a-f]{6}")?\];'
)
_DOT_FIXED = re.compile(
    r"digraph imagegraph \{|  rankdir=LR;|  node \[fontname=Helvetica\];|\}|"
    r'  n\d+ -> n\d+ \[style=\w+(?:, label="[a-z,]+")?\];|'
)
_MERMAID_NODE = re.compile(
    r'  n\d+(?:\["([A-Za-z0-9 ._:/@=+,#;-]*)"\]|\("([A-Za-z0-9 ._:/@=+,#;-]*)"\))'
)
_MERMAID_FIXED = re.compile(
    r"flowchart LR|  n\d+ (?:-->|-\.->|==>)(?:\|[a-z,]+\|)? n\d+|"
    r"  classDef (?:changed|affected) [a-z:#0-9,]+|  class n\d+(?:,n\d+)* (?:changed|affected)|"
)


def _dot_labels(text: str) -> list[str]:
    _lines_are_clean(text)
    labels = []
    for line in text.split("\n"):
        node = _DOT_LINE.fullmatch(line)
        if node:
            labels.append(re.sub(r"\\(.)", r"\1", node.group(1)))
        else:
            assert _DOT_FIXED.fullmatch(line), repr(line)
    return labels


def _mermaid_labels(text: str) -> list[str]:
    _lines_are_clean(text)
    labels = []
    for line in text.split("\n"):
        node = _MERMAID_NODE.fullmatch(line)
        if node:
            label = node.group(1) if node.group(1) is not None else node.group(2)
            assert not re.search(r"#[A-Za-z]+;", label)
            labels.append(re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label))
        else:
            assert _MERMAID_FIXED.fullmatch(line), repr(line)
    return labels


class _Markup(HTMLParser):
    """The elements, attributes and text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _html_text(text: str) -> str:
    parser = _Markup()
    parser.feed(text)
    parser.close()
    assert not {"script", "iframe", "object", "embed", "foreignobject"} & set(parser.tags)
    assert not [name for name in parser.attributes if name.startswith("on")]
    return "".join(parser.text)


def _svg_text(text: str) -> str:
    root = ET.fromstring(text)  # well-formed XML, or this raises
    for element in root.iter():
        assert element.tag.rpartition("}")[2] not in {"script", "foreignObject"}, element.tag
        assert not [name for name in element.attrib if name.lower().startswith("on")]
    return "".join(root.itertext())


def _rich_text(renderable: Any) -> str:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(renderable)
    text = out.getvalue()
    _lines_are_clean(text)
    return text


def _shown_in(text: str, value: str) -> bool:
    """*value* as people see it (escaped, tabs expanded) is in *text*."""
    return printable(value, tabs=False) in text


# -- make, for real -------------------------------------------------------------------

_STAND_IN = """#!/bin/sh
# docker buildx build, as far as the test cares: record the arguments, one NUL after each.
for arg in "$@"; do printf '%s\\0' "$arg"; done >> "$ARGV_LOG"
printf '\\n' >> "$ARGV_LOG"
"""


def _run_make(directory: Path, makefile: str) -> list[list[str]]:
    """``make -n`` then ``make`` with a stand-in for docker in *directory*: nothing
    but the stand-in's log may appear; the argument lists the stand-in was given."""
    (directory / "Makefile").write_text(makefile, encoding="utf-8")
    stand_in = directory.parent / f"{directory.name}-docker"
    stand_in.write_text(_STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    log = directory.parent / f"{directory.name}-argv"
    before = sorted(p.name for p in directory.iterdir())
    env = {**os.environ, "ARGV_LOG": str(log)}
    dry = subprocess.run(
        [MAKE or "make", "-n"], cwd=directory, capture_output=True, timeout=30, env=env
    )
    assert sorted(p.name for p in directory.iterdir()) == before, dry.stdout
    assert not log.exists()
    subprocess.run(
        [MAKE or "make", "-j1", f"DOCKER_BUILD={stand_in}"],
        cwd=directory, capture_output=True, timeout=30, env=env, check=True,
    )  # fmt: skip
    assert sorted(p.name for p in directory.iterdir()) == before
    runs = log.read_bytes().split(b"\n")[:-1] if log.exists() else []
    return [
        [arg.decode("utf-8", "surrogateescape") for arg in run.split(b"\0")[:-1]] for run in runs
    ]


# -- one hostile value, one place, every format ---------------------------------------


def _written(write: Callable[[], str], build: ImageBuild) -> str | None:
    """What *write* writes, or ``None`` when it refused *build*: its error then
    names the build, on one line."""
    try:
        return write()
    except ImageGraphError as err:
        refusal = str(err)
    assert printable(repr(build.name)) in refusal
    assert not CONTROL.search(refusal)
    return None


def _argument_list(build: ImageBuild) -> list[str]:
    return [f"{key}={value}" for key, value in sorted(build.args.items())]


# Every line of a Makefile imagegraph writes: fixed text, rules between safe
# names, and recipe lines (all a value can reach).
_MAKE_LINE = re.compile(
    r"#[^\n]*|DOCKER_BUILD \?= docker buildx build|BUILD_FLAGS \?=|IMAGEGRAPH_GUARD = .*|"
    r"\.PHONY: all( [A-Za-z0-9_.-]+)*|[A-Za-z0-9_.-]+:( [A-Za-z0-9_.-]+)*|\t.*|"
)


def _check_plan_formats(graph: ImageGraph, place: str, value: str, tmp_path: Path) -> None:
    plan = graph.plan()
    app = next(p.build for p in plan if p.build.name != "ok")

    data = _json(render_plan.to_json(plan))
    if place == "arg":  # as the reader read it ($$ is its escape for $)
        (entry,) = [b for w in data["waves"] for b in w["builds"] if b["name"] == "app"]
        assert entry["args"] == dict(app.args)
        assert app.args["A"] in (value, value.replace("$$", "$"))
    else:
        texts = list(_strings(data))
        assert any(value in text or value.replace("$$", "$") in text for text in texts)

    gha_text = _written(lambda: render_plan.to_gha(plan), app)
    if gha_text is not None:  # each list input reads back item by item
        gha = _json(gha_text)
        (entry,) = [e for k, w in gha.items() if k != "waves" for e in w["include"]
                    if e["name"] == app.name]  # fmt: skip
        assert [a for a in entry["build-args"].split("\n") if a] == _argument_list(app)
        assert entry["context"] == app.context
        assert entry["file"] == app.dockerfile

    bake = _json(render_plan.to_bake(plan))
    decoded = json.loads(json.dumps(bake), object_hook=lambda d: {
        _hcl_literal(k): (_hcl_literal(v) if isinstance(v, str) else
                          [_hcl_literal(x) if isinstance(x, str) else x for x in v]
                          if isinstance(v, list) else v)
        for k, v in d.items()
    })  # fmt: skip
    (target,) = [t for t in decoded["target"].values() if t["context"] == app.context]
    assert target.get("args", {}) == dict(app.args)

    argo_text = _written(lambda: argo.to_argo(plan), app)
    if argo_text is not None:
        for task in _json(argo_text)["spec"]["templates"][0]["dag"]["tasks"]:
            parameters = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
            assert not [v for v in parameters.values() if "{{" in v]
            if parameters["image"] == app.name:
                assert parameters["build-args"].splitlines() == _argument_list(app)

    makefile = _written(lambda: render_plan.to_make(plan), app)
    if makefile is not None:
        _lines_are_clean(makefile, tabs=True)
        for line in makefile.split("\n"):
            assert _MAKE_LINE.fullmatch(line), repr(line)
        if MAKE is not None and place != "name":  # a name is no word of a Makefile
            work = tmp_path / "make"
            shutil.copytree(graph.inventory.root, work, symlinks=True)
            (run,) = [r for r in _run_make(work, makefile) if r[-1] == app.context]
            assert run[run.index("-f") + 1] == app.dockerfile
            assert [run[i + 1] for i, a in enumerate(run) if a == "--build-arg"] == (
                _argument_list(app)
            )
            assert [run[i + 1] for i, a in enumerate(run) if a == "-t"] == [
                str(t) for t in app.tags
            ]

    assert _shown_in(_rich_text(render_plan.to_rich(plan)), app.name)
    assert xml_chars(app.name) in _html_text(html.plan_html(plan))


def _check_graph_formats(graph: ImageGraph, value: str) -> None:
    shown = [printable(render_graph.display_name(graph, n), tabs=False) for n in graph.images]
    assert _dot_labels(render_graph.to_dot(graph)) == shown
    assert _mermaid_labels(render_graph.to_mermaid(graph)) == shown
    nodes = {n["id"] for n in _json(render_graph.to_json(graph))["nodes"]}
    assert nodes == set(graph.images)
    _svg_text(graph.picture().svg)
    _html_text(html.graph_html(graph))
    tree = _rich_text(render_graph.to_rich(graph))
    assert all(_shown_in(tree, render_graph.display_name(graph, n)) for n in graph.images)


def _check_findings_formats(graph: ImageGraph) -> None:
    found = findings(graph)
    data = _json(render_findings.to_json(found))
    assert len(data["findings"]) == len(found)
    log = _json(render_findings.to_sarif(found, tool_version="0", source_root="/repo"))
    images = {r["properties"].get("image") for r in log["runs"][0]["results"]} - {None}
    assert images == {f.image for f in found if f.image}
    table = _rich_text(render_findings.to_table(found))
    assert all(_shown_in(table, f.image) for f in found if f.image)
    _html_text(html.findings_html(found))


@pytest.mark.parametrize(("place", "value"), list(_cases()))
def test_a_hostile_value_is_encoded_or_refused_in_every_format(
    tmp_path: Path, place: str, value: str
) -> None:
    root = _repository(tmp_path / "repo", place, value)
    try:
        graph = scan(root, cache=False)
    except ConfigError as err:
        refused: ConfigError | None = err
    else:
        refused = None
    if refused is not None:  # the reader refused it, naming the file
        assert refused.path == "imagegraph.toml"
        assert refused.line == 1
        return
    if not [b for b in graph.builds if b.name != "ok"]:
        pytest.fail(f"the hostile build was dropped: {[str(d) for d in graph.diagnostics]}")
    for diagnostic in graph.diagnostics:
        _lines_are_clean(str(diagnostic), tabs=True)
    _check_plan_formats(graph, place, value, tmp_path)
    _check_graph_formats(graph, value)
    _check_findings_formats(graph)


@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses names that are not UTF-8")
def test_a_directory_name_that_is_not_utf8_is_written_in_every_format(
    tmp_path: Path, cli: Cli
) -> None:
    # Its build's name and paths hold surrogates (os.fsdecode): SARIF's URI and
    # fingerprint, and a split Argo plan's digest, encoded them as UTF-8 (a traceback).
    root = build(tmp_path / "repo", {"ok/Dockerfile": "FROM debian:12\n"})
    os.mkdir(os.fsencode(root) + b"/x\xff\xfe")
    (root / os.fsdecode(b"x\xff\xfe") / "Dockerfile").write_text("FROM debian:12\n")
    for argv in (
        ["plan", ".", "--format", "json"], ["plan", ".", "--format", "gha"],
        ["plan", ".", "--format", "bake"], ["plan", ".", "--format", "argo"],
        ["graph", ".", "--format", "json"], ["graph", ".", "--format", "dot"],
        ["lint", ".", "--format", "json"], ["lint", ".", "--format", "sarif"],
    ):  # fmt: skip
        ran = cli(argv, cwd=root)
        assert ran.code == 0, (argv, ran.output[-2000:])
        data = _json(ran.stdout) if argv[-1] != "dot" else None
        if argv[-1] == "sarif":
            assert data is not None
            uris = {
                place["physicalLocation"]["artifactLocation"]["uri"]
                for result in data["runs"][0]["results"]
                for place in result["locations"]
            }
            assert "x%FF%FE/Dockerfile" in uris, uris
    assert cli(["plan", ".", "--format", "make"], cwd=root).code == 1  # refused, naming it
    plan = scan(root, cache=False).plan()
    assert json.loads(argo.to_argo(plan, max_bytes=1500))["kind"] == "List"


# -- any build at all: renderers raise only ImageGraphError ------------------------------

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(list(HOSTILE.values()))


@st.composite
def _builds(draw: st.DrawFn) -> ImageBuild:
    name = draw(_text.filter(bool))
    return ImageBuild(
        name=name,
        dockerfile=draw(_text) + "/Dockerfile",
        context=draw(_text) or ".",
        tags=(ImageRef.parse("acme/app:1"),),
        args=draw(st.dictionaries(_text, _text, max_size=2)),
        target=draw(st.none() | _text),
        platforms=tuple(draw(st.lists(_text, max_size=2))),
        dockerfile_inline=draw(st.sampled_from(["FROM debian:12\n", "FROM x\n\x1b%\\n'$\u2028"])),
    )


WRITERS: dict[str, Callable[[Any], str]] = {
    "json": render_plan.to_json,
    "gha": render_plan.to_gha,
    "bake": render_plan.to_bake,
    "make": render_plan.to_make,
    "argo": argo.to_argo,
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_builds())
def test_a_plan_writer_raises_only_imagegraph_errors_and_writes_clean_lines(
    build_: ImageBuild,
) -> None:
    plan = ImageGraph.from_builds([build_]).plan()
    for fmt, writer in WRITERS.items():
        text = _written(functools.partial(writer, plan), build_)
        if text is not None:
            _lines_are_clean(text, tabs=fmt == "make")
            if fmt != "make":
                json.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_printable_is_one_line_no_runner_command_and_keeps_printable_text(text: str) -> None:
    shown = printable(text)
    assert not CONTROL.search(shown)
    assert not shown.lstrip().startswith("::")
    assert "##[" not in shown
    if not CONTROL.search(text) and "##[" not in text and not text.lstrip().startswith("::"):
        assert shown == text


def test_diagnostic_str_is_one_escaped_line_and_keeps_the_message() -> None:
    message = "unknown instruction: \x1b]0;x\x07\n::error::forged"
    diagnostic = Diagnostic("dockerfile-error", Severity.WARNING, message, "a\nb/Dockerfile", 2)
    assert str(diagnostic) == (
        "a\\nb/Dockerfile:2: warning[dockerfile-error]: "
        "unknown instruction: \\x1b]0;x\\x07\\n::error::forged"
    )
    assert diagnostic.message == message


# -- a real make on the Makefiles of hostile fleets ----------------------------------------


@needs_make
@pytest.mark.parametrize(
    ("files", "written"),
    [
        pytest.param({"x\n\t+touch PWNED #/Dockerfile": "FROM debian\n"}, False, id="directory"),
        pytest.param(
            {
                "a/Dockerfile": "FROM debian\n",
                "imagegraph.toml": '[[image]]\nname = "x\\nDOCKER_BUILD = touch PWNED"\n'
                'dockerfile = "a/Dockerfile"\n',
            },
            True,
            id="variable-override",
        ),
        pytest.param(
            {
                "a/Dockerfile": "FROM debian\n",
                "imagegraph.toml": '[[image]]\nname = "a"\ndockerfile = "a/Dockerfile"\n'
                "args = { A = '$(touch PWNED)`touch PWNED`$$(touch PWNED) # x' }\n",
            },
            True,
            id="shell-in-an-argument",
        ),
        # make remakes a makefile before anything else, even under make -n.
        pytest.param({"Makefile/Dockerfile": "FROM debian\n"}, True, id="build-named-Makefile"),
    ],
)
def test_make_n_and_make_on_a_hostile_fleet_run_nothing(
    tmp_path: Path, files: dict[str, Entry], written: bool
) -> None:
    root = build(tmp_path / "repo", files)
    ran = run_cli(["plan", ".", "--format", "make", "--no-cache"], cwd=root)
    assert_contained(ran)
    if not written:  # refused: one line naming the build
        assert (ran.code, ran.stdout) == (1, "")
        assert ran.stderr.count("\n") == 1, ran.stderr
        assert ran.stderr.startswith("imagegraph: build "), ran.stderr
        return
    assert ran.code == 0, ran.stderr
    work = tmp_path / "work"
    work.mkdir()
    (work / "Makefile").write_text(ran.stdout)
    # make -n runs no build (a build named like the makefile neither); make runs builds.
    stand_in = "DOCKER_BUILD=touch BUILT #"
    for argv, allowed in (["-n", stand_in], set()), ([stand_in], {"BUILT"}):
        subprocess.run([MAKE or "make", *argv], cwd=work, capture_output=True, timeout=30)
        assert {p.name for p in work.iterdir()} - {"Makefile"} <= allowed


@needs_make
def test_make_n_on_the_example_fleet_still_lists_the_builds(tmp_path: Path, cli: Cli) -> None:
    fleet = Path(__file__).parent.parent / "examples" / "fleet"
    ran = cli(["plan", str(fleet), "--format", "make", "--no-cache"], cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    (tmp_path / "Makefile").write_text(ran.stdout)
    done = subprocess.run(
        [MAKE or "make", "-n"], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True
    )
    builds = [line for line in done.stdout.splitlines() if line.startswith("docker buildx build")]
    assert len(builds) == ran.stdout.count("\t$(DOCKER_BUILD)") > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile"]


# -- what the CLI prints -------------------------------------------------------------------

_TOML_APP = '[[image]]\nname = "app"\ndockerfile = "a/Dockerfile"\nargs = {{ A = {} }}\n'

CLI_CASES = [
    # (id, files, argv, exit code, what stderr must say)
    ("gha-second-build-arg", {"a/Dockerfile": "FROM debian\n",
     "imagegraph.toml": _TOML_APP.format(_toml("v\nOTHER=evil"))},
     ["plan", ".", "--format", "gha"], 1, "build 'app' (imagegraph.toml:1): build argument A"),
    ("argo-second-build-arg", {"a/Dockerfile": "FROM debian\n",
     "imagegraph.toml": _TOML_APP.format(_toml("v\nOTHER=evil"))},
     ["plan", ".", "--format", "argo"], 1, "build 'app' (imagegraph.toml:1): build argument A"),
    ("argo-expression", {"a/Dockerfile": "FROM debian\n",
     "imagegraph.toml": _TOML_APP.format(_toml("{{workflow.name}}"))},
     ["plan", ".", "--format", "argo"], 1, "holds '{{', which Argo would evaluate"),
    ("forged-error-line-in-a-path", {"x\n::error file=a,line=1::forged/Dockerfile":
     "ARG X\nFROM debian:$X\n"}, ["plan", "."], 0, "x\\n::error file=a,line=1::forged/Dockerfile"),
    ("legacy-command-in-a-path", {"##[stop-commands]tok/Dockerfile": "ARG X\nFROM debian:$X\n"},
     ["graph", ".", "--format", "json"], 0, "#\\x23[stop-commands]tok/Dockerfile"),
    ("escape-sequences-in-a-dockerfile", {"b/Dockerfile":
     "FROM debian:bookworm\n\x1b]0;pwned\x07 x\n"}, ["lint", ".", "--format", "table"], 1,
     "unknown instruction: \\x1b]0;pwned\\x07"),
    ("syntax-error-quoting-a-command", {"Dockerfile": "FROM debian\n::error::forged \x1b[2J\n"},
     ["parse", "Dockerfile"], 1, "imagegraph:     \\x3a:error::forged \\x1b[2J\nimagegraph:     ^~~"),
    ("nan-duration", {"a/Dockerfile": "FROM debian\n", "d.json": '{"a": NaN}'},
     ["plan", ".", "--durations", "d.json"], 1, "d.json: duration of 'a' must be a number"),
    ("lint-to-a-full-disk", {"a/Dockerfile": "FROM debian\n"},
     ["lint", ".", "--output", "/dev/full", "--fail-on", "never"], 1,
     "/dev/full: cannot write: No space left on device"),
    ("lint-table-to-a-full-disk", {"a/Dockerfile": "FROM debian\n"},
     ["lint", ".", "--format", "table", "--output", "/dev/full"], 1,
     "/dev/full: cannot write: No space left on device"),
    ("why-through-a-forged-name", {"a/Dockerfile": "FROM debian\n", "imagegraph.toml":
     '[[image]]\nname = "x\\n::error::forged\\u001b[2J"\ndockerfile = "a/Dockerfile"\n'},
     ["why", "x\n::error::forged\x1b[2J", ".", "--changed", "debian"], 0,
     "  -> x\\n::error::forged\\x1b[2J  (from debian at a/Dockerfile:1)"),
    ("packages-table", {"a/Dockerfile": "FROM debian\nRUN apt-get install -y curl=8.0\n",
     "imagegraph.toml": '[[image]]\nname = "e[/]\\u001b]0;t\\u0007"\ndockerfile = "a/Dockerfile"\n'},
     ["packages", ".", "--format", "table"], 0, "e[/]\\x1b]0;t\\x07"),
    ("graph-tree", {"a/Dockerfile": "FROM debian\n", "imagegraph.toml":
     '[[image]]\nname = "e[/]\\u009b2J\\t"\ndockerfile = "a/Dockerfile"\n'},
     ["graph", ".", "--format", "tree"], 0, "e[/]\\x9b2J\\t"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "argv", "code", "says"),
    [pytest.param(*case[1:], id=case[0]) for case in CLI_CASES],
)
def test_what_the_cli_prints_is_one_line_per_line_with_controls_escaped(
    tmp_path: Path, cli: Cli, files: dict[str, Entry], argv: list[str], code: int, says: str
) -> None:
    root = build(tmp_path / "repo", files)
    ran = cli([*argv, "--no-cache"] if argv[0] != "parse" else argv, cwd=root)
    assert_contained(ran)
    assert ran.code == code, ran.stderr
    assert says in ran.output
    for line in ran.stderr.splitlines():
        assert line.startswith("imagegraph: "), ran.stderr
    for line in ran.output.split("\n"):
        assert not CONTROL.search(line), repr(line)
        assert not line.lstrip().startswith("::"), repr(line)
    assert "##[" not in ran.output


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_builds_named_like_rich_markup_are_shown_as_they_are(
    tmp_path: Path, cli: Cli, fmt: str
) -> None:
    root = build(
        tmp_path / "repo",
        {
            "a/Dockerfile": "FROM debian\n",
            "b/Dockerfile": "ARG X\nFROM $X\n",
            "imagegraph.toml": '[[image]]\nname = "evil[/]:warning:"\ndockerfile = "a/Dockerfile"\n'
            '[[image]]\nname = "[red]b[/red]"\ndockerfile = "b/Dockerfile"\n',
            "d.json": '{"evil[/]:warning:": 3}',
        },
    )
    argv = ["plan", ".", "--no-cache", "--format", fmt, "--durations", "d.json"]
    ran = cli([*argv, "--changed", "debian"], cwd=root)
    assert ran.code == 0, ran.stderr
    # In the table (or the plan), in the critical path, and listed as undetermined.
    assert ran.stdout.count("evil[/]:warning:") >= 2
    assert "[red]b[/red]" in ran.stdout


def _environment() -> dict[str, str]:
    return {**os.environ, "IMAGEGRAPH_TEST_SECRET": SECRET, "NO_COLOR": "1"}


_CLI = [sys.executable, "-c", "import sys; from imagegraph.cli import main; sys.exit(main())"]


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_standard_output_on_a_full_disk_is_a_one_line_error(tmp_path: Path, fmt: str) -> None:
    root = build(tmp_path / "repo", {"a/Dockerfile": "FROM debian\n"})
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*_CLI, "plan", ".", "--no-cache", "--format", fmt],
            cwd=root, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
            env=_environment(),
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "imagegraph: standard output: cannot write: No space left on device\n"


def test_a_closed_pipe_on_standard_output_is_a_one_line_error(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", {"a/Dockerfile": "FROM debian\n"})
    child = subprocess.Popen(
        [*_CLI, "graph", ".", "--no-cache", "--format", "json"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(),
        preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN),
    )  # fmt: skip
    assert child.stdout is not None
    child.stdout.close()  # the reader went away (| head)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 1
    assert stderr == "imagegraph: standard output: cannot write: Broken pipe\n"


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"api": NaN}', "nan"),
        ('{"api": Infinity}', "inf"),
        ('{"api": -Infinity}', "-inf"),
        ('{"api": 1e308}', "1e+308"),
        ('{"api": 1e400}', "inf"),
        ('{"api": -1}', "-1"),
        ('{"api": 10000000000}', "10000000000"),
        ('{"api": "60"}', "a string"),
        ('{"api": [60]}', "an array"),
        ('{"api": true}', "a boolean"),
        ('{"api": null}', "null"),
    ],
)
def test_load_durations_refuses_a_duration_that_is_no_number_of_seconds(
    tmp_path: Path, text: str, shown: str
) -> None:
    path = tmp_path / "durations.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_durations(path)
    assert caught.value.path == str(path)
    assert caught.value.message.endswith(f"duration of 'api' must be a number of seconds "
                                         f"from 0 to 1e+09, not {shown}")  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"api": 1' + "0" * 5000 + "}", '{"api": 1,', "\xff"],
)
def test_load_durations_refuses_what_is_no_json_object_with_a_config_error(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "durations.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_durations(path)
    assert caught.value.path == str(path)


def test_load_durations_keeps_good_durations(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text('{"api": 0, "acme/os:1": 1e9, "b": 30.5}')
    assert load_durations(path) == {"api": 0.0, "acme/os:1": 1e9, "b": 30.5}


@pytest.mark.parametrize(
    "argv", [["graph", ".", "--format", "tree"], ["lint", ".", "--format", "table"]]
)
def test_a_folded_line_of_a_table_or_tree_starts_no_runner_command(
    tmp_path: Path, argv: list[str]
) -> None:
    # Rich folds a long name; the fold may start a printed line with what the name
    # held after its break, which the GitHub Actions runner reads as a command.
    name = "y " + "a" * 70 + " ::warning::forged ##[group]x"
    root = build(
        tmp_path / "fleet",
        {
            "imagegraph.toml": f'[[image]]\nname = "{name}"\ndockerfile = "Dockerfile"\n',
            "Dockerfile": "FROM alpine:3\n",
        },
    )
    ran = run_cli([*argv, "--no-cache"], cwd=root, env={"COLUMNS": "60"})
    assert "forged" in ran.stdout, ran.output
    for line in ran.output.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line


# -- inline Dockerfiles: a text, never the context's file ------------------------------


def _go_quote(text: str) -> str:
    """Go's strconv.Quote without its quotes: how Argo writes a parameter into
    the JSON of the template that reads it."""
    out = []
    for char in text:
        code = ord(char)
        named = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f",
                 "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}  # fmt: skip
        if char in named:
            out.append(named[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # not UTF-8: Go reads U+FFFD
        elif char == " " or unicodedata.category(char)[0] in "LMNPS":
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def _through_argo(value: str) -> str | None:
    """The value the build template's variable gets, or ``None`` when Argo fails the
    Workflow (its substitution left JSON that is not valid)."""
    try:
        result: str = json.loads(f'"{_go_quote(value)}"')
    except json.JSONDecodeError:
        return None
    return result


INLINE_HOSTILE = {
    **HOSTILE,
    "dockerfile": "FROM alpine:3\nRUN echo \"$HOME\" '$(x)' `x` \\\n  %s %n\r\n\n",
    "controls": "FROM alpine\n\x01\x08\x0b\x0c\x1b\x7f\x85",
    "not-printed": "FROM alpine\n\U000e0001\U000f0000\u00ad",
    "emoji": "FROM alpine\n\U0001f600",
    "expression": "FROM alpine\nRUN docker inspect -f '{{.Id}}' x\n${{ github.token }}\n",
}


@pytest.mark.parametrize("text", list(INLINE_HOSTILE.values()), ids=list(INLINE_HOSTILE))
def test_an_inline_dockerfile_reaches_gha_and_argo_as_it_is_or_is_refused(text: str) -> None:
    build_ = ImageBuild("app", "app/Dockerfile", "app", (ImageRef.parse("acme/app:1"),),
                        dockerfile_inline=text)  # fmt: skip
    plan = ImageGraph.from_builds([build_]).plan()
    gha_text = _written(lambda: render_plan.to_gha(plan), build_)
    if gha_text is not None:
        (entry,) = _json(gha_text)["wave1"]["include"]
        assert (entry["file"], entry["dockerfile-inline"]) == ("", text)
    else:
        assert "\x00" in text  # a step's environment holds all else
    argo_text = _written(lambda: argo.to_argo(plan), build_)
    if argo_text is not None:
        (task,) = _json(argo_text)["spec"]["templates"][0]["dag"]["tasks"]
        parameters = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
        assert (parameters["dockerfile"], parameters["dockerfile-inline"]) == ("", text)
        assert _through_argo(text) == text  # what the template gets, byte-exact
        assert "{{" not in text
    else:  # refused only for what Argo would evaluate or fail on
        assert "{{" in text or _through_argo(text) != text


def test_a_compose_inline_dockerfile_is_planned_as_its_text(tmp_path: Path, cli: Cli) -> None:
    # Review: gha and argo wrote "file": "d/Dockerfile", a file the repository
    # does not have (or has for something else), and exited 0.
    compose = (
        "services:\n  x:\n    image: acme/x:1\n    build:\n      context: d\n"
        '      dockerfile_inline: "FROM alpine:3\\nRUN true\\n"\n'
    )
    root = build(tmp_path / "repo", {"compose.yaml": compose, "d/Dockerfile": "FROM evil\n"})
    ran = cli(["plan", ".", "--format", "gha", "--no-cache"], cwd=root)
    assert ran.code == 0, ran.stderr
    (entry,) = json.loads(ran.stdout)["wave1"]["include"]
    assert (entry["context"], entry["file"]) == ("d", "")
    assert entry["dockerfile-inline"] == "FROM alpine:3\nRUN true\n"
    ran = cli(["plan", ".", "--format", "argo", "--no-cache"], cwd=root)
    assert ran.code == 0, ran.stderr
    (task,) = json.loads(ran.stdout)["spec"]["templates"][0]["dag"]["tasks"]
    parameters = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    assert (parameters["context"], parameters["dockerfile"]) == ("d", "")
    assert parameters["dockerfile-inline"] == "FROM alpine:3\nRUN true\n"
