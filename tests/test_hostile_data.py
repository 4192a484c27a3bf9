"""Hostile package data and cache states: OSV advisories, SBOMs, versions, and the caches.

Each table row is one hostile input with what must happen (an error naming
the file and the field, a named diagnostic, the same plan as without a
cache) and what must not (a traceback, a hang, a different answer, a file
outside the repository read or written, a foreign file deleted).
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import io
import json
import os
import pickle
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagegraph import ConfigError, load_osv
from imagegraph import _reading as reading
from imagegraph import _snapshot as snapshot
from imagegraph.cli import main
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import Prepared
from imagegraph.inventory import Inventory
from imagegraph.sbom import read_sbom
from imagegraph.versions import VersionError, compare

from .hostile import SECRET, Fifo, Ran, Symlink, assert_contained, build, run_cli

HOUR_AGO = time.time() - 3600
HUGE = "1" + "0" * 4400  # past Python's 4,300-digit int() limit
DEEP = "[" * 100_000 + "]" * 100_000


def _run(
    argv: list[str],
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    child: bool,
    env: dict[str, str] | None = None,
) -> Ran:
    """The CLI in a child process with a time bound where a hang is what could go wrong
    (a FIFO), else in this process: faster, and a traceback fails the test as well."""
    if child:
        return run_cli(argv, cwd=root, timeout=30, env=env)
    out, err = io.StringIO(), io.StringIO()
    with monkeypatch.context() as patch:
        patch.chdir(root)
        patch.setenv("IMAGEGRAPH_TEST_SECRET", SECRET)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    return Ran(code, out.getvalue(), err.getvalue())


def _osv(affected: object, **more: object) -> str:
    return json.dumps({"id": "OSV-1", "affected": affected, **more})


def _entry(**fields: object) -> dict[str, object]:
    return {"package": {"ecosystem": "Debian:12", "name": "openssl"}, **fields}


# --- OSV advisories ---------------------------------------------------------------

# (file content, what the ConfigError must say after "path: ")
OSV_REFUSED = [
    pytest.param(_osv([_entry(ranges="x")]), r"affected\[0\]\.ranges: expected an array, found a string", id="ranges-string"),
    pytest.param(_osv([_entry(ranges=[{"type": "ECOSYSTEM", "events": 5}])]), r"affected\[0\]\.ranges\[0\]\.events: expected an array, found a number", id="events-number"),
    pytest.param(_osv([_entry(ranges=[5])]), r"affected\[0\]\.ranges\[0\]: expected an object, found a number", id="range-number"),
    pytest.param(_osv([_entry(ranges=[{"events": [[1]]}])]), r"ranges\[0\]\.events\[0\]: expected an object, found an array", id="event-array"),
    pytest.param(_osv([_entry(ranges=[{"events": [{"introduced": 0}]}])]), r"events\[0\]\.introduced: expected a string, found a number", id="event-value-number"),
    pytest.param(_osv([_entry(ranges=[{"type": 7, "events": []}])]), r"ranges\[0\]\.type: expected a string, found a number", id="range-type-number"),
    pytest.param(_osv({}), r"affected: expected an array, found an object", id="affected-object"),
    pytest.param(_osv([{"package": []}]), r"affected\[0\]: each 'affected' entry needs a 'package' object", id="package-array"),
    pytest.param(_osv([_entry(versions=[1])]), r"affected\[0\]\.versions\[0\]: expected a string, found a number", id="versions-number"),
    pytest.param(_osv([_entry(versions="1.0")]), r"affected\[0\]\.versions: expected an array, found a string", id="versions-string"),
    pytest.param(_osv([{"package": {"name": "a", "purl": 5}}]), r"affected\[0\]\.package\.purl: expected a string, found a number", id="purl-number"),
    pytest.param(_osv([{"package": {"name": ["a"], "ecosystem": "npm"}}]), r"affected\[0\]\.package\.name: expected a string, found an array", id="name-array"),
    pytest.param(json.dumps({"id": 5, "affected": []}), r"^id: expected a string, found a number", id="id-number"),
    pytest.param("5", r"an OSV advisory is an object .*not a number", id="top-level-number"),
    pytest.param(json.dumps([{"affected": []}, "x"]), r"\[1\]: an OSV advisory is an object", id="list-of-string"),
    pytest.param(DEEP, r"nested too deeply", id="nested-100000"),
    pytest.param('{"id": "X", "n": ' + HUGE + "}", r"number too long", id="number-4400-digits"),
    pytest.param(b"\xff\xfe{}", r"not UTF-8", id="not-utf8"),
    pytest.param('{"id": \n', r"not JSON", id="not-json"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "message"), OSV_REFUSED)
def test_a_malformed_advisory_is_refused_naming_file_and_field(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = build(tmp_path, {"osv.json": content}) / "osv.json"
    with pytest.raises(ConfigError) as caught:  # and nothing else: no ValueError, RecursionError
        load_osv(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}:")
    assert re.search(message, caught.value.message), caught.value.message
    assert len(str(caught.value)) < 400  # the field is named, the file is not quoted


# Well-formed advisories with content imagegraph cannot use: read, with a named diagnostic.
OSV_NOTED = [
    pytest.param(_osv([_entry(ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": HUGE}]}])]), "deb", True, id="deb-4400-digit-fix"),
    pytest.param(_osv([{"package": {"ecosystem": "Alpine:v3.20", "name": "busybox"}, "ranges": [{"events": [{"introduced": "0"}, {"fixed": HUGE}]}]}]), "apk", True, id="apk-4400-digit-fix"),
    pytest.param(_osv([{"package": {"ecosystem": "PyPI", "name": "requests"}, "ranges": [{"events": [{"introduced": "0"}, {"fixed": HUGE}]}]}]), "pypi", False, id="pypi-4400-digit-fix"),
    pytest.param(_osv([{"package": {"ecosystem": "RubyGems", "name": "rack"}, "ranges": [{"events": [{"introduced": "0"}, {"fixed": HUGE}]}]}]), "gem", False, id="gem-4400-digit-fix"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "ecosystem", "readable"), OSV_NOTED)
def test_huge_version_numbers_compare_or_skip_with_a_diagnostic(
    tmp_path: Path, content: str, ecosystem: str, readable: bool
) -> None:
    path = build(tmp_path, {"osv.json": content}) / "osv.json"
    changes, notes = load_osv(path)
    if readable:  # compared digit by digit: 1.0 is below 10^4400
        (change,) = changes
        assert change.range is not None
        assert change.range.contains("1.0")
        assert not change.range.contains(HUGE + "0")
    else:  # the library would call int(): refused, and said so
        assert changes == []
        (note,) = notes
        assert note.code == "advisory"
        assert "more than 4000 digits" in note.message
        assert len(note.message) < 400  # the version is shown cut short


@pytest.mark.parametrize(
    ("ecosystem", "a", "b", "expected"),
    [
        ("apk", HUGE, "2", 1),
        ("apk", "1.2_p" + HUGE + "-r1", "1.2_p" + HUGE + "-r0", 1),
        ("apk", "0" * 5000 + "3", "3", 0),
        ("generic", HUGE + "-x.1", HUGE + "-x.0", 1),  # not PEP 440: dotted numbers
        ("generic", "1_" + HUGE, "2_0", -1),
        ("deb", "1:" + HUGE + "-1", "1:2-1", 1),
        ("rpm", HUGE, "2", 1),
    ],
)
def test_long_digit_runs_compare_by_value(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare(ecosystem, a, b) == expected
    assert compare(ecosystem, b, a) == -expected


@pytest.mark.parametrize("ecosystem", ["pypi", "gem", "generic"])
def test_long_numbers_a_library_would_int_are_refused(ecosystem: str) -> None:
    # PEP 440 text (generic too): packaging calls int(), and dotted numbers would sort
    # it after every PEP 440 version; RubyGems calls int() when comparing.
    with pytest.raises(VersionError, match="more than 4000 digits") as caught:
        compare(ecosystem, "1." + HUGE, "2.0")
    assert len(str(caught.value)) < 300


# --- SBOMs ------------------------------------------------------------------------


def _cdx(components: object) -> str:
    return json.dumps({"bomFormat": "CycloneDX", "components": components})


def _spdx(packages: object) -> str:
    return json.dumps({"spdxVersion": "SPDX-2.3", "packages": packages})


SBOM_REFUSED = [
    pytest.param(_cdx("x"), r"^components: expected an array, found a string", id="components-string"),
    pytest.param(_cdx([5]), r"^components\[0\]: expected an object, found a number", id="component-number"),
    pytest.param(_cdx([{"purl": 5}]), r"^components\[0\]\.purl: expected a string, found a number", id="purl-number"),
    pytest.param(_cdx([{"components": [{"components": {}}]}]), r"^components\[0\]\.components\[0\]\.components: expected an array", id="nested-components-object"),
    pytest.param(_spdx({}), r"^packages: expected an array, found an object", id="packages-object"),
    pytest.param(_spdx([{"externalRefs": 5}]), r"^packages\[0\]\.externalRefs: expected an array, found a number", id="external-refs-number"),
    pytest.param(_spdx([{"externalRefs": ["x"]}]), r"^packages\[0\]\.externalRefs\[0\]: expected an object", id="external-ref-string"),
    pytest.param(_spdx([{"externalRefs": [{"referenceType": "purl", "referenceLocator": 5}]}]), r"referenceLocator: expected a string, found a number", id="locator-number"),
    pytest.param("[]", r"^an SBOM is a JSON object, not an array", id="top-level-array"),
    pytest.param(DEEP, r"nested too deeply", id="nested-100000"),
    pytest.param('{"bomFormat": "CycloneDX", "serialNumber": ' + HUGE + "}", r"number too long", id="number-4400-digits"),
    pytest.param('{"a": 1}', r"^not an SBOM imagegraph reads", id="no-marker"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "message"), SBOM_REFUSED)
def test_a_malformed_sbom_is_refused_naming_file_and_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = build(tmp_path, {"x.json": content}) / "x.json"
    with pytest.raises(ConfigError) as caught:
        read_sbom(path)
    assert str(caught.value) == f"{path}: {caught.value.message}"  # the path once
    assert re.search(message, caught.value.message), caught.value.message


def test_components_nested_deeper_than_python_recurses_are_read(tmp_path: Path) -> None:
    depth = 450  # 900 levels of JSON: what json reads, deeper than a recursive walk would go
    inner: dict[str, Any] = {"purl": "pkg:npm/deep@1.0.0"}
    for _ in range(depth):
        inner = {"components": [inner]}
    path = build(tmp_path, {"x.json": _cdx([inner, {"purl": "pkg:npm/last@1.0.0"}])}) / "x.json"
    _, packages = read_sbom(path)
    assert [p.name for p in packages] == ["deep", "last"]  # file order, depth first


def test_a_deep_wrong_type_names_the_field_cut_short(tmp_path: Path) -> None:
    inner: dict[str, Any] = {"purl": 5}
    for _ in range(300):
        inner = {"components": [inner]}
    path = build(tmp_path, {"x.json": _cdx([inner])}) / "x.json"
    with pytest.raises(ConfigError, match=r"components\[0\]\.\.\..*\.purl: expected a string"):
        read_sbom(path)


# SBOMs a repository brings, through the CLI: (files, what stderr must say).
_TOML = 'sbom_dir = "sboms"\n[[image]]\nname = "app"\ncontext = "app"\n'
SBOM_REPOSITORIES = [
    pytest.param({"sboms/app.cdx.json": _cdx([{"purl": 5}])}, "components[0].purl: expected a string", False, id="wrong-type"),
    pytest.param({"sboms/app.cdx.json": Fifo()}, "not a regular file", True, id="fifo"),
    pytest.param({"sboms/app.cdx.json": Symlink("../../secret.json")}, "outside", False, id="symlink-out"),
    pytest.param({"sboms/app.cdx.json": Symlink("/dev/zero")}, "outside", True, id="dev-zero"),
    pytest.param({"imagegraph.toml": _TOML + '[sboms]\napp = "../secret.json"\n'}, "outside", False, id="declared-outside"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "said", "could_hang"), SBOM_REPOSITORIES)
def test_a_hostile_sbom_is_an_sbom_error_naming_it_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Any],
    said: str,
    could_hang: bool,
) -> None:
    # The secret is a valid SBOM: read, its purl would show in the listing.
    (tmp_path / "secret.json").write_text(_cdx([{"purl": f"pkg:npm/{SECRET}@1.0.0"}]))
    root = build(
        tmp_path / "repo",
        {"imagegraph.toml": _TOML, "app/Dockerfile": "FROM alpine:3.20\n", **files},
    )
    ran = _run(["packages", ".", "app", "--format", "json"], root, monkeypatch, child=could_hang)
    assert ran.code == 1, ran.output
    (line,) = [line for line in ran.stderr.splitlines() if "sbom-error" in line]
    assert said in line
    assert line.count("sboms/app.cdx.json") + line.count("secret.json") == 1, line
    assert_contained(ran)


# --- versions from a repository ---------------------------------------------------

# (the install line, options, what a plan below 2 rebuilds, what one below 10^4401 does):
# compared digit by digit where imagegraph compares; where a library would call int()
# (PyPI, RubyGems), the pin is an unknown version and the bound a clear refusal.
VERSION_REPOSITORIES = [
    pytest.param(f"RUN apt-get install -y foo={HUGE}\n", ["--ecosystem", "deb"], [], ["app"], id="apt-pin"),
    pytest.param(f"RUN apk add foo={HUGE}\n", ["--ecosystem", "apk"], [], ["app"], id="apk-pin"),
    pytest.param(f"RUN apk add foo={HUGE}\n", [], [], ["app"], id="apk-pin-any-ecosystem"),
    pytest.param(f"RUN pip install foo=={HUGE}\n", ["--ecosystem", "pypi"], [], "refused", id="pip-pin"),
    pytest.param(f"RUN gem install foo -v {HUGE}\n", [], [], [], id="gem-pin-any-ecosystem"),
]  # fmt: skip


@pytest.mark.parametrize(("run", "options", "below_2", "below_huge"), VERSION_REPOSITORIES)
def test_a_4400_digit_pin_is_compared_or_unknown_never_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run: str,
    options: list[str],
    below_2: list[str],
    below_huge: object,
) -> None:
    root = build(tmp_path / "repo", {"app/Dockerfile": f"FROM debian:12\n{run}"})
    for below, expected in (("2", below_2), (HUGE + "0", below_huge)):
        argv = ["plan", ".", "--package", "foo", "--below", below, *options, "--format", "json"]
        ran = _run([*argv, "--no-cache"], root, monkeypatch, child=False)
        if expected == "refused":
            assert ran.code == 1, ran.output
            assert "more than 4000 digits" in ran.stderr
            assert len(ran.stderr) < 1000  # the version is shown cut short
            continue
        assert ran.code == 0, ran.output
        plan = json.loads(ran.stdout)
        assert [b["name"] for wave in plan["waves"] for b in wave["builds"]] == expected


# --- the parse cache --------------------------------------------------------------

FLEET = {
    "base/Dockerfile": "FROM debian:12\nRUN apt-get install -y curl=7.88.1-10\n",
    "app/Dockerfile": "FROM base:1 AS build\nRUN make\nFROM base:1\nCOPY --from=build /a /a\n",
    "tool/Dockerfile": "FROM alpine:3.20\nONBUILD RUN echo hi\n",
    "imagegraph.toml": (
        '[[image]]\nname = "base"\ncontext = "base"\ntags = ["base:1"]\n\n'
        '[[image]]\nname = "app"\ncontext = "app"\n\n'
        '[[image]]\nname = "tool"\ncontext = "tool"\n'
    ),
}


def _plan(root: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    """The JSON plan run from inside *root*, as the hostile runs are (paths are
    written as seen from where imagegraph runs)."""
    capsys.readouterr()
    here = os.getcwd()
    os.chdir(root)
    try:
        code = main(["plan", ".", "--changed", "debian:12", "--format", "json", *options])
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _rewrite(path: Path, change: Callable[[Any], Any]) -> None:
    data = path.read_bytes()
    assert data.startswith(reading.MAGIC)
    value = pickle.loads(data[len(reading.MAGIC) :])
    path.write_bytes(reading.MAGIC + pickle.dumps(change(value)))


def _entries(change: Callable[[tuple[Any, ...]], object]) -> Callable[[Any], Any]:
    """A change to the app Dockerfile's entry of a parse cache."""

    def apply(value: Any) -> Any:
        header, entries = value
        entries["app/Dockerfile"] = change(entries["app/Dockerfile"])
        return header, entries

    return apply


def _prepared(**fields: object) -> Callable[[tuple[Any, ...]], object]:
    return lambda entry: (*entry[:5], dataclasses.replace(entry[5], **fields))


def _instructions(change: Callable[[Any], Any]) -> Callable[[tuple[Any, ...]], object]:
    def apply(entry: tuple[Any, ...]) -> object:
        parsed = entry[5].parsed
        instructions = change(parsed.instructions)
        return (
            *entry[:5],
            dataclasses.replace(
                entry[5], parsed=dataclasses.replace(parsed, instructions=instructions)
            ),
        )

    return apply  # fmt: skip


PARSE_CACHE_STATES = [
    pytest.param(_entries(lambda entry: None), id="entry-none"),
    pytest.param(_entries(lambda entry: Diagnostic("x", Severity.INFO, "m")), id="entry-wrong-class"),
    pytest.param(_entries(lambda entry: entry[:5]), id="entry-short-tuple"),
    pytest.param(_entries(lambda entry: (*entry, entry[5])), id="entry-long-tuple"),
    pytest.param(_entries(lambda entry: (*entry[:5], None)), id="prepared-none"),
    pytest.param(_entries(lambda entry: (*entry[:5], Prepared(None, None, None, ()))), id="prepared-neither-parsed-nor-refused"),
    pytest.param(_entries(_prepared(ends=(1, 2, 3, 4, 5))), id="ends-count-wrong"),
    pytest.param(_entries(_prepared(diagnostics=[])), id="diagnostics-list"),
    pytest.param(_entries(_instructions(lambda ins: ())), id="no-instructions"),
    pytest.param(_entries(_instructions(lambda ins: [*ins])), id="instructions-list"),
    pytest.param(_entries(_instructions(lambda ins: (dataclasses.replace(ins[0], args=(5,)), *ins[1:]))), id="instruction-arg-number"),
    pytest.param(_entries(_instructions(lambda ins: (dataclasses.replace(ins[0], line="1"), *ins[1:]))), id="instruction-line-string"),
    pytest.param(_entries(lambda entry: (*entry[:4], b"short", entry[5])), id="digest-wrong-length"),
    pytest.param(_entries(lambda entry: (str(entry[0]), *entry[1:])), id="stamp-string"),
    pytest.param(lambda value: (value[0], list(value[1].items())), id="entries-list"),
    pytest.param(lambda value: (value[0], dict(enumerate(value[1].values()))), id="path-number"),
    pytest.param(lambda value: (value[0][:3], value[1]), id="header-short"),
    pytest.param(lambda value: None, id="whole-file-none"),
]  # fmt: skip


@pytest.mark.parametrize("change", PARSE_CACHE_STATES)
def test_a_wrong_parse_cache_entry_is_parsed_again_never_trusted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Callable[[Any], Any]
) -> None:
    root = build(tmp_path / "fleet", FLEET)
    expected = _plan(root, capsys, "--no-cache")
    assert '"app"' in expected  # the change reaches app through base
    _plan(root, capsys)  # writes the parse cache (the files are too new for a snapshot)
    (cache,) = reading.cache_directory().glob("parse-*.pickle")
    _rewrite(cache, change)
    assert _plan(root, capsys) == expected
    # Rewritten whole: every entry valid, every Dockerfile there.
    _header, entries = pickle.loads(cache.read_bytes()[len(reading.MAGIC) :])
    assert sorted(entries) == ["app/Dockerfile", "base/Dockerfile", "tool/Dockerfile"]
    assert all(reading.valid_entry(entry) for entry in entries.values())


# --- the graph snapshot -----------------------------------------------------------


def _empty_inventory(value: Any) -> Any:
    header, _, state = value
    inventory = state[2]
    return header, ("", array.array("q")), ({}, {}, Inventory(inventory.root, ()), (), {})


def _stamps(change: Callable[[str, array.array[int]], tuple[str, object]]) -> Callable[[Any], Any]:
    return lambda value: (value[0], change(*value[1]), value[2])


def _state(index: int, change: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        state = list(value[2])
        state[index] = change(state[index])
        return value[0], value[1], tuple(state)

    return apply


def _only_walked(paths: str, numbers: array.array[int]) -> tuple[str, object]:
    # Keep the stamps of the directories, drop those of the Dockerfiles and the config.
    kept = [(i, p) for i, p in enumerate(paths.split("\0")) if p.endswith("/")]
    return "\0".join(p for _, p in kept), array.array(
        "q", [n for i, _ in kept for n in numbers[4 * i : 4 * i + 4]]
    )


def _cycle(succ: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    succ["app"]["base"] = succ["base"]["app"]
    return succ


SNAPSHOT_STATES = [
    pytest.param(_empty_inventory, id="empty-stamps-empty-fleet"),
    pytest.param(_stamps(lambda paths, numbers: ("", array.array("q"))), id="empty-stamps"),
    pytest.param(_stamps(_only_walked), id="dockerfiles-unstamped"),
    pytest.param(_stamps(lambda paths, numbers: (paths, array.array("Q", numbers))), id="stamps-unsigned"),
    pytest.param(_stamps(lambda paths, numbers: (paths, numbers[:-1])), id="stamps-count-wrong"),
    pytest.param(_stamps(lambda paths, numbers: (paths, list(numbers))), id="stamps-list"),
    pytest.param(_state(2, lambda inventory: None), id="inventory-none"),
    pytest.param(_state(2, lambda inventory: dataclasses.replace(inventory, walked=())), id="nothing-walked"),
    pytest.param(_state(2, lambda inventory: dataclasses.replace(inventory, builds=inventory.builds[:1])), id="builds-dropped"),
    pytest.param(_state(0, lambda nodes: {**nodes, "app": {"kind": "build", "build": None}}), id="node-build-none"),
    pytest.param(_state(0, lambda nodes: {n: {"kind": "external"} for n in nodes}), id="nodes-external"),
    pytest.param(_state(1, lambda succ: {**succ, "base": {"ghost": {"uses": ()}}}), id="edge-to-nowhere"),
    pytest.param(_state(1, _cycle), id="cycle"),
    pytest.param(_state(3, list), id="diagnostics-list"),
    pytest.param(_state(4, lambda undetermined: {"app": "x"}), id="undetermined-string"),
    pytest.param(lambda value: value[:2], id="short-tuple"),
    pytest.param(lambda value: (value[0][:4], *value[1:]), id="header-short"),
]  # fmt: skip


@pytest.mark.parametrize("change", SNAPSHOT_STATES)
def test_a_wrong_snapshot_is_a_rescan_never_a_different_answer(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Any], Any],
) -> None:
    monkeypatch.setattr(snapshot, "RACY_NS", -3_600_000_000_000)  # the test's files are seconds old
    root = build(tmp_path / "fleet", FLEET)
    for path in [root, *root.rglob("*")]:
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    expected = _plan(root, capsys, "--no-cache")
    assert _plan(root, capsys) == expected  # writes the snapshot
    target = snapshot._path(root.resolve(), None)
    assert snapshot.load_snapshot(root.resolve(), None, reading.code_version()) is not None
    _rewrite(target, change)
    assert snapshot.load_snapshot(root.resolve(), None, reading.code_version()) is None
    assert _plan(root, capsys) == expected
    # The re-scan wrote a snapshot that is whole again.
    assert snapshot.load_snapshot(root.resolve(), None, reading.code_version()) is not None


# --- the cache directory ----------------------------------------------------------


def _cache_names(root: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("IMAGEGRAPH_CACHE_DIR", str(cache))
    return reading._Store(root.resolve(), "").path.name, snapshot._path(root.resolve(), None).name


@pytest.mark.parametrize(
    ("hostile", "could_hang"),
    [
        pytest.param(lambda parse, graph: {parse: Fifo()}, True, id="fifo-parse-cache"),
        pytest.param(lambda parse, graph: {graph: Fifo()}, True, id="fifo-snapshot"),
        pytest.param(lambda parse, graph: {".parse-abcdefgh.tmp": Fifo(), ".graph-abcdefgh.tmp": Fifo()}, True, id="fifo-temporary"),
        pytest.param(lambda parse, graph: {parse: Symlink("../victim"), graph: Symlink("../victim")}, False, id="symlink-out"),
        pytest.param(lambda parse, graph: {parse: Symlink("/dev/zero")}, True, id="dev-zero"),
    ],
)  # fmt: skip
def test_hostile_cache_directory_entries_are_not_read_followed_or_hung_on(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    hostile: Callable[[str, str], dict[str, Any]],
    could_hang: bool,
) -> None:
    root = build(tmp_path / "fleet", FLEET)
    expected = _plan(root, capsys, "--no-cache")
    cache = tmp_path / "cache"
    victim = build(tmp_path, {"victim": f"{SECRET}\n"}) / "victim"
    os.utime(victim, (HOUR_AGO, HOUR_AGO))
    entries = hostile(*_cache_names(root, cache, monkeypatch))
    build(cache, entries)
    for name in entries:
        os.utime(cache / name, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)
    argv = ["plan", ".", "--changed", "debian:12", "--format", "json"]
    ran = _run(argv, root, monkeypatch, child=could_hang, env={"IMAGEGRAPH_CACHE_DIR": str(cache)})
    assert (ran.code, ran.stdout) == (0, expected), ran.output
    assert_contained(ran)
    assert victim.read_text() == f"{SECRET}\n"  # not overwritten through a link
    assert victim.stat().st_mtime == HOUR_AGO  # nor touched
    parse = reading._Store(root.resolve(), "").path.name
    for name in entries:
        if name == parse:  # the parse cache is saved: replaced by imagegraph's own file
            assert (cache / name).is_file()
            assert not (cache / name).is_symlink()
        else:  # no snapshot of files this new; a temporary name is not imagegraph's
            assert os.path.lexists(cache / name)


LIMITED_CLI = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from imagegraph.cli import main
sys.exit(main())
"""


def test_a_cache_file_larger_than_memory_is_a_rescan_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sparse file of 3 GiB with imagegraph's marker: reading it raised MemoryError.
    root = build(tmp_path / "fleet", FLEET)
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in _cache_names(root, cache, monkeypatch):
        with (cache / name).open("wb") as handle:
            handle.write(reading.MAGIC)
            handle.truncate(3 << 30)

    def plan(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", LIMITED_CLI, "plan", ".", "--changed", "debian:12",
             "--format", "json", *options],
            cwd=root, capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "IMAGEGRAPH_CACHE_DIR": str(cache)},
        )  # fmt: skip

    expected = plan("--no-cache")
    done = plan()
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert (done.returncode, done.stdout) == (0, expected.stdout), done.stderr[-2000:]


def test_trimming_deletes_only_imagegraphs_own_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = reading.cache_directory()
    victim = build(tmp_path, {"victim": "keep me\n"}) / "victim"
    ours = [f"parse-{index:024x}.pickle" for index in range(reading.MAX_CACHE_FILES + 4)]
    foreign = {
        f"parse-{'f' * 24}.pickle": b"user data, not a cache",  # matches the pattern
        f"parse-{'e' * 24}.pickle": b"",
        f"parse-{'d' * 24}.pickle": Symlink(str(victim)),
        f"parse-{'c' * 24}.pickle": Fifo(),
        "parse-notes.pickle": reading.MAGIC,  # not a name imagegraph gives
    }
    build(cache, {**dict.fromkeys(ours, reading.MAGIC), **foreign})
    for age, name in enumerate([*foreign, *ours]):  # the foreign ones least recently used
        os.utime(cache / name, (HOUR_AGO + age, HOUR_AGO + age), follow_symlinks=False)
    _plan(build(tmp_path / "fleet", FLEET), capsys)
    left = {path.name for path in cache.iterdir()}
    assert set(foreign) <= left
    assert victim.read_text() == "keep me\n"
    kept_ours = [name for name in left if name.endswith(".pickle") and name not in foreign]
    assert len(kept_ours) == reading.MAX_CACHE_FILES  # the new one and the newest of ours
    assert ours[0] not in left
    assert ours[-1] in left


def test_stale_temporary_files_of_killed_saves_are_cleaned_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = reading.cache_directory()
    stale = reading.STALE_TEMPORARY_S + 60
    files: dict[str, tuple[bytes, float, bool]] = {
        # name: (content, age in seconds, must it be gone after a save)
        ".parse-abcdefgh.tmp": (reading.MAGIC + b"\x80\x05half a pick", stale, True),
        ".parse-ijklmnop.tmp": (b"", stale, True),  # killed before the first write
        ".parse-qrstuvwx.tmp": (reading.MAGIC, 5, False),  # another run is writing it
        ".parse-yz012345.tmp": (b"someone else's", stale, False),
        ".parse-toolongname.tmp": (reading.MAGIC, stale, False),  # not a name tempfile gives
        "parse-abcdefgh.tmp": (reading.MAGIC, stale, False),
    }
    build(cache, {name: content for name, (content, _, _) in files.items()})
    now = time.time()
    for name, (_, age, _) in files.items():
        os.utime(cache / name, (now - age, now - age))
    _plan(build(tmp_path / "fleet", FLEET), capsys)
    for name, (_, _, gone) in files.items():
        assert (cache / name).exists() is not gone, name
    assert not [p for p in cache.iterdir() if p.suffix == ".tmp" and p.name not in files]
