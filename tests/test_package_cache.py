"""The package extraction cache behind package changes: equal to extracting afresh,
invalidated by a changed file, one entry per variant, hostile contents refused."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import PackageChange, scan
from imagegraph._reading import MAGIC, cache_directory
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError
from imagegraph.graph import ImageGraph
from imagegraph.image_packages import (
    ImagePackage,
    _distro,
    image_packages,
    own_packages,
    valid_package_entry,
)
from imagegraph.packages import Package, dockerfile_packages


def _uncached_own(
    graph: ImageGraph, node: str
) -> tuple[tuple[ImagePackage, ...], tuple[Diagnostic, ...]]:
    """What own_packages gave before the cache: the Dockerfile read, parsed and
    read for packages again, with the distro passed in (no SBOMs here)."""
    notes: list[Diagnostic] = []
    found: dict[tuple[str, str], ImagePackage] = {}
    if graph.is_external(node):
        return (), ()
    build = graph.build(node)
    dockerfile = graph._read_dockerfile(build)
    if dockerfile is None:
        return (), ()
    try:
        use = dockerfile_packages(dockerfile, build.target, distro=_distro(graph, node))
    except ImageGraphError as err:
        return (), (Diagnostic("package-error", Severity.WARNING, str(err), build.dockerfile),)
    notes.extend(use.diagnostics)
    for p in use.packages:
        if p.in_image:
            found.setdefault(
                (p.ecosystem, p.name),
                ImagePackage(
                    p.purl, p.ecosystem, p.name, p.version, p.constraint, "dockerfile",
                    f"{build.dockerfile}:{p.line}",
                ),
            )  # fmt: skip
    return tuple(found.values()), tuple(notes)


_INSTALLS = [
    "apt-get install -y curl=${CURL} libssl3",
    "apk add --no-cache openssl~${SSL}",
    "dnf install -y nodejs-18.19.0-1.el9",
    'pip install "requests==${REQ}" flask',
    "apt-get install -y $UNKNOWN",
    "npm install -g yarn@1.22.19",
    "echo 'unterminated",
    "zypper install vim",
]


@st.composite
def _fleets(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """Dockerfiles (path -> text) and the toml declaring builds of them: some
    share a file with other arguments or another target."""
    files: dict[str, str] = {}
    count = draw(st.integers(1, 4))
    bases = ["debian:12", "ubuntu:24.04", "alpine:3.20", "fedora:40"]
    for index in range(count):
        lines = []
        if draw(st.booleans()):
            lines.append("ARG CURL=8.5.0-2")
        lines.append(f"FROM {draw(st.sampled_from(bases))} AS build")
        if draw(st.booleans()):
            lines.append("ARG SSL=3.1")
        lines.extend(
            "RUN " + draw(st.sampled_from(_INSTALLS)) for _ in range(draw(st.integers(0, 2)))
        )
        lines.append(f"FROM {'build' if draw(st.booleans()) else 'scratch'} AS final")
        lines.append("ARG REQ")
        lines.extend(
            "RUN " + draw(st.sampled_from(_INSTALLS)) for _ in range(draw(st.integers(0, 2)))
        )
        files[f"img{index}/Dockerfile"] = "\n".join(lines) + "\n"
    entries: list[str] = []
    for number in range(draw(st.integers(1, 6))):
        path = draw(st.sampled_from(sorted(files)))
        entry = [f'[[image]]\nname = "b{number}"\ndockerfile = "{path}"']
        entry.append(f'tags = ["acme/b{number}:1"]')
        target = draw(st.sampled_from([None, "build", "final", "nowhere"]))
        if target is not None:
            entry.append(f'target = "{target}"')
        args = draw(
            st.dictionaries(
                st.sampled_from(["CURL", "SSL", "REQ", "OTHER"]),
                st.sampled_from(["1.0", "2.31.0", "9"]),
                max_size=3,
            )
        )
        if args:
            entry.append("args = { " + ", ".join(f'{k} = "{v}"' for k, v in args.items()) + " }")
        entries.append("\n".join(entry))
    return files, entries


def _write(root: Path, files: dict[str, str], entries: list[str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "imagegraph.toml").write_text("\n\n".join(entries) + "\n")


def _everything(graph: ImageGraph) -> dict[str, object]:
    return {node: own_packages(graph, node) for node in graph.images}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_fleets())
def test_cached_packages_equal_those_read_afresh_cold_and_warm(
    fleet: tuple[dict[str, str], list[str]],
) -> None:
    files, entries = fleet
    root = Path(tempfile.mkdtemp())
    try:
        _write(root, files, entries)
        change = PackageChange.named("curl", below="9")
        reference = scan(root, cache=False)
        expected = {node: _uncached_own(reference, node) for node in reference.images}
        expected_plan = scan(root, cache=False).plan([change])
        for _ in ("cold", "warm", "warm again"):
            graph = scan(root)
            assert graph.plan([change]) == expected_plan
            assert _everything(graph) == expected
            for node in graph.images:
                assert image_packages(graph, node) == image_packages(reference, node)
    finally:
        shutil.rmtree(root)


def _aged(path: Path) -> None:
    """Set *path*'s times in the past: no longer within the racy window."""
    os.utime(path, (1_600_000_000, 1_600_000_000))


def _one(tmp_path: Path, text: str, toml: str) -> Path:
    root = tmp_path / "fleet"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(text)
    (root / "imagegraph.toml").write_text(toml)
    for path in (root / "app" / "Dockerfile", root / "imagegraph.toml", root / "app", root):
        _aged(path)
    return root


_APP = '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["acme/app:1"]\n'


def _purls(graph: ImageGraph, node: str) -> list[str]:
    return [p.purl for p in own_packages(graph, node)[0]]


def _package_file() -> Path:
    files = list(cache_directory().glob("packages-*.pickle"))
    assert len(files) == 1
    return files[0]


def test_a_changed_dockerfile_gets_its_new_packages(tmp_path: Path) -> None:
    root = _one(tmp_path, "FROM debian:12\nRUN apt-get install -y curl=8.5\n", _APP)
    graph = scan(root)
    assert len(graph.plan([PackageChange.named("curl")])) == 1
    assert _purls(scan(root), "app") == ["pkg:deb/debian/curl@8.5"]
    dockerfile = root / "app" / "Dockerfile"
    dockerfile.write_text("FROM debian:12\nRUN apt-get install -y wget=1.21 \n")
    os.utime(dockerfile, (1_600_000_100, 1_600_000_100))
    again = scan(root)
    assert again.plan([PackageChange.named("curl")]).waves == ()
    assert _purls(again, "app") == ["pkg:deb/debian/wget@1.21"]


def test_a_racy_entry_is_not_kept(tmp_path: Path) -> None:
    root = _one(tmp_path, "FROM debian:12\nRUN apt-get install -y curl=8.5\n", _APP)
    dockerfile = root / "app" / "Dockerfile"
    os.utime(dockerfile)  # just now: the stamp alone cannot tell a change
    scan(root, cache=False)  # no snapshot: the next scans stat every file
    graph = scan(root)
    assert _purls(graph, "app") == ["pkg:deb/debian/curl@8.5"]
    graph.plan([PackageChange.named("curl")])
    stat = dockerfile.stat()
    dockerfile.write_text("FROM debian:12\nRUN apt-get install -y wget=8.5\n")  # same size
    os.utime(dockerfile, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "app/Dockerfile" not in pickle.loads(_package_file().read_bytes()[len(MAGIC) :])[1]
    fresh = ImageGraph.from_builds(graph.inventory.builds, root=root)
    fresh._cache[("", "cached-scan")] = True
    assert _purls(fresh, "app") == ["pkg:deb/debian/wget@8.5"]


def test_a_matrix_variant_with_another_version_gets_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's change time is now: trusted here, so that its entry is kept on disk.
    monkeypatch.setattr("imagegraph._reading.RACY_NS", -3_600_000_000_000)
    text = "ARG V=1\nFROM debian:12\nARG V\nRUN apt-get install -y curl=${V}\n"
    toml = (
        '[[image]]\nname = "a"\ndockerfile = "app/Dockerfile"\ntags = ["acme/a:1"]\n'
        'args = { V = "7.1" }\n\n'
        '[[image]]\nname = "b"\ndockerfile = "app/Dockerfile"\ntags = ["acme/b:1"]\n'
        'args = { V = "8.5", UNUSED = "x" }\n\n'
        '[[image]]\nname = "c"\ndockerfile = "app/Dockerfile"\ntags = ["acme/c:1"]\n'
    )
    root = _one(tmp_path, text, toml)
    scan(root).plan([PackageChange.named("curl")])
    for graph in (scan(root), scan(root)):
        assert _purls(graph, "a") == ["pkg:deb/debian/curl@7.1"]
        assert _purls(graph, "b") == ["pkg:deb/debian/curl@8.5"]
        assert _purls(graph, "c") == ["pkg:deb/debian/curl@1"]
        hits = graph.impact([PackageChange.named("curl", below="8", ecosystem="deb")])
        assert hits.affected == ("a", "c")
    entries = pickle.loads(_package_file().read_bytes()[len(MAGIC) :])[1]
    assert len(entries["app/Dockerfile"][6]) == 3  # one extraction per argument value


def test_the_distro_is_that_of_the_image_below(tmp_path: Path) -> None:
    text = "FROM ubuntu:24.04\nRUN apt-get install -y curl=8.5 && dnf install -y git\n"
    root = _one(tmp_path, text, _APP)
    scan(root).plan([PackageChange.named("curl")])
    assert _purls(scan(root), "app") == ["pkg:deb/ubuntu/curl@8.5", "pkg:rpm/ubuntu/git"]


def _package(**changes: object) -> Package:
    fields: dict[str, object] = {
        "purl": "pkg:deb/debian/evil@1", "ecosystem": "deb", "name": "evil", "version": "1",
        "constraint": None, "path": "app/Dockerfile", "line": 2, "stage": "stage-0",
        "installer": "apt-get", "in_image": True,
    }  # fmt: skip
    fields.update(changes)
    return Package(**fields)  # type: ignore[arg-type]


def _entry(
    *packages: Package, names: tuple[str, ...] = (), args: tuple[tuple[str, str], ...] = ()
) -> tuple[object, ...]:
    return (1, 2, 3, 4, b"", names, {(args, None): (packages, ())})


@pytest.mark.parametrize(
    "entry",
    [
        _entry(_package(path="other/Dockerfile")),
        _entry(_package(in_image=False)),
        _entry(_package(line="2")),
        _entry(_package(line=0)),
        _entry(_package(purl="pkg:deb/ubuntu/evil@1")),
        _entry(_package(), args=(("V", "1"),)),  # an argument the file does not declare
        _entry(_package(), names=("B", "A")),
        (1, 2, 3, 4, b"short", (), {}),
        (1, 2, 3, -4, b"", (), {}),
        (1, 2, 3, 4, b"", (), []),
        (1, 2, 3, 4, b"", ("A",), {((("A", 1),), None): ((), ())}),
        (1, 2, 3, 4, b"", (), {5: ((), ())}),
        (1, 2, 3, 4, b"", (), {((), 5): ((), ())}),
        (1, 2, 3, 4, b"", (), {((), None): [(), ()]}),
        (1, 2, 3, 4, b"", (), {((), None): ((), ("not a diagnostic",))}),
        (1, 2, 3, 4, b"", (), {((), None, "x"): ((), ())}),
        (1, 2, 3, 4, b"", ("A", 1), {}),
        (1, True, 3, 4, b"", (), {}),
        (
            1,
            2,
            3,
            4,
            b"",
            (),
            {((), None): ((), (Diagnostic("x", Severity.INFO, "m", "b/Dockerfile"),))},
        ),
        (
            1,
            2,
            3,
            4,
            b"",
            (),
            {((), None): ((), (Diagnostic("x", Severity.INFO, "m", "app/Dockerfile", 0),))},
        ),
        "not an entry",
    ],
)
def test_malformed_entries_are_refused(entry: object) -> None:
    assert not valid_package_entry("app/Dockerfile", entry)


def test_a_well_formed_entry_is_accepted() -> None:
    note = Diagnostic("unresolved-package", Severity.WARNING, "m", "app/Dockerfile", 3)
    assert valid_package_entry("app/Dockerfile", (1, 2, 3, 4, b"", (), {((), "t"): ((), (note,))}))
    assert valid_package_entry(
        "app/Dockerfile", _entry(_package(), names=("V",), args=(("V", "1"),))
    )


def test_hostile_cache_contents_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imagegraph._reading.RACY_NS", -3_600_000_000_000)  # kept on disk
    root = _one(tmp_path, "FROM debian:12\nRUN apt-get install -y curl=8.5\n", _APP)
    scan(root, cache=False)
    scan(root).plan([PackageChange.named("curl")])
    path = _package_file()
    header, entries = pickle.loads(path.read_bytes()[len(MAGIC) :])
    stamped = entries["app/Dockerfile"]
    forged = (*stamped[:5], stamped[5], {((), None): ((_package(line=2),), ())})
    # A forged package with another path, then a pickle that would run code.
    bad_path = (*stamped[:6], {((), None): ((_package(path="x/Dockerfile"),), ())})
    for contents in (
        (header, {"app/Dockerfile": bad_path}),
        (header, {"app/Dockerfile": os.system}),
        ((*header[:3], "/elsewhere"), {"app/Dockerfile": forged}),
    ):
        path.write_bytes(MAGIC + pickle.dumps(contents))
        assert _purls(scan(root), "app") == ["pkg:deb/debian/curl@8.5"]
    # The control: a well-formed entry of the same stamp is used as it is.
    path.write_bytes(MAGIC + pickle.dumps((header, {"app/Dockerfile": forged})))
    assert _purls(scan(root), "app") == ["pkg:deb/debian/evil@1"]


def test_no_cache_writes_no_package_cache(tmp_path: Path) -> None:
    root = _one(tmp_path, "FROM debian:12\nRUN apt-get install -y curl=8.5\n", _APP)
    scan(root, cache=False).plan([PackageChange.named("curl")])
    assert not list(cache_directory().glob("packages-*.pickle"))


def test_a_warm_graph_looks_at_no_dockerfile_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files just written have a recent change time: trusted here by their stamps.
    monkeypatch.setattr("imagegraph._snapshot.RACY_NS", -3_600_000_000_000)
    monkeypatch.setattr("imagegraph._reading.RACY_NS", -3_600_000_000_000)
    text = "FROM debian:12\nRUN apt-get install -y curl=8.5 $LATER && zypper install vim\n"
    root = _one(tmp_path, text, _APP)
    scan(root).plan([PackageChange.named("curl")])
    graph = scan(root)  # from the snapshot, which checked every stamp
    assert ("", "input-stamps") in graph._cache

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Dockerfile was looked at again")

    monkeypatch.setattr("imagegraph._files.inspect", refused)
    monkeypatch.setattr("imagegraph._reading.read_dockerfiles", refused)
    assert len(graph.plan([PackageChange.named("curl")])) == 1
    assert _purls(graph, "app") == ["pkg:deb/debian/curl@8.5"]
    notes = own_packages(graph, "app")[1]  # kept with the packages, and reused too
    assert [(d.code, d.path, d.line) for d in notes] == [
        ("unresolved-package", "app/Dockerfile", 2),
        ("unknown-installer", "app/Dockerfile", 2),
    ]


def test_the_process_pool_extracts_what_one_process_does(tmp_path: Path) -> None:
    from imagegraph.image_packages import _PackageStore

    root = tmp_path / "fleet"
    wanted: dict[str, list[tuple[dict[str, str], str | None]]] = {}
    for number in range(130):  # more than one chunk of work
        path = f"d{number}/Dockerfile"
        (root / f"d{number}").mkdir(parents=True)
        install = _INSTALLS[number % len(_INSTALLS)]
        (root / path).write_text(f"ARG CURL=1\nFROM debian:12\nARG CURL\nRUN {install}\n")
        wanted[path] = [({"CURL": str(number % 3)}, None), ({}, "nowhere")]
    graph = ImageGraph.from_builds([], root=root)
    serial, pooled = _PackageStore(graph, disk=False), _PackageStore(graph, disk=False)
    serial.extract(wanted, jobs=1)
    pooled.extract(wanted, jobs=2)
    assert pooled.entries == serial.entries
    assert len(serial.entries) == 130
    assert sum(len(entry[6]) for entry in serial.entries.values()) == 260


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab \"'$\\`{}-", max_size=8).map(lambda inside: f'"{inside}"')
    | st.text(alphabet="ab \"'$\\`{}-", max_size=8).map(lambda inside: f"'{inside}'")
    | st.text(alphabet="ab \"'$\\`{}-", max_size=8),
    st.sampled_from(["\\", "`"]),
)
def test_env_values_without_the_lexer_are_the_lexers(text: str, escape: str) -> None:
    from imagegraph.context import _Expander
    from imagegraph.dockerfile import parse_dockerfile
    from imagegraph.packages import _env_value

    dockerfile = parse_dockerfile(f"# escape={escape}\nFROM x\nENV A=1\n")
    instruction = dockerfile.instructions[-1]
    env = {"a": "A-VALUE", "b": "B"}
    fast = _env_value(_Expander(dockerfile, []), text, env, instruction)
    assert fast == _Expander(dockerfile, []).value(text, env, instruction)
